//! A hub with its server on 127.0.0.1:0 (both ports), plus small clients:
//! an SSE reader and URL helpers. Everything stops when it is dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use homebus::bus::{Bus, InProcessBus};
use homebus::config::Config;
use homebus::hub::Hub;
use homebus::server::Server;
use tokio_util::sync::CancellationToken;

/// Units most tests use.
pub const UNITS: &str = r#"
[[unit]]
address = "MOTION"
kind = "switch"

[[unit]]
address = "BRIGHTNESS"
kind = "dimmer"

[[unit]]
address = "TEMP"
kind = "sensor"
"#;

/// A running hub and server.
pub struct TestServer {
    /// The hub behind the server.
    pub hub: Arc<Hub>,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The main port's address.
    pub addr: SocketAddr,
    /// The WebSocket port actually bound.
    pub ws_port: u16,
    /// A client built the homebus way.
    pub client: reqwest::Client,
    /// The config it runs.
    pub config: Config,
    shutdown: CancellationToken,
    server: Option<Server>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestServer {
    /// Parses `toml` (with [`UNITS`] appended), forces both ports to 0 on
    /// loopback and starts hub and server.
    pub async fn start(toml: &str) -> Self {
        let mut config = parse(&format!("{toml}\n{UNITS}"));
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.websocket_port = 0;
        Self::start_config(config).await
    }

    /// Starts a hub and server on exactly this config.
    pub async fn start_config(config: Config) -> Self {
        let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(
            config.server.replay_buffer,
            config.server.lag_limit,
        ));
        let hub = Arc::new(Hub::new(&config, bus).unwrap());
        let shutdown = CancellationToken::new();
        let server = homebus::server::start(&config, hub.clone(), shutdown.clone())
            .await
            .unwrap_or_else(|e| panic!("server did not start: {e}"));
        TestServer {
            hub,
            base: format!("http://{}", server.addr),
            addr: server.addr,
            ws_port: server.websocket_addr.port(),
            client: client(),
            config,
            shutdown,
            server: Some(server),
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `ws://127.0.0.1:<main port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:<websocket port>/`.
    pub fn push_url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.ws_port)
    }

    /// Opens an SSE stream at `path` and checks it answers 200 as an event stream.
    pub async fn sse(&self, path: &str) -> SseReader {
        self.sse_with(self.client.get(self.url(path))).await
    }

    /// Opens an SSE stream from a prepared request.
    pub async fn sse_with(&self, request: reqwest::RequestBuilder) -> SseReader {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "SSE request refused");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "not an event stream"
        );
        SseReader::new(response)
    }

    /// Turns a unit on through the hub and returns the seq of the change.
    pub fn switch(&self, address: &str, on: bool) -> u64 {
        let command = if on {
            homebus::interpret::Command::On
        } else {
            homebus::interpret::Command::Off
        };
        self.hub
            .command(address, &command)
            .unwrap()
            .expect("a change")
            .seq()
    }

    /// Sets a unit's value through the hub and returns the seq of the change.
    pub fn set(&self, address: &str, value: f64) -> u64 {
        let command =
            homebus::interpret::Command::SetValue(homebus::interpret::Number::from_f64(value));
        self.hub
            .command(address, &command)
            .unwrap()
            .expect("a change")
            .seq()
    }

    /// Stops the server and waits until both ports have stopped.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(super::wait::DEADLINE, server.stopped())
                .await
                .expect("server did not stop");
        }
    }
}

/// Parses config text.
pub fn parse(toml: &str) -> Config {
    homebus::config::parse_str(toml, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("test config refused:\n{e}"))
}

/// An HTTP client built the homebus way.
pub fn client() -> reqwest::Client {
    homebus::http_client::client_builder().build().unwrap()
}

/// One SSE block as received: its fields, unparsed beyond `name: value`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// `id:`, if present.
    pub id: Option<String>,
    /// `event:`, if present.
    pub event: Option<String>,
    /// `data:` lines joined with `\n`, if any.
    pub data: Option<String>,
    /// `retry:`, if present.
    pub retry: Option<u64>,
    /// Comment lines (without the colon).
    pub comments: Vec<String>,
}

impl Block {
    /// The data as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.data.as_deref().expect("a data field")).unwrap()
    }

    /// The id as a number.
    pub fn seq(&self) -> u64 {
        self.id.as_deref().expect("an id").parse().unwrap()
    }
}

/// Reads an SSE response block by block (our server ends lines with `\n`).
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: BytesMut,
}

impl SseReader {
    /// Wraps a response.
    pub fn new(response: reqwest::Response) -> Self {
        SseReader {
            body: Box::pin(response.bytes_stream()),
            buffer: BytesMut::new(),
        }
    }

    /// The next block, `None` when the stream ends; panics after the deadline.
    pub async fn block(&mut self) -> Option<Block> {
        self.block_within(super::wait::DEADLINE).await
    }

    /// The next block within `deadline`, `None` when the stream ends.
    pub async fn block_within(&mut self, deadline: Duration) -> Option<Block> {
        tokio::time::timeout(deadline, self.next_block())
            .await
            .expect("no SSE block arrived before the deadline")
    }

    /// The next block that carries data (skipping `retry:` and comments).
    pub async fn event(&mut self) -> Option<Block> {
        loop {
            let block = self.block().await?;
            if block.data.is_some() {
                return Some(block);
            }
        }
    }

    async fn next_block(&mut self) -> Option<Block> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let raw = self.buffer.split_to(end + 2);
                return Some(parse_block(std::str::from_utf8(&raw[..end]).unwrap()));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(_)) | None => return None,
            }
        }
    }
}

fn parse_block(text: &str) -> Block {
    let mut block = Block::default();
    for line in text.split('\n') {
        if let Some(comment) = line.strip_prefix(':') {
            block.comments.push(comment.trim_start().to_string());
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value).to_string();
        match name {
            "id" => block.id = Some(value),
            "event" => block.event = Some(value),
            "retry" => block.retry = value.parse().ok(),
            "data" => {
                block.data = Some(match block.data.take() {
                    Some(data) => format!("{data}\n{value}"),
                    None => value,
                })
            }
            _ => {}
        }
    }
    block
}

impl TestServer {
    /// The value of one `/metrics` line (`name{labels}`), read from the
    /// server's counters without a request.
    pub fn metric(&self, series: &str) -> Option<u64> {
        let text = self.server.as_ref()?.metrics.render(&self.hub);
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }
}
