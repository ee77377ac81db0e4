//! The MQTT source against a real mosquitto broker on a loopback port.
//! `scripts/test` installs mosquitto; without it these tests fail and say so.

mod support;

use homebus::sources::SourceState;
use support::hub::TestHub;
use support::mosquitto::{Mosquitto, mqtt_publish};
use support::wait::{until, within};

fn config(port: u16, extra: &str) -> String {
    format!(
        r#"
[[source]]
name = "broker"
type = "mqtt"
url = "mqtt://127.0.0.1:{port}"
topics = ["home/#"]
reconnect = "50ms"
{extra}

[[unit]]
address = "home/temperature"
entity_id = "sensor.home_temperature"
kind = "sensor"

[[unit]]
address = "home/hall/motion"
entity_id = "binary_sensor.hall_motion"
kind = "switch"
"#
    )
}

/// Publishes until the hub shows `state`: the source subscribes once it is
/// connected, and a message sent before that is not kept by the broker.
async fn publish_until(
    hub: &TestHub,
    broker: &Mosquitto,
    topic: &str,
    payload: &str,
    entity_id: &str,
    state: &str,
) {
    let publishing = async {
        loop {
            mqtt_publish(broker, topic, payload).await;
            if hub.state(entity_id).as_deref() == Some(state) {
                return;
            }
            // Waits for the state or a short while, then publishes again
            // (a publish before the subscription is lost).
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(100),
                hub.wait_state_is(entity_id, state),
            )
            .await;
            if hub.state(entity_id).as_deref() == Some(state) {
                return;
            }
        }
    };
    within(&format!("{entity_id} to become `{state}`"), publishing).await;
}

#[tokio::test]
async fn a_published_number_sets_the_unit_named_by_its_topic() {
    let broker = Mosquitto::start().await;
    let hub = TestHub::start(&config(broker.port, ""));
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "21.5",
        "sensor.home_temperature",
        "21.5",
    )
    .await;
}

#[tokio::test]
async fn on_and_off_payloads_switch_a_unit() {
    let broker = Mosquitto::start().await;
    let hub = TestHub::start(&config(broker.port, ""));
    for payload in ["ON", "off", "true"] {
        let state = if payload == "off" { "off" } else { "on" };
        publish_until(
            &hub,
            &broker,
            "home/hall/motion",
            payload,
            "binary_sensor.hall_motion",
            state,
        )
        .await;
    }
}

#[tokio::test]
async fn topics_outside_the_subscription_are_not_received() {
    let broker = Mosquitto::start().await;
    let hub = TestHub::start(&config(broker.port, "create_units = true"));
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "1",
        "sensor.home_temperature",
        "1",
    )
    .await;
    mqtt_publish(&broker, "garden/temperature", "9").await;
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "2",
        "sensor.home_temperature",
        "2",
    )
    .await;
    assert!(hub.entity("sensor.garden_temperature").is_none());
}

#[tokio::test]
async fn state_resumes_after_the_broker_goes_away_and_comes_back() {
    let mut broker = Mosquitto::start().await;
    let hub = TestHub::start(&config(broker.port, ""));
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "10",
        "sensor.home_temperature",
        "10",
    )
    .await;

    broker.stop().await;
    let down = hub
        .wait_source("broker", "the lost broker in the status", |s| {
            s.last_error.is_some()
        })
        .await;
    assert_ne!(down.state, SourceState::Connected);

    broker.restart().await;
    until("the source to connect again", || {
        (hub.source("broker").state == SourceState::Connected).then_some(())
    })
    .await;
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "20",
        "sensor.home_temperature",
        "20",
    )
    .await;
}

#[tokio::test]
async fn a_refused_connection_is_shown_and_retried() {
    let port = support::peers::free_addr().port();
    let hub = TestHub::start(&config(port, ""));
    let view = hub
        .wait_source("broker", "a connection error", |s| s.last_error.is_some())
        .await;
    assert_eq!(view.state, SourceState::Reconnecting);
}

#[tokio::test]
async fn username_and_password_are_sent_to_the_broker() {
    let broker = Mosquitto::start_with_user("homebus", "s3cret").await;
    let hub = TestHub::start(&config(
        broker.port,
        "username = \"homebus\"\npassword = \"s3cret\"",
    ));
    publish_until(
        &hub,
        &broker,
        "home/temperature",
        "5",
        "sensor.home_temperature",
        "5",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_shown_in_the_status() {
    let broker = Mosquitto::start_with_user("homebus", "s3cret").await;
    let hub = TestHub::start(&config(
        broker.port,
        "username = \"homebus\"\npassword = \"wrong\"",
    ));
    let view = hub
        .wait_source("broker", "the refusal in the status", |s| {
            s.last_error.is_some()
        })
        .await;
    assert_ne!(view.state, SourceState::Connected);
    assert!(
        !view.last_error.unwrap().contains("wrong"),
        "the password leaked"
    );
}
