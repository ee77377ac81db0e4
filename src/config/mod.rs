//! The `homebus.toml` config: what the hub listens on, where it keeps its
//! database, who may connect, which sources it reads and which units exist.
//!
//! Every field's doc comment is also its user documentation; `docs/config.md`
//! collects them with the validation rules.

mod load;
mod read;
mod report;
mod sections;
#[cfg(test)]
mod tests;
mod types;

pub use load::{ConfigError, ConfigErrors, load_file, parse_str, parse_str_with_env};
pub use sections::{DEFAULT_FETCH_INTERVAL, DEFAULT_FILE_INTERVAL};
pub use types::*;
