//! The SSE source: connects with reqwest, feeds the body to the parser and
//! sends each event to the hub, reconnecting as the XTension plugin does.

use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};

use super::{Backoff, SourceContext};
use crate::config::{Method, SourceConfig};
use crate::sse::{SseItem, SseParser};

/// One SSE request: what `homebus tail` and the SSE source send.
#[derive(Debug, Clone)]
pub struct SseRequest {
    /// Stream URL.
    pub url: String,
    /// `GET` or `POST`.
    pub method: Method,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body for `POST`.
    pub body: Option<String>,
    /// Sent as `Last-Event-ID` when not empty.
    pub last_event_id: Option<String>,
}

impl SseRequest {
    /// The request a source's config describes.
    pub fn from_config(config: &SourceConfig) -> Self {
        SseRequest {
            url: config.url.clone(),
            method: config.method,
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            body: config.body.clone(),
            last_event_id: None,
        }
    }
}

/// Why an SSE connection could not be opened or went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SseConnectError {
    /// The request failed (refused, DNS, TLS, timeout).
    #[error("cannot connect: {0}; check that the server is up and the URL is right")]
    Request(String),
    /// The server answered with another status than 200.
    #[error("the server answered {status}; an event stream must answer 200 OK")]
    Status {
        /// The status received.
        status: reqwest::StatusCode,
    },
    /// The response is not an event stream.
    #[error(
        "the server sent `{content_type}` instead of `text/event-stream`; is this URL an event stream?"
    )]
    ContentType {
        /// The content type received.
        content_type: String,
    },
    /// A header in the config cannot be sent.
    #[error("header `{name}` cannot be sent: {reason}")]
    Header {
        /// Header name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Sends the request and checks that the answer is an event stream
/// (status 200, `Content-Type: text/event-stream`).
pub async fn open_sse_stream(
    client: &reqwest::Client,
    request: &SseRequest,
) -> Result<reqwest::Response, SseConnectError> {
    let mut builder = match request.method {
        Method::GET => client.get(&request.url),
        Method::POST => client.post(&request.url),
    };
    builder = builder
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    for (name, value) in &request.headers {
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| SseConnectError::Header {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        let header_value = HeaderValue::from_str(value).map_err(|e| SseConnectError::Header {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        builder = builder.header(header_name, header_value);
    }
    if let Some(id) = request.last_event_id.as_deref().filter(|id| !id.is_empty()) {
        builder = builder.header("Last-Event-ID", id);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| SseConnectError::Request(error_chain(&e)))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(SseConnectError::Status {
            status: response.status(),
        });
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("text/event-stream") {
        return Err(SseConnectError::ContentType {
            content_type: if content_type.is_empty() {
                "no content type".into()
            } else {
                content_type
            },
        });
    }
    Ok(response)
}

/// An error and its causes in one line ("error sending request: connection refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

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
pub(super) async fn run(ctx: SourceContext) {
    let client = match crate::http_client::client_builder().build() {
        Ok(client) => client,
        Err(e) => {
            ctx.status
                .failed(format!("cannot build an HTTP client: {e}"));
            return;
        }
    };
    let mut request = SseRequest::from_config(&ctx.config);
    request.last_event_id = ctx.resume_id.clone();
    let mut backoff = Backoff::new(ctx.config.reconnect, ctx.config.max_backoff);
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
