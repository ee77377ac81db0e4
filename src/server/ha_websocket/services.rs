//! The services homebus does for HA clients (`get_services`,
//! `call_service`), the config it reports (`get_config`) and the user a
//! credential stands for (`auth/current_user`).
//!
//! A service call becomes unit commands through [`Hub::command`], the same
//! path as `POST /api/units/{address}/command`, so scripts and the bus see
//! no difference.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::protocol::{CommandError, ErrorCode, HA_VERSION};
use super::shapes::Context;
use crate::hub::Hub;
use crate::interpret::{Command, Number};

/// Domains whose entities turn on and off.
const ON_OFF_DOMAINS: [&str; 3] = ["switch", "light", "input_boolean"];
/// Domains whose entities take a number.
const VALUE_DOMAINS: [&str; 2] = ["number", "input_number"];
/// HA's domain whose services act on an entity of any domain.
const ANY_DOMAIN: &str = "homeassistant";

/// What a connection authenticated with; `auth/current_user` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// One of `[auth]`'s API keys.
    ApiKey,
    /// A JWT signed with `[auth]`'s secret.
    Token,
    /// No `[auth]`: the API is open and any token is taken.
    Open,
}

/// `auth/current_user`: every credential homebus accepts has full access.
pub fn current_user(credential: Credential) -> Value {
    let (id, name) = match credential {
        Credential::ApiKey => ("homebus-api-key", "API key"),
        Credential::Token => ("homebus-token", "Token"),
        Credential::Open => ("homebus-open", "Open access"),
    };
    json!({
        "id": id,
        "name": name,
        "is_owner": true,
        "is_admin": true,
        "credentials": [],
        "mfa_modules": [],
    })
}

/// The domains of the hub's units, sorted.
fn unit_domains(hub: &Hub) -> BTreeSet<String> {
    hub.states()
        .iter()
        .filter_map(|s| s.entity_id.split_once('.').map(|(d, _)| d.to_string()))
        .collect()
}

/// `get_config`: HA's fields, filled from what homebus knows. `host` is
/// the `Host` the client connected to, for `internal_url`.
pub fn config(hub: &Hub, host: Option<&str>) -> Value {
    let mut components: BTreeSet<String> = unit_domains(hub);
    for always in ["api", "homeassistant", "websocket_api"] {
        components.insert(always.to_string());
    }
    let time_zone = std::env::var("TZ")
        .ok()
        .filter(|tz| !tz.is_empty() && !tz.starts_with(':'))
        .unwrap_or_else(|| "UTC".to_string());
    json!({
        "latitude": 0.0,
        "longitude": 0.0,
        "elevation": 0,
        "radius": 100,
        "unit_system": {
            "length": "km",
            "accumulated_precipitation": "mm",
            "area": "m²",
            "mass": "g",
            "pressure": "Pa",
            "temperature": "°C",
            "volume": "L",
            "wind_speed": "m/s",
        },
        "location_name": "homebus",
        "time_zone": time_zone,
        "components": components,
        "config_dir": "",
        "allowlist_external_dirs": [],
        "allowlist_external_urls": [],
        "version": HA_VERSION,
        "config_source": "yaml",
        "recovery_mode": false,
        "safe_mode": false,
        "state": "RUNNING",
        "external_url": null,
        "internal_url": host.map(|h| format!("http://{h}")),
        "currency": "EUR",
        "country": null,
        "language": "en",
        "debug": false,
    })
}

/// `get_services`: `homeassistant`'s services, and those of each on/off
/// or numeric domain the hub has units in.
pub fn services(hub: &Hub) -> Value {
    let mut out = Map::new();
    out.insert(ANY_DOMAIN.into(), on_off_services(None));
    for domain in unit_domains(hub) {
        if ON_OFF_DOMAINS.contains(&domain.as_str()) {
            let services = on_off_services(Some(&domain));
            out.insert(domain, services);
        } else if VALUE_DOMAINS.contains(&domain.as_str()) {
            let services = json!({"set_value": {
                "name": "Set",
                "description": "Sets the value.",
                "fields": {"value": field("Value", "The value to set.", json!({"number": {}}))},
                "target": target(&domain),
            }});
            out.insert(domain, services);
        }
    }
    Value::Object(out)
}

fn field(name: &str, description: &str, selector: Value) -> Value {
    json!({"name": name, "description": description, "required": false, "selector": selector})
}

fn target(domain: &str) -> Value {
    json!({"entity": [{"domain": [domain]}]})
}

fn on_off_services(domain: Option<&str>) -> Value {
    let target = domain.map_or_else(|| json!({"entity": [{}]}), target);
    let mut turn_on_fields = Map::new();
    if domain == Some("light") {
        turn_on_fields.insert(
            "brightness_pct".into(),
            field(
                "Brightness",
                "Brightness in percent; 0 turns the light off.",
                json!({"number": {"min": 0, "max": 100, "unit_of_measurement": "%"}}),
            ),
        );
        turn_on_fields.insert(
            "brightness".into(),
            field(
                "Brightness value",
                "Brightness from 0 to 255.",
                json!({"number": {"min": 0, "max": 255}}),
            ),
        );
    }
    json!({
        "turn_on": {"name": "Turn on", "description": "Turns the entities on.",
                    "fields": turn_on_fields, "target": target},
        "turn_off": {"name": "Turn off", "description": "Turns the entities off.",
                     "fields": {}, "target": target},
        "toggle": {"name": "Toggle", "description": "Turns the entities on if off, off if on.",
                   "fields": {}, "target": target},
    })
}

/// What a service asks of each entity.
enum Action {
    /// The same command for every entity.
    Each(Command),
    /// On if off, off if on.
    Toggle,
}

/// `call_service`: the command for `domain.service` with `service_data`,
/// applied to every entity named in `target.entity_id` or
/// `service_data.entity_id`. Every entity is checked before any is changed.
pub fn call_service(hub: &Hub, body: &Map<String, Value>) -> Result<Value, CommandError> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
    let (domain, service) = (text("domain"), text("service"));
    let empty = Map::new();
    let data = body
        .get("service_data")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let action = action(domain, service, data)?;
    let mut entity_ids = Vec::new();
    for place in [
        body.get("target").and_then(|t| t.get("entity_id")),
        data.get("entity_id"),
    ] {
        entity_ids.extend(place.into_iter().flat_map(entity_list));
    }
    if entity_ids.is_empty() {
        return Err(CommandError::new(
            ErrorCode::InvalidFormat,
            format!(
                "{domain}.{service} needs entities: send \"target\": {{\"entity_id\": \
                 \"light.kitchen\"}} (one id or a list)"
            ),
        ));
    }
    let mut units = Vec::with_capacity(entity_ids.len());
    for entity_id in &entity_ids {
        let unit = hub.with_registry(|r| {
            r.by_entity_id(entity_id)
                .map(|u| (u.address.clone(), u.state_text() == "on"))
        });
        units.push(unit.ok_or_else(|| {
            CommandError::new(
                ErrorCode::NotFound,
                format!("Entity {entity_id} not found: see get_states for the entities there are"),
            )
        })?);
    }
    for (address, on) in units {
        let command = match &action {
            Action::Each(command) => command.clone(),
            Action::Toggle if on => Command::Off,
            Action::Toggle => Command::On,
        };
        hub.command(&address, &command)
            .map_err(|error| CommandError::new(ErrorCode::HomeAssistantError, error.to_string()))?;
    }
    Ok(json!({ "context": Context::fresh() }))
}

fn action(domain: &str, service: &str, data: &Map<String, Value>) -> Result<Action, CommandError> {
    let on_off = domain == ANY_DOMAIN || ON_OFF_DOMAINS.contains(&domain);
    let valued = VALUE_DOMAINS.contains(&domain);
    match service {
        "turn_on" if on_off => Ok(Action::Each(turn_on(data)?)),
        "turn_off" if on_off => Ok(Action::Each(Command::Off)),
        "toggle" if on_off => Ok(Action::Toggle),
        "set_value" if valued => match data.get("value") {
            Some(value) => Ok(Action::Each(Command::SetValue(number(value, "value")?))),
            None => Err(CommandError::new(
                ErrorCode::InvalidFormat,
                format!("{domain}.set_value needs service_data.value, a number"),
            )),
        },
        _ => Err(CommandError::new(
            ErrorCode::NotFound,
            format!(
                "Service {domain}.{service} not found: homebus does turn_on, turn_off and toggle \
                 for {}, and set_value for {}",
                [ANY_DOMAIN]
                    .iter()
                    .chain(&ON_OFF_DOMAINS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
                VALUE_DOMAINS.join(", ")
            ),
        )),
    }
}

/// `turn_on`'s command: a level from `brightness_pct`, `brightness`
/// (0–255, as a percentage of 255) or `value`, else plain On.
fn turn_on(data: &Map<String, Value>) -> Result<Command, CommandError> {
    if let Some(pct) = data.get("brightness_pct") {
        return Ok(Command::SetValue(number(pct, "brightness_pct")?));
    }
    if let Some(brightness) = data.get("brightness") {
        let level = number(brightness, "brightness")?.value;
        let pct = (level.clamp(0.0, 255.0) * 100.0 / 255.0).round();
        return Ok(Command::SetValue(Number::from_f64(pct)));
    }
    if let Some(value) = data.get("value") {
        return Ok(Command::SetValue(number(value, "value")?));
    }
    Ok(Command::On)
}

/// A finite number from JSON (also written as a string, `"47,5"`).
fn number(value: &Value, name: &str) -> Result<Number, CommandError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64().map(Number::from_f64),
        Value::String(s) => crate::interpret::parse_number(s),
        _ => None,
    };
    parsed.filter(|n| n.value.is_finite()).ok_or_else(|| {
        CommandError::new(
            ErrorCode::InvalidFormat,
            format!("service_data.{name} must be a number, not {value}"),
        )
    })
}

/// Entity ids as HA takes them: one id, a comma list, or an array.
fn entity_list(value: &Value) -> Vec<String> {
    let split = |s: &str| {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    match value {
        Value::String(s) => split(s),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(split)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn brightness_pct_sets_the_level() {
        let command = turn_on(&data(json!({"brightness_pct": 50}))).unwrap();
        assert!(matches!(command, Command::SetValue(n) if n.value == 50.0));
    }

    #[test]
    fn brightness_is_a_share_of_255() {
        let command = turn_on(&data(json!({"brightness": 255}))).unwrap();
        assert!(matches!(command, Command::SetValue(n) if n.value == 100.0));
    }

    #[test]
    fn a_non_numeric_level_is_invalid_format() {
        let error = turn_on(&data(json!({"brightness_pct": "bright"})))
            .err()
            .unwrap();
        assert_eq!(error.code, ErrorCode::InvalidFormat);
    }

    #[test]
    fn an_unknown_service_is_not_found() {
        let error = action("light", "explode", &Map::new()).err().unwrap();
        assert_eq!(error.code, ErrorCode::NotFound);
        let error = action("sensor", "turn_on", &Map::new()).err().unwrap();
        assert_eq!(error.code, ErrorCode::NotFound);
    }

    #[test]
    fn set_value_needs_a_value() {
        assert!(action("number", "set_value", &Map::new()).is_err());
        assert!(matches!(
            action("input_number", "set_value", &data(json!({"value": "4,5"}))),
            Ok(Action::Each(Command::SetValue(n))) if n.value == 4.5
        ));
    }

    #[test]
    fn entity_ids_come_as_one_a_comma_list_or_an_array() {
        assert_eq!(entity_list(&json!("light.a")), ["light.a"]);
        assert_eq!(
            entity_list(&json!("light.a, light.b")),
            ["light.a", "light.b"]
        );
        assert_eq!(
            entity_list(&json!(["light.a", "switch.b"])),
            ["light.a", "switch.b"]
        );
    }
}
