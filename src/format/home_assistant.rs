//! `home-assistant`: `state_changed` events from a Home Assistant
//! `/api/stream` (SSE: `{"event_type":"state_changed","data":{…}}`) or its
//! WebSocket API (`{"type":"event","event":{"event_type":…}}`), and the
//! flat `{"type":"state_changed","entity_id":…,"state":…}` shape of an MCP
//! `/subscribe_events` stream. The entity id is the event name; its state
//! and attributes become the data. Keep-alives (`ping`), other event types
//! and API replies give nothing.

use serde_json::{Map, Value};

use super::{Decoded, Refusal};

/// Reads one Home Assistant message.
pub(super) fn decode(payload: &str) -> Result<Vec<Decoded>, Refusal> {
    let trimmed = payload.trim();
    if trimmed.is_empty() || trimmed == "ping" {
        return Ok(Vec::new());
    }
    let message: Value =
        serde_json::from_str(trimmed).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(message) = message else {
        return Err("a Home Assistant event is a JSON object".into());
    };
    // The WebSocket API wraps the event; `/api/stream` sends it bare.
    let event = match message.get("event") {
        Some(Value::Object(event))
            if message.get("type").and_then(Value::as_str) == Some("event") =>
        {
            event
        }
        _ => &message,
    };
    if let Some(event_type) = event.get("event_type") {
        if event_type.as_str() != Some("state_changed") {
            return Ok(Vec::new());
        }
        let Some(Value::Object(data)) = event.get("data") else {
            return Err("a `state_changed` event without `data`".into());
        };
        let entity_id = entity_id(data)?;
        return Ok(match data.get("new_state") {
            Some(Value::Object(new_state)) => vec![state_event(entity_id, new_state)],
            Some(Value::Null) | None => vec![Decoded::Remove { address: entity_id }],
            Some(_) => return Err("`new_state` is not an object".into()),
        });
    }
    if message.get("type").and_then(Value::as_str) == Some("state_changed") {
        let entity_id = entity_id(&message)?;
        return Ok(vec![state_event(entity_id, &message)]);
    }
    Ok(Vec::new())
}

fn entity_id(data: &Map<String, Value>) -> Result<String, Refusal> {
    data.get("entity_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "a `state_changed` event without `entity_id`".into())
}

/// The entity's attributes plus its `state`, which the interpreter reads.
fn state_event(entity_id: String, state: &Map<String, Value>) -> Decoded {
    let mut data = match state.get("attributes") {
        Some(Value::Object(attributes)) => attributes.clone(),
        _ => Map::new(),
    };
    // Our units keep their own names and kinds; HA's are kept beside them.
    for key in ["friendly_name", "kind", "address"] {
        if let Some(value) = data.remove(key) {
            data.insert(format!("ha_{key}"), value);
        }
    }
    data.remove("on");
    data.remove("value");
    if let Some(value) = state.get("state") {
        data.insert("state".into(), value.clone());
    }
    Decoded::event(entity_id, Some(Value::Object(data).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(decoded: &[Decoded]) -> (String, Value) {
        match decoded {
            [Decoded::Event { name, data }] => (
                name.clone(),
                serde_json::from_str(data.as_deref().unwrap()).unwrap(),
            ),
            other => panic!("{other:?}"),
        }
    }

    const STREAM: &str = r#"{"event_type":"state_changed","data":{"entity_id":"sensor.outside","old_state":null,"new_state":{"entity_id":"sensor.outside","state":"12.5","attributes":{"unit_of_measurement":"°C","friendly_name":"Outside"},"last_changed":"2026-11-22T10:00:00+00:00"}},"origin":"LOCAL","time_fired":"2026-11-22T10:00:00+00:00"}"#;

    #[test]
    fn api_stream_state_changed_gives_the_entity_state_and_attributes() {
        let (name, value) = data(&decode(STREAM).unwrap());
        assert_eq!(name, "sensor.outside");
        assert_eq!(value["state"], "12.5");
        assert_eq!(value["unit_of_measurement"], "°C");
        assert_eq!(value["ha_friendly_name"], "Outside");
    }

    #[test]
    fn websocket_api_event_is_unwrapped() {
        let message = format!(r#"{{"id":18,"type":"event","event":{STREAM}}}"#);
        let (name, value) = data(&decode(&message).unwrap());
        assert_eq!(name, "sensor.outside");
        assert_eq!(value["state"], "12.5");
    }

    #[test]
    fn flat_subscribe_events_shape_is_read() {
        let (name, value) = data(
            &decode(r#"{"type":"state_changed","entity_id":"light.hall","state":"on","attributes":{"brightness":200}}"#)
                .unwrap(),
        );
        assert_eq!(name, "light.hall");
        assert_eq!(value["state"], "on");
        assert_eq!(value["brightness"], 200);
    }

    #[test]
    fn removed_entity_removes_the_unit() {
        assert_eq!(
            decode(r#"{"event_type":"state_changed","data":{"entity_id":"sensor.gone","old_state":{},"new_state":null}}"#)
                .unwrap(),
            vec![Decoded::Remove {
                address: "sensor.gone".into()
            }]
        );
    }

    #[test]
    fn pings_other_events_and_api_replies_give_nothing() {
        for payload in [
            "ping",
            r#"{"event_type":"call_service","data":{}}"#,
            r#"{"type":"auth_required","ha_version":"2026.11"}"#,
            r#"{"id":1,"type":"result","success":true,"result":null}"#,
        ] {
            assert_eq!(decode(payload).unwrap(), vec![], "{payload}");
        }
    }

    #[test]
    fn malformed_events_are_refused() {
        for payload in [
            "{",
            "42",
            r#"{"event_type":"state_changed"}"#,
            r#"{"event_type":"state_changed","data":{"new_state":{}}}"#,
            r#"{"event_type":"state_changed","data":{"entity_id":"a.b","new_state":3}}"#,
        ] {
            assert!(decode(payload).is_err(), "{payload}");
        }
    }
}
