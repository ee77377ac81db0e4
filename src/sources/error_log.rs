//! Logging a polling source's errors once per change, not once per poll.

/// Remembers the last error of a polling source so that it is logged once
/// per change, not once per poll.
#[derive(Debug, Default)]
pub(crate) struct ErrorLog {
    /// The error logged last; `None` while things work.
    last: Option<String>,
}

impl ErrorLog {
    /// A poll failed: logs `error` unless it is the one logged last.
    /// Returns whether it was logged.
    pub(crate) fn failed(&mut self, source: &str, url: &str, error: &str) -> bool {
        if self.last.as_deref() == Some(error) {
            return false;
        }
        tracing::warn!(source, url, "{error}; will keep trying");
        self.last = Some(error.to_string());
        true
    }

    /// A poll worked: logs the recovery once. Returns whether it was logged.
    pub(crate) fn succeeded(&mut self, source: &str, url: &str) -> bool {
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
