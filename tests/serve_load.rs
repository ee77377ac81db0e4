//! Fan-out under load over real sockets: a slow subscriber is cut off while
//! a fast one gets everything; a client that stops reading is disconnected;
//! thousands of connections come and go while others are served.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::server::TestServer;
use support::wait::{until, within, within_limit};

const CHANGES: u64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_subscriber_is_cut_off_while_a_fast_one_receives_all_100000_changes() {
    let server =
        TestServer::start("[server]\nlag_limit = 4096\nwrite_stall_timeout = \"10m\"").await;
    let mut slow = server.sse("/api/stream").await;
    let mut fast = server.sse("/api/stream").await;
    fast.block().await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let first = server.hub.bus().last_seq() + 1;
    let reader = {
        let received = received.clone();
        tokio::spawn(async move {
            let mut expected = first;
            while expected < first + CHANGES {
                let event = fast.event().await.expect("the fast stream ended");
                assert_eq!(
                    event.event, None,
                    "the fast subscriber was cut off: {event:?}"
                );
                assert_eq!(event.seq(), expected, "gap or duplicate");
                expected += 1;
                received.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for i in 0..CHANGES {
        server.set("TEMP", (i + 1) as f64);
        // The fast subscriber keeps up: publish ahead of it by at most
        // half the lag limit, whatever the machine's speed.
        if i % 512 == 0 {
            until("the fast subscriber to keep up", || {
                (received.load(Ordering::Relaxed) + 2048 > i).then_some(())
            })
            .await;
        }
    }
    within_limit(
        "the fast subscriber to receive every change",
        Duration::from_secs(60),
        reader,
    )
    .await
    .unwrap();
    // The slow one now reads what its socket holds, then its notice.
    let mut count = 0u64;
    let notice = loop {
        let block = slow
            .block()
            .await
            .expect("the slow stream ended without a notice");
        if block.event.as_deref() == Some("error") {
            break block;
        }
        if block.data.is_some() {
            count += 1;
        }
    };
    assert!(count < CHANGES, "the slow subscriber was never cut off");
    let json = notice.json();
    assert!(json["message"].as_str().unwrap().contains("Last-Event-ID"));
    assert!(json["last_event_id"].is_string());
    assert_eq!(
        slow.block().await,
        None,
        "the stream must end after the notice"
    );
    assert_eq!(
        server.metric("homebus_subscriber_drops_total{transport=\"sse_stream\"}"),
        Some(1)
    );
}

#[tokio::test]
async fn sse_client_that_stops_reading_is_disconnected() {
    let server =
        TestServer::start("[server]\nwrite_stall_timeout = \"200ms\"\nreplay_buffer = 16").await;
    let _silent = server.sse("/api/stream").await;
    let gauge = "homebus_subscribers{transport=\"sse_stream\"}";
    until("the subscriber", || {
        (server.metric(gauge) == Some(1)).then_some(())
    })
    .await;
    let pad = "x".repeat(16 * 1024);
    within("the silent client to be disconnected", async {
        let mut i = 0u64;
        while server.metric(gauge) != Some(0) {
            let attributes = serde_json::from_str(&format!(r#"{{"pad":"{pad}"}}"#)).unwrap();
            server
                .hub
                .set_state("sensor.temp", &i.to_string(), attributes)
                .unwrap();
            i += 1;
            // Paces the writes; the wait is for the disconnection.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_opened_and_dropped_leave_the_others_served() {
    let server = TestServer::start("").await;
    let mut kept = server.sse("/api/stream").await;
    kept.block().await.unwrap();
    let gauge = "homebus_subscribers{transport=\"sse_stream\"}";
    for round in 0..10 {
        let mut opened = Vec::new();
        for _ in 0..100 {
            let client = server.client.clone();
            let url = server.url("/api/stream");
            opened.push(tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.status(), 200);
                Some(response)
            }));
            // As many again never get past the TCP handshake.
            let addr = server.addr;
            opened.push(tokio::spawn(async move {
                drop(tokio::net::TcpStream::connect(addr).await.unwrap());
                None
            }));
        }
        let mut responses = Vec::new();
        for task in opened {
            responses.extend(task.await.unwrap());
        }
        assert_eq!(responses.len(), 100);
        drop(responses);
        let seq = server.switch("MOTION", round % 2 == 0);
        assert_eq!(kept.event().await.unwrap().seq(), seq);
    }
    until("dropped subscribers to be gone", || {
        (server.metric(gauge) == Some(1)).then_some(())
    })
    .await;
}
