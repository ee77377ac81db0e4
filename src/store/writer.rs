//! The writer thread: takes changes from a bounded channel and writes them
//! in batched transactions (everything waiting, up to `max_batch`, per
//! commit), then hands them to the live feed. rusqlite is blocking, so it
//! runs on its own thread, never on the async runtime.
//!
//! No artificial delay: while one commit runs, the next changes queue up and
//! form the next batch, so a quiet hub commits each change at once and a busy
//! one commits thousands at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

use super::delay::DelayHistogram;
use super::record::{self, micros};
use super::retention::Pruner;
use super::{Store, StoreOptions};
use crate::bus::{BusMessage, Envelope};
use crate::units::EntityState;

/// What the writer is asked to do.
pub enum Job {
    /// Persist this change (published at the instant given), then deliver
    /// it live.
    Change(Arc<Envelope>, Instant),
    /// Answer once everything sent before is committed.
    Flush(SyncSender<()>),
}

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Highest seq committed.
    pub persisted_seq: AtomicU64,
    /// Changes committed.
    pub changes: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Times `publish` found the queue full and waited.
    pub backpressure: AtomicU64,
    /// Failed write attempts (each retried).
    pub write_errors: AtomicU64,
    /// Changes that could not be persisted (the writer was gone or gave up at shutdown).
    pub unpersisted: AtomicU64,
    /// Events deleted by retention.
    pub pruned: AtomicU64,
    /// How long each change waited from `publish` to its commit.
    pub persist_delay: DelayHistogram,
    /// Set when the bus is dropped: stop retrying a failing disk forever.
    pub closing: AtomicBool,
}

/// Where committed changes go (the in-memory bus).
pub type Deliver = Box<dyn Fn(Arc<Envelope>) + Send>;

/// Pages the WAL may grow to before the writer checkpoints it itself; the
/// checkpointer thread normally keeps it far below (64 MiB at 4 KiB pages).
pub const WAL_LIMIT_PAGES: u32 = 16_384;

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Starts the checkpointer thread: it copies committed pages from the WAL
/// into the database file (a PASSIVE checkpoint, which never blocks the
/// writer) every half second, until `stop` is dropped. Checkpoints are the
/// only place where `synchronous = "normal"` syncs to disk, so doing them
/// here keeps those pauses out of the writer's commits and thus off the
/// serve path.
pub fn spawn_checkpointer(
    store: Arc<Store>,
    conn: Connection,
    stop: Receiver<()>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("homebus-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(
                        database = %store.path().display(),
                        "cannot checkpoint the write-ahead log: {e}; will try again"
                    );
                }
            }
        })
}

/// Starts the writer thread on `conn`. It ends when every sender of `jobs`
/// is gone and the queue is drained.
pub fn spawn(
    store: Arc<Store>,
    conn: Connection,
    jobs: Receiver<Job>,
    counters: Arc<Counters>,
    deliver: Deliver,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("homebus-store".into())
        .spawn(move || Writer::new(store, conn, counters, deliver).run(jobs))
}

struct Writer {
    /// Held so the database lock lives as long as this thread writes.
    store: Arc<Store>,
    conn: Connection,
    counters: Arc<Counters>,
    deliver: Deliver,
    pruner: Pruner,
}

impl Writer {
    fn new(store: Arc<Store>, conn: Connection, counters: Arc<Counters>, deliver: Deliver) -> Self {
        let StoreOptions {
            retention,
            prune_every,
            prune_batch,
            ..
        } = store.options().clone();
        Writer {
            store,
            conn,
            counters,
            deliver,
            pruner: Pruner::new(retention, prune_every, prune_batch),
        }
    }

    fn run(mut self, jobs: Receiver<Job>) {
        let max_batch = self.store.options().max_batch.max(1);
        let mut batch: Vec<Arc<Envelope>> = Vec::with_capacity(max_batch.min(65_536));
        let mut published: Vec<Instant> = Vec::with_capacity(batch.capacity());
        let mut flushes = Vec::new();
        loop {
            let first = match jobs.recv_timeout(self.pruner.wait()) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    self.prune();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Change(envelope, at) => {
                        batch.push(envelope);
                        published.push(at);
                    }
                    Job::Flush(reply) => flushes.push(reply),
                }
                if batch.len() < max_batch {
                    next = jobs.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                if let Some(committed) = self.commit(&batch).then(Instant::now) {
                    for at in &published {
                        let delay = committed.saturating_duration_since(*at);
                        self.counters.persist_delay.observe(delay);
                    }
                }
                published.clear();
                for envelope in batch.drain(..) {
                    (self.deliver)(envelope);
                }
            }
            for reply in flushes.drain(..) {
                let _ = reply.send(());
            }
            if self.pruner.due() {
                self.prune();
            }
        }
    }

    /// Writes a batch, retrying (with a growing pause) until it is committed:
    /// a change is never dropped because the disk hiccuped. Meanwhile the
    /// queue fills and `publish` applies back-pressure to the sources.
    /// Returns false only when it gave up at shutdown.
    fn commit(&mut self, batch: &[Arc<Envelope>]) -> bool {
        let mut pause = Duration::from_millis(50);
        let mut attempts = 0u32;
        loop {
            match write_batch(&mut self.conn, batch) {
                Ok(()) => break,
                Err(e) => {
                    attempts += 1;
                    self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        database = %self.store.path().display(),
                        changes = batch.len(),
                        attempts,
                        "cannot write changes to the database: {e}; retrying in {pause:?} (the hub holds new changes back meanwhile)"
                    );
                    if self.counters.closing.load(Ordering::Relaxed) && attempts >= 5 {
                        self.counters
                            .unpersisted
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        tracing::error!(
                            database = %self.store.path().display(),
                            "giving up at shutdown: {} changes were not persisted",
                            batch.len()
                        );
                        return false;
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
        let last = batch.last().map_or(0, |e| e.seq());
        self.counters.persisted_seq.store(last, Ordering::Release);
        self.counters
            .changes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn prune(&mut self) {
        match self.pruner.step(&self.conn) {
            Ok(0) => {}
            Ok(n) => {
                self.counters.pruned.fetch_add(n as u64, Ordering::Relaxed);
                tracing::debug!(deleted = n, "pruned old events");
            }
            Err(e) => tracing::warn!(
                database = %self.store.path().display(),
                "cannot prune old events: {e}; will try again later"
            ),
        }
    }
}

/// One transaction: every event row, the last state of each unit touched,
/// the last upstream event ID of each source, and the highest seq.
fn write_batch(conn: &mut Connection, batch: &[Arc<Envelope>]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        // Only the last state of a unit in the batch needs writing.
        let mut units: HashMap<String, Option<&EntityState>> = HashMap::new();
        let mut cursors: HashMap<&str, (&str, i64)> = HashMap::new();
        let mut insert = tx.prepare_cached(record::INSERT)?;
        for envelope in batch {
            record::insert(&mut insert, &envelope.message)?;
            let cause = match &envelope.message {
                BusMessage::State(change) => {
                    let address = change
                        .new
                        .as_ref()
                        .or(change.old.as_ref())
                        .and_then(|s| s.attributes.get("address"))
                        .and_then(|a| a.as_str());
                    if let Some(address) = address {
                        units.insert(address.to_ascii_lowercase(), change.new.as_ref());
                    }
                    change.cause.as_ref()
                }
                BusMessage::Received(event) => Some(event),
                BusMessage::Event(_) => None,
            };
            if let Some(event) = cause
                && event.ends_payload
                && let Some(id) = event.id.as_deref()
            {
                cursors.insert(&event.source, (id, micros(&event.received_at)));
            }
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO units (address, entity_id, kind, state, value, attributes, last_changed, last_updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (address) DO UPDATE SET address = excluded.address,
                 entity_id = excluded.entity_id, kind = excluded.kind, state = excluded.state,
                 value = excluded.value, attributes = excluded.attributes,
                 last_changed = excluded.last_changed, last_updated = excluded.last_updated",
        )?;
        let mut remove = tx.prepare_cached("DELETE FROM units WHERE address = ?1")?;
        for (address, new) in &units {
            match new {
                Some(state) => {
                    let attr = |key: &str| state.attributes.get(key);
                    upsert.execute(params![
                        attr("address").and_then(|a| a.as_str()).unwrap_or(address),
                        state.entity_id,
                        attr("kind").and_then(|k| k.as_str()).unwrap_or("sensor"),
                        state.state,
                        attr("value").and_then(|v| v.as_f64()),
                        serde_json::to_string(&state.attributes)
                            .expect("attributes always serialise"),
                        micros(&state.last_changed),
                        micros(&state.last_updated),
                    ])?;
                }
                None => {
                    remove.execute([address])?;
                }
            }
        }
        let mut cursor = tx.prepare_cached(
            "INSERT INTO source_cursor (source, last_event_id, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET last_event_id = excluded.last_event_id, updated = excluded.updated",
        )?;
        for (source, (id, at)) in &cursors {
            cursor.execute(params![source, id, at])?;
        }
        let last = batch.last().map_or(0, |e| e.seq()) as i64;
        tx.prepare_cached("UPDATE meta SET value = max(value, ?1) WHERE key = 'last_seq'")?
            .execute([last])?;
    }
    tx.commit()
}
