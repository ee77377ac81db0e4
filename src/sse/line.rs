//! Splits an SSE byte stream into lines, whatever the chunk boundaries.
//!
//! The WHATWG event stream grammar ends a line with CR, LF or CRLF. A CR may
//! end one network chunk and its LF open the next, so the splitter carries
//! that one bit of state across calls. Whole lines inside a chunk are handed
//! out in place; only a line that a chunk leaves unfinished is copied, into a
//! buffer that never grows past the limit.

use memchr::memchr2_iter;

use super::parser::SseError;

/// The UTF-8 byte order mark, which the UTF-8 decode of the stream drops once at its start.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Turns chunks of bytes into complete lines (without their line end).
#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The start of a line that an earlier chunk did not finish; at most `limit` bytes.
    partial: Vec<u8>,
    /// The last chunk ended with CR, so an LF opening the next chunk completes a CRLF, not a line.
    after_cr: bool,
    /// No line has been completed yet: the first one may open with the BOM to drop.
    at_stream_start: bool,
    /// The longest line accepted, in bytes; a longer one fails the stream.
    limit: usize,
}

impl LineSplitter {
    /// A splitter for a new stream that accepts lines of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            after_cr: false,
            at_stream_start: true,
            limit,
        }
    }

    /// Calls `on_line` for every line that `chunk` completes, in order.
    ///
    /// The bytes after the last line end are kept for the next call. Returns
    /// `LineTooLong` as soon as the line being read is longer than the limit
    /// (even before its end arrives), or the first error `on_line` returns.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(&[u8]) -> Result<(), SseError>,
    ) -> Result<(), SseError> {
        let mut start = 0;
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                start = 1;
            }
        }
        for end in memchr2_iter(b'\r', b'\n', chunk) {
            if end < start {
                // The LF of a CRLF whose CR already ended the line.
                continue;
            }
            let mut next = end + 1;
            if chunk[end] == b'\r' {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.complete_line(&chunk[start..end], &mut on_line)?;
            start = next;
        }
        let rest = &chunk[start..];
        if !rest.is_empty() {
            self.check_length(self.partial.len() + rest.len())?;
            self.partial.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Hands out the line whose last piece is `tail`, joined to any unfinished start.
    fn complete_line(
        &mut self,
        tail: &[u8],
        on_line: &mut impl FnMut(&[u8]) -> Result<(), SseError>,
    ) -> Result<(), SseError> {
        let strip_bom = std::mem::replace(&mut self.at_stream_start, false);
        if self.partial.is_empty() {
            self.check_length(tail.len())?;
            return on_line(without_bom(tail, strip_bom));
        }
        self.check_length(self.partial.len() + tail.len())?;
        // Taken out so that `on_line` can borrow the line while `self` stays usable; the
        // allocation is put back afterwards, so the buffer is reused for the whole stream.
        let mut line = std::mem::take(&mut self.partial);
        line.extend_from_slice(tail);
        let result = on_line(without_bom(&line, strip_bom));
        line.clear();
        self.partial = line;
        result
    }

    fn check_length(&self, length: usize) -> Result<(), SseError> {
        if length > self.limit {
            return Err(SseError::LineTooLong { limit: self.limit });
        }
        Ok(())
    }
}

fn without_bom(line: &[u8], strip_bom: bool) -> &[u8] {
    if strip_bom {
        line.strip_prefix(BOM).unwrap_or(line)
    } else {
        line
    }
}
