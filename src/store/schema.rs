//! The database layout and its versioned migrations (`PRAGMA user_version`).
//!
//! A file is checked read-only before anything is written to it: a file that
//! is not SQLite, a SQLite database of another application, a damaged one or
//! one written by a newer homebus is refused and left byte for byte as it was.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// `PRAGMA application_id` of a homebus database: "homb" in ASCII.
pub const APPLICATION_ID: i32 = 0x686f_6d62;

/// The schema version this homebus writes; one more per migration.
pub const CURRENT_VERSION: i32 = MIGRATIONS.len() as i32;

/// Migration `n` (0-based) brings a database from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. `meta.last_seq` survives pruning every event, so `seq`
    // never goes back. Times are microseconds since the Unix epoch (UTC).
    // `kind`: 0 state change, 1 fired event, 2 received event. `remove` is
    // 1 when the source said the device is gone.
    // The partial index serves history by entity and time; retention walks
    // the primary key (seq order is time order, give or take a few ms).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     INSERT INTO meta (key, value) VALUES ('last_seq', 0);
     CREATE TABLE events (
         seq INTEGER PRIMARY KEY,
         kind INTEGER NOT NULL,
         time INTEGER NOT NULL,
         source TEXT,
         name TEXT,
         data TEXT,
         upstream_id TEXT,
         entity_id TEXT,
         old_state TEXT,
         new_state TEXT,
         remove INTEGER
     );
     CREATE INDEX events_by_entity ON events (entity_id, time) WHERE entity_id IS NOT NULL;
     CREATE TABLE units (
         address TEXT PRIMARY KEY COLLATE NOCASE,
         entity_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         state TEXT NOT NULL,
         value REAL,
         attributes TEXT NOT NULL,
         last_changed INTEGER NOT NULL,
         last_updated INTEGER NOT NULL
     );
     CREATE TABLE source_cursor (
         source TEXT PRIMARY KEY,
         last_event_id TEXT NOT NULL,
         updated INTEGER NOT NULL
     );",
];

/// What a read-only look at an existing file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No file, an empty file or an empty SQLite database: ours to set up.
    Fresh,
    /// A homebus database at this schema version (≤ [`CURRENT_VERSION`]).
    Homebus(i32),
}

/// The 16 bytes every SQLite database file starts with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Looks at `path` without writing to it and says whether homebus may use it.
pub fn inspect(path: &Path) -> Result<Found, StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Fresh),
        Err(source) => {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                action: "open",
                hint: "check the file's permissions, or set `server.database` to another file",
                source,
            });
        }
    };
    let mut header = Vec::with_capacity(16);
    (&mut file)
        .take(16)
        .read_to_end(&mut header)
        .map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            action: "read",
            hint: "check the file's permissions, or set `server.database` to another file",
            source,
        })?;
    drop(file);
    if header.is_empty() {
        return Ok(Found::Fresh);
    }
    if header.as_slice() != SQLITE_HEADER {
        return Err(StoreError::NotSqlite {
            path: path.to_path_buf(),
        });
    }
    let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(corrupt)?;
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(corrupt)?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(corrupt)?;
    if application_id != APPLICATION_ID {
        if application_id == 0 && version == 0 && tables == 0 {
            return Ok(Found::Fresh);
        }
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            detail: format!(
                "application id {application_id:#x}, {tables} table(s), none of them homebus's"
            ),
        });
    }
    if version > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: CURRENT_VERSION,
        });
    }
    Ok(Found::Homebus(version))
}

/// Brings an open, writable database from `from` to [`CURRENT_VERSION`],
/// one transaction per migration.
pub fn migrate(conn: &mut Connection, from: i32) -> rusqlite::Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", index as i32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
