//! The SSE source: connects with reqwest, feeds the body to the parser and
//! sends each event to the hub, reconnecting as the XTension plugin does.

use std::time::Duration;

mod config;
mod request;

pub use config::SseConfig;
pub(crate) use config::TYPE;
pub use request::{SseConnectError, SseRequest, error_chain, open_sse_stream};

use super::{Backoff, SourceContext};
use crate::sse::{SseItem, SseParser};

/// How one connection ended.
enum Ended {
    /// Could not connect, or the answer was not an event stream.
    Failed(String),
    /// Connected, then the stream ended or broke.
    Disconnected { error: Option<String>, worked: bool },
    /// The hub is shutting down.
    Shutdown,
}

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: SseConfig) {
    let client = match config.request.client(None) {
        Ok(client) => client,
        Err(e) => return ctx.status.failed(e),
    };
    let mut request = SseRequest::new(&config.request);
    request.last_event_id = ctx.resume_id.clone();
    let mut backoff = config.reconnect.backoff();
    let url = ctx.status.view().url;
    loop {
        ctx.status.connecting();
        tracing::info!(source = %ctx.name, %url, "connecting");
        let (delay, error) = match connect_once(&ctx, &client, &mut request, &mut backoff).await {
            Ended::Shutdown => return,
            Ended::Failed(error) => {
                tracing::warn!(source = %ctx.name, %url, "connection failed: {error}");
                (backoff.after_failure(), Some(error))
            }
            Ended::Disconnected { error, worked } => {
                match &error {
                    Some(e) => tracing::warn!(source = %ctx.name, %url, "stream broke: {e}"),
                    None => tracing::info!(source = %ctx.name, %url, "stream ended"),
                }
                let delay = if worked && error.is_none() {
                    backoff.after_disconnect()
                } else {
                    backoff.after_failure()
                };
                (delay, error)
            }
        };
        if !ctx.wait_to_reconnect(&url, error, delay).await {
            return;
        }
    }
}

/// One connection: open, read events until the stream ends.
async fn connect_once(
    ctx: &SourceContext,
    client: &reqwest::Client,
    request: &mut SseRequest,
    backoff: &mut Backoff,
) -> Ended {
    let opened = tokio::select! {
        _ = ctx.shutdown.cancelled() => return Ended::Shutdown,
        opened = open_sse_stream(client, request) => opened,
    };
    let mut response = match opened {
        Ok(response) => response,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    ctx.status.connected();
    tracing::info!(source = %ctx.name, url = %ctx.status.view().url, "connected");
    let mut parser = SseParser::new(ctx.config.max_event_size);
    parser.set_last_event_id(request.last_event_id.as_deref().unwrap_or(""));
    let mut items = Vec::new();
    let mut worked = false;
    loop {
        let chunk = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ended::Shutdown,
            chunk = response.chunk() => chunk,
        };
        let chunk = match chunk {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                return Ended::Disconnected {
                    error: None,
                    worked: true,
                };
            }
            Err(e) => {
                return Ended::Disconnected {
                    error: Some(format!("connection lost: {}", error_chain(&e))),
                    worked,
                };
            }
        };
        if let Err(e) = parser.feed(&chunk, &mut items) {
            return Ended::Disconnected {
                error: Some(e.to_string()),
                worked,
            };
        }
        for item in items.drain(..) {
            match item {
                SseItem::Retry(ms) => backoff.set_base(Duration::from_millis(ms)),
                SseItem::Event(sse_event) => {
                    if !worked {
                        worked = true;
                        backoff.succeeded();
                    }
                    let id = (!sse_event.last_event_id.is_empty())
                        .then(|| sse_event.last_event_id.clone());
                    let name = sse_event.event_type.as_deref().unwrap_or("message");
                    if !ctx
                        .deliver(name, sse_event.data.as_deref(), id.as_deref())
                        .await
                    {
                        return Ended::Shutdown;
                    }
                }
            }
        }
        request.last_event_id = Some(parser.last_event_id().to_string());
    }
}
