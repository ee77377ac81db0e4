//! The file source: reads a local file every `interval` and at once when it
//! changes (inotify through the `notify` crate), and hands its content to
//! the source's format (`file-kv` by default).
//!
//! Writers usually truncate the file and write it again, so a read may see
//! it empty or half-written. A read is applied only when no change was
//! signalled during it or in the 10 ms after it, and a second read agrees
//! (same content, same modification time); `file-kv` also refuses a
//! half-written pair whole. So a value is never half-applied. Content equal
//! to what was last applied is not sent again: a file that sits unchanged
//! does not flood the event log. A missing or unreadable file is a status
//! error, tried again every interval and on every change in its directory.

use std::path::Path;
use std::time::Duration;

use notify::event::{MetadataKind, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

mod config;

pub(crate) use config::TYPE;
pub use config::{DEFAULT_FILE_INTERVAL, FileConfig};

use super::SourceContext;
use super::poll::Polling;

/// How long a read must stay unchallenged (no change signalled, a second
/// read the same) before its content is applied.
const SETTLE: Duration = Duration::from_millis(10);

/// Reads tried before a file that keeps changing is left for the next round.
const MAX_READS: usize = 10;

/// Runs the source until the hub shuts down.
pub(super) async fn run(ctx: SourceContext, config: FileConfig) {
    let FileConfig { path, interval } = config;
    let (changed_tx, mut changed) = mpsc::channel::<()>(1);
    let mut watcher = None;
    let mut last_applied: Option<String> = None;
    let mut polling = Polling::new(&ctx, path.display().to_string(), interval);
    loop {
        let changed_now = async {
            // `changed_tx` lives as long as this loop, so `None` cannot
            // come; were it to, the ticks alone would go on.
            if changed.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        };
        if !polling.next(changed_now).await {
            return;
        }
        if watcher.is_none() {
            watcher = watch(&ctx, &path, changed_tx.clone());
        }
        let read = read_stable(&path, ctx.config.max_event_size, &mut changed);
        let Some(read) = ctx.unless_shutdown(read).await else {
            return;
        };
        match read {
            Ok(Some(content)) => {
                polling.succeeded();
                if last_applied.as_deref() == Some(content.as_str()) {
                    continue;
                }
                if !ctx
                    .deliver(crate::format::UNNAMED, Some(&content), None)
                    .await
                {
                    return;
                }
                last_applied = Some(content);
            }
            Ok(None) => {
                tracing::debug!(source = %ctx.name, path = %path.display(), "the file kept changing; read again on the next change");
            }
            Err(error) => {
                polling.failed(error);
                // A file that comes back with the same content is applied again.
                last_applied = None;
            }
        }
    }
}

/// Watches the file's directory (so that a deleted and recreated file is
/// still seen) and signals `changed` for events on the file. `None` when
/// the directory cannot be watched; the interval still reads the file, and
/// watching is tried again on the next round.
fn watch(
    ctx: &SourceContext,
    path: &Path,
    changed: mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let name = path.file_name()?.to_owned();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Our own reads show up as access events; only writes count.
        let written = matches!(
            event.kind,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
        ) && !matches!(
            event.kind,
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
        );
        if written && event.paths.iter().any(|p| p.file_name() == Some(&name)) {
            // A full channel already holds a wake-up: changes coalesce.
            let _ = changed.try_send(());
        }
    })
    .map_err(|e| tracing::debug!(source = %ctx.name, "cannot watch for changes: {e}"))
    .ok()?;
    match watcher.watch(directory, RecursiveMode::NonRecursive) {
        Ok(()) => Some(watcher),
        Err(e) => {
            tracing::debug!(source = %ctx.name, directory = %directory.display(), "cannot watch for changes: {e}; reading every interval");
            None
        }
    }
}

/// Reads the file until a read is confirmed: no change was signalled
/// during it or in the [`SETTLE`] time after it, and a second read finds the
/// same content and the same size and modification time (the second check
/// covers a directory that cannot be watched). `Ok(None)` when the file
/// kept changing; the next change signal or interval tries again.
async fn read_stable(
    path: &Path,
    limit: usize,
    changed: &mut mpsc::Receiver<()>,
) -> Result<Option<String>, String> {
    for _ in 0..MAX_READS {
        while changed.try_recv().is_ok() {}
        let first = read_once(path, limit).await?;
        tokio::time::sleep(SETTLE).await;
        if changed.try_recv().is_ok() {
            continue;
        }
        if read_once(path, limit).await? == first {
            return Ok(Some(first.content));
        }
    }
    Ok(None)
}

/// One read: the content, plus what tells two writes of it apart.
#[derive(PartialEq)]
struct Snapshot {
    /// The whole file.
    content: String,
    /// Its modification time, as the file system keeps it.
    modified: Option<std::time::SystemTime>,
}

/// One read of the whole file, refusing one larger than `limit`.
async fn read_once(path: &Path, limit: usize) -> Result<Snapshot, String> {
    let shown = path.display();
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("`{shown}` does not exist (yet); it is read again when it appears")
            }
            _ => format!("cannot open `{shown}`: {e}"),
        })?;
    let mut content = Vec::new();
    let mut reader = file.take(limit as u64 + 1);
    reader
        .read_to_end(&mut content)
        .await
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if content.len() > limit {
        return Err(format!(
            "`{shown}` is larger than `max_event_size` = {limit} bytes; it is not read"
        ));
    }
    let modified = reader
        .into_inner()
        .metadata()
        .await
        .ok()
        .and_then(|m| m.modified().ok());
    let content = String::from_utf8(content).map_err(|_| format!("`{shown}` is not UTF-8 text"))?;
    Ok(Snapshot { content, modified })
}
