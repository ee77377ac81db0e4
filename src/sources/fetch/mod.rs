//! The fetch source: requests `url` every `interval` and hands each answer's
//! body to the source's format. A failed poll (refused, timeout, non-2xx)
//! shows in the status and is logged once per change of error; polling
//! goes on at the same pace.

mod config;

pub(crate) use config::TYPE;
pub use config::{DEFAULT_FETCH_INTERVAL, FetchConfig};

use super::SourceContext;
use super::connect::error_chain;
use super::poll::Polling;
use crate::sources::http::Method;

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: FetchConfig) {
    let client = match config
        .request
        .client(Some(config.timeout), config.tls.as_ref())
    {
        Ok(client) => client,
        Err(e) => return ctx.status.failed(e),
    };
    let mut polling = Polling::new(&ctx, ctx.status.view().url, config.interval);
    while polling.next(std::future::pending()).await {
        let Some(polled) = ctx.unless_shutdown(poll(&ctx, &config, &client)).await else {
            return;
        };
        match polled {
            Ok(body) => {
                polling.succeeded();
                if !ctx.deliver(crate::format::UNNAMED, Some(&body), None).await {
                    return;
                }
            }
            Err(error) => polling.failed(error),
        }
    }
}

/// One request; the body as text, or why there is none.
async fn poll(
    ctx: &SourceContext,
    config: &FetchConfig,
    client: &reqwest::Client,
) -> Result<String, String> {
    let request = &config.request;
    let timeout = config.timeout;
    let mut builder = match request.method {
        Method::GET => client.get(&request.url),
        Method::POST => client.post(&request.url),
    };
    builder = builder.headers(request.headers.clone());
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {timeout:?}; raise `timeout` or check the server")
        } else {
            format!("cannot fetch: {}", error_chain(&e))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let limit = ctx.config.max_event_size;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("the answer broke off: {}", error_chain(&e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!(
                "the answer is larger than `max_event_size` = {limit} bytes; it was dropped"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8 text".to_string())
}
