//! The `--demo` source as the hub runs it: its units have real states from
//! the start and its sensors keep changing.

mod support;

use std::sync::Arc;

use homebus::bus::{Bus, InProcessBus};
use homebus::config::Config;
use homebus::hub::Hub;
use homebus::sources::SourceState;
use tokio_util::sync::CancellationToken;

fn demo_hub() -> (Arc<Hub>, CancellationToken) {
    let mut config = Config::default();
    homebus::sources::add_demo(&mut config);
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(1000, 1000));
    let hub = Arc::new(Hub::new(&config, bus).unwrap());
    let shutdown = CancellationToken::new();
    homebus::sources::start(hub.clone(), &config.sources, &shutdown, &Default::default());
    (hub, shutdown)
}

#[tokio::test]
async fn demo_units_leave_unknown_at_start() {
    let (hub, shutdown) = demo_hub();
    support::wait::until(
        "every demo unit to have a state",
        support::wait::DEADLINE,
        || {
            let states = hub.states();
            states.iter().all(|s| s.state != "unknown").then_some(())
        },
    )
    .await;
    let states = hub.states();
    let fan = states
        .iter()
        .find(|s| s.entity_id == "switch.kitchen_fan")
        .unwrap();
    assert_eq!(fan.state, "on");
    let dimmer = states
        .iter()
        .find(|s| s.entity_id == "light.living_room")
        .unwrap();
    assert_eq!(dimmer.attributes["value"], 60);
    shutdown.cancel();
}

#[tokio::test]
async fn demo_sensors_change_every_second_with_their_unit_of_measure() {
    let (hub, shutdown) = demo_hub();
    let first = support::wait::until("a first temperature", support::wait::DEADLINE, || {
        hub.state("sensor.temperature")
            .filter(|s| s.state != "unknown")
    })
    .await;
    assert_eq!(first.attributes["unit_of_measurement"], "°C");
    support::wait::until("the temperature to change", support::wait::DEADLINE, || {
        hub.state("sensor.temperature")
            .filter(|s| s.state != first.state)
    })
    .await;
    let source = hub
        .sources()
        .into_iter()
        .find(|s| s.name == "demo")
        .unwrap();
    assert_eq!(source.state, SourceState::Connected);
    assert!(
        source.events_seen >= 7,
        "events seen: {}",
        source.events_seen
    );
    shutdown.cancel();
}
