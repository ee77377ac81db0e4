//! The store: every change and event in an embedded SQLite database (WAL),
//! so that a restart or a crash forgets nothing the hub acknowledged.
//!
//! - [`schema`]: the tables and their versioned migrations; refuses files
//!   that are not homebus's, damaged, or newer.
//! - [`lock`]: one hub per database file.
//! - `writer`: the dedicated thread that writes changes in batched
//!   transactions, off the hot path.
//! - [`PersistentBus`]: the [`Bus`](crate::bus::Bus) that persists each
//!   change before serving it, holding the sources back when the writer
//!   falls behind.
//! - `replay`: a resuming client's missed changes, from the store when the
//!   in-memory ring no longer holds them, then the live feed.
//! - `record`: how a bus message becomes an `events` row and back.
//! - [`StoreMetrics`]: the store's counters, for `/metrics`.
//! - [`delay`]: how long changes wait for their commit, a histogram.
//! - [`query`]: restore, replay, history and statistics.
//! - [`retention`]: pruning of old events in small batches.
//! - [`http`]: `GET /api/history`.
//!
//! The server asks the store only through the bus or these query functions,
//! never by SQL. What survives what is written down in `docs/durability.md`.

pub mod delay;
pub mod http;
pub mod lock;
mod metrics;
mod persistent_bus;
pub mod query;
mod record;
mod replay;
pub mod retention;
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use http::{history_router, history_unavailable_router};
pub use metrics::StoreMetrics;
pub use persistent_bus::PersistentBus;
pub use query::{HistoryPage, HistoryQuery, StoreStats, StoredUnit, restore_units};

use crate::config::{ServerConfig, Synchronous};
use lock::LockFile;
use schema::Found;

/// The `server.database` value that means "keep nothing".
pub const IN_MEMORY: &str = ":memory:";

/// Why the store could not be opened, read or written. Each message names
/// the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the database's lock.
    #[error(
        "the database `{}` is in use by another homebus (it holds `{}`); stop the other hub, or give this one its own `server.database`",
        database.display(), lock.display()
    )]
    Locked {
        /// The database file.
        database: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// A file could not be created, opened or read.
    #[error("cannot {action} `{}`: {source}; {hint}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What homebus tried to do.
        action: &'static str,
        /// What the user can do about it.
        hint: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file does not start with the SQLite header.
    #[error(
        "`{}` is not a SQLite database; homebus left it untouched. Move it away, or set `server.database` to another file",
        path.display()
    )]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// A SQLite database that another application wrote.
    #[error(
        "`{}` is a SQLite database of another application ({detail}); homebus left it untouched. Set `server.database` to another file",
        path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found in it.
        detail: String,
    },
    /// A homebus database with a schema newer than this homebus knows.
    #[error(
        "`{}` was written by a newer homebus (schema version {found}; this homebus knows up to {known}); homebus left it untouched. Upgrade homebus, or set `server.database` to another file",
        path.display()
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i32,
        /// The newest version this build knows.
        known: i32,
    },
    /// SQLite cannot read the file as a database.
    #[error(
        "`{}` cannot be read as a database ({detail}); it may be damaged. homebus left it untouched: restore a backup, or move it away to start afresh",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// Any other SQLite failure.
    #[error("cannot {action} in the database `{}`: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What homebus tried to do.
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// How the store behaves; [`StoreOptions::from_server`] reads the config.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `PRAGMA synchronous`: `normal` survives a crash, `full` a power cut.
    pub synchronous: Synchronous,
    /// Events older than this are pruned; unit state never is.
    pub retention: Duration,
    /// How often the writer looks for events to prune.
    pub prune_every: Duration,
    /// Rows deleted per pruning transaction, so writes never wait long.
    pub prune_batch: usize,
    /// Changes that may wait for the writer before `publish` blocks.
    pub queue: usize,
    /// Most changes written in one transaction.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            synchronous: Synchronous::Normal,
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_every: Duration::from_secs(60),
            prune_batch: 1000,
            queue: 65_536,
            max_batch: 8192,
        }
    }
}

impl StoreOptions {
    /// The options `[server]` asks for.
    pub fn from_server(server: &ServerConfig) -> Self {
        StoreOptions {
            synchronous: server.synchronous,
            retention: server.history_retention,
            ..StoreOptions::default()
        }
    }
}

/// An open homebus database, locked for this process.
#[derive(Debug)]
pub struct Store {
    /// The database file.
    path: PathBuf,
    /// How it was opened.
    options: StoreOptions,
    /// Idle read-only connections: WAL readers never wait for the writer.
    readers: Mutex<Vec<Connection>>,
    /// Held for the life of the store.
    _lock: LockFile,
}

/// Idle reader connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

impl Store {
    /// Locks, checks and (if needed) creates or migrates the database at
    /// `path`. A file that is not a homebus database, or is newer, damaged
    /// or locked by another hub, is refused and left untouched.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let lock = LockFile::acquire(&path)?;
        let version = match schema::inspect(&path)? {
            Found::Fresh => 0,
            Found::Homebus(version) => version,
        };
        let store = Store {
            path,
            options,
            readers: Mutex::new(Vec::new()),
            _lock: lock,
        };
        let mut conn = store.connect_writer()?;
        schema::migrate(&mut conn, version)
            .map_err(|source| store.error("migrate the schema", source))?;
        Ok(store)
    }

    /// Opens a homebus database for reading only, without its lock, so an
    /// operator can look at it while the hub runs (`homebus db stats`).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<ReadOnlyStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::Io {
                path,
                action: "open",
                hint: "no database there yet; run the hub once, or check `server.database`",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        match schema::inspect(&path)? {
            Found::Homebus(_) => {}
            Found::Fresh => {
                return Err(StoreError::Foreign {
                    path,
                    detail: "an empty database, not set up by homebus yet".into(),
                });
            }
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| StoreError::Sqlite {
                path: path.clone(),
                action: "open",
                source,
            },
        )?;
        Ok(ReadOnlyStore { path, conn })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// A read-write connection with homebus's settings (WAL, synchronous).
    fn connect_writer(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open(&self.path).map_err(|source| self.open_error(source))?;
        let synchronous = match self.options.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.busy_timeout(Duration::from_secs(5))
            .and_then(|_| {
                conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
            })
            .and_then(|mode| {
                if mode.eq_ignore_ascii_case("wal") {
                    Ok(())
                } else {
                    Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                        Some(format!(
                            "SQLite refused WAL mode (journal mode is `{mode}`)"
                        )),
                    ))
                }
            })
            .and_then(|_| conn.pragma_update(None, "synchronous", synchronous))
            .map_err(|source| self.open_error(source))?;
        Ok(conn)
    }

    /// Runs `f` on a read-only connection from the pool.
    pub(crate) fn read<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().expect("reader pool lock").pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|source| self.open_error(source))?;
                conn.busy_timeout(Duration::from_secs(5))
                    .map_err(|source| self.open_error(source))?;
                conn
            }
        };
        let result = f(&conn).map_err(|source| self.error(action, source));
        let mut idle = self.readers.lock().expect("reader pool lock");
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    pub(crate) fn error(&self, action: &'static str, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            action,
            source,
        }
    }

    fn open_error(&self, source: rusqlite::Error) -> StoreError {
        let read_only = matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
        );
        if read_only {
            return StoreError::Io {
                path: self.path.clone(),
                action: "open for writing",
                hint: "homebus needs write access to the database and its directory (for the WAL and shared-memory files); fix the permissions or set `server.database` to a writable place",
                source: std::io::Error::other(source.to_string()),
            };
        }
        self.error("open", source)
    }
}

/// A homebus database opened read-only and unlocked, for operators.
#[derive(Debug)]
pub struct ReadOnlyStore {
    path: PathBuf,
    conn: Connection,
}

impl ReadOnlyStore {
    /// Rows, size, oldest event and seq range.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        query::stats(&self.conn, &self.path).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            action: "read statistics",
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn synchronous_full_in_the_config_reaches_the_store_options() {
        let config =
            crate::config::parse_str("[server]\nsynchronous = \"full\"\n", Path::new("t.toml"))
                .unwrap();
        let options = StoreOptions::from_server(&config.server);
        assert_eq!(options.synchronous, Synchronous::Full);
    }

    #[test]
    fn an_unknown_synchronous_mode_is_refused_with_the_choices() {
        let error =
            crate::config::parse_str("[server]\nsynchronous = \"off\"\n", Path::new("t.toml"))
                .unwrap_err()
                .to_string();
        assert!(error.contains("`normal` or `full`"), "{error}");
    }
}
