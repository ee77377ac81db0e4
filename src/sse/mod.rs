//! Server-Sent Events: our own WHATWG-conformant incremental parser.

mod line;
mod parser;

pub use parser::{SseError, SseEvent, SseItem, SseParser};
