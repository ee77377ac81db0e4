//! A hub with its server on 127.0.0.1:0 (both ports), plus small clients:
//! an SSE reader (on homebus's own parser) and URL helpers. Everything stops
//! when it is dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use homebus::bus::{Bus, InProcessBus};
use homebus::config::Config;
use homebus::hub::Hub;
use homebus::server::Server;
use homebus::sse::{SseItem, SseParser};
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

/// One item of an SSE stream as the tests look at it: an event, or a
/// `retry:` setting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Block {
    /// The last event ID in force, if one was ever set.
    pub id: Option<String>,
    /// `event:`, if the block set one.
    pub event: Option<String>,
    /// `data:` lines joined with `\n`, if any.
    pub data: Option<String>,
    /// `retry:`, when this item is a reconnection time.
    pub retry: Option<u64>,
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

/// Reads an SSE response item by item with homebus's own parser.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: SseParser,
    items: VecDeque<SseItem>,
}

impl SseReader {
    /// Wraps a response.
    pub fn new(response: reqwest::Response) -> Self {
        SseReader {
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::new(1024 * 1024),
            items: VecDeque::new(),
        }
    }

    /// The next item, `None` when the stream ends; panics after the deadline.
    pub async fn block(&mut self) -> Option<Block> {
        tokio::time::timeout(super::wait::DEADLINE, self.next_item())
            .await
            .expect("no SSE item arrived before the deadline")
    }

    /// The next event that carries data (skipping `retry:`).
    pub async fn event(&mut self) -> Option<Block> {
        loop {
            let block = self.block().await?;
            if block.data.is_some() {
                return Some(block);
            }
        }
    }

    async fn next_item(&mut self) -> Option<Block> {
        loop {
            if let Some(item) = self.items.pop_front() {
                return Some(match item {
                    SseItem::Retry(ms) => Block {
                        retry: Some(ms),
                        ..Block::default()
                    },
                    SseItem::Event(event) => Block {
                        id: (!event.last_event_id.is_empty()).then_some(event.last_event_id),
                        event: event.event_type,
                        data: event.data,
                        retry: None,
                    },
                });
            }
            match self.body.next().await {
                Some(Ok(chunk)) => {
                    let mut out = Vec::new();
                    self.parser.feed(&chunk, &mut out).unwrap();
                    self.items.extend(out);
                }
                Some(Err(_)) | None => return None,
            }
        }
    }
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
