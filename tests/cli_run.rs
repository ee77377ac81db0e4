//! `homebus run` as a user runs it: the real binary, a real SSE server,
//! logs of every change, and a clean stop on Ctrl-C.

mod support;

use std::time::Duration;

use axum::body::Bytes;
use support::hub_process::HubProcess;
use support::sse_server::{ScriptedServer, sse_then_hang};
use tokio::process::Command;

#[tokio::test]
async fn run_logs_changes_and_stops_cleanly_on_ctrl_c() {
    let server =
        ScriptedServer::start(|_| sse_then_hang(vec![Bytes::from_static(b"event: Motion\n\n")]))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homebus.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nwebsocket_port = 0\ndatabase = \":memory:\"\n\n\
             [[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"{}\"\n\n\
             [[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\n",
            server.base
        ),
    )
    .unwrap();
    let mut hub = HubProcess::start(dir.path(), &config);
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
    let status = hub.exit_within(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn version_prints_the_package_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_homebus"))
        .arg("--version")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("homebus {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn bad_config_is_refused_at_start_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homebus.toml");
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_homebus"))
        .args(["run", "-c"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("homebus.toml:3:1"), "{stderr}");
}
