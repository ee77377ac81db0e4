//! `homebus run` serves: the real binary answers on the address it logs,
//! streams a change to an SSE client, and ends the stream cleanly on SIGTERM.

mod support;

use support::config::{LOOPBACK_SERVER, unit};
use support::hub_process::HubProcess;
use support::server::SseReader;

#[tokio::test]
async fn run_serves_the_api_and_ends_streams_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \":memory:\"\n\n{}",
            unit("MOTION", "switch")
        ),
    );
    let base = hub.base_url().await;

    let client = support::server::client();
    let mut stream = SseReader::open(client.get(format!("{base}/api/stream"))).await;
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

    hub.signal("TERM").await;
    assert_eq!(stream.block().await, None, "the stream ends at shutdown");
    let status = hub.exit().await;
    assert!(status.success(), "exit status {status}");
}
