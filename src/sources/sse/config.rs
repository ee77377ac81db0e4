//! `type = "sse"` (Neuro: `SSE`): an HTTP request whose answer is a
//! Server-Sent Events stream, reconnected when it ends.

use crate::config_file::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{ReconnectConfig, SourceKind, SourceType, TypeSection};
use crate::sources::http::HttpRequest;
use crate::sources::tls::SourceTls;

/// An `sse` source's own keys.
#[derive(Debug, Clone)]
pub struct SseConfig {
    /// `url` (an `http://` or `https://` event stream), `method`, `body`,
    /// `headers` and `credentials` (`"include"` or `"same-origin"` keeps the
    /// server's cookies across reconnects, as `EventSource` with
    /// `withCredentials` does).
    pub request: HttpRequest,
    /// `reconnect` and `max_backoff`.
    pub reconnect: ReconnectConfig,
    /// `tls = { ca_file, insecure, client_cert, client_key }` for an
    /// `https://` server the system's roots do not vouch for.
    pub tls: Option<SourceTls>,
}

/// The `sse` type: its keys, default format and reader.
pub(crate) const TYPE: SourceType = SourceType {
    name: "sse",
    aliases: &[],
    keys: &[
        "url",
        "method",
        "body",
        "headers",
        "credentials",
        "reconnect",
        "max_backoff",
        "tls",
    ],
    url: (&["http", "https"], "\"https://host/events\""),
    default_format: FormatKind::Xtension,
    read,
};

fn read(report: &mut Report, input: TypeSection<'_, '_, '_>) -> Option<SourceKind> {
    let section = input.section;
    let tls = SourceTls::read(report, &input, &["https"]);
    let request = HttpRequest::read(report, section, input.env, input.url);
    let reconnect = ReconnectConfig::read(report, section);
    Some(SourceKind::Sse(SseConfig {
        request: request?,
        reconnect: reconnect?,
        tls: tls?,
    }))
}
