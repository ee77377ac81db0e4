//! Sources: tasks that connect to a device or server, move its bytes through
//! a format and send the resulting events into the hub.
//!
//! Each source type lives in its own folder (`sse/`, `websocket/`, `fetch/`,
//! `file/`, `mqtt/`, `demo/`) with its config (fields, defaults, rules) and
//! its `run`. `config.rs` holds the fields every type shares and the
//! [`SourceKind`] enum; `http.rs` the request fields of the HTTP types.
//! [`start`] (`start.rs`) runs every configured source, [`spawn`] picks
//! one's `run` by its kind. Every source keeps a [`SourceStatus`]
//! (`status.rs`) that the server shows. `connect.rs` is the one reconnect
//! loop of the connected types (`sse`, `websocket`, `mqtt`: back-off,
//! status, log, the [`OnError`] hook), with the delays of `backoff.rs`;
//! `poll.rs` the pace and error reporting of the polling ones (`fetch`,
//! `file`); `tls/` what a source's `tls` table builds.
//!
//! Adding a source type: one folder, one [`SourceKind`] variant, its row in
//! the type table of `config.rs` and one arm in [`spawn`].

mod backoff;
pub(crate) mod config;
mod connect;
mod demo;
mod fetch;
mod file;
pub(crate) mod http;
mod mqtt;
mod poll;
mod sse;
mod start;
mod status;
pub mod tls;
mod websocket;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use backoff::Backoff;
pub use config::{
    DEFAULT_MAX_BACKOFF, DEFAULT_MAX_EVENT_SIZE, DEFAULT_RECONNECT, ReconnectConfig, SourceConfig,
    SourceKind, SourceScripts,
};
pub(crate) use connect::error_chain;
pub use connect::{OnError, SourceError};
pub use demo::{DemoConfig, demo_source, demo_units};
pub use fetch::{DEFAULT_FETCH_INTERVAL, FetchConfig};
pub use file::{DEFAULT_FILE_INTERVAL, FileConfig};
pub use http::{Credentials, HttpRequest, Method};
pub use mqtt::{BrokerAddress, MqttConfig};
pub use sse::{SseConfig, SseConnectError, SseRequest, open_sse_stream};
pub use start::{Intake, start};
pub use status::{SourceState, SourceStatus, SourceStatusView};
pub use websocket::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE, WebsocketConfig};

use crate::event::Event;
use crate::format::{self, Decoded};

/// What a running source needs from the hub.
#[derive(Clone)]
pub struct SourceContext {
    /// The source's config section.
    pub config: Arc<SourceConfig>,
    /// The source's name, shared by every event it sends.
    pub name: Arc<str>,
    /// Where events go; bounded, so a busy hub slows the source down.
    pub events: mpsc::Sender<Event>,
    /// The status the server shows.
    pub status: Arc<SourceStatus>,
    /// Cancelled when the hub shuts down.
    pub shutdown: CancellationToken,
    /// The last upstream event ID seen before a restart (from the store),
    /// sent as `Last-Event-ID` on the first connection.
    pub resume_id: Option<String>,
    /// Told each time a connection or poll is refused or lost (the
    /// interface error handler).
    pub on_error: Arc<dyn OnError>,
}

impl SourceContext {
    /// Sends an event to the hub if it passes the `events` whitelist, and
    /// counts it. Returns `false` when the hub is gone.
    pub async fn emit(&self, event: Event) -> bool {
        if !self.accepts(&event) {
            return true;
        }
        self.send(event).await
    }

    /// Whether the `events` whitelist lets `event` through (logged when not).
    fn accepts(&self, event: &Event) -> bool {
        let accepted = self.config.accepts(&event.name);
        if !accepted {
            tracing::trace!(source = %self.name, event = %event.name, "event not in the whitelist; dropped");
        }
        accepted
    }

    /// Counts an accepted event and sends it to the hub.
    async fn send(&self, event: Event) -> bool {
        self.status.event_seen(event.received_at);
        self.events.send(event).await.is_ok()
    }

    /// Runs `work` until it finishes or the hub shuts down; `None` on shutdown.
    pub(crate) async fn unless_shutdown<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            _ = self.shutdown.cancelled() => None,
            done = work => Some(done),
        }
    }

    /// Runs one payload through the source's format and emits what it
    /// yields; `name` is the transport's event name, `id` the upstream
    /// event ID. A payload the format cannot read is logged (with the
    /// source's name and an excerpt) and skipped, so the stream goes on.
    /// Returns `false` when the hub is gone.
    pub async fn deliver(&self, name: &str, data: Option<&str>, id: Option<&str>) -> bool {
        let decoded = match format::decode(&self.config.decoding(), name, data) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::warn!(source = %self.name, "{e}");
                return true;
            }
        };
        let mut events: Vec<Event> = decoded
            .into_iter()
            .map(|item| {
                let mut event = match item {
                    Decoded::Event { name, data } => Event::new(self.name.clone(), name, data),
                    Decoded::Remove { address } => {
                        let mut event = Event::new(self.name.clone(), address, None);
                        event.remove = true;
                        event
                    }
                };
                event.id = id.map(str::to_string);
                event.ends_payload = false;
                event
            })
            .filter(|event| self.accepts(event))
            .collect();
        if let Some(last) = events.last_mut() {
            last.ends_payload = true;
        }
        for event in events {
            if !self.send(event).await {
                return false;
            }
        }
        true
    }
}

/// Starts a source as its own task.
pub fn spawn(ctx: SourceContext) -> JoinHandle<()> {
    if let Some(tls) = ctx.config.kind.tls() {
        tls.warn_if_insecure(&ctx.name);
    }
    tokio::spawn(async move {
        match ctx.config.kind.clone() {
            SourceKind::Sse(config) => sse::run(ctx, config).await,
            SourceKind::Websocket(config) => websocket::run(ctx, config).await,
            SourceKind::Fetch(config) => fetch::run(ctx, config).await,
            SourceKind::File(config) => file::run(ctx, config).await,
            SourceKind::Mqtt(config) => mqtt::run(ctx, config).await,
            SourceKind::Demo(config) => demo::run(ctx, config).await,
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    /// An interface error handler that does nothing.
    struct Ignored;

    impl OnError for Ignored {
        fn source_error(&self, _error: SourceError<'_>) {}
    }

    /// A context for one `file-kv` source, and the receiving end of its events.
    pub(super) fn context(extra: &str) -> (SourceContext, mpsc::Receiver<Event>) {
        let config = crate::config::parse_str(
            &format!(
                "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://127.0.0.1:1/\"\n\
                 format = \"file-kv\"\n{extra}"
            ),
            Path::new("t.toml"),
        )
        .unwrap();
        let (events, receiver) = mpsc::channel(16);
        let context = SourceContext {
            config: Arc::new(config.sources[0].clone()),
            name: Arc::from("s"),
            events,
            status: Arc::new(SourceStatus::new("s", "sse", "http://127.0.0.1:1/")),
            shutdown: CancellationToken::new(),
            resume_id: None,
            on_error: Arc::new(Ignored),
        };
        (context, receiver)
    }

    fn received(receiver: &mut mpsc::Receiver<Event>) -> Vec<(String, Option<String>, bool)> {
        std::iter::from_fn(|| receiver.try_recv().ok())
            .map(|e| (e.name, e.id, e.ends_payload))
            .collect()
    }

    const TWO_EVENTS: &str = r#"event="a";data=1 event="b";data=2"#;

    #[tokio::test]
    async fn only_the_last_event_of_a_payload_ends_it() {
        let (context, mut receiver) = context("");
        assert!(context.deliver("x", Some(TWO_EVENTS), Some("7")).await);
        assert_eq!(
            received(&mut receiver),
            vec![
                ("a".into(), Some("7".into()), false),
                ("b".into(), Some("7".into()), true),
            ]
        );
    }

    #[tokio::test]
    async fn the_last_event_the_whitelist_lets_through_ends_the_payload() {
        let (context, mut receiver) = context("events = [\"a\"]\n");
        assert!(context.deliver("x", Some(TWO_EVENTS), Some("7")).await);
        assert_eq!(
            received(&mut receiver),
            vec![("a".into(), Some("7".into()), true)]
        );
    }
}
