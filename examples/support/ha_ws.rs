//! `loadgen`'s Home Assistant WebSocket subscriber (`--ha-ws N`): one
//! client of `GET /api/websocket` that authenticates, subscribes to
//! `state_changed` events and counts them, so the HA API's fan-out can be
//! measured next to `/api/stream`'s under the same load.
//!
//! `subscribe_events` is used rather than `subscribe_entities` because its
//! events carry the same `new_state` object as the SSE stream's, so the
//! change's send time is read from them the same way (`"value":T` after
//! `"new_state"`); `subscribe_entities` sends only what changed, in its
//! compressed form.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::{Stats, value_after};

/// The id of the one `subscribe_events` command each client sends.
const SUBSCRIPTION_ID: u64 = 1;
/// How the hub's event frames for that subscription begin (results and
/// pongs begin otherwise).
const EVENT_PREFIX: &[u8] = br#"{"id":1,"type":"event""#;

/// Connects to `url` (`ws://host:port/api/websocket`), authenticates with
/// `token` (any token when the hub has no `[auth]`), subscribes to
/// `state_changed` and counts every event frame until the hub closes; the
/// connection is counted as connected once the subscription is confirmed,
/// and `permit` is held until then. Every 10th client (`sample`) also
/// records each change's latency.
pub async fn ha_ws_subscriber(
    url: String,
    token: String,
    sample: bool,
    stats: Arc<Stats>,
    permit: OwnedSemaphorePermit,
) {
    // tungstenite's 128 KiB default read buffer is far more than one event
    // needs, times 10,000 clients in this one process.
    let config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let subscribed = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
                .await
                .map_err(|e| format!("connect: {e}"))?;
        // The hub reads an `auth` sent before its `auth_required` arrives.
        let auth = format!(r#"{{"type":"auth","access_token":{token:?}}}"#);
        socket
            .send(Message::text(auth))
            .await
            .map_err(|e| format!("auth: {e}"))?;
        expect(&mut socket, |text| text.contains(r#""type":"auth_ok""#)).await?;
        let subscribe = format!(
            r#"{{"id":{SUBSCRIPTION_ID},"type":"subscribe_events","event_type":"state_changed"}}"#
        );
        socket
            .send(Message::text(subscribe))
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        expect(&mut socket, |text| {
            text.contains(r#""type":"result""#) && text.contains(r#""success":true"#)
        })
        .await?;
        Ok::<_, String>(socket)
    }
    .await;
    drop(permit);
    let mut socket = match subscribed {
        Ok(socket) => socket,
        Err(_) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    stats.connected.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            let text = text.as_bytes();
            if !text.starts_with(EVENT_PREFIX) {
                continue;
            }
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            if sample && let Some(t) = value_after(text, b"\"new_state\"") {
                stats.record(t);
            }
        }
    }
    stats.closed.fetch_add(1, Ordering::Relaxed);
}

/// Reads frames, skipping `auth_required`, until one passes `wanted`; an
/// error for any other frame or the end of the stream.
async fn expect<S>(socket: &mut S, wanted: impl Fn(&str) -> bool) -> Result<(), String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| format!("read: {e}"))?;
        let Message::Text(text) = message else {
            continue;
        };
        if wanted(&text) {
            return Ok(());
        }
        if !text.contains(r#""type":"auth_required""#) {
            return Err(format!("unexpected frame: {}", text.as_str()));
        }
    }
    Err("closed by the hub".into())
}
