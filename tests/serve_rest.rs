//! The REST API over real sockets: states, commands, events, sources, the
//! deCONZ config, metrics, health, and bad input.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::TestServer;

async fn get(server: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = server.client.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

async fn post(
    server: &TestServer,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = server
        .client
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn states_lists_every_unit_in_home_assistant_shape() {
    let server = TestServer::start("").await;
    let (status, json) = get(&server, "/api/states").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["entity_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["light.brightness", "sensor.temp", "switch.motion"]);
    assert_eq!(json[0]["state"], "unknown");
    assert!(json[0]["last_changed"].is_string());
}

#[tokio::test]
async fn one_state_by_entity_id() {
    let server = TestServer::start("").await;
    server.set("TEMP", 21.5);
    let (status, json) = get(&server, "/api/states/sensor.temp").await;
    assert_eq!(status, 200);
    assert_eq!(json["state"], "21.5");
    assert_eq!(json["attributes"]["value"], 21.5);
}

#[tokio::test]
async fn unknown_entity_is_404_with_a_json_message() {
    let server = TestServer::start("").await;
    let (status, json) = get(&server, "/api/states/sensor.nothing").await;
    assert_eq!(status, 404);
    assert!(json["message"].as_str().unwrap().contains("sensor.nothing"));
}

#[tokio::test]
async fn posting_a_state_sets_it_and_answers_the_new_state() {
    let server = TestServer::start("").await;
    let (status, json) = post(
        &server,
        "/api/states/sensor.temp",
        r#"{"state": "open", "attributes": {"battery": 80}}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json["state"], "open");
    assert_eq!(json["attributes"]["battery"], 80);
    assert_eq!(server.hub.state("sensor.temp").unwrap().state, "open");
}

#[tokio::test]
async fn posting_a_state_for_an_unknown_entity_is_404() {
    let server = TestServer::start("").await;
    let (status, json) = post(&server, "/api/states/light.none", r#"{"state":"on"}"#).await;
    assert_eq!(status, 404);
    assert!(json["message"].is_string());
}

#[tokio::test]
async fn command_on_turns_a_switch_on() {
    let server = TestServer::start("").await;
    let (status, json) = post(&server, "/api/units/motion/command", r#"{"command":"on"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(json["state"], "on");
    assert_eq!(server.hub.state("switch.motion").unwrap().state, "on");
}

#[tokio::test]
async fn command_off_turns_it_off() {
    let server = TestServer::start("").await;
    server.switch("MOTION", true);
    let (_, json) = post(&server, "/api/units/MOTION/command", r#"{"command":"off"}"#).await;
    assert_eq!(json["state"], "off");
}

#[tokio::test]
async fn command_set_gives_a_dimmer_its_value() {
    let server = TestServer::start("").await;
    let (status, json) = post(
        &server,
        "/api/units/BRIGHTNESS/command",
        r#"{"command":"set","value":47.5}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json["state"], "on");
    assert_eq!(json["attributes"]["value"], 47.5);
}

#[tokio::test]
async fn dimmer_set_to_zero_is_off() {
    let server = TestServer::start("").await;
    server.set("BRIGHTNESS", 50.0);
    let (_, json) = post(
        &server,
        "/api/units/BRIGHTNESS/command",
        r#"{"command":"set","value":0}"#,
    )
    .await;
    assert_eq!(json["state"], "off");
}

#[tokio::test]
async fn unknown_command_is_400_naming_the_commands_that_exist() {
    let server = TestServer::start("").await;
    let (status, json) = post(
        &server,
        "/api/units/MOTION/command",
        r#"{"command":"blink"}"#,
    )
    .await;
    assert_eq!(status, 400);
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("blink"), "{message}");
    for command in ["\"on\"", "\"off\"", "\"set\""] {
        assert!(message.contains(command), "{message}");
    }
}

#[tokio::test]
async fn set_without_a_value_is_400() {
    let server = TestServer::start("").await;
    let (status, json) = post(&server, "/api/units/TEMP/command", r#"{"command":"set"}"#).await;
    assert_eq!(status, 400);
    assert!(json["message"].as_str().unwrap().contains("value"));
}

#[tokio::test]
async fn command_for_an_unknown_unit_is_404() {
    let server = TestServer::start("").await;
    let (status, _) = post(&server, "/api/units/NOPE/command", r#"{"command":"on"}"#).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn malformed_json_body_is_400_with_a_json_message() {
    let server = TestServer::start("").await;
    let (status, json) = post(&server, "/api/units/MOTION/command", r#"{"command": "#).await;
    assert_eq!(status, 400);
    assert!(json["message"].as_str().unwrap().contains("JSON"));
}

#[tokio::test]
async fn ten_mebibyte_body_is_413() {
    let server = TestServer::start("").await;
    let body = vec![b' '; 10 * 1024 * 1024];
    let response = server
        .client
        .post(server.url("/api/events/big"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(json["message"].as_str().unwrap().contains("too large"));
}

#[tokio::test]
async fn firing_an_event_answers_a_message() {
    let server = TestServer::start("").await;
    let before = server.hub.bus().last_seq();
    let (status, json) = post(&server, "/api/events/doorbell", r#"{"door":"front"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(json["message"], "Event doorbell fired.");
    assert!(server.hub.bus().last_seq() > before);
}

#[tokio::test]
async fn firing_an_event_with_no_body_is_allowed() {
    let server = TestServer::start("").await;
    let (status, _) = post(&server, "/api/events/doorbell", "").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sources_lists_each_source_with_its_status() {
    let server = TestServer::start(&support::config::source(
        "sse",
        "cam",
        "http://127.0.0.1:9/events",
        "",
    ))
    .await;
    let (status, json) = get(&server, "/api/sources").await;
    assert_eq!(status, 200);
    assert_eq!(json[0]["name"], "cam");
    assert_eq!(json[0]["type"], "sse");
    assert!(json[0]["state"].is_string());
    assert!(json[0]["events_seen"].is_number());
}

#[tokio::test]
async fn deconz_config_reports_the_websocket_port_actually_bound() {
    let server = TestServer::start("").await;
    let (status, json) = get(&server, "/api/anykey/config").await;
    assert_eq!(status, 200);
    assert_eq!(json["websocketport"], server.ws_port);
    assert_ne!(server.ws_port, 0);
    assert!(json["name"].is_string());
    assert!(json["apiversion"].is_string());
}

#[tokio::test]
async fn deconz_config_with_a_bad_key_is_403_with_the_deconz_error() {
    let server = TestServer::start("[auth]\napi_keys = [\"K\"]").await;
    let (status, json) = get(&server, "/api/wrong/config").await;
    assert_eq!(status, 403);
    assert_eq!(
        json,
        json!([{"error": {"type": 1, "address": "/", "description": "unauthorized user"}}])
    );
    let (status, json) = get(&server, "/api/K/config").await;
    assert_eq!(status, 200);
    assert_eq!(json["websocketport"], server.ws_port);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream").await;
    stream.block().await.unwrap();
    server.switch("MOTION", true);
    stream.event().await.unwrap();
    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("homebus_subscribers{transport=\"sse_stream\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("homebus_messages_out_total{transport=\"sse_stream\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("homebus_subscriber_drops_total{transport=\"websocket\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE homebus_source_events_total counter"),
        "{text}"
    );
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start("").await;
    let (status, json) = get(&server, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(json["status"], "ok");
}

#[tokio::test]
async fn unknown_path_is_404_with_a_json_message() {
    let server = TestServer::start("").await;
    let (status, json) = get(&server, "/nothing/here").await;
    assert_eq!(status, 404);
    assert!(json["message"].is_string());
}

#[tokio::test]
async fn cors_allows_a_configured_origin() {
    let server = TestServer::start("[server]\ncors_origins = [\"http://dash.local\"]").await;
    let response = server
        .client
        .get(server.url("/api/states"))
        .header("origin", "http://dash.local")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://dash.local"
    );
    let other = server
        .client
        .get(server.url("/api/states"))
        .header("origin", "http://evil.local")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_preflight_is_answered_without_credentials() {
    let server =
        TestServer::start("[server]\ncors_origins = [\"*\"]\n\n[auth]\napi_keys = [\"K\"]").await;
    let response = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("/api/stream"))
        .header("origin", "http://dash.local")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}
