//! The whole hub put together, as `homebus run` runs it: the bus the config
//! asks for, the hub on it, the units and source cursors restored from the
//! database, the sources, the MQTT output, and the server with the history routes and the
//! store's counters; and the orderly stop that takes it apart again.
//!
//! One composition, so the command line, the integration tests and the
//! coming cluster work start the same hub: [`start`] it, then [`RunningHub::stop`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::bus::{Bus, InProcessBus};
use crate::config::Config;
use crate::hub::Hub;
use crate::outputs::mqtt::{MqttOutStatus, outputs_router};
use crate::server::metrics::Metrics;
use crate::server::{ExtraMetrics, ExtraRoutes, Server, ServerError};
use crate::store::{
    PersistentBus, StoreError, history_router, history_unavailable_router, restore_units,
};
use crate::units::UnitError;

/// Subscribers from which the in-memory bus broadcasts from its own thread
/// (see `InProcessBus::with_fanout_thread`): below it the thread hop costs
/// more than it saves.
const FANOUT_THREAD_FROM: usize = 512;

/// How long [`RunningHub::stop`] waits for connections to close: a client
/// that stopped reading can hold its connection open until
/// `write_stall_timeout`, and the hub should not wait that long to exit.
const CONNECTIONS_CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// How long [`RunningHub::stop`] waits for the database writer to commit
/// what is queued.
const STORE_FLUSH_WITHIN: Duration = Duration::from_secs(10);

/// Why the hub did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened, read or restored from; the store's
    /// message names the file and what to do.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The in-memory bus could not start its broadcasting thread.
    #[error(
        "cannot start the bus's fan-out thread: {0}; the system is out of threads or memory, \
         raise the process limits or stop other programs"
    )]
    FanoutThread(std::io::Error),
    /// A script did not compile.
    #[error(transparent)]
    Scripts(#[from] crate::scripts::ScriptsError),
    /// The `[[unit]]` entries contradict each other.
    #[error("the units in the config do not fit together: {0}")]
    Units(UnitError),
    /// The server refused the `[server]` settings or could not bind a port.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// A hub that is running: sources connected, server listening. Dropping it
/// stops the sources and the server without waiting; [`RunningHub::stop`]
/// waits for them and for the database.
pub struct RunningHub {
    /// The hub that applies events and commands.
    hub: Arc<Hub>,
    /// The config it runs.
    config: Config,
    /// The persistent bus under the hub, when `server.database` is a file.
    persistent: Option<Arc<PersistentBus>>,
    /// The server, kept to wait for its connections at stop.
    server: Server,
    /// The source tasks and the task that hands their events to the hub.
    tasks: Vec<JoinHandle<()>>,
    /// Tells the sources and the server to stop.
    shutdown: CancellationToken,
    /// Cancels `shutdown` when the handle is dropped instead of stopped.
    _stop_on_drop: DropGuard,
}

/// How the orderly stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Every connection closed within 5 s.
    pub connections_closed: bool,
    /// Everything published reached the database within 10 s (`true` with
    /// no database).
    pub store_flushed: bool,
}

/// Starts the hub of `config`: picks the bus (a [`PersistentBus`] when
/// `server.database` is a file, else the in-memory bus), builds the hub,
/// restores units and source cursors from the database, starts the sources
/// and the server. Must run inside a tokio runtime.
pub async fn start(config: Config) -> Result<RunningHub, StartError> {
    let (held, lag_limit) = (config.server.replay_buffer, config.server.lag_limit);
    let persistent = PersistentBus::from_config(&config.server, held, lag_limit)?;
    let bus: Arc<dyn Bus> = match &persistent {
        Some(bus) => bus.clone(),
        None => in_memory_bus(held, lag_limit)?,
    };
    let scripts = crate::scripts::Scripts::start(&config)?;
    let mut hub = Hub::new(&config, bus).map_err(StartError::Units)?;
    if let Some(scripts) = &scripts {
        hub = hub.with_script_hook(scripts.clone());
    }
    let hub = Arc::new(hub);
    if let Some(scripts) = &scripts {
        scripts.attach(&hub);
    }
    let resume_ids = match &persistent {
        Some(bus) => restore(&hub, bus)?,
        None => HashMap::new(),
    };
    let shutdown = CancellationToken::new();
    let stop_on_drop = shutdown.clone().drop_guard();
    let mut tasks = crate::sources::start(hub.clone(), &config.sources, &shutdown, &resume_ids);
    let mqtt_out = crate::outputs::mqtt::start(hub.clone(), &config, shutdown.clone());
    let mqtt_status = mqtt_out.as_ref().map(|out| out.status.clone());
    tasks.extend(mqtt_out.map(|out| out.task));
    let server = crate::server::start_with(
        &config,
        hub.clone(),
        shutdown.clone(),
        extra_routes(persistent.as_ref(), mqtt_status, scripts),
    )
    .await?;
    tracing::info!(
        sources = config.sources.len(),
        units = hub.states().len(),
        "homebus is running"
    );
    Ok(RunningHub {
        hub,
        config,
        persistent,
        server,
        tasks,
        shutdown,
        _stop_on_drop: stop_on_drop,
    })
}

impl RunningHub {
    /// The hub, to read states or apply commands in-process.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The config it runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The main port's bound address (REST, SSE, `/ws`); the real port when
    /// the config asked for port 0.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The WebSocket push port's bound address.
    pub fn websocket_addr(&self) -> SocketAddr {
        self.server.websocket_addr
    }

    /// The server's counters, as `/metrics` shows them.
    pub fn server_metrics(&self) -> &Arc<Metrics> {
        &self.server.metrics
    }

    /// The persistent bus (and through it the store), when
    /// `server.database` is a file.
    pub fn persistent_bus(&self) -> Option<&Arc<PersistentBus>> {
        self.persistent.as_ref()
    }

    /// Stops in order: tells sources and server to stop, waits for the
    /// sources, for the connections (5 s) and for the database writer to
    /// commit what is queued (10 s). A limit that passes is logged and
    /// reported, not waited out.
    pub async fn stop(self) -> Stopped {
        tracing::info!("shutting down");
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let connections_closed =
            tokio::time::timeout(CONNECTIONS_CLOSE_WITHIN, self.server.stopped())
                .await
                .is_ok();
        if !connections_closed {
            tracing::warn!("some connections did not close within 5 s; exiting anyway");
        }
        let store_flushed = match self.persistent {
            Some(bus) => {
                let flushed = tokio::task::spawn_blocking(move || bus.flush(STORE_FLUSH_WITHIN))
                    .await
                    .unwrap_or(false);
                if !flushed {
                    tracing::error!(
                        "the database writer did not finish within 10 s; recent changes may be lost"
                    );
                }
                flushed
            }
            None => true,
        };
        Stopped {
            connections_closed,
            store_flushed,
        }
    }
}

/// The in-memory bus holding `held` changes, broadcasting from its own
/// thread once the subscribers crowd in.
fn in_memory_bus(held: usize, lag_limit: usize) -> Result<Arc<dyn Bus>, StartError> {
    let bus = InProcessBus::with_fanout_thread(held, lag_limit, FANOUT_THREAD_FROM)
        .map_err(StartError::FanoutThread)?;
    Ok(Arc::new(bus))
}

/// Puts the stored unit states back into `hub` and returns each source's
/// last upstream event ID (source name → ID); numbering already continues
/// after the stored seq, because the hub was built on `bus`.
pub fn restore(hub: &Hub, bus: &PersistentBus) -> Result<HashMap<String, String>, StoreError> {
    let store = bus.store();
    let stored = store.units()?;
    let restored = hub.with_registry(|registry| restore_units(registry, stored));
    let resume_ids = store.source_cursors()?;
    tracing::info!(
        database = %store.path().display(),
        units = restored,
        last_seq = bus.last_seq(),
        "restored from the database"
    );
    Ok(resume_ids)
}

/// The history routes (or the answer that there is no history),
/// `/api/outputs`, and the counters of the store, the MQTT output and the
/// scripts for `/metrics`.
fn extra_routes(
    persistent: Option<&Arc<PersistentBus>>,
    mqtt_out: Option<Arc<MqttOutStatus>>,
    scripts: Option<Arc<crate::scripts::Scripts>>,
) -> ExtraRoutes {
    let history = match persistent {
        Some(bus) => history_router(bus.store().clone()),
        None => history_unavailable_router(),
    };
    // Weak: the server must keep neither the store nor the scripts alive
    // past shutdown.
    let store = persistent.map(Arc::downgrade);
    let scripts = scripts.map(|s| Arc::downgrade(&s));
    let mqtt_metrics = mqtt_out.clone();
    let any = store.is_some() || mqtt_metrics.is_some() || scripts.is_some();
    let metrics: Option<ExtraMetrics> = any.then(|| {
        let metrics: ExtraMetrics = Arc::new(move || {
            let mut text = store
                .as_ref()
                .and_then(|bus| bus.upgrade())
                .map(|bus| bus.metrics().prometheus())
                .unwrap_or_default();
            if let Some(mqtt) = &mqtt_metrics {
                text.push_str(&mqtt.prometheus());
            }
            if let Some(scripts) = scripts.as_ref().and_then(std::sync::Weak::upgrade) {
                text.push_str(&scripts.prometheus());
            }
            text
        });
        metrics
    });
    ExtraRoutes {
        protected: history.merge(outputs_router(mqtt_out)),
        metrics,
        ..ExtraRoutes::default()
    }
}
