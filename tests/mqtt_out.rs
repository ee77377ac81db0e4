//! `[mqtt_out]` against a real mosquitto, with a second rumqttc client
//! acting as Home Assistant.

mod support;

use serde_json::Value;
use support::mosquitto::{Mosquitto, mqtt_publish};
use support::mqtt_client::MqttWatcher;
use support::server::TestServer;
use support::wait::until_async;

fn mqtt_out(broker: &Mosquitto, extra: &str) -> String {
    format!(
        "[mqtt_out]\nurl = \"mqtt://127.0.0.1:{}\"\nreconnect = \"100ms\"\nmax_backoff = \"500ms\"\n{extra}\n",
        broker.port
    )
}

/// `GET /api/outputs`' one entry.
async fn output(server: &TestServer) -> Value {
    let list = server.get_text("/api/outputs").await;
    serde_json::from_str::<Value>(&list).unwrap()[0].clone()
}

/// Waits until `/api/outputs` shows a connected link with at least
/// `connections` connections.
async fn connected(server: &TestServer, connections: u64) {
    until_async("the MQTT output to connect", || async {
        let out = output(server).await;
        (out["state"] == "connected" && out["connections"].as_u64() >= Some(connections))
            .then_some(())
    })
    .await;
}

async fn started(broker: &Mosquitto, extra: &str) -> TestServer {
    let server = TestServer::start(&mqtt_out(broker, extra)).await;
    connected(&server, 1).await;
    server
}

fn config_topic(component: &str, object: &str) -> String {
    format!(
        "homeassistant/{component}/{}_{object}/config",
        homebus::config::node_name()
    )
}

#[tokio::test]
async fn discovery_configs_are_retained_with_the_documented_fields_for_a_late_subscriber() {
    let broker = Mosquitto::start().await;
    let _server = started(&broker, "").await;
    let mut ha = MqttWatcher::connect(broker.port, &["homeassistant/#"]).await;
    let light = ha.next_on(&config_topic("light", "brightness")).await;
    assert!(light.retain, "a late subscriber gets the retained config");
    let v: Value = serde_json::from_str(&light.payload).unwrap();
    let node = homebus::config::node_name();
    assert_eq!(v["unique_id"], format!("{node}_light_brightness"));
    assert_eq!(v["name"], "BRIGHTNESS");
    assert_eq!(v["state_topic"], "homebus/light.brightness/state");
    assert_eq!(v["command_topic"], "homebus/light.brightness/set");
    assert_eq!(
        v["json_attributes_topic"],
        "homebus/light.brightness/attributes"
    );
    assert_eq!(v["availability_topic"], "homebus/status");
    assert_eq!(v["schema"], "json");
    assert_eq!(v["brightness"], true);
    assert_eq!(v["device"]["identifiers"][0], format!("homebus_{node}"));
    let sensor = ha.next_on(&config_topic("sensor", "temp")).await;
    let v: Value = serde_json::from_str(&sensor.payload).unwrap();
    assert!(
        v.get("command_topic").is_none(),
        "a sensor takes no commands"
    );
    let switch = ha.next_on(&config_topic("switch", "motion")).await;
    assert!(switch.retain);
}

#[tokio::test]
async fn availability_is_online_retained_after_connecting_and_offline_after_a_clean_stop() {
    let broker = Mosquitto::start().await;
    let mut server = started(&broker, "").await;
    let mut watcher = MqttWatcher::connect(broker.port, &["homebus/status"]).await;
    let online = watcher.next_on("homebus/status").await;
    assert_eq!((online.payload.as_str(), online.retain), ("online", true));
    server.stop().await;
    watcher
        .next_where("homebus/status", |p| p == "offline")
        .await;
}

#[tokio::test]
async fn a_change_over_rest_appears_on_the_state_and_attributes_topics() {
    let broker = Mosquitto::start().await;
    let server = started(&broker, "").await;
    let mut ha = MqttWatcher::connect(
        broker.port,
        &[
            "homebus/switch.motion/state",
            "homebus/switch.motion/attributes",
        ],
    )
    .await;
    let response = server
        .client
        .post(server.url("/api/units/MOTION/command"))
        .header("content-type", "application/json")
        .body(r#"{"command":"on"}"#)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    ha.next_where("homebus/switch.motion/state", |p| p == "ON")
        .await;
    let attributes = ha.next_on("homebus/switch.motion/attributes").await;
    let v: Value = serde_json::from_str(&attributes.payload).unwrap();
    assert_eq!(v["address"], "MOTION");
}

#[tokio::test]
async fn a_change_made_by_a_source_appears_on_the_state_topic() {
    let broker = Mosquitto::start().await;
    let source = format!(
        "[[source]]\nname = \"in\"\ntype = \"mqtt\"\nurl = \"mqtt://127.0.0.1:{}\"\ntopics = [\"TEMP\"]\n",
        broker.port
    );
    let server = TestServer::start(&format!("{}{source}", mqtt_out(&broker, ""))).await;
    connected(&server, 1).await;
    server
        .wait_source("in", "connected", |s| {
            s.state == homebus::sources::SourceState::Connected
        })
        .await;
    let mut ha = MqttWatcher::connect(broker.port, &["homebus/sensor.temp/state"]).await;
    mqtt_publish(&broker, "TEMP", "21,5").await;
    ha.next_where("homebus/sensor.temp/state", |p| p == "21.5")
        .await;
}

#[tokio::test]
async fn on_off_number_and_json_on_the_set_topic_change_the_unit() {
    let broker = Mosquitto::start().await;
    let server = started(&broker, "").await;
    let ha = MqttWatcher::connect(broker.port, &["homebus/status"]).await;
    let mut stream = server.sse("/api/stream").await;
    ha.publish("homebus/switch.motion/set", "ON", false).await;
    server.wait_state_is("switch.motion", "on").await;
    let block = stream.event().await.expect("a change on /api/stream");
    assert_eq!(block.json()["data"]["entity_id"], "switch.motion");
    ha.publish("homebus/switch.motion/set", "OFF", false).await;
    server.wait_state_is("switch.motion", "off").await;
    ha.publish("homebus/switch.motion/set", "TOGGLE", false)
        .await;
    server.wait_state_is("switch.motion", "on").await;
    ha.publish("homebus/light.brightness/set", "40", false)
        .await;
    server
        .wait_state("light.brightness", "40", |s| {
            s.attributes.get("value") == Some(&serde_json::json!(40))
        })
        .await;
    ha.publish(
        "homebus/light.brightness/set",
        r#"{"state":"ON","brightness":77}"#,
        false,
    )
    .await;
    server
        .wait_state("light.brightness", "77", |s| {
            s.attributes.get("value") == Some(&serde_json::json!(77))
        })
        .await;
    ha.publish("homebus/light.brightness/set", r#"{"state":"OFF"}"#, false)
        .await;
    server.wait_state_is("light.brightness", "off").await;
    until_async("every command to be counted", || async {
        (output(&server).await["commands"] == 6).then_some(())
    })
    .await;
}

#[tokio::test]
async fn bad_payloads_on_set_topics_are_counted_and_the_hub_keeps_going() {
    let broker = Mosquitto::start().await;
    let server = started(&broker, "").await;
    let ha = MqttWatcher::connect(broker.port, &["homebus/status"]).await;
    ha.publish("homebus/switch.motion/set", "banana", false)
        .await;
    ha.publish("homebus/switch.nobody/set", "ON", false).await;
    until_async("the bad payloads to be counted", || async {
        (output(&server).await["bad_commands"] == 2).then_some(())
    })
    .await;
    ha.publish("homebus/switch.motion/set", "ON", false).await;
    server.wait_state_is("switch.motion", "on").await;
    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains("homebus_mqtt_out_bad_commands_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn state_publishes_are_never_taken_as_commands() {
    let broker = Mosquitto::start().await;
    let server = started(&broker, "").await;
    let mut ha = MqttWatcher::connect(broker.port, &["homebus/#"]).await;
    for i in 0..5 {
        server.set("BRIGHTNESS", f64::from(10 + i));
    }
    ha.next_where("homebus/light.brightness/state", |p| {
        p.contains("\"brightness\":14")
    })
    .await;
    let out = output(&server).await;
    assert_eq!(out["commands"], 0);
    assert_eq!(out["bad_commands"], 0);
}

#[tokio::test]
async fn ha_birth_message_makes_homebus_publish_discovery_again() {
    let broker = Mosquitto::start().await;
    let _server = started(&broker, "").await;
    let topic = config_topic("switch", "motion");
    let mut ha = MqttWatcher::connect(broker.port, &[topic.as_str()]).await;
    assert!(ha.next_on(&topic).await.retain);
    ha.publish("homeassistant/status", "online", false).await;
    let again = ha.next_on(&topic).await;
    assert!(!again.retain, "a fresh publish, not the retained copy");
    assert!(again.payload.contains("unique_id"));
}

#[tokio::test]
async fn a_unit_removed_from_the_config_has_its_discovery_config_cleared_at_next_start() {
    let broker = Mosquitto::start().await;
    let extra_unit = "[[unit]]\naddress = \"OLDLAMP\"\nkind = \"switch\"\n";
    let mut first = TestServer::start(&format!("{}{extra_unit}", mqtt_out(&broker, ""))).await;
    connected(&first, 1).await;
    let topic = config_topic("switch", "oldlamp");
    let mut ha = MqttWatcher::connect(broker.port, &[topic.as_str()]).await;
    assert!(!ha.next_on(&topic).await.payload.is_empty());
    first.stop().await;
    let _second = started(&broker, "").await;
    ha.next_where(&topic, str::is_empty).await;
}

#[tokio::test]
async fn restarting_mosquitto_makes_homebus_reconnect_and_republish() {
    let mut broker = Mosquitto::start().await;
    let server = started(&broker, "").await;
    server.switch("MOTION", true);
    broker.stop().await;
    until_async("the output to see the broker gone", || async {
        (output(&server).await["state"] != "connected").then_some(())
    })
    .await;
    server.set("BRIGHTNESS", 33.0);
    broker.restart().await;
    connected(&server, 2).await;
    // The restarted broker kept nothing (no persistence): all it holds now
    // was published again by homebus.
    let mut ha = MqttWatcher::connect(
        broker.port,
        &[
            "homebus/status",
            "homebus/switch.motion/state",
            "homebus/light.brightness/state",
        ],
    )
    .await;
    assert_eq!(ha.next_on("homebus/status").await.payload, "online");
    assert_eq!(
        ha.next_on("homebus/switch.motion/state").await.payload,
        "ON"
    );
    let light = ha.next_on("homebus/light.brightness/state").await;
    assert!(
        light.payload.contains("\"brightness\":33"),
        "{}",
        light.payload
    );
}

#[tokio::test]
async fn a_broker_down_at_start_shows_reconnecting_then_homebus_connects_when_it_comes_up() {
    let mut broker = Mosquitto::start().await;
    broker.stop().await;
    let server = TestServer::start(&mqtt_out(&broker, "")).await;
    let down = until_async("the output to report the broker down", || async {
        let out = output(&server).await;
        (out["state"] == "reconnecting"
            && out["last_error"].as_str().is_some_and(|e| !e.is_empty()))
        .then_some(out)
    })
    .await;
    // As for a source: the link names the broker, the error says what failed.
    assert_eq!(down["url"], format!("mqtt://127.0.0.1:{}", broker.port));
    let error = down["last_error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");
    assert!(down["next_try_in_ms"].as_u64().is_some(), "{down}");
    assert_eq!(down["connections"], 0);
    // A change while the broker is down waits for it.
    server.switch("MOTION", true);
    broker.restart().await;
    connected(&server, 1).await;
    assert!(output(&server).await["last_error"].is_null());
    let discovery = config_topic("switch", "motion");
    let mut ha = MqttWatcher::connect(
        broker.port,
        &[
            "homebus/status",
            discovery.as_str(),
            "homebus/switch.motion/state",
        ],
    )
    .await;
    assert_eq!(ha.next_on("homebus/status").await.payload, "online");
    assert!(ha.next_on(&discovery).await.payload.contains("unique_id"));
    assert_eq!(
        ha.next_on("homebus/switch.motion/state").await.payload,
        "ON"
    );
}

#[tokio::test]
async fn an_excluded_entity_gets_neither_discovery_nor_state() {
    let broker = Mosquitto::start().await;
    let server = started(&broker, "exclude = [\"sensor.*\"]").await;
    let mut ha = MqttWatcher::connect(broker.port, &["homeassistant/#", "homebus/#"]).await;
    server.set("TEMP", 21.5);
    server.switch("MOTION", true);
    // One connection publishes in order, so a state for the sensor would
    // arrive before the switch's.
    let seen = ha
        .all_until("homebus/switch.motion/state", |p| p == "ON")
        .await;
    let leaked: Vec<&str> = seen
        .iter()
        .map(|m| m.topic.as_str())
        .filter(|t| t.contains("sensor.temp") || t.contains("_temp/"))
        .collect();
    assert!(
        leaked.is_empty(),
        "published for an excluded entity: {leaked:?}"
    );
    assert!(
        seen.iter()
            .any(|m| m.topic == config_topic("switch", "motion")),
        "the included switch is discovered"
    );
}
