//! `esphome`: the `/events` stream of an ESPHome device's web server.
//! `state` events carry `{"id":"sensor-temp","value":21.5,"state":"21.5 °C"}`
//! and drive the unit whose address is the `id`; `ping` and `log` events
//! give nothing.
//!
//! For a numeric `value` the number is the reading and ESPHome's formatted
//! `state` text (with its unit) is kept as the `display` attribute; for
//! switches and binary sensors (`"value":true,"state":"ON"`) the `state`
//! word is read as on/off.

use serde_json::{Map, Value};

use super::{Decoded, Refusal};

/// Reads one ESPHome event; `name` is the SSE event type.
pub(super) fn decode(name: &str, payload: &str) -> Result<Vec<Decoded>, Refusal> {
    if matches!(name, "ping" | "log") {
        return Ok(Vec::new());
    }
    let message: Value =
        serde_json::from_str(payload).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(mut message) = message else {
        return Err("an ESPHome `state` event is a JSON object".into());
    };
    let id = match message.remove("id") {
        Some(Value::String(id)) if !id.is_empty() => id,
        _ => return Err("a `state` event without `id`".into()),
    };
    let mut data = Map::new();
    let numeric = matches!(message.get("value"), Some(Value::Number(_)));
    for (key, value) in message {
        match key.as_str() {
            "state" if numeric => {
                data.insert("display".into(), value);
            }
            // A boolean `value` repeats the `state` word; a text one is the state.
            "value" if !numeric => {}
            _ => {
                data.insert(key, value);
            }
        }
    }
    Ok(vec![Decoded::event(
        id,
        Some(Value::Object(data).to_string()),
    )])
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
    fn sensor_state_sets_the_value_and_keeps_the_display_text() {
        let (name, value) = data(
            &decode(
                "state",
                r#"{"id":"sensor-temp","value":21.5,"state":"21.5 °C"}"#,
            )
            .unwrap(),
        );
        assert_eq!(name, "sensor-temp");
        assert_eq!(value["value"], 21.5);
        assert_eq!(value["display"], "21.5 °C");
        assert!(value.get("state").is_none());
    }

    #[test]
    fn binary_sensor_state_word_is_kept_for_on_off() {
        let (name, value) = data(
            &decode(
                "state",
                r#"{"id":"binary_sensor-motion","value":true,"state":"ON"}"#,
            )
            .unwrap(),
        );
        assert_eq!(name, "binary_sensor-motion");
        assert_eq!(value["state"], "ON");
        assert!(value.get("value").is_none());
    }

    #[test]
    fn text_sensor_state_is_its_text() {
        let (_, value) = data(
            &decode(
                "state",
                r#"{"id":"text_sensor-mode","value":"eco","state":"eco"}"#,
            )
            .unwrap(),
        );
        assert_eq!(value["state"], "eco");
    }

    #[test]
    fn ping_and_log_events_give_nothing() {
        assert_eq!(
            decode("ping", r#"{"title":"dev","ota":true}"#).unwrap(),
            vec![]
        );
        assert_eq!(decode("log", "[I][app]: hello").unwrap(), vec![]);
    }

    #[test]
    fn malformed_state_events_are_refused() {
        for payload in ["", "{", "21.5", r#"{"value":1}"#, r#"{"id":"","value":1}"#] {
            assert!(decode("state", payload).is_err(), "{payload:?}");
        }
    }
}
