//! `homebus db`: operator commands on the database (`stats`, `vacuum`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::store::{IN_MEMORY, Store, StoreOptions, StoreStats};

/// Options of `homebus db`.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// The `homebus db` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Show rows, size, oldest event and seq range (works while the hub runs).
    Stats {
        /// Config file naming the database (`server.database`).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Give free space back to the file system (stop the hub first).
    Vacuum {
        /// Config file naming the database (`server.database`).
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
}

/// Runs `homebus db …`.
pub fn db(args: DbArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.command {
        DbCommand::Stats { config } | DbCommand::Vacuum { config } => config.clone(),
    };
    let config = super::run::load_config(config.as_deref())?;
    let database = config.server.database.clone();
    if database == IN_MEMORY {
        anyhow::bail!(
            "`server.database` is \":memory:\": this hub keeps no database; set it to a file to keep history"
        );
    }
    match args.command {
        DbCommand::Stats { .. } => {
            let store = Store::open_read_only(&database)?;
            print!("{}", render_stats(&database, &store.stats()?));
        }
        DbCommand::Vacuum { .. } => {
            let store = Store::open(&database, StoreOptions::from_server(&config.server))?;
            let before = store.stats()?.size_bytes;
            store
                .vacuum()
                .with_context(|| format!("vacuum of `{database}` failed"))?;
            let after = store.stats()?.size_bytes;
            println!(
                "vacuumed {database}: {} → {}",
                human_size(before),
                human_size(after)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_stats(database: &str, stats: &StoreStats) -> String {
    let time = |t: &chrono::DateTime<chrono::Utc>| crate::time::ha_timestamp(t);
    let mut out = String::new();
    let mut line = |key: &str, value: String| out.push_str(&format!("{key:<15} {value}\n"));
    line("database", database.to_string());
    line("schema version", stats.schema_version.to_string());
    line(
        "size",
        format!(
            "{} ({} bytes; {} free pages of {} bytes)",
            human_size(stats.size_bytes),
            stats.size_bytes,
            stats.free_pages,
            stats.page_size
        ),
    );
    line("events", stats.events.to_string());
    line(
        "seq range",
        stats
            .seq_range
            .map_or("-".into(), |(a, b)| format!("{a} … {b}")),
    );
    line("last seq", stats.last_seq.to_string());
    line(
        "oldest event",
        stats.time_range.map_or("-".into(), |(a, _)| time(&a)),
    );
    line(
        "newest event",
        stats.time_range.map_or("-".into(), |(_, b)| time(&b)),
    );
    line("units", stats.units.to_string());
    line("source cursors", stats.source_cursors.to_string());
    out
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}
