//! `[server]`: where the hub listens, where it keeps its data and the
//! limits it serves with.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use crate::config_file::read::Section;
use crate::config_file::read::absolute;
use crate::config_file::report::Report;

/// Keys of `[server]`.
pub(super) const SERVER_KEYS: &[&str] = &[
    "listen",
    "websocket_port",
    "database",
    "history_retention",
    "allow_open",
    "websocket_open",
    "cors_origins",
    "keepalive",
    "replay_buffer",
    "synchronous",
    "lag_limit",
    "sse_retry",
    "write_stall_timeout",
    "max_body_size",
];

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
    /// Under `[auth]`, let clients that present no key read the WebSocket
    /// push port, as deCONZ's own port allows: real deCONZ clients never send
    /// one. A client that does send a key must send a right one; `/ws` on
    /// the main port stays keyed.
    pub websocket_open: bool,
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
            websocket_open: false,
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

/// `[server]`, with the span of `listen` for the rule about `[auth]`.
pub(super) fn read(
    report: &mut Report,
    section: &Section<'_, '_>,
    config_dir: &Path,
) -> (ServerConfig, Option<Range<usize>>) {
    let mut server = ServerConfig::default();
    let mut listen_span = None;
    if let Some(listen) = section.string(report, "listen") {
        match listen.get_ref().trim().parse::<SocketAddr>() {
            Ok(addr) => {
                server.listen = addr;
                listen_span = Some(listen.span());
            }
            Err(_) => report.add(
                listen.span(),
                format!(
                    "`listen` in [server] is `{}`, which is not an IP address with a port; \
                     write e.g. `listen = \"127.0.0.1:8080\"` or `listen = \"[::]:8080\"`",
                    listen.get_ref()
                ),
            ),
        }
    }
    if let Some(port) = section.integer(report, "websocket_port", 0..=65535) {
        server.websocket_port = u16::try_from(*port.get_ref()).unwrap_or_default();
        if server.websocket_port != 0
            && (listen_span.is_some() || section.value("listen").is_none())
            && server.websocket_port == server.listen.port()
        {
            report.add(
                port.span(),
                format!(
                    "`websocket_port` in [server] is {}, the port `listen` already uses; \
                     choose another port, or 0 for any free one",
                    server.websocket_port
                ),
            );
        }
    }
    if let Some(database) = section.string(report, "database") {
        if database.get_ref().trim().is_empty() {
            report.add(
                database.span(),
                "`database` in [server] is empty; write a file name such as \"homebus.db\", \
                 or \":memory:\" to keep nothing",
            );
        } else {
            server.database = resolve_database(database.get_ref(), config_dir);
        }
    }
    if let Some(d) = section.duration(report, "history_retention", true) {
        server.history_retention = d.into_inner();
    }
    if let Some(b) = section.bool(report, "allow_open") {
        server.allow_open = b;
    }
    if let Some(b) = section.bool(report, "websocket_open") {
        server.websocket_open = b;
    }
    if let Some(origins) = section.strings(report, "cors_origins") {
        let mut ok = true;
        for origin in origins.get_ref() {
            if !is_origin(origin.get_ref()) {
                ok = false;
                report.add(
                    origin.span(),
                    format!(
                        "`cors_origins` in [server] holds `{}`, which is not an origin; \
                         write `\"*\"` or a scheme and host such as `\"http://dash.local:3000\"` \
                         (no path)",
                        origin.get_ref()
                    ),
                );
            }
        }
        if ok {
            server.cors_origins = origins
                .into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect();
        }
    }
    if let Some(d) = section.duration(report, "keepalive", false) {
        server.keepalive = d.into_inner();
    }
    if let Some(n) = section.integer(report, "replay_buffer", 1..=i64::from(u32::MAX)) {
        server.replay_buffer = usize::try_from(*n.get_ref()).unwrap_or(usize::MAX);
    }
    if let Some(n) = section.integer(report, "lag_limit", 1..=i64::from(u32::MAX)) {
        server.lag_limit = usize::try_from(*n.get_ref()).unwrap_or(usize::MAX);
    }
    if let Some(d) = section.duration(report, "sse_retry", true) {
        server.sse_retry = d.into_inner();
    }
    if let Some(d) = section.duration(report, "write_stall_timeout", false) {
        server.write_stall_timeout = d.into_inner();
    }
    if let Some(n) = section.integer(report, "max_body_size", 1..=i64::from(u32::MAX)) {
        server.max_body_size = usize::try_from(*n.get_ref()).unwrap_or(usize::MAX);
    }
    let synchronous = [("normal", Synchronous::Normal), ("full", Synchronous::Full)];
    if let Some(s) = section.choice(report, "synchronous", &synchronous) {
        server.synchronous = *s.get_ref();
    }
    (server, listen_span)
}

/// A relative database file is kept beside the config file, as source paths
/// are, so the hub finds the same data whatever directory it starts in.
fn resolve_database(database: &str, config_dir: &Path) -> String {
    let database = database.trim();
    if database == ":memory:" || database.starts_with("file:") || Path::new(database).is_absolute()
    {
        return database.to_string();
    }
    absolute(&config_dir.join(database))
        .to_string_lossy()
        .into_owned()
}

fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    match url::Url::parse(origin) {
        Ok(url) => {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.path() == "/"
                && !origin.ends_with('/')
                && url.query().is_none()
        }
        Err(_) => false,
    }
}
