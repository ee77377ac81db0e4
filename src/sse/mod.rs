//! Server-Sent Events: our own WHATWG-conformant incremental parser.
//!
//! - `line.rs`: splits the byte stream into lines, whatever the chunk
//!   boundaries.
//! - `parser.rs`: turns lines into events, field by field.

mod line;
mod parser;

pub use parser::{SseError, SseEvent, SseItem, SseParser};
