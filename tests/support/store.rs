//! A hub on a persistent bus over a real SQLite file in a temp dir, and
//! helpers to look at that file the way an operator would.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use homebus::bus::{Bus, Envelope, Subscription};
use homebus::event::Event;
use homebus::store::{PersistentBus, Store, StoreOptions};

use super::hub::TestHub;
use super::wait::DEADLINE;

/// A temp dir and the database path inside it (not created yet).
pub fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("homebus.db");
    (dir, path)
}

/// A [`TestHub`] whose bus persists to a SQLite file, restored from it at
/// start with `homebus run`'s own `homebus::app::restore`; derefs to the
/// [`TestHub`]. Its sources do not run: the test feeds events with
/// [`StoredHub::event`], and closing it releases the database at once.
///
/// Not built with `homebus::app::start`: these tests set store options the
/// config does not offer (pruning every few milliseconds, a ring of two
/// changes), some run without an async runtime, and they need no server.
pub struct StoredHub {
    running: TestHub,
    /// Its bus.
    pub bus: Arc<PersistentBus>,
}

impl Deref for StoredHub {
    type Target = TestHub;

    fn deref(&self) -> &TestHub {
        &self.running
    }
}

impl StoredHub {
    /// Opens (or creates) `db` with default options; `units` is `[[unit]]` TOML.
    pub fn open(db: &Path, units: &str) -> Self {
        Self::open_with(db, units, StoreOptions::default(), 4096)
    }

    /// Opens `db` with these store options and an in-memory ring of `held` changes.
    pub fn open_with(db: &Path, units: &str, options: StoreOptions, held: usize) -> Self {
        let store = Arc::new(Store::open(db, options).unwrap());
        let bus = Arc::new(PersistentBus::start(store.clone(), held, 100_000).unwrap());
        let running = TestHub::idle_on(super::config::parse(units), bus.clone() as Arc<dyn Bus>);
        homebus::app::restore(&running.hub, &bus).expect("the database restores");
        StoredHub { running, bus }
    }

    /// Feeds an event from source `src` into the hub as a source would.
    pub fn event(&self, name: &str, data: Option<&str>) -> Arc<Envelope> {
        self.hub
            .ingest(Event::new(Arc::from("src"), name, data.map(str::to_string)))
    }

    /// Feeds an event carrying an upstream event ID.
    pub fn event_with_id(&self, name: &str, data: &str, id: &str) -> Arc<Envelope> {
        let mut event = Event::new(Arc::from("src"), name, Some(data.to_string()));
        event.id = Some(id.to_string());
        self.hub.ingest(event)
    }

    /// Waits until everything published so far is committed.
    pub fn flush(&self) {
        assert!(
            self.bus.flush(DEADLINE),
            "writer did not commit in {DEADLINE:?}"
        );
    }

    /// Subscribes through the bus, as the server does.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        self.bus.subscribe(after).unwrap()
    }

    /// Stops the hub: commits what is queued and releases the database.
    pub fn close(self) {
        let StoredHub { running, bus } = self;
        drop(running);
        drop(bus);
    }
}

/// A read-only connection to a database, as an operator's tool would open it.
pub fn read_only(db: &Path) -> rusqlite::Connection {
    try_read_only(db).expect("the database opens read-only")
}

/// [`read_only`], or `None` while the database cannot be opened (not
/// created yet).
pub fn try_read_only(db: &Path) -> Option<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()
}

/// Every seq in the `events` table, in order.
pub fn stored_seqs(db: &Path) -> Vec<u64> {
    let conn = read_only(db);
    let mut stmt = conn.prepare("SELECT seq FROM events ORDER BY seq").unwrap();
    stmt.query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|s| s.unwrap() as u64)
        .collect()
}
