//! `homebus tail` against real SSE servers: what it prints is what a
//! browser's EventSource would dispatch.

mod support;

use axum::body::Bytes;
use axum::http::StatusCode;
use support::cli::{failed, homebus, output, succeeded};
use support::sse_server::{ScriptedServer, plain, sse};

async fn tail(args: &[&str]) -> std::process::Output {
    output(homebus(["tail"].iter().chain(args))).await
}

const STREAM: &[u8] = b": a comment\n\
retry: 1500\n\
data: first\n\n\
event: Motion\n\n\
id: 7\nevent: temperature\ndata: 21\ndata: 22\n\n\
data:\n\n\
data: not dispatched, no blank line";

#[tokio::test]
async fn json_output_has_one_object_per_dispatched_event_and_retry_lines() {
    let server = ScriptedServer::start(|_| sse(Bytes::from_static(STREAM))).await;
    let output = tail(&["--json", &server.base]).await;
    assert_eq!(
        succeeded(&output),
        concat!(
            "{\"retry\":1500}\n",
            "{\"event\":\"message\",\"data\":\"first\",\"id\":\"\"}\n",
            "{\"event\":\"temperature\",\"data\":\"21\\n22\",\"id\":\"7\"}\n",
            "{\"event\":\"message\",\"data\":\"\",\"id\":\"7\"}\n",
        )
    );
}

#[tokio::test]
async fn post_with_body_and_headers_is_sent_as_given() {
    let server = ScriptedServer::start(|request| sse(format!("data: {}\n\n", request.body))).await;
    let output = tail(&[
        "--json",
        "-X",
        "POST",
        "-H",
        "X-Key: abc",
        "-d",
        "{\"watch\":\"all\"}",
        "--last-event-id",
        "41",
        &format!("{}/stream", server.base),
    ])
    .await;
    assert_eq!(
        succeeded(&output),
        "{\"event\":\"message\",\"data\":\"{\\\"watch\\\":\\\"all\\\"}\",\"id\":\"41\"}\n"
    );
    let request = server.request(0).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/stream");
    assert_eq!(request.header("x-key").as_deref(), Some("abc"));
    assert_eq!(request.header("last-event-id").as_deref(), Some("41"));
    assert_eq!(
        request.header("accept").as_deref(),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn body_without_method_is_posted() {
    let server =
        ScriptedServer::start(|request| sse(format!("data: {}\n\n", request.method))).await;
    let output = tail(&["--json", "-d", "x", &server.base]).await;
    assert_eq!(
        succeeded(&output),
        "{\"event\":\"message\",\"data\":\"POST\",\"id\":\"\"}\n"
    );
}

#[tokio::test]
async fn plain_output_prints_event_blocks() {
    let server =
        ScriptedServer::start(|_| sse(Bytes::from_static(b"id: 3\nevent: Door\ndata: on\n\n")))
            .await;
    let output = tail(&[&server.base]).await;
    assert_eq!(succeeded(&output), "event: Door\nid: 3\ndata: on\n\n");
}

#[tokio::test]
async fn error_status_fails_with_the_url_and_status() {
    let server =
        ScriptedServer::start(|_| plain(StatusCode::NOT_FOUND, "text/plain", "nope")).await;
    let output = tail(&[&server.base]).await;
    let stderr = failed(&output);
    assert!(
        stderr.contains(&server.base) && stderr.contains("404"),
        "{stderr}"
    );
}

#[tokio::test]
async fn html_page_fails_saying_it_is_not_an_event_stream() {
    let server = ScriptedServer::start(|_| plain(StatusCode::OK, "text/html", "<html>")).await;
    let output = tail(&[&server.base]).await;
    let stderr = failed(&output);
    assert!(stderr.contains("text/html"), "{stderr}");
}

#[tokio::test]
async fn https_stream_is_read_when_its_certificate_is_trusted() {
    let certificates = support::tls::TestCertificates::new();
    let server = ScriptedServer::start_tls(&certificates, |_| {
        sse(Bytes::from_static(b"data: secure\n\n"))
    })
    .await;
    let mut command = homebus(["tail", "--json", &server.base]);
    command.env("SSL_CERT_FILE", &certificates.ca);
    let output = output(command).await;
    assert_eq!(
        succeeded(&output),
        "{\"event\":\"message\",\"data\":\"secure\",\"id\":\"\"}\n"
    );
}

#[tokio::test]
async fn https_with_an_untrusted_certificate_fails_saying_so() {
    let certificates = support::tls::TestCertificates::new();
    let server = ScriptedServer::start_tls(&certificates, |_| {
        sse(Bytes::from_static(b"data: secure\n\n"))
    })
    .await;
    let output = tail(&[&server.base]).await;
    let stderr = failed(&output).to_lowercase();
    assert!(stderr.contains("certificate"), "{stderr}");
}
