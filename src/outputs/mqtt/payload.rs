//! What goes over the wire, as pure functions: the topics, a unit's state
//! and attributes payloads, its Home Assistant discovery config, and a
//! `…/set` payload read as a unit command. No socket here, so every shape
//! is tested on its own.

use serde_json::{Map, Value, json};

use crate::config::{MqttOutConfig, UnitConfig, UnitKind};
use crate::interpret::{Command, Number, parse_number};
use crate::units::EntityState;

/// Home Assistant's brightness scale in the discovery config: a homebus
/// dimmer's value is a level from 0 to 100, as XTension's are.
pub const BRIGHTNESS_SCALE: u32 = 100;

/// The topics of one hub, from `[mqtt_out]`.
#[derive(Debug, Clone)]
pub struct Topics {
    /// `prefix`.
    prefix: String,
    /// `discovery_prefix`; empty when discovery is off.
    discovery_prefix: String,
    /// The node, the first part of each discovery object id.
    node: String,
}

impl Topics {
    /// The topics `config` describes.
    pub fn new(config: &MqttOutConfig) -> Self {
        Topics {
            prefix: config.prefix.clone(),
            discovery_prefix: config.discovery_prefix.clone(),
            node: config.node.clone(),
        }
    }

    /// `<prefix>/status`: `online`/`offline`, with the last will.
    pub fn availability(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// `<prefix>/<entity_id>/state`.
    pub fn state(&self, entity_id: &str) -> String {
        format!("{}/{entity_id}/state", self.prefix)
    }

    /// `<prefix>/<entity_id>/attributes`.
    pub fn attributes(&self, entity_id: &str) -> String {
        format!("{}/{entity_id}/attributes", self.prefix)
    }

    /// `<prefix>/<entity_id>/set`.
    pub fn command(&self, entity_id: &str) -> String {
        format!("{}/{entity_id}/set", self.prefix)
    }

    /// The subscription for every unit's commands: `<prefix>/+/set`.
    pub fn commands_filter(&self) -> String {
        format!("{}/+/set", self.prefix)
    }

    /// The entity id of a `<prefix>/<entity_id>/set` topic.
    pub fn command_entity<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let id = rest.strip_suffix("/set")?;
        (!id.is_empty() && !id.contains('/')).then_some(id)
    }

    /// Whether discovery is on (`discovery_prefix` not empty).
    pub fn discovery(&self) -> bool {
        !self.discovery_prefix.is_empty()
    }

    /// `<discovery_prefix>/status`, where Home Assistant says `online` when
    /// it (re)starts.
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery_prefix)
    }

    /// Every discovery config topic, to find the ones this node published
    /// before: `<discovery_prefix>/+/+/config` (a `+` cannot be part of a
    /// level, so the node is checked by [`Topics::is_own_config`]).
    pub fn configs_filter(&self) -> String {
        format!("{}/+/+/config", self.discovery_prefix)
    }

    /// `<discovery_prefix>/<component>/<node>_<object_id>/config`.
    pub fn config(&self, component: &str, entity_id: &str) -> String {
        format!(
            "{}/{component}/{}/config",
            self.discovery_prefix,
            self.object_id(entity_id)
        )
    }

    /// Whether a discovery config topic is one this node publishes.
    pub fn is_own_config(&self, topic: &str) -> bool {
        let Some(rest) = topic
            .strip_prefix(&self.discovery_prefix)
            .and_then(|r| r.strip_prefix('/'))
        else {
            return false;
        };
        let mut parts = rest.split('/');
        let (_, object, config) = (parts.next(), parts.next(), parts.next());
        config == Some("config")
            && parts.next().is_none()
            && object.is_some_and(|o| o.starts_with(&format!("{}_", self.node)))
    }

    /// `<node>_<object_id>`: the entity id's object part, after its domain.
    fn object_id(&self, entity_id: &str) -> String {
        let object = entity_id.split_once('.').map_or(entity_id, |(_, o)| o);
        format!("{}_{object}", self.node)
    }

    /// `<node>_<domain>_<object_id>`: unique over every domain of a node.
    fn unique_id(&self, entity_id: &str) -> String {
        format!("{}_{}", self.node, entity_id.replace('.', "_"))
    }
}

/// How a unit appears in Home Assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// A switch HA can toggle.
    Switch,
    /// A dimmer: HA's MQTT light, JSON schema, with brightness.
    Light,
    /// A reading.
    Sensor,
    /// A read-only on/off (motion, door).
    BinarySensor,
}

impl Component {
    /// The component of a unit of `kind`; `binary_sensor` from its config.
    pub fn of(kind: UnitKind, binary_sensor: bool) -> Self {
        match kind {
            UnitKind::Switch if binary_sensor => Component::BinarySensor,
            UnitKind::Switch => Component::Switch,
            UnitKind::Dimmer => Component::Light,
            UnitKind::Sensor => Component::Sensor,
        }
    }

    /// HA's name of the component, the discovery topic's second level.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Switch => "switch",
            Component::Light => "light",
            Component::Sensor => "sensor",
            Component::BinarySensor => "binary_sensor",
        }
    }

    /// Whether HA may send commands to it.
    fn takes_commands(self) -> bool {
        matches!(self, Component::Switch | Component::Light)
    }
}

/// A unit's kind from its state's `kind` attribute (every unit has one).
pub fn kind_of(state: &EntityState) -> Option<UnitKind> {
    match state.attributes.get("kind").and_then(Value::as_str)? {
        "switch" => Some(UnitKind::Switch),
        "dimmer" => Some(UnitKind::Dimmer),
        "sensor" => Some(UnitKind::Sensor),
        _ => None,
    }
}

/// The state topic's payload: `ON`/`OFF` for a switch, HA's JSON-schema
/// light object for a dimmer (`{"state":"ON","brightness":47}`), the
/// reading for a sensor. `None` while the unit is `unknown`: nothing is
/// known to publish yet.
pub fn state_payload(state: &EntityState) -> Option<String> {
    if state.state == "unknown" {
        return None;
    }
    let on_off = |s: &str| match s {
        "on" => "ON".to_string(),
        "off" => "OFF".to_string(),
        other => other.to_string(),
    };
    Some(match kind_of(state) {
        Some(UnitKind::Switch) => on_off(&state.state),
        Some(UnitKind::Dimmer) => {
            let mut light = Map::new();
            light.insert("state".into(), on_off(&state.state).into());
            if let Some(level) = state.attributes.get("value").and_then(Value::as_f64) {
                light.insert("brightness".into(), json!(level.round() as i64));
            }
            Value::Object(light).to_string()
        }
        Some(UnitKind::Sensor) | None => state.state.clone(),
    })
}

/// The attributes topic's payload: the state's attributes as JSON.
pub fn attributes_payload(state: &EntityState) -> String {
    Value::Object(state.attributes.clone()).to_string()
}

/// The discovery config of one unit: its component and the retained JSON
/// HA reads. `unit` is the unit's `[[unit]]`, when it has one (units a
/// source created have none).
pub fn discovery_config(
    topics: &Topics,
    state: &EntityState,
    unit: Option<&UnitConfig>,
) -> Option<(Component, String)> {
    let kind = kind_of(state)?;
    let component = Component::of(kind, unit.is_some_and(|u| u.binary_sensor));
    let id = &state.entity_id;
    let name = state
        .attributes
        .get("friendly_name")
        .and_then(Value::as_str)
        .unwrap_or(id);
    let mut config = json!({
        "unique_id": topics.unique_id(id),
        "name": name,
        "state_topic": topics.state(id),
        "json_attributes_topic": topics.attributes(id),
        "availability_topic": topics.availability(),
        "device": {
            "identifiers": [format!("homebus_{}", topics.node)],
            "name": format!("homebus {}", topics.node),
            "manufacturer": "homebus",
            "model": "homebus hub",
            "sw_version": env!("CARGO_PKG_VERSION"),
        },
    });
    let fields = config.as_object_mut().expect("a JSON object");
    if component.takes_commands() {
        fields.insert("command_topic".into(), topics.command(id).into());
    }
    if component == Component::Light {
        fields.insert("schema".into(), "json".into());
        fields.insert("brightness".into(), true.into());
        fields.insert("brightness_scale".into(), BRIGHTNESS_SCALE.into());
    }
    let unit_of_measurement = state
        .attributes
        .get("unit_of_measurement")
        .and_then(Value::as_str);
    if let Some(uom) = unit_of_measurement {
        fields.insert("unit_of_measurement".into(), uom.into());
    }
    if let Some(class) = unit.and_then(|u| u.device_class.as_deref()) {
        fields.insert("device_class".into(), class.into());
    }
    Some((component, config.to_string()))
}

/// Why a `…/set` payload is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCommand {
    /// Not UTF-8 text.
    #[error("the payload is not UTF-8 text")]
    NotText,
    /// Text that is none of the accepted forms.
    #[error(
        "`{0}` is not a command; send ON, OFF, TOGGLE, a number, or JSON like {{\"state\":\"ON\",\"brightness\":128}}"
    )]
    Unknown(String),
}

/// Reads a `…/set` payload: `ON`, `OFF`, `TOGGLE` (any case; `TOGGLE`
/// turns `on` off and anything else on), a number (the unit's value), or
/// HA's JSON light command (`{"state":"ON","brightness":128}`: a
/// brightness sets the value, else the state turns it on or off).
/// `current` is the unit's state now, for `TOGGLE`.
pub fn read_command(payload: &[u8], current: &str) -> Result<Command, BadCommand> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| BadCommand::NotText)?
        .trim();
    let unknown = || {
        let shown: String = text.chars().take(80).collect();
        BadCommand::Unknown(shown)
    };
    match text.to_ascii_uppercase().as_str() {
        "ON" => return Ok(Command::On),
        "OFF" => return Ok(Command::Off),
        "TOGGLE" if current == "on" => return Ok(Command::Off),
        "TOGGLE" => return Ok(Command::On),
        _ => {}
    }
    if let Some(number) = parse_number(text) {
        return Ok(Command::SetValue(number));
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Err(unknown());
    };
    let state = object.get("state").and_then(Value::as_str);
    let brightness = object.get("brightness").and_then(Value::as_f64);
    match (state.map(str::to_ascii_uppercase).as_deref(), brightness) {
        (Some("OFF"), _) => Ok(Command::Off),
        (_, Some(level)) if level.is_finite() => Ok(Command::SetValue(Number::from_f64(level))),
        (Some("ON"), None) => Ok(Command::On),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::config::parse_str;

    fn topics() -> Topics {
        let config = parse_str(
            "[mqtt_out]\nurl = \"mqtt://h\"\n",
            std::path::Path::new("homebus.toml"),
        )
        .unwrap();
        let mut out = config.mqtt_out.unwrap();
        out.node = "pi".into();
        Topics::new(&out)
    }

    fn state(entity_id: &str, kind: &str, state: &str, value: Option<f64>) -> EntityState {
        let mut attributes = Map::new();
        attributes.insert("kind".into(), kind.into());
        attributes.insert("friendly_name".into(), "Hall".into());
        if let Some(v) = value {
            attributes.insert("value".into(), json!(v));
        }
        EntityState {
            entity_id: entity_id.into(),
            state: state.into(),
            attributes,
            last_changed: Utc::now(),
            last_updated: Utc::now(),
        }
    }

    #[test]
    fn switches_publish_on_and_off_in_capitals() {
        assert_eq!(
            state_payload(&state("switch.a", "switch", "on", None)).as_deref(),
            Some("ON")
        );
        assert_eq!(
            state_payload(&state("switch.a", "switch", "off", None)).as_deref(),
            Some("OFF")
        );
    }

    #[test]
    fn dimmers_publish_the_json_light_shape_with_brightness() {
        let payload = state_payload(&state("light.a", "dimmer", "on", Some(47.0))).unwrap();
        let value: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(value, json!({"state": "ON", "brightness": 47}));
    }

    #[test]
    fn sensors_publish_the_reading_and_unknown_publishes_nothing() {
        assert_eq!(
            state_payload(&state("sensor.t", "sensor", "21.5", Some(21.5))).as_deref(),
            Some("21.5")
        );
        assert_eq!(
            state_payload(&state("sensor.t", "sensor", "unknown", None)),
            None
        );
    }

    #[test]
    fn command_topics_name_their_entity_and_nothing_else() {
        let t = topics();
        assert_eq!(t.command_entity("homebus/switch.a/set"), Some("switch.a"));
        assert_eq!(t.command_entity("homebus/switch.a/state"), None);
        assert_eq!(t.command_entity("homebus/a/b/set"), None);
        assert_eq!(t.command_entity("other/switch.a/set"), None);
    }

    #[test]
    fn own_discovery_topics_are_told_from_other_nodes() {
        let t = topics();
        assert!(t.is_own_config("homeassistant/switch/pi_a/config"));
        assert!(!t.is_own_config("homeassistant/switch/pie_a/config"));
        assert!(!t.is_own_config("homeassistant/switch/other_a/config"));
        assert_eq!(
            t.config("switch", "switch.a"),
            "homeassistant/switch/pi_a/config"
        );
    }

    #[test]
    fn a_dimmer_is_discovered_as_a_json_light_with_brightness_and_commands() {
        let (component, config) =
            discovery_config(&topics(), &state("light.hall", "dimmer", "on", None), None).unwrap();
        assert_eq!(component, Component::Light);
        let v: Value = serde_json::from_str(&config).unwrap();
        assert_eq!(v["unique_id"], "pi_light_hall");
        assert_eq!(v["name"], "Hall");
        assert_eq!(v["state_topic"], "homebus/light.hall/state");
        assert_eq!(v["command_topic"], "homebus/light.hall/set");
        assert_eq!(v["json_attributes_topic"], "homebus/light.hall/attributes");
        assert_eq!(v["availability_topic"], "homebus/status");
        assert_eq!(v["schema"], "json");
        assert_eq!(v["brightness"], true);
        assert_eq!(v["device"]["identifiers"][0], "homebus_pi");
    }

    #[test]
    fn a_switch_marked_binary_sensor_has_no_command_topic_and_keeps_its_device_class() {
        let unit = UnitConfig {
            address: "DOOR".into(),
            entity_id: None,
            kind: UnitKind::Switch,
            name: None,
            unit_of_measurement: None,
            device_class: Some("door".into()),
            binary_sensor: true,
            scripts: Default::default(),
        };
        let (component, config) = discovery_config(
            &topics(),
            &state("switch.door", "switch", "off", None),
            Some(&unit),
        )
        .unwrap();
        assert_eq!(component, Component::BinarySensor);
        let v: Value = serde_json::from_str(&config).unwrap();
        assert!(v.get("command_topic").is_none());
        assert_eq!(v["device_class"], "door");
    }

    #[test]
    fn set_payloads_read_as_commands() {
        assert_eq!(read_command(b"ON", "off"), Ok(Command::On));
        assert_eq!(read_command(b" off ", "on"), Ok(Command::Off));
        assert_eq!(read_command(b"TOGGLE", "on"), Ok(Command::Off));
        assert_eq!(read_command(b"toggle", "off"), Ok(Command::On));
        assert_eq!(
            read_command(b"42", "off"),
            Ok(Command::SetValue(Number::from_f64(42.0)))
        );
        assert_eq!(
            read_command(br#"{"state":"ON","brightness":128}"#, "off"),
            Ok(Command::SetValue(Number::from_f64(128.0)))
        );
        assert_eq!(read_command(br#"{"state":"ON"}"#, "off"), Ok(Command::On));
        assert_eq!(
            read_command(br#"{"state":"OFF","brightness":3}"#, "on"),
            Ok(Command::Off)
        );
    }

    #[test]
    fn bad_set_payloads_are_refused_with_the_accepted_forms() {
        assert_eq!(read_command(&[0xff, 0xfe], "on"), Err(BadCommand::NotText));
        let err = read_command(b"banana", "on").unwrap_err();
        assert!(err.to_string().contains("send ON, OFF, TOGGLE"), "{err}");
        assert!(read_command(br#"{"colour":"red"}"#, "on").is_err());
        assert!(read_command(b"", "on").is_err());
    }
}
