//! Waiting for a condition with one deadline, instead of sleeping: every
//! test that waits goes through these.

use std::future::Future;
use std::time::Duration;

/// How long any test waits for anything before it fails: generous, since
/// CI machines are slow and shared.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(10);

/// Polls `condition` until it returns `Some`; panics with `what` after
/// [`DEADLINE`].
pub async fn until<T>(what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    within(what, async {
        loop {
            if let Some(value) = condition() {
                return value;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}

/// Like [`until`], for a condition that must await (an HTTP request).
pub async fn until_async<T, F>(what: &str, mut condition: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = condition().await {
                return value;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}

/// Awaits `future`; panics with `what` if it has not finished after
/// [`DEADLINE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_limit(what, DEADLINE, future).await
}

/// Awaits `future`; panics with `what` if it has not finished after
/// `limit`, for the few waits whose length is itself what is tested (a
/// shutdown within 10 s) or that are far longer than usual (a load test).
pub async fn within_limit<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting for {what}"))
}
