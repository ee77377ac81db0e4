//! Units: the named things (switches, dimmers, sensors) that events drive,
//! and their state in Home Assistant's shape.

mod kind;
mod registry;
mod state;
mod unit;

pub use kind::UnitKind;
pub use registry::{Applied, UnitError, UnitRegistry};
pub use state::EntityState;
pub use unit::{Unit, UnitValue, default_entity_id};
