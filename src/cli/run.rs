//! `homebus run`: the hub itself.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;

/// Options of `homebus run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Config file; default: `homebus.toml` in the working directory if there
    /// is one, else the built-in defaults.
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
        config.add_demo();
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

/// Runs the hub of `config` until Ctrl-C or SIGTERM, then stops it in order.
async fn serve(config: Config) -> anyhow::Result<()> {
    let running = crate::app::start(config).await?;
    shutdown_signal().await;
    running.stop().await;
    Ok(())
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
