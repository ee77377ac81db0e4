//! The config file as text: its spanned TOML tables read value by value,
//! every mistake collected with its `file:line:column`, and secrets that may
//! come from the environment (`env:NAME`).
//!
//! This is the toolkit every part of the config reads its own section with:
//! `[server]` and `[auth]` in `config/`, `[[unit]]` in `units/config.rs`,
//! each source type's `[[source]]` in `sources/<type>/config.rs`. It uses no
//! other module of homebus, so those parts can read themselves while
//! `config` assembles them into one `Config` without a cycle.
//!
//! - `read.rs`: typed values out of one table (`Section`).
//! - `report.rs`: the mistakes found so far, turned into errors with positions.
//! - `error.rs`: [`ConfigError`] and [`ConfigErrors`], what the user sees.
//! - `script.rs`: scripts as configured (file or inline code), the limits
//!   of `[scripts]` and the sandboxed engine they compile with.
//! - `secret.rs`: [`Secret`], a value whose `Debug` never shows it.

mod error;
pub(crate) mod read;
pub(crate) mod report;
pub mod script;
mod secret;

pub use error::{ConfigError, ConfigErrors};
pub use secret::Secret;
