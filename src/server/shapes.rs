//! The output shapes clients speak, each encoded once per message and cached
//! in the message's [`Envelope`] so every subscriber writes the same bytes.
//!
//! Every shape owns one encoding slot; no two shapes may share one.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::sse_encode;
use crate::bus::{BusMessage, Envelope, FiredEvent, StateChange};
use crate::time::ha_timestamp;
use crate::units::{EntityState, UnitKind};

/// Encoding slot of the Home Assistant `/api/stream` SSE block.
pub const SLOT_HA_STREAM: usize = 0;
/// Encoding slot of the `/subscribe_events` SSE block.
pub const SLOT_SUBSCRIBE_EVENTS: usize = 1;
/// Encoding slot of the deCONZ WebSocket text message.
pub const SLOT_DECONZ: usize = 2;

/// The event type a message is served under (`state_changed` for state
/// changes); `None` for messages that are never served.
pub fn event_type(message: &BusMessage) -> Option<&str> {
    match message {
        BusMessage::State(_) => Some("state_changed"),
        BusMessage::Event(e) => Some(&e.event_type),
        BusMessage::Received(_) => None,
    }
}

/// The `/api/stream` SSE block: `id: seq` and Home Assistant's event JSON.
pub fn ha_stream(envelope: &Envelope) -> Option<Bytes> {
    event_type(&envelope.message)?;
    Some(envelope.encoded(SLOT_HA_STREAM, |message| {
        let json = match message {
            BusMessage::State(change) => to_json(&HaEvent {
                event_type: "state_changed",
                data: StateChangedData {
                    entity_id: &change.entity_id,
                    old_state: change.old.as_ref(),
                    new_state: change.new.as_ref(),
                },
                origin: "LOCAL",
                time_fired: ha_timestamp(&change.time),
            }),
            BusMessage::Event(event) => to_json(&HaEvent {
                event_type: &event.event_type,
                data: &event.data,
                origin: "LOCAL",
                time_fired: ha_timestamp(&event.time),
            }),
            BusMessage::Received(_) => unreachable!("filtered above"),
        };
        sse_encode::event(Some(message.seq()), None, &json)
    }))
}

/// The `/subscribe_events` SSE block: `id: seq` and a flat change object.
pub fn subscribe_events(envelope: &Envelope) -> Option<Bytes> {
    event_type(&envelope.message)?;
    Some(envelope.encoded(SLOT_SUBSCRIBE_EVENTS, |message| {
        let json = match message {
            BusMessage::State(change) => to_json(&flat_change(change)),
            BusMessage::Event(event) => to_json(&flat_event(event)),
            BusMessage::Received(_) => unreachable!("filtered above"),
        };
        sse_encode::event(Some(message.seq()), None, &json)
    }))
}

/// The deCONZ push message for a state change; fired events have none.
pub fn deconz(envelope: &Envelope) -> Option<Bytes> {
    state_change_encoded(envelope, SLOT_DECONZ, |change| {
        Bytes::from(to_json(&deconz_message(change)))
    })
}

/// A shape served for state changes only: `encode`'s bytes, made once in
/// `slot` and shared; `None` for any other message.
pub fn state_change_encoded(
    envelope: &Envelope,
    slot: usize,
    encode: impl FnOnce(&StateChange) -> Bytes,
) -> Option<Bytes> {
    let BusMessage::State(_) = &envelope.message else {
        return None;
    };
    Some(envelope.encoded(slot, |message| {
        let BusMessage::State(change) = message else {
            unreachable!("filtered above")
        };
        encode(change)
    }))
}

#[derive(Serialize)]
struct HaEvent<'a, D: Serialize> {
    event_type: &'a str,
    data: D,
    origin: &'static str,
    time_fired: String,
}

#[derive(Serialize)]
struct StateChangedData<'a> {
    entity_id: &'a str,
    old_state: Option<&'a EntityState>,
    new_state: Option<&'a EntityState>,
}

#[derive(Serialize)]
struct FlatChange<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    entity_id: &'a str,
    state: Option<&'a str>,
    attributes: Option<&'a Map<String, Value>>,
    old_state: Option<&'a str>,
    timestamp: String,
}

fn flat_change(change: &StateChange) -> FlatChange<'_> {
    FlatChange {
        kind: "state_changed",
        entity_id: &change.entity_id,
        state: change.new.as_ref().map(|s| s.state.as_str()),
        attributes: change.new.as_ref().map(|s| &s.attributes),
        old_state: change.old.as_ref().map(|s| s.state.as_str()),
        timestamp: ha_timestamp(&change.time),
    }
}

#[derive(Serialize)]
struct FlatEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a Value,
    timestamp: String,
}

fn flat_event(event: &FiredEvent) -> FlatEvent<'_> {
    FlatEvent {
        kind: &event.event_type,
        data: &event.data,
        timestamp: ha_timestamp(&event.time),
    }
}

#[derive(Serialize)]
struct DeconzMessage<'a> {
    t: &'static str,
    e: &'static str,
    r: &'static str,
    id: &'a str,
    uniqueid: &'a str,
    state: Map<String, Value>,
}

/// Attributes homebus adds itself; they describe the unit, not its state.
const UNIT_ATTRIBUTES: [&str; 4] = ["friendly_name", "address", "kind", "unit_of_measurement"];

fn deconz_message(change: &StateChange) -> DeconzMessage<'_> {
    let (e, current) = match (&change.old, &change.new) {
        (None, Some(new)) => ("added", new),
        (Some(old), None) => ("deleted", old),
        (_, Some(new)) => ("changed", new),
        (None, None) => unreachable!("a change has an old or a new state"),
    };
    let kind = current
        .attributes
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| serde_json::from_value::<UnitKind>(Value::from(k)).ok())
        .unwrap_or(UnitKind::Sensor);
    let address = current
        .attributes
        .get("address")
        .and_then(Value::as_str)
        .unwrap_or(&change.entity_id);
    let mut state: Map<String, Value> = current
        .attributes
        .iter()
        .filter(|(k, _)| !UNIT_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match kind {
        UnitKind::Switch | UnitKind::Dimmer => {
            state.insert("on".into(), Value::Bool(current.state == "on"));
        }
        UnitKind::Sensor => {
            state.insert("state".into(), Value::from(current.state.as_str()));
        }
    }
    state.insert(
        "lastupdated".into(),
        Value::from(
            current
                .last_updated
                .format("%Y-%m-%dT%H:%M:%S%.3f")
                .to_string(),
        ),
    );
    DeconzMessage {
        t: "event",
        e,
        r: kind.resource(),
        id: deconz_id(address, kind.resource()),
        uniqueid: &change.entity_id,
        state,
    }
}

/// A unit fed by a deCONZ source has the address `sensors/12`: its id is
/// `12`. Any other unit is known by its address.
fn deconz_id<'a>(address: &'a str, resource: &str) -> &'a str {
    address
        .split_once('/')
        .filter(|(r, _)| r.eq_ignore_ascii_case(resource))
        .map_or(address, |(_, id)| id)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("our shapes always serialise")
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::units::{Unit, UnitKind};

    fn change(kind: UnitKind, address: &str, old: bool, new: bool) -> BusMessage {
        let mut unit = Unit::new(address, kind, None, None);
        unit.apply(&crate::interpret::interpret(Some("on")), Utc::now());
        let state = unit.entity_state();
        BusMessage::State(Box::new(StateChange {
            seq: 5,
            entity_id: state.entity_id.clone(),
            old: old.then(|| state.clone()),
            new: new.then(|| state.clone()),
            time: Utc::now(),
            cause: None,
        }))
    }

    fn data_json(block: &Bytes) -> Value {
        let text = std::str::from_utf8(block).unwrap();
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn ha_stream_state_change_has_home_assistant_shape() {
        let envelope = Envelope::new(change(UnitKind::Switch, "Motion", true, true));
        let block = ha_stream(&envelope).unwrap();
        assert!(block.starts_with(b"id: 5\n"));
        let json = data_json(&block);
        assert_eq!(json["event_type"], "state_changed");
        assert_eq!(json["data"]["entity_id"], "switch.motion");
        assert_eq!(json["data"]["new_state"]["state"], "on");
        assert!(json["time_fired"].as_str().unwrap().ends_with("+00:00"));
    }

    #[test]
    fn encoding_is_made_once_and_shared() {
        let envelope = Envelope::new(change(UnitKind::Switch, "Motion", true, true));
        let a = ha_stream(&envelope).unwrap();
        let b = ha_stream(&envelope).unwrap();
        assert_eq!(a.as_ptr(), b.as_ptr());
    }

    #[test]
    fn received_source_events_are_not_served() {
        let event = crate::event::Event::new("cam".into(), "x", Some("hello".into()));
        let envelope = Envelope::new(BusMessage::Received(event));
        assert!(ha_stream(&envelope).is_none());
        assert!(subscribe_events(&envelope).is_none());
        assert!(deconz(&envelope).is_none());
    }

    #[test]
    fn subscribe_events_state_change_is_flat() {
        let envelope = Envelope::new(change(UnitKind::Sensor, "Temp", true, true));
        let json = data_json(&subscribe_events(&envelope).unwrap());
        assert_eq!(json["type"], "state_changed");
        assert_eq!(json["entity_id"], "sensor.temp");
        assert_eq!(json["attributes"]["kind"], "sensor");
        assert!(json["timestamp"].is_string());
    }

    #[test]
    fn fired_event_keeps_its_type_and_data() {
        let envelope = Envelope::new(BusMessage::Event(FiredEvent {
            seq: 9,
            event_type: "doorbell".into(),
            data: json!({"x": 1}),
            time: Utc::now(),
        }));
        let json = data_json(&ha_stream(&envelope).unwrap());
        assert_eq!(json["event_type"], "doorbell");
        assert_eq!(json["data"]["x"], 1);
        assert!(deconz(&envelope).is_none());
    }

    #[test]
    fn deconz_message_for_a_light_reports_on() {
        let envelope = Envelope::new(change(UnitKind::Dimmer, "Hall", true, true));
        let json: Value = serde_json::from_slice(&deconz(&envelope).unwrap()).unwrap();
        assert_eq!(json["t"], "event");
        assert_eq!(json["e"], "changed");
        assert_eq!(json["r"], "lights");
        assert_eq!(json["id"], "Hall");
        assert_eq!(json["state"]["on"], true);
    }

    #[test]
    fn deconz_sensor_address_gives_its_numeric_id() {
        let envelope = Envelope::new(change(UnitKind::Sensor, "sensors/12", false, true));
        let json: Value = serde_json::from_slice(&deconz(&envelope).unwrap()).unwrap();
        assert_eq!(json["e"], "added");
        assert_eq!(json["r"], "sensors");
        assert_eq!(json["id"], "12");
    }

    #[test]
    fn removed_unit_is_deleted() {
        let envelope = Envelope::new(change(UnitKind::Switch, "Motion", true, false));
        let json: Value = serde_json::from_slice(&deconz(&envelope).unwrap()).unwrap();
        assert_eq!(json["e"], "deleted");
    }
}
