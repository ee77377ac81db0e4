//! The registry of all units, found by address (ASCII case ignored) or entity id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::UnitConfig;
use super::{EntityState, Unit, UnitKind};
use crate::interpret::{Command, Reading};

/// Why a unit could not be added or found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// Two units share an address.
    #[error("two units have the address `{0}` (addresses ignore case); give each unit its own")]
    DuplicateAddress(String),
    /// Two units share an entity id.
    #[error("two units have the entity id `{0}`; set `entity_id` on one of them")]
    DuplicateEntityId(String),
    /// No unit has this address.
    #[error("no unit has the address `{0}`")]
    UnknownAddress(String),
    /// No unit has this entity id.
    #[error("no unit has the entity id `{0}`")]
    UnknownEntity(String),
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// No unit has that address, and none was created.
    NoUnit,
    /// The unit exists and nothing changed (its `last_updated` was refreshed).
    Unchanged,
    /// The state or attributes changed; `old` is `None` for a new unit.
    Changed {
        /// State before, or `None` when the unit was just created.
        old: Option<EntityState>,
        /// State after.
        new: EntityState,
    },
}

/// All units, by lower-cased address, with an index by entity id.
#[derive(Debug, Default)]
pub struct UnitRegistry {
    /// Units keyed by address lower-cased (ASCII).
    by_address: HashMap<String, Unit>,
    /// Entity id → lower-cased address.
    by_entity: HashMap<String, String>,
}

impl UnitRegistry {
    /// A registry holding the configured units, in state `unknown`.
    pub fn from_config(units: &[UnitConfig]) -> Result<Self, UnitError> {
        let mut registry = UnitRegistry::default();
        for config in units {
            let mut unit = Unit::new(
                &config.address,
                config.kind,
                config.entity_id.clone(),
                config.name.clone(),
            );
            unit.unit_of_measurement = config.unit_of_measurement.clone();
            registry.insert(unit)?;
        }
        Ok(registry)
    }

    /// Adds a unit; refuses a duplicate address or entity id.
    pub fn insert(&mut self, unit: Unit) -> Result<(), UnitError> {
        let key = unit.address.to_ascii_lowercase();
        if self.by_address.contains_key(&key) {
            return Err(UnitError::DuplicateAddress(unit.address));
        }
        if self.by_entity.contains_key(&unit.entity_id) {
            return Err(UnitError::DuplicateEntityId(unit.entity_id));
        }
        self.by_entity.insert(unit.entity_id.clone(), key.clone());
        self.by_address.insert(key, unit);
        Ok(())
    }

    /// Replaces a unit's state with a restored one (same address), or adds it.
    pub fn restore(&mut self, unit: Unit) {
        let key = unit.address.to_ascii_lowercase();
        if let Some(old) = self.by_address.remove(&key) {
            self.by_entity.remove(&old.entity_id);
        }
        self.by_entity.insert(unit.entity_id.clone(), key.clone());
        self.by_address.insert(key, unit);
    }

    /// Removes a unit; returns its last state.
    pub fn remove(&mut self, address: &str) -> Option<EntityState> {
        let unit = self.by_address.remove(&address.to_ascii_lowercase())?;
        self.by_entity.remove(&unit.entity_id);
        Some(unit.entity_state())
    }

    /// The unit with this address (ASCII case ignored).
    pub fn by_address(&self, address: &str) -> Option<&Unit> {
        self.by_address.get(&address.to_ascii_lowercase())
    }

    /// The unit with this entity id.
    pub fn by_entity_id(&self, entity_id: &str) -> Option<&Unit> {
        self.by_entity
            .get(entity_id)
            .and_then(|key| self.by_address.get(key))
    }

    /// Every unit's state, sorted by entity id.
    pub fn states(&self) -> Vec<EntityState> {
        let mut states: Vec<EntityState> =
            self.by_address.values().map(Unit::entity_state).collect();
        states.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
        states
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Whether there are no units.
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// Applies a command to the unit at `address`. With `create`, an unknown
    /// address gets a new unit whose kind follows the command (on/off, no
    /// data, or a JSON object whose `on`/`state` reads as on/off → switch; a
    /// number or another JSON object → sensor; text creates none).
    pub fn apply(
        &mut self,
        address: &str,
        command: &Command,
        create: bool,
        now: DateTime<Utc>,
    ) -> Applied {
        let key = address.to_ascii_lowercase();
        let mut old = self.by_address.get(&key).map(Unit::entity_state);
        if old.is_none() {
            let Some(kind) = create.then(|| kind_for(command)).flatten() else {
                return Applied::NoUnit;
            };
            let unit = Unit::new(address, kind, None, None);
            if let Err(e) = self.insert(unit) {
                tracing::warn!(address, "cannot create a unit: {e}");
                return Applied::NoUnit;
            }
            old = None;
            let unit = self.by_address.get_mut(&key).expect("just inserted");
            unit.apply(command, now);
            return Applied::Changed {
                old,
                new: unit.entity_state(),
            };
        }
        let unit = self.by_address.get_mut(&key).expect("checked above");
        if unit.apply(command, now) {
            Applied::Changed {
                old,
                new: unit.entity_state(),
            }
        } else {
            Applied::Unchanged
        }
    }

    /// Applies a command to the unit with this entity id.
    pub fn apply_to_entity(
        &mut self,
        entity_id: &str,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<Applied, UnitError> {
        let address = self
            .by_entity_id(entity_id)
            .map(|u| u.address.clone())
            .ok_or_else(|| UnitError::UnknownEntity(entity_id.to_string()))?;
        Ok(self.apply(&address, command, false, now))
    }
}

/// The kind a new unit gets from its first command, or `None` for plain text.
pub(super) fn kind_for(command: &Command) -> Option<UnitKind> {
    match command {
        Command::On | Command::Off => Some(UnitKind::Switch),
        Command::SetValue(_) => Some(UnitKind::Sensor),
        Command::Attributes { readings, .. } => match readings.first() {
            Some(Reading::On | Reading::Off) => Some(UnitKind::Switch),
            _ => Some(UnitKind::Sensor),
        },
        Command::Text(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interpret::interpret;

    fn registry() -> UnitRegistry {
        let mut r = UnitRegistry::default();
        r.insert(Unit::new("Motion", UnitKind::Switch, None, None))
            .unwrap();
        r
    }

    #[test]
    fn addresses_match_ignoring_ascii_case() {
        let mut r = registry();
        let applied = r.apply("MOTION", &interpret(None), false, Utc::now());
        assert!(matches!(applied, Applied::Changed { old: Some(_), .. }));
        assert_eq!(r.by_address("motion").unwrap().state_text(), "on");
    }

    #[test]
    fn unknown_address_without_create_is_no_unit() {
        let mut r = registry();
        assert_eq!(
            r.apply("Door", &interpret(None), false, Utc::now()),
            Applied::NoUnit
        );
        assert!(r.by_address("door").is_none());
    }

    #[test]
    fn create_units_makes_a_sensor_from_a_number() {
        let mut r = registry();
        let applied = r.apply("temperature", &interpret(Some("21,5")), true, Utc::now());
        let Applied::Changed { old: None, new } = applied else {
            panic!("{applied:?}")
        };
        assert_eq!(new.entity_id, "sensor.temperature");
        assert_eq!(new.state, "21.5");
    }

    #[test]
    fn create_units_makes_a_switch_from_on() {
        let mut r = registry();
        r.apply("Door", &interpret(Some("on")), true, Utc::now());
        assert_eq!(r.by_address("door").unwrap().kind, UnitKind::Switch);
    }

    #[test]
    fn create_units_makes_nothing_from_text() {
        let mut r = registry();
        assert_eq!(
            r.apply("Door", &interpret(Some("hello")), true, Utc::now()),
            Applied::NoUnit
        );
    }

    #[test]
    fn duplicate_addresses_are_refused_ignoring_case() {
        let mut r = registry();
        let e = r.insert(Unit::new(
            "MOTION",
            UnitKind::Sensor,
            Some("sensor.x".into()),
            None,
        ));
        assert_eq!(e, Err(UnitError::DuplicateAddress("MOTION".into())));
    }

    #[test]
    fn units_are_found_by_entity_id() {
        let r = registry();
        assert_eq!(r.by_entity_id("switch.motion").unwrap().address, "Motion");
    }
}
