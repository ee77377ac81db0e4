//! How long changes wait to be persisted: a histogram of the time from
//! `publish` to the commit that made each change durable.
//!
//! With persistence on, a change is served only after that commit, so this
//! is exactly what the store adds to the serve path. It is on `/metrics`
//! so that an operator can see a slow disk (an SD card, a busy NAS) as it
//! happens, not guess it from latency seen elsewhere.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::prometheus::{Encoder, Histogram};

/// Upper bounds of the buckets, in microseconds; one more bucket above the
/// last catches the rest. From well under a commit on a fast disk to the
/// seconds a stalled one takes.
pub const BOUNDS_MICROS: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

const BUCKETS: usize = BOUNDS_MICROS.len() + 1;

/// The live histogram the writer thread adds to: lock-free, fixed size.
#[derive(Debug, Default)]
pub struct DelayHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_micros: AtomicU64,
}

impl DelayHistogram {
    /// Counts one change that waited `delay`.
    pub fn observe(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_MICROS.partition_point(|&bound| bound < micros);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> DelaySnapshot {
        DelaySnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }
}

/// A copy of a [`DelayHistogram`], for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DelaySnapshot {
    /// Changes per bucket (not cumulative); the last is above every bound.
    pub buckets: [u64; BUCKETS],
    /// Total delay of all changes, in microseconds.
    pub sum_micros: u64,
}

impl DelaySnapshot {
    /// Changes counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Writes the histogram `name` to `encoder`, in seconds.
    pub fn encode(&self, encoder: &mut Encoder, name: &str, help: &str) {
        let upper_bounds = BOUNDS_MICROS.map(|bound| bound as f64 / 1e6);
        encoder.histogram(
            name,
            help,
            &Histogram {
                upper_bounds: &upper_bounds,
                counts: &self.buckets,
                sum: self.sum_micros as f64 / 1e6,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let histogram = DelayHistogram::default();
        histogram.observe(Duration::from_micros(100));
        histogram.observe(Duration::from_micros(101));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(7));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.buckets[0], 1, "100 µs is within `le=0.0001`");
        assert_eq!(snapshot.buckets[1], 1, "101 µs is above it");
        assert_eq!(snapshot.buckets[5], 1, "3 ms is within `le=0.005`");
        assert_eq!(snapshot.buckets[BUCKETS - 1], 1, "7 s is above every bound");
        assert_eq!(snapshot.count(), 4);
        assert_eq!(snapshot.sum_micros, 100 + 101 + 3_000 + 7_000_000);
    }

    #[test]
    fn prometheus_buckets_are_cumulative_and_end_with_the_count() {
        let histogram = DelayHistogram::default();
        histogram.observe(Duration::from_micros(80));
        histogram.observe(Duration::from_micros(700));
        histogram.observe(Duration::from_micros(900));
        let mut encoder = Encoder::new();
        histogram
            .snapshot()
            .encode(&mut encoder, "x_seconds", "How long.");
        let text = encoder.finish();
        assert!(text.starts_with("# HELP x_seconds How long.\n# TYPE x_seconds histogram\n"));
        for line in [
            "x_seconds_bucket{le=\"0.0001\"} 1\n",
            "x_seconds_bucket{le=\"0.0005\"} 1\n",
            "x_seconds_bucket{le=\"0.001\"} 3\n",
            "x_seconds_bucket{le=\"1\"} 3\n",
            "x_seconds_bucket{le=\"+Inf\"} 3\n",
            "x_seconds_sum 0.00168\n",
            "x_seconds_count 3\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
