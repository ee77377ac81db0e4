//! Waiting for a condition with a deadline, instead of sleeping.

use std::time::Duration;

/// Polls `condition` every 10 ms until it returns `Some`, or panics after
/// `deadline` with `what` in the message.
pub async fn until<T>(
    what: &str,
    deadline: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let result = tokio::time::timeout(deadline, async {
        loop {
            if let Some(value) = condition() {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    match result {
        Ok(value) => value,
        Err(_) => panic!("timed out after {deadline:?} waiting for {what}"),
    }
}

/// The usual deadline: generous, since CI machines are slow and shared.
pub const DEADLINE: Duration = Duration::from_secs(20);
