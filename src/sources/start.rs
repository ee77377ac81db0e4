//! Starting the configured sources: one task each, and one task that hands
//! their events to the hub.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{OnError, SourceConfig, SourceContext, SourceStatus, spawn};
use crate::event::Event;

/// Events that may wait between the sources and the hub; past it a source
/// waits, so a busy hub slows the sources down instead of queueing without
/// bound.
const QUEUE: usize = 1024;

/// What running sources deliver into: the hub. A trait so that sources do
/// not depend on the hub (the hub depends on sources for their status).
/// It is also each source's [`OnError`] hook.
pub trait Intake: OnError + Send + Sync + 'static {
    /// Applies one event from a source.
    fn take(&self, event: Event);
    /// The status the API shows for the source of this name, if the hub
    /// knows it.
    fn source_status(&self, name: &str) -> Option<Arc<SourceStatus>>;
}

/// Starts every source of `sources` and the task that hands their events
/// to `intake`. `resume_ids` holds each source's last upstream event ID
/// from before a restart (source name → ID, from the store), which an SSE
/// source sends as `Last-Event-ID` on its first connection. Everything stops
/// when `shutdown` is cancelled; the returned tasks end then.
pub fn start(
    intake: Arc<dyn Intake>,
    sources: &[SourceConfig],
    shutdown: &CancellationToken,
    resume_ids: &HashMap<String, String>,
) -> Vec<JoinHandle<()>> {
    let (sender, mut receiver) = mpsc::channel::<Event>(QUEUE);
    let mut tasks = Vec::with_capacity(sources.len() + 1);
    for source in sources {
        let status = intake.source_status(&source.name).unwrap_or_else(|| {
            // Only a hub built from another config lacks it; the source
            // still runs, its status just is not shown.
            Arc::new(SourceStatus::for_config(source))
        });
        tasks.push(spawn(SourceContext {
            config: Arc::new(source.clone()),
            name: Arc::from(source.name.as_str()),
            events: sender.clone(),
            status,
            shutdown: shutdown.clone(),
            resume_id: resume_ids.get(&source.name).cloned(),
            on_error: intake.clone(),
        }));
    }
    drop(sender);
    tasks.push(tokio::spawn(async move {
        while let Some(event) = receiver.recv().await {
            intake.take(event);
        }
    }));
    tasks
}
