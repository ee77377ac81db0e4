//! The fetch source: requests `url` every `interval` and hands each answer's
//! body to the source's format. A failed poll (refused, timeout, non-2xx)
//! shows in the status and is logged once per change of error; polling
//! goes on at the same pace.

use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::sse::error_chain;
use super::{ErrorLog, SourceContext};
use crate::config::Method;

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext) {
    let interval = ctx
        .config
        .interval
        .unwrap_or(crate::config::DEFAULT_FETCH_INTERVAL);
    let timeout = ctx.config.timeout.unwrap_or(interval);
    let keep_cookies = ctx
        .config
        .credentials
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("include"));
    let client = match crate::http_client::client_builder()
        .cookie_store(keep_cookies)
        .timeout(timeout)
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            ctx.status
                .failed(format!("cannot build an HTTP client: {e}"));
            return;
        }
    };
    let url = ctx.status.view().url;
    let mut errors = ErrorLog::default();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let polled = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            polled = poll(&ctx, &client, timeout) => polled,
        };
        match polled {
            Ok(body) => {
                ctx.status.connected();
                errors.succeeded(&ctx.name, &url);
                if !ctx.deliver(crate::format::UNNAMED, Some(&body), None).await {
                    return;
                }
            }
            Err(error) => {
                errors.failed(&ctx.name, &url, &error);
                ctx.status.reconnecting(Some(error), interval);
            }
        }
    }
}

/// One request; the body as text, or why there is none.
async fn poll(
    ctx: &SourceContext,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<String, String> {
    let config = &ctx.config;
    let mut builder = match config.method {
        Method::GET => client.get(&config.url),
        Method::POST => client.post(&config.url),
    };
    for (name, value) in &config.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("header `{name}` cannot be sent: {e}"))?;
        let header_value = HeaderValue::from_str(value.expose())
            .map_err(|e| format!("header `{name}` cannot be sent: {e}"))?;
        builder = builder.header(header_name, header_value);
    }
    if let Some(body) = &config.body {
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
    let limit = config.max_event_size;
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
