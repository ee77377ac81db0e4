//! The request fields that the HTTP source types share (`sse`, `fetch`;
//! `websocket` takes `headers`), each read and checked once at load: the
//! headers are built into a [`HeaderMap`] there, so a source never converts
//! or re-checks them.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use toml::Spanned;

use crate::config_file::read::{Env, Section};
use crate::config_file::report::Report;
use crate::sources::tls::SourceTls;

/// HTTP method of an `sse` or `fetch` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `GET` (the default).
    #[default]
    GET,
    /// `POST`, with `body`.
    POST,
}

const METHODS: &[(&str, Method)] = &[("GET", Method::GET), ("POST", Method::POST)];

/// Whether a source keeps the cookies its server sets, as a browser's
/// `fetch(url, { credentials })` and `EventSource(url, { withCredentials })`
/// decide; Neuro's `credentials` means the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No cookies are kept or sent (the default: homebus has no browser
    /// session whose cookies it could share).
    #[default]
    Omit,
    /// Cookies the server sets are kept in a jar and sent back, across polls
    /// and reconnects, to the origin that set them. Every request of a
    /// source goes to its own URL's origin, so this is `include` in effect;
    /// the jar follows the cookie rules, so a cookie only ever goes back to
    /// the host (and path) it came from.
    SameOrigin,
    /// Cookies the server sets are kept in a jar that lasts as long as the
    /// source runs and are sent back with every poll or reconnect, as a
    /// logged-in browser tab does.
    Include,
}

impl Credentials {
    /// Whether the source's HTTP client keeps a cookie jar.
    pub fn keeps_cookies(self) -> bool {
        self != Credentials::Omit
    }
}

const CREDENTIALS: &[(&str, Credentials)] = &[
    ("omit", Credentials::Omit),
    ("same-origin", Credentials::SameOrigin),
    ("include", Credentials::Include),
];

/// One HTTP request of a source, as its `[[source]]` describes it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Where to connect: an `http://` or `https://` URL.
    pub url: String,
    /// `method`: `GET` (default), or `POST` with `body`; any case.
    pub method: Method,
    /// `body`: the request body, sent with `method = "POST"`.
    pub body: Option<String>,
    /// `headers = { Authorization = "env:CAM_AUTH" }`: extra request
    /// headers; any value may be `"env:NAME"`. Checked and built once, at
    /// load; values are never shown in logs.
    pub headers: HeaderMap,
    /// `credentials`: `"omit"` (default), `"same-origin"` or `"include"`;
    /// see [`Credentials`].
    pub credentials: Credentials,
}

impl HttpRequest {
    /// The client this request is sent with, for the whole life of the
    /// source: with the source's TLS setup if it has one, a cookie jar when
    /// `credentials` keeps cookies, and a timeout per request if given.
    /// `Err` says why none could be built.
    pub fn client(
        &self,
        timeout: Option<std::time::Duration>,
        tls: Option<&SourceTls>,
    ) -> Result<reqwest::Client, String> {
        let builder = match tls {
            Some(tls) => crate::http_client::client_builder_with_tls(&tls.client),
            None => crate::http_client::client_builder(),
        };
        let mut builder = builder.cookie_store(self.credentials.keeps_cookies());
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        builder
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))
    }

    /// Reads `method`, `body`, `headers` and `credentials` (the URL is read
    /// by the caller, which knows its schemes); `None` when one is wrong.
    pub(crate) fn read(
        report: &mut Report,
        section: &Section<'_, '_>,
        env: Env<'_>,
        url: Option<String>,
    ) -> Option<HttpRequest> {
        let method = section.choice(report, "method", METHODS);
        let body = section.string(report, "body");
        let headers = read_headers(report, section, env);
        let credentials = section.choice(report, "credentials", CREDENTIALS);
        let method = method.map_or(Method::GET, Spanned::into_inner);
        if method == Method::GET
            && body.is_some()
            && let Some(span) = section.key_span("body")
        {
            report.add(
                span,
                format!(
                    "{} has a `body` but its method is GET, which sends none; \
                     add `method = \"POST\"` or remove `body`",
                    section.label()
                ),
            );
            return None;
        }
        Some(HttpRequest {
            url: url?,
            method,
            body: body.map(Spanned::into_inner),
            headers: headers?,
            credentials: credentials.map_or(Credentials::default(), Spanned::into_inner),
        })
    }
}

/// `headers`, checked and built: every name and value must be sendable, or
/// every request would fail. Absent gives no headers.
pub(crate) fn read_headers(
    report: &mut Report,
    section: &Section<'_, '_>,
    env: Env<'_>,
) -> Option<HeaderMap> {
    if section.value("headers").is_none() {
        return Some(HeaderMap::new());
    }
    let entries = section.secret_table(report, "headers", env)?;
    let mut headers = HeaderMap::with_capacity(entries.len());
    let mut ok = true;
    for (name, value) in entries {
        let Ok(header_name) = HeaderName::from_bytes(name.get_ref().as_bytes()) else {
            ok = false;
            report.add(
                name.span(),
                format!(
                    "`{}` in `headers` of {} is not a valid header name; \
                     use letters, digits and `-`, e.g. `Authorization`",
                    name.get_ref(),
                    section.label()
                ),
            );
            continue;
        };
        let Ok(mut header_value) = HeaderValue::from_str(value.expose()) else {
            ok = false;
            report.add(
                name.span(),
                format!(
                    "the value of header `{}` in {} holds a line break or control \
                     character; write it on one line",
                    name.get_ref(),
                    section.label()
                ),
            );
            continue;
        };
        // A header may carry a key: keep it out of `Debug` output.
        header_value.set_sensitive(true);
        headers.append(header_name, header_value);
    }
    ok.then_some(headers)
}
