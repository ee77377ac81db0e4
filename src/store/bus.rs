//! The persistent bus: the in-process bus with the store behind it.
//!
//! `publish` hands each change to the writer thread; the writer commits it
//! and only then delivers it to the in-memory bus, so every change a
//! subscriber is served is already in the database (see
//! `docs/durability.md`). A client resuming from a seq the in-memory ring
//! no longer holds is replayed from the store, page by page, until the ring
//! covers the rest; the ring then yields its backlog and the live feed
//! without gap or duplicate.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use super::delay::DelaySnapshot;
use super::writer::{self, Counters, Job};
use super::{IN_MEMORY, Store, StoreError, StoreOptions};
use crate::bus::{Bus, BusError, BusMessage, Envelope, InProcessBus, Subscription};
use crate::config::ServerConfig;
use crate::prometheus::{Encoder, Kind};

/// Messages read from the store per replay query.
const REPLAY_PAGE: usize = 1000;

/// The persistence counters, for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreMetrics {
    /// Highest seq published (accepted by the hub).
    pub accepted_seq: u64,
    /// Highest seq committed to the database.
    pub persisted_seq: u64,
    /// Changes committed since start.
    pub changes_persisted: u64,
    /// Transactions committed since start.
    pub batches: u64,
    /// Times `publish` found the writer's queue full and had to wait
    /// (back-pressure on the sources).
    pub backpressure_waits: u64,
    /// Failed write attempts (each one retried).
    pub write_errors: u64,
    /// Changes that could not be persisted.
    pub unpersisted: u64,
    /// Old events deleted by retention.
    pub pruned_events: u64,
    /// How long changes waited from `publish` to their commit: what
    /// persistence adds to the serve path.
    pub persist_delay: DelaySnapshot,
}

impl StoreMetrics {
    /// The counters in Prometheus text format, for `/metrics`.
    pub fn prometheus(&self) -> String {
        let rows: [(&str, Kind, &str, u64); 8] = [
            (
                "homebus_store_accepted_seq",
                Kind::Gauge,
                "Highest seq accepted by the hub.",
                self.accepted_seq,
            ),
            (
                "homebus_store_persisted_seq",
                Kind::Gauge,
                "Highest seq committed to the database.",
                self.persisted_seq,
            ),
            (
                "homebus_store_changes_persisted_total",
                Kind::Counter,
                "Changes committed to the database.",
                self.changes_persisted,
            ),
            (
                "homebus_store_transactions_total",
                Kind::Counter,
                "Write transactions committed.",
                self.batches,
            ),
            (
                "homebus_store_backpressure_waits_total",
                Kind::Counter,
                "Times a publish waited for the database writer (sources held back).",
                self.backpressure_waits,
            ),
            (
                "homebus_store_write_errors_total",
                Kind::Counter,
                "Failed write attempts (each retried).",
                self.write_errors,
            ),
            (
                "homebus_store_unpersisted_total",
                Kind::Counter,
                "Changes that could not be persisted.",
                self.unpersisted,
            ),
            (
                "homebus_store_pruned_events_total",
                Kind::Counter,
                "Old events deleted by retention.",
                self.pruned_events,
            ),
        ];
        let mut encoder = Encoder::new();
        for (name, kind, help, value) in rows {
            encoder.family(name, kind, help).sample(&[], value);
        }
        self.persist_delay.encode(
            &mut encoder,
            "homebus_store_persist_delay_seconds",
            "Time from a change's publish to the commit that made it durable (it is served only after).",
        );
        encoder.finish()
    }
}

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
        let c = &self.counters;
        StoreMetrics {
            accepted_seq: self.accepted.load(Ordering::Acquire),
            persisted_seq: c.persisted_seq.load(Ordering::Acquire),
            changes_persisted: c.changes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            backpressure_waits: c.backpressure.load(Ordering::Relaxed),
            write_errors: c.write_errors.load(Ordering::Relaxed),
            unpersisted: c.unpersisted.load(Ordering::Relaxed),
            pruned_events: c.pruned.load(Ordering::Relaxed),
            persist_delay: c.persist_delay.snapshot(),
        }
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

    /// Replays from the store after `after`, then hands over to the ring.
    fn replay_then_live(&self, after: u64, ring_oldest: u64) -> Result<Subscription, BusError> {
        let oldest_stored = match self.store.oldest_seq() {
            Ok(oldest) => oldest,
            Err(e) => {
                tracing::error!("cannot read the event log to resume a subscriber: {e}");
                return Err(BusError::TooOld {
                    after,
                    oldest: ring_oldest,
                });
            }
        };
        match oldest_stored {
            Some(oldest) if after + 1 >= oldest => {}
            Some(oldest) => return Err(BusError::TooOld { after, oldest }),
            None => {
                return Err(BusError::TooOld {
                    after,
                    oldest: ring_oldest,
                });
            }
        }
        let start = Replay::Store {
            after,
            page: VecDeque::new(),
        };
        let store = self.store.clone();
        let inner = self.inner.clone();
        Ok(Box::pin(stream::unfold(start, move |mut phase| {
            let store = store.clone();
            let inner = inner.clone();
            async move {
                loop {
                    match phase {
                        Replay::Store { after, mut page } => {
                            if let Some(envelope) = page.pop_front() {
                                let after = envelope.seq();
                                return Some((Ok(envelope), Replay::Store { after, page }));
                            }
                            match inner.subscribe(Some(after)) {
                                Ok(live) => {
                                    phase = Replay::Live(live);
                                    continue;
                                }
                                Err(BusError::TooOld { oldest, .. }) => {
                                    let reader = store.clone();
                                    let read = tokio::task::spawn_blocking(move || {
                                        reader.replay(after, REPLAY_PAGE)
                                    })
                                    .await;
                                    let messages = match read {
                                        Ok(Ok(messages)) if !messages.is_empty() => messages,
                                        Ok(Ok(_)) => {
                                            return Some((
                                                Err(BusError::TooOld { after, oldest }),
                                                Replay::Done,
                                            ));
                                        }
                                        Ok(Err(e)) => {
                                            tracing::error!(
                                                "replay from the event log failed: {e}"
                                            );
                                            return Some((
                                                Err(BusError::TooOld { after, oldest }),
                                                Replay::Done,
                                            ));
                                        }
                                        Err(e) => {
                                            tracing::error!(
                                                "replay from the event log failed: {e}"
                                            );
                                            return None;
                                        }
                                    };
                                    // Resume after the page's last seq, even
                                    // when that one is not served.
                                    let last = messages.last().map_or(after, BusMessage::seq);
                                    page = messages
                                        .into_iter()
                                        .filter(|m| !m.is_received())
                                        .map(|m| Arc::new(Envelope::new(m)))
                                        .collect();
                                    let after = if page.is_empty() { last } else { after };
                                    phase = Replay::Store { after, page };
                                }
                                Err(e) => return Some((Err(e), Replay::Done)),
                            }
                        }
                        Replay::Live(mut live) => {
                            let item = live.next().await?;
                            return Some((item, Replay::Live(live)));
                        }
                        Replay::Done => return None,
                    }
                }
            }
        })))
    }
}

/// Where a resuming subscription is.
enum Replay {
    /// Reading the store; `after` is the last seq yielded.
    Store {
        after: u64,
        page: VecDeque<Arc<Envelope>>,
    },
    /// Caught up: the ring's backlog and live feed.
    Live(Subscription),
    /// Ended after an error.
    Done,
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
            Err(BusError::TooOld { after, oldest }) => self.replay_then_live(after, oldest),
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
