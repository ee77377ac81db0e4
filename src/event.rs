//! The event: what every source produces, whatever its transport or format.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// One thing that happened at a source, before it is interpreted.
///
/// `name` is matched against unit addresses (ignoring ASCII case); `data` is
/// `None` when the event carried no data at all, which the XTension rules
/// read as "On".
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Global, strictly increasing number given when the hub accepts the
    /// event; 0 until then. A state change caused by this event carries the
    /// same number, and SSE clients resume from it.
    pub seq: u64,
    /// Name of the source (its `name` in the config) that produced it.
    pub source: Arc<str>,
    /// Event name: the SSE `event:` field, an MQTT topic, a unit address.
    pub name: String,
    /// The payload as text, or `None` when the event had no data.
    pub data: Option<String>,
    /// The upstream event ID (SSE `id:`), kept so a source can resume.
    pub id: Option<String>,
    /// When homebus received it.
    pub received_at: DateTime<Utc>,
    /// The upstream system says the device is gone (deCONZ `deleted`): the
    /// hub removes the unit at `name` if the source may create units.
    pub remove: bool,
    /// Whether this is the last event decoded from its upstream payload.
    /// Only such an event moves the source's stored resume point (`id`):
    /// if the hub dies between the commits of one payload's events, the
    /// source is replayed the whole payload (the repeated head changes
    /// nothing) instead of losing its tail.
    pub ends_payload: bool,
}

impl Event {
    /// An event received now, not yet numbered.
    pub fn new(source: Arc<str>, name: impl Into<String>, data: Option<String>) -> Self {
        Event {
            seq: 0,
            source,
            name: name.into(),
            data,
            id: None,
            received_at: Utc::now(),
            remove: false,
            ends_payload: true,
        }
    }
}
