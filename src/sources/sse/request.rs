//! One SSE request and its answer checked as an event stream: what the SSE
//! source sends on every connection and `homebus tail` sends once.

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};

use crate::sources::connect::error_chain;
use crate::sources::http::{HttpRequest, Method};

/// One SSE request: what `homebus tail` and the SSE source send.
#[derive(Debug, Clone)]
pub struct SseRequest {
    /// Stream URL.
    pub url: String,
    /// `GET` or `POST`.
    pub method: Method,
    /// Extra headers, checked when they were read (the config, `-H`).
    pub headers: HeaderMap,
    /// Body for `POST`.
    pub body: Option<String>,
    /// Sent as `Last-Event-ID` when not empty.
    pub last_event_id: Option<String>,
}

impl SseRequest {
    /// The request a source's config describes.
    pub fn new(request: &HttpRequest) -> Self {
        SseRequest {
            url: request.url.clone(),
            method: request.method,
            headers: request.headers.clone(),
            body: request.body.clone(),
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
    builder = builder.headers(request.headers.clone());
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
