//! `type = "fetch"` (Neuro: `FETCH`): an HTTP request every `interval`,
//! each answer's body one payload.

use std::time::Duration;

use crate::config_file::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{SourceKind, SourceType, TypeSection, optional};
use crate::sources::http::HttpRequest;
use crate::sources::tls::SourceTls;

/// Poll interval of a `fetch` source that sets none.
pub const DEFAULT_FETCH_INTERVAL: Duration = Duration::from_secs(5);

/// A `fetch` source's own keys.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// `url` (`http://` or `https://`), `method`, `body`, `headers` and
    /// `credentials` (`"include"` or `"same-origin"` keeps the server's
    /// cookies from one poll to the next, as a browser's `fetch` does).
    pub request: HttpRequest,
    /// `interval`: the time between two polls. Default `"5s"`; a bare
    /// number is milliseconds, as Neuro writes it (`interval = 5000`).
    pub interval: Duration,
    /// `timeout`: how long one request may take. Default: the interval.
    pub timeout: Duration,
    /// `tls = { ca_file, insecure, client_cert, client_key }` for an
    /// `https://` server the system's roots do not vouch for.
    pub tls: Option<SourceTls>,
}

/// The `fetch` type: its keys, default format and reader.
pub(crate) const TYPE: SourceType = SourceType {
    name: "fetch",
    aliases: &[],
    keys: &[
        "url",
        "method",
        "body",
        "headers",
        "credentials",
        "interval",
        "timeout",
        "tls",
    ],
    url: (&["http", "https"], "\"https://host/data\""),
    default_format: FormatKind::Raw,
    read,
};

fn read(report: &mut Report, input: TypeSection<'_, '_, '_>) -> Option<SourceKind> {
    let section = input.section;
    let tls = SourceTls::read(report, &input, &["https"]);
    let request = HttpRequest::read(report, section, input.env, input.url);
    let interval = section.duration_or_millis(report, "interval");
    let interval = optional(section, "interval", interval);
    let timeout = section.duration(report, "timeout", false);
    let timeout = optional(section, "timeout", timeout);
    let interval = interval?.unwrap_or(DEFAULT_FETCH_INTERVAL);
    Some(SourceKind::Fetch(FetchConfig {
        request: request?,
        interval,
        timeout: timeout?.unwrap_or(interval),
        tls: tls?,
    }))
}
