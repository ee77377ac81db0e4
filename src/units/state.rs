//! The state of one unit as clients see it: Home Assistant's state object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A unit's state in Home Assistant's shape; what `/api/states` serves and
/// what a state change carries as old and new state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityState {
    /// `<domain>.<object_id>`.
    pub entity_id: String,
    /// `"on"`/`"off"` for switches and dimmers, the reading for a sensor,
    /// `"unknown"` before the first event.
    pub state: String,
    /// `value`, `friendly_name`, `address`, `kind` and merged attributes.
    pub attributes: Map<String, Value>,
    /// When `state` last changed.
    #[serde(with = "ha_time")]
    pub last_changed: DateTime<Utc>,
    /// When the state or any attribute last changed.
    #[serde(with = "ha_time")]
    pub last_updated: DateTime<Utc>,
}

/// Serde glue: Home Assistant timestamps (`…T10:00:00.000000+00:00`).
pub mod ha_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::time::ha_timestamp(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
