//! The incremental Server-Sent Events parser (WHATWG HTML, "Interpreting an event stream").
//!
//! It is a pure function over the bytes fed so far, with no socket, so it can
//! be tested chunk by chunk, fuzzed and benchmarked. Unlike a browser's
//! `EventSource` it also yields event blocks that carry an event name but no
//! `data` field (such an event turns its unit on: the README's "How event
//! data is read"), marking them with `data: None`; everything else follows
//! the standard to the letter.

use std::borrow::Cow;

use memchr::memchr;

use super::line::LineSplitter;

/// Why a stream was given up; the parser accepts nothing more afterwards.
///
/// Both limits exist so that a broken or hostile server cannot make the hub
/// buffer without bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line (one field) was longer than the limit, or had no end yet past it.
    #[error(
        "an SSE line is longer than the {limit}-byte limit, so the stream is dropped; \
         raise `max_event_size` if the server really sends lines that long"
    )]
    LineTooLong {
        /// The limit that was crossed, in bytes.
        limit: usize,
    },
    /// The data of one event (its `data` lines joined) grew past the limit.
    #[error(
        "an SSE event's data is larger than the {limit}-byte limit, so the stream is dropped; \
         raise `max_event_size` if the server really sends events that large"
    )]
    EventTooLarge {
        /// The limit that was crossed, in bytes.
        limit: usize,
    },
}

/// One event block of the stream, ended by a blank line.
///
/// Yielded when the block set an event type or had at least one `data` field,
/// so that `event: Motion` alone reaches the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field's value; `None` when the block set none or set it empty.
    pub event_type: Option<String>,
    /// The `data` lines joined with LF; `None` when the block had no `data` field
    /// (a browser would not dispatch it), `Some("")` for a lone `data:`.
    pub data: Option<String>,
    /// The last event ID string in force when the block ended; `""` if none was set.
    pub last_event_id: String,
}

impl SseEvent {
    /// The type a browser gives the event: the `event` field, or `message`.
    pub fn event_type_or_default(&self) -> &str {
        self.event_type.as_deref().unwrap_or("message")
    }

    /// Whether a browser's `EventSource` would dispatch this event (it has data).
    pub fn is_dispatched(&self) -> bool {
        self.data.is_some()
    }
}

/// What a complete part of the stream means to its reader, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// An event block ended.
    Event(SseEvent),
    /// A valid `retry` field set the reconnection time, in milliseconds.
    Retry(u64),
}

/// Turns the bytes of one SSE response, fed in chunks of any size, into [`SseItem`]s.
///
/// Whole lines are parsed in place in the chunk; only an unfinished last line
/// is copied, into a buffer kept for the whole stream. Parsing allocates only
/// the strings of the events it yields, never per line or per byte.
#[derive(Debug)]
pub struct SseParser {
    /// Cuts the byte stream into lines.
    lines: LineSplitter,
    /// Collects the fields of the current block.
    block: EventBlock,
    /// The error that ended the stream; repeated to any later `feed`.
    failed: Option<SseError>,
}

impl SseParser {
    /// A parser for a new stream that accepts lines, and event data, of at most
    /// `max_event_size` bytes.
    pub fn new(max_event_size: usize) -> Self {
        SseParser {
            lines: LineSplitter::new(max_event_size),
            block: EventBlock::new(max_event_size),
            failed: None,
        }
    }

    /// Parses `chunk` and pushes every item it completes onto `out`.
    ///
    /// Bytes after the last line end wait for the next chunk; a block that the
    /// stream never ends with a blank line is never yielded. On a limit error
    /// the items pushed before it are valid, and the parser is dead: every later
    /// call returns the same error.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let block = &mut self.block;
        let result = self.lines.feed(chunk, |line| block.process_line(line, out));
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// The EventSource "last event ID string": the id in force at the last blank
    /// line, which a client sends as `Last-Event-ID` when it reconnects.
    pub fn last_event_id(&self) -> &str {
        &self.block.last_event_id
    }

    /// Starts this (new) stream with the id a previous connection ended with,
    /// so that it stays in force until the server sends another `id`.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.block.last_event_id.clear();
        self.block.last_event_id.push_str(id);
        self.block.id_buffer.clear();
        self.block.id_buffer.push_str(id);
    }
}

/// The buffers of the WHATWG algorithm, kept from one block to the next (the data
/// buffer's allocation moves into the event that carries it).
#[derive(Debug)]
struct EventBlock {
    /// The `data` values seen in this block, each followed by LF; empty when there was none.
    data: String,
    /// The latest `event` value of this block.
    event_type: String,
    /// The "last event ID buffer": the latest valid `id` value, kept across blocks.
    id_buffer: String,
    /// The "last event ID string", copied from the buffer at every blank line.
    last_event_id: String,
    /// The largest data buffer accepted, in bytes.
    limit: usize,
}

impl EventBlock {
    fn new(limit: usize) -> Self {
        EventBlock {
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            limit,
        }
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseError> {
        if line.is_empty() {
            self.end_block(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        // Field names and the markers looked at (colon, space, NUL, digits) are ASCII, and
        // invalid bytes never decode to ASCII, so comparing raw bytes equals comparing
        // decoded text; only the values that are kept need decoding.
        let (name, value) = match memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                let text = decode(value);
                if self.data.len() + text.len() + 1 > self.limit {
                    return Err(SseError::EventTooLarge { limit: self.limit });
                }
                if self.data.is_empty() {
                    // Sized for this value and its LF, so the usual one-line event costs
                    // exactly one allocation, which the event then takes over.
                    self.data.reserve_exact(text.len() + 1);
                }
                self.data.push_str(&text);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            // An id with NUL is ignored: it could not be sent back in a header.
            b"id" if memchr(0, value).is_none() => {
                self.id_buffer.clear();
                self.id_buffer.push_str(&decode(value));
            }
            b"retry" => out.extend(parse_retry(value).map(SseItem::Retry)),
            _ => {}
        }
        Ok(())
    }

    /// The "dispatch the event" step, run at every blank line.
    fn end_block(&mut self, out: &mut Vec<SseItem>) {
        if self.last_event_id != self.id_buffer {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if !self.data.is_empty() || !self.event_type.is_empty() {
            let data = (!self.data.is_empty()).then(|| {
                // Moved, not copied: a 64 KiB value is not written twice.
                let mut data = std::mem::take(&mut self.data);
                // Every `data` field appended an LF; the standard drops the last one.
                data.pop();
                data
            });
            let event_type = (!self.event_type.is_empty()).then(|| self.event_type.clone());
            out.push(SseItem::Event(SseEvent {
                event_type,
                data,
                last_event_id: self.last_event_id.clone(),
            }));
        }
        self.data.clear();
        self.event_type.clear();
    }
}

/// UTF-8 decoding as the standard asks: invalid bytes become U+FFFD.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A `retry` value counts only when it is all ASCII digits; one too large for a
/// `u64` is ignored rather than wrapped or clamped to "never reconnect".
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |ms, digit| {
        ms.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}
