//! `homebus run`: the hub itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, InProcessBus};
use crate::config::Config;
use crate::hub::Hub;
use crate::server::ExtraRoutes;
use crate::store::{PersistentBus, history_router, history_unavailable_router, restore_units};

/// Subscribers from which the in-memory bus broadcasts from its own thread
/// (see `InProcessBus::with_fanout_thread`): below it the thread hop costs
/// more than it saves.
const FANOUT_THREAD_FROM: usize = 512;

/// Options of `homebus run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file; without one, built-in defaults are used.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Add a simulated house (switches, a dimmer, sensors changing every
    /// second) so the dashboard is alive with no devices.
    #[arg(long)]
    pub demo: bool,
}

/// Loads the config, starts everything and runs until Ctrl-C or SIGTERM.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    super::init_logging();
    let mut config = load_config(args.config.as_deref())?;
    if args.demo {
        crate::sources::add_demo(&mut config);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let default = std::path::Path::new("homebus.toml");
    match path {
        Some(path) => crate::config::load_file(path).map_err(|e| anyhow::anyhow!("{e}")),
        None if default.exists() => {
            crate::config::load_file(default).map_err(|e| anyhow::anyhow!("{e}"))
        }
        None => {
            tracing::info!("no config file; running on built-in defaults");
            Ok(Config::default())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (held, lag_limit) = (config.server.replay_buffer, config.server.lag_limit);
    let persistent = PersistentBus::from_config(&config.server, held, lag_limit)?;
    let bus: Arc<dyn Bus> = match &persistent {
        Some(bus) => bus.clone(),
        None => Arc::new(
            InProcessBus::with_fanout_thread(held, lag_limit, FANOUT_THREAD_FROM)
                .context("cannot start the fan-out thread")?,
        ),
    };
    let hub =
        Arc::new(Hub::new(&config, bus).context("the units in the config do not fit together")?);
    let resume_ids = match &persistent {
        Some(bus) => restore(&hub, bus)?,
        None => HashMap::new(),
    };
    let shutdown = CancellationToken::new();
    let tasks = crate::sources::start(hub.clone(), &config.sources, &shutdown, &resume_ids);
    let extra = ExtraRoutes {
        protected: match &persistent {
            Some(bus) => history_router(bus.store().clone()),
            None => history_unavailable_router(),
        },
        metrics: persistent.as_ref().map(|bus| {
            // Weak: the server must not keep the store open past shutdown.
            let bus = Arc::downgrade(bus);
            let metrics: crate::server::ExtraMetrics = Arc::new(move || {
                bus.upgrade()
                    .map(|bus| bus.metrics().prometheus())
                    .unwrap_or_default()
            });
            metrics
        }),
        ..ExtraRoutes::default()
    };
    let server = crate::server::start_with(&config, hub.clone(), shutdown.clone(), extra).await?;
    tracing::info!(
        sources = config.sources.len(),
        units = hub.states().len(),
        "homebus is running"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    // A client that stopped reading can hold its connection open until
    // `write_stall_timeout`; do not wait that long to exit.
    if tokio::time::timeout(Duration::from_secs(5), server.stopped())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s; exiting anyway");
    }
    if let Some(bus) = persistent {
        let flushed = tokio::task::spawn_blocking(move || bus.flush(Duration::from_secs(10)))
            .await
            .unwrap_or(false);
        if !flushed {
            tracing::error!(
                "the database writer did not finish within 10 s; recent changes may be lost"
            );
        }
    }
    Ok(())
}

/// Puts the stored unit states back and returns each source's last upstream
/// event ID; numbering already continues after the stored seq.
fn restore(hub: &Hub, bus: &PersistentBus) -> anyhow::Result<HashMap<String, String>> {
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

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
