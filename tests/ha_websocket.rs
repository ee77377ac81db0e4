//! The Home Assistant WebSocket API (`/api/websocket`) over real sockets,
//! with a tokio-tungstenite client speaking HA's protocol: the auth phase,
//! the framing rules, every command, subscriptions and bad clients.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::server::TestServer;
use support::wait::{until, within, within_limit};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const AUTH: &str = "[auth]\napi_keys = [\"K1\"]\njwt_secret = \"secret\"";
const SUBSCRIBERS: &str = "homebus_subscribers{transport=\"ha_websocket\"}";

/// A client of the HA WebSocket API.
struct Ha {
    socket: Socket,
    next_id: u64,
}

impl Ha {
    /// Connects and reads `auth_required`, sending no auth yet.
    async fn connect(server: &TestServer) -> Self {
        let (socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/websocket"))
            .await
            .unwrap();
        let mut ha = Ha { socket, next_id: 1 };
        let first = ha.next_json().await;
        assert_eq!(
            first,
            json!({"type": "auth_required", "ha_version": "2025.1.0"})
        );
        ha
    }

    /// Connects and authenticates with `token`, expecting `auth_ok`.
    async fn authed(server: &TestServer, token: &str) -> Self {
        let mut ha = Self::connect(server).await;
        ha.send(json!({"type": "auth", "access_token": token}))
            .await;
        assert_eq!(ha.next_json().await["type"], "auth_ok");
        ha
    }

    async fn send(&mut self, value: Value) {
        self.send_text(value.to_string()).await;
    }

    async fn send_text(&mut self, text: String) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next message, `None` when the connection ended.
    async fn next(&mut self) -> Option<Message> {
        loop {
            match within("a WebSocket message", self.socket.next()).await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    async fn next_json(&mut self) -> Value {
        match self.next().await.expect("the connection ended") {
            Message::Text(text) => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// The close frame that ends the connection.
    async fn closed(&mut self) -> CloseFrame {
        loop {
            match self.next().await.expect("ended without a close frame") {
                Message::Close(frame) => return frame.expect("a close code"),
                Message::Text(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Sends a command with the next id and returns its id.
    async fn command(&mut self, kind: &str, members: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut body = members.as_object().cloned().unwrap_or_default();
        body.insert("id".into(), id.into());
        body.insert("type".into(), kind.into());
        self.send(Value::Object(body)).await;
        id
    }

    /// Sends a command and returns its result message.
    async fn call(&mut self, kind: &str, members: Value) -> Value {
        let id = self.command(kind, members).await;
        let answer = self.next_json().await;
        assert_eq!(answer["id"], id, "{answer}");
        answer
    }

    /// Sends a command that must succeed and returns its `result`.
    async fn ok(&mut self, kind: &str, members: Value) -> Value {
        let answer = self.call(kind, members).await;
        assert_eq!(answer["type"], "result");
        assert_eq!(answer["success"], true, "{answer}");
        answer["result"].clone()
    }

    /// Sends a command that must fail and returns its error code.
    async fn error(&mut self, kind: &str, members: Value) -> String {
        let answer = self.call(kind, members).await;
        assert_eq!(answer["success"], false, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        answer["error"]["code"].as_str().unwrap().to_string()
    }
}

fn jwt(secret: &str, expires_in: i64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "dashboard", "exp": chrono::Utc::now().timestamp() + expires_in}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn subscribers(server: &TestServer, n: u64) {
    until("HA WebSocket subscribers", || {
        (server.metric(SUBSCRIBERS) == Some(n)).then_some(())
    })
    .await;
}

// --- auth ---

#[tokio::test]
async fn an_api_key_gets_auth_ok_with_the_ha_version() {
    let server = TestServer::start(AUTH).await;
    let mut ha = Ha::connect(&server).await;
    ha.send(json!({"type": "auth", "access_token": "K1"})).await;
    assert_eq!(
        ha.next_json().await,
        json!({"type": "auth_ok", "ha_version": "2025.1.0"})
    );
}

#[tokio::test]
async fn a_valid_jwt_gets_auth_ok() {
    let server = TestServer::start(AUTH).await;
    Ha::authed(&server, &jwt("secret", 60)).await;
}

#[tokio::test]
async fn a_wrong_token_gets_auth_invalid_then_a_close() {
    let server = TestServer::start(AUTH).await;
    for wrong in ["K2".to_string(), jwt("other", 60), jwt("secret", -3600)] {
        let mut ha = Ha::connect(&server).await;
        ha.send(json!({"type": "auth", "access_token": wrong}))
            .await;
        let answer = ha.next_json().await;
        assert_eq!(answer["type"], "auth_invalid");
        assert!(answer["message"].is_string());
        ha.closed().await;
    }
}

#[tokio::test]
async fn a_command_before_auth_gets_auth_invalid() {
    let server = TestServer::start(AUTH).await;
    let mut ha = Ha::connect(&server).await;
    ha.send(json!({"id": 1, "type": "get_states"})).await;
    assert_eq!(ha.next_json().await["type"], "auth_invalid");
    ha.closed().await;
}

#[tokio::test]
async fn auth_sent_before_auth_required_is_read_is_accepted() {
    let server = TestServer::start(AUTH).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url("/api/websocket"))
        .await
        .unwrap();
    socket
        .send(Message::text(r#"{"type":"auth","access_token":"K1"}"#))
        .await
        .unwrap();
    let mut ha = Ha { socket, next_id: 1 };
    assert_eq!(ha.next_json().await["type"], "auth_required");
    assert_eq!(ha.next_json().await["type"], "auth_ok");
}

#[tokio::test]
async fn without_auth_section_any_token_is_accepted() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "anything").await;
    assert_eq!(
        ha.ok("auth/current_user", json!({})).await["is_admin"],
        true
    );
}

#[tokio::test]
async fn the_endpoint_needs_no_http_credential_under_auth() {
    // HA's clients authenticate inside the protocol, never on the upgrade.
    let server = TestServer::start(AUTH).await;
    Ha::authed(&server, "K1").await;
}

#[tokio::test]
async fn a_client_that_sends_no_auth_is_closed_after_10_seconds() {
    let server = TestServer::start(AUTH).await;
    let mut ha = Ha::connect(&server).await;
    let frame = within_limit("the auth timeout", Duration::from_secs(15), ha.closed()).await;
    assert_eq!(frame.code, CloseCode::Policy);
    assert!(frame.reason.contains("auth"), "{}", frame.reason);
}

// --- framing ---

#[tokio::test]
async fn ping_gets_pong() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let id = ha.command("ping", json!({})).await;
    assert_eq!(ha.next_json().await, json!({"id": id, "type": "pong"}));
}

#[tokio::test]
async fn websocket_pings_are_answered() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.socket
        .send(Message::Ping(b"hi".to_vec().into()))
        .await
        .unwrap();
    let pong = within("a pong", async {
        loop {
            if let Some(Ok(Message::Pong(data))) = ha.socket.next().await {
                return data;
            }
        }
    })
    .await;
    assert_eq!(&pong[..], b"hi");
}

#[tokio::test]
async fn a_reused_or_smaller_id_is_id_reuse() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.send(json!({"id": 5, "type": "ping"})).await;
    assert_eq!(ha.next_json().await["type"], "pong");
    for id in [5, 4] {
        ha.send(json!({"id": id, "type": "ping"})).await;
        let answer = ha.next_json().await;
        assert_eq!(answer["id"], id);
        assert_eq!(answer["error"]["code"], "id_reuse");
    }
}

#[tokio::test]
async fn an_unknown_command_is_unknown_command() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    assert_eq!(ha.error("make_coffee", json!({})).await, "unknown_command");
}

#[tokio::test]
async fn a_command_without_type_is_invalid_format() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.send(json!({"id": 1})).await;
    let answer = ha.next_json().await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["code"], "invalid_format");
}

#[tokio::test]
async fn broken_json_with_an_id_is_invalid_format() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.send_text(r#"{"id": 3, "type": "ping""#.into()).await;
    let answer = ha.next_json().await;
    assert_eq!(answer["id"], 3);
    assert_eq!(answer["error"]["code"], "invalid_format");
    ha.send(json!({"id": 4, "type": "ping"})).await;
    assert_eq!(ha.next_json().await["type"], "pong");
}

#[tokio::test]
async fn malformed_json_without_an_id_closes_with_a_reason() {
    let server = TestServer::start("").await;
    let mut other = Ha::authed(&server, "x").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.send_text("this is not json".into()).await;
    let frame = ha.closed().await;
    assert_eq!(frame.code, CloseCode::Unsupported);
    assert!(frame.reason.contains("JSON"), "{}", frame.reason);
    assert_eq!(other.call("ping", json!({})).await["type"], "pong");
}

#[tokio::test]
async fn a_1_mib_message_is_refused_with_1009_and_others_go_on() {
    let server = TestServer::start("").await;
    let mut other = Ha::authed(&server, "x").await;
    let mut ha = Ha::authed(&server, "x").await;
    let padding = "x".repeat(1024 * 1024);
    ha.send(json!({"id": 1, "type": "ping", "padding": padding}))
        .await;
    let frame = ha.closed().await;
    assert_eq!(frame.code, CloseCode::Size);
    assert!(frame.reason.contains("too big"), "{}", frame.reason);
    assert_eq!(other.call("ping", json!({})).await["type"], "pong");
}

#[tokio::test]
async fn coalescing_clients_get_several_answers_in_one_array_frame() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let result = ha
        .ok(
            "supported_features",
            json!({"features": {"coalesce_messages": 1}}),
        )
        .await;
    assert!(result.is_null());
    ha.send(json!([{"id": 10, "type": "ping"}, {"id": 11, "type": "ping"}]))
        .await;
    assert_eq!(
        ha.next_json().await,
        json!([{"id": 10, "type": "pong"}, {"id": 11, "type": "pong"}])
    );
}

#[tokio::test]
async fn clients_that_did_not_ask_never_get_arrays() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.send(json!([{"id": 10, "type": "ping"}, {"id": 11, "type": "ping"}]))
        .await;
    assert_eq!(ha.next_json().await, json!({"id": 10, "type": "pong"}));
    assert_eq!(ha.next_json().await, json!({"id": 11, "type": "pong"}));
}

// --- commands ---

#[tokio::test]
async fn get_states_has_every_unit_with_context() {
    let server = TestServer::start("").await;
    server.set("BRIGHTNESS", 40.0);
    let mut ha = Ha::authed(&server, "x").await;
    let states = ha.ok("get_states", json!({})).await;
    let states = states.as_array().unwrap();
    assert_eq!(states.len(), 3);
    let light = states
        .iter()
        .find(|s| s["entity_id"] == "light.brightness")
        .unwrap();
    assert_eq!(light["state"], "on");
    assert_eq!(light["attributes"]["value"], 40);
    assert_eq!(light["context"]["id"].as_str().unwrap().len(), 26);
    assert!(light["context"]["parent_id"].is_null());
    assert!(light["last_changed"].as_str().unwrap().ends_with("+00:00"));
}

#[tokio::test]
async fn get_config_reports_a_running_hub() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let config = ha.ok("get_config", json!({})).await;
    assert_eq!(config["state"], "RUNNING");
    assert_eq!(config["version"], "2025.1.0");
    assert_eq!(config["unit_system"]["temperature"], "°C");
    assert!(config["time_zone"].is_string());
    assert!(config["location_name"].is_string());
    let components = config["components"].as_array().unwrap();
    for domain in ["light", "switch", "sensor", "websocket_api"] {
        assert!(components.contains(&json!(domain)), "{domain}");
    }
    assert_eq!(config["internal_url"], format!("http://{}", server.addr));
}

#[tokio::test]
async fn get_services_lists_what_the_units_domains_can_do() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let services = ha.ok("get_services", json!({})).await;
    for domain in ["light", "switch", "homeassistant"] {
        for service in ["turn_on", "turn_off", "toggle"] {
            assert!(services[domain][service].is_object(), "{domain}.{service}");
        }
    }
    assert!(services["light"]["turn_on"]["fields"]["brightness_pct"].is_object());
    assert!(services.get("sensor").is_none());
}

#[tokio::test]
async fn call_service_turn_on_with_brightness_pct_sets_the_light() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let result = ha
        .ok(
            "call_service",
            json!({"domain": "light", "service": "turn_on",
                   "service_data": {"brightness_pct": 50},
                   "target": {"entity_id": "light.brightness"}}),
        )
        .await;
    assert_eq!(result["context"]["id"].as_str().unwrap().len(), 26);
    assert!(result["context"]["user_id"].is_null());
    let state = server.hub.state("light.brightness").unwrap();
    assert_eq!(state.state, "on");
    assert_eq!(state.attributes["value"], 50);
}

#[tokio::test]
async fn call_service_takes_a_list_of_targets_and_service_data_entity_id() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok(
        "call_service",
        json!({"domain": "homeassistant", "service": "turn_on",
               "target": {"entity_id": ["light.brightness", "switch.motion"]}}),
    )
    .await;
    assert_eq!(server.hub.state("switch.motion").unwrap().state, "on");
    assert_eq!(server.hub.state("light.brightness").unwrap().state, "on");
    ha.ok(
        "call_service",
        json!({"domain": "switch", "service": "turn_off",
               "service_data": {"entity_id": "switch.motion"}}),
    )
    .await;
    assert_eq!(server.hub.state("switch.motion").unwrap().state, "off");
}

#[tokio::test]
async fn call_service_toggle_flips_each_entity() {
    let server = TestServer::start("").await;
    server.switch("MOTION", true);
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok(
        "call_service",
        json!({"domain": "switch", "service": "toggle",
               "target": {"entity_id": ["switch.motion", "light.brightness"]}}),
    )
    .await;
    assert_eq!(server.hub.state("switch.motion").unwrap().state, "off");
    assert_eq!(server.hub.state("light.brightness").unwrap().state, "on");
}

#[tokio::test]
async fn call_service_with_an_unknown_service_or_entity_is_not_found() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let target = json!({"entity_id": "switch.motion"});
    assert_eq!(
        ha.error(
            "call_service",
            json!({"domain": "switch", "service": "explode", "target": target})
        )
        .await,
        "not_found"
    );
    assert_eq!(
        ha.error(
            "call_service",
            json!({"domain": "switch", "service": "turn_on",
                   "target": {"entity_id": ["switch.motion", "switch.nope"]}})
        )
        .await,
        "not_found"
    );
    // Nothing was changed when one entity was unknown.
    assert_eq!(server.hub.state("switch.motion").unwrap().state, "unknown");
}

#[tokio::test]
async fn auth_current_user_is_an_admin_for_an_api_key() {
    let server = TestServer::start(AUTH).await;
    let mut ha = Ha::authed(&server, "K1").await;
    let user = ha.ok("auth/current_user", json!({})).await;
    assert_eq!(user["is_admin"], true);
    assert_eq!(user["is_owner"], true);
    assert!(user["id"].is_string() && user["name"].is_string());
}

// --- subscriptions ---

#[tokio::test]
async fn subscribe_events_delivers_state_changed_in_has_event_shape() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let id = ha
        .command("subscribe_events", json!({"event_type": "state_changed"}))
        .await;
    assert_eq!(ha.next_json().await["success"], true);
    server.switch("MOTION", true);
    server.hub.fire_event("doorbell", json!({}));
    server.switch("MOTION", false);
    for expected in ["on", "off"] {
        let message = ha.next_json().await;
        assert_eq!(message["id"], id);
        assert_eq!(message["type"], "event");
        let event = &message["event"];
        assert_eq!(event["event_type"], "state_changed");
        assert_eq!(event["origin"], "LOCAL");
        assert!(event["time_fired"].as_str().unwrap().ends_with("+00:00"));
        assert!(event["context"]["id"].is_string());
        assert_eq!(event["data"]["entity_id"], "switch.motion");
        assert_eq!(event["data"]["new_state"]["state"], expected);
        assert_eq!(event["data"]["new_state"]["context"], event["context"]);
    }
}

#[tokio::test]
async fn subscribe_events_without_a_type_gets_fired_events_too() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok("subscribe_events", json!({})).await;
    server.hub.fire_event("doorbell", json!({"ring": 2}));
    let event = &ha.next_json().await["event"];
    assert_eq!(event["event_type"], "doorbell");
    assert_eq!(event["data"]["ring"], 2);
}

#[tokio::test]
async fn unsubscribe_events_ends_the_subscription() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let id = ha.command("subscribe_events", json!({})).await;
    ha.next_json().await;
    subscribers(&server, 1).await;
    ha.ok("unsubscribe_events", json!({"subscription": id}))
        .await;
    subscribers(&server, 0).await;
    server.switch("MOTION", true);
    // The next message is the pong, not an event.
    assert_eq!(ha.call("ping", json!({})).await["type"], "pong");
}

#[tokio::test]
async fn unsubscribing_an_unknown_subscription_is_not_found() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    assert_eq!(
        ha.error("unsubscribe_events", json!({"subscription": 99}))
            .await,
        "not_found"
    );
}

#[tokio::test]
async fn subscribe_entities_sends_every_state_then_compressed_diffs() {
    let server = TestServer::start("").await;
    server.set("TEMP", 20.5);
    let mut ha = Ha::authed(&server, "x").await;
    let id = ha.command("subscribe_entities", json!({})).await;
    let result = ha.next_json().await;
    assert_eq!(result["success"], true);
    assert!(result["result"].is_null());
    let first = ha.next_json().await;
    assert_eq!(first["id"], id);
    let added = &first["event"]["a"];
    assert_eq!(added.as_object().unwrap().len(), 3);
    let temp = &added["sensor.temp"];
    assert_eq!(temp["s"], "20.5");
    assert_eq!(temp["a"]["value"], 20.5);
    assert!(temp["lc"].as_f64().unwrap() > 1.7e9);
    assert!(temp.get("lu").is_none());
    assert!(temp["c"].is_string());

    server.set("TEMP", 21.0);
    let change = ha.next_json().await;
    assert_eq!(change["id"], id);
    let diff = &change["event"]["c"]["sensor.temp"]["+"];
    assert_eq!(diff["s"], "21");
    assert_eq!(diff["a"]["value"], 21);
    assert!(diff["lc"].as_f64().unwrap() >= temp["lc"].as_f64().unwrap());
}

#[tokio::test]
async fn subscribe_entities_with_entity_ids_sends_only_those() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok(
        "subscribe_entities",
        json!({"entity_ids": ["switch.motion"]}),
    )
    .await;
    let first = ha.next_json().await;
    let added = first["event"]["a"].as_object().unwrap();
    assert_eq!(added.keys().collect::<Vec<_>>(), ["switch.motion"]);
    server.set("TEMP", 3.0);
    server.switch("MOTION", true);
    let change = ha.next_json().await;
    assert_eq!(change["event"]["c"]["switch.motion"]["+"]["s"], "on");
}

#[tokio::test]
async fn unsubscribe_events_also_ends_subscribe_entities() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    let id = ha.command("subscribe_entities", json!({})).await;
    ha.next_json().await;
    ha.next_json().await;
    ha.ok("unsubscribe_events", json!({"subscription": id}))
        .await;
    server.switch("MOTION", true);
    assert_eq!(ha.call("ping", json!({})).await["type"], "pong");
}

#[tokio::test]
async fn a_service_call_is_seen_by_a_subscriber() {
    let server = TestServer::start("").await;
    let mut watcher = Ha::authed(&server, "x").await;
    watcher.ok("subscribe_entities", json!({})).await;
    watcher.next_json().await;
    let mut caller = Ha::authed(&server, "x").await;
    caller
        .ok(
            "call_service",
            json!({"domain": "light", "service": "turn_on",
                   "target": {"entity_id": "light.brightness"},
                   "service_data": {"brightness": 128}}),
        )
        .await;
    let change = watcher.next_json().await;
    let diff = &change["event"]["c"]["light.brightness"]["+"];
    assert_eq!(diff["s"], "on");
    assert_eq!(diff["a"]["value"], 50);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_closed_with_1013_and_counted() {
    let server = TestServer::start(
        "[server]\nwrite_stall_timeout = \"10m\"\nlag_limit = 64\nreplay_buffer = 16",
    )
    .await;
    let mut slow = Ha::authed(&server, "x").await;
    slow.ok("subscribe_events", json!({})).await;
    subscribers(&server, 1).await;
    // Far more than the loopback socket buffers hold, so the server's task
    // is left more than `lag_limit` behind.
    let pad = "x".repeat(16 * 1024);
    for i in 0..2000 {
        let attributes = serde_json::from_str(&format!(r#"{{"pad":"{pad}"}}"#)).unwrap();
        server
            .hub
            .set_state("sensor.temp", &i.to_string(), attributes)
            .unwrap();
    }
    let frame = slow.closed().await;
    assert_eq!(frame.code, CloseCode::Again);
    assert!(frame.reason.contains("behind"), "{}", frame.reason);
    assert_eq!(
        server.metric("homebus_subscriber_drops_total{transport=\"ha_websocket\"}"),
        Some(1)
    );
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_others_keep_receiving() {
    let server = TestServer::start(
        "[server]\nwrite_stall_timeout = \"200ms\"\nlag_limit = 64\nreplay_buffer = 16",
    )
    .await;
    let mut silent = Ha::authed(&server, "x").await;
    silent.ok("subscribe_events", json!({})).await;
    let mut reader = Ha::authed(&server, "x").await;
    reader
        .ok(
            "subscribe_entities",
            json!({"entity_ids": ["switch.motion"]}),
        )
        .await;
    reader.next_json().await;
    subscribers(&server, 2).await;
    server
        .flood_until("the silent client to be dropped", SUBSCRIBERS, 1)
        .await;
    server.switch("MOTION", true);
    let change = reader.next_json().await;
    assert_eq!(change["event"]["c"]["switch.motion"]["+"]["s"], "on");
}

#[tokio::test]
async fn messages_out_are_counted_per_transport() {
    let server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok("subscribe_events", json!({})).await;
    server.switch("MOTION", true);
    ha.next_json().await;
    until("the message to be counted", || {
        (server.metric("homebus_messages_out_total{transport=\"ha_websocket\"}") == Some(1))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_with_going_away() {
    let mut server = TestServer::start("").await;
    let mut ha = Ha::authed(&server, "x").await;
    ha.ok("subscribe_events", json!({})).await;
    let (frame, ()) = tokio::join!(ha.closed(), server.stop());
    assert_eq!(frame.code, CloseCode::Away);
}
