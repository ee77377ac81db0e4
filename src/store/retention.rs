//! Retention: events older than `server.history_retention` are deleted in
//! small batches by the writer thread, between its write batches, so no
//! write ever waits behind a long delete. Unit state is never pruned.

use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::Connection;

use super::record::micros;

/// Deletes at most `batch` of the oldest events (in seq order) whose time
/// is before `cutoff_us`. Returns how many it deleted; 0 means nothing old
/// is left at the head of the log.
///
/// Walking the primary key instead of a time index keeps every write
/// cheaper: seq order is arrival order, so old events are at the head.
pub fn prune_batch(conn: &Connection, cutoff_us: i64, batch: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?1) AND time < ?2",
    )?
    .execute(rusqlite::params![batch as i64, cutoff_us])
}

/// When the writer should prune next.
#[derive(Debug)]
pub struct Pruner {
    /// How long events are kept.
    retention: Duration,
    /// Pause between looks when nothing was old.
    every: Duration,
    /// Rows per delete.
    batch: usize,
    /// When the next look is due.
    next: Instant,
}

impl Pruner {
    /// A pruner whose first look is due at once.
    pub fn new(retention: Duration, every: Duration, batch: usize) -> Self {
        Pruner {
            retention,
            every,
            batch: batch.max(1),
            next: Instant::now(),
        }
    }

    /// How long the writer may wait for changes before pruning is due.
    pub fn wait(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Whether a prune step is due.
    pub fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// Deletes one batch of old events. While it finds some, the next step
    /// is due at once; when it finds none, after `every`.
    pub fn step(&mut self, conn: &Connection) -> rusqlite::Result<usize> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now()
            .checked_sub_signed(retention)
            .map_or(i64::MIN, |t| micros(&t));
        let deleted = prune_batch(conn, cutoff, self.batch);
        self.next = match deleted {
            Ok(n) if n > 0 => Instant::now(),
            _ => Instant::now() + self.every,
        };
        deleted
    }
}
