//! Scripts kept in `.rhai` files are recompiled when the file changes, so
//! an edited script is used from its next run without a restart. A file
//! that no longer compiles (or cannot be read) is logged with
//! `file:line:column` and Rhai's message, and the code compiled before keeps
//! running until the file is fixed.
//!
//! The directories are watched (inotify through the `notify` crate), not
//! the files, so an editor that saves by writing a new file and renaming
//! it over the old one is seen too. Compiling happens on the watcher's own
//! thread, never on the async runtime.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use notify::event::{MetadataKind, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};

use super::Compiled;
use crate::config::ScriptOrigin;
use crate::config_file::script::{CompileError, ScriptLimits, compile, sandbox_engine};

/// How long a file must stay quiet after a change before it is read, so
/// an editor's truncate-then-write is compiled once, whole.
const SETTLE: Duration = Duration::from_millis(100);

/// One watched file: the scripts that name it and the text last compiled
/// (or refused), so an event that changed nothing compiles nothing.
struct File {
    scripts: Vec<Compiled>,
    last: Option<String>,
}

/// Watches the files of the `.rhai` scripts among `scripts`. `None` when
/// none is a file, or when watching cannot start (logged: the scripts then
/// keep the code they started with).
pub(super) fn watch<'a>(
    scripts: impl Iterator<Item = &'a Compiled>,
    limits: ScriptLimits,
) -> Option<notify::RecommendedWatcher> {
    let mut files: HashMap<PathBuf, File> = HashMap::new();
    for script in scripts {
        if let ScriptOrigin::File(path) = &script.text.origin {
            let file = files.entry(canonical(path)).or_insert_with(|| File {
                scripts: Vec::new(),
                last: Some(script.text.code.to_string()),
            });
            file.scripts.push(script.clone());
        }
    }
    if files.is_empty() {
        return None;
    }
    let mut directories: Vec<PathBuf> = files
        .keys()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    directories.sort();
    directories.dedup();
    // One pending wake-up is enough: the compiling thread looks at every file.
    let (changed, wake) = sync_channel::<()>(1);
    let names: HashSet<PathBuf> = files.keys().cloned().collect();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let written = matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
            && !matches!(
                event.kind,
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
            );
        if written && event.paths.iter().any(|p| names.contains(&canonical(p))) {
            let _ = changed.try_send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(
                "cannot watch the script files for changes: {e}; an edited script is used after a restart"
            );
            return None;
        }
    };
    for directory in &directories {
        if let Err(e) = watcher.watch(directory, RecursiveMode::NonRecursive) {
            tracing::warn!(
                directory = %directory.display(),
                "cannot watch the script files here for changes: {e}; an edited script is used after a restart"
            );
        }
    }
    let started = std::thread::Builder::new()
        .name("homebus-script-reload".into())
        .spawn(move || recompile_on_change(&wake, files, &limits));
    if let Err(e) = started {
        tracing::warn!(
            "cannot start the script reload thread: {e}; an edited script is used after a restart"
        );
        return None;
    }
    Some(watcher)
}

/// Until the watcher is dropped: after each change, waits for the files to
/// settle, then recompiles every file whose text changed.
fn recompile_on_change(
    wake: &Receiver<()>,
    mut files: HashMap<PathBuf, File>,
    limits: &ScriptLimits,
) {
    while wake.recv().is_ok() {
        loop {
            match wake.recv_timeout(SETTLE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for (path, file) in &mut files {
            recompile(path, file, limits);
        }
    }
}
/// The path with its directory resolved (the file itself may be replaced
/// while we look), so an event's path and a configured one compare equal.
fn canonical(path: &Path) -> PathBuf {
    let (Some(directory), Some(name)) = (path.parent(), path.file_name()) else {
        return path.to_path_buf();
    };
    std::fs::canonicalize(directory)
        .map(|d| d.join(name))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Reads `path` and, if its text changed, compiles it for the scripts
/// that name it: on success their next run uses the new code, on failure
/// the old code stays and the error is logged.
fn recompile(path: &Path, file: &mut File, limits: &ScriptLimits) {
    let code = match std::fs::read_to_string(path) {
        Ok(code) => code,
        Err(e) => {
            if file.last.take().is_some() {
                tracing::warn!(
                    "{}: cannot read the changed script: {e}; the previous version keeps running",
                    path.display()
                );
            }
            return;
        }
    };
    if file.last.as_deref() == Some(code.as_str()) {
        return;
    }
    let engine = sandbox_engine(limits);
    match compile(&engine, &code) {
        Ok(ast) => {
            let ast = Arc::new(ast);
            for script in &file.scripts {
                *script.ast.write().expect("script code lock") = ast.clone();
                tracing::info!(script = %script.id, "{}: recompiled after a change", path.display());
            }
        }
        Err(CompileError { message, position }) => {
            for script in &file.scripts {
                tracing::warn!(
                    script = %script.id,
                    "{}: Rhai syntax error in {}: {message}; the previous version keeps running until the file is fixed",
                    script.text.place(position),
                    script.text.label
                );
            }
        }
    }
    file.last = Some(code);
}
