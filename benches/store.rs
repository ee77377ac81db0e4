//! Persistence benchmarks: changes persisted per second, and what the store
//! adds to the serve path (publish → subscriber) at p99.
//!
//! `cargo bench --bench store` (see docs/PERFORMANCE.md, "Persistence").

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use futures_util::StreamExt;
use homebus::bus::{Bus, BusMessage, InProcessBus, StateChange};
use homebus::event::Event;
use homebus::store::{PersistentBus, Store, StoreOptions};
use homebus::units::{Unit, UnitKind};
use serde_json::json;

/// A realistic state change: a sensor reading with old and new HA states
/// and the source event that caused it.
fn change(seq: u64) -> BusMessage {
    let address = format!("sensor{}", seq % 100);
    let mut unit = Unit::new(&address, UnitKind::Sensor, None, None);
    unit.attributes.insert("battery".into(), json!(90));
    let old = unit.entity_state();
    unit.number = Some(seq as f64 / 10.0);
    unit.value = homebus::units::UnitValue::Reading(format!("{}", seq as f64 / 10.0));
    let new = unit.entity_state();
    let mut event = Event::new(
        Arc::from("bench"),
        &address,
        Some(format!("{}", seq as f64 / 10.0)),
    );
    event.seq = seq;
    event.id = Some(seq.to_string());
    BusMessage::State(Box::new(StateChange {
        seq,
        entity_id: new.entity_id.clone(),
        old: Some(old),
        new: Some(new),
        time: Utc::now(),
        cause: Some(event),
    }))
}

struct Fixture {
    _dir: tempfile::TempDir,
    bus: PersistentBus,
    seq: AtomicU64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(dir.path().join("bench.db"), StoreOptions::default()).unwrap());
    let bus = PersistentBus::start(store, 4096, 1 << 20).unwrap();
    Fixture {
        _dir: dir,
        bus,
        seq: AtomicU64::new(0),
    }
}

/// Changes arriving in bursts of `batch`, each burst committed before the
/// next arrives (one transaction per burst), and a sustained stream that
/// never waits (the writer batches whatever has queued).
fn throughput(c: &mut Criterion) {
    const CHANGES: u64 = 10_000;
    let mut group = c.benchmark_group("persist");
    group.throughput(Throughput::Elements(CHANGES));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let f = fixture();
    let messages: Vec<BusMessage> = (1..=CHANGES).map(change).collect();
    // The same changes again, numbered after the last ones published.
    let next_round = || -> Vec<BusMessage> {
        messages
            .iter()
            .map(|m| renumber(m, f.seq.fetch_add(1, Ordering::Relaxed) + 1))
            .collect()
    };
    for batch in [1u64, 10, 100] {
        group.bench_with_input(
            BenchmarkId::new("bursts_committed_each", batch),
            &batch,
            |b, &batch| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let prepared = next_round();
                        let start = Instant::now();
                        for burst in prepared.chunks(batch as usize) {
                            for m in burst {
                                f.bus.publish(m.clone());
                            }
                            assert!(f.bus.flush(Duration::from_secs(60)));
                        }
                        total += start.elapsed();
                    }
                    total
                });
            },
        );
    }
    group.bench_function("sustained_stream", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let prepared = next_round();
                let start = Instant::now();
                for m in prepared {
                    f.bus.publish(m);
                }
                assert!(f.bus.flush(Duration::from_secs(60)));
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    let metrics = f.bus.metrics();
    println!(
        "persist: {} changes in {} transactions ({:.1} per commit), {} back-pressure waits",
        metrics.changes_persisted,
        metrics.batches,
        metrics.changes_persisted as f64 / metrics.batches.max(1) as f64,
        metrics.backpressure_waits
    );
}

/// A copy of a prepared change with a new seq and the current time, as a
/// live change would have (times only grow, as in a running hub).
fn renumber(message: &BusMessage, seq: u64) -> BusMessage {
    let mut message = message.clone();
    if let BusMessage::State(change) = &mut message {
        let now = Utc::now();
        change.seq = seq;
        change.time = now;
        if let Some(new) = &mut change.new {
            new.last_changed = now;
            new.last_updated = now;
        }
        if let Some(cause) = &mut change.cause {
            cause.seq = seq;
            cause.received_at = now;
        }
    }
    message
}

/// p50/p99/max of the publish call and of publish → delivery to a live
/// subscriber, with persistence off (in-process bus) and on, at a steady
/// 5,000 changes/s. The publisher sleeps between changes rather than spins,
/// so it leaves the second core to the writer and the subscriber.
fn latency_report() {
    const SAMPLES: usize = 10_000;
    const EVERY: Duration = Duration::from_micros(200);
    let off: Arc<dyn Bus> = Arc::new(InProcessBus::new(4096, 1 << 20));
    let f = fixture();
    let on_bus = Arc::new(f.bus);
    let on: Arc<dyn Bus> = on_bus.clone();
    for (name, bus) in [("off", off), ("on", on)] {
        let mut sub = bus.subscribe(None).unwrap();
        let receiver = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut arrivals = Vec::with_capacity(SAMPLES);
                while arrivals.len() < SAMPLES {
                    let envelope = sub.next().await.unwrap().unwrap();
                    arrivals.push((envelope.seq(), Instant::now()));
                }
                arrivals
            })
        });
        let first = bus.last_seq() + 1;
        let messages: Vec<BusMessage> = (0..SAMPLES as u64).map(|i| change(first + i)).collect();
        let mut sent = Vec::with_capacity(SAMPLES);
        let mut calls = Vec::with_capacity(SAMPLES);
        let begin = Instant::now();
        for (i, m) in messages.into_iter().enumerate() {
            let due = begin + EVERY * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let t0 = Instant::now();
            black_box(bus.publish(m));
            calls.push(t0.elapsed());
            sent.push(t0);
        }
        let arrivals = receiver.join().unwrap();
        let mut delivery: Vec<Duration> = arrivals
            .iter()
            .map(|(seq, at)| at.duration_since(sent[(seq - first) as usize]))
            .collect();
        calls.sort();
        delivery.sort();
        let pct = |v: &[Duration], p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
        println!(
            "latency persistence {name:>3}: publish call p50 {:>8.1?} p99 {:>8.1?} max {:>8.1?} | publish→subscriber p50 {:>8.1?} p99 {:>8.1?} max {:>8.1?}",
            pct(&calls, 0.5),
            pct(&calls, 0.99),
            calls.last().unwrap(),
            pct(&delivery, 0.5),
            pct(&delivery, 0.99),
            delivery.last().unwrap(),
        );
    }
    drop(on_bus);
}

criterion_group!(benches, throughput);

fn main() {
    latency_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
