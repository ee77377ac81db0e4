//! What this machine can do without homebus: the fastest possible fan-out
//! of one message to N loopback TCP connections, as a yardstick for the
//! serving benchmark (`examples/loadgen.rs`).
//!
//! Plain threads write one 700-byte message (the size of a Home Assistant
//! `state_changed` event) to each of N sockets with blocking `write` calls,
//! nothing else in between: no HTTP, no task wake-ups, no encoding. N
//! reader tasks on a 2-thread tokio runtime (as in the load tool) record
//! when each message arrives. Every `--every`, one sweep over all sockets;
//! the tool prints each sweep's write time and, at the end, the latency
//! from the start of a sweep to each message's arrival (p50, p99) and the
//! CPU the whole process used per delivery.
//!
//! ```text
//! cargo build --release --example loopback_floor
//! ulimit -n 20000
//! target/release/examples/loopback_floor --connections 9900 --writers 2
//! ```
//!
//! A hub cannot beat these figures on the same machine: every delivery
//! still costs a socket write on one side and a read on the other.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::AsyncReadExt;

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Loopback TCP fan-out floor: bare writes to N sockets")]
struct Args {
    /// Connections (each is one socket on each side: keep 2 × N under `ulimit -n`).
    #[arg(long, default_value_t = 9900)]
    connections: usize,
    /// Threads that share the writing of each sweep.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Sweeps (messages per connection).
    #[arg(long, default_value_t = 20)]
    sweeps: u32,
    /// Pause between the starts of two sweeps.
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    every: Duration,
}

/// Arrival latency histogram: 100 µs buckets up to 1 s.
const BUCKET_US: u64 = 100;
const BUCKETS: usize = 10_000;

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let epoch = Instant::now();
    let sweep_started = Arc::new(AtomicU64::new(0));
    let histogram: Arc<Vec<AtomicU64>> =
        Arc::new((0..BUCKETS).map(|_| AtomicU64::new(0)).collect());
    let arrived = Arc::new(AtomicU64::new(0));
    let mut sockets = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (started, histogram, arrived) =
            (sweep_started.clone(), histogram.clone(), arrived.clone());
        runtime.spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let mut buffer = vec![0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    return;
                }
                let now = epoch.elapsed().as_micros() as u64;
                let latency = now.saturating_sub(started.load(Ordering::Relaxed));
                let bucket = ((latency / BUCKET_US) as usize).min(BUCKETS - 1);
                histogram[bucket].fetch_add(1, Ordering::Relaxed);
                arrived.fetch_add(1, Ordering::Relaxed);
            }
        });
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        sockets.push(socket);
    }
    std::thread::sleep(Duration::from_secs(1));
    let message = vec![b'x'; 700];
    let chunk = sockets.len().div_ceil(args.writers.max(1));
    let cpu_before = cpu_seconds();
    for _ in 0..args.sweeps {
        let started = Instant::now();
        sweep_started.store(epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
        std::thread::scope(|scope| {
            for part in sockets.chunks_mut(chunk) {
                let message = &message;
                scope.spawn(move || {
                    for socket in part {
                        let _ = socket.write_all(message);
                    }
                });
            }
        });
        eprintln!("sweep written in {:.1?}", started.elapsed());
        if let Some(rest) = args.every.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let expected = args.sweeps as u64 * sockets.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while arrived.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cpu = cpu_seconds() - cpu_before;
    let counts: Vec<u64> = histogram
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    let total: u64 = counts.iter().sum();
    let percentile = |p: f64| {
        let rank = ((total as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (i as u64 + 1) * BUCKET_US;
            }
        }
        BUCKETS as u64 * BUCKET_US
    };
    println!(
        "{} connections, {} writer thread(s): {total} of {expected} messages arrived; \
         sweep start → arrival p50 {:.1} ms, p99 {:.1} ms; {:.1} µs of CPU per delivery \
         (writers and readers together)",
        sockets.len(),
        args.writers,
        percentile(0.50) as f64 / 1000.0,
        percentile(0.99) as f64 / 1000.0,
        cpu * 1e6 / total.max(1) as f64,
    );
    Ok(())
}

/// User + system CPU time of this process, in seconds (ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(end) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[end + 2..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}
