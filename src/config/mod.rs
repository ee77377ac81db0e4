//! The `homebus.toml` config: what the hub listens on, where it keeps its
//! database, who may connect, which sources it reads and which units exist.
//!
//! Every field's doc comment is also its user documentation.

mod load;
mod types;

pub use load::{ConfigError, ConfigErrors, load_file, parse_str};
pub use types::*;
