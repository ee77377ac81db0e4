//! What travels on the bus.

use std::sync::OnceLock;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::event::Event;
use crate::units::EntityState;

/// A unit's state changed, or a unit appeared (`old` is `None`) or went
/// (`new` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// Global sequence number; the SSE `id:` clients resume from.
    pub seq: u64,
    /// The entity.
    pub entity_id: String,
    /// State before, or `None` for a new unit.
    pub old: Option<EntityState>,
    /// State after, or `None` for a removed unit.
    pub new: Option<EntityState>,
    /// When it happened.
    pub time: DateTime<Utc>,
    /// The source event that caused it; `None` for API commands.
    pub cause: Option<Event>,
}

/// An event fired through the API (`POST /api/events/{type}`) or by a source.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredEvent {
    /// Global sequence number.
    pub seq: u64,
    /// Event type, e.g. `doorbell_pressed`.
    pub event_type: String,
    /// Its JSON data.
    pub data: Value,
    /// When it was fired.
    pub time: DateTime<Utc>,
}

/// One message on the bus.
#[derive(Debug, Clone, PartialEq)]
pub enum BusMessage {
    /// A state change.
    State(Box<StateChange>),
    /// A fired event.
    Event(FiredEvent),
    /// A source event that changed no state (plain text, an address with no
    /// unit, a repeated value): kept for the event log, not served as a change.
    Received(Event),
}

impl BusMessage {
    /// The message's sequence number.
    pub fn seq(&self) -> u64 {
        match self {
            BusMessage::State(c) => c.seq,
            BusMessage::Event(e) => e.seq,
            BusMessage::Received(e) => e.seq,
        }
    }

    /// Whether this is an event that changed nothing, which is logged but
    /// never served.
    pub fn is_received(&self) -> bool {
        matches!(self, BusMessage::Received(_))
    }
}

/// How many output shapes may cache their encoding in an envelope.
pub const ENCODING_SLOTS: usize = 8;

/// A published message plus its encodings, made once and shared by every
/// subscriber that writes the same shape.
#[derive(Debug)]
pub struct Envelope {
    /// The message.
    pub message: BusMessage,
    /// One cached encoding per output shape (see [`Envelope::encoded`]).
    encodings: [OnceLock<Bytes>; ENCODING_SLOTS],
}

impl Envelope {
    /// Wraps a message with empty encoding caches.
    pub fn new(message: BusMessage) -> Self {
        Envelope {
            message,
            encodings: Default::default(),
        }
    }

    /// The message's seq.
    pub fn seq(&self) -> u64 {
        self.message.seq()
    }

    /// The encoding for output shape `slot` (< `ENCODING_SLOTS`), made by
    /// `encode` the first time any subscriber asks, then shared.
    pub fn encoded(&self, slot: usize, encode: impl FnOnce(&BusMessage) -> Bytes) -> Bytes {
        self.encodings[slot]
            .get_or_init(|| encode(&self.message))
            .clone()
    }
}
