//! The SSE wire format as we write it: `id:`, `event:`, `data:` lines and
//! comments. Data with line breaks becomes several `data:` lines, so what a
//! client reassembles is exactly what was sent.

use bytes::Bytes;

/// Appends one event block (ending with the blank line that dispatches it).
pub fn push_event(out: &mut Vec<u8>, id: Option<u64>, event: Option<&str>, data: &str) {
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.to_string().as_bytes());
        out.push(b'\n');
    }
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        // A line break in an event name would end the field early; none of
        // ours has one, but never let it forge a field.
        for line in lines(event) {
            out.extend_from_slice(line.as_bytes());
        }
        out.push(b'\n');
    }
    for line in lines(data) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// One event block as shared bytes.
pub fn event(id: Option<u64>, event: Option<&str>, data: &str) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    push_event(&mut out, id, event, data);
    Bytes::from(out)
}

/// A comment line (clients ignore it; proxies see traffic).
pub fn comment(text: &str) -> Bytes {
    let mut out = Vec::with_capacity(text.len() + 4);
    for line in lines(text) {
        out.extend_from_slice(b": ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    Bytes::from(out)
}

/// The `retry:` field that sets the client's reconnection delay.
pub fn retry(millis: u64) -> Bytes {
    Bytes::from(format!("retry: {millis}\n\n"))
}

/// Splits on `\r\n`, `\n` and `\r`, the three line ends SSE knows.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(text)
            }
            Some(i) => {
                let skip = if text[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[i + skip..]);
                Some(&text[..i])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_event_has_id_event_and_data() {
        assert_eq!(
            event(Some(7), Some("reset"), "{}"),
            Bytes::from_static(b"id: 7\nevent: reset\ndata: {}\n\n")
        );
    }

    #[test]
    fn multi_line_data_becomes_several_data_lines() {
        assert_eq!(
            event(None, None, "a\nb\r\nc\rd"),
            Bytes::from_static(b"data: a\ndata: b\ndata: c\ndata: d\n\n")
        );
    }

    #[test]
    fn trailing_line_break_keeps_an_empty_data_line() {
        assert_eq!(
            event(None, None, "a\n"),
            Bytes::from_static(b"data: a\ndata: \n\n")
        );
    }

    #[test]
    fn empty_data_is_one_empty_data_line() {
        assert_eq!(event(None, None, ""), Bytes::from_static(b"data: \n\n"));
    }

    #[test]
    fn comment_starts_with_a_colon() {
        assert_eq!(
            comment("keep-alive"),
            Bytes::from_static(b": keep-alive\n\n")
        );
    }

    #[test]
    fn event_name_cannot_forge_a_field() {
        assert_eq!(
            event(None, Some("a\ndata: x"), "y"),
            Bytes::from_static(b"event: adata: x\ndata: y\n\n")
        );
    }
}
