//! Device formats over a real SSE stream: ESPHome's `/events` and Home
//! Assistant's `/api/stream`.

mod support;

use support::hub::TestHub;
use support::sse_server::ScriptedServer;

#[tokio::test]
async fn esphome_state_events_drive_units_by_component_id() {
    let stream = concat!(
        "event: ping\ndata: {\"title\":\"kitchen\",\"ota\":true}\n\n",
        "event: log\ndata: [I][sensor:093]: 'Temperature': Sending state 21.50000 °C\n\n",
        "event: state\ndata: {\"id\":\"sensor-temp\",\"value\":21.5,\"state\":\"21.5 °C\"}\n\n",
        "event: state\ndata: {\"id\":\"binary_sensor-motion\",\"value\":true,\"state\":\"ON\"}\n\n",
    );
    let server = ScriptedServer::sending(stream).await;
    let hub = TestHub::start(&format!(
        r#"
[[source]]
name = "kitchen"
type = "sse"
url = "{}/events"
format = "esphome"

[[unit]]
address = "sensor-temp"
entity_id = "sensor.kitchen_temperature"
kind = "sensor"

[[unit]]
address = "binary_sensor-motion"
entity_id = "binary_sensor.kitchen_motion"
kind = "switch"
"#,
        server.base
    ));
    let temperature = hub
        .wait_state_is("sensor.kitchen_temperature", "21.5")
        .await;
    assert_eq!(temperature.attributes["display"], "21.5 °C");
    hub.wait_state_is("binary_sensor.kitchen_motion", "on")
        .await;
}

#[tokio::test]
async fn home_assistant_api_stream_state_changed_sets_the_entity() {
    let stream = concat!(
        "data: ping\n\n",
        "data: {\"event_type\":\"state_changed\",\"data\":{\"entity_id\":\"light.hall\",",
        "\"old_state\":null,\"new_state\":{\"entity_id\":\"light.hall\",\"state\":\"on\",",
        "\"attributes\":{\"brightness\":200,\"friendly_name\":\"Hall\"}}},",
        "\"time_fired\":\"2026-11-22T10:00:00+00:00\"}\n\n",
    );
    let server = ScriptedServer::sending(stream).await;
    let hub = TestHub::start(&format!(
        r#"
[[source]]
name = "ha"
type = "sse"
url = "{}/api/stream"
format = "home-assistant"

[[unit]]
address = "light.hall"
entity_id = "light.hall"
kind = "dimmer"
"#,
        server.base
    ));
    let hall = hub.wait_state_is("light.hall", "on").await;
    assert_eq!(hall.attributes["brightness"], 200);
}
