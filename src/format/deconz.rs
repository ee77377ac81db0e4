//! `deconz`: the messages of a deCONZ (Phoscon) gateway's WebSocket.
//!
//! `{"t":"event","e":"changed","r":"sensors","id":"12","state":{…}}` drives
//! the unit at address `sensors/12`: the `state` and `config` members
//! become its attributes, `state.on` and `state.presence` its on/off state,
//! and `state.buttonevent` stays an attribute (each press changes it).
//! `added` carries the whole resource (`"sensor":{…}`) and `deleted` removes
//! the unit; both only matter to a source with `create_units`.

use serde_json::{Map, Value};

use super::{Decoded, Refusal};

/// Members that the interpreter reads as state: from `config` they mean
/// something else (a sensor's `config.on` is "enabled"), so they are renamed.
const STATE_MEMBERS: [&str; 3] = ["on", "state", "value"];

/// Reads one deCONZ message.
pub(super) fn decode(payload: &str) -> Result<Vec<Decoded>, Refusal> {
    let message: Value =
        serde_json::from_str(payload).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(message) = message else {
        return Err("a deCONZ message is a JSON object".into());
    };
    if message.get("t").and_then(Value::as_str) != Some("event") {
        return Ok(Vec::new());
    }
    let resource = text_member(&message, "r")?;
    let id = match message.get("id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err("an event without `id`".into()),
    };
    let address = format!("{resource}/{id}");
    match text_member(&message, "e")? {
        "changed" => {
            let data = attributes(&message);
            if data.is_empty() {
                // A name or attribute change (`attr`) carries no state.
                return Ok(Vec::new());
            }
            Ok(vec![Decoded::event(
                address,
                Some(Value::Object(data).to_string()),
            )])
        }
        "added" => {
            let singular = resource.strip_suffix('s').unwrap_or(resource);
            let body = match message.get(singular) {
                Some(Value::Object(body)) => body,
                _ => &message,
            };
            let mut data = attributes(body);
            if let Some(Value::String(name)) = body.get("name") {
                data.insert("deconz_name".into(), name.clone().into());
            }
            Ok(vec![Decoded::event(
                address,
                Some(Value::Object(data).to_string()),
            )])
        }
        "deleted" => Ok(vec![Decoded::Remove { address }]),
        _ => Ok(Vec::new()),
    }
}

fn text_member<'a>(message: &'a Map<String, Value>, key: &str) -> Result<&'a str, Refusal> {
    message
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("an event without `{key}`"))
}

/// `config` then `state` members in one object; `presence` is read as `on`.
fn attributes(body: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(config)) = body.get("config") {
        for (key, value) in config {
            let key = if STATE_MEMBERS.contains(&key.as_str()) {
                format!("config_{key}")
            } else {
                key.clone()
            };
            out.insert(key, value.clone());
        }
    }
    if let Some(Value::Object(state)) = body.get("state") {
        for (key, value) in state {
            out.insert(key.clone(), value.clone());
        }
        if !state.contains_key("on")
            && let Some(presence @ Value::Bool(_)) = state.get("presence")
        {
            out.insert("on".into(), presence.clone());
        }
    }
    out
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

    #[test]
    fn changed_sensor_state_addresses_resource_and_id() {
        let out = decode(
            r#"{"t":"event","e":"changed","r":"sensors","id":"12","state":{"buttonevent":1002,"lastupdated":"2026-11-22T10:00:00"}}"#,
        )
        .unwrap();
        let (name, value) = data(&out);
        assert_eq!(name, "sensors/12");
        assert_eq!(value["buttonevent"], 1002);
        assert_eq!(value["lastupdated"], "2026-11-22T10:00:00");
        assert!(value.get("on").is_none());
    }

    #[test]
    fn presence_is_read_as_on_and_off() {
        let out = decode(
            r#"{"t":"event","e":"changed","r":"sensors","id":"5","state":{"presence":true}}"#,
        )
        .unwrap();
        assert_eq!(data(&out).1["on"], true);
        let out = decode(
            r#"{"t":"event","e":"changed","r":"sensors","id":"5","state":{"presence":false}}"#,
        )
        .unwrap();
        assert_eq!(data(&out).1["on"], false);
    }

    #[test]
    fn light_state_on_is_kept_and_config_on_is_renamed() {
        let out = decode(
            r#"{"t":"event","e":"changed","r":"lights","id":"3","state":{"on":true,"bri":128},"config":{"on":false,"battery":90}}"#,
        )
        .unwrap();
        let (name, value) = data(&out);
        assert_eq!(name, "lights/3");
        assert_eq!(value["on"], true);
        assert_eq!(value["config_on"], false);
        assert_eq!(value["battery"], 90);
        assert_eq!(value["bri"], 128);
    }

    #[test]
    fn added_reads_the_embedded_resource() {
        let out = decode(
            r#"{"t":"event","e":"added","r":"sensors","id":"7","sensor":{"name":"Hall","state":{"presence":false},"config":{"battery":100}}}"#,
        )
        .unwrap();
        let (name, value) = data(&out);
        assert_eq!(name, "sensors/7");
        assert_eq!(value["on"], false);
        assert_eq!(value["deconz_name"], "Hall");
    }

    #[test]
    fn deleted_removes_the_unit() {
        assert_eq!(
            decode(r#"{"t":"event","e":"deleted","r":"sensors","id":"7"}"#).unwrap(),
            vec![Decoded::Remove {
                address: "sensors/7".into()
            }]
        );
    }

    #[test]
    fn attribute_only_and_non_event_messages_give_nothing() {
        assert_eq!(
            decode(r#"{"t":"event","e":"changed","r":"sensors","id":"1","attr":{"name":"x"}}"#)
                .unwrap(),
            vec![]
        );
        assert_eq!(decode(r#"{"t":"other"}"#).unwrap(), vec![]);
        assert_eq!(
            decode(
                r#"{"t":"event","e":"scene-called","r":"scenes","id":"1","gid":"2","scid":"3"}"#
            )
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn malformed_messages_are_refused() {
        for payload in [
            "",
            "not json",
            "[1]",
            r#"{"t":"event","e":"changed","id":"1","state":{}}"#,
            r#"{"t":"event","e":"changed","r":"sensors","state":{}}"#,
            r#"{"t":"event","r":"sensors","id":"1"}"#,
        ] {
            assert!(decode(payload).is_err(), "{payload:?}");
        }
    }
}
