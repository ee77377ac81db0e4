//! The config as the rest of homebus sees it: validated, with `env:` values
//! already read and durations already parsed.
//!
//! The only way to build one from text is `load.rs`, which checks every
//! value with its position and applies each default once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::units::UnitKind;

/// The whole config file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the hub listens and keeps its data.
    pub server: ServerConfig,
    /// Who may connect; absent means open, on loopback only.
    pub auth: Option<AuthConfig>,
    /// The event streams the hub reads.
    pub sources: Vec<SourceConfig>,
    /// Units declared up front (others may be created by sources with `create_units`).
    pub units: Vec<UnitConfig>,
}

/// `[server]`: listening addresses, storage and serving limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTP address for REST, SSE, `/ws` and the dashboard.
    pub listen: SocketAddr,
    /// deCONZ-style WebSocket push port; 0 picks any free port.
    pub websocket_port: u16,
    /// SQLite file; `":memory:"` keeps nothing across restarts. A relative
    /// path is taken from the config file's directory.
    pub database: String,
    /// How long the event history is kept.
    pub history_retention: Duration,
    /// Allow listening on a non-loopback address without `[auth]`.
    pub allow_open: bool,
    /// Origins allowed to use the API from a browser (`"*"` for any).
    pub cors_origins: Vec<String>,
    /// Interval of the SSE keep-alive comment.
    pub keepalive: Duration,
    /// How many recent changes are held in memory for clients that resume.
    pub replay_buffer: usize,
    /// How far (in changes) a live subscriber may fall behind before it is
    /// cut off with `event: error`; this is each subscriber's bounded queue.
    pub lag_limit: usize,
    /// The reconnection delay sent once to SSE clients as `retry:`.
    pub sse_retry: Duration,
    /// A subscriber whose socket accepts no bytes for this long is
    /// disconnected (a client that stopped reading can never be sent
    /// `event: error`, so it is cut off at the socket).
    pub write_stall_timeout: Duration,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_size: usize,
    /// How hard the store pushes each commit to disk: `normal` survives a
    /// crash of homebus (even `kill -9`), `full` also survives power loss.
    pub synchronous: Synchronous,
}

/// `server.synchronous`: SQLite's `PRAGMA synchronous` in WAL mode; see
/// `docs/durability.md` for what survives what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Commits reach the operating system before they are acknowledged;
    /// they survive a process crash, not a power cut.
    #[default]
    Normal,
    /// Commits are flushed to the disk (fsync) before they are acknowledged;
    /// they survive a power cut too, at a cost in write speed.
    Full,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            websocket_port: 8088,
            database: "homebus.db".to_string(),
            history_retention: Duration::from_secs(7 * 24 * 3600),
            allow_open: false,
            cors_origins: Vec::new(),
            keepalive: Duration::from_secs(15),
            replay_buffer: 4096,
            lag_limit: 4096,
            sse_retry: Duration::from_secs(1),
            write_stall_timeout: Duration::from_secs(30),
            max_body_size: 1024 * 1024,
            synchronous: Synchronous::Normal,
        }
    }
}

/// `[auth]`: API keys and the JWT secret.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Keys accepted as `Authorization: Bearer`, `x-ha-access` or `?api_password=`.
    pub api_keys: Vec<Secret>,
    /// HS256 secret for `?token=` JWTs.
    pub jwt_secret: Option<Secret>,
}

/// Which transport a source uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceType {
    /// Server-Sent Events over HTTP(S).
    Sse,
    /// WebSocket (ws:// or wss://).
    Websocket,
    /// HTTP polling every `interval`.
    Fetch,
    /// A local file read every `interval` and on change.
    File,
    /// MQTT topics.
    Mqtt,
    /// A simulated house (`homebus run --demo`): switches, a dimmer and
    /// sensors that change every second.
    Demo,
}

impl SourceType {
    /// The format of a source of this type that sets none.
    pub fn default_format(self) -> FormatKind {
        match self {
            // An MQTT topic is the event name, like an SSE `event:` field.
            SourceType::Sse | SourceType::Mqtt => FormatKind::Xtension,
            SourceType::Websocket | SourceType::Fetch | SourceType::Demo => FormatKind::Raw,
            SourceType::File => FormatKind::FileKv,
        }
    }

    /// The name used in the config and in `/api/sources`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Sse => "sse",
            SourceType::Websocket => "websocket",
            SourceType::Fetch => "fetch",
            SourceType::File => "file",
            SourceType::Mqtt => "mqtt",
            SourceType::Demo => "demo",
        }
    }
}

/// How a source's payload becomes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// SSE event name + data (default for `sse`).
    Xtension,
    /// The whole payload is the data of the source's single event name.
    Raw,
    /// `event="name";data=value` pairs (default for `file`).
    FileKv,
    /// A JSON object becomes the attributes of the source's event name.
    Json,
    /// deCONZ WebSocket messages.
    Deconz,
    /// Home Assistant `state_changed` events.
    HomeAssistant,
    /// ESPHome `/events` stream.
    Esphome,
}

/// HTTP method of an `sse` or `fetch` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `GET` (the default).
    #[default]
    GET,
    /// `POST`, with `body`.
    POST,
}

/// `[[source]]`: one event stream.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name, shown in logs, `/api/sources` and the dashboard.
    pub name: String,
    /// Transport: `sse`, `websocket`, `fetch`, `file` or `mqtt`.
    pub kind: SourceType,
    /// Where to connect (for `file`: `file:///abs/path`, an absolute path or
    /// one relative to the config file; once loaded it holds the absolute path).
    pub url: String,
    /// HTTP method (`GET`, or `POST` with `body`).
    pub method: Method,
    /// Request body for `POST`.
    pub body: Option<String>,
    /// Extra request headers; any value may be `"env:NAME"`.
    pub headers: BTreeMap<String, Secret>,
    /// Whitelist of event names (case-insensitive); absent means all.
    pub events: Option<Vec<String>>,
    /// Delay before reconnecting after a connection that worked ended.
    pub reconnect: Duration,
    /// Cap of the back-off between consecutive failed tries.
    pub max_backoff: Duration,
    /// Poll interval for `fetch` (default 5 s) and `file` (default 1 s); once
    /// loaded it is always set for those two types. For `websocket`: how long
    /// the server may stay silent before homebus pings it (default 30 s); no
    /// answer within as long again drops the connection.
    pub interval: Option<Duration>,
    /// Request timeout for `fetch` (default: the interval); connection
    /// timeout for `websocket` (default 10 s).
    pub timeout: Option<Duration>,
    /// `"include"` keeps cookies between `fetch` polls (a cookie jar).
    pub credentials: Option<String>,
    /// Payload format; the default depends on the type.
    pub format: Option<FormatKind>,
    /// For `format = "json"`: a JSON pointer that picks one value.
    pub json_pointer: Option<String>,
    /// Create a unit for an event whose name matches none.
    pub create_units: bool,
    /// MQTT topics to subscribe to.
    pub topics: Vec<String>,
    /// MQTT user name.
    pub username: Option<String>,
    /// MQTT password; may be `"env:NAME"`.
    pub password: Option<Secret>,
    /// Largest line or event accepted from this source, in bytes: an SSE
    /// line or event, a WebSocket frame or message, a fetched body, a file,
    /// an MQTT packet.
    pub max_event_size: usize,
}

impl SourceConfig {
    /// The format in force: the configured one or the type's default.
    pub fn format(&self) -> FormatKind {
        self.format.unwrap_or(self.kind.default_format())
    }

    /// For a `file` source, the file it reads (the loader stores it in `url`
    /// as an absolute path).
    pub fn file_path(&self) -> Option<&std::path::Path> {
        (self.kind == SourceType::File).then(|| std::path::Path::new(&self.url))
    }

    /// Whether an event name passes the `events` whitelist (ASCII case ignored).
    pub fn accepts(&self, name: &str) -> bool {
        match &self.events {
            None => true,
            Some(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }
}

/// Reconnect delay of a source that sets none, as the XTension plugin does.
pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(1);

/// Back-off cap of a source that sets none.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// 8 MiB: the default limit of one SSE line or event.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

/// `[[unit]]`: a named unit that events address.
#[derive(Debug, Clone)]
pub struct UnitConfig {
    /// The event name that drives this unit (ASCII case ignored).
    pub address: String,
    /// Home Assistant entity id; default `<domain>.<address>`.
    pub entity_id: Option<String>,
    /// `switch`, `dimmer` or `sensor`.
    pub kind: UnitKind,
    /// Friendly name; default: the address.
    pub name: Option<String>,
    /// Unit of measurement shown with the value (e.g. `°C`).
    pub unit_of_measurement: Option<String>,
}

/// A config value that may hold a key or password: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    /// The value itself, for the few places that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
