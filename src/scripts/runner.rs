//! The script thread: takes jobs in order, runs each within the limits
//! (the wall time through `on_progress`), fires `after` timers, and turns a
//! failure into a log line, a counter and the unit's `script_error`.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, FnPtr, Scope};
use serde_json::{Map, Value, json};

use super::{Compiled, Job, ScriptMetrics};
use crate::config::ScriptLimits;
use crate::hub::Hub;
use crate::interpret::Command;

thread_local! {
    /// The depth of the run in progress on this thread; 0 outside a run.
    static DEPTH: Cell<u8> = const { Cell::new(0) };
}

/// The depth of the script running on this thread (0 when none is).
pub(super) fn current_depth() -> u8 {
    DEPTH.with(Cell::get)
}

/// The run in progress, which `after` ties its closure to.
#[derive(Clone)]
pub(super) struct Running {
    /// The script (its AST holds the closure's code).
    pub(super) script: Compiled,
    /// The unit whose script it is, for `script_error`.
    pub(super) unit: Option<String>,
    /// The code as it was when the run started: its closures (`after`)
    /// run on it even if the file has been recompiled since.
    pub(super) ast: Arc<rhai::AST>,
}

impl Running {
    /// A run of `script`'s current code, for `unit` if it is a unit's.
    fn new(script: Compiled, unit: Option<String>) -> Self {
        let ast = script.current();
        Running { script, unit, ast }
    }
}

/// Timers that may be pending at once: a script that sets one per event
/// and never cancels them cannot grow memory without bound.
pub(super) const MAX_TIMERS: usize = 10_000;

/// A pending `after`.
struct Timer {
    f: FnPtr,
    running: Running,
}

/// The pending `after`s, by when they are due.
#[derive(Default)]
pub(super) struct Timers {
    next_id: i64,
    due: BTreeMap<(Instant, i64), Timer>,
    by_id: HashMap<i64, Instant>,
}

/// What the script API reaches: the hub, the timers, the run in progress.
pub(super) struct Ctx {
    pub(super) hub: Arc<OnceLock<Weak<Hub>>>,
    pub(super) timers: Mutex<Timers>,
    pub(super) running: Mutex<Option<Running>>,
}

impl Ctx {
    /// The hub, while it runs.
    pub(super) fn hub(&self) -> Result<Arc<Hub>, Box<EvalAltResult>> {
        self.hub
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| "the hub is stopping".into())
    }

    /// Schedules `f` to run after `delay`; returns its handle.
    pub(super) fn after(&self, delay: Duration, f: FnPtr) -> Result<i64, Box<EvalAltResult>> {
        let running = self
            .running
            .lock()
            .expect("script lock")
            .clone()
            .ok_or("after() outside a script run")?;
        let mut timers = self.timers.lock().expect("timers lock");
        if timers.due.len() >= MAX_TIMERS {
            return Err(format!(
                "after(): {MAX_TIMERS} timers are pending already; cancel the timer a new \
                 one replaces (as the motion light in docs/scripts.md does)"
            )
            .into());
        }
        timers.next_id += 1;
        let id = timers.next_id;
        let at = Instant::now() + delay;
        timers.due.insert((at, id), Timer { f, running });
        timers.by_id.insert(id, at);
        Ok(id)
    }

    /// Drops the timer `id`, if it is still pending.
    pub(super) fn cancel(&self, id: i64) -> bool {
        let mut timers = self.timers.lock().expect("timers lock");
        match timers.by_id.remove(&id) {
            Some(at) => timers.due.remove(&(at, id)).is_some(),
            None => false,
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let timers = self.timers.lock().expect("timers lock");
        timers.due.keys().next().map(|(at, _)| *at)
    }

    fn take_due(&self, now: Instant) -> Option<Timer> {
        let mut timers = self.timers.lock().expect("timers lock");
        let key = *timers.due.keys().next().filter(|(at, _)| *at <= now)?;
        timers.by_id.remove(&key.1);
        timers.due.remove(&key)
    }
}

/// Starts the script thread; it ends when the hub (and so the sender) is gone.
pub(super) fn spawn(
    receiver: Receiver<Job>,
    limits: ScriptLimits,
    hub: Arc<OnceLock<Weak<Hub>>>,
    metrics: Arc<ScriptMetrics>,
) {
    let ctx = Arc::new(Ctx {
        hub,
        timers: Mutex::new(Timers::default()),
        running: Mutex::new(None),
    });
    let started = std::thread::Builder::new()
        .name("homebus-scripts".into())
        .stack_size(16 * 1024 * 1024)
        .spawn(move || Runner::new(limits, ctx, metrics).run(receiver));
    if let Err(e) = started {
        tracing::error!("cannot start the script thread: {e}; scripts will not run");
    }
}

/// How long the thread keeps polling its queue after a run before it
/// sleeps. Waking a sleeping thread costs 25–50 µs on an idle VM (futex,
/// then the hypervisor waking a halted virtual CPU), more than a trivial
/// script's whole run; commands come in bursts (a motion script commanding
/// lights, a source sending lines), so the next run of a burst finds the
/// thread awake. Bounded, and only after work: an idle hub stays at 0 % CPU.
const STAY_AWAKE: Duration = Duration::from_micros(100);

/// The next job: polled until `awake_until` (yielding the CPU between
/// polls, so a busy core still serves the hub), then waited for, no later
/// than the next timer `due`. `Timeout` when that timer is due.
fn next_job(
    receiver: &Receiver<Job>,
    due: Option<Instant>,
    awake_until: Option<Instant>,
) -> Result<Job, RecvTimeoutError> {
    if let Some(until) = awake_until {
        let until = due.map_or(until, |due| due.min(until));
        loop {
            match receiver.try_recv() {
                Ok(job) => return Ok(job),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) if Instant::now() >= until => break,
                Err(TryRecvError::Empty) => std::thread::yield_now(),
            }
        }
    }
    match due {
        Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
        None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
    }
}

struct Runner {
    engine: rhai::Engine,
    ctx: Arc<Ctx>,
    metrics: Arc<ScriptMetrics>,
    deadline: Arc<AtomicU64>,
    base: Instant,
    max_run_time: Duration,
}

impl Runner {
    fn new(limits: ScriptLimits, ctx: Arc<Ctx>, metrics: Arc<ScriptMetrics>) -> Self {
        let mut engine = crate::config_file::script::sandbox_engine(&limits);
        let base = Instant::now();
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let watched = deadline.clone();
        engine.on_progress(move |ops| {
            if ops % 512 != 0 {
                return None;
            }
            let now = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            (now > watched.load(Ordering::Relaxed)).then(|| Dynamic::from("max_run_time"))
        });
        super::api::register(&mut engine, &ctx);
        Runner {
            engine,
            ctx,
            metrics,
            deadline,
            base,
            max_run_time: limits.max_run_time,
        }
    }

    fn run(mut self, receiver: Receiver<Job>) {
        // Until when the thread keeps polling the queue instead of sleeping.
        let mut awake_until = None;
        loop {
            let due = self.ctx.next_due();
            let mut worked = false;
            match next_job(&receiver, due, awake_until) {
                Ok(job) => {
                    self.job(job);
                    worked = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Some(timer) = self.ctx.take_due(Instant::now()) {
                let Timer { f, running } = timer;
                let ast = running.ast.clone();
                self.guarded(running, 1, |engine| {
                    f.call::<Dynamic>(engine, &ast, ()).map(|_| ())
                });
                worked = true;
            }
            awake_until = worked.then(|| Instant::now() + STAY_AWAKE);
        }
    }

    fn job(&mut self, job: Job) {
        match job {
            Job::Unit {
                address,
                script,
                value,
                previous,
                event,
                source,
                depth,
            } => {
                let mut scope = Scope::new();
                scope.push("unit", super::api::UnitRef::new(&address));
                let number = |n: Option<f64>| n.map_or(Dynamic::UNIT, Dynamic::from_float);
                scope.push_dynamic("value", number(value));
                scope.push_dynamic("previous", number(previous));
                scope.push_dynamic("event", event.map_or(Dynamic::UNIT, Dynamic::from));
                scope.push_dynamic("source", source.map_or(Dynamic::UNIT, Dynamic::from));
                let running = Running::new(script, Some(address));
                self.run_script(running, depth, scope);
            }
            Job::Unparsed {
                script,
                source,
                event,
                data,
                depth,
            } => {
                let mut scope = Scope::new();
                scope.push("event", event);
                scope.push("data", data);
                scope.push("source", source);
                let running = Running::new(script, None);
                self.run_script(running, depth, scope);
            }
            Job::Error {
                script,
                source,
                error,
                attempt,
            } => {
                let mut scope = Scope::new();
                scope.push("error", error);
                scope.push("source", source);
                scope.push("attempt", i64::from(attempt));
                let running = Running::new(script, None);
                self.run_script(running, 1, scope);
            }
        }
    }

    fn run_script(&mut self, running: Running, depth: u8, mut scope: Scope<'static>) {
        let ast = running.ast.clone();
        self.guarded(running, depth, |engine| {
            engine.run_ast_with_scope(&mut scope, &ast)
        });
    }

    /// Runs `body` as the run of `running` at `depth`, within the wall time,
    /// and reports how it went.
    fn guarded(
        &mut self,
        running: Running,
        depth: u8,
        body: impl FnOnce(&rhai::Engine) -> Result<(), Box<EvalAltResult>>,
    ) {
        self.metrics.ran(&running.script.id);
        *self.ctx.running.lock().expect("script lock") = Some(running.clone());
        DEPTH.with(|d| d.set(depth));
        let start = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let allowed = u64::try_from(self.max_run_time.as_nanos()).unwrap_or(u64::MAX);
        self.deadline
            .store(start.saturating_add(allowed), Ordering::Relaxed);
        let result = body(&self.engine);
        self.deadline.store(u64::MAX, Ordering::Relaxed);
        DEPTH.with(|d| d.set(0));
        *self.ctx.running.lock().expect("script lock") = None;
        match result {
            Ok(()) => self.succeeded(&running),
            Err(error) => self.failed(&running, *error),
        }
    }

    /// Logs and counts a failed run, and shows it on the unit: `script`,
    /// `at` (`file:line:column`) and `reason` apart, so the dashboard need
    /// not take a sentence apart (docs/scripts.md, "When a script fails").
    fn failed(&self, running: &Running, mut error: EvalAltResult) {
        // The place goes in `at`; the reason need not repeat it.
        let position = error.take_position();
        let place = running.script.text.place(
            position
                .line()
                .map(|l| (l, position.position().unwrap_or(1))),
        );
        let what = match error {
            EvalAltResult::ErrorTerminated(..) => format!(
                "stopped after running longer than max_run_time ({:?}); make the script \
                 finish sooner or raise `max_run_time` in [scripts]",
                self.max_run_time
            ),
            other => other.to_string(),
        };
        tracing::warn!(
            script = %running.script.id,
            "{place}: {} failed: {what}",
            running.script.text.label
        );
        self.metrics.failed(&running.script.id);
        if let Some(address) = &running.unit {
            let error = json!({
                "script": &*running.script.id,
                "at": place,
                "reason": what,
            });
            self.set_script_error(address, error);
        }
    }

    fn succeeded(&self, running: &Running) {
        let Some(address) = &running.unit else {
            return;
        };
        let Some(hub) = self.ctx.hub.get().and_then(Weak::upgrade) else {
            return;
        };
        let had_error = hub.with_registry(|r| {
            r.by_address(address)
                .and_then(|u| u.attributes.get("script_error"))
                .is_some_and(|e| !e.is_null())
        });
        if had_error {
            self.set_script_error(address, Value::Null);
        }
    }

    fn set_script_error(&self, address: &str, value: Value) {
        let Some(hub) = self.ctx.hub.get().and_then(Weak::upgrade) else {
            return;
        };
        let mut attributes = Map::new();
        attributes.insert("script_error".into(), value);
        let command = Command::Attributes {
            attributes,
            readings: Vec::new(),
        };
        if let Err(e) = hub.command(address, &command) {
            tracing::warn!("cannot show the script error on unit {address}: {e}");
        }
    }
}
