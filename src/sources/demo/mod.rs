//! The `demo` source: a simulated house, so the dashboard is alive on a
//! machine with no devices (`homebus run --demo`).
//!
//! It is a source like any other: it sends events through
//! [`SourceContext::emit`], the hub applies them to declared units by the
//! XTension rules, and the changes reach every client. Sensors change every
//! tick; the switches and the dimmer are left to the user, except the hall
//! motion detector, which trips now and then.

use std::time::Duration;

use crate::event::Event;
use crate::format::FormatKind;
use crate::units::{UnitConfig, UnitKind};

use super::SourceContext;
use super::config::{DEFAULT_MAX_EVENT_SIZE, SourceConfig, SourceKind};

/// The demo source takes no keys: its house is fixed.
#[derive(Debug, Clone, Default)]
pub struct DemoConfig;

/// The demo type's name, in `/api/sources`.
pub(crate) const TYPE_NAME: &str = "demo";

/// Where `/api/sources` says the demo source reads from.
pub(crate) const LOCATION: &str = "demo:";

/// The name of the demo source, in `/api/sources` and in the log.
const DEMO_SOURCE: &str = "demo";

/// How often the simulated sensors report.
const TICK: Duration = Duration::from_secs(1);

/// The motion detector flips every this many ticks.
const MOTION_EVERY: u64 = 7;

/// Addresses of the simulated units, each also the event name that drives it.
const TEMPERATURE: &str = "Temperature";
const HUMIDITY: &str = "Humidity";
const MOTION: &str = "HallMotion";

/// One simulated unit.
struct DemoUnit {
    /// Its address, also the event name that drives it.
    address: &'static str,
    entity_id: &'static str,
    kind: UnitKind,
    name: &'static str,
    unit_of_measurement: Option<&'static str>,
    /// Sent at start, so the unit has a real state instead of `unknown`.
    first: &'static str,
}

/// Every simulated unit.
const UNITS: &[DemoUnit] = &[
    DemoUnit {
        address: "PorchLight",
        entity_id: "switch.porch_light",
        kind: UnitKind::Switch,
        name: "Porch light",
        unit_of_measurement: None,
        first: "off",
    },
    DemoUnit {
        address: "KitchenFan",
        entity_id: "switch.kitchen_fan",
        kind: UnitKind::Switch,
        name: "Kitchen fan",
        unit_of_measurement: None,
        first: "on",
    },
    DemoUnit {
        address: MOTION,
        entity_id: "switch.hall_motion",
        kind: UnitKind::Switch,
        name: "Hall motion",
        unit_of_measurement: None,
        first: "off",
    },
    DemoUnit {
        address: "LivingRoom",
        entity_id: "light.living_room",
        kind: UnitKind::Dimmer,
        name: "Living room",
        unit_of_measurement: Some("%"),
        first: "60",
    },
    DemoUnit {
        address: TEMPERATURE,
        entity_id: "sensor.temperature",
        kind: UnitKind::Sensor,
        name: "Temperature",
        unit_of_measurement: Some("°C"),
        first: "21.0",
    },
    DemoUnit {
        address: HUMIDITY,
        entity_id: "sensor.humidity",
        kind: UnitKind::Sensor,
        name: "Humidity",
        unit_of_measurement: Some("%"),
        first: "45.0",
    },
];

/// The units of the simulated house, as `--demo` adds them to the config
/// (`Config::add_demo`).
pub fn demo_units() -> Vec<UnitConfig> {
    UNITS
        .iter()
        .map(|unit| UnitConfig {
            address: unit.address.to_string(),
            entity_id: Some(unit.entity_id.to_string()),
            kind: unit.kind,
            name: Some(unit.name.to_string()),
            unit_of_measurement: unit.unit_of_measurement.map(str::to_string),
            device_class: None,
            binary_sensor: false,
            scripts: Default::default(),
        })
        .collect()
}

/// The source that drives the simulated house.
pub fn demo_source() -> SourceConfig {
    SourceConfig {
        name: DEMO_SOURCE.to_string(),
        events: None,
        format: FormatKind::Raw,
        json_pointer: None,
        create_units: false,
        max_event_size: DEFAULT_MAX_EVENT_SIZE,
        kind: SourceKind::Demo(DemoConfig),
        scripts: Default::default(),
    }
}

/// A reading that wanders within `[low, high]`, moving every step.
#[derive(Debug, Clone)]
struct Walk {
    /// Tenths of the unit, so readings print with one decimal.
    tenths: i64,
    low: i64,
    high: i64,
}

impl Walk {
    fn new(start: f64, low: f64, high: f64) -> Self {
        Walk {
            tenths: (start * 10.0).round() as i64,
            low: (low * 10.0).round() as i64,
            high: (high * 10.0).round() as i64,
        }
    }

    /// Moves one to three tenths up or down (always moves, so a watcher
    /// sees a change every tick), turning back at the bounds.
    fn step(&mut self, rng: &mut fastrand::Rng) -> String {
        let size = rng.i64(1..=3);
        let up = if self.tenths - size < self.low {
            true
        } else if self.tenths + size > self.high {
            false
        } else {
            rng.bool()
        };
        self.tenths += if up { size } else { -size };
        format!("{:.1}", self.tenths as f64 / 10.0)
    }
}

/// Runs the simulation until shutdown.
pub(super) async fn run(ctx: SourceContext, _config: DemoConfig) {
    ctx.status.connected();
    let send = |name: &str, data: String| ctx.emit(Event::new(ctx.name.clone(), name, Some(data)));
    for unit in UNITS {
        if !send(unit.address, unit.first.to_string()).await {
            return;
        }
    }
    let mut rng = fastrand::Rng::new();
    let mut temperature = Walk::new(21.0, 17.0, 26.0);
    let mut humidity = Walk::new(45.0, 30.0, 70.0);
    let mut motion = false;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    for tick in 1u64.. {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let mut batch = vec![
            (TEMPERATURE, temperature.step(&mut rng)),
            (HUMIDITY, humidity.step(&mut rng)),
        ];
        if tick % MOTION_EVERY == 0 {
            motion = !motion;
            batch.push((MOTION, if motion { "on" } else { "off" }.to_string()));
        }
        for (name, data) in batch {
            if !send(name, data).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_moves_every_step_and_stays_within_bounds() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut walk = Walk::new(21.0, 20.0, 22.0);
        let mut last = "21.0".to_string();
        for _ in 0..1000 {
            let next = walk.step(&mut rng);
            assert_ne!(next, last);
            let value: f64 = next.parse().unwrap();
            assert!((20.0..=22.0).contains(&value), "{value} out of bounds");
            last = next;
        }
    }

    #[test]
    fn demo_adds_one_source_and_its_units_with_units_of_measure() {
        let mut config = crate::config::Config::default();
        config.add_demo();
        assert_eq!(config.sources.len(), 1);
        assert!(matches!(config.sources[0].kind, SourceKind::Demo(_)));
        let temperature = config
            .units
            .iter()
            .find(|u| u.address == TEMPERATURE)
            .unwrap();
        assert_eq!(temperature.unit_of_measurement.as_deref(), Some("°C"));
        assert!(config.units.iter().any(|u| u.kind == UnitKind::Dimmer));
    }

    #[test]
    fn demo_keeps_a_unit_the_config_already_declares() {
        let mut config = crate::config::Config::default();
        config.units.push(UnitConfig {
            address: "porchlight".into(),
            entity_id: Some("switch.front".into()),
            kind: UnitKind::Switch,
            name: None,
            unit_of_measurement: None,
            device_class: None,
            binary_sensor: false,
            scripts: Default::default(),
        });
        config.add_demo();
        let porch: Vec<_> = config
            .units
            .iter()
            .filter(|u| u.address.eq_ignore_ascii_case("PorchLight"))
            .collect();
        assert_eq!(porch.len(), 1);
        assert_eq!(porch[0].entity_id.as_deref(), Some("switch.front"));
    }
}
