//! `json`: a JSON payload for the source's event name. An object becomes
//! the unit's attributes (its `on`/`state`/`value` members read as state);
//! `json_pointer = "/temperature"` picks one value from the document.

use serde_json::Value;

use super::{Decoded, Refusal, json_as_data};

/// Reads the payload as JSON; with a pointer, the value it points at.
pub(super) fn decode(
    name: &str,
    payload: &str,
    pointer: Option<&str>,
) -> Result<Vec<Decoded>, Refusal> {
    let document: Value =
        serde_json::from_str(payload).map_err(|e| format!("not valid JSON ({e})"))?;
    let value = match pointer {
        None => &document,
        Some(pointer) => document
            .pointer(pointer)
            .ok_or_else(|| format!("`json_pointer = \"{pointer}\"` points at nothing in it"))?,
    };
    match value {
        Value::Array(_) => Err(
            "a JSON array has no state to read; set `json_pointer` to pick one value from it"
                .into(),
        ),
        other => Ok(vec![Decoded::event(name, json_as_data(other))]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_is_passed_on_as_attributes() {
        let out = decode("weather", r#"{"temperature":21.5,"humidity":40}"#, None).unwrap();
        let Decoded::Event { name, data } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(name, "weather");
        let value: Value = serde_json::from_str(data.as_deref().unwrap()).unwrap();
        assert_eq!(value["temperature"], 21.5);
    }

    #[test]
    fn pointer_picks_a_number() {
        assert_eq!(
            decode(
                "t",
                r#"{"main":{"temperature":21.5}}"#,
                Some("/main/temperature")
            )
            .unwrap(),
            vec![Decoded::event("t", Some("21.5".into()))]
        );
    }

    #[test]
    fn pointer_picks_a_string_without_quotes() {
        assert_eq!(
            decode("door", r#"{"door":"open"}"#, Some("/door")).unwrap(),
            vec![Decoded::event("door", Some("open".into()))]
        );
    }

    #[test]
    fn pointer_picks_a_boolean() {
        assert_eq!(
            decode("m", r#"{"motion":true}"#, Some("/motion")).unwrap(),
            vec![Decoded::event("m", Some("true".into()))]
        );
    }

    #[test]
    fn a_bare_number_is_its_text() {
        assert_eq!(
            decode("t", "42", None).unwrap(),
            vec![Decoded::event("t", Some("42".into()))]
        );
    }

    #[test]
    fn pointer_to_nothing_is_refused() {
        let error = decode("t", r#"{"a":1}"#, Some("/b")).unwrap_err();
        assert!(error.contains("/b"), "{error}");
    }

    #[test]
    fn malformed_json_is_refused() {
        assert!(decode("t", r#"{"a":"#, None).is_err());
        assert!(decode("t", "", None).is_err());
    }

    #[test]
    fn an_array_without_pointer_is_refused() {
        assert!(decode("t", "[1,2]", None).is_err());
    }
}
