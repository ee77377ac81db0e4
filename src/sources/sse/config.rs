//! `type = "sse"` (Neuro: `SSE`): an HTTP request whose answer is a
//! Server-Sent Events stream, reconnected when it ends.

use std::path::Path;

use crate::config::read::{Env, Section};
use crate::config::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{ReconnectConfig, SourceKind, SourceType, read_url};
use crate::sources::http::HttpRequest;

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
    ],
    default_format: FormatKind::Xtension,
    read,
};

fn read(
    report: &mut Report,
    section: &Section<'_, '_>,
    env: Env<'_>,
    _config_dir: &Path,
) -> Option<SourceKind> {
    let url = read_url(
        report,
        section,
        TYPE.name,
        &["http", "https"],
        "\"https://host/events\"",
    );
    let request = HttpRequest::read(report, section, env, url);
    let reconnect = ReconnectConfig::read(report, section);
    Some(SourceKind::Sse(SseConfig {
        request: request?,
        reconnect: reconnect?,
    }))
}
