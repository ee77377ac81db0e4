//! The XTension rules: what an event's data means for a unit.
//!
//! | data | command |
//! | --- | --- |
//! | none, or only white space | On (the hub logs the event name) |
//! | `on` `true` `yes` (any case) | On |
//! | `off` `false` `no` | Off |
//! | a number (`47.5`, `47,5`, `-3`, `1e3`) | SetValue |
//! | a JSON object | Attributes, with `on`/`state`/`value` members read as above |
//! | anything else | Text: logged and passed to the script hook |

use serde_json::{Map, Value};

/// A number as it arrived, with `.` as the decimal separator.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// The numeric value.
    pub value: f64,
    /// The number as received, with `,` replaced by `.` (`47,5` → `47.5`);
    /// a sensor shows this text as its state.
    pub text: String,
}

impl Number {
    /// A number from a float (REST commands), shown without a needless `.0`.
    pub fn from_f64(value: f64) -> Self {
        let text = if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{}", value as i64)
        } else {
            format!("{value}")
        };
        Number { value, text }
    }
}

/// A reading of a unit's state, found in plain data or in a JSON member.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Turn on.
    On,
    /// Turn off.
    Off,
    /// A numeric value.
    Value(Number),
    /// A text state (only a JSON `state` member gives one; sensors show it).
    Text(String),
}

/// What an event asks of its unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Turn on (also: an event with no data).
    On,
    /// Turn off.
    Off,
    /// Set a value; a switch reads it as On, a dimmer at 0 is off.
    SetValue(Number),
    /// Merge attributes, then apply the readings found in `on`, `state`
    /// and `value` members, in that order.
    Attributes {
        /// Members other than `on` and `state`, merged into the unit's attributes.
        attributes: Map<String, Value>,
        /// State readings taken from the object.
        readings: Vec<Reading>,
    },
    /// Plain text: never changes a state; logged and passed to the script hook.
    Text(String),
}

/// Reads an event's data by the XTension rules.
pub fn interpret(data: Option<&str>) -> Command {
    let Some(text) = data.map(str::trim).filter(|t| !t.is_empty()) else {
        return Command::On;
    };
    if let Some(reading) = word_or_number(text) {
        return match reading {
            Reading::On => Command::On,
            Reading::Off => Command::Off,
            Reading::Value(n) => Command::SetValue(n),
            Reading::Text(t) => Command::Text(t),
        };
    }
    if text.starts_with('{')
        && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text)
    {
        return attributes(object);
    }
    Command::Text(text.to_string())
}

/// `on`/`off` words and numbers; `None` for anything else.
fn word_or_number(text: &str) -> Option<Reading> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "on" | "true" | "yes" => Some(Reading::On),
        "off" | "false" | "no" => Some(Reading::Off),
        _ => parse_number(text).map(Reading::Value),
    }
}

/// Parses `47.5`, `47,5`, `-3`, `+2`, `.5`, `1e3`; refuses `inf`, `NaN`,
/// `1,000.5` and anything with other characters.
pub fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b',' | b'e' | b'E'));
    let has_digit = text.bytes().any(|b| b.is_ascii_digit());
    let separators = text.bytes().filter(|&b| b == b'.' || b == b',').count();
    if !valid_chars || !has_digit || separators > 1 {
        return None;
    }
    let normalised = text.replace(',', ".");
    let value: f64 = normalised.parse().ok()?;
    value.is_finite().then(|| Number {
        value,
        text: normalised
            .strip_prefix('+')
            .unwrap_or(&normalised)
            .to_string(),
    })
}

fn attributes(mut object: Map<String, Value>) -> Command {
    let mut readings = Vec::new();
    for key in ["on", "state"] {
        if let Some(member) = object.remove(key)
            && let Some(reading) = json_reading(&member)
        {
            readings.push(reading);
        }
    }
    if let Some(member) = object.get("value")
        && let Some(Reading::Value(n)) = json_reading(member)
    {
        readings.push(Reading::Value(n));
        object.remove("value");
    }
    Command::Attributes {
        attributes: object,
        readings,
    }
}

fn json_reading(value: &Value) -> Option<Reading> {
    match value {
        Value::Bool(true) => Some(Reading::On),
        Value::Bool(false) => Some(Reading::Off),
        Value::Number(n) => {
            let text = n.to_string();
            n.as_f64()
                .map(|value| Reading::Value(Number { value, text }))
        }
        Value::String(s) => Some(word_or_number(s).unwrap_or_else(|| Reading::Text(s.clone()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: f64, text: &str) -> Command {
        Command::SetValue(Number {
            value,
            text: text.to_string(),
        })
    }

    #[test]
    fn no_data_means_on() {
        assert_eq!(interpret(None), Command::On);
    }

    #[test]
    fn empty_or_blank_data_means_on() {
        assert_eq!(interpret(Some("")), Command::On);
        assert_eq!(interpret(Some("\n")), Command::On);
        assert_eq!(interpret(Some("  ")), Command::On);
    }

    #[test]
    fn on_words_in_any_case_with_white_space_mean_on() {
        for word in ["on", "ON", "True", " yes ", "\tTRUE\n"] {
            assert_eq!(interpret(Some(word)), Command::On, "{word:?}");
        }
    }

    #[test]
    fn off_words_mean_off() {
        for word in ["off", "Off", "FALSE", " no "] {
            assert_eq!(interpret(Some(word)), Command::Off, "{word:?}");
        }
    }

    #[test]
    fn integer_sets_value() {
        assert_eq!(interpret(Some("42")), n(42.0, "42"));
        assert_eq!(interpret(Some("-3")), n(-3.0, "-3"));
    }

    #[test]
    fn decimal_with_point_sets_value() {
        assert_eq!(interpret(Some("47.5")), n(47.5, "47.5"));
    }

    #[test]
    fn decimal_with_comma_sets_value_with_point() {
        assert_eq!(interpret(Some("47,5")), n(47.5, "47.5"));
    }

    #[test]
    fn exponent_sets_value() {
        assert_eq!(interpret(Some("1e3")), n(1000.0, "1e3"));
    }

    #[test]
    fn not_quite_numbers_are_text() {
        for text in ["inf", "NaN", "1,000.5", "12 apples", "-", "e", "0x10"] {
            assert!(
                matches!(interpret(Some(text)), Command::Text(_)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn json_object_becomes_attributes() {
        let cmd = interpret(Some(r#"{"battery": 80, "room": "hall"}"#));
        let Command::Attributes {
            attributes,
            readings,
        } = cmd
        else {
            panic!("not attributes: {cmd:?}")
        };
        assert_eq!(attributes["battery"], 80);
        assert_eq!(attributes["room"], "hall");
        assert!(readings.is_empty());
    }

    #[test]
    fn json_state_and_value_members_are_read_as_data() {
        let cmd = interpret(Some(r#"{"state": "on", "value": 47.5, "x": 1}"#));
        assert_eq!(
            cmd,
            Command::Attributes {
                attributes: serde_json::from_str(r#"{"x":1}"#).unwrap(),
                readings: vec![
                    Reading::On,
                    Reading::Value(Number {
                        value: 47.5,
                        text: "47.5".into()
                    })
                ],
            }
        );
    }

    #[test]
    fn json_on_member_true_means_on() {
        let cmd = interpret(Some(r#"{"on": false}"#));
        assert!(
            matches!(cmd, Command::Attributes { readings, .. } if readings == vec![Reading::Off])
        );
    }

    #[test]
    fn json_text_state_is_a_text_reading() {
        let cmd = interpret(Some(r#"{"state": "open"}"#));
        assert!(
            matches!(cmd, Command::Attributes { readings, .. } if readings == vec![Reading::Text("open".into())])
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_text() {
        assert!(matches!(interpret(Some("[1,2]")), Command::Text(_)));
        assert!(matches!(interpret(Some("{broken")), Command::Text(_)));
    }

    #[test]
    fn anything_else_is_text() {
        assert_eq!(
            interpret(Some("HELLO NĖURO!")),
            Command::Text("HELLO NĖURO!".into())
        );
    }
}
