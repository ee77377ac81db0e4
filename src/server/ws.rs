//! deCONZ-style WebSocket push, on `/ws` of the main port and on its own
//! port: every state change as `{"t":"event","e":"changed","r":…,"id":…,"state":{…}}`.
//!
//! Incoming pings are answered (by the protocol layer, on the next read);
//! anything else a client sends is ignored, and a client that breaks the
//! protocol is dropped. Shutdown sends a close frame (1001 going away); a
//! client that falls behind gets a close frame (1013 try again later).

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures_util::{FutureExt, SinkExt, StreamExt};

use super::AppState;
use super::metrics::Transport;
use super::shapes;
use crate::bus::Envelope;

/// Largest message a client may send; clients only need pings.
const MAX_INCOMING: usize = 64 * 1024;
/// Most messages sent before one flush.
const MAX_BATCH: usize = 256;
/// Read buffer per connection: clients send only pings, and the protocol
/// layer's 128 KiB default would dominate an idle connection's memory.
const READ_BUFFER: usize = 4 * 1024;
/// Bytes gathered before a write; a flush writes whatever is gathered.
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /ws` (and any path on the WebSocket port): upgrades and pushes.
pub async fn upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| push(state, socket))
}

enum Step {
    Go,
    Stop,
}

async fn push(state: AppState, mut socket: WebSocket) {
    let metrics = state.metrics.subscriber(Transport::WebSocket);
    let mut subscription = match state.hub.bus().subscribe(None) {
        Ok(subscription) => subscription,
        Err(error) => {
            tracing::warn!("cannot subscribe a WebSocket client: {error}");
            return;
        }
    };
    let shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                close(&mut socket, close_code::AWAY, "homebus is shutting down").await;
                return;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            next = subscription.next() => {
                let Some(first) = next else { return };
                let mut sent = 0u64;
                let mut item = Some(first);
                while let Some(result) = item.take() {
                    match result {
                        Ok(envelope) => {
                            if let Step::Stop = feed(&mut socket, &envelope, &mut sent).await {
                                return;
                            }
                        }
                        Err(error) => {
                            metrics.dropped();
                            let _ = socket.flush().await;
                            close(&mut socket, close_code::AGAIN, &error.to_string()).await;
                            return;
                        }
                    }
                    if sent < MAX_BATCH as u64 {
                        item = subscription.next().now_or_never().flatten();
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
                metrics.sent(sent);
            }
        }
    }
}

/// Queues one message on the socket (written on the next flush).
async fn feed(socket: &mut WebSocket, envelope: &Envelope, sent: &mut u64) -> Step {
    let Some(bytes) = shapes::deconz(envelope) else {
        return Step::Go;
    };
    let Ok(text) = Utf8Bytes::try_from(bytes) else {
        return Step::Go;
    };
    *sent += 1;
    match socket.feed(Message::Text(text)).await {
        Ok(()) => Step::Go,
        Err(_) => Step::Stop,
    }
}

/// Sends a close frame with `code` and `reason` (cut to the protocol's
/// 123 bytes); shared with the HA WebSocket API.
pub(super) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    // A close reason is limited to 123 bytes by the protocol.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
