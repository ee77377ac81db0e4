//! `[[source]]`: the fields every source type shares, the enum of per-type
//! configs, and the table of type names. Each type's own fields, defaults
//! and rules live in its folder (`sse/config.rs`, …); what a type does not
//! list in its [`SourceType::keys`] is refused on it.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::tls::SourceTls;
use super::{Backoff, demo, fetch, file, mqtt, sse, websocket};
use crate::config_file::read::{Env, Section};
use crate::config_file::report::{Report, one_of};
use crate::config_file::script::ScriptText;
use crate::format::{Decoding, FORMATS, FormatKind};

/// 8 MiB: the default limit of one SSE line or event.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 8 * 1024 * 1024;

/// One event stream, as its `[[source]]` table describes it.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// `name`: unique (case is ignored), shown in logs, `/api/sources` and
    /// the dashboard. Required.
    pub name: String,
    /// `events`: the event names to keep (ASCII case ignored); absent keeps
    /// all. With `format = "raw"` it holds exactly one name: the event the
    /// whole payload becomes.
    pub events: Option<Vec<String>>,
    /// `format`: how a payload becomes events (`xtension`, `raw`, `file-kv`,
    /// `json`, `deconz`, `home-assistant`, `esphome`). Default: `xtension`
    /// for `sse` and `mqtt`, `raw` for `websocket` and `fetch`, `file-kv`
    /// for `file`. Once loaded it is the format in force.
    pub format: FormatKind,
    /// `json_pointer`: with `format = "json"`, a JSON pointer
    /// (`"/main/temp"`) that picks the one value to use.
    pub json_pointer: Option<String>,
    /// `create_units`: create a unit for an event whose name matches none
    /// (kind from its first data), and remove it when the device is gone
    /// upstream. Default `false`.
    pub create_units: bool,
    /// `max_event_size`: the largest line or event accepted from this
    /// source, in bytes (an SSE line or event, a WebSocket message, a
    /// fetched body, a file, an MQTT packet). Default 8 MiB.
    pub max_event_size: usize,
    /// `type` and the fields that only that type takes.
    pub kind: SourceKind,
    /// `on_unparsed` and `on_error`.
    pub scripts: SourceScripts,
}

/// A source's scripts, each a `.rhai` file or inline code.
#[derive(Debug, Clone, Default)]
pub struct SourceScripts {
    /// `on_unparsed`: runs with data no rule could read (`event`, `data`,
    /// `source` in scope).
    pub on_unparsed: Option<ScriptText>,
    /// `on_error`: the interface error handler, run when a connection is
    /// refused or lost (`error`, `source`, `attempt` in scope).
    pub on_error: Option<ScriptText>,
}

impl SourceScripts {
    /// Each script present, to load and compile them all.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ScriptText> {
        [&mut self.on_unparsed, &mut self.on_error]
            .into_iter()
            .flatten()
    }
}

/// A source's type with its own config; one variant per folder of
/// `sources/`.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// `type = "sse"` (Neuro: `SSE`).
    Sse(sse::SseConfig),
    /// `type = "websocket"` (Neuro: `WSS`).
    Websocket(websocket::WebsocketConfig),
    /// `type = "fetch"` (Neuro: `FETCH`).
    Fetch(fetch::FetchConfig),
    /// `type = "file"` (Neuro: `FILE`).
    File(file::FileConfig),
    /// `type = "mqtt"`.
    Mqtt(mqtt::MqttConfig),
    /// The `--demo` house; a config file cannot name it.
    Demo(demo::DemoConfig),
}

impl SourceKind {
    /// The type's name, as in the config and in `/api/sources`.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::Sse(_) => sse::TYPE.name,
            SourceKind::Websocket(_) => websocket::TYPE.name,
            SourceKind::Fetch(_) => fetch::TYPE.name,
            SourceKind::File(_) => file::TYPE.name,
            SourceKind::Mqtt(_) => mqtt::TYPE.name,
            SourceKind::Demo(_) => demo::TYPE_NAME,
        }
    }

    /// The source's `tls` table as loaded, for the types that take one.
    pub fn tls(&self) -> Option<&SourceTls> {
        match self {
            SourceKind::Sse(c) => c.tls.as_ref(),
            SourceKind::Websocket(c) => c.tls.as_ref(),
            SourceKind::Fetch(c) => c.tls.as_ref(),
            SourceKind::Mqtt(c) => c.tls.as_ref(),
            SourceKind::File(_) | SourceKind::Demo(_) => None,
        }
    }

    /// Where the source reads from, as `/api/sources` shows it: its URL, or
    /// a file source's absolute path.
    pub fn location(&self) -> String {
        match self {
            SourceKind::Sse(c) => c.request.url.clone(),
            SourceKind::Websocket(c) => c.url.clone(),
            SourceKind::Fetch(c) => c.request.url.clone(),
            SourceKind::File(c) => c.path.to_string_lossy().into_owned(),
            SourceKind::Mqtt(c) => c.url.clone(),
            SourceKind::Demo(_) => demo::LOCATION.to_string(),
        }
    }
}

impl SourceConfig {
    /// Whether an event name passes the `events` whitelist (ASCII case ignored).
    pub fn accepts(&self, name: &str) -> bool {
        match &self.events {
            None => true,
            Some(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }

    /// What the source's format needs to read its payloads.
    pub fn decoding(&self) -> Decoding<'_> {
        Decoding {
            source: &self.name,
            format: self.format,
            events: self.events.as_deref(),
            json_pointer: self.json_pointer.as_deref(),
        }
    }
}

/// One source type as a config file names it.
pub(crate) struct SourceType {
    /// `type` as written in the config and shown in `/api/sources`.
    pub(crate) name: &'static str,
    /// Other names `type` may have (Neuro's `WSS`); case is ignored anyway.
    pub(crate) aliases: &'static [&'static str],
    /// The keys this type takes besides [`COMMON_KEYS`]: the one list that
    /// decides which keys a `[[source]]` of this type may hold.
    pub(crate) keys: &'static [&'static str],
    /// The format of a source of this type that sets none.
    pub(crate) default_format: FormatKind,
    /// The URL schemes `url` may have, and an example for messages; no
    /// schemes for a type that reads `url` itself (`file`).
    pub(crate) url: (&'static [&'static str], &'static str),
    /// Reads the type's own keys, with its defaults and rules; `None` when
    /// something was wrong (and reported).
    pub(crate) read: fn(&mut Report<'_>, TypeSection<'_, '_, '_>) -> Option<SourceKind>,
}

/// What a type's reader gets: its table, and what the common reader
/// already read for it.
pub(crate) struct TypeSection<'s, 'a, 'i> {
    /// The `[[source]]` table.
    pub(crate) section: &'s Section<'a, 'i>,
    /// Where `env:NAME` values come from.
    pub(crate) env: Env<'s>,
    /// The config file's directory, for relative paths.
    pub(crate) config_dir: &'s Path,
    /// `url`, checked against the type's schemes (`None` when it is wrong,
    /// or the type has none).
    pub(crate) url: Option<String>,
}

/// The types a config file may name, in the order messages list them.
const TYPES: &[&SourceType] = &[
    &sse::TYPE,
    &websocket::TYPE,
    &fetch::TYPE,
    &file::TYPE,
    &mqtt::TYPE,
];

/// Keys every type takes.
const COMMON_KEYS: &[&str] = &[
    "name",
    "type",
    "events",
    "format",
    "json_pointer",
    "create_units",
    "max_event_size",
    "on_unparsed",
    "on_error",
];

/// What one `[[source]]` yields: its config when it is valid, and its name
/// for the check that names are unique.
pub(crate) struct BuiltSource {
    /// The source, if nothing in its own table was wrong.
    pub(crate) config: Option<SourceConfig>,
    /// The name as written.
    pub(crate) name: Option<Spanned<String>>,
}

impl SourceConfig {
    /// Reads one `[[source]]` table: its keys against its type's list, the
    /// common fields, then the type's own. `config_dir` resolves relative
    /// paths.
    pub(crate) fn read(
        report: &mut Report,
        section: &Section<'_, '_>,
        env: Env<'_>,
        config_dir: &Path,
    ) -> BuiltSource {
        let before = report.len();
        let name = section.required_string(report, "name", "\"camera\"");
        let source_type = read_type(report, section);
        check_keys(report, section, source_type);
        let events = section.strings(report, "events");
        let format = section.choice(report, "format", FORMATS);
        let json_pointer = section.string(report, "json_pointer");
        let create_units = section.bool(report, "create_units");
        let max_event_size = section.integer(report, "max_event_size", 1..=i64::MAX);
        let scripts = SourceScripts {
            on_unparsed: section.script(report, "on_unparsed"),
            on_error: section.script(report, "on_error"),
        };
        if let Some(events) = &events {
            check_events(report, section, events);
        }
        if let Some(pointer) = &json_pointer {
            check_json_pointer(report, section, pointer);
        }
        let kind = match source_type {
            Some(source_type) => {
                let (schemes, example) = source_type.url;
                let url = (!schemes.is_empty())
                    .then(|| read_url(report, section, source_type.name, schemes, example))
                    .flatten();
                let input = TypeSection {
                    section,
                    env,
                    config_dir,
                    url,
                };
                (source_type.read)(report, input)
            }
            None => {
                if section.value("url").is_none() && section.value("path").is_none() {
                    section.missing(report, "url", "\"https://host/events\"");
                }
                None
            }
        };
        let format_in_force =
            source_type.map(|t| format.as_ref().map_or(t.default_format, |f| *f.get_ref()));
        if let (Some(source_type), Some(format_in_force)) = (source_type, format_in_force) {
            if format_in_force == FormatKind::Raw {
                check_raw_has_one_event(
                    report,
                    section,
                    source_type,
                    format.as_ref(),
                    events.as_ref(),
                );
            }
            if format_in_force != FormatKind::Json
                && let Some(span) = section.key_span("json_pointer")
            {
                report.add(
                    span,
                    format!(
                        "`json_pointer` in {} only applies with `format = \"json\"`; \
                         set that format or remove `json_pointer`",
                        section.label()
                    ),
                );
            }
        }
        if report.len() > before {
            return BuiltSource { config: None, name };
        }
        let (Some(name_text), Some(kind), Some(format)) = (
            name.as_ref().map(|n| n.get_ref().clone()),
            kind,
            format_in_force,
        ) else {
            // Every reader reports what it refuses; a source dropped without
            // a message would vanish from the hub unexplained, so say so.
            report.add(
                section.span(),
                format!(
                    "{} could not be read, yet no mistake was found in it; this is a \
                     homebus bug: please report it with this section",
                    section.label()
                ),
            );
            return BuiltSource { config: None, name };
        };
        let config = SourceConfig {
            name: name_text,
            events: events.map(|e| {
                e.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect()
            }),
            format,
            json_pointer: json_pointer.map(Spanned::into_inner),
            create_units: create_units.unwrap_or(false),
            max_event_size: max_event_size.map_or(DEFAULT_MAX_EVENT_SIZE, |n| {
                usize::try_from(*n.get_ref()).unwrap_or(usize::MAX)
            }),
            kind,
            scripts,
        };
        BuiltSource {
            config: Some(config),
            name,
        }
    }
}

/// `type`, by name or alias, case ignored.
fn read_type(report: &mut Report, section: &Section<'_, '_>) -> Option<&'static SourceType> {
    if section.value("type").is_none() {
        section.missing(report, "type", "\"sse\"");
        return None;
    }
    let options: Vec<(&str, &'static SourceType)> = TYPES
        .iter()
        .flat_map(|t| {
            std::iter::once(t.name)
                .chain(t.aliases.iter().copied())
                .map(|n| (n, *t))
        })
        .collect();
    section
        .choice(report, "type", &options)
        .map(Spanned::into_inner)
}

/// Refuses every key the source's type does not take, naming the types
/// that do, or the keys this one takes. Without a known type, only keys
/// that no type takes are refused.
fn check_keys(report: &mut Report, section: &Section<'_, '_>, source_type: Option<&SourceType>) {
    let allowed: Vec<&str> = match source_type {
        Some(t) => COMMON_KEYS.iter().chain(t.keys).copied().collect(),
        None => {
            let mut all: Vec<&str> = COMMON_KEYS
                .iter()
                .chain(TYPES.iter().flat_map(|t| t.keys))
                .copied()
                .collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    };
    for (key, span) in section.keys() {
        if allowed.contains(&key) {
            continue;
        }
        let mut takers: Vec<&str> = TYPES
            .iter()
            .filter(|t| t.keys.contains(&key))
            .map(|t| t.name)
            .collect();
        takers.sort_unstable();
        let message = match source_type {
            Some(t) if !takers.is_empty() => format!(
                "`{key}` in {} only applies to {} sources, not `{}`; remove it \
                 (`{}` sources take {})",
                section.label(),
                one_of(&takers),
                t.name,
                t.name,
                one_of(&allowed)
            ),
            _ => section.unknown_key(key, &allowed),
        };
        report.add(span, message);
    }
}

/// An empty whitelist, or an empty name in it, can only be a mistake.
fn check_events(
    report: &mut Report,
    section: &Section<'_, '_>,
    events: &Spanned<Vec<Spanned<String>>>,
) {
    if events.get_ref().is_empty() {
        report.add(
            events.span(),
            format!(
                "`events` in {} is empty, so every event would be dropped; \
                 list the event names to keep, or remove `events` to keep all",
                section.label()
            ),
        );
    }
    for event in events.get_ref() {
        if event.get_ref().trim().is_empty() {
            report.add(
                event.span(),
                format!(
                    "`events` in {} holds an empty name; remove it",
                    section.label()
                ),
            );
        }
    }
}

/// A JSON pointer is empty or starts with `/`.
fn check_json_pointer(report: &mut Report, section: &Section<'_, '_>, pointer: &Spanned<String>) {
    let p = pointer.get_ref();
    if !p.is_empty() && !p.starts_with('/') {
        report.add(
            pointer.span(),
            format!(
                "`json_pointer` in {} must start with `/`, e.g. `\"/state/temperature\"`",
                section.label()
            ),
        );
    }
}

/// With `raw`, the whole payload is the data of the source's one event name,
/// so `events` must name exactly one.
fn check_raw_has_one_event(
    report: &mut Report,
    section: &Section<'_, '_>,
    source_type: &SourceType,
    format: Option<&Spanned<FormatKind>>,
    events: Option<&Spanned<Vec<Spanned<String>>>>,
) {
    let count = events.map(|e| e.get_ref().len());
    if count == Some(1) {
        return;
    }
    let why = match format {
        Some(_) => "format `raw`".to_string(),
        None => format!("format `raw` (the default for `{}`)", source_type.name),
    };
    let span = events
        .map(Spanned::span)
        .or_else(|| format.map(Spanned::span))
        .unwrap_or_else(|| section.span());
    let found = match count {
        None => "there is no `events`".to_string(),
        Some(n) => format!("it holds {n}"),
    };
    report.add(
        span,
        format!(
            "{} uses {why}, where the whole payload is the data of one event, \
             so `events` must hold exactly one name ({found}); \
             write e.g. `events = [\"temperature\"]`, or choose another `format`",
            section.label(),
        ),
    );
}

/// A network URL checked against the schemes its type speaks; `None` (and
/// reported) when it is missing or does not fit.
pub(crate) fn read_url(
    report: &mut Report,
    section: &Section<'_, '_>,
    type_name: &str,
    schemes: &[&str],
    example: &str,
) -> Option<String> {
    let text = section.required_string(report, "url", example)?;
    let raw = text.get_ref().trim();
    let with_schemes: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    let with_schemes: Vec<&str> = with_schemes.iter().map(String::as_str).collect();
    match url::Url::parse(raw) {
        Err(e) => {
            report.add(
                text.span(),
                format!(
                    "`url` in {} is not a URL ({e}); write it like {example}",
                    section.label()
                ),
            );
            None
        }
        Ok(url) if !schemes.contains(&url.scheme()) => {
            report.add(
                text.span(),
                format!(
                    "`url` in {} starts with `{}:`, but `{type_name}` sources need a {} URL; \
                     write it like {example}",
                    section.label(),
                    url.scheme(),
                    one_of(&with_schemes)
                ),
            );
            None
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            report.add(
                text.span(),
                format!(
                    "`url` in {} has no host; write it like {example}",
                    section.label()
                ),
            );
            None
        }
        Ok(_) => Some(raw.to_string()),
    }
}

/// When a connected source (`sse`, `websocket`, `mqtt`) tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// `reconnect`: the delay before reconnecting after a connection that
    /// worked ended, as the XTension plugin does (an SSE server's `retry:`
    /// wins). Default `"1s"`.
    pub reconnect: Duration,
    /// `max_backoff`: the cap of the delay between consecutive failed tries,
    /// which doubles (with jitter) from `reconnect`. Default `"30s"`.
    pub max_backoff: Duration,
}

/// Reconnect delay of a source that sets none, as the XTension plugin does.
pub const DEFAULT_RECONNECT: Duration = Duration::from_secs(1);

/// Back-off cap of a source that sets none.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            reconnect: DEFAULT_RECONNECT,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }
}

impl ReconnectConfig {
    /// Reads `reconnect` and `max_backoff`, each longer than zero.
    pub(crate) fn read(report: &mut Report, section: &Section<'_, '_>) -> Option<Self> {
        let reconnect = section.duration(report, "reconnect", false);
        let reconnect = optional(section, "reconnect", reconnect);
        let max_backoff = section.duration(report, "max_backoff", false);
        let max_backoff = optional(section, "max_backoff", max_backoff);
        Some(ReconnectConfig {
            reconnect: reconnect?.unwrap_or(DEFAULT_RECONNECT),
            max_backoff: max_backoff?.unwrap_or(DEFAULT_MAX_BACKOFF),
        })
    }

    /// A fresh back-off for one run of the source.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(self.reconnect, self.max_backoff)
    }
}

/// An optional key as read by a [`Section`] method: `Some(None)` when
/// absent, `None` when written wrong (and reported).
pub(crate) fn optional<T>(
    section: &Section<'_, '_>,
    key: &str,
    read: Option<Spanned<T>>,
) -> Option<Option<T>> {
    match read {
        Some(value) => Some(Some(value.into_inner())),
        None if section.value(key).is_some() => None,
        None => Some(None),
    }
}
