//! The SSE source: connects with reqwest, feeds the body to the parser and
//! sends each event to the hub, reconnecting as the XTension plugin does.
//! `config.rs` holds its keys; `request.rs` the request and the checks of
//! its answer, shared with `homebus tail`.

use std::time::Duration;

mod config;
mod request;

pub use config::SseConfig;
pub(crate) use config::TYPE;
pub use request::{SseConnectError, SseRequest, open_sse_stream};

use super::SourceContext;
use super::connect::{self, Attempt, Ended, Transport, error_chain};
use crate::sse::{SseItem, SseParser};

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: SseConfig) {
    let client = match config.request.client(None, config.tls.as_ref()) {
        Ok(client) => client,
        Err(e) => return ctx.status.failed(e),
    };
    let mut request = SseRequest::new(&config.request);
    request.last_event_id = ctx.resume_id.clone();
    connect::run(&ctx, config.reconnect, EventStream { client, request }).await;
}

/// The stream's HTTP side, kept across connections: the client (with its
/// cookie jar) and the request, whose `Last-Event-ID` follows the stream.
struct EventStream {
    client: reqwest::Client,
    request: SseRequest,
}

impl Transport for EventStream {
    /// One connection: open, read events until the stream ends. It has
    /// worked once an event arrived, or when the server ended it cleanly.
    async fn connect_once(&mut self, attempt: &mut Attempt<'_>) -> Ended {
        let ctx = attempt.ctx();
        let (client, request) = (&self.client, &mut self.request);
        let Some(opened) = ctx.unless_shutdown(open_sse_stream(client, request)).await else {
            return Ended::Shutdown;
        };
        let mut response = match opened {
            Ok(response) => response,
            Err(e) => return Ended::Failed(e.to_string()),
        };
        attempt.connected();
        let mut parser = SseParser::new(ctx.config.max_event_size);
        parser.set_last_event_id(request.last_event_id.as_deref().unwrap_or(""));
        let mut items = Vec::new();
        let mut worked = false;
        loop {
            let Some(chunk) = ctx.unless_shutdown(response.chunk()).await else {
                return Ended::Shutdown;
            };
            let chunk = match chunk {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Ended::closed(),
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
                    SseItem::Retry(ms) => attempt.set_reconnect(Duration::from_millis(ms)),
                    SseItem::Event(sse_event) => {
                        worked = true;
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
}
