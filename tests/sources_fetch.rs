//! The fetch source against real HTTP servers on loopback.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use homebus::sources::SourceState;
use support::hub::TestHub;
use support::peers::{Peer, handler, number_per_request, read_request, respond};
use support::wait::{until, within};
use tokio::sync::mpsc;

fn config(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"
[[source]]
name = "weather"
type = "fetch"
url = "http://{addr}/"
interval = "20ms"
events = ["temperature_fetch"]
{extra}

[[unit]]
address = "temperature_fetch"
kind = "sensor"
"#
    )
}

/// A server that answers every request with this status and body.
fn answering(status: Arc<AtomicUsize>, body: &'static str) -> support::peers::Handler {
    handler(move |mut stream, _| {
        let status = status.clone();
        async move {
            if read_request(&mut stream).await.is_some() {
                let code = status.load(Ordering::SeqCst) as u16;
                respond(&mut stream, code, &[], body).await;
            }
        }
    })
}

#[tokio::test]
async fn a_number_per_request_drives_a_sensor() {
    let server = Peer::start(number_per_request()).await;
    let hub = TestHub::start(&config(server.addr, ""));
    hub.wait_state("sensor.temperature_fetch", "a number above 10", |s| {
        s.state.parse::<u32>().is_ok_and(|n| n > 10)
    })
    .await;
}

#[tokio::test]
async fn a_500_is_shown_in_the_status_and_polling_recovers_on_200() {
    let status = Arc::new(AtomicUsize::new(500));
    let server = Peer::start(answering(status.clone(), "21")).await;
    let hub = TestHub::start(&config(server.addr, ""));
    let failing = hub
        .wait_source("weather", "the 500 in the status", |s| {
            s.last_error.as_deref().is_some_and(|e| e.contains("500"))
        })
        .await;
    assert_eq!(failing.state, SourceState::Reconnecting);
    assert_eq!(hub.state("sensor.temperature_fetch").unwrap(), "unknown");

    let polls_while_failing = server.connection_count();
    status.store(200, Ordering::SeqCst);
    hub.wait_state_is("sensor.temperature_fetch", "21").await;
    assert!(polls_while_failing >= 1);
    let view = hub
        .wait_source("weather", "connected again", |s| {
            s.state == SourceState::Connected
        })
        .await;
    assert_eq!(view.last_error, None);
}

#[tokio::test]
async fn polling_goes_on_after_failures() {
    let status = Arc::new(AtomicUsize::new(503));
    let server = Peer::start(answering(status, "1")).await;
    let hub = TestHub::start(&config(server.addr, ""));
    until("several polls of a failing server", || {
        (server.connection_count() >= 5).then_some(())
    })
    .await;
    assert_eq!(hub.source("weather").state, SourceState::Reconnecting);
}

#[tokio::test]
async fn state_resumes_after_the_server_goes_away_and_comes_back() {
    let mut server = Peer::start(number_per_request()).await;
    let hub = TestHub::start(&config(server.addr, ""));
    hub.wait_state("sensor.temperature_fetch", "a first number", |s| {
        s.state.parse::<u32>().is_ok()
    })
    .await;

    server.stop().await;
    let down = hub
        .wait_source("weather", "a refused connection in the status", |s| {
            s.last_error.is_some()
        })
        .await;
    assert_eq!(down.state, SourceState::Reconnecting);
    let before = hub.state("sensor.temperature_fetch").unwrap();

    server.restart().await;
    hub.wait_state("sensor.temperature_fetch", "a new number", |s| {
        s.state != before
    })
    .await;
}

#[tokio::test]
async fn an_unchanged_value_refreshes_last_updated_but_not_last_changed() {
    let server = Peer::start(answering(Arc::new(AtomicUsize::new(200)), "5")).await;
    let hub = TestHub::start(&config(server.addr, ""));
    let first = hub.wait_state_is("sensor.temperature_fetch", "5").await;
    let later = hub
        .wait_state("sensor.temperature_fetch", "a later poll", |s| {
            s.last_updated > first.last_updated
        })
        .await;
    assert_eq!(later.last_changed, first.last_changed);
    assert_eq!(later.state, "5");
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let (seen, mut requests) = mpsc::channel(8);
    let server = Peer::start(handler(move |mut stream, _| {
        let seen = seen.clone();
        async move {
            if let Some(request) = read_request(&mut stream).await {
                let _ = seen.try_send(request);
                respond(&mut stream, 200, &[], "1").await;
            }
        }
    }))
    .await;
    let _hub = TestHub::start(&config(
        server.addr,
        r#"method = "POST"
body = "{\"query\":\"temp\"}"
headers = { Authorization = "Bearer abc" }"#,
    ));
    let request = within("a request", requests.recv()).await.unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, r#"{"query":"temp"}"#);
    assert_eq!(request.header("authorization"), Some("Bearer abc"));
}

#[tokio::test]
async fn credentials_include_keeps_cookies_between_polls() {
    let (cookies, mut seen) = mpsc::channel::<Option<String>>(64);
    let server = Peer::start(handler(move |mut stream, n| {
        let cookies = cookies.clone();
        async move {
            if let Some(request) = read_request(&mut stream).await {
                let _ = cookies.try_send(request.header("cookie").map(str::to_string));
                let set = format!("session=s{n}; Path=/");
                respond(&mut stream, 200, &[("set-cookie", &set)], "1").await;
            }
        }
    }))
    .await;
    let _hub = TestHub::start(&config(server.addr, r#"credentials = "include""#));
    let cookie = within("a poll that sends the cookie back", async {
        loop {
            if let Some(cookie) = seen.recv().await.flatten() {
                return cookie;
            }
        }
    })
    .await;
    assert!(cookie.starts_with("session=s"), "{cookie}");
}

#[tokio::test]
async fn without_credentials_cookies_are_not_kept() {
    let (cookies, mut seen) = mpsc::channel::<Option<String>>(64);
    let server = Peer::start(handler(move |mut stream, _| {
        let cookies = cookies.clone();
        async move {
            if let Some(request) = read_request(&mut stream).await {
                let _ = cookies.try_send(request.header("cookie").map(str::to_string));
                respond(
                    &mut stream,
                    200,
                    &[("set-cookie", "session=x; Path=/")],
                    "1",
                )
                .await;
            }
        }
    }))
    .await;
    let _hub = TestHub::start(&config(server.addr, ""));
    for _ in 0..3 {
        let cookie = within("a poll", seen.recv()).await.unwrap();
        assert_eq!(cookie, None);
    }
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused() {
    let server = Peer::start(answering(
        Arc::new(AtomicUsize::new(200)),
        "123456789012345678901234567890",
    ))
    .await;
    let hub = TestHub::start(&config(server.addr, "max_event_size = 16"));
    let view = hub
        .wait_source("weather", "the size error", |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("max_event_size"))
        })
        .await;
    assert_eq!(view.events_seen, 0);
}

#[tokio::test]
async fn a_json_answer_with_a_pointer_sets_the_picked_value() {
    let server = Peer::start(answering(
        Arc::new(AtomicUsize::new(200)),
        r#"{"main":{"temp":18.5,"humidity":70}}"#,
    ))
    .await;
    let hub = TestHub::start(&config(
        server.addr,
        r#"format = "json"
json_pointer = "/main/temp""#,
    ));
    hub.wait_state_is("sensor.temperature_fetch", "18.5").await;
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_a_timeout_error() {
    let server = Peer::start(handler(|mut stream, _| async move {
        if read_request(&mut stream).await.is_some() {
            use tokio::io::AsyncReadExt;
            let mut rest = [0u8; 64];
            while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
        }
    }))
    .await;
    let hub = TestHub::start(&config(server.addr, r#"timeout = "100ms""#));
    let view = hub
        .wait_source("weather", "the timeout in the status", |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("no answer within 100ms"))
        })
        .await;
    assert_eq!(view.state, SourceState::Reconnecting);
}
