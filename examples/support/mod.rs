//! What the measuring examples (`loadgen`, `loopback_floor`) share: a
//! latency histogram many tasks record into, and a process's CPU time.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Latencies in microseconds, recorded from any task, with quantiles read
/// to three significant digits (an HdrHistogram); a latency above the
/// largest one tracked is counted as that largest.
pub struct Histogram {
    /// One lock per recorded batch: the tools record a sample of their
    /// messages, far fewer than the hub delivers.
    inner: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Histogram {
    /// Tracks latencies from 1 µs up to `max`.
    pub fn new(max: Duration) -> Self {
        let max_us = u64::try_from(max.as_micros()).unwrap_or(u64::MAX).max(2);
        let inner = hdrhistogram::Histogram::new_with_bounds(1, max_us, 3)
            .expect("1 µs to at least 2 µs at 3 significant digits is a valid histogram");
        Histogram {
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, hdrhistogram::Histogram<u64>> {
        // A panicking recorder leaves counts that are still counts.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts each latency of a batch (in microseconds) under one lock.
    pub fn record(&self, latencies_us: impl IntoIterator<Item = u64>) {
        let mut histogram = self.lock();
        for latency in latencies_us {
            histogram.saturating_record(latency);
        }
    }

    /// Forgets everything recorded so far.
    #[allow(dead_code)] // each example compiles this module; only loadgen resets
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// The `p` quantile (0.5 for the median): the highest latency that
    /// counts as equal to it at the histogram's precision; `None` if nothing
    /// was recorded.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let histogram = self.lock();
        (!histogram.is_empty()).then(|| Duration::from_micros(histogram.value_at_quantile(p)))
    }
}

/// User + system CPU time of a process, in seconds (clock ticks of 10 ms).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
