//! What the HA WebSocket API sends: state objects with `context`, events
//! in HA's shape, and `subscribe_entities`' compressed states and diffs.
//!
//! An event's body is encoded once per bus message and cached in its
//! envelope; each subscriber only wraps it in its own prefix
//! ([`super::protocol::event`]).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::bus::{BusMessage, Envelope};
use crate::time::ha_timestamp;
use crate::units::EntityState;

/// Encoding slot of the HA WebSocket event body (`subscribe_events`).
/// The server's other shapes use slots 0–2 (`server::shapes`).
pub const SLOT_EVENT: usize = 6;
/// Encoding slot of the `subscribe_entities` change body.
pub const SLOT_ENTITIES: usize = 7;

/// HA's context: who or what caused a change. homebus keeps no contexts,
/// so a state's context id is derived from the state itself (the same in
/// `get_states`, events and `subscribe_entities`), in HA's ULID form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// A 26-character ULID.
    pub id: String,
    /// Always `null`: homebus does not chain contexts.
    pub parent_id: Option<String>,
    /// Always `null`: homebus has no users.
    pub user_id: Option<String>,
}

impl Context {
    /// The context of an entity's state as of its last update.
    pub fn of_state(state: &EntityState) -> Self {
        Self::from_parts(&state.last_updated, state.entity_id.as_bytes())
    }

    /// The context of a fired event.
    pub fn of_event(seq: u64, time: &DateTime<Utc>) -> Self {
        Self::from_parts(time, &seq.to_be_bytes())
    }

    /// A fresh context, for a service call.
    pub fn fresh() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        Self::from_parts(&Utc::now(), &call.to_be_bytes())
    }

    fn from_parts(time: &DateTime<Utc>, key: &[u8]) -> Self {
        let nanos = time.timestamp_subsec_nanos().to_be_bytes();
        let high = fnv1a(&[key, &nanos]);
        let low = fnv1a(&[&nanos, key, b"ulid"]);
        let random = (u128::from(high) << 16) | u128::from(low & 0xffff);
        Context {
            id: ulid(time.timestamp_millis().max(0) as u64, random),
            parent_id: None,
            user_id: None,
        }
    }
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A ULID: 48 bits of milliseconds and 80 bits of `random`, in Crockford's
/// base 32.
fn ulid(millis: u64, random: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let value = (u128::from(millis & 0xffff_ffff_ffff) << 80) | (random & ((1u128 << 80) - 1));
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// A state object as HA's WebSocket API sends it: `/api/states`' shape
/// plus `last_reported` and `context`.
#[derive(Debug, Serialize)]
pub struct HaState<'a> {
    entity_id: &'a str,
    state: &'a str,
    attributes: &'a Map<String, Value>,
    last_changed: String,
    last_reported: String,
    last_updated: String,
    context: Context,
}

impl<'a> HaState<'a> {
    /// The HA shape of `state`.
    pub fn new(state: &'a EntityState) -> Self {
        let last_updated = ha_timestamp(&state.last_updated);
        HaState {
            entity_id: &state.entity_id,
            state: &state.state,
            attributes: &state.attributes,
            last_changed: ha_timestamp(&state.last_changed),
            last_reported: last_updated.clone(),
            last_updated,
            context: Context::of_state(state),
        }
    }
}

#[derive(Serialize)]
struct HaEvent<'a, D: Serialize> {
    event_type: &'a str,
    data: D,
    origin: &'static str,
    time_fired: String,
    context: Context,
}

#[derive(Serialize)]
struct StateChangedData<'a> {
    entity_id: &'a str,
    old_state: Option<HaState<'a>>,
    new_state: Option<HaState<'a>>,
}

/// The event type a bus message is served under; `None` for messages
/// that are never served.
pub fn event_type(message: &BusMessage) -> Option<&str> {
    crate::server::shapes::event_type(message)
}

/// The `event` member of a `subscribe_events` frame, shared by every
/// subscriber.
pub fn event_body(envelope: &Envelope) -> Option<Bytes> {
    event_type(&envelope.message)?;
    Some(envelope.encoded(SLOT_EVENT, |message| match message {
        BusMessage::State(change) => {
            let context = change
                .new
                .as_ref()
                .or(change.old.as_ref())
                .map(Context::of_state)
                .unwrap_or_else(|| Context::of_event(change.seq, &change.time));
            to_bytes(&HaEvent {
                event_type: "state_changed",
                data: StateChangedData {
                    entity_id: &change.entity_id,
                    old_state: change.old.as_ref().map(HaState::new),
                    new_state: change.new.as_ref().map(HaState::new),
                },
                origin: "LOCAL",
                time_fired: ha_timestamp(&change.time),
                context,
            })
        }
        BusMessage::Event(event) => to_bytes(&HaEvent {
            event_type: &event.event_type,
            data: &event.data,
            origin: "LOCAL",
            time_fired: ha_timestamp(&event.time),
            context: Context::of_event(event.seq, &event.time),
        }),
        BusMessage::Received(_) => unreachable!("filtered above"),
    }))
}

/// Epoch seconds with microseconds, as HA's compressed states write times.
fn epoch_seconds(time: &DateTime<Utc>) -> f64 {
    time.timestamp_micros() as f64 / 1e6
}

/// One state in `subscribe_entities`' compressed form: `s`, `a`, `c`,
/// `lc`, and `lu` only when it differs from `lc`.
pub fn compressed(state: &EntityState) -> Value {
    let mut out = Map::new();
    out.insert("s".into(), Value::from(state.state.as_str()));
    out.insert("a".into(), Value::Object(state.attributes.clone()));
    out.insert("c".into(), Value::from(Context::of_state(state).id));
    out.insert("lc".into(), Value::from(epoch_seconds(&state.last_changed)));
    if state.last_updated != state.last_changed {
        out.insert("lu".into(), Value::from(epoch_seconds(&state.last_updated)));
    }
    Value::Object(out)
}

/// `{"a": {…}}`: the first `subscribe_entities` event, every state in
/// compressed form.
pub fn entities_added<'a>(states: impl IntoIterator<Item = &'a EntityState>) -> Value {
    let added: Map<String, Value> = states
        .into_iter()
        .map(|s| (s.entity_id.clone(), compressed(s)))
        .collect();
    serde_json::json!({ "a": added })
}

/// The `subscribe_entities` event for a state change, shared by every
/// subscriber: `a` for a unit that appeared, `r` for one that went, and
/// otherwise `c` with what was added or changed (`+`) and the attributes
/// that went (`-`), as HA's `_state_diff` writes it.
pub fn entities_body(envelope: &Envelope) -> Option<Bytes> {
    crate::server::shapes::state_change_encoded(envelope, SLOT_ENTITIES, |change| {
        let body = match (&change.old, &change.new) {
            (_, None) => serde_json::json!({ "r": [change.entity_id] }),
            (None, Some(new)) => entities_added([new]),
            (Some(old), Some(new)) => {
                serde_json::json!({ "c": { &change.entity_id: state_diff(old, new) } })
            }
        };
        to_bytes(&body)
    })
}

fn state_diff(old: &EntityState, new: &EntityState) -> Value {
    let mut added = Map::new();
    if old.state != new.state {
        added.insert("s".into(), Value::from(new.state.as_str()));
    }
    if old.last_changed != new.last_changed {
        added.insert("lc".into(), Value::from(epoch_seconds(&new.last_changed)));
    } else if old.last_updated != new.last_updated {
        added.insert("lu".into(), Value::from(epoch_seconds(&new.last_updated)));
    }
    let (old_context, new_context) = (Context::of_state(old), Context::of_state(new));
    if old_context.id != new_context.id {
        added.insert("c".into(), Value::from(new_context.id));
    }
    let changed: Map<String, Value> = new
        .attributes
        .iter()
        .filter(|(key, value)| old.attributes.get(*key) != Some(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !changed.is_empty() {
        added.insert("a".into(), Value::Object(changed));
    }
    let mut diff = Map::new();
    diff.insert("+".into(), Value::Object(added));
    let removed: Vec<Value> = old
        .attributes
        .keys()
        .filter(|key| !new.attributes.contains_key(*key))
        .map(|key| Value::from(key.as_str()))
        .collect();
    if !removed.is_empty() {
        diff.insert("-".into(), serde_json::json!({ "a": removed }));
    }
    Value::Object(diff)
}

fn to_bytes(value: &impl Serialize) -> Bytes {
    serde_json::to_vec(value)
        .expect("our shapes always serialise")
        .into()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::bus::{FiredEvent, StateChange};
    use crate::server::shapes as server_shapes;

    fn state(value: &str, changed: i64, updated: i64, attributes: Value) -> EntityState {
        EntityState {
            entity_id: "light.kitchen".into(),
            state: value.into(),
            attributes: attributes.as_object().unwrap().clone(),
            last_changed: Utc.timestamp_opt(changed, 500_000_000).unwrap(),
            last_updated: Utc.timestamp_opt(updated, 500_000_000).unwrap(),
        }
    }

    fn change(old: Option<EntityState>, new: Option<EntityState>) -> Envelope {
        Envelope::new(BusMessage::State(Box::new(StateChange {
            seq: 3,
            entity_id: "light.kitchen".into(),
            old,
            new,
            time: Utc::now(),
            cause: None,
        })))
    }

    fn body(envelope: &Envelope) -> Value {
        serde_json::from_slice(&entities_body(envelope).unwrap()).unwrap()
    }

    #[test]
    fn our_slots_are_not_the_server_shapes_slots() {
        for slot in [
            server_shapes::SLOT_HA_STREAM,
            server_shapes::SLOT_SUBSCRIBE_EVENTS,
            server_shapes::SLOT_DECONZ,
        ] {
            assert!(slot != SLOT_EVENT && slot != SLOT_ENTITIES);
        }
    }

    #[test]
    fn a_context_id_is_a_ulid_and_the_same_for_the_same_state() {
        let s = state("on", 100, 100, json!({}));
        let id = Context::of_state(&s).id;
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(id, Context::of_state(&s.clone()).id);
        assert_ne!(id, Context::fresh().id);
    }

    #[test]
    fn compressed_state_leaves_out_lu_when_equal_to_lc() {
        let same = compressed(&state("on", 100, 100, json!({"x": 1})));
        assert_eq!(same["s"], "on");
        assert_eq!(same["a"]["x"], 1);
        assert_eq!(same["lc"], 100.5);
        assert!(same.get("lu").is_none());
        assert!(same["c"].is_string());
        let later = compressed(&state("on", 100, 200, json!({})));
        assert_eq!(later["lu"], 200.5);
    }

    #[test]
    fn a_change_is_a_diff_with_added_and_removed_attributes() {
        let old = state("off", 100, 100, json!({"keep": 1, "gone": 2, "level": 3}));
        let new = state("on", 200, 200, json!({"keep": 1, "level": 4}));
        let diff = &body(&change(Some(old), Some(new)))["c"]["light.kitchen"];
        assert_eq!(diff["+"]["s"], "on");
        assert_eq!(diff["+"]["lc"], 200.5);
        assert!(diff["+"].get("lu").is_none());
        assert_eq!(diff["+"]["a"], json!({"level": 4}));
        assert_eq!(diff["-"], json!({"a": ["gone"]}));
    }

    #[test]
    fn an_update_without_a_state_change_sends_lu() {
        let old = state("on", 100, 100, json!({"level": 3}));
        let new = state("on", 100, 150, json!({"level": 4}));
        let diff = &body(&change(Some(old), Some(new)))["c"]["light.kitchen"];
        assert!(diff["+"].get("s").is_none());
        assert_eq!(diff["+"]["lu"], 150.5);
        assert!(diff.get("-").is_none());
    }

    #[test]
    fn a_new_unit_is_added_and_a_removed_one_is_r() {
        let new = state("on", 100, 100, json!({}));
        assert_eq!(
            body(&change(None, Some(new.clone())))["a"]["light.kitchen"]["s"],
            "on"
        );
        assert_eq!(
            body(&change(Some(new), None)),
            json!({"r": ["light.kitchen"]})
        );
    }

    #[test]
    fn a_state_changed_event_has_origin_time_fired_and_context() {
        let new = state("on", 100, 100, json!({}));
        let envelope = change(None, Some(new.clone()));
        let json: Value = serde_json::from_slice(&event_body(&envelope).unwrap()).unwrap();
        assert_eq!(json["event_type"], "state_changed");
        assert_eq!(json["origin"], "LOCAL");
        assert!(json["time_fired"].as_str().unwrap().ends_with("+00:00"));
        assert_eq!(json["context"]["id"], Context::of_state(&new).id);
        assert_eq!(
            json["data"]["new_state"]["context"]["id"],
            json["context"]["id"]
        );
        assert!(json["data"]["old_state"].is_null());
    }

    #[test]
    fn a_fired_event_keeps_its_type_and_data() {
        let envelope = Envelope::new(BusMessage::Event(FiredEvent {
            seq: 4,
            event_type: "doorbell".into(),
            data: json!({"x": 1}),
            time: Utc::now(),
        }));
        let json: Value = serde_json::from_slice(&event_body(&envelope).unwrap()).unwrap();
        assert_eq!(json["event_type"], "doorbell");
        assert_eq!(json["data"]["x"], 1);
        assert!(json["context"]["parent_id"].is_null());
        assert!(entities_body(&envelope).is_none());
    }
}
