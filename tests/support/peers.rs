//! Real peers on loopback for the source tests, written at the TCP level
//! so a test controls every byte and every connection: a server that can go
//! away and come back on the same port, and tiny HTTP and WebSocket
//! answers. (For scripted HTTP/SSE answers over axum, see
//! [`super::sse_server`].)

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::wait::until_async;

/// A loopback address nothing listens on (the system just handed it out
/// and it was let go): a connection to it is refused.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

/// What a [`Peer`] does with each accepted connection; the number counts
/// connections from 0 across restarts.
pub type Handler =
    Arc<dyn Fn(TcpStream, usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |stream, n| Box::pin(f(stream, n)))
}

/// A TCP server on a loopback port that can go away (listener closed,
/// every connection dropped) and come back on the same port.
pub struct Peer {
    /// Its address.
    pub addr: SocketAddr,
    handler: Handler,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl Peer {
    /// Starts a server on a free port.
    pub async fn start(handler: Handler) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut peer = Peer {
            addr: listener.local_addr().unwrap(),
            handler,
            connections: Arc::new(AtomicUsize::new(0)),
            task: None,
        };
        peer.serve(listener);
        peer
    }

    fn serve(&mut self, listener: TcpListener) {
        let handler = self.handler.clone();
        let connections = self.connections.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) drops every connection.
            let mut open = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while open.try_join_next().is_some() {}
                let n = connections.fetch_add(1, Ordering::SeqCst);
                open.spawn(handler(stream, n));
            }
        }));
    }

    /// Closes the listener and every connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let addr = self.addr;
        let listener = until_async(
            &format!("{addr} to be free to listen on again"),
            || async move { TcpListener::bind(addr).await.ok() },
        )
        .await;
        self.serve(listener);
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One HTTP request as a test server sees it.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Request target.
    pub path: String,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body).
pub async fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(HttpRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// Writes a whole HTTP/1.1 answer and closes the connection.
pub async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The classic HTTP example provider: answers every request with a number
/// (10, 11, 12, …), one per request.
pub fn number_per_request() -> Handler {
    let counter = Arc::new(AtomicUsize::new(10));
    handler(move |mut stream, _| {
        let counter = counter.clone();
        async move {
            if read_request(&mut stream).await.is_some() {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                respond(&mut stream, 200, &[], &n.to_string()).await;
            }
        }
    })
}

/// The classic WebSocket example provider: sends a random number every few
/// milliseconds.
pub fn websocket_numbers() -> Handler {
    handler(|stream, _| async move {
        use futures_util::SinkExt;
        let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            let n = fastrand::u32(10..100).to_string();
            if socket.send(n.into()).await.is_err() {
                return;
            }
        }
    })
}

/// A WebSocket server that sends these messages on each connection, then
/// keeps the connection open (reading, so pings are answered).
pub fn websocket_sending(messages: Vec<String>) -> Handler {
    let messages = Arc::new(messages);
    handler(move |stream, _| {
        let messages = messages.clone();
        async move {
            use futures_util::{SinkExt, StreamExt};
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            for message in messages.iter() {
                if socket.send(message.clone().into()).await.is_err() {
                    return;
                }
            }
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
}
