//! One unit and the rules by which commands change it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{EntityState, UnitKind, default_entity_id};
use crate::interpret::{Command, Number, Reading};

/// What a unit currently reads.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitValue {
    /// No event yet.
    Unknown,
    /// On.
    On,
    /// Off.
    Off,
    /// A sensor's reading as text (a number with `.` separator, or a text state).
    Reading(String),
}

/// A named unit: its identity, its kind and its current state.
#[derive(Debug, Clone)]
pub struct Unit {
    /// The event name that drives it, as configured (matched ignoring ASCII case).
    pub address: String,
    /// Home Assistant entity id.
    pub entity_id: String,
    /// Switch, dimmer or sensor.
    pub kind: UnitKind,
    /// Friendly name.
    pub name: String,
    /// Unit of measurement shown with the value, if any.
    pub unit_of_measurement: Option<String>,
    /// The state.
    pub value: UnitValue,
    /// The last number received (a dimmer's level, a sensor's reading).
    pub number: Option<f64>,
    /// Attributes merged from JSON events.
    pub attributes: Map<String, Value>,
    /// When the state last changed.
    pub last_changed: DateTime<Utc>,
    /// When the state or attributes last changed.
    pub last_updated: DateTime<Utc>,
}

impl Unit {
    /// A unit in state `unknown`.
    pub fn new(
        address: &str,
        kind: UnitKind,
        entity_id: Option<String>,
        name: Option<String>,
    ) -> Self {
        let now = Utc::now();
        Unit {
            address: address.to_string(),
            entity_id: entity_id.unwrap_or_else(|| default_entity_id(kind, address)),
            kind,
            name: name.unwrap_or_else(|| address.to_string()),
            unit_of_measurement: None,
            value: UnitValue::Unknown,
            number: None,
            attributes: Map::new(),
            last_changed: now,
            last_updated: now,
        }
    }

    /// The state string: `on`/`off`/`unknown` or a sensor's reading.
    pub fn state_text(&self) -> &str {
        match &self.value {
            UnitValue::Unknown => "unknown",
            UnitValue::On => "on",
            UnitValue::Off => "off",
            UnitValue::Reading(text) => text,
        }
    }

    /// The unit as a Home Assistant state object.
    pub fn entity_state(&self) -> EntityState {
        let mut attributes = self.attributes.clone();
        if let Some(n) = self.number {
            attributes.insert("value".into(), number_value(n));
        }
        attributes.insert("friendly_name".into(), self.name.clone().into());
        attributes.insert("address".into(), self.address.clone().into());
        attributes.insert("kind".into(), self.kind.as_str().into());
        if let Some(uom) = &self.unit_of_measurement {
            attributes.insert("unit_of_measurement".into(), uom.clone().into());
        }
        EntityState {
            entity_id: self.entity_id.clone(),
            state: self.state_text().to_string(),
            attributes,
            last_changed: self.last_changed,
            last_updated: self.last_updated,
        }
    }

    /// Applies a command at time `now`. Returns whether the state or any
    /// attribute changed; `last_updated` is refreshed either way, and
    /// `last_changed` only when the state string changed.
    pub fn apply(&mut self, command: &Command, now: DateTime<Utc>) -> bool {
        let before = (self.value.clone(), self.number, self.attributes.clone());
        match command {
            Command::On => self.read(&Reading::On),
            Command::Off => self.read(&Reading::Off),
            Command::SetValue(n) => self.read(&Reading::Value(n.clone())),
            Command::Attributes {
                attributes,
                readings,
            } => {
                for (key, value) in attributes {
                    self.attributes.insert(key.clone(), value.clone());
                }
                for reading in readings {
                    self.read(reading);
                }
            }
            Command::Text(_) => {}
        }
        let state_changed = before.0 != self.value;
        let changed = state_changed || before.1 != self.number || before.2 != self.attributes;
        self.last_updated = now;
        if state_changed {
            self.last_changed = now;
        }
        changed
    }

    fn read(&mut self, reading: &Reading) {
        match (self.kind, reading) {
            (_, Reading::On) => {
                self.value = UnitValue::On;
                if self.kind == UnitKind::Dimmer && matches!(self.number, None | Some(0.0)) {
                    self.number = Some(100.0);
                }
            }
            (_, Reading::Off) => self.value = UnitValue::Off,
            (UnitKind::Switch, Reading::Value(_)) => self.value = UnitValue::On,
            (UnitKind::Dimmer, Reading::Value(Number { value, .. })) => {
                self.number = Some(*value);
                self.value = if *value == 0.0 {
                    UnitValue::Off
                } else {
                    UnitValue::On
                };
            }
            (UnitKind::Sensor, Reading::Value(Number { value, text })) => {
                self.number = Some(*value);
                self.value = UnitValue::Reading(text.clone());
            }
            (UnitKind::Sensor, Reading::Text(text)) => {
                self.number = None;
                self.value = UnitValue::Reading(text.clone());
            }
            (UnitKind::Switch | UnitKind::Dimmer, Reading::Text(_)) => {}
        }
    }
}

/// A JSON number that shows integers without `.0`.
fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpret::interpret;

    fn unit(kind: UnitKind) -> Unit {
        Unit::new("BRIGHTNESS", kind, None, Some("Brightness".into()))
    }

    fn apply(unit: &mut Unit, data: Option<&str>) -> bool {
        unit.apply(&interpret(data), Utc::now())
    }

    #[test]
    fn new_unit_is_unknown() {
        assert_eq!(unit(UnitKind::Switch).state_text(), "unknown");
    }

    #[test]
    fn switch_turns_on_and_off() {
        let mut u = unit(UnitKind::Switch);
        assert!(apply(&mut u, None));
        assert_eq!(u.state_text(), "on");
        assert!(apply(&mut u, Some("false")));
        assert_eq!(u.state_text(), "off");
    }

    #[test]
    fn number_on_a_switch_acts_as_on() {
        let mut u = unit(UnitKind::Switch);
        apply(&mut u, Some("47,5"));
        assert_eq!(u.state_text(), "on");
        assert_eq!(u.number, None);
    }

    #[test]
    fn dimmer_value_sets_level_and_zero_is_off() {
        let mut u = unit(UnitKind::Dimmer);
        apply(&mut u, Some("47,5"));
        assert_eq!(u.state_text(), "on");
        assert_eq!(u.entity_state().attributes["value"], 47.5);
        apply(&mut u, Some("0"));
        assert_eq!(u.state_text(), "off");
    }

    #[test]
    fn sensor_shows_number_as_received_with_point() {
        let mut u = unit(UnitKind::Sensor);
        apply(&mut u, Some("47,5"));
        assert_eq!(u.state_text(), "47.5");
        apply(&mut u, Some("42"));
        let state = u.entity_state();
        assert_eq!(state.state, "42");
        assert_eq!(state.attributes["value"], 42);
    }

    #[test]
    fn sensor_takes_text_state_from_json_member() {
        let mut u = unit(UnitKind::Sensor);
        apply(&mut u, Some(r#"{"state":"open","battery":90}"#));
        let state = u.entity_state();
        assert_eq!(state.state, "open");
        assert_eq!(state.attributes["battery"], 90);
    }

    #[test]
    fn plain_text_never_changes_state() {
        let mut u = unit(UnitKind::Sensor);
        apply(&mut u, Some("12"));
        assert!(!apply(&mut u, Some("hello there")));
        assert_eq!(u.state_text(), "12");
    }

    #[test]
    fn repeated_state_is_no_change_but_refreshes_last_updated() {
        let mut u = unit(UnitKind::Switch);
        apply(&mut u, Some("on"));
        let changed_at = u.last_changed;
        let later = changed_at + chrono::Duration::seconds(5);
        assert!(!u.apply(&Command::On, later));
        assert_eq!(u.last_changed, changed_at);
        assert_eq!(u.last_updated, later);
    }

    #[test]
    fn attributes_change_last_updated_not_last_changed() {
        let mut u = unit(UnitKind::Switch);
        apply(&mut u, Some("on"));
        let changed_at = u.last_changed;
        let later = changed_at + chrono::Duration::seconds(5);
        assert!(u.apply(&interpret(Some(r#"{"battery":5}"#)), later));
        assert_eq!(u.last_changed, changed_at);
        assert_eq!(u.last_updated, later);
    }

    #[test]
    fn state_object_has_the_documented_attributes() {
        let mut u = unit(UnitKind::Dimmer);
        apply(&mut u, Some("47.5"));
        let json = serde_json::to_value(u.entity_state()).unwrap();
        assert_eq!(json["entity_id"], "light.brightness");
        assert_eq!(json["state"], "on");
        assert_eq!(json["attributes"]["value"], 47.5);
        assert_eq!(json["attributes"]["friendly_name"], "Brightness");
        assert_eq!(json["attributes"]["address"], "BRIGHTNESS");
        assert_eq!(json["attributes"]["kind"], "dimmer");
        assert!(json["last_changed"].as_str().unwrap().ends_with("+00:00"));
    }
}
