//! The WebSocket source: connects to `ws://` or `wss://` (rustls), hands
//! every text or binary message to the source's format, answers pings,
//! pings a server that has gone quiet, and reconnects as the SSE source does.

use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig as SocketLimits;
use tokio_tungstenite::tungstenite::{self, Message};

mod config;

pub(crate) use config::TYPE;
pub use config::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE, WebsocketConfig};

use super::SourceContext;
use super::connect::{self, Attempt, Ended, Transport, error_chain};
use super::tls::websocket_connector;

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: WebsocketConfig) {
    crate::http_client::ensure_crypto_provider();
    connect::run(&ctx, config.reconnect, Socket { config: &config }).await;
}

/// The source's WebSocket connection, opened again after each end.
struct Socket<'c> {
    config: &'c WebsocketConfig,
}

impl Transport for Socket<'_> {
    /// One connection: open, read messages until it closes. An open socket
    /// has worked, whatever ends it: the next try comes after exactly
    /// `reconnect`.
    async fn connect_once(&mut self, attempt: &mut Attempt<'_>) -> Ended {
        let (ctx, config) = (attempt.ctx(), self.config);
        // Without `tls`, tungstenite's own connector: the system's roots.
        let connector = config
            .tls
            .as_ref()
            .map(|tls| websocket_connector(tls.client.clone()));
        let request = match request(ctx, config) {
            Ok(request) => request,
            Err(e) => return Ended::Failed(e),
        };
        let limit = ctx.config.max_event_size;
        let limits = SocketLimits::default()
            .max_message_size(Some(limit))
            .max_frame_size(Some(limit));
        let connect_timeout = config.timeout;
        let connecting = tokio::time::timeout(
            connect_timeout,
            tokio_tungstenite::connect_async_tls_with_config(
                request,
                Some(limits),
                false,
                connector.clone(),
            ),
        );
        let Some(opened) = ctx.unless_shutdown(connecting).await else {
            return Ended::Shutdown;
        };
        let mut socket = match opened {
            Ok(Ok((socket, _response))) => socket,
            Ok(Err(e)) => return Ended::Failed(error_chain(&e)),
            Err(_) => {
                return Ended::Failed(format!(
                    "no answer within {connect_timeout:?}; is the server up?"
                ));
            }
        };
        attempt.connected();
        let idle = config.interval;
        let mut last_heard = Instant::now();
        let mut pinged = false;
        loop {
            let deadline = last_heard + if pinged { idle * 2 } else { idle };
            let message = tokio::select! {
                _ = ctx.shutdown.cancelled() => {
                    let _ = socket.close(None).await;
                    return Ended::Shutdown;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if pinged {
                        return Ended::lost(format!("the server did not answer a ping for {idle:?}; the connection was dropped"));
                    }
                    pinged = true;
                    if let Err(e) = socket.send(Message::Ping(Default::default())).await {
                        return Ended::lost(format!("cannot ping the server: {}", error_chain(&e)));
                    }
                    continue;
                }
                message = socket.next() => message,
            };
            last_heard = Instant::now();
            pinged = false;
            let text = match message {
                None => {
                    return Ended::closed();
                }
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    return Ended::lost(format!(
                        "{e}; the limit is `max_event_size` = {limit} bytes, the connection was dropped"
                    ));
                }
                Some(Err(e)) => {
                    return Ended::lost(format!("connection lost: {}", error_chain(&e)));
                }
                Some(Ok(Message::Text(text))) => text.to_string(),
                Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => text,
                    Err(_) => {
                        tracing::warn!(
                            source = %ctx.name,
                            "a binary message of {} bytes is not UTF-8 text; skipped",
                            bytes.len()
                        );
                        continue;
                    }
                },
                Some(Ok(Message::Close(_))) => {
                    return Ended::closed();
                }
                // Pongs only prove the server is alive; pings are answered by
                // tungstenite on the next read or write.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            };
            if !ctx.deliver(crate::format::UNNAMED, Some(&text), None).await {
                return Ended::Shutdown;
            }
        }
    }
}

/// The handshake request: the URL plus the configured headers.
fn request(
    ctx: &SourceContext,
    config: &WebsocketConfig,
) -> Result<tungstenite::handshake::client::Request, String> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("`{}` is not a WebSocket URL: {e}", ctx.status.view().url))?;
    request.headers_mut().extend(config.headers.clone());
    Ok(request)
}
