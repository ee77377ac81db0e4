//! Server-Sent Events: our own WHATWG-conformant incremental parser.

mod parser;

pub use parser::{SseError, SseEvent, SseItem, SseParser};
