//! The SSE source against real HTTP servers on loopback: XTension examples,
//! dashboard streams, reconnection with Last-Event-ID, and bad input.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use futures_util::{StreamExt, stream};
use homebus::bus::BusMessage;
use support::config::{source, unit};
use support::hub::TestHub;
use support::sse_server::{ScriptedServer, plain, sse_stream, sse_then_hang, ticking};
use support::wait::{until, within};

#[tokio::test]
async fn dashboard_stream_drives_a_sensor() {
    let server =
        ScriptedServer::start(|_| ticking("temperature_sse", Duration::from_millis(5))).await;
    let hub = TestHub::start(
        &(source("sse", "dash", &server.base, "") + unit("temperature_sse", "sensor").as_str()),
    );
    hub.wait_state("sensor.temperature_sse", "past 3", |s| {
        s.state.parse::<u64>().is_ok_and(|n| n >= 3)
    })
    .await;
}

#[tokio::test]
async fn event_with_no_data_turns_a_switch_on() {
    let server = ScriptedServer::sending("event: Motion\n\n").await;
    let hub = TestHub::start(
        &(source("sse", "cam", &server.base, "") + unit("MOTION", "switch").as_str()),
    );
    hub.wait_state_is("switch.motion", "on").await;
}

#[tokio::test]
async fn true_data_turns_a_switch_on() {
    let server = ScriptedServer::sending("event: Door\ndata: True\n\n").await;
    let hub =
        TestHub::start(&(source("sse", "cam", &server.base, "") + unit("door", "switch").as_str()));
    hub.wait_state_is("switch.door", "on").await;
}

#[tokio::test]
async fn decimal_comma_sets_a_dimmer_value() {
    let server = ScriptedServer::sending("event: Brightness\ndata: 47,5\n\n").await;
    let hub = TestHub::start(
        &(source("sse", "cam", &server.base, "") + unit("BRIGHTNESS", "dimmer").as_str()),
    );
    hub.wait_state_is("light.brightness", "on").await;
    assert_eq!(
        hub.entity("light.brightness").unwrap().attributes["value"],
        47.5
    );
}

#[tokio::test]
async fn decimal_comma_on_a_sensor_reads_with_a_point() {
    let server = ScriptedServer::sending("event: Brightness\ndata: 47,5\n\n").await;
    let hub = TestHub::start(
        &(source("sse", "cam", &server.base, "") + unit("BRIGHTNESS", "sensor").as_str()),
    );
    hub.wait_state_is("sensor.brightness", "47.5").await;
}

#[tokio::test]
async fn events_outside_the_whitelist_are_dropped_ignoring_case() {
    let server = ScriptedServer::sending("event: Door\ndata: on\n\nevent: MOTION\n\n").await;
    let config = source("sse", "cam", &server.base, "events = [\"motion\"]")
        + unit("Door", "switch").as_str()
        + unit("Motion", "switch").as_str();
    let hub = TestHub::start(&config);
    hub.wait_state_is("switch.motion", "on").await;
    assert_eq!(hub.state("switch.door").as_deref(), Some("unknown"));
    assert_eq!(hub.source("cam").events_seen, 1);
}

#[tokio::test]
async fn create_units_makes_a_unit_for_an_unknown_address() {
    let server = ScriptedServer::sending("event: Humidity\ndata: 61\n\n").await;
    let hub = TestHub::start(&source("sse", "cam", &server.base, "create_units = true"));
    hub.wait_state_is("sensor.humidity", "61").await;
}

#[tokio::test]
async fn request_has_accept_header_method_body_and_configured_headers() {
    let server = ScriptedServer::sending("event: Door\ndata: on\n\n").await;
    let config = source(
        "sse",
        "cam",
        &format!("{}/events?x=1", server.base),
        "method = \"POST\"\nbody = '{\"subscribe\":true}'\nheaders = { X-Camera = \"hall\" }",
    ) + unit("door", "switch").as_str();
    let hub = TestHub::start(&config);
    hub.wait_state_is("switch.door", "on").await;
    let request = server.request(0).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/events?x=1");
    assert_eq!(request.body, "{\"subscribe\":true}");
    assert_eq!(
        request.header("accept").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(request.header("x-camera").as_deref(), Some("hall"));
    assert_eq!(request.header("last-event-id"), None);
}

/// Events `from..=to` with ids, as a server that replays after Last-Event-ID sends them.
fn numbered(from: u64, to: u64) -> Bytes {
    let mut body = String::new();
    for n in from..=to {
        body.push_str(&format!("event: counter\nid: {n}\ndata: {n}\n\n"));
    }
    Bytes::from(body)
}

#[tokio::test]
async fn reconnect_sends_last_event_id_and_nothing_is_lost_or_doubled() {
    // First connection: retry 50 ms, events 1..=5, then the server ends the
    // stream. Later connections: everything after Last-Event-ID (all ten
    // when there is none), then the stream stays open.
    let server = ScriptedServer::start(|request| {
        if request.number == 0 {
            let mut body = b"retry: 50\n\n".to_vec();
            body.extend_from_slice(&numbered(1, 5));
            return sse_stream(stream::iter([Ok::<_, Infallible>(Bytes::from(body))]));
        }
        let after: u64 = request
            .header("last-event-id")
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        sse_then_hang(vec![numbered(after + 1, 10)])
    })
    .await;
    let hub = TestHub::start(
        &(source("sse", "counter", &server.base, "") + unit("counter", "sensor").as_str()),
    );
    let mut subscription = hub.hub.bus().subscribe(Some(0)).unwrap();
    let mut seen = Vec::new();
    within("ten events, 1 to 10, through the bus", async {
        while seen.len() < 10 {
            let envelope = subscription.next().await.unwrap().unwrap();
            let cause = match &envelope.message {
                BusMessage::State(change) => change.cause.clone(),
                BusMessage::Received(event) => Some(event.clone()),
                BusMessage::Event(_) => None,
            };
            if let Some(event) = cause {
                seen.push(event.data.unwrap());
            }
        }
    })
    .await;
    let expected: Vec<String> = (1..=10).map(|n| n.to_string()).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        server
            .request(1)
            .unwrap()
            .header("last-event-id")
            .as_deref(),
        Some("5")
    );
    assert_eq!(hub.state("sensor.counter").as_deref(), Some("10"));
}

/// A second, healthy source proves the hub keeps serving while one fails.
fn with_healthy_neighbour(bad: String, healthy: &ScriptedServer) -> String {
    bad + source("sse", "healthy", &healthy.base, "").as_str()
        + unit("temperature_sse", "sensor").as_str()
}

async fn healthy_keeps_ticking(hub: &TestHub) {
    let before: u64 = hub
        .wait_state("sensor.temperature_sse", "a number", |s| {
            s.state.parse::<u64>().is_ok()
        })
        .await
        .state
        .parse()
        .unwrap();
    hub.wait_state("sensor.temperature_sse", "moving on", |s| {
        s.state.parse::<u64>().is_ok_and(|n| n > before)
    })
    .await;
}

#[tokio::test]
async fn refused_connection_is_reported_and_retried() {
    let healthy =
        ScriptedServer::start(|_| ticking("temperature_sse", Duration::from_millis(5))).await;
    let closed = support::peers::free_addr();
    let hub = TestHub::start(&with_healthy_neighbour(
        source(
            "sse",
            "gone",
            &format!("http://{closed}/"),
            "reconnect = \"50ms\"",
        ),
        &healthy,
    ));
    let status = hub.source_error("gone", "cannot connect").await;
    assert!(status.next_try_in_ms.is_some());
    healthy_keeps_ticking(&hub).await;
}

#[tokio::test]
async fn server_error_status_is_reported_and_retried() {
    let healthy =
        ScriptedServer::start(|_| ticking("temperature_sse", Duration::from_millis(5))).await;
    let failing =
        ScriptedServer::start(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "boom"))
            .await;
    let hub = TestHub::start(&with_healthy_neighbour(
        source("sse", "failing", &failing.base, "reconnect = \"20ms\""),
        &healthy,
    ));
    hub.source_error("failing", "500").await;
    until("a second try", || {
        (failing.request_count() >= 2).then_some(())
    })
    .await;
    healthy_keeps_ticking(&hub).await;
}

#[tokio::test]
async fn html_page_instead_of_a_stream_is_reported() {
    let healthy =
        ScriptedServer::start(|_| ticking("temperature_sse", Duration::from_millis(5))).await;
    let html = ScriptedServer::start(|_| {
        plain(StatusCode::OK, "text/html; charset=utf-8", "<html></html>")
    })
    .await;
    let hub = TestHub::start(&with_healthy_neighbour(
        source("sse", "html", &html.base, ""),
        &healthy,
    ));
    hub.source_error("html", "text/html").await;
    healthy_keeps_ticking(&hub).await;
}

#[tokio::test]
async fn invalid_utf8_is_replaced_and_the_stream_goes_on() {
    let server = ScriptedServer::start(|_| {
        sse_then_hang(vec![Bytes::from_static(
            b"event: Note\ndata: caf\xff\n\nevent: Door\ndata: on\n\n",
        )])
    })
    .await;
    let config = source("sse", "cam", &server.base, "")
        + unit("Door", "switch").as_str()
        + unit("Note", "sensor").as_str();
    let hub = TestHub::start(&config);
    hub.wait_state_is("switch.door", "on").await;
    assert_eq!(
        hub.state("sensor.note").as_deref(),
        Some("unknown"),
        "text never changes a state"
    );
}

#[tokio::test]
async fn endless_line_is_refused_at_the_limit_without_reading_it_all() {
    const CHUNK: usize = 64 * 1024;
    const HUNDRED_MIB: usize = 100 * 1024 * 1024;
    let healthy =
        ScriptedServer::start(|_| ticking("temperature_sse", Duration::from_millis(5))).await;
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let flood = ScriptedServer::start(move |_| {
        let counter = counter.clone();
        let chunks = stream::iter(0..HUNDRED_MIB / CHUNK).map(move |_| {
            counter.fetch_add(CHUNK, Ordering::SeqCst);
            Ok::<_, Infallible>(Bytes::from(vec![b'a'; CHUNK]))
        });
        sse_stream(stream::iter([Ok(Bytes::from_static(b"data: "))]).chain(chunks))
    })
    .await;
    let hub = TestHub::start(&with_healthy_neighbour(
        source(
            "sse",
            "flood",
            &flood.base,
            "max_event_size = 1048576\nreconnect = \"10s\"",
        ),
        &healthy,
    ));
    hub.source_error("flood", "longer than the 1048576-byte limit")
        .await;
    let total = sent.load(Ordering::SeqCst);
    assert!(
        total < 32 * 1024 * 1024,
        "the server got to send {total} bytes"
    );
    healthy_keeps_ticking(&hub).await;
}

/// A server that sets a cookie on every answer and ends the stream at once,
/// so the source reconnects.
async fn setting_a_cookie() -> ScriptedServer {
    ScriptedServer::start(|_| {
        let mut response = support::sse_server::sse("data: 1\n\n");
        response.headers_mut().insert(
            axum::http::header::SET_COOKIE,
            axum::http::HeaderValue::from_static("session=abc; Path=/"),
        );
        response
    })
    .await
}

/// The cookie header of the source's second connection.
async fn cookie_on_reconnect(server: &ScriptedServer) -> Option<String> {
    until("a reconnection", || {
        (server.request_count() >= 2).then_some(())
    })
    .await;
    server.request(1).unwrap().header("cookie")
}

#[tokio::test]
async fn credentials_include_sends_the_cookie_back_on_reconnect() {
    let server = setting_a_cookie().await;
    let _hub = TestHub::start(&source(
        "sse",
        "cam",
        &server.base,
        "reconnect = \"10ms\"\ncredentials = \"include\"",
    ));
    assert_eq!(
        cookie_on_reconnect(&server).await.as_deref(),
        Some("session=abc")
    );
}

#[tokio::test]
async fn without_credentials_no_cookie_is_sent_on_reconnect() {
    let server = setting_a_cookie().await;
    let _hub = TestHub::start(&source("sse", "cam", &server.base, "reconnect = \"10ms\""));
    assert_eq!(cookie_on_reconnect(&server).await, None);
}
