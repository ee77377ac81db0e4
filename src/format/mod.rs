//! Formats: pure functions from a source's payload to events, shared by
//! every transport.
//!
//! A format may rewrite a payload into a JSON object the interpreter reads
//! (`on`, `state`, `value` members), so device-specific knowledge stays here
//! and out of the socket loops and the unit rules.
//!
//! | format | payload | events |
//! | --- | --- | --- |
//! | `xtension` | SSE event name + data, MQTT topic + payload | as given |
//! | `raw` | anything | the source's single `events` name, the payload as data |
//! | `file-kv` | `event="t";data=21` pairs | one per `event` |
//! | `json` | a JSON value (`json_pointer` picks one) | the source's event name |
//! | `deconz` | deCONZ WebSocket messages | `sensors/12`, … |
//! | `home-assistant` | `state_changed` events | the entity id |
//! | `esphome` | ESPHome `/events` `state` events | the component id |
//!
//! `xtension` and `raw` are a line each, here; every other format has its
//! file (`file_kv.rs`, `json.rs`, `deconz.rs`, `home_assistant.rs`,
//! `esphome.rs`).

mod deconz;
mod esphome;
mod file_kv;
mod home_assistant;
mod json;

/// How a source's payload becomes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// SSE event name + data (default for `sse` and `mqtt`).
    Xtension,
    /// The whole payload is the data of the source's single event name
    /// (default for `websocket` and `fetch`).
    Raw,
    /// `event="name";data=value` pairs (default for `file`).
    FileKv,
    /// A JSON object becomes the attributes of the source's event name.
    Json,
    /// deCONZ WebSocket messages.
    Deconz,
    /// Home Assistant `state_changed` events.
    HomeAssistant,
    /// ESPHome `/events` stream.
    Esphome,
}

/// Every format by the name the config gives it.
pub const FORMATS: &[(&str, FormatKind)] = &[
    ("xtension", FormatKind::Xtension),
    ("raw", FormatKind::Raw),
    ("file-kv", FormatKind::FileKv),
    ("json", FormatKind::Json),
    ("deconz", FormatKind::Deconz),
    ("home-assistant", FormatKind::HomeAssistant),
    ("esphome", FormatKind::Esphome),
];

/// What a format needs to know of the source it reads for.
#[derive(Debug, Clone, Copy)]
pub struct Decoding<'a> {
    /// The source's name, for messages.
    pub source: &'a str,
    /// The format in force.
    pub format: FormatKind,
    /// The source's `events` whitelist; `raw` and `json` name their events
    /// after its single entry.
    pub events: Option<&'a [String]>,
    /// For `json`: the JSON pointer that picks one value.
    pub json_pointer: Option<&'a str>,
}

/// A payload that a format cannot read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// The format is not built into this homebus.
    #[error("source `{source_name}`: format `{format}` is not available in this build of homebus")]
    Unavailable {
        /// The source.
        source_name: String,
        /// The format asked for.
        format: String,
    },
    /// The payload is not what the format expects.
    #[error(
        "source `{source_name}`: cannot read payload as {format}: {reason} (payload starts `{excerpt}`)"
    )]
    Unreadable {
        /// The source.
        source_name: String,
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: String,
        /// The first few characters of the payload.
        excerpt: String,
    },
}

/// What a payload asks of the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// An event: its name and its data (`None` = no data).
    Event {
        /// Event name, matched against unit addresses.
        name: String,
        /// The data, read by the XTension rules.
        data: Option<String>,
    },
    /// The upstream system says this device is gone (deCONZ `deleted`, a
    /// Home Assistant entity removed): its unit is removed when the source
    /// may create units.
    Remove {
        /// The unit's address.
        address: String,
    },
}

impl Decoded {
    /// An event with this name and data.
    pub fn event(name: impl Into<String>, data: Option<String>) -> Self {
        Decoded::Event {
            name: name.into(),
            data,
        }
    }
}

/// Why a format refused a payload, before the source's name and the excerpt
/// are attached.
pub(crate) type Refusal = String;

/// Turns one payload into events. `name` is the transport's event name
/// (the SSE `event:` field, an MQTT topic, [`UNNAMED`] for WebSocket,
/// fetch and file); `data` is the payload. A payload that yields nothing to apply
/// (a keep-alive, an event type the format ignores) gives an empty list.
pub fn decode(
    config: &Decoding<'_>,
    name: &str,
    data: Option<&str>,
) -> Result<Vec<Decoded>, FormatError> {
    let kind = config.format;
    let payload = data.unwrap_or("");
    let result = match kind {
        FormatKind::Xtension => Ok(vec![Decoded::event(name, data.map(str::to_string))]),
        FormatKind::Raw => Ok(vec![Decoded::event(
            single_name(config, name),
            data.map(str::to_string),
        )]),
        FormatKind::FileKv => file_kv::decode(payload),
        FormatKind::Json => json::decode(json_name(config, name), payload, config.json_pointer),
        FormatKind::Deconz => deconz::decode(payload),
        FormatKind::HomeAssistant => home_assistant::decode(payload),
        FormatKind::Esphome => esphome::decode(name, payload),
    };
    result.map_err(|reason| FormatError::Unreadable {
        source_name: config.source.to_string(),
        format: format_name(kind),
        reason,
        excerpt: excerpt(payload),
    })
}

/// The event name of a payload whose transport has no names of its own
/// (a WebSocket message, a fetched body, a file; an SSE event without
/// `event:`), as the SSE standard calls such events.
pub const UNNAMED: &str = "message";

/// The name `raw` gives its events: the source's one `events` entry (the
/// dashboard convention; the config check requires exactly one), else the
/// transport's name.
fn single_name<'a>(config: &Decoding<'a>, name: &'a str) -> &'a str {
    match config.events {
        Some([only]) => only,
        _ => name,
    }
}

/// The name `json` gives its events: like `raw` for a payload without a
/// name, but an MQTT topic or SSE event name stays, so several topics can
/// carry JSON to several units.
fn json_name<'a>(config: &Decoding<'a>, name: &'a str) -> &'a str {
    if name == UNNAMED {
        single_name(config, name)
    } else {
        name
    }
}

/// The format's name as written in the config.
pub fn format_name(kind: FormatKind) -> &'static str {
    FORMATS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("?", |(name, _)| name)
}

/// The first 60 characters of a payload, for error messages.
pub fn excerpt(payload: &str) -> String {
    let mut out: String = payload.chars().take(60).collect();
    if out.len() < payload.len() {
        out.push('…');
    }
    out
}

/// A JSON value as event data: strings without their quotes, numbers and
/// booleans as written, objects and arrays as JSON text; `null` is no data.
pub(crate) fn json_as_data(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Test helper: the one event a decode yielded, with its data parsed as JSON.
    pub(crate) fn single_json_event(decoded: &[Decoded]) -> (String, serde_json::Value) {
        match decoded {
            [Decoded::Event { name, data }] => (
                name.clone(),
                serde_json::from_str(data.as_deref().expect("data")).expect("JSON data"),
            ),
            other => panic!("expected one event, got {other:?}"),
        }
    }

    /// How a source named `test` with this format and whitelist decodes.
    fn decoding<'a>(format: FormatKind, events: Option<&'a [String]>) -> Decoding<'a> {
        Decoding {
            source: "test",
            format,
            events,
            json_pointer: None,
        }
    }

    #[test]
    fn raw_gives_the_payload_to_the_single_event_name() {
        let events = ["temperature".to_string()];
        let config = decoding(FormatKind::Raw, Some(&events));
        assert_eq!(
            decode(&config, "message", Some("42")).unwrap(),
            vec![Decoded::event("temperature", Some("42".into()))]
        );
    }

    #[test]
    fn raw_without_events_keeps_the_transport_name() {
        let config = decoding(FormatKind::Raw, None);
        assert_eq!(
            decode(&config, "message", Some("x")).unwrap(),
            vec![Decoded::event("message", Some("x".into()))]
        );
    }

    #[test]
    fn json_keeps_an_mqtt_topic_as_the_name() {
        let events = ["home/a".to_string(), "home/b".to_string()];
        let config = decoding(FormatKind::Json, Some(&events));
        assert_eq!(
            decode(&config, "home/b", Some(r#"{"t":1}"#)).unwrap(),
            vec![Decoded::event("home/b", Some(r#"{"t":1}"#.into()))]
        );
    }

    #[test]
    fn json_without_a_transport_name_uses_the_single_event_name() {
        let events = ["weather".to_string()];
        let config = decoding(FormatKind::Json, Some(&events));
        assert_eq!(
            decode(&config, UNNAMED, Some("21")).unwrap(),
            vec![Decoded::event("weather", Some("21".into()))]
        );
    }

    #[test]
    fn xtension_keeps_name_and_data() {
        let config = decoding(FormatKind::Xtension, None);
        assert_eq!(
            decode(&config, "Motion", None).unwrap(),
            vec![Decoded::event("Motion", None)]
        );
    }

    #[test]
    fn xtension_takes_an_mqtt_topic_as_the_event_name() {
        let config = decoding(FormatKind::Xtension, None);
        assert_eq!(
            decode(&config, "home/temp", Some("21")).unwrap(),
            vec![Decoded::event("home/temp", Some("21".into()))]
        );
    }

    #[test]
    fn an_unreadable_payload_names_the_source_and_shows_an_excerpt() {
        let config = decoding(FormatKind::Deconz, None);
        let long = format!("not json {}", "x".repeat(200));
        let error = decode(&config, "message", Some(&long)).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("source `test`"), "{text}");
        assert!(text.contains("deconz"), "{text}");
        assert!(text.contains("not json xxx"), "{text}");
        assert!(text.len() < 300, "{text}");
    }

    #[test]
    fn excerpt_cuts_long_payloads_on_a_character_boundary() {
        let text = "é".repeat(100);
        let cut = excerpt(&text);
        assert_eq!(cut.chars().count(), 61);
        assert!(cut.ends_with('…'));
    }
}
