//! What the measuring examples (`loadgen`, `loopback_floor`) share: a
//! latency histogram many tasks record into, and a process's CPU time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latencies counted in fixed buckets, recorded from any thread without a
/// lock; the last bucket also takes everything longer.
pub struct Histogram {
    bucket_us: u64,
    counts: Vec<AtomicU64>,
}

impl Histogram {
    /// `buckets` buckets of `bucket_us` microseconds each.
    pub fn new(bucket_us: u64, buckets: usize) -> Self {
        Histogram {
            bucket_us,
            counts: (0..buckets.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts one latency.
    pub fn record(&self, latency_us: u64) {
        let bucket = ((latency_us / self.bucket_us) as usize).min(self.counts.len() - 1);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything recorded so far.
    #[allow(dead_code)] // each example compiles this module; only loadgen resets
    pub fn reset(&self) {
        for count in &self.counts {
            count.store(0, Ordering::Relaxed);
        }
    }

    /// The upper edge of the bucket holding the `p` quantile, or `None` if
    /// nothing was recorded.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros((i as u64 + 1) * self.bucket_us));
            }
        }
        None
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
