//! `[mqtt_out]`: the broker homebus publishes every unit to (state,
//! attributes, Home Assistant discovery) and takes commands back from.

use std::path::Path;

use rumqttc::QoS;
use toml::Spanned;

use super::Secret;
use crate::config_file::read::{Env, Section};
use crate::config_file::report::Report;
use crate::sources::ReconnectConfig;
use crate::sources::config::{TypeSection, read_url};
use crate::sources::tls::SourceTls;

/// Keys of `[mqtt_out]`.
pub(super) const MQTT_OUT_KEYS: &[&str] = &[
    "url",
    "tls",
    "username",
    "password",
    "client_id",
    "prefix",
    "discovery_prefix",
    "qos",
    "retain",
    "include",
    "exclude",
    "reconnect",
    "max_backoff",
];

/// `[mqtt_out]`: where and how every unit is published over MQTT.
#[derive(Debug, Clone)]
pub struct MqttOutConfig {
    /// `url`: `mqtt://host:1883`, or `mqtts://host:8883` for TLS (the
    /// system's roots, or `tls`); a user and password may be written in it.
    pub url: String,
    /// `tls = { ca_file, insecure, client_cert, client_key }`, as for an
    /// `mqtt` source, for a broker the system's roots do not vouch for.
    pub tls: Option<SourceTls>,
    /// `username`: the broker user (wins over one in the URL).
    pub username: Option<String>,
    /// `password`: the broker password; may be `"env:NAME"`.
    pub password: Option<Secret>,
    /// `client_id`: the MQTT client id; default `homebus-<node>`. Fixed
    /// rather than random, so the broker replaces a stale session of the
    /// same hub instead of keeping two.
    pub client_id: String,
    /// The node's name (the host name, lower-cased, other characters as
    /// `_`): the discovery object ids are `<node>_<object_id>`, so two hubs
    /// on one broker do not take each other's entities.
    pub node: String,
    /// `prefix`: the topic root; `<prefix>/<entity_id>/state`, `…/set`,
    /// `<prefix>/status`. Default `homebus`.
    pub prefix: String,
    /// `discovery_prefix`: Home Assistant's discovery root, default
    /// `homeassistant`; `""` turns discovery off.
    pub discovery_prefix: String,
    /// `qos`: 0 (at most once) or 1 (at least once, the default).
    pub qos: QoS,
    /// `retain`: whether states are published retained (default `true`), so a
    /// client that subscribes later still gets every unit's state.
    pub retain: bool,
    /// `include`: entity id patterns (`*` any text, `?` one character)
    /// of the units to publish; empty publishes every unit.
    pub include: Vec<String>,
    /// `exclude`: entity id patterns of units never published (wins over
    /// `include`).
    pub exclude: Vec<String>,
    /// `reconnect` and `max_backoff`, as for sources.
    pub reconnect: ReconnectConfig,
}

impl MqttOutConfig {
    /// Whether the unit with this entity id is published (and takes
    /// commands), by `include` and `exclude`.
    pub fn publishes(&self, entity_id: &str) -> bool {
        let included =
            self.include.is_empty() || self.include.iter().any(|p| glob_match(p, entity_id));
        included && !self.exclude.iter().any(|p| glob_match(p, entity_id))
    }
}

/// `*` matches any text (also empty), `?` one character; the rest literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with one backtrack point: linear in
    // practice, never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// This machine's name as an MQTT-safe node name: lower-case ASCII letters,
/// digits and `_`; `homebus` when the name cannot be read.
pub fn node_name() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let cleaned = crate::units::object_id(raw.trim());
    if cleaned.is_empty() {
        "homebus".to_string()
    } else {
        cleaned
    }
}

/// Reads `[mqtt_out]`; `None` when anything in it is wrong (each mistake
/// reported at its place).
pub(super) fn read(
    report: &mut Report,
    section: &Section<'_, '_>,
    env: Env<'_>,
    config_dir: &Path,
) -> Option<MqttOutConfig> {
    let before = report.len();
    let url = read_url(
        report,
        section,
        "[mqtt_out]",
        &["mqtt", "mqtts"],
        "\"mqtt://127.0.0.1:1883\"",
    );
    let input = TypeSection {
        section,
        env,
        config_dir,
        url: url.clone(),
    };
    let tls = SourceTls::read(report, &input, &["mqtts"]);
    let username = section.string(report, "username");
    let password = section.secret(report, "password", env);
    let client_id = section.string(report, "client_id");
    let prefix = section.string(report, "prefix");
    let discovery_prefix = section.string(report, "discovery_prefix");
    let qos = section.integer(report, "qos", 0..=1);
    let retain = section.bool(report, "retain");
    let include = section.strings(report, "include");
    let exclude = section.strings(report, "exclude");
    let reconnect = ReconnectConfig::read(report, section);
    if let Some(id) = &client_id
        && id.get_ref().trim().is_empty()
    {
        report.add(
            id.span(),
            "`client_id` in [mqtt_out] is empty; remove it to use `homebus-<host name>`, \
             or write a name"
                .to_string(),
        );
    }
    if let Some(prefix) = &prefix {
        check_topic_root(report, prefix, "prefix", false);
    }
    if let Some(prefix) = &discovery_prefix {
        check_topic_root(report, prefix, "discovery_prefix", true);
    }
    if report.len() > before {
        return None;
    }
    let node = node_name();
    let patterns = |list: Option<Spanned<Vec<Spanned<String>>>>| -> Vec<String> {
        list.map(|l| {
            l.into_inner()
                .into_iter()
                .map(Spanned::into_inner)
                .collect()
        })
        .unwrap_or_default()
    };
    Some(MqttOutConfig {
        url: url?,
        tls: tls?,
        username: username.map(Spanned::into_inner),
        password,
        client_id: client_id
            .map(Spanned::into_inner)
            .unwrap_or_else(|| format!("homebus-{node}")),
        node,
        prefix: prefix.map_or_else(|| "homebus".to_string(), Spanned::into_inner),
        discovery_prefix: discovery_prefix
            .map_or_else(|| "homeassistant".to_string(), Spanned::into_inner),
        qos: match qos.map(Spanned::into_inner) {
            Some(0) => QoS::AtMostOnce,
            _ => QoS::AtLeastOnce,
        },
        retain: retain.unwrap_or(true),
        include: patterns(include),
        exclude: patterns(exclude),
        reconnect: reconnect?,
    })
}

/// A topic root has no wildcards and no leading or trailing `/`; only
/// `discovery_prefix` may be empty (discovery off).
fn check_topic_root(report: &mut Report, value: &Spanned<String>, key: &str, may_be_empty: bool) {
    let text = value.get_ref();
    let problem = if text.is_empty() {
        (!may_be_empty).then_some("is empty")
    } else if text.contains(['+', '#']) {
        Some("holds an MQTT wildcard (`+` or `#`)")
    } else if text.starts_with('/') || text.ends_with('/') {
        Some("starts or ends with `/`")
    } else if text.contains(char::is_whitespace) {
        Some("holds white space")
    } else {
        None
    };
    if let Some(problem) = problem {
        report.add(
            value.span(),
            format!(
                "`{key}` in [mqtt_out] is `{text}`, which {problem}; write a topic root such as \
                 `homebus` or `home/homebus`"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rumqttc::QoS;

    use super::{glob_match, node_name};
    use crate::config::{Config, ConfigError, parse_str_with_env};

    fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
        let env = |name: &str| (name == "MQTT_PASS").then(|| "s3cret".to_string());
        parse_str_with_env(text, Path::new("/etc/homebus/homebus.toml"), &env).map_err(|e| e.0)
    }

    fn only_error(text: &str) -> (usize, usize, String) {
        let errors = load(text).expect_err("the config should be refused");
        assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
        let e = &errors[0];
        (e.line, e.column, e.message.clone())
    }

    #[test]
    fn mqtt_out_with_only_url_takes_every_default() {
        let config = load("[mqtt_out]\nurl = \"mqtt://127.0.0.1:1883\"\n").unwrap();
        let out = config.mqtt_out.expect("[mqtt_out] read");
        assert_eq!(out.url, "mqtt://127.0.0.1:1883");
        assert_eq!(out.client_id, format!("homebus-{}", node_name()));
        assert_eq!(out.prefix, "homebus");
        assert_eq!(out.discovery_prefix, "homeassistant");
        assert_eq!(out.qos, QoS::AtLeastOnce);
        assert!(out.retain);
        assert!(out.include.is_empty() && out.exclude.is_empty());
        assert!(out.username.is_none() && out.password.is_none() && out.tls.is_none());
    }

    #[test]
    fn mqtt_out_reads_every_key_and_env_password() {
        let config = load(
            r#"[mqtt_out]
url = "mqtt://broker.lan:1883"
username = "homebus"
password = "env:MQTT_PASS"
client_id = "hub-1"
prefix = "home/bus"
discovery_prefix = ""
qos = 0
retain = false
include = ["light.*", "switch.*"]
exclude = ["switch.secret_*"]
reconnect = "2s"
"#,
        )
        .unwrap();
        let out = config.mqtt_out.unwrap();
        assert_eq!(out.username.as_deref(), Some("homebus"));
        assert_eq!(out.password.unwrap().expose(), "s3cret");
        assert_eq!(out.client_id, "hub-1");
        assert_eq!(out.prefix, "home/bus");
        assert_eq!(out.discovery_prefix, "");
        assert_eq!(out.qos, QoS::AtMostOnce);
        assert!(!out.retain);
        assert_eq!(out.reconnect.reconnect, std::time::Duration::from_secs(2));
    }

    #[test]
    fn include_and_exclude_decide_which_entities_are_published() {
        let config = load(
            "[mqtt_out]\nurl = \"mqtt://h\"\ninclude = [\"switch.*\"]\nexclude = [\"switch.x*\"]\n",
        )
        .unwrap();
        let out = config.mqtt_out.unwrap();
        assert!(out.publishes("switch.hall"));
        assert!(!out.publishes("switch.xmas"));
        assert!(!out.publishes("light.hall"));
    }

    #[test]
    fn qos_2_is_refused_at_its_value() {
        let (line, column, message) = only_error("[mqtt_out]\nurl = \"mqtt://h\"\nqos = 2\n");
        assert_eq!((line, column), (3, 7));
        assert!(message.contains("`qos` in [mqtt_out] is 2"), "{message}");
    }

    #[test]
    fn a_wildcard_in_prefix_is_refused_at_its_value() {
        let (line, column, message) =
            only_error("[mqtt_out]\nurl = \"mqtt://h\"\nprefix = \"home/#\"\n");
        assert_eq!((line, column), (3, 10));
        assert!(message.contains("wildcard"), "{message}");
    }

    #[test]
    fn an_http_url_is_refused_with_the_mqtt_schemes() {
        let (line, _, message) = only_error("[mqtt_out]\nurl = \"http://h:1883\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("`mqtt://` or `mqtts://`"), "{message}");
    }

    #[test]
    fn a_missing_url_is_reported_at_the_header() {
        let (line, column, message) = only_error("[mqtt_out]\nprefix = \"hb\"\n");
        assert_eq!((line, column), (1, 1));
        assert!(message.contains("has no `url`"), "{message}");
    }

    #[test]
    fn tls_on_a_plain_mqtt_url_is_refused() {
        let (line, _, message) =
            only_error("[mqtt_out]\nurl = \"mqtt://h\"\ntls = { insecure = true }\n");
        assert_eq!(line, 3);
        assert!(message.contains("would never be used"), "{message}");
    }

    #[test]
    fn an_unset_env_password_is_named_without_its_value() {
        let (line, _, message) =
            only_error("[mqtt_out]\nurl = \"mqtt://h\"\npassword = \"env:NOPE\"\n");
        assert_eq!(line, 3);
        assert!(message.contains("`NOPE`"), "{message}");
    }

    #[test]
    fn an_unknown_key_in_mqtt_out_suggests_the_close_one() {
        let (line, _, message) = only_error("[mqtt_out]\nurl = \"mqtt://h\"\nretian = true\n");
        assert_eq!(line, 3);
        assert!(message.contains("did you mean `retain`"), "{message}");
    }

    #[test]
    fn binary_sensor_and_device_class_are_read_from_a_unit() {
        let config = load(
            "[[unit]]\naddress = \"DOOR\"\nkind = \"switch\"\nbinary_sensor = true\ndevice_class = \"door\"\n",
        )
        .unwrap();
        assert!(config.units[0].binary_sensor);
        assert_eq!(config.units[0].device_class.as_deref(), Some("door"));
    }

    #[test]
    fn binary_sensor_on_a_dimmer_is_refused() {
        let (line, _, message) =
            only_error("[[unit]]\naddress = \"L\"\nkind = \"dimmer\"\nbinary_sensor = true\n");
        assert_eq!(line, 4);
        assert!(message.contains("only for units of kind"), "{message}");
    }

    #[test]
    fn glob_star_matches_any_text_and_question_mark_one_character() {
        assert!(glob_match("light.*", "light.hall"));
        assert!(glob_match("*", "sensor.x"));
        assert!(glob_match("sensor.t?mp", "sensor.temp"));
        assert!(glob_match("*.kitchen_*", "switch.kitchen_fan"));
        assert!(!glob_match("light.*", "switch.hall"));
        assert!(!glob_match("sensor.t?mp", "sensor.tmp"));
        assert!(!glob_match("switch.a", "switch.ab"));
    }
}
