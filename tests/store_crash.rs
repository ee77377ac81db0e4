//! Crash safety of the real binary: a hub reading thousands of numbered
//! events from an SSE source is killed with SIGKILL mid-stream. Every change
//! it had served to a subscriber (`/api/stream`) or reported persisted
//! before the kill is still in the database, the
//! database passes `PRAGMA integrity_check`, and the restarted hub resumes
//! the source with `Last-Event-ID` so the log ends up holding every event
//! exactly once.

mod support;

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{StreamExt, stream};
use support::config::{LOOPBACK_SERVER, source, unit, write};
use support::hub_process::HubProcess;
use support::server::{SseReader, client};
use support::sse_server::{ScriptedServer, sse_stream};
use support::store::try_read_only;
use support::wait::until;

/// Events the source sends in all.
const TOTAL: u64 = 20_000;
/// Events per chunk, and the pause between chunks, so the stream takes
/// about a second and a kill lands in the middle of it.
const CHUNK: u64 = 50;
const PAUSE: Duration = Duration::from_millis(2);

/// `id: N`, `event: Counter`, `data: N` for N from `start` to TOTAL - 1,
/// then an open, quiet stream.
fn numbered_events(start: u64) -> axum::response::Response {
    let chunks = stream::unfold(start, |n| async move {
        if n >= TOTAL {
            return None;
        }
        tokio::time::sleep(PAUSE).await;
        let end = (n + CHUNK).min(TOTAL);
        let text: String = (n..end)
            .map(|i| format!("id: {i}\nevent: Counter\ndata: {i}\n\n"))
            .collect();
        Some((Ok::<_, Infallible>(Bytes::from(text)), end))
    })
    .chain(stream::pending());
    sse_stream(chunks)
}

/// Starts `homebus run` logging little (this stream is thousands of
/// changes) and returns it and its HTTP base URL.
async fn start_hub(dir: &Path, config: &Path) -> (HubProcess, String) {
    let mut hub = HubProcess::start_logging(dir, config, "warn,homebus::server=info");
    let base = hub.base_url().await;
    hub.drain_log();
    (hub, base)
}

/// Follows `/api/stream` and records the highest seq it was served.
async fn follow_stream(base: &str) -> Arc<AtomicU64> {
    let served = Arc::new(AtomicU64::new(0));
    let mut stream = SseReader::open(client().get(format!("{base}/api/stream"))).await;
    let seen = served.clone();
    tokio::spawn(async move {
        while let Some(block) = stream.event().await {
            if let Some(seq) = block.id.as_deref().and_then(|id| id.parse().ok()) {
                seen.fetch_max(seq, Ordering::SeqCst);
            }
        }
    });
    served
}

/// `(seq, data)` of every stored event, in seq order, read in one snapshot;
/// `None` while the database is not set up yet.
fn try_stored_events(db: &Path) -> Option<Vec<(u64, String)>> {
    let conn = try_read_only(db)?;
    let mut stmt = conn
        .prepare("SELECT seq, data FROM events ORDER BY seq")
        .ok()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .ok()?;
    rows.collect::<Result<_, _>>().ok()
}

fn stored_events(db: &Path) -> Vec<(u64, String)> {
    try_stored_events(db).expect("the database is readable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_no_acknowledged_change_and_resumes_without_gap_or_duplicate() {
    let server = ScriptedServer::start(|request| {
        let start = request
            .header("last-event-id")
            .and_then(|id| id.parse::<u64>().ok())
            .map_or(0, |id| id + 1);
        numbered_events(start)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("homebus.db");
    let config = write(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \"{}\"\n\n{}{}",
            db.display(),
            source("sse", "counter", &format!("{}/events", server.base), ""),
            unit("Counter", "sensor")
        ),
    );

    let (mut hub, base) = start_hub(dir.path(), &config).await;
    let served = follow_stream(&base).await;
    // What the hub has acknowledged: the changes it served to a subscriber,
    // and the changes its store reports committed, as any reader of the
    // database sees them.
    let persisted = until("the hub to serve and persist 3000 changes", || {
        try_stored_events(&db)
            .filter(|events| events.len() >= 3000 && served.load(Ordering::SeqCst) >= 3000)
    })
    .await;
    hub.kill().await;
    let served = served.load(Ordering::SeqCst);
    let last_acknowledged: u64 = persisted.last().unwrap().1.parse().unwrap();
    assert!(
        last_acknowledged < TOTAL - 1 && served < TOTAL,
        "the kill came after the stream ended; the test proves nothing"
    );

    let after_crash = stored_events(&db);
    assert!(
        after_crash.starts_with(&persisted),
        "changes reported persisted before the kill are missing after it"
    );
    assert!(
        after_crash.len() as u64 >= served
            && after_crash
                .iter()
                .take(served as usize)
                .map(|(seq, _)| *seq)
                .eq(1..=served),
        "changes served to a subscriber before the kill (through seq {served}) are missing after it"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(conn);
    let last_stored: u64 = after_crash.last().unwrap().1.parse().unwrap();

    let (_hub, base) = start_hub(dir.path(), &config).await;
    let all = until(
        "the restarted hub to persist the rest of the stream",
        || {
            let events = stored_events(&db);
            let last = events.last().map(|(_, data)| data.clone());
            (last.as_deref() == Some(&(TOTAL - 1).to_string())).then_some(events)
        },
    )
    .await;
    let values: Vec<u64> = all.iter().map(|(_, data)| data.parse().unwrap()).collect();
    assert_eq!(
        values.len() as u64,
        TOTAL,
        "gap or duplicate in the event log"
    );
    assert!(values.iter().copied().eq(0..TOTAL), "events out of order");
    let seqs: Vec<u64> = all.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.iter().copied().eq(1..=TOTAL), "seq did not continue");
    let restored = client()
        .get(format!("{base}/api/states/sensor.counter"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        restored.contains(&format!("\"state\":\"{}\"", TOTAL - 1)),
        "the restarted hub serves the last state: {restored}"
    );
    let resumed = server
        .request(1)
        .expect("the restarted hub connected again");
    assert_eq!(
        resumed.header("last-event-id"),
        Some(last_stored.to_string()),
        "the restarted hub resumes after the last stored event"
    );
}
