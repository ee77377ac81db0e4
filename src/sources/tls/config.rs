//! A source's `tls = { … }` as the config reader reads it: paths resolved
//! against the config file's folder, the rustls setup built once at load
//! (so `homebus check` reports an unreadable CA or key at its place), and
//! refused on a URL that would never use it.

use std::ops::Range;
use std::sync::Arc;

use rustls::ClientConfig;
use toml::Spanned;

use super::{TlsConfig, TlsError};
use crate::config_file::read::{Section, absolute};
use crate::config_file::report::Report;
use crate::sources::config::{TypeSection, optional};

/// The keys a `tls` table takes.
const TLS_KEYS: &[&str] = &["ca_file", "insecure", "client_cert", "client_key"];

/// A source's TLS setup as loaded: the table, and the rustls client setup
/// it describes, built once and shared by every connection of the source.
#[derive(Debug, Clone)]
pub struct SourceTls {
    /// The `tls` table, its paths made absolute.
    pub table: TlsConfig,
    /// What the transports' clients are built with.
    pub client: Arc<ClientConfig>,
}

impl SourceTls {
    /// Reads a source's `tls`, for a type whose `url` speaks TLS with one
    /// of `schemes` (the first is the one a message suggests). `Some(None)`
    /// when there is no `tls`; `None` when it is wrong (and reported): an
    /// unknown key, a file that cannot be used, or a URL without TLS.
    pub(crate) fn read(
        report: &mut Report,
        input: &TypeSection<'_, '_, '_>,
        schemes: &[&str],
    ) -> Option<Option<SourceTls>> {
        let section = input.section;
        if section.value("tls").is_none() {
            return Some(None);
        }
        let before = report.len();
        let tls = section.table(report, "tls", TLS_KEYS)?;
        check_url_uses_tls(report, input, schemes);
        let path = |report: &mut Report, key: &str| {
            let text = tls.string(report, key);
            if let Some(text) = &text
                && text.get_ref().trim().is_empty()
            {
                report.add(
                    text.span(),
                    format!(
                        "`{key}` in {} is empty; give the path of a PEM file",
                        tls.label()
                    ),
                );
                return None;
            }
            let read = text.map(|t| {
                let path = absolute(&input.config_dir.join(t.get_ref().trim()));
                Spanned::new(t.span(), path)
            });
            optional(&tls, key, read)
        };
        let ca_file = path(report, "ca_file");
        let client_cert = path(report, "client_cert");
        let client_key = path(report, "client_key");
        let insecure = tls.bool(report, "insecure");
        if report.len() > before {
            return None;
        }
        let table = TlsConfig {
            ca_file: ca_file?,
            insecure: insecure.unwrap_or(false),
            client_cert: client_cert?,
            client_key: client_key?,
        };
        match table.client_config() {
            Ok(client) => Some(Some(SourceTls { table, client })),
            Err(e) => {
                report.add(error_span(&tls, &e), format!("{}: {e}", section.label()));
                None
            }
        }
    }

    /// Logs that `insecure = true` is in force, once when the source starts.
    pub fn warn_if_insecure(&self, source: &str) {
        self.table.warn_if_insecure(source);
    }
}

/// `tls` on a URL that has no TLS (`http://`, `ws://`, `mqtt://`) would do
/// nothing, which is surely not what its writer meant.
fn check_url_uses_tls(report: &mut Report, input: &TypeSection<'_, '_, '_>, schemes: &[&str]) {
    let Some(scheme) = input
        .url
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        .map(|url| url.scheme().to_string())
    else {
        return;
    };
    if schemes.contains(&scheme.as_str()) {
        return;
    }
    let section = input.section;
    let span = section.key_span("tls").unwrap_or_else(|| section.span());
    report.add(
        span,
        format!(
            "`tls` in {} would never be used: `url` starts with `{scheme}://`, which does not \
             speak TLS; write the URL with `{}://` to connect over TLS, or remove `tls`",
            section.label(),
            schemes[0],
        ),
    );
}

/// Where a [`TlsError`] is reported: at the value of the key it is about.
fn error_span(tls: &Section<'_, '_>, error: &TlsError) -> Range<usize> {
    tls.value(error.key())
        .map(|value| value.span())
        .unwrap_or_else(|| tls.span())
}
