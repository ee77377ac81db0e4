//! Load tool for homebus serving: opens N SSE (`/api/stream`) and WebSocket
//! (deCONZ push) subscribers, and Home Assistant WebSocket
//! (`/api/websocket`, `--ha-ws`) ones, against a hub, drives M changes/s through its
//! REST API, and reports delivered messages/s, change→receipt latency
//! (p50/p99) and the hub's RSS per subscriber.
//!
//! ```text
//! cargo build --release --example loadgen --bin homebus
//! ulimit -n 20000
//! target/release/examples/loadgen --sse 1000 --ws 100 --rate 500 --seconds 10
//! ```
//!
//! By default it starts `target/release/homebus run` itself (so it can read
//! the hub's `/proc/<pid>/status`), with `database = ":memory:"`, or a
//! SQLite file in the tool's temp dir with `--persist`; `--hub` names
//! another binary (to compare two builds). `--url` and `--pid` point it at
//! a hub that is already running instead (it needs one sensor unit,
//! `--unit`).
//!
//! `--mqtt-out` also starts a real mosquitto (`--mosquitto`, Debian's
//! `/usr/sbin/mosquitto` by default) on a free loopback port, gives the hub
//! an `[mqtt_out]` section pointing at it, and subscribes a rumqttc client to
//! `homebus/+/state` (QoS 1, as the hub publishes): the state payload is the
//! sensor's reading, the same send time, so change→MQTT-delivery latency is
//! measured on the same clock, next to the SSE one.
//!
//! Each change is `POST /api/units/BENCH/command {"command":"set","value":T}`
//! where `T` is the send time in microseconds since the Unix epoch; every
//! subscriber finds `T` in what it receives, so latency is measured from the
//! request leaving the tool to the message arriving, on one clock.

#[path = "support/ha_ws.rs"]
mod ha_ws;
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_util::StreamExt;
use support::{Histogram, cpu_seconds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Fan-out load test for a homebus hub")]
struct Args {
    /// SSE subscribers on /api/stream.
    #[arg(long, default_value_t = 1000)]
    sse: usize,
    /// WebSocket subscribers on the WebSocket port.
    #[arg(long, default_value_t = 0)]
    ws: usize,
    /// Home Assistant WebSocket subscribers (`/api/websocket`,
    /// `subscribe_events` for `state_changed`).
    #[arg(long, default_value_t = 0)]
    ha_ws: usize,
    /// Changes per second driven through the REST API.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// How long to drive changes.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The homebus binary to start.
    #[arg(long, default_value = "target/release/homebus")]
    hub: PathBuf,
    /// Use a running hub at this base URL instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// The running hub's pid, to read its RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// Address of the sensor unit that is driven.
    #[arg(long, default_value = "BENCH")]
    unit: String,
    /// API key, when the hub has `[auth]`.
    #[arg(long)]
    key: Option<String>,
    /// Subscribers connecting at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Persist changes in a SQLite file in the tool's temp dir (the hub's
    /// default), instead of `":memory:"`, to measure what the store adds.
    #[arg(long)]
    persist: bool,
    /// Also publish every change to a mosquitto the tool starts (the hub's
    /// `[mqtt_out]`) and measure change→MQTT-delivery with a subscriber.
    #[arg(long)]
    mqtt_out: bool,
    /// The mosquitto binary `--mqtt-out` starts.
    #[arg(long, default_value = "/usr/sbin/mosquitto")]
    mosquitto: PathBuf,
    /// Give the driven unit a trivial `value_script`, run on the script
    /// thread for every change: the serve-path cost of a script, against
    /// the same run without.
    #[arg(long)]
    script: bool,
}

/// Longest latency the histogram tells apart; longer ones count as this.
const LONGEST_LATENCY: Duration = Duration::from_secs(10);

struct Stats {
    delivered: AtomicU64,
    connected: AtomicU64,
    failed: AtomicU64,
    closed: AtomicU64,
    latency: Histogram,
}

impl Stats {
    fn new() -> Self {
        Stats {
            delivered: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            latency: Histogram::new(LONGEST_LATENCY),
        }
    }

    fn record(&self, sent_us: u64) {
        self.latency.record([now_us().saturating_sub(sent_us)]);
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The number after `"value":` following `anchor` in `line`.
fn value_after(line: &[u8], anchor: &[u8]) -> Option<u64> {
    let start = memchr::memmem::find(line, anchor)?;
    let rest = &line[start..];
    let at = memchr::memmem::find(rest, b"\"value\":")? + 8;
    let digits = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// A minimal SSE client over raw TCP (keeps the tool light at 10,000
/// connections): counts `data:` lines and reads the change's time from them.
async fn sse_subscriber(
    addr: SocketAddr,
    path: String,
    sample: bool,
    stats: Arc<Stats>,
    permit: OwnedSemaphorePermit,
) {
    let mut permit = Some(permit);
    let result = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut pending: Vec<u8> = Vec::with_capacity(4096);
        loop {
            if stream.read_buf(&mut pending).await? == 0 {
                return Err(std::io::Error::other("closed before the headers"));
            }
            if let Some(end) = memchr::memmem::find(&pending, b"\r\n\r\n") {
                if !pending.starts_with(b"HTTP/1.1 200") {
                    return Err(std::io::Error::other(
                        String::from_utf8_lossy(&pending[..end]).into_owned(),
                    ));
                }
                pending.drain(..end + 4);
                break;
            }
        }
        stats.connected.fetch_add(1, Ordering::Relaxed);
        permit.take();
        loop {
            let mut start = 0;
            let mut count = 0;
            while let Some(i) = memchr::memchr(b'\n', &pending[start..]) {
                let line = &pending[start..start + i];
                if line.starts_with(b"data: ") {
                    count += 1;
                    if sample && let Some(t) = value_after(line, b"\"new_state\"") {
                        stats.record(t);
                    }
                }
                start += i + 1;
            }
            pending.drain(..start);
            if count > 0 {
                stats.delivered.fetch_add(count, Ordering::Relaxed);
            }
            if pending.capacity() - pending.len() < 1024 {
                pending.reserve(4096);
            }
            if stream.read_buf(&mut pending).await? == 0 {
                return Ok::<(), std::io::Error>(());
            }
        }
    }
    .await;
    match result {
        Ok(()) => stats.closed.fetch_add(1, Ordering::Relaxed),
        Err(_) => stats.failed.fetch_add(1, Ordering::Relaxed),
    };
}

async fn ws_subscriber(url: String, sample: bool, stats: Arc<Stats>, permit: OwnedSemaphorePermit) {
    let connected = tokio_tungstenite::connect_async(&url).await;
    drop(permit);
    let Ok((mut socket, _)) = connected else {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    };
    stats.connected.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = socket.next().await {
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            if sample && let Some(t) = value_after(text.as_bytes(), b"\"state\"") {
                stats.record(t);
            }
        }
    }
    stats.closed.fetch_add(1, Ordering::Relaxed);
}

/// Starts `binary` (mosquitto 2) on a free loopback port with anonymous
/// access, its config in `dir`, and waits until it accepts connections.
async fn start_mosquitto(
    binary: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(tokio::process::Child, u16), Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("mosquitto.conf");
    std::fs::write(
        &config,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )?;
    let child = tokio::process::Command::new(binary)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e}; --mqtt-out needs mosquitto (apt-get install mosquitto)",
                binary.display()
            )
        })?;
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("mosquitto did not listen on port {port} within 10 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((child, port))
}

/// What Home Assistant would be: one MQTT client on `homebus/+/state`
/// (QoS 1) that counts live (not retained) state messages and reads the
/// change's send time from the payload, the sensor's reading.
/// `stats.connected` becomes 1 once the broker acknowledged the subscription.
async fn mqtt_subscriber(port: u16, stats: Arc<Stats>) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new("loadgen", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    if client
        .subscribe("homebus/+/state", QoS::AtLeastOnce)
        .await
        .is_err()
    {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                stats.connected.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Incoming(Packet::Publish(message))) if !message.retain => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(sent_us) = std::str::from_utf8(&message.payload)
                    .ok()
                    .and_then(|text| text.trim().parse::<f64>().ok())
                {
                    stats.record(sent_us as u64);
                }
            }
            Ok(_) => {}
            Err(_) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Waits until the hub's `GET /api/outputs` says its MQTT output is
/// connected.
async fn wait_for_mqtt_out(
    http: &reqwest::Client,
    base: &str,
    key: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    loop {
        let mut request = http.get(format!("{base}/api/outputs"));
        if let Some(key) = key {
            request = request.header("x-ha-access", key);
        }
        if let Ok(answer) = request.send().await
            && let Ok(text) = answer.text().await
            && let Ok(outputs) = serde_json::from_str::<serde_json::Value>(&text)
            && outputs[0]["state"] == "connected"
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the hub's MQTT output did not connect within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn progress(label: &str, done: f64, total: f64, extra: &str) {
    let width = 30;
    let filled = ((done / total).clamp(0.0, 1.0) * width as f64) as usize;
    eprint!(
        "\r{label} [{}{}] {extra}\x1b[K",
        "#".repeat(filled),
        ".".repeat(width - filled)
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let http = homebus::http_client::client_builder()
        .pool_max_idle_per_host(128)
        .build()?;
    let mut child = None;
    let mut broker: Option<(tokio::process::Child, u16)> = None;
    let _dir;
    if args.mqtt_out && args.url.is_some() {
        return Err("--mqtt-out starts its own hub and broker: drop --url".into());
    }
    if args.script && args.url.is_some() {
        return Err("--script configures the hub it starts: drop --url".into());
    }
    let (base, pid) = match &args.url {
        Some(url) => (url.trim_end_matches('/').to_string(), args.pid),
        None => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let dir = tempfile::tempdir()?;
            let config = dir.path().join("homebus.toml");
            let database = if args.persist {
                dir.path().join("homebus.db").display().to_string()
            } else {
                ":memory:".to_string()
            };
            let mqtt_out = if args.mqtt_out {
                let started = start_mosquitto(&args.mosquitto, dir.path()).await?;
                let section = format!("\n[mqtt_out]\nurl = \"mqtt://127.0.0.1:{}\"\n", started.1);
                broker = Some(started);
                section
            } else {
                String::new()
            };
            std::fs::write(
                &config,
                format!(
                    "[server]\nlisten = \"127.0.0.1:{port}\"\nwebsocket_port = 0\n\
                     database = {database:?}\n\n[[unit]]\naddress = \"{}\"\nkind = \"sensor\"\n{}{mqtt_out}",
                    args.unit,
                    if args.script {
                        "value_script = 'let reading = value;'\n"
                    } else {
                        ""
                    },
                ),
            )?;
            let hub = tokio::process::Command::new(&args.hub)
                .args(["run", "-c"])
                .arg(&config)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    format!(
                        "cannot start {}: {e}; build it with cargo build --release",
                        args.hub.display()
                    )
                })?;
            let pid = hub.id();
            child = Some(hub);
            _dir = dir;
            (format!("http://127.0.0.1:{port}"), pid)
        }
    };
    let with_key = |request: reqwest::RequestBuilder| match &args.key {
        Some(key) => request.header("x-ha-access", key),
        None => request,
    };
    // Wait for the hub to answer.
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the hub did not answer /healthz within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config: serde_json::Value = serde_json::from_str(
        &http
            .get(format!(
                "{base}/api/{}/config",
                args.key.as_deref().unwrap_or("bench")
            ))
            .send()
            .await?
            .text()
            .await?,
    )?;
    let ws_port = config["websocketport"].as_u64().ok_or("no websocketport")?;
    let addr: SocketAddr = base.trim_start_matches("http://").parse()?;
    let baseline = pid.and_then(rss_kib);
    let mqtt = Arc::new(Stats::new());
    if let Some((_, port)) = &broker {
        wait_for_mqtt_out(&http, &base, args.key.as_deref()).await?;
        tokio::spawn(mqtt_subscriber(*port, mqtt.clone()));
        let started = Instant::now();
        while mqtt.connected.load(Ordering::Relaxed) == 0 {
            if mqtt.failed.load(Ordering::Relaxed) > 0
                || started.elapsed() > Duration::from_secs(10)
            {
                return Err("the MQTT subscriber could not subscribe to the broker".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let stats = Arc::new(Stats::new());
    let total = args.sse + args.ws + args.ha_ws;
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let query = args
        .key
        .as_ref()
        .map(|k| format!("?api_password={k}"))
        .unwrap_or_default();
    let connect_started = Instant::now();
    for i in 0..total {
        let permit = gate.clone().acquire_owned().await?;
        // Latency is sampled on every 10th subscriber to keep the tool's own
        // cost down; counts are taken on all.
        let sample = i % 10 == 0;
        if i < args.sse {
            let path = format!("/api/stream{query}");
            tokio::spawn(sse_subscriber(addr, path, sample, stats.clone(), permit));
        } else if i < args.sse + args.ws {
            let url = format!("ws://127.0.0.1:{ws_port}/{query}");
            tokio::spawn(ws_subscriber(url, sample, stats.clone(), permit));
        } else {
            let url = format!("ws://{addr}/api/websocket");
            let token = args.key.clone().unwrap_or_else(|| "bench".into());
            let stats = stats.clone();
            tokio::spawn(ha_ws::ha_ws_subscriber(url, token, sample, stats, permit));
        }
        if i % 100 == 0 {
            progress(
                "connecting",
                stats.connected.load(Ordering::Relaxed) as f64,
                total as f64,
                &format!("{}/{total}", stats.connected.load(Ordering::Relaxed)),
            );
        }
    }
    while stats.connected.load(Ordering::Relaxed) + stats.failed.load(Ordering::Relaxed)
        < total as u64
    {
        if connect_started.elapsed() > Duration::from_secs(120) {
            break;
        }
        progress(
            "connecting",
            stats.connected.load(Ordering::Relaxed) as f64,
            total as f64,
            &format!("{}/{total}", stats.connected.load(Ordering::Relaxed)),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = stats.connected.load(Ordering::Relaxed);
    eprintln!(
        "\nconnected {connected}/{total} in {:.1} s ({} failed)",
        connect_started.elapsed().as_secs_f64(),
        stats.failed.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = pid.and_then(rss_kib);

    stats.latency.reset();
    mqtt.latency.reset();
    let delivered_before = stats.delivered.load(Ordering::Relaxed);
    let mqtt_before = mqtt.delivered.load(Ordering::Relaxed);
    let broker_pid = broker.as_ref().and_then(|(child, _)| child.id());
    let broker_cpu_before = broker_pid.and_then(cpu_seconds);
    let cpu_before = pid.and_then(cpu_seconds);
    let own_cpu_before = cpu_seconds(std::process::id());
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let inflight = Arc::new(Semaphore::new(64));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let drive_started = Instant::now();
    let drive_for = Duration::from_secs(args.seconds);
    let url = format!("{base}/api/units/{}/command", args.unit);
    let mut peak_rss = 0;
    let mut last_report = Instant::now();
    while drive_started.elapsed() < drive_for {
        ticker.tick().await;
        let permit = inflight.clone().acquire_owned().await?;
        let request = with_key(http.post(&url))
            .header("content-type", "application/json")
            .body(format!(r#"{{"command":"set","value":{}}}"#, now_us()));
        let (ok, failed) = (sent.clone(), errors.clone());
        tokio::spawn(async move {
            match request.send().await {
                Ok(r) if r.status().is_success() => ok.fetch_add(1, Ordering::Relaxed),
                _ => failed.fetch_add(1, Ordering::Relaxed),
            };
            drop(permit);
        });
        if last_report.elapsed() >= Duration::from_millis(500) {
            last_report = Instant::now();
            let elapsed = drive_started.elapsed().as_secs_f64();
            let delivered = stats.delivered.load(Ordering::Relaxed) - delivered_before;
            peak_rss = peak_rss.max(pid.and_then(rss_kib).unwrap_or(0));
            progress(
                "driving",
                elapsed,
                drive_for.as_secs_f64(),
                &format!(
                    "{elapsed:.0}/{} s  {:.0} changes/s  {:.0} delivered/s",
                    args.seconds,
                    sent.load(Ordering::Relaxed) as f64 / elapsed,
                    delivered as f64 / elapsed
                ),
            );
        }
    }
    let drive_time = drive_started.elapsed();
    // Every request answered, then let the last changes arrive.
    let _all = inflight.acquire_many(64).await?;
    let expected = sent.load(Ordering::Relaxed) * connected;
    let drain_started = Instant::now();
    let mqtt_expected = if broker.is_some() {
        sent.load(Ordering::Relaxed)
    } else {
        0
    };
    while (stats.delivered.load(Ordering::Relaxed) - delivered_before < expected
        || mqtt.delivered.load(Ordering::Relaxed) - mqtt_before < mqtt_expected)
        && drain_started.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = stats.delivered.load(Ordering::Relaxed) - delivered_before;
    let mqtt_delivered = mqtt.delivered.load(Ordering::Relaxed) - mqtt_before;
    let broker_cpu_after = broker_pid.and_then(cpu_seconds);
    let cpu_after = pid.and_then(cpu_seconds);
    let own_cpu_after = cpu_seconds(std::process::id());
    let under_load = pid.and_then(rss_kib);
    eprintln!();
    let sent = sent.load(Ordering::Relaxed);
    if args.url.is_none() {
        println!(
            "hub: {}, changes {}",
            args.hub.display(),
            if args.persist {
                "persisted to a SQLite file"
            } else {
                "kept in memory only"
            }
        );
    }
    println!(
        "subscribers: {} SSE + {} WebSocket + {} HA WebSocket, {connected} connected, {} failed, {} closed by the hub",
        args.sse,
        args.ws,
        args.ha_ws,
        stats.failed.load(Ordering::Relaxed),
        stats.closed.load(Ordering::Relaxed)
    );
    println!(
        "changes: {sent} in {:.1} s = {:.0}/s (target {:.0}/s), {} REST errors",
        drive_time.as_secs_f64(),
        sent as f64 / drive_time.as_secs_f64(),
        args.rate,
        errors.load(Ordering::Relaxed)
    );
    println!(
        "delivered: {delivered} of {expected} expected ({:.2}%), {:.0} msgs/s over the drive window",
        if expected > 0 {
            delivered as f64 * 100.0 / expected as f64
        } else {
            0.0
        },
        delivered as f64 / drive_time.as_secs_f64()
    );
    let fmt = |d: Option<Duration>| {
        d.map_or("-".to_string(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1000.0)
        })
    };
    println!(
        "latency change→receipt (sampled 1 in 10 subscribers): p50 {} p99 {}",
        fmt(stats.latency.percentile(0.50)),
        fmt(stats.latency.percentile(0.99))
    );
    if let (Some(base), Some(idle)) = (baseline, idle) {
        println!(
            "hub RSS: {base} KiB before, {idle} KiB with {connected} idle subscribers = {:.1} KiB per subscriber; {} KiB under load (peak {peak_rss} KiB)",
            (idle.saturating_sub(base)) as f64 / connected.max(1) as f64,
            under_load.unwrap_or(0)
        );
    }
    if broker.is_some() {
        println!(
            "mqtt out: {mqtt_delivered} of {sent} changes delivered to the subscriber ({:.2}%), {:.0} msgs/s over the drive window",
            mqtt_delivered as f64 * 100.0 / sent.max(1) as f64,
            mqtt_delivered as f64 / drive_time.as_secs_f64()
        );
        println!(
            "latency change→MQTT delivery: p50 {} p99 {}",
            fmt(mqtt.latency.percentile(0.50)),
            fmt(mqtt.latency.percentile(0.99))
        );
        if let (Some(before), Some(after)) = (broker_cpu_before, broker_cpu_after) {
            println!(
                "mosquitto CPU: {:.1} s over the same time = {:.0}% of one core",
                after - before,
                (after - before) * 100.0 / drive_time.as_secs_f64()
            );
        }
    }
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        println!(
            "hub CPU: {:.1} s over {:.1} s of driving = {:.0}% of one core",
            after - before,
            drive_time.as_secs_f64(),
            (after - before) * 100.0 / drive_time.as_secs_f64()
        );
    }
    // The tool shares the machine with the hub: what it burns, the hub
    // could not have.
    if let (Some(before), Some(after)) = (own_cpu_before, own_cpu_after) {
        println!(
            "load tool CPU: {:.1} s over the same time = {:.0}% of one core",
            after - before,
            (after - before) * 100.0 / drive_time.as_secs_f64()
        );
    }
    // With a store, the hub times every change from publish to commit:
    // what persistence itself adds to the latency above.
    if let Ok(answer) = with_key(http.get(format!("{base}/metrics"))).send().await
        && let Ok(text) = answer.text().await
    {
        if let Some(line) = persist_delay(&text) {
            println!("{line}");
        }
        // With --script: the runs (one per change) and errors, which prove it ran.
        for line in text.lines().filter(|l| l.starts_with("homebus_script_")) {
            println!("{line}");
        }
    }
    if let Some(mut hub) = child {
        let _ = hub.start_kill();
        let _ = hub.wait().await;
    }
    if let Some((mut mosquitto, _)) = broker {
        let _ = mosquitto.start_kill();
        let _ = mosquitto.wait().await;
    }
    Ok(())
}

/// The hub's `homebus_store_persist_delay_seconds` histogram in one line
/// (quantiles as the bucket bound that holds them), or `None` without a store.
fn persist_delay(metrics: &str) -> Option<String> {
    const NAME: &str = "homebus_store_persist_delay_seconds";
    let value = |suffix: &str| -> Option<f64> {
        metrics.lines().find_map(|line| {
            line.strip_prefix(NAME)?
                .strip_prefix(suffix)?
                .strip_prefix(' ')?
                .parse()
                .ok()
        })
    };
    let count = value("_count")?;
    let sum = value("_sum")?;
    if count == 0.0 {
        return None;
    }
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(NAME)?.strip_prefix("_bucket{le=\"")?;
            let (bound, cumulative) = rest.split_once("\"} ")?;
            Some((bound.parse().ok()?, cumulative.parse().ok()?))
        })
        .collect();
    let quantile = |q: f64| {
        buckets
            .iter()
            .find(|(bound, cumulative)| bound.is_finite() && *cumulative >= count * q)
            .map_or("> 1 s".to_string(), |(bound, _)| {
                format!("≤ {} ms", bound * 1000.0)
            })
    };
    Some(format!(
        "persist delay publish→commit (the hub's histogram, {count} changes): mean {:.2} ms, p50 {}, p99 {}",
        sum / count * 1000.0,
        quantile(0.50),
        quantile(0.99)
    ))
}
