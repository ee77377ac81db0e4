//! `[[unit]]`: the units declared up front, what kinds exist and the entity
//! id a unit gets when it sets none, read with the config file's toolkit;
//! `config` holds the list, the registry is built from it.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config_file::read::Section;
use crate::config_file::report::Report;
use crate::config_file::script::ScriptText;

/// Keys of `[[unit]]`.
pub(crate) const UNIT_KEYS: &[&str] = &[
    "address",
    "entity_id",
    "kind",
    "name",
    "unit_of_measurement",
    "device_class",
    "binary_sensor",
    "on_script",
    "off_script",
    "value_script",
];

const UNIT_KINDS: &[(&str, UnitKind)] = &[
    ("switch", UnitKind::Switch),
    ("dimmer", UnitKind::Dimmer),
    ("sensor", UnitKind::Sensor),
];

/// `[[unit]]`: a named unit that events address.
#[derive(Debug, Clone)]
pub struct UnitConfig {
    /// The event name that drives this unit (ASCII case ignored).
    pub address: String,
    /// Home Assistant entity id; default `<domain>.<address>`.
    pub entity_id: Option<String>,
    /// `switch`, `dimmer` or `sensor`.
    pub kind: UnitKind,
    /// Friendly name; default: the address.
    pub name: Option<String>,
    /// Unit of measurement shown with the value (e.g. `°C`).
    pub unit_of_measurement: Option<String>,
    /// Home Assistant `device_class` given in MQTT discovery (`temperature`,
    /// `motion`, …), so HA shows the right icon and unit.
    pub device_class: Option<String>,
    /// A switch that HA should show as a read-only `binary_sensor` (a
    /// motion or door contact) rather than a switch it can toggle.
    pub binary_sensor: bool,
    /// `on_script`, `off_script`, `value_script`.
    pub scripts: UnitScripts,
}

/// A unit's scripts (XTension's On, Off and value scripts), each a `.rhai`
/// file or inline code.
#[derive(Debug, Clone, Default)]
pub struct UnitScripts {
    /// `on_script`: runs on every On command to the unit.
    pub on: Option<ScriptText>,
    /// `off_script`: runs on every Off command.
    pub off: Option<ScriptText>,
    /// `value_script`: runs on every value set (`value`, `previous` in scope).
    pub value: Option<ScriptText>,
}

impl UnitScripts {
    /// Each script present, to load and compile them all.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ScriptText> {
        [&mut self.on, &mut self.off, &mut self.value]
            .into_iter()
            .flatten()
    }
}

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

/// `<domain>.<address lower-cased, non-alphanumerics as _>`.
pub fn default_entity_id(kind: UnitKind, address: &str) -> String {
    format!("{}.{}", kind.domain(), object_id(address))
}

/// `text` as a Home Assistant object id: ASCII letters and digits
/// lower-cased, every other character `_`.
pub fn object_id(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// What one `[[unit]]` yields: its config when valid, and what the
/// uniqueness checks need.
pub(crate) struct BuiltUnit {
    /// The unit, if nothing in its own table was wrong.
    pub(crate) config: Option<UnitConfig>,
    /// The address as written.
    pub(crate) address: Option<Spanned<String>>,
    /// The entity id in force and where to point: the `entity_id` value, or
    /// the address when the id is derived from it.
    pub(crate) entity_id: Option<(String, Range<usize>, bool)>,
}

/// One `[[unit]]`.
pub(crate) fn read(report: &mut Report, section: &Section<'_, '_>) -> BuiltUnit {
    let before = report.len();
    let address = section.required_string(report, "address", "\"MOTION\"");
    let kind = match section.value("kind") {
        None => {
            section.missing(report, "kind", "\"switch\"");
            None
        }
        Some(_) => section.choice(report, "kind", UNIT_KINDS),
    };
    let entity_id = section.string(report, "entity_id");
    let name = section.string(report, "name");
    let unit_of_measurement = section.string(report, "unit_of_measurement");
    let device_class = section.string(report, "device_class");
    let binary_sensor = section.bool(report, "binary_sensor").unwrap_or(false);
    if binary_sensor
        && kind
            .as_ref()
            .is_some_and(|k| *k.get_ref() != UnitKind::Switch)
    {
        let span = section
            .key_span("binary_sensor")
            .unwrap_or_else(|| section.span());
        report.add(
            span,
            format!(
                "`binary_sensor = true` in {} is only for units of kind \"switch\" (on/off); \
                 remove it, or make the unit a switch",
                section.label()
            ),
        );
    }
    let scripts = UnitScripts {
        on: section.script(report, "on_script"),
        off: section.script(report, "off_script"),
        value: section.script(report, "value_script"),
    };

    if let Some(id) = &entity_id
        && !is_entity_id(id.get_ref())
    {
        report.add(
            id.span(),
            format!(
                "`entity_id` in {} is `{}`; an entity id is `<domain>.<name>` in lower-case \
                     letters, digits and `_`, e.g. `binary_sensor.hall_motion`",
                section.label(),
                id.get_ref()
            ),
        );
    }
    let effective_id = match (&entity_id, &kind, &address) {
        (Some(id), _, _) => Some((id.get_ref().clone(), id.span(), true)),
        (None, Some(kind), Some(address)) => Some((
            default_entity_id(*kind.get_ref(), address.get_ref()),
            address.span(),
            false,
        )),
        _ => None,
    };
    let valid = report.len() == before;
    let config = match (&address, &kind) {
        (Some(address), Some(kind)) if valid => Some(UnitConfig {
            address: address.get_ref().clone(),
            entity_id: entity_id.map(Spanned::into_inner),
            kind: *kind.get_ref(),
            name: name.map(Spanned::into_inner),
            unit_of_measurement: unit_of_measurement.map(Spanned::into_inner),
            device_class: device_class.map(Spanned::into_inner),
            binary_sensor,
            scripts,
        }),
        _ => None,
    };
    BuiltUnit {
        config,
        address,
        entity_id: effective_id,
    }
}

/// Home Assistant's form: `<domain>.<object id>`, lower-case ASCII letters,
/// digits and `_`.
fn is_entity_id(id: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    matches!(id.split_once('.'), Some((domain, object)) if part_ok(domain) && part_ok(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_entity_id_uses_domain_of_kind_and_cleaned_address() {
        assert_eq!(
            default_entity_id(UnitKind::Dimmer, "Hall Light-2"),
            "light.hall_light_2"
        );
        assert_eq!(
            default_entity_id(UnitKind::Switch, "MOTION"),
            "switch.motion"
        );
        assert_eq!(
            default_entity_id(UnitKind::Sensor, "sensors/12"),
            "sensor.sensors_12"
        );
    }
}
