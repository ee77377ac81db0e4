//! Building each section of the config from its table, with the rules that
//! concern one section only (a source's URL fits its type, `raw` has one
//! event name, …). Rules across sections live in `load.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::read::{Env, Section};
use super::report::{Report, one_of};
use super::{
    AuthConfig, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_EVENT_SIZE, DEFAULT_RECONNECT, FormatKind, Method,
    Secret, ServerConfig, SourceConfig, SourceType, Synchronous, UnitConfig,
};
use crate::units::{UnitKind, default_entity_id};

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

/// Keys of `[auth]`.
pub(super) const AUTH_KEYS: &[&str] = &["api_keys", "jwt_secret"];

/// Keys of `[[source]]` (`path` is another name for `url`).
pub(super) const SOURCE_KEYS: &[&str] = &[
    "name",
    "type",
    "url",
    "path",
    "method",
    "body",
    "headers",
    "events",
    "reconnect",
    "max_backoff",
    "interval",
    "timeout",
    "credentials",
    "format",
    "json_pointer",
    "create_units",
    "topics",
    "username",
    "password",
    "max_event_size",
];

/// Keys of `[[unit]]`.
pub(super) const UNIT_KEYS: &[&str] = &[
    "address",
    "entity_id",
    "kind",
    "name",
    "unit_of_measurement",
];

/// Poll interval of a `fetch` source that sets none.
pub const DEFAULT_FETCH_INTERVAL: Duration = Duration::from_secs(5);

/// Poll interval of a `file` source that sets none (changes are also noticed
/// as they happen, so this is only the fallback).
pub const DEFAULT_FILE_INTERVAL: Duration = Duration::from_secs(1);

const SOURCE_TYPES: &[(&str, SourceType)] = &[
    ("sse", SourceType::Sse),
    ("websocket", SourceType::Websocket),
    ("fetch", SourceType::Fetch),
    ("file", SourceType::File),
    ("mqtt", SourceType::Mqtt),
];

const FORMATS: &[(&str, FormatKind)] = &[
    ("xtension", FormatKind::Xtension),
    ("raw", FormatKind::Raw),
    ("file-kv", FormatKind::FileKv),
    ("json", FormatKind::Json),
    ("deconz", FormatKind::Deconz),
    ("home-assistant", FormatKind::HomeAssistant),
    ("esphome", FormatKind::Esphome),
];

const METHODS: &[(&str, Method)] = &[("GET", Method::GET), ("POST", Method::POST)];

const UNIT_KINDS: &[(&str, UnitKind)] = &[
    ("switch", UnitKind::Switch),
    ("dimmer", UnitKind::Dimmer),
    ("sensor", UnitKind::Sensor),
];

const CREDENTIALS: &[(&str, &str)] = &[
    ("include", "include"),
    ("omit", "omit"),
    ("same-origin", "same-origin"),
];

/// `[server]`, with the span of `listen` for the rule about `[auth]`.
pub(super) fn server(
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

/// `[auth]`.
pub(super) fn auth(report: &mut Report, section: &Section<'_, '_>, env: Env<'_>) -> AuthConfig {
    let mut auth = AuthConfig::default();
    if let Some(keys) = section.secrets(report, "api_keys", env) {
        for key in &keys {
            if key.get_ref().expose().is_empty() {
                report.add(
                    key.span(),
                    "an empty key in `api_keys` of [auth] would let anyone in; remove it or give it a value",
                );
            }
        }
        auth.api_keys = keys.into_iter().map(Spanned::into_inner).collect();
    }
    if let Some(secret) = section.secret(report, "jwt_secret", env) {
        if secret.expose().is_empty()
            && let Some(v) = section.value("jwt_secret")
        {
            report.add(
                v.span(),
                "`jwt_secret` in [auth] is empty; give it a long random value or remove it",
            );
        }
        auth.jwt_secret = Some(secret);
    }
    let any_present = section.value("api_keys").is_some() || section.value("jwt_secret").is_some();
    if !any_present {
        report.add(
            section.span(),
            "[auth] has neither `api_keys` nor `jwt_secret`, so no client could connect; \
             add `api_keys = [\"env:HOMEBUS_API_KEY\"]`, or remove [auth] to stay open on loopback",
        );
    }
    auth
}

/// What one `[[source]]` yields: its config when it is valid, and its name
/// for the check that names are unique.
pub(super) struct BuiltSource {
    /// The source, if nothing in its own table was wrong.
    pub(super) config: Option<SourceConfig>,
    /// The name as written.
    pub(super) name: Option<Spanned<String>>,
}

/// One `[[source]]`.
pub(super) fn source(
    report: &mut Report,
    section: &Section<'_, '_>,
    env: Env<'_>,
    config_dir: &Path,
) -> BuiltSource {
    let before = report.len();
    let name = section.required_string(report, "name", "\"camera\"");
    let kind = match section.value("type") {
        None => {
            section.missing(report, "type", "\"sse\"");
            None
        }
        Some(_) => section.choice(report, "type", SOURCE_TYPES),
    };
    let url = source_url(
        report,
        section,
        kind.as_ref().map(|k| *k.get_ref()),
        config_dir,
    );
    let method = section.choice(report, "method", METHODS);
    let body = section.string(report, "body");
    let headers = section.secret_table(report, "headers", env);
    let events = section.strings(report, "events");
    let reconnect = section.duration(report, "reconnect", false);
    let max_backoff = section.duration(report, "max_backoff", false);
    let interval = section.duration(report, "interval", false);
    let timeout = section.duration(report, "timeout", false);
    let credentials = section.choice(report, "credentials", CREDENTIALS);
    let format = section.choice(report, "format", FORMATS);
    let json_pointer = section.string(report, "json_pointer");
    let create_units = section.bool(report, "create_units");
    let topics = section.strings(report, "topics");
    let username = section.string(report, "username");
    let password = section.secret(report, "password", env);
    let max_event_size = section.integer(report, "max_event_size", 1..=i64::MAX);

    if let Some(headers) = &headers {
        check_headers(report, section, headers);
    }
    if let Some(events) = &events {
        check_events(report, section, events);
    }
    if let Some(pointer) = &json_pointer {
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
    if let Some(kind) = &kind {
        let kind = *kind.get_ref();
        for (key, types) in TYPE_ONLY_KEYS {
            only_for(report, section, kind, key, types);
        }
        if kind == SourceType::Mqtt {
            match &topics {
                None if section.value("topics").is_none() => {
                    section.missing(report, "topics", "[\"home/#\"]")
                }
                Some(topics) if topics.get_ref().is_empty() => report.add(
                    topics.span(),
                    format!(
                        "`topics` in {} is empty, so nothing would arrive; \
                         list topics such as `\"home/#\"`",
                        section.label()
                    ),
                ),
                _ => {}
            }
        }
        let format_in_force = format
            .as_ref()
            .map_or(kind.default_format(), |f| *f.get_ref());
        if format_in_force == FormatKind::Raw {
            check_raw_has_one_event(report, section, kind, format.as_ref(), events.as_ref());
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
    let method_value = method.as_ref().map_or(Method::GET, |m| *m.get_ref());
    if method_value == Method::GET
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
    }

    let name_text = name.as_ref().map(|n| n.get_ref().clone());
    if report.len() > before {
        return BuiltSource { config: None, name };
    }
    let (Some(name_text), Some(kind), Some(url)) = (name_text, kind, url) else {
        return BuiltSource { config: None, name };
    };
    let kind = kind.into_inner();
    let interval = interval.map(Spanned::into_inner).or(match kind {
        SourceType::Fetch => Some(DEFAULT_FETCH_INTERVAL),
        SourceType::File => Some(DEFAULT_FILE_INTERVAL),
        _ => None,
    });
    let config = SourceConfig {
        name: name_text,
        kind,
        url,
        method: method_value,
        body: body.map(Spanned::into_inner),
        headers: headers
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v))
            .collect::<BTreeMap<_, _>>(),
        events: events.map(|e| {
            e.into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect()
        }),
        reconnect: reconnect.map_or(DEFAULT_RECONNECT, Spanned::into_inner),
        max_backoff: max_backoff.map_or(DEFAULT_MAX_BACKOFF, Spanned::into_inner),
        interval,
        timeout: timeout.map(Spanned::into_inner),
        credentials: credentials.map(|c| c.get_ref().to_string()),
        format: format.map(Spanned::into_inner),
        json_pointer: json_pointer.map(Spanned::into_inner),
        create_units: create_units.unwrap_or(false),
        topics: topics
            .map(|t| {
                t.into_inner()
                    .into_iter()
                    .map(Spanned::into_inner)
                    .collect()
            })
            .unwrap_or_default(),
        username: username.map(Spanned::into_inner),
        password,
        max_event_size: max_event_size.map_or(DEFAULT_MAX_EVENT_SIZE, |n| {
            usize::try_from(*n.get_ref()).unwrap_or(usize::MAX)
        }),
    };
    BuiltSource {
        config: Some(config),
        name,
    }
}

/// Source keys that only some types read; set on another type they would be
/// silently ignored, so they are refused.
const TYPE_ONLY_KEYS: &[(&str, &[SourceType])] = &[
    ("method", &[SourceType::Sse, SourceType::Fetch]),
    ("body", &[SourceType::Sse, SourceType::Fetch]),
    ("credentials", &[SourceType::Sse, SourceType::Fetch]),
    (
        "headers",
        &[SourceType::Sse, SourceType::Fetch, SourceType::Websocket],
    ),
    (
        "interval",
        &[SourceType::Fetch, SourceType::File, SourceType::Websocket],
    ),
    ("topics", &[SourceType::Mqtt]),
    ("username", &[SourceType::Mqtt]),
    ("password", &[SourceType::Mqtt]),
];

/// Header names and values must be sendable, or every request would fail.
fn check_headers(
    report: &mut Report,
    section: &Section<'_, '_>,
    headers: &[(Spanned<String>, Secret)],
) {
    for (name, value) in headers {
        if reqwest::header::HeaderName::from_bytes(name.get_ref().as_bytes()).is_err() {
            report.add(
                name.span(),
                format!(
                    "`{}` in `headers` of {} is not a valid header name; \
                     use letters, digits and `-`, e.g. `Authorization`",
                    name.get_ref(),
                    section.label()
                ),
            );
        } else if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
            report.add(
                name.span(),
                format!(
                    "the value of header `{}` in {} holds a line break or control \
                     character; write it on one line",
                    name.get_ref(),
                    section.label()
                ),
            );
        }
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

/// With `raw`, the whole payload is the data of the source's one event name,
/// so `events` must name exactly one.
fn check_raw_has_one_event(
    report: &mut Report,
    section: &Section<'_, '_>,
    kind: SourceType,
    format: Option<&Spanned<FormatKind>>,
    events: Option<&Spanned<Vec<Spanned<String>>>>,
) {
    let count = events.map(|e| e.get_ref().len());
    if count == Some(1) {
        return;
    }
    let why = match format {
        Some(_) => "format `raw`".to_string(),
        None => format!("format `raw` (the default for `{}`)", kind.as_str()),
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

/// Reports `key` when it is set on a source type that would ignore it.
fn only_for(
    report: &mut Report,
    section: &Section<'_, '_>,
    kind: SourceType,
    key: &str,
    types: &[SourceType],
) {
    if types.contains(&kind) {
        return;
    }
    if let Some(span) = section.key_span(key) {
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        report.add(
            span,
            format!(
                "`{key}` in {} only applies to {} sources, not `{}`; remove it",
                section.label(),
                one_of(&names),
                kind.as_str()
            ),
        );
    }
}

/// The URL checked against the source type; for `file`, the absolute path.
fn source_url(
    report: &mut Report,
    section: &Section<'_, '_>,
    kind: Option<SourceType>,
    config_dir: &Path,
) -> Option<String> {
    let key = match (section.value("url"), section.value("path")) {
        (Some(_), Some(_)) => {
            if let Some(span) = section.key_span("path") {
                report.add(
                    span,
                    format!(
                        "{} has both `url` and `path`, which mean the same; keep one",
                        section.label()
                    ),
                );
            }
            return None;
        }
        (None, Some(_)) => "path",
        _ => "url",
    };
    let example = match kind {
        Some(SourceType::Websocket) => "\"ws://host:8088/\"",
        Some(SourceType::Mqtt) => "\"mqtt://host:1883\"",
        Some(SourceType::File) => "\"events.txt\"",
        _ => "\"https://host/events\"",
    };
    let text = section.required_string(report, key, example)?;
    let kind = kind?;
    let raw = text.get_ref().trim();
    if kind == SourceType::File {
        return file_path(report, section, key, &text, config_dir);
    }
    let schemes: &[&str] = match kind {
        SourceType::Sse | SourceType::Fetch => &["http", "https"],
        SourceType::Websocket => &["ws", "wss"],
        SourceType::Mqtt => &["mqtt", "mqtts", "tcp", "ssl"],
        SourceType::File => &[],
        // Only `--demo` adds a demo source; a config file cannot name it.
        SourceType::Demo => &["demo"],
    };
    let with_schemes: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    let with_schemes: Vec<&str> = with_schemes.iter().map(String::as_str).collect();
    match url::Url::parse(raw) {
        Err(e) => {
            report.add(
                text.span(),
                format!(
                    "`{key}` in {} is not a URL ({e}); write it like {example}",
                    section.label()
                ),
            );
            None
        }
        Ok(url) if !schemes.contains(&url.scheme()) => {
            report.add(
                text.span(),
                format!(
                    "`{key}` in {} starts with `{}:`, but `{}` sources need a {} URL; \
                     write it like {example}",
                    section.label(),
                    url.scheme(),
                    kind.as_str(),
                    one_of(&with_schemes)
                ),
            );
            None
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            report.add(
                text.span(),
                format!(
                    "`{key}` in {} has no host; write it like {example}",
                    section.label()
                ),
            );
            None
        }
        Ok(_) => Some(raw.to_string()),
    }
}

/// A `file` source's location as an absolute path: `file:///abs`, an
/// absolute path, or a path relative to the config file's directory.
fn file_path(
    report: &mut Report,
    section: &Section<'_, '_>,
    key: &str,
    text: &Spanned<String>,
    config_dir: &Path,
) -> Option<String> {
    let raw = text.get_ref().trim();
    let path: PathBuf = if raw.starts_with("file:") {
        let path = url::Url::parse(raw)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .filter(|p| p.is_absolute());
        match path {
            Some(p) => p,
            None => {
                report.add(
                    text.span(),
                    format!(
                        "`{key}` in {} is not a file URL with an absolute path; \
                         write `file:///absolute/path`, an absolute path, \
                         or a path relative to the config file",
                        section.label()
                    ),
                );
                return None;
            }
        }
    } else if raw.contains("://") {
        report.add(
            text.span(),
            format!(
                "`{key}` in {} is a network URL, but a `file` source reads a local file; \
                 write `file:///absolute/path`, an absolute path, or a path relative to \
                 the config file (or change `type`)",
                section.label()
            ),
        );
        return None;
    } else {
        config_dir.join(raw)
    };
    Some(absolute(&path).to_string_lossy().into_owned())
}

/// `path` made absolute against the working directory, without touching the
/// file system otherwise (the file may not exist yet).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What one `[[unit]]` yields: its config when valid, and what the
/// uniqueness checks need.
pub(super) struct BuiltUnit {
    /// The unit, if nothing in its own table was wrong.
    pub(super) config: Option<UnitConfig>,
    /// The address as written.
    pub(super) address: Option<Spanned<String>>,
    /// The entity id in force and where to point: the `entity_id` value, or
    /// the address when the id is derived from it.
    pub(super) entity_id: Option<(String, Range<usize>, bool)>,
}

/// One `[[unit]]`.
pub(super) fn unit(report: &mut Report, section: &Section<'_, '_>) -> BuiltUnit {
    let before = report.len();
    let address = section.required_string(report, "address", "\"MOTION\"");
    let kind = match section.value("kind") {
        None => {
            section.missing(report, "kind", "\"switch\"");
            None
        }
        Some(_) => section.choice(report, "kind", UNIT_KINDS),
    };
    let entity_id = section.string(report, "entity_id");
    let name = section.string(report, "name");
    let unit_of_measurement = section.string(report, "unit_of_measurement");

    if let Some(id) = &entity_id
        && !is_entity_id(id.get_ref())
    {
        report.add(
            id.span(),
            format!(
                "`entity_id` in {} is `{}`; an entity id is `<domain>.<name>` in lower-case \
                     letters, digits and `_`, e.g. `binary_sensor.hall_motion`",
                section.label(),
                id.get_ref()
            ),
        );
    }
    let effective_id = match (&entity_id, &kind, &address) {
        (Some(id), _, _) => Some((id.get_ref().clone(), id.span(), true)),
        (None, Some(kind), Some(address)) => Some((
            default_entity_id(*kind.get_ref(), address.get_ref()),
            address.span(),
            false,
        )),
        _ => None,
    };
    let valid = report.len() == before;
    let config = match (&address, &kind) {
        (Some(address), Some(kind)) if valid => Some(UnitConfig {
            address: address.get_ref().clone(),
            entity_id: entity_id.map(Spanned::into_inner),
            kind: *kind.get_ref(),
            name: name.map(Spanned::into_inner),
            unit_of_measurement: unit_of_measurement.map(Spanned::into_inner),
        }),
        _ => None,
    };
    BuiltUnit {
        config,
        address,
        entity_id: effective_id,
    }
}

/// Home Assistant's form: `<domain>.<object id>`, lower-case ASCII letters,
/// digits and `_`.
fn is_entity_id(id: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    matches!(id.split_once('.'), Some((domain, object)) if part_ok(domain) && part_ok(object))
}
