//! When to try again: the configured delay after a connection that worked,
//! doubling with jitter after consecutive failures, up to a cap.

use std::time::Duration;

/// Reconnection delays for one source.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Delay after a connection that worked; replaced by the server's `retry:`.
    base: Duration,
    /// Largest delay between failed tries.
    cap: Duration,
    /// Consecutive failed tries since the last success.
    failures: u32,
}

impl Backoff {
    /// Starts with `base` and caps failure delays at `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap: cap.max(base),
            failures: 0,
        }
    }

    /// The server asked for this reconnection time (SSE `retry:`).
    pub fn set_base(&mut self, base: Duration) {
        self.base = base;
    }

    /// The current base delay.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// A connection that worked has ended: wait exactly the base delay.
    /// The failures before it no longer count.
    pub fn after_disconnect(&mut self) -> Duration {
        self.failures = 0;
        self.base
    }

    /// A try failed: the first failure waits the base delay, each further
    /// one doubles it (with jitter between half and all of it), up to the cap.
    pub fn after_failure(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        if self.failures == 1 {
            return self.base.min(self.cap);
        }
        let doubled = self
            .base
            .saturating_mul(1u32 << (self.failures - 1).min(20))
            .min(self.cap);
        let half = doubled / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn disconnect_after_success_waits_exactly_the_base() {
        let mut b = Backoff::new(S, 30 * S);
        b.after_failure();
        b.after_failure();
        assert_eq!(b.after_disconnect(), S);
        assert_eq!(b.after_disconnect(), S);
    }

    #[test]
    fn first_failure_waits_the_base() {
        let mut b = Backoff::new(S, 30 * S);
        assert_eq!(b.after_failure(), S);
    }

    #[test]
    fn consecutive_failures_double_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(S, 30 * S);
        b.after_failure();
        let second = b.after_failure();
        assert!(second >= S && second <= 2 * S, "{second:?}");
        let third = b.after_failure();
        assert!(third >= 2 * S && third <= 4 * S, "{third:?}");
        for _ in 0..20 {
            assert!(b.after_failure() <= 30 * S);
        }
    }

    #[test]
    fn success_resets_the_doubling() {
        let mut b = Backoff::new(S, 30 * S);
        for _ in 0..5 {
            b.after_failure();
        }
        b.after_disconnect();
        assert_eq!(b.after_failure(), S);
    }

    #[test]
    fn server_retry_replaces_the_base() {
        let mut b = Backoff::new(S, 30 * S);
        b.set_base(Duration::from_millis(250));
        assert_eq!(b.after_disconnect(), Duration::from_millis(250));
    }
}
