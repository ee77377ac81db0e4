//! The kinds of unit and what they imply for entity ids and resources.

use serde::{Deserialize, Serialize};

/// What a unit is, which decides how commands change its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    /// On/off.
    Switch,
    /// On/off plus a value; a value of 0 means off.
    Dimmer,
    /// The last reading: a number, a text from a JSON `state` member, or on/off.
    Sensor,
}

impl UnitKind {
    /// The name used in config and attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Switch => "switch",
            UnitKind::Dimmer => "dimmer",
            UnitKind::Sensor => "sensor",
        }
    }

    /// Home Assistant domain of the default entity id.
    pub fn domain(self) -> &'static str {
        match self {
            UnitKind::Switch => "switch",
            UnitKind::Dimmer => "light",
            UnitKind::Sensor => "sensor",
        }
    }

    /// deCONZ resource (`r` of WebSocket messages).
    pub fn resource(self) -> &'static str {
        match self {
            UnitKind::Switch | UnitKind::Dimmer => "lights",
            UnitKind::Sensor => "sensors",
        }
    }
}
