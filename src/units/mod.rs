//! Units: the named things (switches, dimmers, sensors) that events drive,
//! and their state in Home Assistant's shape, and the record of events
//! that no unit took.
//!
//! - `config.rs`: `[[unit]]` ([`UnitConfig`]), the kinds ([`UnitKind`]) and
//!   the entity id a unit gets when it sets none.
//! - `unit.rs`: one unit and how each command changes it.
//! - `state.rs`: [`EntityState`], Home Assistant's state object.
//! - `registry.rs`: every unit, by address or entity id; creates units for
//!   sources with `create_units`.
//! - `unmatched.rs`: [`UnmatchedEvents`], the bounded record behind
//!   `GET /api/events/unmatched`.

pub(crate) mod config;
mod registry;
mod state;
mod unit;
mod unmatched;

pub use config::{UnitConfig, UnitKind, UnitScripts, default_entity_id, object_id};
pub use registry::{Applied, UnitError, UnitRegistry};
pub use state::EntityState;
pub use unit::{Unit, UnitValue};
pub use unmatched::{MAX_TEXT_CHARS, UnmatchedEvent, UnmatchedEvents, UnmatchedList, unit_section};
