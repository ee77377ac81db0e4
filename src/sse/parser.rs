//! Placeholder API; the real parser replaces this file.

/// Error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line longer than the limit.
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// Limit.
        limit: usize,
    },
    /// An event larger than the limit.
    #[error("event larger than {limit} bytes")]
    EventTooLarge {
        /// Limit.
        limit: usize,
    },
}

/// Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Type.
    pub event_type: Option<String>,
    /// Data.
    pub data: Option<String>,
    /// Id.
    pub last_event_id: String,
}

/// Item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// Event.
    Event(SseEvent),
    /// Retry.
    Retry(u64),
}

/// Parser.
#[derive(Debug, Default)]
pub struct SseParser {}

impl SseParser {
    /// New.
    pub fn new(_max_event_size: usize) -> Self {
        SseParser {}
    }
    /// Feed.
    pub fn feed(&mut self, _chunk: &[u8], _out: &mut Vec<SseItem>) -> Result<(), SseError> {
        todo!()
    }
    /// Last id.
    pub fn last_event_id(&self) -> &str {
        todo!()
    }
    /// Set id.
    pub fn set_last_event_id(&mut self, _id: &str) {
        todo!()
    }
}
