//! The `homebus.toml` config: what the hub listens on, where it keeps its
//! database, who may connect, which sources it reads and which units exist.
//!
//! [`load_file`] and [`parse_str`] are the only way to a [`Config`]: they
//! check every value with its position and apply every default once.
//! Each top-level section has its file (`server.rs`, `auth.rs`, `unit.rs`, `mqtt_out.rs`);
//! a `[[source]]` is read by its type's own config in `sources/*/config.rs`,
//! with the reading toolkit here (`read.rs`: typed values out of one table;
//! `report.rs`: every mistake with its position).
//!
//! Dependencies: `units` and `sources` use this module; this module uses
//! `sources` in one place only, the [`Config::sources`] list that `load.rs`
//! fills with `sources::SourceConfig::read` (a source type's fields,
//! defaults and rules live with that type).
//!
//! Every field's doc comment is also its user documentation; `docs/config.md`
//! collects them with the validation rules.

mod auth;
mod load;
mod mqtt_out;
pub(crate) mod read;
pub(crate) mod report;
mod secret;
mod server;
#[cfg(test)]
mod tests;
mod unit;

pub use auth::AuthConfig;
pub use load::{ConfigError, ConfigErrors, load_file, parse_str, parse_str_with_env};
pub use mqtt_out::{MqttOutConfig, glob_match, node_name};
pub use secret::Secret;
pub use server::{ServerConfig, Synchronous};
pub use unit::{UnitConfig, UnitKind, default_entity_id};

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
}
