//! The `homebus.toml` config: what the hub listens on, where it keeps its
//! database, who may connect, which sources it reads and which units exist.
//!
//! [`load_file`] and [`parse_str`] are the only way to a [`Config`]: they
//! check every value with its position and apply every default once.
//! `load.rs` reads the file and hands each section to the part it
//! configures: `[server]` (`server.rs`), `[auth]` (`auth.rs`) and `[mqtt_out]`
//! (`mqtt_out.rs`) here,
//! `[[unit]]` to `units/config.rs`, each `[[source]]` to its type's own
//! config in `sources/<type>/config.rs`. They all read with the toolkit in
//! [`config_file`](crate::config_file), which uses nothing else, so the
//! arrows go one way: `config` uses `units` and `sources`, never the
//! reverse. `tests.rs` holds what the loader accepts and how it words each
//! mistake.
//!
//! Every field's doc comment is also its user documentation; `docs/config.md`
//! collects them with the validation rules.

mod auth;
mod load;
mod mqtt_out;
mod scripts;
mod server;
#[cfg(test)]
mod tests;

pub use crate::config_file::script::{ScriptLimits, ScriptOrigin, ScriptText};
pub use crate::config_file::{ConfigError, ConfigErrors, Secret};
pub use crate::units::{UnitConfig, UnitKind, default_entity_id};
pub use auth::AuthConfig;
pub use load::{load_file, parse_str, parse_str_with_env};
pub use mqtt_out::{MqttOutConfig, glob_match, node_name};
pub use server::{ServerConfig, Synchronous};

use crate::sources::SourceConfig;

/// The whole config file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the hub listens and keeps its data.
    pub server: ServerConfig,
    /// Who may connect; absent means open, on loopback only.
    pub auth: Option<AuthConfig>,
    /// The event streams the hub reads (`[[source]]`).
    pub sources: Vec<SourceConfig>,
    /// Units declared up front (`[[unit]]`; others may be created by sources
    /// with `create_units`).
    pub units: Vec<UnitConfig>,
    /// Where every unit is published over MQTT, with Home Assistant
    /// discovery (`[mqtt_out]`); absent means no MQTT output.
    pub mqtt_out: Option<MqttOutConfig>,
    /// The bounds of each script run (`[scripts]`).
    pub scripts: ScriptLimits,
}

impl Config {
    /// Adds the simulated house of `homebus run --demo`: its source and its
    /// units. Units the config already declares at the same address are kept
    /// as they are.
    pub fn add_demo(&mut self) {
        for unit in crate::sources::demo_units() {
            if !self
                .units
                .iter()
                .any(|u| u.address.eq_ignore_ascii_case(&unit.address))
            {
                self.units.push(unit);
            }
        }
        self.sources.push(crate::sources::demo_source());
    }
}
