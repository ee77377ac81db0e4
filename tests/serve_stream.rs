//! `/api/stream` and `/subscribe_events` over real sockets.

mod support;

use support::server::TestServer;

#[tokio::test]
async fn stream_sends_retry_first() {
    let server = TestServer::start("[server]\nsse_retry = \"2500ms\"").await;
    let mut stream = server.sse("/api/stream").await;
    let first = stream.block().await.unwrap();
    assert_eq!(first.retry, Some(2500));
}

#[tokio::test]
async fn stream_sends_state_change_in_home_assistant_shape_with_seq_id() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream").await;
    stream.block().await.unwrap();
    let seq = server.switch("MOTION", true);
    let event = stream.event().await.unwrap();
    assert_eq!(event.seq(), seq);
    let json = event.json();
    assert_eq!(json["event_type"], "state_changed");
    assert_eq!(json["data"]["entity_id"], "switch.motion");
    assert_eq!(json["data"]["old_state"]["state"], "unknown");
    assert_eq!(json["data"]["new_state"]["state"], "on");
    assert_eq!(json["data"]["new_state"]["attributes"]["kind"], "switch");
    let fired = json["time_fired"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(fired).expect("RFC 3339 time_fired");
}

#[tokio::test]
async fn stream_sends_fired_events_with_their_type() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream").await;
    stream.block().await.unwrap();
    let response = server
        .client
        .post(server.url("/api/events/doorbell_pressed"))
        .body(r#"{"door": "front"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["event_type"], "doorbell_pressed");
    assert_eq!(json["data"]["door"], "front");
}

#[tokio::test]
async fn restrict_keeps_only_the_listed_event_types() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream?restrict=doorbell,other").await;
    stream.block().await.unwrap();
    server.switch("MOTION", true);
    server.hub.fire_event("ignored", serde_json::json!({}));
    server
        .hub
        .fire_event("doorbell", serde_json::json!({"n": 1}));
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["event_type"], "doorbell");
}

#[tokio::test]
async fn restrict_state_changed_drops_fired_events() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/api/stream?restrict=state_changed").await;
    stream.block().await.unwrap();
    server.hub.fire_event("doorbell", serde_json::json!({}));
    let seq = server.switch("MOTION", true);
    let event = stream.event().await.unwrap();
    assert_eq!(event.seq(), seq);
    assert_eq!(event.json()["event_type"], "state_changed");
}

#[tokio::test]
async fn idle_stream_gets_keep_alive_comments() {
    let server = TestServer::start("[server]\nkeepalive = \"50ms\"").await;
    let mut response = server
        .client
        .get(server.url("/api/stream"))
        .send()
        .await
        .unwrap();
    // EventSource parsers drop comments, so look at the bytes themselves.
    let mut seen = Vec::new();
    let found = support::wait::within("a keep-alive comment", async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            seen.extend_from_slice(&chunk);
            let comment = b"\n: keep-alive\n";
            if seen.windows(comment.len()).any(|w| w == comment) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(found, "{}", String::from_utf8_lossy(&seen));
}

async fn resume_after(
    server: &TestServer,
    request: reqwest::RequestBuilder,
    after: u64,
    last: u64,
) {
    let mut stream = server.sse_with(request).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        seen.push(stream.event().await.unwrap().seq());
    }
    let expected: Vec<u64> = (after + 1..=last).collect();
    assert_eq!(seen, expected, "resumed stream has a gap or a duplicate");
}

#[tokio::test]
async fn last_event_id_header_resumes_without_gap_or_duplicate() {
    let server = TestServer::start("").await;
    let mut seqs = Vec::new();
    for i in 0..10 {
        seqs.push(server.set("TEMP", f64::from(i)));
    }
    let request = server
        .client
        .get(server.url("/api/stream"))
        .header("Last-Event-ID", seqs[3].to_string());
    // Changes keep coming while the client reconnects.
    let hub = server.hub.clone();
    let writer = tokio::spawn(async move {
        let mut last = 0;
        for i in 10..200 {
            last = hub
                .command(
                    "TEMP",
                    &homebus::interpret::Command::SetValue(homebus::interpret::Number::from_f64(
                        f64::from(i),
                    )),
                )
                .unwrap()
                .unwrap()
                .seq();
            tokio::task::yield_now().await;
        }
        last
    });
    let last = writer.await.unwrap();
    resume_after(&server, request, seqs[3], last).await;
}

#[tokio::test]
async fn last_event_id_query_parameter_resumes_too() {
    let server = TestServer::start("").await;
    let first = server.set("TEMP", 1.0);
    let last = server.set("TEMP", 2.0);
    let request = server
        .client
        .get(server.url(&format!("/api/stream?lastEventId={first}")));
    resume_after(&server, request, first, last).await;
}

#[tokio::test]
async fn resume_from_an_id_no_longer_held_sends_reset_then_live_changes() {
    let server = TestServer::start("[server]\nreplay_buffer = 3").await;
    let old = server.set("TEMP", 0.0);
    for i in 1..10 {
        server.set("TEMP", f64::from(i));
    }
    let mut stream = server
        .sse_with(
            server
                .client
                .get(server.url("/api/stream"))
                .header("Last-Event-ID", old.to_string()),
        )
        .await;
    let reset = stream.event().await.unwrap();
    assert_eq!(reset.event.as_deref(), Some("reset"));
    assert!(
        reset.json()["message"]
            .as_str()
            .unwrap()
            .contains("/api/states")
    );
    let live = server.set("TEMP", 99.0);
    assert_eq!(stream.event().await.unwrap().seq(), live);
}

#[tokio::test]
async fn shutdown_ends_every_stream_cleanly() {
    let mut server = TestServer::start("").await;
    let mut one = server.sse("/api/stream").await;
    let mut two = server.sse("/subscribe_events").await;
    one.block().await.unwrap();
    two.block().await.unwrap();
    server.stop().await;
    assert_eq!(one.block().await, None);
    assert_eq!(two.block().await, None);
}

#[tokio::test]
async fn curl_receives_a_state_change() {
    let server = TestServer::start("[auth]\napi_keys = [\"K\"]").await;
    let mut curl = tokio::process::Command::new("curl")
        .args(["-sN", "-H", "x-ha-access: K", &server.url("/api/stream")])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl is installed");
    let stdout = curl.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    // curl is connected once the server counts its subscriber.
    support::wait::until("curl to connect", || {
        (server.metric("homebus_subscribers{transport=\"sse_stream\"}") == Some(1)).then_some(())
    })
    .await;
    server.switch("MOTION", true);
    let line = support::wait::within("curl to print a data line", async {
        loop {
            let line = lines.next_line().await.unwrap().expect("curl output ended");
            if line.starts_with("data: ") {
                return line;
            }
        }
    })
    .await;
    assert!(line.contains("\"entity_id\":\"switch.motion\""), "{line}");
    assert!(line.contains("\"state\":\"on\""), "{line}");
}

#[tokio::test]
async fn subscribe_events_sends_flat_state_changes_with_seq_id() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/subscribe_events?type=state").await;
    stream.block().await.unwrap();
    let seq = server.set("TEMP", 21.5);
    let event = stream.event().await.unwrap();
    assert_eq!(event.seq(), seq);
    let json = event.json();
    assert_eq!(json["type"], "state_changed");
    assert_eq!(json["entity_id"], "sensor.temp");
    assert_eq!(json["state"], "21.5");
    assert_eq!(json["attributes"]["value"], 21.5);
    assert!(json["timestamp"].is_string());
}

#[tokio::test]
async fn subscribe_events_filters_by_domain() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/subscribe_events?domain=light,sensor").await;
    stream.block().await.unwrap();
    server.switch("MOTION", true);
    server.hub.fire_event("doorbell", serde_json::json!({}));
    server.set("BRIGHTNESS", 40.0);
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["entity_id"], "light.brightness");
}

#[tokio::test]
async fn subscribe_events_filters_by_entity_id() {
    let server = TestServer::start("").await;
    let mut stream = server
        .sse("/subscribe_events?type=state&entity_id=sensor.temp")
        .await;
    stream.block().await.unwrap();
    server.set("BRIGHTNESS", 40.0);
    server.set("TEMP", 3.0);
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["entity_id"], "sensor.temp");
}

#[tokio::test]
async fn subscribe_events_type_event_sends_only_fired_events() {
    let server = TestServer::start("").await;
    let mut stream = server.sse("/subscribe_events?type=event").await;
    stream.block().await.unwrap();
    server.set("TEMP", 3.0);
    server
        .hub
        .fire_event("doorbell", serde_json::json!({"n": 2}));
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["type"], "doorbell");
    assert_eq!(json["data"]["n"], 2);
}

#[tokio::test]
async fn subscribe_events_resumes_from_last_event_id() {
    let server = TestServer::start("").await;
    let first = server.set("TEMP", 1.0);
    server.set("BRIGHTNESS", 10.0);
    let last = server.set("TEMP", 2.0);
    let mut stream = server
        .sse_with(
            server
                .client
                .get(server.url("/subscribe_events?entity_id=sensor.temp"))
                .header("Last-Event-ID", first.to_string()),
        )
        .await;
    assert_eq!(stream.event().await.unwrap().seq(), last);
}

#[tokio::test]
async fn resume_from_an_id_this_hub_never_gave_sends_reset() {
    let server = TestServer::start("").await;
    server.set("TEMP", 1.0);
    let mut stream = server
        .sse_with(
            server
                .client
                .get(server.url("/api/stream"))
                .header("Last-Event-ID", "999999"),
        )
        .await;
    let reset = stream.event().await.unwrap();
    assert_eq!(reset.event.as_deref(), Some("reset"));
    let live = server.set("TEMP", 2.0);
    assert_eq!(stream.event().await.unwrap().seq(), live);
}
