//! deCONZ-style WebSocket push over real sockets, with a tokio-tungstenite
//! client: on the WebSocket port and on `/ws`.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::hub_process::HubProcess;
use support::server::TestServer;
use support::wait::{until, within};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Client {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Waits until the server counts `n` WebSocket subscribers.
async fn subscribers(server: &TestServer, n: u64) {
    until("WebSocket subscribers", || {
        (server.metric("homebus_subscribers{transport=\"websocket\"}") == Some(n)).then_some(())
    })
    .await;
}

/// The next message from the server, within the deadline.
async fn next(client: &mut Client) -> Option<Message> {
    within("a WebSocket message", client.next())
        .await
        .map(|m| m.unwrap())
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        match next(client).await.expect("socket closed") {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_port_pushes_changed_events() {
    let server = TestServer::start("").await;
    let mut client = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    server.switch("MOTION", true);
    let json = next_json(&mut client).await;
    assert_eq!(json["t"], "event");
    assert_eq!(json["e"], "changed");
    assert_eq!(json["r"], "lights");
    assert_eq!(json["id"], "MOTION");
    assert_eq!(json["state"]["on"], true);
}

#[tokio::test]
async fn ws_path_on_the_main_port_pushes_the_same_messages() {
    let server = TestServer::start("").await;
    let mut client = connect(&server.ws_url("/ws")).await;
    subscribers(&server, 1).await;
    server.set("TEMP", 19.5);
    let json = next_json(&mut client).await;
    assert_eq!(json["e"], "changed");
    assert_eq!(json["r"], "sensors");
    assert_eq!(json["state"]["state"], "19.5");
}

#[tokio::test]
async fn a_unit_that_appears_is_added() {
    let server = TestServer::start(&support::config::source(
        "sse",
        "x",
        "http://127.0.0.1:9/",
        "create_units = true",
    ))
    .await;
    let mut client = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    server.hub.ingest(homebus::event::Event::new(
        "x".into(),
        "sensors/12",
        Some("21".into()),
    ));
    let json = next_json(&mut client).await;
    assert_eq!(json["e"], "added");
    assert_eq!(json["r"], "sensors");
    assert_eq!(json["id"], "12");
}

#[tokio::test]
async fn pings_are_answered() {
    let server = TestServer::start("").await;
    let mut client = connect(&server.push_url()).await;
    client
        .send(Message::Ping(bytes::Bytes::from_static(b"hello")))
        .await
        .unwrap();
    match next(&mut client).await.unwrap() {
        Message::Pong(payload) => assert_eq!(&payload[..], b"hello"),
        other => panic!("expected a pong, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_sends_a_close_frame() {
    let mut server = TestServer::start("").await;
    let mut client = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    server.stop().await;
    match next(&mut client).await.unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_sending_garbage_is_dropped_and_others_keep_receiving() {
    let server = TestServer::start("").await;
    let mut good = connect(&server.push_url()).await;
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", server.ws_port))
        .await
        .unwrap();
    let garbage = connect(&server.push_url()).await;
    subscribers(&server, 2).await;
    // A frame with reserved bits and opcode set is a protocol error.
    let mut stream = garbage.into_inner();
    tokio::io::AsyncWriteExt::write_all(&mut stream, &[0xff; 64])
        .await
        .unwrap();
    // And a raw TCP client that never speaks HTTP at all.
    tokio::io::AsyncWriteExt::write_all(&mut raw, b"\x00\x01garbage\r\n\r\n")
        .await
        .unwrap();
    subscribers(&server, 1).await;
    server.switch("MOTION", true);
    assert_eq!(next_json(&mut good).await["e"], "changed");
}

#[tokio::test]
async fn text_from_a_client_is_ignored() {
    let server = TestServer::start("").await;
    let mut client = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    client.send(Message::text("hello")).await.unwrap();
    server.switch("MOTION", true);
    assert_eq!(next_json(&mut client).await["e"], "changed");
}

#[tokio::test]
async fn websocket_client_that_stops_reading_is_disconnected() {
    let server = TestServer::start(
        "[server]\nwrite_stall_timeout = \"200ms\"\nlag_limit = 64\nreplay_buffer = 16",
    )
    .await;
    let _silent = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    server
        .flood_until(
            "the silent client to be disconnected",
            "homebus_subscribers{transport=\"websocket\"}",
            0,
        )
        .await;
}

#[tokio::test]
async fn websocket_client_that_falls_behind_is_closed_with_try_again_later() {
    let server = TestServer::start(
        "[server]\nwrite_stall_timeout = \"10m\"\nlag_limit = 64\nreplay_buffer = 16",
    )
    .await;
    let mut slow = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    // Far more than the loopback socket buffers hold, so the server's task
    // is left more than `lag_limit` behind.
    let pad = "x".repeat(16 * 1024);
    let changes = 2000;
    for i in 0..changes {
        let attributes = serde_json::from_str(&format!(r#"{{"pad":"{pad}"}}"#)).unwrap();
        server
            .hub
            .set_state("sensor.temp", &i.to_string(), attributes)
            .unwrap();
    }
    let mut received = 0;
    let frame = loop {
        match next(&mut slow).await.expect("closed without a close frame") {
            Message::Text(_) => received += 1,
            Message::Close(frame) => break frame.expect("a close code"),
            _ => {}
        }
    };
    assert_eq!(frame.code, CloseCode::Again);
    assert!(received < changes, "the slow client got everything");
    assert_eq!(
        server.metric("homebus_subscriber_drops_total{transport=\"websocket\"}"),
        Some(1)
    );
}

const AUTH: &str = "[auth]\napi_keys = [\"K1\"]";

/// The HTTP status the push port answered a refused handshake with.
async fn refused_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused with something other than an HTTP status: {other}"),
        Ok(_) => panic!("connected to {url}"),
    }
}

#[tokio::test]
async fn under_auth_the_push_port_refuses_a_keyless_client_by_default() {
    let server = TestServer::start(AUTH).await;
    assert_eq!(refused_status(&server.push_url()).await, 401);
}

#[tokio::test]
async fn websocket_open_lets_a_keyless_client_read_the_push_port_under_auth() {
    let server = TestServer::start(&format!("[server]\nwebsocket_open = true\n{AUTH}")).await;
    let mut client = connect(&server.push_url()).await;
    subscribers(&server, 1).await;
    server.switch("MOTION", true);
    let json = next_json(&mut client).await;
    assert_eq!(json["id"], "MOTION");
    assert_eq!(json["state"]["on"], true);
}

#[tokio::test]
async fn websocket_open_still_refuses_a_wrong_key_on_the_push_port() {
    let server = TestServer::start(&format!("[server]\nwebsocket_open = true\n{AUTH}")).await;
    let url = format!("{}?api_password=wrong", server.push_url());
    assert_eq!(refused_status(&url).await, 401);
    connect(&format!("{}?api_password=K1", server.push_url())).await;
}

#[tokio::test]
async fn websocket_open_leaves_ws_on_the_main_port_keyed() {
    let server = TestServer::start(&format!("[server]\nwebsocket_open = true\n{AUTH}")).await;
    assert_eq!(refused_status(&server.ws_url("/ws")).await, 401);
}

/// Starts the real binary on `listen` with `[auth]` and `websocket_open`,
/// and returns its log up to the line where it starts serving.
async fn start_up_log(listen: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "[server]\nlisten = \"{listen}\"\nwebsocket_port = 0\ndatabase = \":memory:\"\n\
             websocket_open = true\n{AUTH}\n"
        ),
    );
    hub.base_url().await;
    hub.log
}

#[tokio::test]
async fn websocket_open_on_a_non_loopback_address_logs_a_warning() {
    let log = start_up_log("0.0.0.0:0").await;
    assert!(
        log.lines()
            .any(|line| line.contains("WARN") && line.contains("websocket_open = true")),
        "{log}"
    );
}

#[tokio::test]
async fn websocket_open_on_loopback_logs_no_warning() {
    let log = start_up_log("127.0.0.1:0").await;
    assert!(!log.contains("websocket_open"), "{log}");
}
