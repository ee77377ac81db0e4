//! The bus: every change, numbered by `seq`, published once and read by any
//! number of subscribers at their own pace.
//!
//! One trait, [`Bus`], with an in-process implementation ([`InProcessBus`]);
//! a NATS JetStream implementation can slot in without changes above it.
//!
//! - `message.rs`: what travels on the bus ([`BusMessage`], [`Envelope`]).
//! - `in_process.rs`: [`InProcessBus`], the broadcast ring, the backlog for
//!   clients that resume, and the fan-out thread for crowds.

mod in_process;
mod message;

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;

pub use in_process::InProcessBus;
pub use message::{BusMessage, Envelope, FiredEvent, StateChange};

/// Why a subscription ended or could not start where asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BusError {
    /// The subscriber fell more than the bus holds behind; it must resume
    /// from the last `seq` it processed.
    #[error(
        "subscriber fell {missed} changes behind and was cut off; reconnect with Last-Event-ID to resume"
    )]
    Lagged {
        /// How many changes it missed.
        missed: u64,
    },
    /// Changes after `after` are no longer held, or `after` is a seq this
    /// bus never gave (the hub restarted without its history); the client
    /// must reload all state.
    #[error("changes after {after} are no longer held (oldest held is {oldest}); reload all state")]
    TooOld {
        /// The seq the client asked to resume after.
        after: u64,
        /// The oldest seq still held.
        oldest: u64,
    },
}

/// A live feed of changes: the held backlog first, then live ones. Events
/// that changed nothing ([`BusMessage::Received`]) are logged by the store
/// but never yielded: no subscriber serves them.
pub type Subscription = Pin<Box<dyn Stream<Item = Result<Arc<Envelope>, BusError>> + Send>>;

/// Where changes are published and subscribed to.
pub trait Bus: Send + Sync + 'static {
    /// Publishes a message carrying its `seq`, which must be greater than
    /// every seq published before. Returns the shared envelope.
    fn publish(&self, message: BusMessage) -> Arc<Envelope>;

    /// Subscribes to every change after `after` (all live changes when
    /// `None`). Fails with [`BusError::TooOld`] when changes after `after`
    /// are no longer held.
    fn subscribe(&self, after: Option<u64>) -> Result<Subscription, BusError>;

    /// The seq of the last published message, 0 if none.
    fn last_seq(&self) -> u64;
}
