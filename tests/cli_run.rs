//! `homebus run` as a user runs it: the real binary, a real SSE server,
//! logs of every change, and a clean stop on Ctrl-C.

mod support;

use axum::body::Bytes;
use support::cli::{failed, homebus, output};
use support::config::{LOOPBACK_SERVER, source, unit, write};
use support::hub_process::HubProcess;
use support::sse_server::{ScriptedServer, sse_then_hang};
use support::wait::until_async;

#[tokio::test]
async fn run_logs_changes_and_stops_cleanly_on_ctrl_c() {
    let server =
        ScriptedServer::start(|_| sse_then_hang(vec![Bytes::from_static(b"event: Motion\n\n")]))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \":memory:\"\n\n{}{}",
            source("sse", "cam", &server.base, ""),
            unit("MOTION", "switch")
        ),
    );
    hub.wait_for_log("the change of switch.motion", |line| {
        (line.contains("switch.motion") && line.contains("unknown → on")).then_some(())
    })
    .await;
    assert!(
        hub.log.contains("cam"),
        "the source is named in the log:\n{}",
        hub.log
    );

    hub.signal("INT").await;
    let status = hub.exit().await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn bad_config_is_refused_at_start_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n",
    );
    let mut command = homebus(["run", "-c"]);
    command.arg(&config);
    let output = output(command).await;
    let stderr = failed(&output);
    assert!(stderr.contains("homebus.toml:3:1"), "{stderr}");
}

/// The store's counters are on `/metrics` of the running binary, and show
/// every change as persisted once the hub has answered for it.
#[tokio::test]
async fn metrics_show_what_the_store_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \"{}\"\n\n{}",
            dir.path().join("homebus.db").display(),
            unit("LAMP", "switch")
        ),
    );
    let base = hub.base_url().await;
    let http = support::server::client();
    for command in ["on", "off", "on"] {
        let answer = http
            .post(format!("{base}/api/units/LAMP/command"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"command":"{command}"}}"#))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
    let sample = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    };
    let read_metrics = || async {
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let text = until_async("the store to report three changes persisted", || async {
        let text = read_metrics().await;
        let persisted = sample(&text, "homebus_store_changes_persisted_total");
        let timed = sample(&text, "homebus_store_persist_delay_seconds_count");
        (persisted.is_some_and(|n| n >= 3) && timed.is_some_and(|n| n >= 3)).then_some(text)
    })
    .await;
    let last = sample(&text, "homebus_last_seq").unwrap();
    assert_eq!(
        sample(&text, "homebus_store_persisted_seq"),
        Some(last),
        "{text}"
    );
    assert_eq!(
        sample(&text, "homebus_store_accepted_seq"),
        Some(last),
        "{text}"
    );
    assert_eq!(
        sample(&text, "homebus_store_write_errors_total"),
        Some(0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE homebus_store_backpressure_waits_total counter"),
        "{text}"
    );
    // Every persisted change was timed from its publish to its commit.
    assert_eq!(
        sample(&text, "homebus_store_persist_delay_seconds_count"),
        sample(&text, "homebus_store_changes_persisted_total"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "homebus_store_persist_delay_seconds_bucket{le=\"+Inf\"}"
        ),
        sample(&text, "homebus_store_changes_persisted_total"),
        "{text}"
    );

    hub.signal("INT").await;
    assert!(hub.exit().await.success());
}
