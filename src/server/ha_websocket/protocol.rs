//! The HA WebSocket API's framing, pure: reading a client's frame into
//! commands, and writing results, errors and event frames as HA does.
//!
//! Nothing here touches a socket or the hub, so every rule of the framing
//! (ids strictly increasing, HA's error codes, when a frame ends the
//! connection) is tested without one.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

/// The Home Assistant version homebus answers as; clients gate features
/// on it, and 2025.1 has every command homebus speaks.
pub const HA_VERSION: &str = "2025.1.0";

/// HA's error codes, as they appear in `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// An id not greater than the last one on this connection.
    IdReuse,
    /// A frame that is not a command (no type, a mistyped member).
    InvalidFormat,
    /// A `type` homebus does not speak.
    UnknownCommand,
    /// An unknown entity, service or subscription.
    NotFound,
    /// The credential does not allow the command.
    Unauthorized,
    /// The command was understood but could not be carried out.
    HomeAssistantError,
}

impl ErrorCode {
    /// The code as HA writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::IdReuse => "id_reuse",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::HomeAssistantError => "home_assistant_error",
        }
    }
}

/// A refused command: HA's code and a sentence saying what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandError {
    /// HA's code.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

impl CommandError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

/// One command of a client's frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The client's id for it, echoed in the answer.
    pub id: u64,
    /// `type`, e.g. `get_states`.
    pub kind: String,
    /// Every member, `id` and `type` included.
    pub body: Map<String, Value>,
}

/// What one item of a client's frame turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A well-formed command with a fresh id.
    Command(Command),
    /// A command to answer with an error at once (its id, if it had one:
    /// `None` is answered with `"id": null`, as HA does).
    Refused(Option<u64>, CommandError),
}

/// Why a frame ends the connection: it was not JSON and carried no id to
/// answer to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the frame is not JSON ({0}) and has no id to answer to; send one JSON command a frame")]
pub struct Unreadable(pub String);

/// Reads one text frame after auth: a command, or a JSON array of them
/// (clients that coalesce send those). `last_id` is the connection's last
/// id and is advanced past every id read.
pub fn read_frame(text: &str, last_id: &mut u64) -> Result<Vec<Incoming>, Unreadable> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => {
            return match id_in_broken_json(text) {
                Some(id) => Ok(vec![Incoming::Refused(
                    Some(id),
                    CommandError::new(
                        ErrorCode::InvalidFormat,
                        format!("the message is not valid JSON: {error}"),
                    ),
                )]),
                None => Err(Unreadable(error.to_string())),
            };
        }
    };
    Ok(match value {
        Value::Array(items) => items.into_iter().map(|v| read_one(v, last_id)).collect(),
        other => vec![read_one(other, last_id)],
    })
}

fn read_one(value: Value, last_id: &mut u64) -> Incoming {
    let Value::Object(body) = value else {
        return Incoming::Refused(
            None,
            CommandError::new(
                ErrorCode::InvalidFormat,
                "Message incorrectly formatted: send a JSON object {\"id\": N, \"type\": …}",
            ),
        );
    };
    let id = body.get("id").and_then(Value::as_u64);
    let kind = body.get("type").and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(kind)) = (id, kind) else {
        return Incoming::Refused(
            id,
            CommandError::new(
                ErrorCode::InvalidFormat,
                "Message incorrectly formatted: a command needs a positive integer `id` and a \
                 string `type`",
            ),
        );
    };
    if id <= *last_id {
        return Incoming::Refused(
            Some(id),
            CommandError::new(
                ErrorCode::IdReuse,
                format!(
                    "Identifier values have to increase: {id} is not greater than the last id, \
                     {last_id}"
                ),
            ),
        );
    }
    *last_id = id;
    Incoming::Command(Command { id, kind, body })
}

/// The id of a frame that is not JSON, when one can still be seen
/// (`{"id": 7, "type": …` cut short): the client is told which command
/// failed instead of losing its connection.
fn id_in_broken_json(text: &str) -> Option<u64> {
    let at = text.find("\"id\"")?;
    let rest = text[at + 4..].trim_start().strip_prefix(':')?.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

/// `auth_required`, sent on connect.
pub fn auth_required() -> String {
    serde_json::json!({"type": "auth_required", "ha_version": HA_VERSION}).to_string()
}

/// `auth_ok`.
pub fn auth_ok() -> String {
    serde_json::json!({"type": "auth_ok", "ha_version": HA_VERSION}).to_string()
}

/// `auth_invalid`, before the connection closes.
pub fn auth_invalid(message: &str) -> String {
    serde_json::json!({"type": "auth_invalid", "message": message}).to_string()
}

/// A successful result.
pub fn result(id: u64, result: &impl Serialize) -> Bytes {
    #[derive(Serialize)]
    struct Success<'a, T> {
        id: u64,
        #[serde(rename = "type")]
        kind: &'static str,
        success: bool,
        result: &'a T,
    }
    to_bytes(&Success {
        id,
        kind: "result",
        success: true,
        result,
    })
}

/// A failed result.
pub fn error(id: Option<u64>, error: &CommandError) -> Bytes {
    serde_json::json!({
        "id": id,
        "type": "result",
        "success": false,
        "error": {"code": error.code.as_str(), "message": error.message},
    })
    .to_string()
    .into()
}

/// `pong` for a `ping`.
pub fn pong(id: u64) -> Bytes {
    format!(r#"{{"id":{id},"type":"pong"}}"#).into()
}

/// An event frame for subscription `id`: the per-subscription prefix
/// around `body`, the event's JSON encoded once and shared by every
/// subscriber.
pub fn event(id: u64, body: &[u8]) -> Bytes {
    const PREFIX: &[u8] = b"{\"id\":";
    const MIDDLE: &[u8] = b",\"type\":\"event\",\"event\":";
    let id = id.to_string();
    let mut out = Vec::with_capacity(PREFIX.len() + id.len() + MIDDLE.len() + body.len() + 1);
    out.extend_from_slice(PREFIX);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(MIDDLE);
    out.extend_from_slice(body);
    out.push(b'}');
    out.into()
}

/// Several messages as one JSON array frame (`coalesce_messages`).
pub fn coalesced(messages: &[Bytes]) -> Bytes {
    let size = messages.iter().map(Bytes::len).sum::<usize>() + messages.len() + 1;
    let mut out = Vec::with_capacity(size);
    out.push(b'[');
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(message);
    }
    out.push(b']');
    out.into()
}

fn to_bytes(value: &impl Serialize) -> Bytes {
    serde_json::to_vec(value)
        .expect("our messages always serialise")
        .into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(text: &str, last_id: &mut u64) -> Vec<Incoming> {
        read_frame(text, last_id).unwrap()
    }

    fn code(incoming: &Incoming) -> Option<ErrorCode> {
        match incoming {
            Incoming::Refused(_, error) => Some(error.code),
            Incoming::Command(_) => None,
        }
    }

    #[test]
    fn a_command_with_a_fresh_id_is_read_and_advances_the_id() {
        let mut last = 0;
        let items = read(r#"{"id":3,"type":"ping"}"#, &mut last);
        assert!(matches!(&items[0], Incoming::Command(c) if c.id == 3 && c.kind == "ping"));
        assert_eq!(last, 3);
    }

    #[test]
    fn an_id_not_greater_than_the_last_is_id_reuse() {
        let mut last = 5;
        assert_eq!(
            code(&read(r#"{"id":5,"type":"ping"}"#, &mut last)[0]),
            Some(ErrorCode::IdReuse)
        );
        assert_eq!(
            code(&read(r#"{"id":2,"type":"ping"}"#, &mut last)[0]),
            Some(ErrorCode::IdReuse)
        );
        assert_eq!(last, 5);
    }

    #[test]
    fn a_command_without_type_is_invalid_format_with_its_id() {
        let mut last = 0;
        let items = read(r#"{"id":1}"#, &mut last);
        assert!(
            matches!(&items[0], Incoming::Refused(Some(1), e) if e.code == ErrorCode::InvalidFormat)
        );
    }

    #[test]
    fn an_object_without_id_is_invalid_format_answered_to_null() {
        let mut last = 0;
        let items = read(r#"{"type":"ping"}"#, &mut last);
        assert!(
            matches!(&items[0], Incoming::Refused(None, e) if e.code == ErrorCode::InvalidFormat)
        );
    }

    #[test]
    fn broken_json_with_a_visible_id_is_invalid_format() {
        let mut last = 0;
        let items = read(r#"{"id": 7, "type": "ping""#, &mut last);
        assert!(
            matches!(&items[0], Incoming::Refused(Some(7), e) if e.code == ErrorCode::InvalidFormat)
        );
    }

    #[test]
    fn broken_json_without_an_id_ends_the_connection() {
        let mut last = 0;
        assert!(read_frame("not json at all", &mut last).is_err());
    }

    #[test]
    fn an_array_is_several_commands() {
        let mut last = 0;
        let items = read(
            r#"[{"id":1,"type":"ping"},{"id":2,"type":"ping"}]"#,
            &mut last,
        );
        assert_eq!(items.len(), 2);
        assert_eq!(last, 2);
    }

    #[test]
    fn an_event_frame_is_the_prefix_around_the_shared_body() {
        let frame = event(4, br#"{"a":{}}"#);
        let json: Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(json, json!({"id": 4, "type": "event", "event": {"a": {}}}));
    }

    #[test]
    fn results_and_errors_have_home_assistants_shape() {
        let ok: Value = serde_json::from_slice(&result(2, &Value::Null)).unwrap();
        assert_eq!(
            ok,
            json!({"id": 2, "type": "result", "success": true, "result": null})
        );
        let failed: Value = serde_json::from_slice(&error(
            Some(3),
            &CommandError::new(ErrorCode::NotFound, "no"),
        ))
        .unwrap();
        assert_eq!(failed["error"]["code"], "not_found");
        assert_eq!(failed["success"], false);
    }

    #[test]
    fn coalesced_messages_are_one_json_array() {
        let frame = coalesced(&[pong(1), pong(2)]);
        let json: Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
    }
}
