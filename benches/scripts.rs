//! Script benchmark: what a trivial On script costs per command, end to
//! end: the command on the hub, the dispatch to the script thread, the
//! script's run, the command it issues and the change a subscriber sees.
//!
//! `cargo bench --bench scripts` (see docs/PERFORMANCE.md, "Scripts").

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use futures_util::{FutureExt, StreamExt};
use homebus::bus::{Bus, BusMessage, InProcessBus, Subscription};
use homebus::hub::Hub;
use homebus::interpret::Command;
use homebus::scripts::Scripts;

/// MOTION's On script toggles HALL: every On to MOTION ends in exactly one
/// change of HALL, which is what each iteration waits for.
const CONFIG: &str = "\
[[unit]]
address = \"MOTION\"
kind = \"switch\"
on_script = 'unit(\"HALL\").toggle()'

[[unit]]
address = \"HALL\"
kind = \"switch\"

[[unit]]
address = \"PLAIN\"
kind = \"switch\"
";

/// The hub of `homebus run` for [`CONFIG`] on an in-memory bus, composed
/// as `app::start` composes it, and a subscription to its changes.
struct Fixture {
    hub: Arc<Hub>,
    _scripts: Arc<Scripts>,
    changes: Subscription,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/homebus.toml");
    let config = homebus::config::parse_str(CONFIG, &path).expect("the bench config is valid");
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(
        config.server.replay_buffer,
        config.server.lag_limit,
    ));
    let scripts = Scripts::start(&config)
        .expect("the bench script compiles")
        .expect("the bench config has a script");
    let hub = Arc::new(
        Hub::new(&config, bus.clone())
            .expect("the bench units fit")
            .with_script_hook(scripts.clone()),
    );
    scripts.attach(&hub);
    let changes = bus.subscribe(None).expect("a live subscription");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    Fixture {
        hub,
        _scripts: scripts,
        changes,
        runtime,
    }
}

/// How the bench thread waits for the change it timed.
#[derive(Clone, Copy)]
enum Wait {
    /// Polls its subscription without sleeping (yielding the CPU between
    /// polls): only the script thread's
    /// wake-ups are timed, not the bench thread's own (a subscriber of the
    /// hub wakes for a change with or without a script).
    Polling,
    /// Sleeps on its subscription, as a subscriber task does: adds one
    /// wake-up of the bench thread per command.
    Parked,
}

impl Fixture {
    /// Waits for the next change of `entity_id`, skipping others.
    fn next_change_of(&mut self, entity_id: &str, wait: Wait) {
        let changes = &mut self.changes;
        let deadline = Instant::now() + Duration::from_secs(5);
        self.runtime.block_on(async {
            loop {
                let next = match wait {
                    Wait::Polling => match changes.next().now_or_never() {
                        Some(next) => next,
                        None => {
                            assert!(Instant::now() < deadline, "a change within 5 s");
                            // Yielding, so that on a busy machine the
                            // script thread is not kept off the CPU.
                            std::thread::yield_now();
                            continue;
                        }
                    },
                    Wait::Parked => tokio::time::timeout_at(deadline.into(), changes.next())
                        .await
                        .expect("a change within 5 s"),
                };
                let envelope = next
                    .expect("the bus is open")
                    .expect("the subscriber keeps up");
                if let BusMessage::State(change) = &envelope.message
                    && change.entity_id == entity_id
                {
                    return;
                }
            }
        });
    }

    /// One On to MOTION, until its script's toggle of HALL is on the bus.
    fn scripted_command(&mut self, wait: Wait) {
        self.hub
            .command("MOTION", &Command::On)
            .expect("MOTION exists");
        self.next_change_of("switch.hall", wait);
    }
}

/// `script/on_command_to_change`: On to MOTION (its On script runs on the
/// script thread and toggles HALL), timed until HALL's change arrives on
/// the bus, commands back to back (a burst). `…_parked_waiter`: the same,
/// the bench thread sleeping while it waits. `script/baseline_command_to_change`:
/// a command with no script (PLAIN toggled directly), the same wait: the
/// difference is the script's cost including its dispatch.
/// `script_after_idle/on_command_to_change`: each command 1 ms after the
/// last change, when the script thread has gone to sleep.
fn on_script(c: &mut Criterion) {
    let mut f = fixture();
    let mut group = c.benchmark_group("script");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("on_command_to_change", |b| {
        b.iter(|| f.scripted_command(Wait::Polling))
    });
    group.bench_function("on_command_to_change_parked_waiter", |b| {
        b.iter(|| f.scripted_command(Wait::Parked))
    });
    let mut on = false;
    group.bench_function("baseline_command_to_change", |b| {
        b.iter(|| {
            on = !on;
            let command = if on { Command::On } else { Command::Off };
            f.hub.command("PLAIN", &command).expect("PLAIN exists");
            f.next_change_of("switch.plain", Wait::Polling);
        })
    });
    group.finish();

    // Criterion sizes the run by the time reported, which leaves out the
    // 1 ms pauses: short windows keep the whole group to seconds.
    let mut group = c.benchmark_group("script_after_idle");
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(300))
        .sample_size(30);
    group.bench_function("on_command_to_change", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                std::thread::sleep(Duration::from_millis(1));
                let start = Instant::now();
                f.scripted_command(Wait::Polling);
                timed += start.elapsed();
            }
            timed
        })
    });
    group.finish();
}

criterion_group!(benches, on_script);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
