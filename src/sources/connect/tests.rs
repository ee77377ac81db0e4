//! The reconnect loop against a scripted transport: which ends the
//! [`OnError`] hook hears of, with which sentence and attempt number.
//! The loop against real servers is in `tests/sse_source.rs`,
//! `tests/sources_websocket.rs` and `tests/sources_mqtt.rs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Attempt, Ended, OnError, SourceError, Transport, run};
use crate::sources::{ReconnectConfig, SourceContext, SourceStatus};

/// What the hook was told, with the `last_error` the status showed then.
#[derive(Debug, PartialEq)]
pub(crate) struct Told {
    source: String,
    error: String,
    attempt: u32,
    last_error: Option<String>,
}

/// An [`OnError`] that writes down every call.
pub(crate) struct Recorder {
    status: Arc<SourceStatus>,
    told: Mutex<Vec<Told>>,
}

impl OnError for Recorder {
    fn source_error(&self, error: SourceError<'_>) {
        self.told.lock().unwrap().push(Told {
            source: error.source.to_string(),
            error: error.error.to_string(),
            attempt: error.attempt,
            last_error: self.status.view().last_error,
        });
    }
}

/// Ends each connection as scripted; a `Disconnected` one first connects.
/// When the script runs out, the hub shuts down.
struct Scripted(VecDeque<Ended>);

impl Transport for Scripted {
    async fn connect_once(&mut self, attempt: &mut Attempt<'_>) -> Ended {
        let ended = self.0.pop_front().unwrap_or(Ended::Shutdown);
        if matches!(ended, Ended::Disconnected { .. }) {
            attempt.connected();
        }
        ended
    }
}

impl Recorder {
    /// Everything told so far, forgotten here.
    pub(crate) fn take(&self) -> Vec<Told> {
        std::mem::take(&mut *self.told.lock().unwrap())
    }
}

/// A source's context whose [`OnError`] hook records what it is told.
pub(crate) fn recording_context() -> (SourceContext, Arc<Recorder>) {
    let (mut ctx, _events) = crate::sources::tests::context("");
    let recorder = Arc::new(Recorder {
        status: ctx.status.clone(),
        told: Mutex::default(),
    });
    ctx.on_error = recorder.clone();
    (ctx, recorder)
}

/// What the hook is told when `error` is attempt number `attempt`.
pub(crate) fn told_of(error: &str, attempt: u32) -> Told {
    Told {
        source: "s".into(),
        error: error.into(),
        attempt,
        last_error: Some(error.into()),
    }
}

/// Runs the loop through `script` (retrying after a millisecond) and
/// returns what the hook was told.
async fn told(script: Vec<Ended>) -> Vec<Told> {
    let (ctx, recorder) = recording_context();
    let reconnect = ReconnectConfig {
        reconnect: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        run(&ctx, reconnect, Scripted(script.into())),
    )
    .await
    .expect("the loop ends when the script does");
    recorder.take()
}

const REFUSED: &str = "cannot connect: connection refused; check that the server is up";

#[tokio::test]
async fn each_refusal_is_told_with_the_status_sentence_and_a_rising_attempt() {
    let told = told(vec![
        Ended::Failed(REFUSED.into()),
        Ended::Failed(REFUSED.into()),
        Ended::Failed("the server answered 503".into()),
    ])
    .await;
    assert_eq!(
        told,
        vec![
            told_of(REFUSED, 1),
            told_of(REFUSED, 2),
            told_of("the server answered 503", 3),
        ]
    );
}

#[tokio::test]
async fn a_lost_connection_that_worked_is_told_as_the_first_attempt() {
    let told = told(vec![
        Ended::Failed(REFUSED.into()),
        Ended::lost("connection lost: reset by peer".into()),
        Ended::Failed(REFUSED.into()),
    ])
    .await;
    assert_eq!(
        told,
        vec![
            told_of(REFUSED, 1),
            told_of("connection lost: reset by peer", 1),
            told_of(REFUSED, 2),
        ]
    );
}

#[tokio::test]
async fn a_connection_lost_before_it_worked_counts_as_another_failed_try() {
    let told = told(vec![
        Ended::Failed(REFUSED.into()),
        Ended::Disconnected {
            error: Some("connection lost: reset by peer".into()),
            worked: false,
        },
    ])
    .await;
    assert_eq!(
        told,
        vec![
            told_of(REFUSED, 1),
            told_of("connection lost: reset by peer", 2),
        ]
    );
}

#[tokio::test]
async fn a_clean_close_is_not_an_error_and_resets_the_count() {
    let told = told(vec![
        Ended::Failed(REFUSED.into()),
        Ended::closed(),
        Ended::Failed(REFUSED.into()),
    ])
    .await;
    assert_eq!(told, vec![told_of(REFUSED, 1), told_of(REFUSED, 1)]);
}
