//! The whole hub of `homebus run` (`homebus::app::start`: bus, hub,
//! sources, server) on 127.0.0.1:0 (both ports), plus small clients: an SSE
//! reader (on homebus's own parser) and URL helpers. Everything stops when
//! it is dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Deref;

use futures_util::StreamExt;
use homebus::app::{RunningHub, StartError};
use homebus::config::{Config, ServerConfig};
use homebus::sse::{SseItem, SseParser};

use super::hub::TestHub;

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

/// A running hub (with its sources) and its server; derefs to a
/// [`TestHub`] reading that hub, so `server.hub`, `server.config` and the
/// waits are there.
pub struct TestServer {
    reading: TestHub,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The main port's address.
    pub addr: SocketAddr,
    /// The WebSocket port actually bound.
    pub ws_port: u16,
    /// A client built the homebus way.
    pub client: reqwest::Client,
    /// `None` once [`TestServer::stop`] has stopped it.
    running: Option<RunningHub>,
}

impl Deref for TestServer {
    type Target = TestHub;

    fn deref(&self) -> &TestHub {
        &self.reading
    }
}

impl TestServer {
    /// Reads `toml` (with [`UNITS`] appended), forces both ports to 0 on
    /// loopback and starts hub, sources and server.
    pub async fn start(toml: &str) -> Self {
        let mut config = super::config::parse(&format!("{toml}\n{UNITS}"));
        config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.websocket_port = 0;
        Self::start_config(config).await
    }

    /// Starts a hub and server on exactly this config (keeping nothing on
    /// disk unless it names a database).
    pub async fn start_config(config: Config) -> Self {
        Self::try_start_config(config)
            .await
            .unwrap_or_else(|e| panic!("server did not start: {e}"))
    }

    /// Starts a hub and server on exactly this config, or says why it
    /// refused to start. A config that names no database keeps nothing
    /// (`":memory:"`), rather than a `homebus.db` in the working directory.
    pub async fn try_start_config(mut config: Config) -> Result<Self, StartError> {
        if config.server.database == ServerConfig::default().database {
            config.server.database = ":memory:".to_string();
        }
        let running = homebus::app::start(config).await?;
        let addr = running.addr();
        Ok(TestServer {
            reading: TestHub::reading(running.hub().clone(), running.config().clone()),
            base: format!("http://{addr}"),
            addr,
            ws_port: running.websocket_addr().port(),
            client: client(),
            running: Some(running),
        })
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
        SseReader::open(request).await
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

    /// Stops hub, sources and server as `homebus run` does and checks that
    /// every connection closed in time.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let stopped = running.stop().await;
            assert!(stopped.connections_closed, "connections stayed open");
        }
    }

    /// The body of `GET path` as text; panics if the request fails.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: reading the body: {e}"))
    }

    /// Changes `sensor.temp` with 16 KiB of attributes, paced, until the
    /// `/metrics` line `series` reads `value`: what fills the socket of a
    /// client that never reads until the hub drops it.
    pub async fn flood_until(&self, what: &str, series: &str, value: u64) {
        let big = "x".repeat(16 * 1024);
        super::wait::within(what, async {
            let mut i = 0u64;
            while self.metric(series) != Some(value) {
                self.hub
                    .set_state(
                        "sensor.temp",
                        &i.to_string(),
                        serde_json::from_str(&format!(r#"{{"pad":"{big}"}}"#)).unwrap(),
                    )
                    .unwrap();
                i += 1;
                // Paces the writes; the wait is for the disconnection.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
        .await;
    }

    /// The value of one `/metrics` line (`name{labels}`), read from the
    /// server's counters without a request.
    pub fn metric(&self, series: &str) -> Option<u64> {
        let text = self.running.as_ref()?.server_metrics().render(&self.hub);
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }
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
    /// Sends `request` and checks it answers 200 as an event stream.
    pub async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "SSE request refused");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "not an event stream"
        );
        Self::new(response)
    }

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
        super::wait::within("an SSE item", self.next_item()).await
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
