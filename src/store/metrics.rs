//! The store's counters as `/metrics` shows them: how far persistence has
//! got, how often it held the sources back or failed, and how long changes
//! waited for their commit.

use std::sync::atomic::Ordering;

use super::delay::DelaySnapshot;
use super::writer::Counters;
use crate::prometheus::{Encoder, Kind};

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
    /// Reads the writer's live `counters`; `accepted_seq` is kept by the
    /// bus, which numbers changes before the writer sees them.
    pub(super) fn read(accepted_seq: u64, counters: &Counters) -> Self {
        let c = counters;
        StoreMetrics {
            accepted_seq,
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
