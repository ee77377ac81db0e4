//! `homebus run` serves: the real binary answers on the address it logs,
//! streams a change to an SSE client, and ends the stream cleanly on SIGTERM.

mod support;

use std::time::Duration;

use support::hub_process::HubProcess;

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
    let mut hub = HubProcess::start(dir.path(), &config);
    let base = hub.base_url().await;

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

    hub.signal("TERM").await;
    assert_eq!(stream.block().await, None, "the stream ends at shutdown");
    let status = hub.exit_within(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}
