//! `GET /api/events/unmatched` over real sockets, fed by a real SSE source
//! on loopback: what a source delivered that no unit took, with the line
//! to add; gone once a unit exists; behind auth like the rest of the API.

mod support;

use axum::body::Bytes;
use futures_util::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::Value;
use support::config::source;
use support::server::TestServer;
use support::sse_server::{ScriptedServer, sse_stream};
use support::wait::until;
use tokio::sync::watch;

/// Waits until the hub lists `count` events named `name` (ASCII case aside).
async fn wait_unmatched(server: &TestServer, name: &str, count: u64) {
    until(&format!("{count} unmatched `{name}` events"), || {
        let list = server.hub.unmatched_events();
        list.events
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(name) && e.count == count)
            .then_some(())
    })
    .await;
}

/// Sends a `GET /api/events/unmatched` and returns its JSON, checking the
/// answer's status and headers.
async fn get_unmatched(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["homebus-unmatched-evicted"], "0");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn an_event_no_unit_takes_is_listed_with_count_data_and_the_line_to_add() {
    let upstream =
        ScriptedServer::sending("event: temperature\ndata: 21.5\n\nevent: TEMP\ndata: 3\n\nevent: Temperature\ndata: 22,5\n\n")
            .await;
    let server = TestServer::start(&source("sse", "porch", &upstream.base, "")).await;
    wait_unmatched(&server, "temperature", 2).await;

    let list = get_unmatched(server.client.get(server.url("/api/events/unmatched"))).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "TEMP has a unit and is not listed: {list:?}");
    let entry = &list[0];
    assert_eq!(entry["name"], "temperature");
    assert_eq!(entry["source"], "porch");
    assert_eq!(entry["count"], 2);
    assert_eq!(entry["last_data"], "22,5");
    assert!(
        chrono::DateTime::parse_from_rfc3339(entry["last_seen"].as_str().unwrap()).is_ok(),
        "last_seen: {}",
        entry["last_seen"]
    );
    assert_eq!(
        entry["suggestion"],
        "[[unit]]\naddress = \"temperature\"\nkind = \"sensor\""
    );
    assert_eq!(
        entry["alternative"],
        "create_units = true in [[source]] \"porch\""
    );
}

#[tokio::test]
async fn the_suggested_line_makes_a_unit_that_takes_the_event() {
    let upstream = ScriptedServer::sending("event: porch_light\ndata: on\n\n").await;
    let server = TestServer::start(&source("sse", "porch", &upstream.base, "")).await;
    wait_unmatched(&server, "porch_light", 1).await;
    let list = get_unmatched(server.client.get(server.url("/api/events/unmatched"))).await;
    let suggestion = list[0]["suggestion"].as_str().unwrap().to_string();
    drop(server);

    let upstream = ScriptedServer::sending("event: porch_light\ndata: on\n\n").await;
    let server = TestServer::start(&format!(
        "{}\n{suggestion}\n",
        source("sse", "porch", &upstream.base, "")
    ))
    .await;
    server.wait_state_is("switch.porch_light", "on").await;
    let list = get_unmatched(server.client.get(server.url("/api/events/unmatched"))).await;
    assert_eq!(list, Value::Array(vec![]));
}

#[tokio::test]
async fn an_event_leaves_the_list_once_a_unit_exists_for_its_name() {
    let porch = ScriptedServer::sending("event: humidity\ndata: 40\n\n").await;
    // A second source that creates units, held back until the first event is listed.
    let (release, released) = watch::channel(false);
    let creator = ScriptedServer::start(move |_| {
        let mut released = released.clone();
        let event = stream::once(async move {
            let _ = released.wait_for(|go| *go).await;
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"event: Humidity\ndata: 41\n\n"))
        });
        sse_stream(event.chain(stream::pending()))
    })
    .await;
    let config = source("sse", "porch", &porch.base, "")
        + source("sse", "zigbee", &creator.base, "create_units = true").as_str();
    let server = TestServer::start(&config).await;
    wait_unmatched(&server, "humidity", 1).await;

    release.send(true).unwrap();
    until("the zigbee source to create sensor.humidity", || {
        server.hub.state("sensor.humidity")
    })
    .await;
    let list = get_unmatched(server.client.get(server.url("/api/events/unmatched"))).await;
    assert_eq!(list, Value::Array(vec![]));
}

#[tokio::test]
async fn the_list_needs_a_key_when_auth_is_on() {
    let upstream = ScriptedServer::sending("event: temperature\ndata: 21\n\n").await;
    let toml = format!(
        "[auth]\napi_keys = [\"K\"]\n{}",
        source("sse", "porch", &upstream.base, "")
    );
    let server = TestServer::start(&toml).await;
    wait_unmatched(&server, "temperature", 1).await;

    let refused = server
        .client
        .get(server.url("/api/events/unmatched"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = server
        .client
        .get(server.url("/api/events/unmatched"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let list = get_unmatched(
        server
            .client
            .get(server.url("/api/events/unmatched"))
            .bearer_auth("K"),
    )
    .await;
    assert_eq!(list[0]["name"], "temperature");
}

#[tokio::test]
async fn posting_to_the_unmatched_path_still_fires_an_event_of_that_type() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream").await;
    stream.block().await.unwrap();
    let response = server
        .client
        .post(server.url("/api/events/unmatched"))
        .body(r#"{"why": "a client of ours"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["message"], "Event unmatched fired.");
    let fired = stream.event().await.expect("the fired event").json();
    assert_eq!(fired["event_type"], "unmatched");
    assert_eq!(fired["data"]["why"], "a client of ours");
}
