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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::event::{MetadataKind, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};

use super::Compiled;
use crate::config::ScriptOrigin;
use crate::config_file::script::{CompileError, ScriptLimits, compile, sandbox_engine};

/// The scripts of one file (several settings may name the same file).
type ByFile = HashMap<PathBuf, Vec<Compiled>>;

/// Watches the files of the `.rhai` scripts among `scripts`. `None` when
/// none is a file, or when watching cannot start (logged: the scripts then
/// keep the code they started with).
pub(super) fn watch<'a>(
    scripts: impl Iterator<Item = &'a Compiled>,
    limits: ScriptLimits,
) -> Option<notify::RecommendedWatcher> {
    let mut by_file = ByFile::new();
    for script in scripts {
        if let ScriptOrigin::File(path) = &script.text.origin {
            by_file
                .entry(canonical(path))
                .or_default()
                .push(script.clone());
        }
    }
    if by_file.is_empty() {
        return None;
    }
    let directories: Vec<PathBuf> = {
        let mut d: Vec<PathBuf> = by_file
            .keys()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        d.sort();
        d.dedup();
        d
    };
    let by_file = Arc::new(by_file);
    let handler = by_file.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        let written = matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
            && !matches!(
                event.kind,
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
            );
        if !written {
            return;
        }
        for path in &event.paths {
            if let Some(scripts) = handler.get(&canonical(path)) {
                recompile(path, scripts, &limits);
            }
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
    Some(watcher)
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

/// Reads `path` and compiles it for each script that names it; on success
/// the next run uses the new code, on failure the old code stays.
fn recompile(path: &Path, scripts: &[Compiled], limits: &ScriptLimits) {
    let code = match std::fs::read_to_string(path) {
        Ok(code) => code,
        Err(e) => {
            tracing::warn!(
                "{}: cannot read the changed script: {e}; the previous version keeps running",
                path.display()
            );
            return;
        }
    };
    let engine = sandbox_engine(limits);
    match compile(&engine, &code) {
        Ok(ast) => {
            let ast = Arc::new(ast);
            for script in scripts {
                *script.ast.write().expect("script code lock") = ast.clone();
                tracing::info!(script = %script.id, "{}: recompiled after a change", path.display());
            }
        }
        Err(CompileError { message, position }) => {
            for script in scripts {
                tracing::warn!(
                    script = %script.id,
                    "{}: Rhai syntax error in {}: {message}; the previous version keeps running until the file is fixed",
                    script.text.place(position),
                    script.text.label
                );
            }
        }
    }
}
