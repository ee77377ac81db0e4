//! The one reconnect loop of the connected source types (`sse`,
//! `websocket`, `mqtt`): it owns the [`Backoff`], the status the server
//! shows (connecting / connected / reconnecting with the error and the next
//! try), the log lines, shutdown, and the [`OnError`] hook. A transport
//! supplies only [`Transport::connect_once`]: connect, read until the
//! connection ends, and say how it ended ([`Ended`]).
//!
//! The polling types (`fetch`, `file`) keep their own pace (`poll.rs`) but
//! report errors through the same status and [`OnError`] seam.

use std::time::Duration;

use super::{Backoff, ReconnectConfig, SourceContext};

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Could not connect (refused, TLS, timeout, not an event stream); the
    /// sentence is what `/api/sources` shows as `last_error`.
    Failed(String),
    /// Connected, then the connection ended: `error` is `None` when the
    /// server closed it cleanly. `worked` says whether the connection
    /// proved itself (the transport decides: an SSE event arrived, a
    /// WebSocket handshake or an MQTT ConnAck succeeded): the next try then
    /// comes after exactly `reconnect`, else the failure back-off goes on.
    Disconnected { error: Option<String>, worked: bool },
    /// The hub is shutting down, or no longer takes events.
    Shutdown,
}

impl Ended {
    /// The server closed a connection that worked, cleanly.
    pub(crate) fn closed() -> Self {
        Ended::Disconnected {
            error: None,
            worked: true,
        }
    }

    /// A connection that worked broke.
    pub(crate) fn lost(error: String) -> Self {
        Ended::Disconnected {
            error: Some(error),
            worked: true,
        }
    }
}

/// One way of connecting to a source's server, tried again and again by
/// [`run`].
pub(crate) trait Transport {
    /// Connects once and reads until the connection ends or the hub shuts
    /// down (`attempt.ctx().shutdown`). Calls [`Attempt::connected`] once
    /// the connection is open.
    async fn connect_once(&mut self, attempt: &mut Attempt<'_>) -> Ended;
}

/// What a transport may tell the loop during one try.
pub(crate) struct Attempt<'a> {
    /// The running source.
    ctx: &'a SourceContext,
    /// The loop's back-off, whose base an SSE server's `retry:` replaces.
    backoff: &'a mut Backoff,
    /// The URL as logs and the API show it (no password).
    url: &'a str,
}

impl<'a> Attempt<'a> {
    /// The running source.
    pub(crate) fn ctx(&self) -> &'a SourceContext {
        self.ctx
    }

    /// The connection is open: the status says so (and drops the last
    /// error), and the log.
    pub(crate) fn connected(&self) {
        self.ctx.status.connected();
        tracing::info!(source = %self.ctx.name, url = %self.url, "connected");
    }

    /// The server asked for this reconnection time (SSE `retry:`): it
    /// replaces `reconnect` from now on.
    pub(crate) fn set_reconnect(&mut self, delay: Duration) {
        self.backoff.set_base(delay);
    }
}

/// A connection of a source was refused or lost: what the interface error
/// handler is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceError<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The sentence `/api/sources` shows as `last_error`.
    pub error: &'a str,
    /// How many tries in a row have now gone wrong, this one included: 1
    /// for the first refusal, or for a connection lost after it worked.
    pub attempt: u32,
}

/// The interface error handler (XTension's): told each time a source's
/// connection is refused or lost, after the status and the log show it.
/// The scripts' `on_error` plugs in here; a clean close by the server is no
/// error and is not reported. Called on the source's task, so it must
/// return quickly.
pub trait OnError: Send + Sync {
    /// A connection of `error.source` was refused or lost.
    fn source_error(&self, error: SourceError<'_>);
}

/// Runs `transport` until the hub shuts down: connects, and after each
/// connection ends waits as [`Backoff`] says (exactly `reconnect` after a
/// connection that worked, doubling with jitter after failed tries) and
/// tries again.
pub(crate) async fn run(
    ctx: &SourceContext,
    reconnect: ReconnectConfig,
    mut transport: impl Transport,
) {
    let mut backoff = reconnect.backoff();
    let url = ctx.status.view().url;
    let mut failed_in_a_row = 0u32;
    loop {
        ctx.status.connecting();
        tracing::info!(source = %ctx.name, %url, "connecting");
        let mut attempt = Attempt {
            ctx,
            backoff: &mut backoff,
            url: &url,
        };
        let ended = transport.connect_once(&mut attempt).await;
        let (error, delay) = match ended {
            Ended::Shutdown => return,
            Ended::Failed(error) => {
                tracing::warn!(source = %ctx.name, %url, "connection failed: {error}");
                (Some(error), backoff.after_failure())
            }
            Ended::Disconnected { error, worked } => {
                match &error {
                    Some(e) => tracing::warn!(source = %ctx.name, %url, "disconnected: {e}"),
                    None => {
                        tracing::info!(source = %ctx.name, %url, "the server closed the connection")
                    }
                }
                if worked {
                    failed_in_a_row = 0;
                    (error, backoff.after_disconnect())
                } else {
                    (error, backoff.after_failure())
                }
            }
        };
        ctx.status.reconnecting(error.clone(), delay);
        if let Some(error) = &error {
            failed_in_a_row = failed_in_a_row.saturating_add(1);
            ctx.on_error.source_error(SourceError {
                source: &ctx.name,
                error,
                attempt: failed_in_a_row,
            });
        }
        tracing::info!(source = %ctx.name, %url, "reconnecting in {delay:?}");
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// An error and its causes in one line ("error sending request: connection
/// refused"): reqwest, tungstenite and rumqttc hide the reason (refused, a
/// certificate) in the causes.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
pub(crate) mod tests;
