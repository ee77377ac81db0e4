//! A real HTTP server on 127.0.0.1:0 whose responses a test scripts per
//! connection, recording every request it gets.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use futures_util::{Stream, StreamExt, stream};
use tokio::net::TcpListener;

/// What the server received on one connection.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// 0 for the first request, 1 for the second, …
    pub number: usize,
    /// The request method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body as text.
    pub body: String,
}

impl Recorded {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

type Handler = dyn Fn(&Recorded) -> Response + Send + Sync;

/// A running server; it stops when dropped.
pub struct ScriptedServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Every request so far.
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    /// Starts a server that answers every request with `handler(request)`.
    pub async fn start(handler: impl Fn(&Recorded) -> Response + Send + Sync + 'static) -> Self {
        let (app, requests) = Self::app(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ScriptedServer {
            base,
            requests,
            task,
        }
    }

    /// Starts a server that answers every request with an event stream
    /// sending `body`, then keeping the stream open.
    pub async fn sending(body: &'static str) -> Self {
        Self::start(move |_| sse_then_hang(vec![Bytes::from_static(body.as_bytes())])).await
    }

    /// Like [`ScriptedServer::start`], over TLS with this certificate; `base`
    /// is then `https://127.0.0.1:PORT`.
    pub async fn start_tls(
        tls: &super::tls::TestCertificates,
        handler: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
    ) -> Self {
        let (app, requests) = Self::app(handler);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let acceptor = tls.acceptor();
        let task = tokio::spawn(super::tls::serve_tls(listener, acceptor, app));
        ScriptedServer {
            base,
            requests,
            task,
        }
    }

    fn app(
        handler: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
    ) -> (Router, Arc<Mutex<Vec<Recorded>>>) {
        let handler: Arc<Handler> = Arc::new(handler);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicUsize::new(0));
        let recorded = requests.clone();
        let app = Router::new().fallback(move |request: Request| {
            let handler = handler.clone();
            let recorded = recorded.clone();
            let counter = counter.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let request = Recorded {
                    number: counter.fetch_add(1, Ordering::SeqCst),
                    method: parts.method,
                    uri: parts.uri.to_string(),
                    headers: parts.headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                recorded.lock().unwrap().push(request.clone());
                handler(&request)
            }
        });
        (app, requests)
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The request with this number, if it arrived.
    pub fn request(&self, number: usize) -> Option<Recorded> {
        self.requests.lock().unwrap().get(number).cloned()
    }
}

/// A `200 text/event-stream` response with this body, sent as one chunk.
pub fn sse(body: impl Into<Bytes>) -> Response {
    sse_stream(stream::iter([Ok::<_, Infallible>(body.into())]))
}

/// A `200 text/event-stream` response that ends the stream after these chunks
/// and then stays open (the client sees no end of stream).
pub fn sse_then_hang(chunks: Vec<Bytes>) -> Response {
    sse_stream(stream::iter(chunks.into_iter().map(Ok::<_, Infallible>)).chain(stream::pending()))
}

/// A `200 text/event-stream` response streaming `chunks`.
pub fn sse_stream<E>(chunks: impl Stream<Item = Result<Bytes, E>> + Send + 'static) -> Response
where
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(chunks))
        .unwrap()
}

/// An endless dashboard-style stream: `event: <name>` / `data: N` every `every`,
/// N counting up from 0.
pub fn ticking(name: &'static str, every: Duration) -> Response {
    let ticks = stream::unfold(0u64, move |n| async move {
        tokio::time::sleep(every).await;
        let chunk = Bytes::from(format!("event: {name}\ndata: {n}\n\n"));
        Some((Ok::<_, Infallible>(chunk), n + 1))
    });
    sse_stream(ticks)
}

/// A response with another status or content type, for error tests.
pub fn plain(status: StatusCode, content_type: &str, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap()
}
