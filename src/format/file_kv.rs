//! `file-kv`: the `event="temperature_file";data=42` lines that dashboard
//! file providers write. Pairs are `key=value`, separated by `;`, white
//! space or newlines; a value is bare or in double quotes with `\"` and
//! `\\` escapes. Each `event` key starts an event; the `data` after it is
//! its data. Other keys (`id`, `retry`, …) are ignored.
//!
//! A payload is read whole or not at all: one broken pair refuses it, so a
//! half-written file is never half-applied.

use super::{Decoded, Refusal};

/// Reads every `event`/`data` pair in the payload.
pub(super) fn decode(payload: &str) -> Result<Vec<Decoded>, Refusal> {
    let mut out = Vec::new();
    for pair in pairs(payload)? {
        let (key, value) = pair;
        match key.as_str() {
            "event" => out.push(Decoded::event(value, None)),
            "data" => match out.last_mut() {
                Some(Decoded::Event {
                    data: slot @ None, ..
                }) => *slot = Some(value),
                Some(_) => {
                    return Err(format!(
                        "`data={value}` has no `event` of its own; write `event=\"name\"` before each `data`"
                    ));
                }
                None => {
                    return Err(
                        "`data` comes before any `event`; write `event=\"name\";data=value`".into(),
                    );
                }
            },
            _ => {}
        }
    }
    Ok(out)
}

/// Splits the payload into `(key, value)` pairs.
fn pairs(payload: &str) -> Result<Vec<(String, String)>, Refusal> {
    let mut out = Vec::new();
    let mut chars = payload.char_indices().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|&(_, c)| c == ';' || c.is_whitespace())
        {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        loop {
            match chars.next() {
                Some((_, '=')) => break,
                Some((_, c)) if c == ';' || c.is_whitespace() => {
                    return Err(format!(
                        "`{}` at byte {start} is not a `key=value` pair",
                        key
                    ));
                }
                Some((_, c)) => key.push(c),
                None => {
                    return Err(format!(
                        "`{key}` at byte {start} is not a `key=value` pair (the file may be half-written)"
                    ));
                }
            }
        }
        if key.is_empty() {
            return Err(format!("a value at byte {start} has no key"));
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|&(_, c)| c == '"') {
            chars.next();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => return Err(unterminated(&key)),
                    },
                    Some((_, c)) => value.push(c),
                    None => return Err(unterminated(&key)),
                }
            }
            if chars
                .peek()
                .is_some_and(|&(_, c)| c != ';' && !c.is_whitespace())
            {
                return Err(format!(
                    "`{key}`: text follows the closing quote; separate pairs with `;` or a space"
                ));
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c == ';' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.to_ascii_lowercase(), value));
    }
}

fn unterminated(key: &str) -> Refusal {
    format!("the quoted value of `{key}` has no closing `\"` (the file may be half-written)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: Option<&str>) -> Decoded {
        Decoded::event(name, data.map(str::to_string))
    }

    #[test]
    fn quoted_event_and_bare_data() {
        assert_eq!(
            decode(r#"event="temperature_file";data=42"#).unwrap(),
            vec![event("temperature_file", Some("42"))]
        );
    }

    #[test]
    fn quoted_data_keeps_spaces_and_unicode() {
        assert_eq!(
            decode(r#"event="usermessage" data="HELLO NĖURO!""#).unwrap(),
            vec![event("usermessage", Some("HELLO NĖURO!"))]
        );
    }

    #[test]
    fn escaped_quotes_inside_a_value() {
        assert_eq!(
            decode(r#"event=msg;data="say \"hi\"""#).unwrap(),
            vec![event("msg", Some(r#"say "hi""#))]
        );
    }

    #[test]
    fn several_pairs_on_lines_are_several_events() {
        let payload = "event=\"a\";data=1\nevent=\"b\";data=on\r\nevent=c\n";
        assert_eq!(
            decode(payload).unwrap(),
            vec![
                event("a", Some("1")),
                event("b", Some("on")),
                event("c", None)
            ]
        );
    }

    #[test]
    fn trailing_separators_and_unknown_keys_are_ignored() {
        assert_eq!(
            decode("id=7; event=x; data=1;\n\n").unwrap(),
            vec![event("x", Some("1"))]
        );
    }

    #[test]
    fn empty_payload_gives_nothing() {
        assert_eq!(decode("").unwrap(), vec![]);
        assert_eq!(decode(" \n ").unwrap(), vec![]);
    }

    #[test]
    fn half_written_payloads_are_refused_whole() {
        for payload in [
            r#"event="temperature_file";data="4"#,
            r#"event="temperature_file";da"#,
            r#"event="temp"#,
        ] {
            assert!(decode(payload).is_err(), "{payload:?}");
        }
    }

    #[test]
    fn data_without_event_is_refused() {
        assert!(decode("data=42").is_err());
        assert!(decode("event=a;data=1;data=2").is_err());
    }

    #[test]
    fn a_word_without_equals_is_refused() {
        assert!(decode("event=a data=HELLO WORLD").is_err());
    }
}
