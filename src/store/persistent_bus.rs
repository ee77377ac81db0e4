//! The persistent bus: the in-process bus with the store behind it.
//!
//! `publish` hands each change to the writer thread; the writer commits it
//! and only then delivers it to the in-memory bus, so every change a
//! subscriber is served is already in the database (see
//! `docs/durability.md`). When the writer's queue is full, `publish` waits:
//! that back-pressure holds the sources back. A client resuming from a seq
//! the in-memory ring no longer holds is handed to [`replay`](super::replay).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::metrics::StoreMetrics;
use super::replay;
use super::writer::{self, Counters, Job};
use super::{IN_MEMORY, Store, StoreError, StoreOptions};
use crate::bus::{Bus, BusError, BusMessage, Envelope, InProcessBus, Subscription};
use crate::config::ServerConfig;

/// A [`Bus`] whose changes are persisted before they are served, and whose
/// subscribers can resume from any seq still in the store.
pub struct PersistentBus {
    store: Arc<Store>,
    /// The live feed and the fast resume path; only committed changes reach it.
    inner: Arc<InProcessBus>,
    /// The writer's bounded queue.
    jobs: Option<SyncSender<Job>>,
    /// The seq of the last published change.
    accepted: AtomicU64,
    counters: Arc<Counters>,
    /// When back-pressure was last logged, so the log is not flooded.
    last_warning: Mutex<Option<Instant>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Dropping the sender stops the checkpoint thread.
    checkpointer: Option<(SyncSender<()>, std::thread::JoinHandle<()>)>,
}

impl PersistentBus {
    /// Starts the writer thread on `store` and continues numbering after the
    /// highest seq stored. `held` and `lag_limit` are the in-memory ring's.
    pub fn start(store: Arc<Store>, held: usize, lag_limit: usize) -> Result<Self, StoreError> {
        let last_seq = store.last_seq()?;
        let inner = Arc::new(InProcessBus::new(held, lag_limit));
        inner.start_after(last_seq);
        let counters = Arc::new(Counters::default());
        counters.persisted_seq.store(last_seq, Ordering::Relaxed);
        let (jobs, receiver) = mpsc::sync_channel(store.options().queue.max(1));
        let conn = store.connect_writer()?;
        conn.pragma_update(None, "wal_autocheckpoint", writer::WAL_LIMIT_PAGES)
            .map_err(|source| store.error("configure the writer", source))?;
        let (stop_checkpoints, stop) = mpsc::sync_channel(0);
        let no_thread = |action: &'static str| {
            let path = store.path().to_path_buf();
            move |source| StoreError::Io {
                path,
                action,
                hint: "the system is out of threads or memory",
                source,
            }
        };
        let checkpointer = writer::spawn_checkpointer(store.clone(), store.connect_writer()?, stop)
            .map_err(no_thread("start the checkpoint thread for"))?;
        let live = inner.clone();
        let writer = writer::spawn(
            store.clone(),
            conn,
            receiver,
            counters.clone(),
            Box::new(move |envelope| live.publish_shared(envelope)),
        )
        .map_err(no_thread("start the writer thread for"))?;
        Ok(PersistentBus {
            store,
            inner,
            jobs: Some(jobs),
            accepted: AtomicU64::new(last_seq),
            counters,
            last_warning: Mutex::new(None),
            writer: Some(writer),
            checkpointer: Some((stop_checkpoints, checkpointer)),
        })
    }

    /// The bus `[server]` asks for: `None` when `database` is `":memory:"`
    /// (nothing kept), otherwise the opened store behind a persistent bus.
    pub fn from_config(
        server: &ServerConfig,
        held: usize,
        lag_limit: usize,
    ) -> Result<Option<Arc<Self>>, StoreError> {
        if server.database == IN_MEMORY {
            return Ok(None);
        }
        let store = Arc::new(Store::open(
            &server.database,
            StoreOptions::from_server(server),
        )?);
        Ok(Some(Arc::new(PersistentBus::start(
            store, held, lag_limit,
        )?)))
    }

    /// The store behind the bus (history queries, statistics).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The current counters.
    pub fn metrics(&self) -> StoreMetrics {
        StoreMetrics::read(self.accepted.load(Ordering::Acquire), &self.counters)
    }

    /// Blocks until every change published before the call is committed,
    /// or `timeout` passes. Returns whether it was committed. Blocking: call
    /// it from a plain thread or `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (reply, done) = mpsc::sync_channel(1);
        let Some(jobs) = &self.jobs else { return false };
        if jobs.send(Job::Flush(reply)).is_err() {
            return false;
        }
        done.recv_timeout(timeout).is_ok()
    }

    fn enqueue(&self, job: Job) {
        let Some(jobs) = &self.jobs else { return };
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                self.counters.backpressure.fetch_add(1, Ordering::Relaxed);
                self.warn_backpressure();
                // Waiting here holds the hub's lock, which holds back every
                // source: that is the back-pressure. On a multi-threaded
                // runtime, let the worker's other tasks move elsewhere first.
                let sent = block_in_place_if_possible(|| jobs.send(job));
                if let Err(mpsc::SendError(job)) = sent {
                    self.writer_gone(job);
                }
            }
            Err(TrySendError::Disconnected(job)) => self.writer_gone(job),
        }
    }

    fn warn_backpressure(&self) {
        let mut last = self.last_warning.lock().expect("warning lock");
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!(
                database = %self.store.path().display(),
                waits = self.counters.backpressure.load(Ordering::Relaxed),
                "the database writer is behind; holding sources back until it catches up (is the disk slow or full?)"
            );
        }
    }

    fn writer_gone(&self, job: Job) {
        if let Job::Change(envelope, _) = job {
            self.counters.unpersisted.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                database = %self.store.path().display(),
                seq = envelope.seq(),
                "the database writer has stopped; this change is served but NOT persisted"
            );
            self.inner.publish_shared(envelope);
        }
    }
}

impl Bus for PersistentBus {
    fn publish(&self, message: BusMessage) -> Arc<Envelope> {
        let envelope = Arc::new(Envelope::new(message));
        self.accepted.store(envelope.seq(), Ordering::Release);
        self.enqueue(Job::Change(envelope.clone(), Instant::now()));
        envelope
    }

    fn subscribe(&self, after: Option<u64>) -> Result<Subscription, BusError> {
        match self.inner.subscribe(after) {
            Err(BusError::TooOld { after, oldest }) => {
                replay::replay_then_live(&self.store, &self.inner, after, oldest)
            }
            other => other,
        }
    }

    fn last_seq(&self) -> u64 {
        self.accepted.load(Ordering::Acquire)
    }
}

impl Drop for PersistentBus {
    /// Commits what is queued and waits for the writer to finish, so the
    /// next open of the database sees everything and finds it unlocked.
    fn drop(&mut self) {
        self.counters.closing.store(true, Ordering::Relaxed);
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = block_in_place_if_possible(|| writer.join());
        }
        if let Some((stop, checkpointer)) = self.checkpointer.take() {
            drop(stop);
            let _ = block_in_place_if_possible(|| checkpointer.join());
        }
    }
}

/// Runs a blocking `f` without stalling other tasks of a multi-threaded
/// tokio runtime; elsewhere just runs it.
fn block_in_place_if_possible<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
