//! The scripts (XTension's unit scripts, embedded as Rhai): each unit's
//! On / Off / value script and each source's `on_unparsed` and `on_error`,
//! run on one dedicated thread off the async runtime, in the order the hub
//! saw the commands, each run bounded by `[scripts]`.
//!
//! [`Scripts`] is the hub's [`ScriptHook`]: it only queues a job (bounded);
//! the thread in `runner.rs` runs it with the API of `api.rs`. A failing run
//! is logged with its place, counted on `/metrics` and shown on the unit as
//! `attributes.script_error`; it never stops the hub.

mod api;
mod reload;
mod runner;

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

use crate::config::{Config, ScriptText};
use crate::config_file::script::{CompileError, compile, sandbox_engine};
use crate::event::Event;
use crate::hub::{CommandSeen, Hub, ScriptHook};
use crate::interpret::Command;
use crate::prometheus::{Encoder, Kind};
use crate::sources::SourceError;
use crate::units::EntityState;

/// How deep scripts may command units whose scripts command units in turn.
pub const MAX_DEPTH: u8 = 8;

/// Jobs that may wait for the script thread; past it a job is dropped
/// (logged and counted), so a flood never grows memory or blocks the hub.
const QUEUE: usize = 1024;

/// One compiled script and how messages and metrics name it.
#[derive(Clone)]
pub(crate) struct Compiled {
    /// The code, its place and label.
    pub(crate) text: ScriptText,
    /// `unit/MOTION/on_script`: the `script` label on `/metrics`.
    pub(crate) id: Arc<str>,
    /// The compiled code; a file's is replaced when the file changes and
    /// the new text compiles (see `reload.rs`).
    pub(crate) ast: Arc<RwLock<Arc<rhai::AST>>>,
}

impl Compiled {
    /// The code the next run uses.
    pub(crate) fn current(&self) -> Arc<rhai::AST> {
        self.ast.read().expect("script code lock").clone()
    }
}

/// Which of a unit's scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitScript {
    On,
    Off,
    Value,
}

/// Work for the script thread.
pub(crate) enum Job {
    /// A unit's script, for a command it received.
    Unit {
        address: String,
        script: Compiled,
        value: Option<f64>,
        previous: Option<f64>,
        event: Option<String>,
        source: Option<String>,
        depth: u8,
    },
    /// A source's `on_unparsed`.
    Unparsed {
        script: Compiled,
        source: String,
        event: String,
        data: String,
        depth: u8,
    },
    /// A source's `on_error`.
    Error {
        script: Compiled,
        source: String,
        error: String,
        attempt: u32,
    },
}

/// The counters `/metrics` shows.
#[derive(Default)]
pub(crate) struct ScriptMetrics {
    /// Runs by script id, so a script that never runs (or runs too often)
    /// can be told from one that runs and works.
    runs: Mutex<BTreeMap<String, u64>>,
    /// Failed runs by script id.
    errors: Mutex<BTreeMap<String, u64>>,
    /// Commands whose scripts were not run for being deeper than [`MAX_DEPTH`].
    refused: std::sync::atomic::AtomicU64,
}

impl ScriptMetrics {
    /// One more run of `script` (it may fail).
    pub(crate) fn ran(&self, script: &str) {
        count(&self.runs, script);
    }

    /// One more failure of `script`.
    pub(crate) fn failed(&self, script: &str) {
        count(&self.errors, script);
    }
}

fn count(counts: &Mutex<BTreeMap<String, u64>>, script: &str) {
    let mut counts = counts.lock().expect("script metrics lock");
    match counts.get_mut(script) {
        Some(n) => *n += 1,
        None => {
            counts.insert(script.to_string(), 1);
        }
    }
}

/// The hub's scripts: what each unit and source runs, and the queue to the
/// thread that runs them.
pub struct Scripts {
    units: HashMap<String, [Option<Compiled>; 3]>,
    sources: HashMap<String, [Option<Compiled>; 2]>,
    sender: SyncSender<Job>,
    metrics: Arc<ScriptMetrics>,
    hub: Arc<OnceLock<Weak<Hub>>>,
    /// Recompiles `.rhai` files when they change; watching stops with it.
    _watcher: Option<notify::RecommendedWatcher>,
}

/// A script that did not compile at start (the config check compiles with
/// the same engine, so this means the file changed since).
#[derive(Debug, thiserror::Error)]
#[error("{place}: Rhai syntax error in {label}: {message}; fix the script and start again")]
pub struct ScriptsError {
    /// `file:line:column`.
    pub place: String,
    /// Which script.
    pub label: String,
    /// Rhai's message.
    pub message: String,
}

impl Scripts {
    /// Compiles every script of `config` and starts the script thread.
    /// Returns `None` when the config has no script (nothing to run).
    pub fn start(config: &Config) -> Result<Option<Arc<Scripts>>, ScriptsError> {
        let engine = sandbox_engine(&config.scripts);
        let build = |text: &Option<ScriptText>, id: String| -> Result<_, ScriptsError> {
            text.as_ref()
                .map(|text| {
                    compile(&engine, &text.code)
                        .map(|ast| Compiled {
                            text: text.clone(),
                            id: Arc::from(id),
                            ast: Arc::new(RwLock::new(Arc::new(ast))),
                        })
                        .map_err(|CompileError { message, position }| ScriptsError {
                            place: text.place(position),
                            label: text.label.to_string(),
                            message,
                        })
                })
                .transpose()
        };
        let mut units = HashMap::new();
        for unit in &config.units {
            let s = &unit.scripts;
            let a = &unit.address;
            let compiled = [
                build(&s.on, format!("unit/{a}/on_script"))?,
                build(&s.off, format!("unit/{a}/off_script"))?,
                build(&s.value, format!("unit/{a}/value_script"))?,
            ];
            if compiled.iter().any(Option::is_some) {
                units.insert(a.to_ascii_lowercase(), compiled);
            }
        }
        let mut sources = HashMap::new();
        for source in &config.sources {
            let s = &source.scripts;
            let n = &source.name;
            let compiled = [
                build(&s.on_unparsed, format!("source/{n}/on_unparsed"))?,
                build(&s.on_error, format!("source/{n}/on_error"))?,
            ];
            if compiled.iter().any(Option::is_some) {
                sources.insert(n.clone(), compiled);
            }
        }
        if units.is_empty() && sources.is_empty() {
            return Ok(None);
        }
        let watcher = reload::watch(
            units
                .values()
                .flatten()
                .chain(sources.values().flatten())
                .flatten(),
            config.scripts,
        );
        let (sender, receiver) = sync_channel(QUEUE);
        let metrics = Arc::new(ScriptMetrics::default());
        let hub = Arc::new(OnceLock::new());
        runner::spawn(receiver, config.scripts, hub.clone(), metrics.clone());
        Ok(Some(Arc::new(Scripts {
            units,
            sources,
            sender,
            metrics,
            hub,
            _watcher: watcher,
        })))
    }

    /// Gives the scripts the hub they command; jobs before it are skipped.
    pub fn attach(&self, hub: &Arc<Hub>) {
        let _ = self.hub.set(Arc::downgrade(hub));
    }

    /// The scripts' counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut encoder = Encoder::new();
        for (name, help, counts) in [
            (
                "homebus_script_runs_total",
                "Script runs, good or failed, by script.",
                &self.metrics.runs,
            ),
            (
                "homebus_script_errors_total",
                "Script runs that failed or broke a limit, by script.",
                &self.metrics.errors,
            ),
        ] {
            let counts = counts.lock().expect("script metrics lock");
            let mut family = encoder.family(name, Kind::Counter, help);
            for (script, count) in counts.iter() {
                family.sample(&[("script", script)], *count);
            }
        }
        encoder
            .family(
                "homebus_script_depth_refusals_total",
                Kind::Counter,
                "Commands whose unit scripts were not run: deeper than 8 scripts commanding each other.",
            )
            .sample(
                &[],
                self.metrics
                    .refused
                    .load(std::sync::atomic::Ordering::Relaxed),
            );
        encoder.finish()
    }

    fn queue(&self, job: Job) {
        let id = match &job {
            Job::Unit { script, .. } | Job::Unparsed { script, .. } | Job::Error { script, .. } => {
                script.id.clone()
            }
        };
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(script = %id, "the script queue is full ({QUEUE} runs waiting); this run is dropped");
                self.metrics.failed(&id);
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::warn!(script = %id, "the script thread has stopped; this run is dropped");
            }
        }
    }

    /// The depth a run started now gets, or `None` (logged, counted) when
    /// it would pass [`MAX_DEPTH`].
    fn next_depth(&self, what: &str) -> Option<u8> {
        let depth = runner::current_depth() + 1;
        if depth > MAX_DEPTH {
            tracing::warn!(
                "refused to run {what}: scripts commanding units whose scripts command units \
                 in turn reached depth {MAX_DEPTH}; break the loop between these scripts"
            );
            self.metrics
                .refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        Some(depth)
    }
}

/// A reading's number, for `value` and `previous`.
fn number_of(state: Option<&EntityState>) -> Option<f64> {
    state?.attributes.get("value")?.as_f64()
}

impl ScriptHook for Scripts {
    fn on_text(&self, event: &Event, _unit: Option<&EntityState>, text: &str) {
        tracing::info!(source = %event.source, event = %event.name, "text: {text}");
        let Some(script) = self.sources.get(&*event.source).and_then(|s| s[0].clone()) else {
            return;
        };
        let Some(depth) = self.next_depth(&script.id) else {
            return;
        };
        self.queue(Job::Unparsed {
            script,
            source: event.source.to_string(),
            event: event.name.clone(),
            data: text.to_string(),
            depth,
        });
    }

    fn on_command(&self, seen: CommandSeen<'_>) {
        let Some(scripts) = self.units.get(&seen.address.to_ascii_lowercase()) else {
            return;
        };
        let (which, value) = match seen.command {
            Command::On => (UnitScript::On, None),
            Command::Off => (UnitScript::Off, None),
            Command::SetValue(n) => (UnitScript::Value, Some(n.value)),
            _ => return,
        };
        let Some(script) = scripts[which as usize].clone() else {
            return;
        };
        let Some(depth) = self.next_depth(&script.id) else {
            return;
        };
        let previous = match seen.old {
            Some(old) => number_of(Some(old)),
            None => value,
        };
        self.queue(Job::Unit {
            address: seen.address.to_string(),
            script,
            value: value.or_else(|| number_of(seen.new)),
            previous,
            event: seen.event.map(|e| e.name.clone()),
            source: seen.event.map(|e| e.source.to_string()),
            depth,
        });
    }

    fn on_source_error(&self, error: SourceError<'_>) {
        let Some(script) = self.sources.get(error.source).and_then(|s| s[1].clone()) else {
            return;
        };
        self.queue(Job::Error {
            script,
            source: error.source.to_string(),
            error: error.error.to_string(),
            attempt: error.attempt,
        });
    }
}
