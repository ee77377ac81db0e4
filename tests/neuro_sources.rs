//! A Neuro dashboard user's four source blocks (its `config.js`: `SSE`,
//! `WSS`, `FETCH` with `interval: 5000`, `FILE`), written as TOML and
//! otherwise unchanged, run in a hub against real peers on loopback: each
//! one's event reaches its unit. `tests/data/neuro.toml` holds the same
//! blocks for `homebus check`.

mod support;

use axum::http::{Method, StatusCode};
use support::hub::TestHub;
use support::peers::{Peer, websocket_sending};
use support::sse_server::{ScriptedServer, plain};

/// The blocks as Neuro writes them, with the peers' addresses filled in;
/// the only additions are the `[[unit]]`s the events drive.
fn neuro_config(sse: &str, wss: &str, fetch: &str) -> String {
    format!(
        r#"
[[source]]
name = "sse"
type = "SSE"
url = "{sse}/events"
events = ["temperature", "usermessage"]

[[source]]
name = "wss"
type = "WSS"
url = "ws://{wss}/"
events = ["random"]

[[source]]
name = "fetch"
type = "FETCH"
url = "{fetch}/"
interval = 5000
method = "POST"
body = "{{}}"
headers = {{ "Content-Type" = "application/json" }}
credentials = "include"
events = ["humidity"]

[[source]]
name = "file"
type = "FILE"
url = "provider.txt"
interval = 1000
events = ["temperature_file"]

[[unit]]
address = "temperature"
kind = "sensor"

[[unit]]
address = "random"
kind = "sensor"

[[unit]]
address = "humidity"
kind = "sensor"

[[unit]]
address = "temperature_file"
kind = "sensor"
"#
    )
}

#[tokio::test]
async fn neuros_four_source_blocks_run_unchanged() {
    let sse = ScriptedServer::sending("event: temperature\ndata: 21\n\n").await;
    let wss = Peer::start(websocket_sending(vec!["42".to_string()])).await;
    let fetch = ScriptedServer::start(|_| plain(StatusCode::OK, "text/plain", "55")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("provider.txt"),
        "event=\"temperature_file\";data=19\n",
    )
    .unwrap();
    let text = neuro_config(&sse.base, &wss.addr.to_string(), &fetch.base);
    let config = homebus::config::parse_str(&text, &dir.path().join("homebus.toml"))
        .unwrap_or_else(|e| panic!("the Neuro blocks were refused:\n{e}"));
    let hub = TestHub::start_config(config);

    hub.wait_state_is("sensor.temperature", "21").await;
    hub.wait_state_is("sensor.random", "42").await;
    hub.wait_state_is("sensor.humidity", "55").await;
    hub.wait_state_is("sensor.temperature_file", "19").await;

    let poll = fetch.request(0).expect("the fetch source polled");
    assert_eq!(poll.method, Method::POST);
    assert_eq!(poll.body, "{}");
    assert_eq!(
        poll.header("content-type").as_deref(),
        Some("application/json")
    );
}
