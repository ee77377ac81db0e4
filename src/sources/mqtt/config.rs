//! `type = "mqtt"`: a broker connection subscribed to `topics`, each
//! message's topic its event name.

use toml::Spanned;

use crate::config_file::Secret;
use crate::config_file::report::Report;
use crate::format::FormatKind;
use crate::sources::config::{ReconnectConfig, SourceKind, SourceType, TypeSection};
use crate::sources::tls::SourceTls;

/// An `mqtt` source's own keys.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// `url`: `mqtt://host:1883` (or `tcp://`), `mqtts://host:8883` (or
    /// `ssl://`) for TLS with the system's roots (or `tls`); a user and password may
    /// be written in it.
    pub url: String,
    /// `topics`: the topic filters to subscribe to (`"home/#"`); required,
    /// not empty.
    pub topics: Vec<String>,
    /// `username`: the broker user (wins over one in the URL).
    pub username: Option<String>,
    /// `password`: the broker password; may be `"env:NAME"`.
    pub password: Option<Secret>,
    /// `reconnect` and `max_backoff`.
    pub reconnect: ReconnectConfig,
    /// `tls = { ca_file, insecure, client_cert, client_key }` for an
    /// `mqtts://` broker the system's roots do not vouch for, or one that
    /// wants a client certificate.
    pub tls: Option<SourceTls>,
}

/// The `mqtt` type: its keys, default format and reader.
pub(crate) const TYPE: SourceType = SourceType {
    name: "mqtt",
    aliases: &[],
    keys: &[
        "url",
        "topics",
        "username",
        "password",
        "reconnect",
        "max_backoff",
        "tls",
    ],
    // A topic is the event name, like an SSE `event:` field.
    url: (&["mqtt", "mqtts", "tcp", "ssl"], "\"mqtt://host:1883\""),
    default_format: FormatKind::Xtension,
    read,
};

fn read(report: &mut Report, input: TypeSection<'_, '_, '_>) -> Option<SourceKind> {
    let section = input.section;
    let topics = section.strings(report, "topics");
    let username = section.string(report, "username");
    let password = section.secret(report, "password", input.env);
    let reconnect = ReconnectConfig::read(report, section);
    let tls = SourceTls::read(report, &input, &["mqtts", "ssl"]);
    let topics = match topics {
        None => {
            if section.value("topics").is_none() {
                section.missing(report, "topics", "[\"home/#\"]");
            }
            return None;
        }
        Some(topics) if topics.get_ref().is_empty() => {
            report.add(
                topics.span(),
                format!(
                    "`topics` in {} is empty, so nothing would arrive; \
                     list topics such as `\"home/#\"`",
                    section.label()
                ),
            );
            return None;
        }
        Some(topics) => topics,
    };
    if section.value("password").is_some() && password.is_none() {
        return None;
    }
    Some(SourceKind::Mqtt(MqttConfig {
        url: input.url?,
        topics: topics
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        username: username.map(Spanned::into_inner),
        password,
        reconnect: reconnect?,
        tls: tls?,
    }))
}
