//! The pace and the error reporting of a polling source (`fetch`, `file`):
//! a poll every `interval`, and each poll's outcome shown in the status,
//! logged once per change of error, and told to the [`OnError`] hook as the
//! connected types' refusals are. A failed poll does not back off: the
//! next comes at the same pace, as the dashboards these sources come from
//! poll.
//!
//! [`OnError`]: super::OnError

use std::future::Future;
use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};

use super::{SourceContext, SourceError};

/// A polling source's clock and error state.
pub(crate) struct Polling<'a> {
    /// The running source.
    ctx: &'a SourceContext,
    /// The URL or path, as logs show it.
    shown: String,
    /// The time between two polls, also the next try a failure shows.
    interval: Duration,
    /// Ticks every `interval`; a late poll delays the next instead of
    /// bunching up.
    ticks: Interval,
    /// The error logged last.
    errors: ErrorLog,
    /// Polls in a row that failed, for [`SourceError::attempt`].
    failed_in_a_row: u32,
}

impl<'a> Polling<'a> {
    /// Polls of `ctx`'s source at `shown` (its URL or path), the first at once.
    pub(crate) fn new(ctx: &'a SourceContext, shown: String, interval: Duration) -> Self {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Polling {
            ctx,
            shown,
            interval,
            ticks,
            errors: ErrorLog::default(),
            failed_in_a_row: 0,
        }
    }

    /// Waits until the next poll is due, or `wake` (a file that changed)
    /// finishes first. `false` when the hub shut down meanwhile.
    pub(crate) async fn next(&mut self, wake: impl Future<Output = ()>) -> bool {
        tokio::select! {
            _ = self.ctx.shutdown.cancelled() => false,
            _ = self.ticks.tick() => true,
            _ = wake => true,
        }
    }

    /// A poll worked: the status shows the source connected, and a
    /// recovery is logged once.
    pub(crate) fn succeeded(&mut self) {
        self.ctx.status.connected();
        self.errors.succeeded(&self.ctx.name, &self.shown);
        self.failed_in_a_row = 0;
    }

    /// A poll failed: the status shows `error` and the next poll, the log
    /// shows it if it is new, and the [`OnError`](super::OnError) hook is told.
    pub(crate) fn failed(&mut self, error: String) {
        self.errors.failed(&self.ctx.name, &self.shown, &error);
        self.ctx
            .status
            .reconnecting(Some(error.clone()), self.interval);
        self.failed_in_a_row = self.failed_in_a_row.saturating_add(1);
        self.ctx.on_error.source_error(SourceError {
            source: &self.ctx.name,
            error: &error,
            attempt: self.failed_in_a_row,
        });
    }
}

/// Remembers the last error of a polling source so that it is logged once
/// per change, not once per poll.
#[derive(Debug, Default)]
struct ErrorLog {
    /// The error logged last; `None` while things work.
    last: Option<String>,
}

impl ErrorLog {
    /// A poll failed: logs `error` unless it is the one logged last.
    /// Returns whether it was logged.
    fn failed(&mut self, source: &str, url: &str, error: &str) -> bool {
        if self.last.as_deref() == Some(error) {
            return false;
        }
        tracing::warn!(source, url, "{error}; will keep trying");
        self.last = Some(error.to_string());
        true
    }

    /// A poll worked: logs the recovery once. Returns whether it was logged.
    fn succeeded(&mut self, source: &str, url: &str) -> bool {
        let recovered = self.last.take().is_some();
        if recovered {
            tracing::info!(source, url, "working again");
        }
        recovered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::connect::tests::{recording_context, told_of};

    #[tokio::test]
    async fn each_failed_poll_is_told_to_the_hook_until_one_works() {
        let (ctx, recorder) = recording_context();
        let mut polling = Polling::new(&ctx, "u".into(), Duration::from_secs(5));
        polling.failed("the server answered 500".into());
        polling.failed("the server answered 500".into());
        polling.succeeded();
        polling.failed("cannot fetch: connection refused".into());
        assert_eq!(
            recorder.take(),
            vec![
                told_of("the server answered 500", 1),
                told_of("the server answered 500", 2),
                told_of("cannot fetch: connection refused", 1),
            ]
        );
    }

    #[test]
    fn a_repeated_error_is_logged_once() {
        let mut log = ErrorLog::default();
        assert!(log.failed("s", "u", "the server answered 500"));
        assert!(!log.failed("s", "u", "the server answered 500"));
        assert!(!log.failed("s", "u", "the server answered 500"));
    }

    #[test]
    fn a_different_error_is_logged_again() {
        let mut log = ErrorLog::default();
        log.failed("s", "u", "the server answered 500");
        assert!(log.failed("s", "u", "connection refused"));
    }

    #[test]
    fn the_same_error_after_a_recovery_is_logged_again() {
        let mut log = ErrorLog::default();
        log.failed("s", "u", "the server answered 500");
        assert!(log.succeeded("s", "u"));
        assert!(!log.succeeded("s", "u"));
        assert!(log.failed("s", "u", "the server answered 500"));
    }
}
