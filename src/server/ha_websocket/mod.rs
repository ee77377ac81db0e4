//! `GET /api/websocket`: the Home Assistant WebSocket API, so HA's own
//! clients (home-assistant-js-websocket, Node-RED's HA nodes, Python
//! clients) connect to homebus unchanged.
//!
//! - [`protocol`]: the framing, pure: ids, HA's error codes, result and
//!   event frames.
//! - [`session`]: one connection's commands and subscriptions.
//! - [`services`]: `call_service`, `get_services`, `get_config`,
//!   `auth/current_user`.
//! - [`shapes`]: state objects with `context`, HA events, and
//!   `subscribe_entities`' compressed form.
//!
//! This file is the socket loop: the auth phase, then commands and bus
//! messages until either side ends. A client that falls `lag_limit`
//! changes behind is closed with 1013; one that stops reading is cut off by
//! the listener's write-stall timeout; neither slows anyone else.

pub mod protocol;
pub mod services;
pub mod session;
pub mod shapes;

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;

use super::AppState;
use super::ws::close;
use services::Credential;
use session::Session;

/// Largest message a client may send; HA's commands are small, and a
/// bigger one is refused with close code 1009 before it is buffered whole.
pub const MAX_INCOMING: usize = 512 * 1024;
/// How long a client has to send `auth` after connecting.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bus messages turned into frames before one write.
const MAX_BATCH: usize = 256;
/// Read buffer per connection: commands are small.
const READ_BUFFER: usize = 8 * 1024;
/// Bytes gathered before a write; a flush writes whatever is gathered.
const WRITE_BUFFER: usize = 16 * 1024;
/// What `auth_invalid` says, whatever was wrong: never a hint which part.
const INVALID: &str = "Invalid access token or password";

/// `GET /api/websocket`: upgrades; auth happens inside the protocol, so
/// the route is outside the API's auth middleware.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    ws.max_message_size(MAX_INCOMING)
        .max_frame_size(MAX_INCOMING)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| connection(state, socket, host))
}

async fn connection(state: AppState, mut socket: WebSocket, host: Option<String>) {
    if send_text(&mut socket, protocol::auth_required())
        .await
        .is_err()
    {
        return;
    }
    let shutdown = state.shutdown.clone();
    let credential = tokio::select! {
        () = shutdown.cancelled() => {
            close(&mut socket, close_code::AWAY, "homebus is shutting down").await;
            return;
        }
        authed = tokio::time::timeout(AUTH_TIMEOUT, authenticate(&state, &mut socket)) => authed,
    };
    let credential = match credential {
        Ok(Some(Ok(credential))) => credential,
        Ok(Some(Err(()))) => {
            let _ = send_text(&mut socket, protocol::auth_invalid(INVALID)).await;
            close(&mut socket, close_code::POLICY, INVALID).await;
            return;
        }
        Ok(None) => return,
        Err(_) => {
            close(
                &mut socket,
                close_code::POLICY,
                "no auth message within 10 s: send {\"type\":\"auth\",\"access_token\":…} first",
            )
            .await;
            return;
        }
    };
    if send_text(&mut socket, protocol::auth_ok()).await.is_err() {
        return;
    }
    serve(Session::new(state, credential, host), socket).await;
}

/// Waits for the `auth` message: `Some(Ok)` with the credential it
/// carried, `Some(Err)` for anything else, `None` when the client left.
async fn authenticate(state: &AppState, socket: &mut WebSocket) -> Option<Result<Credential, ()>> {
    loop {
        let text = match socket.recv().await? {
            Ok(Message::Text(text)) => text,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Binary(_)) => return Some(Err(())),
            Ok(Message::Close(_)) | Err(_) => return None,
        };
        let message: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if message.get("type").and_then(Value::as_str) != Some("auth") {
            return Some(Err(()));
        }
        let token = message
            .get("access_token")
            .or_else(|| message.get("api_password"))
            .and_then(Value::as_str);
        let Some(token) = token else {
            return Some(Err(()));
        };
        return Some(match &state.auth {
            None => Ok(Credential::Open),
            Some(auth) if auth.is_key(token.as_bytes()) => Ok(Credential::ApiKey),
            Some(auth) if auth.is_valid_token(token) => Ok(Credential::Token),
            Some(_) => Err(()),
        });
    }
}

/// After auth: commands in, answers and subscribed events out.
async fn serve(mut session: Session, mut socket: WebSocket) {
    let shutdown = session.shutdown();
    let mut out: Vec<Bytes> = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                close(&mut socket, close_code::AWAY, "homebus is shutting down").await;
                return;
            }
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        close(&mut socket, close_code::UNSUPPORTED, "send commands as JSON text frames").await;
                        return;
                    }
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(error)) => {
                        if too_big(error) {
                            let reason = format!("message too big: homebus takes at most {} KiB a message", MAX_INCOMING / 1024);
                            close(&mut socket, close_code::SIZE, &reason).await;
                        }
                        return;
                    }
                };
                match session.on_text(&text) {
                    Ok(frames) => out = frames,
                    Err(unreadable) => {
                        close(&mut socket, close_code::UNSUPPORTED, &unreadable.to_string()).await;
                        return;
                    }
                }
                if write(&mut socket, &mut out, session.coalesce).await.is_err() {
                    return;
                }
            }
            next = next_change(&mut session.feed) => {
                let mut item = next;
                let mut seen = 0;
                while let Some(result) = item.take() {
                    seen += 1;
                    match result {
                        Ok(envelope) => {
                            let sent = session.on_envelope(&envelope, &mut out);
                            session.sent(sent);
                        }
                        Err(error) => {
                            session.lagged();
                            let _ = write(&mut socket, &mut out, session.coalesce).await;
                            close(&mut socket, close_code::AGAIN, &error.to_string()).await;
                            return;
                        }
                    }
                    if seen < MAX_BATCH
                        && let Some(feed) = session.feed.as_mut()
                    {
                        item = feed.next().now_or_never().flatten();
                    }
                }
                if write(&mut socket, &mut out, session.coalesce).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The next bus message, or never while there is no feed. `Some(item)` for
/// a message or a lag; a feed that ended is dropped and waits forever.
async fn next_change(
    feed: &mut Option<crate::bus::Subscription>,
) -> Option<Result<std::sync::Arc<crate::bus::Envelope>, crate::bus::BusError>> {
    match feed {
        Some(subscription) => match subscription.next().await {
            Some(item) => Some(item),
            None => {
                *feed = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// Writes `out` (as one array frame when the client coalesces and there
/// are several) and flushes; empties `out`.
async fn write(socket: &mut WebSocket, out: &mut Vec<Bytes>, coalesce: bool) -> Result<(), ()> {
    if out.is_empty() {
        return Ok(());
    }
    if coalesce && out.len() > 1 {
        let frame = protocol::coalesced(out);
        out.clear();
        feed(socket, frame).await?;
    } else {
        for frame in out.drain(..) {
            feed(socket, frame).await?;
        }
    }
    socket.flush().await.map_err(|_| ())
}

async fn feed(socket: &mut WebSocket, frame: Bytes) -> Result<(), ()> {
    let text = Utf8Bytes::try_from(frame).map_err(|_| ())?;
    socket.feed(Message::Text(text)).await.map_err(|_| ())
}

async fn send_text(socket: &mut WebSocket, text: String) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
}

/// Whether a read failed because the client's message was over
/// [`MAX_INCOMING`].
fn too_big(error: axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error;
    error
        .into_inner()
        .downcast::<Error>()
        .is_ok_and(|e| matches!(*e, Error::Capacity(_)))
}
