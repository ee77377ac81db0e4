//! The `homebus` command line: `run`, `check`, `tail`, `db`, one file each
//! (`run.rs`, `check.rs`, `tail.rs`, `db.rs`).

mod check;
mod db;
mod run;
mod tail;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// What `homebus --version` prints after the name: the crate version and the
/// git commit the binary was built from (`unknown` outside a git checkout;
/// see `build.rs`), so a bug report names the exact code.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("HOMEBUS_GIT_COMMIT"),
    ")"
);

/// A real-time event hub for home automation and live dashboards.
#[derive(Debug, Parser)]
#[command(name = "homebus", version = VERSION, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the hub (built-in defaults when there is no config file).
    Run(run::RunArgs),
    /// Validate a config file: exit 0, or print every error and exit 1.
    Check {
        /// Config file.
        #[arg(short, long, default_value = "homebus.toml")]
        config: PathBuf,
    },
    /// Connect to an SSE stream and print each dispatched event.
    Tail(tail::TailArgs),
    /// Look after the database: `stats`, `vacuum`.
    Db(db::DbArgs),
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Run(args) => run::run(args),
        Commands::Check { config } => return check::check(&config),
        Commands::Tail(args) => tail::tail(args),
        Commands::Db(args) => db::db(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("homebus: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
