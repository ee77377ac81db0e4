//! The `--demo` source as the hub runs it: its units have real states from
//! the start and its sensors keep changing.

mod support;

use homebus::sources::SourceState;
use support::hub::TestHub;
use support::wait::until;

#[tokio::test]
async fn demo_units_leave_unknown_at_start() {
    let demo = TestHub::with_demo();
    until("every demo unit to have a state", || {
        let states = demo.hub.states();
        states.iter().all(|s| s.state != "unknown").then_some(())
    })
    .await;
    assert_eq!(demo.state("switch.kitchen_fan").as_deref(), Some("on"));
    let dimmer = demo.entity("light.living_room").unwrap();
    assert_eq!(dimmer.attributes["value"], 60);
}

#[tokio::test]
async fn demo_sensors_change_every_second_with_their_unit_of_measure() {
    let demo = TestHub::with_demo();
    let first = demo
        .wait_state("sensor.temperature", "known", |s| s.state != "unknown")
        .await;
    assert_eq!(first.attributes["unit_of_measurement"], "°C");
    demo.wait_state("sensor.temperature", "changed", |s| s.state != first.state)
        .await;
    let source = demo.source("demo");
    assert_eq!(source.state, SourceState::Connected);
    assert!(
        source.events_seen >= 7,
        "events seen: {}",
        source.events_seen
    );
}
