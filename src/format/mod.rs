//! Formats: pure functions from a source's payload to `(event name, data)`
//! pairs, shared by every transport.
//!
//! A format may rewrite a payload into a JSON object the interpreter reads
//! (`on`, `state`, `value` members), so device-specific knowledge stays here
//! and out of the socket loops and the unit rules.

use crate::config::{FormatKind, SourceConfig};

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

/// One decoded event: its name and its data (`None` = no data).
pub type Decoded = (String, Option<String>);

/// Turns one payload into events. `name` is the transport's event name
/// (the SSE `event:` field, an MQTT topic); `data` is the payload.
pub fn decode(
    config: &SourceConfig,
    name: &str,
    data: Option<&str>,
) -> Result<Vec<Decoded>, FormatError> {
    match config.format() {
        FormatKind::Xtension => Ok(vec![(name.to_string(), data.map(str::to_string))]),
        FormatKind::Raw => {
            let name = config
                .events
                .as_ref()
                .and_then(|events| events.first())
                .map_or(name, String::as_str);
            Ok(vec![(name.to_string(), data.map(str::to_string))])
        }
        other => Err(FormatError::Unavailable {
            source_name: config.name.clone(),
            format: format!("{other:?}"),
        }),
    }
}

/// The first 60 characters of a payload, for error messages.
pub fn excerpt(payload: &str) -> String {
    let mut out: String = payload.chars().take(60).collect();
    if out.len() < payload.len() {
        out.push('…');
    }
    out
}
