//! Serving: every change pushed to many clients at once, in the shapes
//! existing clients speak, plus the REST API.
//!
//! - [`stream`]: `/api/stream`, Home Assistant's SSE.
//! - [`subscribe`]: `/subscribe_events`, the MCP server's filtered SSE.
//! - [`fanout`]: one SSE subscriber reading the bus: coalesced writes,
//!   keep-alives, resume, cut-off.
//! - [`shapes`]: each output shape's JSON, encoded once per message.
//! - [`sse_encode`]: the SSE wire format.
//! - [`ws`]: deCONZ WebSocket push (`/ws` and `server.websocket_port`).
//! - [`ha_websocket`]: `/api/websocket`, Home Assistant's WebSocket API.
//! - [`rest`]: states, commands, events, sources, deCONZ config, metrics.
//! - [`unmatched`]: the events no unit took, with the `[[unit]]` to add.
//! - [`auth`]: API keys and JWTs.
//! - [`metrics`]: counters for `/metrics`.
//! - [`listener`]: the TCP listener that cuts off clients that stop reading.
//! - [`error`]: JSON errors.
//! - `dashboard`: the page at `/` and its assets from `web/`, built in.
//!
//! Other parts add their own routes through [`ExtraRoutes`] (the dashboard
//! at `/`, `/api/history`).

pub mod auth;
mod dashboard;
pub mod error;
pub mod fanout;
pub mod ha_websocket;
pub mod listener;
pub mod metrics;
pub mod rest;
pub mod shapes;
pub mod sse_encode;
pub mod stream;
pub mod subscribe;
pub mod unmatched;
pub mod ws;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{Config, ServerConfig};
use crate::hub::Hub;
use auth::Auth;
use listener::GuardedListener;
use metrics::Metrics;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Non-loopback address, no `[auth]`, and `allow_open` not set.
    #[error(
        "refusing to listen on {addr} without authentication: add an [auth] section with \
         api_keys, or set server.allow_open = true to serve this network without it, or \
         listen on 127.0.0.1"
    )]
    Open {
        /// The configured address.
        addr: SocketAddr,
    },
    /// A port could not be bound.
    #[error(
        "cannot listen on {addr} ({what}): {source}; free the port or choose another in [server]"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Which setting it came from.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// What every handler shares.
pub struct Shared {
    /// The hub: states, commands, the bus.
    pub hub: Arc<Hub>,
    /// Accepted credentials; `None` when `[auth]` is absent (open).
    pub auth: Option<Auth>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server stops; every stream ends on it.
    pub shutdown: CancellationToken,
    /// Interval of SSE keep-alive comments.
    pub keepalive: Duration,
    /// The `retry:` sent to SSE clients.
    pub retry: Duration,
    /// The WebSocket port actually bound (reported by the deCONZ config).
    pub websocket_port: u16,
    /// `server.websocket_open`: keyless clients may read the push port.
    pub websocket_open: bool,
    /// Other parts' counters, appended to `/metrics`.
    pub extra_metrics: Option<ExtraMetrics>,
    /// Never sent on: dropped with the last handle on this state, which
    /// tells [`Server::stopped`] that every WebSocket task has ended too
    /// (upgraded connections outlive the HTTP server's own shutdown).
    _alive: mpsc::Sender<()>,
}

/// Handler state: a cheap handle on [`Shared`].
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// More Prometheus text for `/metrics`, rendered by another part of homebus
/// (the store's counters) each time the endpoint is read.
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// Routes from other parts of homebus, merged into the main port.
#[derive(Default)]
pub struct ExtraRoutes {
    /// Served to anyone (the dashboard page).
    pub public: Router,
    /// Served behind the same auth as the API (`/api/history`).
    pub protected: Router,
    /// Appended to `/metrics`.
    pub metrics: Option<ExtraMetrics>,
}

/// A running server.
pub struct Server {
    /// The main port's address (REST, SSE, `/ws`).
    pub addr: SocketAddr,
    /// The WebSocket push port's address.
    pub websocket_addr: SocketAddr,
    /// The server's counters.
    pub metrics: Arc<Metrics>,
    tasks: Vec<JoinHandle<()>>,
    /// Ends when every connection task and every handle on the shared
    /// state is gone.
    alive: mpsc::Receiver<()>,
}

impl Server {
    /// Waits until both ports have stopped (after the shutdown token is
    /// cancelled) and every stream and WebSocket has ended.
    pub async fn stopped(mut self) {
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = self.alive.recv().await;
    }
}

/// Binds the main port and the WebSocket port and serves until `shutdown`
/// is cancelled.
pub async fn start(
    config: &Config,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
) -> Result<Server, ServerError> {
    start_with(config, hub, shutdown, ExtraRoutes::default()).await
}

/// [`start`], with routes from other parts merged in.
pub async fn start_with(
    config: &Config,
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    extra: ExtraRoutes,
) -> Result<Server, ServerError> {
    let server = &config.server;
    let listen = server.listen;
    if config.auth.is_none() && !listen.ip().is_loopback() {
        if !server.allow_open {
            return Err(ServerError::Open { addr: listen });
        }
        tracing::warn!(
            %listen,
            "serving WITHOUT authentication on a non-loopback address (server.allow_open = true)"
        );
    }
    if server.websocket_open && config.auth.is_some() && !listen.ip().is_loopback() {
        tracing::warn!(
            %listen,
            "the WebSocket push port serves every change to clients WITHOUT a key on a \
             non-loopback address (server.websocket_open = true)"
        );
    }
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, what, source })
    };
    let main = bind(listen, "server.listen").await?;
    let push = bind(
        SocketAddr::new(listen.ip(), server.websocket_port),
        "server.websocket_port",
    )
    .await?;
    let addr = main.local_addr().map_err(|source| ServerError::Bind {
        addr: listen,
        what: "server.listen",
        source,
    })?;
    let websocket_addr = push.local_addr().map_err(|source| ServerError::Bind {
        addr: listen,
        what: "server.websocket_port",
        source,
    })?;
    let metrics = Arc::new(Metrics::default());
    let (alive_sender, alive) = mpsc::channel(1);
    let state = AppState(Arc::new(Shared {
        hub,
        auth: config.auth.as_ref().map(Auth::new),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
        keepalive: server.keepalive,
        retry: server.sse_retry,
        websocket_port: websocket_addr.port(),
        websocket_open: server.websocket_open,
        extra_metrics: extra.metrics.clone(),
        _alive: alive_sender.clone(),
    }));
    let app = router(state.clone(), server, extra);
    let push_app = Router::new()
        .fallback(ws::upgrade)
        .layer(from_fn_with_state(
            state.clone(),
            auth::require_on_push_port,
        ))
        .with_state(state);
    let stall = server.write_stall_timeout;
    let tasks = vec![
        serve(
            GuardedListener::new(main, stall),
            app,
            shutdown.clone(),
            alive_sender.clone(),
        ),
        serve(
            GuardedListener::new(push, stall),
            push_app,
            shutdown,
            alive_sender,
        ),
    ];
    tracing::info!(%addr, %websocket_addr, auth = config.auth.is_some(), "serving");
    Ok(Server {
        addr,
        websocket_addr,
        metrics,
        tasks,
        alive,
    })
}

/// Accepts connections until `shutdown`, each served by its own HTTP/1.1
/// task (with upgrades, for WebSocket). Plain HTTP/1 rather than the
/// auto-detecting HTTP/1+2 server keeps each idle connection's task small;
/// every task holds `alive` until it ends.
fn serve(
    mut listener: GuardedListener,
    app: Router,
    shutdown: CancellationToken,
    alive: mpsc::Sender<()>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (io, _) = tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let service = TowerToHyperService::new(app.clone());
            let shutdown = shutdown.clone();
            let alive = alive.clone();
            tokio::spawn(async move {
                let _alive = alive;
                let mut builder = http1::Builder::new();
                // A connection that sends no complete request head in 30 s is closed.
                builder.timer(TokioTimer::new());
                let connection = builder
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    () = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
        }
    })
}

/// The main port's routes. Other parts merge theirs through `extra`.
pub fn router(state: AppState, server: &ServerConfig, extra: ExtraRoutes) -> Router {
    let protected = Router::new()
        .route("/api/", get(rest::api_root))
        .route("/api/stream", get(stream::stream))
        .route("/subscribe_events", get(subscribe::subscribe_events))
        .route("/api/states", get(rest::states))
        .route(
            "/api/states/{entity_id}",
            get(rest::entity_state).post(rest::set_state),
        )
        .route("/api/units/{address}/command", post(rest::command))
        .route("/api/events/{event_type}", post(rest::fire_event))
        .route(
            "/api/events/unmatched",
            get(unmatched::list).post(unmatched::fire),
        )
        .route("/api/sources", get(rest::sources))
        .route("/ws", get(ws::upgrade))
        .route("/metrics", get(rest::metrics))
        .with_state(state.clone())
        .merge(extra.protected)
        .route_layer(from_fn_with_state(state.clone(), auth::require));
    let public = Router::new()
        .route("/healthz", get(rest::healthz))
        .route("/api/{apikey}/config", get(rest::deconz_config))
        // Authenticated inside the protocol, as Home Assistant does.
        .route("/api/websocket", get(ha_websocket::upgrade))
        .with_state(state)
        .merge(dashboard::dashboard_router())
        .merge(extra.public);
    let app = public
        .merge(protected)
        .fallback(rest::not_found)
        .layer(DefaultBodyLimit::max(server.max_body_size));
    match cors(&server.cors_origins) {
        Some(layer) => app.layer(layer),
        None => app,
    }
}

/// CORS for `server.cors_origins` (`"*"` allows any origin).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| match HeaderValue::from_str(o) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::warn!(origin = %o, "server.cors_origins: not a valid origin; ignored");
                None
            }
        }))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-ha-access"),
                HeaderName::from_static("last-event-id"),
            ]),
    )
}
