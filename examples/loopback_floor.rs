//! What this machine can do without homebus: the cheapest possible fan-out
//! of a stream of messages to N loopback TCP connections, as a yardstick for
//! the serving benchmark (`examples/loadgen.rs`).
//!
//! A producer makes `--rate` messages a second (700 bytes each, the size of
//! a Home Assistant `state_changed` event, stamped with the time it was
//! made). `--writers` plain threads sweep over the sockets again and again
//! and write to each, with one blocking `write`, every message made since
//! that socket's last write — the ideal hub: serialised once, coalesced per
//! subscriber, no HTTP, no task wake-ups. N reader tasks on a 2-thread tokio
//! runtime (as in the load tool) take each message apart and record how long
//! after it was made it arrived. At the end the tool prints p50/p99 of that
//! latency, messages per second and the CPU the whole process used per
//! delivered message.
//!
//! ```text
//! cargo build --release --example loopback_floor
//! ulimit -n 20000
//! target/release/examples/loopback_floor --connections 9900 --writers 2 --rate 2
//! target/release/examples/loopback_floor --connections 9900 --writers 2 --rate 50
//! ```
//!
//! A hub cannot beat these figures on the same machine: every delivery
//! still costs a socket write on one side and a read on the other.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use support::{Histogram, cpu_seconds};
use tokio::io::AsyncReadExt;

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Loopback TCP fan-out floor: bare, coalesced writes to N sockets")]
struct Args {
    /// Connections (each is one socket on each side: keep 2 × N under `ulimit -n`).
    #[arg(long, default_value_t = 9900)]
    connections: usize,
    /// Threads that share the sockets between them.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Messages made per second (each goes to every connection).
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// How long to make messages.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// Bytes per message; the first 8 are the time it was made.
const MESSAGE: usize = 700;
/// Longest arrival latency the histogram tells apart; longer ones count as this.
const LONGEST_LATENCY: Duration = Duration::from_secs(2);

/// What the producer, writers and readers share.
struct Shared {
    epoch: Instant,
    /// Messages made so far.
    made: AtomicU64,
    /// When each message was made, µs after `epoch`, by number.
    made_at: Vec<AtomicU64>,
    histogram: Histogram,
    arrived: AtomicU64,
    done: AtomicBool,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let total = (args.rate * args.seconds as f64).ceil() as usize;
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        made: AtomicU64::new(0),
        made_at: (0..total).map(|_| AtomicU64::new(0)).collect(),
        histogram: Histogram::new(LONGEST_LATENCY),
        arrived: AtomicU64::new(0),
        done: AtomicBool::new(false),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut sockets = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        runtime.spawn(read(addr, shared.clone()));
        let (socket, _) = listener.accept()?;
        socket.set_nodelay(true)?;
        sockets.push(socket);
    }
    std::thread::sleep(Duration::from_secs(1));

    let own_cpu = || cpu_seconds(std::process::id()).unwrap_or(0.0);
    let cpu_before = own_cpu();
    let started = Instant::now();
    let chunk = sockets.len().div_ceil(args.writers.max(1));
    std::thread::scope(|scope| {
        for part in sockets.chunks_mut(chunk) {
            let shared = &shared;
            scope.spawn(move || write(part, shared));
        }
        let interval = Duration::from_secs_f64(1.0 / args.rate);
        for n in 0..total {
            let due = started + interval * n as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            shared.made_at[n].store(shared.now_us(), Ordering::Relaxed);
            shared.made.store(n as u64 + 1, Ordering::Release);
        }
        shared.done.store(true, Ordering::Release);
    });
    let made_for = started.elapsed();
    let expected = (total * sockets.len()) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.arrived.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let cpu = own_cpu() - cpu_before;
    let arrived = shared.arrived.load(Ordering::Relaxed);
    let percentile_ms = |p: f64| {
        shared
            .histogram
            .percentile(p)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} connections, {} writer thread(s), {} messages/s: {arrived} of {expected} delivered \
         ({:.0} msgs/s); made → arrived p50 {:.1} ms, p99 {:.1} ms; {:.1} µs of CPU per \
         delivery (writers and readers together)",
        sockets.len(),
        args.writers,
        args.rate,
        arrived as f64 / made_for.as_secs_f64(),
        percentile_ms(0.50),
        percentile_ms(0.99),
        cpu * 1e6 / arrived.max(1) as f64,
    );
    Ok(())
}

/// One writer thread: sweeps over its sockets until every message is out,
/// writing to each whatever was made since its last write, in one call.
fn write(sockets: &mut [std::net::TcpStream], shared: &Shared) {
    let mut sent = vec![0u64; sockets.len()];
    let mut buffer = Vec::new();
    loop {
        let made = shared.made.load(Ordering::Acquire);
        let finished = shared.done.load(Ordering::Acquire) && sent.iter().all(|&s| s == made);
        if finished {
            return;
        }
        let mut wrote = false;
        for (socket, sent) in sockets.iter_mut().zip(sent.iter_mut()) {
            let made = shared.made.load(Ordering::Acquire);
            if *sent == made {
                continue;
            }
            buffer.clear();
            for n in *sent..made {
                let at = shared.made_at[n as usize].load(Ordering::Relaxed);
                buffer.extend_from_slice(&at.to_le_bytes());
                buffer.resize(buffer.len() + MESSAGE - 8, b'x');
            }
            if socket.write_all(&buffer).is_err() {
                return;
            }
            *sent = made;
            wrote = true;
        }
        if !wrote {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

/// One reader: takes the stream apart into messages and records each one's latency.
async fn read(addr: std::net::SocketAddr, shared: Arc<Shared>) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut filled = 0;
    while let Ok(n) = stream.read(&mut buffer[filled..]).await {
        if n == 0 {
            return;
        }
        filled += n;
        let now = shared.now_us();
        let whole = filled / MESSAGE * MESSAGE;
        shared
            .histogram
            .record(buffer[..whole].chunks_exact(MESSAGE).map(|message| {
                let at = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
                now.saturating_sub(at)
            }));
        shared
            .arrived
            .fetch_add((whole / MESSAGE) as u64, Ordering::Relaxed);
        buffer.copy_within(whole..filled, 0);
        filled -= whole;
    }
}
