//! Units: the named things (switches, dimmers, sensors) that events drive,
//! and their state in Home Assistant's shape.

mod registry;
mod state;
mod unit;

pub use crate::config::{UnitKind, default_entity_id};
pub use registry::{Applied, UnitError, UnitRegistry};
pub use state::EntityState;
pub use unit::{Unit, UnitValue};
