//! The WebSocket source against real WebSocket servers on loopback.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use support::hub::TestHub;
use support::peers::{Peer, handler, websocket_numbers, websocket_sending};
use support::wait::{until, within};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn config(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"
[[source]]
name = "ws"
type = "websocket"
url = "ws://{addr}/"
events = ["temperature_ws"]
reconnect = "50ms"
{extra}

[[unit]]
address = "temperature_ws"
kind = "sensor"
"#
    )
}

fn is_number(state: &str) -> bool {
    state.parse::<f64>().is_ok()
}

#[tokio::test]
async fn numbers_from_a_websocket_server_drive_a_sensor() {
    let server = Peer::start(websocket_numbers()).await;
    let hub = TestHub::start(&config(server.addr, ""));
    hub.wait_state("sensor.temperature_ws", "a number", |s| is_number(&s.state))
        .await;
    assert_eq!(
        hub.source("ws").state,
        homebus::sources::SourceState::Connected
    );
}

#[tokio::test]
async fn binary_messages_are_read_as_text() {
    let server = Peer::start(handler(|stream, _| async move {
        let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
        socket
            .send(Message::Binary(b"31.5".to_vec().into()))
            .await
            .unwrap();
        while let Some(Ok(_)) = socket.next().await {}
    }))
    .await;
    let hub = TestHub::start(&config(server.addr, ""));
    hub.wait_state_is("sensor.temperature_ws", "31.5").await;
}

#[tokio::test]
async fn state_resumes_after_the_server_goes_away_and_comes_back() {
    let value = Arc::new(AtomicUsize::new(11));
    let sent = value.clone();
    let mut server = Peer::start(handler(move |stream, _| {
        let n = sent.load(Ordering::SeqCst);
        async move {
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            socket.send(n.to_string().into()).await.unwrap();
            while let Some(Ok(_)) = socket.next().await {}
        }
    }))
    .await;
    let hub = TestHub::start(&config(server.addr, ""));
    hub.wait_state_is("sensor.temperature_ws", "11").await;

    server.stop().await;
    let down = hub
        .wait_source("ws", "an error while the server is down", |s| {
            s.last_error.is_some()
        })
        .await;
    assert_ne!(down.state, homebus::sources::SourceState::Connected);

    value.store(22, Ordering::SeqCst);
    server.restart().await;
    hub.wait_state_is("sensor.temperature_ws", "22").await;
}

#[tokio::test]
async fn a_100_mib_message_is_refused_and_the_connection_retried() {
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let server = Peer::start(handler(move |stream, n| {
        let counter = counter.clone();
        async move {
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            if n > 0 {
                socket.send("7".into()).await.unwrap();
                while let Some(Ok(_)) = socket.next().await {}
                return;
            }
            // A binary frame announcing 100 MiB, then its payload streamed
            // in pieces, so the server never holds it in memory either.
            let size: u64 = 100 * 1024 * 1024;
            let mut header = vec![0x82, 127];
            header.extend_from_slice(&size.to_be_bytes());
            let tcp = socket.get_mut();
            tcp.write_all(&header).await.unwrap();
            let piece = vec![b'9'; 64 * 1024];
            let mut sent = 0u64;
            while sent < size {
                if tcp.write_all(&piece).await.is_err() {
                    break;
                }
                sent += piece.len() as u64;
                counter.store(sent as usize, Ordering::SeqCst);
            }
        }
    }))
    .await;
    let hub = TestHub::start(&config(server.addr, "max_event_size = 1048576"));
    hub.wait_state_is("sensor.temperature_ws", "7").await;
    assert!(server.connection_count() >= 2);
    let accepted = written.load(Ordering::SeqCst);
    assert!(
        accepted < 32 * 1024 * 1024,
        "the source read {accepted} bytes of a message over its limit"
    );
}

#[tokio::test]
async fn the_source_answers_pings() {
    let (pongs, mut received) = mpsc::channel::<Vec<u8>>(4);
    let server = Peer::start(handler(move |stream, _| {
        let pongs = pongs.clone();
        async move {
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            socket
                .send(Message::Ping(b"hello".to_vec().into()))
                .await
                .unwrap();
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Pong(payload) = message {
                    let _ = pongs.send(payload.to_vec()).await;
                }
            }
        }
    }))
    .await;
    let _hub = TestHub::start(&config(server.addr, ""));
    let pong = within("a pong", received.recv()).await.unwrap();
    assert_eq!(pong, b"hello");
}

#[tokio::test]
async fn the_source_pings_a_quiet_server() {
    let (pings, mut received) = mpsc::channel::<()>(4);
    let server = Peer::start(handler(move |stream, _| {
        let pings = pings.clone();
        async move {
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            while let Some(Ok(message)) = socket.next().await {
                if matches!(message, Message::Ping(_)) {
                    let _ = pings.send(()).await;
                }
            }
        }
    }))
    .await;
    let _hub = TestHub::start(&config(server.addr, "interval = \"100ms\""));
    within("a ping from the source", received.recv())
        .await
        .unwrap();
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
#[tokio::test]
async fn configured_headers_are_sent_on_the_handshake() {
    let (seen, mut received) = mpsc::channel::<String>(4);
    let server = Peer::start(handler(move |stream, _| {
        let seen = seen.clone();
        async move {
            let callback =
                |request: &tokio_tungstenite::tungstenite::handshake::server::Request, response| {
                    let token = request
                        .headers()
                        .get("x-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let _ = seen.try_send(token);
                    Ok(response)
                };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                return;
            };
            while let Some(Ok(_)) = socket.next().await {}
        }
    }))
    .await;
    let _hub = TestHub::start(&config(server.addr, "headers = { X-Token = \"s3cret\" }"));
    let token = within("a handshake", received.recv()).await.unwrap();
    assert_eq!(token, "s3cret");
}

#[tokio::test]
async fn a_malformed_payload_is_skipped_and_the_stream_goes_on() {
    let server = Peer::start(websocket_sending(vec![
        "{not json".into(),
        r#"{"t":"event","e":"changed","r":"sensors","id":"5","state":{"presence":true}}"#.into(),
    ]))
    .await;
    let hub = TestHub::start(&format!(
        r#"
[[source]]
name = "gateway"
type = "websocket"
url = "ws://{}/"
format = "deconz"

[[unit]]
address = "sensors/5"
entity_id = "binary_sensor.hall"
kind = "switch"
"#,
        server.addr
    ));
    hub.wait_state_is("binary_sensor.hall", "on").await;
    assert_eq!(server.connection_count(), 1, "the connection was kept");
}

/// A deCONZ gateway: sends these messages, one per connection round.
fn deconz_config(addr: std::net::SocketAddr, create_units: bool) -> String {
    format!(
        r#"
[[source]]
name = "deconz"
type = "websocket"
url = "ws://{addr}/"
format = "deconz"
create_units = {create_units}
reconnect = "50ms"

[[unit]]
address = "sensors/5"
entity_id = "binary_sensor.hall_presence"
kind = "switch"

[[unit]]
address = "sensors/12"
entity_id = "sensor.hall_button"
kind = "sensor"
"#
    )
}

/// A WebSocket server that sends whatever the test pushes into the channel.
async fn scripted_server() -> (Peer, mpsc::Sender<String>) {
    let (sender, receiver) = mpsc::channel::<String>(16);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let server = Peer::start(handler(move |stream, _| {
        let receiver = receiver.clone();
        async move {
            let mut socket = tokio_tungstenite::accept_async(stream).await.unwrap();
            let mut receiver = receiver.lock().await;
            loop {
                tokio::select! {
                    message = receiver.recv() => match message {
                        Some(text) => if socket.send(text.into()).await.is_err() { return },
                        None => return,
                    },
                    incoming = socket.next() => if !matches!(incoming, Some(Ok(_))) { return },
                }
            }
        }
    }))
    .await;
    (server, sender)
}

fn deconz_changed(id: &str, state: &str) -> String {
    format!(r#"{{"t":"event","e":"changed","r":"sensors","id":"{id}","state":{state}}}"#)
}

#[tokio::test]
async fn deconz_button_events_are_kept_as_the_buttonevent_attribute() {
    let (server, gateway) = scripted_server().await;
    let hub = TestHub::start(&deconz_config(server.addr, false));
    for press in [1002, 2002] {
        gateway
            .send(deconz_changed(
                "12",
                &format!(r#"{{"buttonevent":{press},"lastupdated":"t{press}"}}"#),
            ))
            .await
            .unwrap();
        hub.wait_state("sensor.hall_button", &format!("buttonevent {press}"), |s| {
            s.attributes.get("buttonevent") == Some(&press.into())
        })
        .await;
    }
}

#[tokio::test]
async fn deconz_presence_turns_a_unit_on_and_off() {
    let (server, gateway) = scripted_server().await;
    let hub = TestHub::start(&deconz_config(server.addr, false));
    for (presence, state) in [("true", "on"), ("false", "off"), ("true", "on")] {
        gateway
            .send(deconz_changed(
                "5",
                &format!(r#"{{"presence":{presence}}}"#),
            ))
            .await
            .unwrap();
        hub.wait_state_is("binary_sensor.hall_presence", state)
            .await;
    }
}

#[tokio::test]
async fn deconz_added_and_deleted_create_and_remove_units_with_create_units() {
    let (server, gateway) = scripted_server().await;
    let hub = TestHub::start(&deconz_config(server.addr, true));
    gateway
        .send(
            r#"{"t":"event","e":"added","r":"sensors","id":"40","sensor":{"name":"Door","state":{"presence":true}}}"#
                .into(),
        )
        .await
        .unwrap();
    hub.wait_state_is("switch.sensors_40", "on").await;
    gateway
        .send(r#"{"t":"event","e":"deleted","r":"sensors","id":"40"}"#.into())
        .await
        .unwrap();
    until("the unit to be removed", || {
        hub.entity("switch.sensors_40").is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn home_assistant_state_changed_sets_the_entity_state() {
    let message = r#"{"id":1,"type":"event","event":{"event_type":"state_changed","data":{"entity_id":"sensor.outside","old_state":null,"new_state":{"entity_id":"sensor.outside","state":"12.5","attributes":{"unit_of_measurement":"°C"}}},"time_fired":"2026-11-22T10:00:00+00:00"}}"#;
    let server = Peer::start(websocket_sending(vec![
        r#"{"type":"auth_ok","ha_version":"2026.11"}"#.into(),
        message.into(),
    ]))
    .await;
    let hub = TestHub::start(&format!(
        r#"
[[source]]
name = "ha"
type = "websocket"
url = "ws://{}/api/websocket"
format = "home-assistant"

[[unit]]
address = "sensor.outside"
entity_id = "sensor.outside"
kind = "sensor"
"#,
        server.addr
    ));
    let state = hub.wait_state_is("sensor.outside", "12.5").await;
    assert_eq!(state.attributes["unit_of_measurement"], "°C");
}

#[tokio::test]
async fn a_wss_url_speaks_tls() {
    let (hellos, mut received) = mpsc::channel::<u8>(4);
    let server = Peer::start(handler(move |mut stream, _| {
        let hellos = hellos.clone();
        async move {
            use tokio::io::AsyncReadExt;
            let mut first = [0u8; 1];
            if stream.read_exact(&mut first).await.is_ok() {
                let _ = hellos.send(first[0]).await;
            }
        }
    }))
    .await;
    let url = format!("wss://localhost:{}/", server.addr.port());
    let hub =
        TestHub::start(&config(server.addr, "").replace(&format!("ws://{}/", server.addr), &url));
    let first = within("a connection", received.recv()).await.unwrap();
    assert_eq!(first, 0x16, "a TLS handshake record starts the connection");
    hub.wait_source("ws", "the failed handshake in the status", |s| {
        s.last_error.is_some()
    })
    .await;
}

#[tokio::test]
async fn deconz_deleted_keeps_a_configured_unit_without_create_units() {
    let (server, gateway) = scripted_server().await;
    let hub = TestHub::start(&deconz_config(server.addr, false));
    gateway
        .send(deconz_changed("5", r#"{"presence":true}"#))
        .await
        .unwrap();
    hub.wait_state_is("binary_sensor.hall_presence", "on").await;
    gateway
        .send(r#"{"t":"event","e":"deleted","r":"sensors","id":"5"}"#.into())
        .await
        .unwrap();
    gateway
        .send(deconz_changed("12", r#"{"buttonevent":1002}"#))
        .await
        .unwrap();
    hub.wait_state("sensor.hall_button", "the message after `deleted`", |s| {
        s.attributes.contains_key("buttonevent")
    })
    .await;
    assert_eq!(hub.state("binary_sensor.hall_presence").unwrap(), "on");
}
