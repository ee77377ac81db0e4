//! How a bus message becomes an `events` row and back, so a replay from the
//! store yields the same messages the live feed carried.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{CachedStatement, Row, params};

use crate::bus::{BusMessage, FiredEvent, StateChange};
use crate::event::Event;
use crate::units::EntityState;

/// `events.kind` of a state change.
pub const KIND_STATE: i64 = 0;
/// `events.kind` of a fired event.
pub const KIND_EVENT: i64 = 1;
/// `events.kind` of a received event that changed nothing.
pub const KIND_RECEIVED: i64 = 2;

/// The columns [`from_row`] reads, in order.
pub const COLUMNS: &str =
    "seq, kind, time, source, name, data, upstream_id, entity_id, old_state, new_state, remove";

/// `INSERT` for one message, matching [`insert`].
pub const INSERT: &str = "INSERT OR REPLACE INTO events (seq, kind, time, source, name, data, upstream_id, entity_id, old_state, new_state, remove) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// Microseconds since the Unix epoch: how times are stored.
pub fn micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The time stored as microseconds.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn state_json(state: &Option<EntityState>) -> Option<String> {
    state
        .as_ref()
        .map(|s| serde_json::to_string(s).expect("an entity state always serialises"))
}

/// Writes one message with the prepared [`INSERT`].
pub fn insert(stmt: &mut CachedStatement<'_>, message: &BusMessage) -> rusqlite::Result<usize> {
    let seq = message.seq() as i64;
    match message {
        BusMessage::State(change) => {
            let cause = change.cause.as_ref();
            stmt.execute(params![
                seq,
                KIND_STATE,
                micros(&change.time),
                cause.map(|c| &*c.source),
                cause.map(|c| c.name.as_str()),
                cause.and_then(|c| c.data.as_deref()),
                cause.and_then(|c| c.id.as_deref()),
                change.entity_id,
                state_json(&change.old),
                state_json(&change.new),
                cause.and_then(|c| c.remove.then_some(1)),
            ])
        }
        BusMessage::Event(fired) => stmt.execute(params![
            seq,
            KIND_EVENT,
            micros(&fired.time),
            Option::<&str>::None,
            fired.event_type,
            fired.data.to_string(),
            Option::<&str>::None,
            Option::<&str>::None,
            Option::<&str>::None,
            Option::<&str>::None,
            Option::<i64>::None,
        ]),
        BusMessage::Received(event) => stmt.execute(params![
            seq,
            KIND_RECEIVED,
            micros(&event.received_at),
            &*event.source,
            event.name,
            event.data.as_deref(),
            event.id.as_deref(),
            Option::<&str>::None,
            Option::<&str>::None,
            Option::<&str>::None,
            event.remove.then_some(1),
        ]),
    }
}

fn parse_state(text: Option<String>) -> rusqlite::Result<Option<EntityState>> {
    text.map(|t| serde_json::from_str(&t).map_err(json_error))
        .transpose()
}

fn json_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// The message a row selected with [`COLUMNS`] holds.
pub fn from_row(row: &Row<'_>) -> rusqlite::Result<BusMessage> {
    let seq = row.get::<_, i64>(0)? as u64;
    let kind: i64 = row.get(1)?;
    let time = from_micros(row.get(2)?);
    let source: Option<String> = row.get(3)?;
    let name: Option<String> = row.get(4)?;
    let data: Option<String> = row.get(5)?;
    let upstream_id: Option<String> = row.get(6)?;
    let remove = row.get::<_, Option<i64>>(10)?.is_some_and(|r| r != 0);
    let source_event = |source: String| Event {
        seq,
        source: Arc::from(source),
        name: name.clone().unwrap_or_default(),
        data: data.clone(),
        id: upstream_id.clone(),
        // The hub stamps a change with its cause's arrival time, so one
        // column serves both.
        received_at: time,
        remove,
        // Whether it ended its payload is not kept; it only mattered for
        // the source's resume point, which was written with it.
        ends_payload: true,
    };
    Ok(match kind {
        KIND_STATE => BusMessage::State(Box::new(StateChange {
            seq,
            entity_id: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            old: parse_state(row.get(8)?)?,
            new: parse_state(row.get(9)?)?,
            time,
            cause: source.map(source_event),
        })),
        KIND_EVENT => BusMessage::Event(FiredEvent {
            seq,
            event_type: name.clone().unwrap_or_default(),
            data: match data.as_deref() {
                Some(text) => serde_json::from_str(text).map_err(json_error)?,
                None => serde_json::Value::Null,
            },
            time,
        }),
        _ => BusMessage::Received(source_event(source.unwrap_or_default())),
    })
}
