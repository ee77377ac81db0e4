//! `homebus run` serves: the real binary answers on the address it logs,
//! streams a change to an SSE client, and ends the stream cleanly on SIGTERM.

mod support;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn run_serves_the_api_and_ends_streams_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("homebus.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\nwebsocket_port = 0\ndatabase = \":memory:\"\n\n\
         [[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_homebus"))
        .args(["run", "-c"])
        .arg(&config)
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(support::wait::DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split(" addr=").nth(1) {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("homebus ended without logging its address");
    })
    .await
    .expect("homebus logged no address");
    let base = format!("http://{addr}");

    let client = support::server::client();
    let mut stream = support::server::SseReader::new(
        client
            .get(format!("{base}/api/stream"))
            .send()
            .await
            .unwrap(),
    );
    stream.block().await.unwrap();
    let response = client
        .post(format!("{base}/api/units/MOTION/command"))
        .body(r#"{"command":"on"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let json = stream.event().await.unwrap().json();
    assert_eq!(json["data"]["new_state"]["state"], "on");

    let pid = child.id().unwrap().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    assert_eq!(stream.block().await, None, "the stream ends at shutdown");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("homebus stops within 10 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}
