//! `type = "websocket"` (Neuro: `WSS`): a `ws://` or `wss://` connection
//! whose every message is a payload, reconnected when it closes.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::config_file::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{ReconnectConfig, SourceKind, SourceType, TypeSection, optional};
use crate::sources::http::read_headers;
use crate::sources::tls::SourceTls;

/// How long a connection may stay silent before homebus pings the server,
/// unless the source sets `interval`.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

/// How long opening a connection may take, unless the source sets `timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `websocket` source's own keys.
#[derive(Debug, Clone)]
pub struct WebsocketConfig {
    /// `url`: a `ws://` or `wss://` URL (TLS with the system's roots,
    /// unless `tls` says otherwise).
    pub url: String,
    /// `headers`: extra handshake headers; any value may be `"env:NAME"`.
    pub headers: HeaderMap,
    /// `interval`: how long the server may stay silent before homebus pings
    /// it; no answer within as long again drops the connection. Default
    /// `"30s"`; a bare number is milliseconds.
    pub interval: Duration,
    /// `timeout`: how long opening a connection (TCP, TLS, handshake) may
    /// take. Default `"10s"`.
    pub timeout: Duration,
    /// `reconnect` and `max_backoff`.
    pub reconnect: ReconnectConfig,
    /// `tls = { ca_file, insecure, client_cert, client_key }` for a
    /// `wss://` server the system's roots do not vouch for.
    pub tls: Option<SourceTls>,
}

/// The `websocket` type: its keys, default format and reader.
pub(crate) const TYPE: SourceType = SourceType {
    name: "websocket",
    aliases: &["wss"],
    keys: &[
        "url",
        "headers",
        "interval",
        "timeout",
        "reconnect",
        "max_backoff",
        "tls",
    ],
    url: (&["ws", "wss"], "\"ws://host:8088/\""),
    default_format: FormatKind::Raw,
    read,
};

fn read(report: &mut Report, input: TypeSection<'_, '_, '_>) -> Option<SourceKind> {
    let section = input.section;
    let headers = read_headers(report, section, input.env);
    let interval = section.duration_or_millis(report, "interval");
    let interval = optional(section, "interval", interval);
    let timeout = section.duration(report, "timeout", false);
    let timeout = optional(section, "timeout", timeout);
    let reconnect = ReconnectConfig::read(report, section);
    let tls = SourceTls::read(report, &input, &["wss"]);
    Some(SourceKind::Websocket(WebsocketConfig {
        url: input.url?,
        headers: headers?,
        interval: interval?.unwrap_or(DEFAULT_IDLE),
        timeout: timeout?.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        reconnect: reconnect?,
        tls: tls?,
    }))
}
