//! MQTT out as a user runs it: the real binary (killed with `kill -9`),
//! the broker's own `mosquitto_sub`/`mosquitto_pub` as the other side, and
//! an `mqtts://` broker signed by a test CA.

mod support;

use std::process::Command;

use support::hub_process::HubProcess;
use support::mosquitto::Mosquitto;
use support::mqtt_client::MqttWatcher;
use support::server::TestServer;
use support::tls::TestCertificates;
use support::wait::until_async;

fn hub_toml(port: u16) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nwebsocket_port = 0\ndatabase = \":memory:\"\n\n\
         [mqtt_out]\nurl = \"mqtt://127.0.0.1:{port}\"\n\n\
         [[unit]]\naddress = \"LAMP\"\nkind = \"switch\"\n"
    )
}

#[tokio::test]
async fn killing_homebus_with_sigkill_leaves_offline_on_the_availability_topic() {
    let (_broker, _dir, mut watcher, mut hub) = hub_online().await;
    hub.kill().await;
    let will = watcher.next_on("homebus/status").await;
    assert_eq!(will.payload, "offline", "the last will");
}

/// A broker, and the real binary publishing to it once it says `online`
/// (seen by the returned watcher); the temp dir holds the hub's config.
async fn hub_online() -> (Mosquitto, tempfile::TempDir, MqttWatcher, HubProcess) {
    let broker = Mosquitto::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut watcher = MqttWatcher::connect(broker.port, &["homebus/status"]).await;
    let mut hub = HubProcess::start_toml(dir.path(), &hub_toml(broker.port));
    hub.drain_log();
    watcher
        .next_where("homebus/status", |p| p == "online")
        .await;
    (broker, dir, watcher, hub)
}

/// Runs a mosquitto client to the end and returns its stdout.
fn mosquitto_client(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} (Debian package mosquitto-clients; run scripts/test): {e}")
        });
    assert!(out.status.success(), "{program} {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn mosquitto_pub_switches_a_unit_and_mosquitto_sub_reads_its_state() {
    let (broker, _dir, _watcher, _hub) = hub_online().await;
    let port = broker.port.to_string();
    let common = ["-h", "127.0.0.1", "-p", port.as_str()];
    let publish = |payload: &str| {
        let mut args = common.to_vec();
        args.extend(["-t", "homebus/switch.lamp/set", "-m", payload]);
        mosquitto_client("mosquitto_pub", &args);
    };
    let retained_state = || {
        let mut args = common.to_vec();
        args.extend(["-t", "homebus/switch.lamp/state", "-C", "1", "-W", "2"]);
        let out = Command::new("mosquitto_sub").args(&args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    publish("ON");
    until_async("mosquitto_sub to read ON", || async {
        (retained_state() == "ON").then_some(())
    })
    .await;
    publish("OFF");
    until_async("mosquitto_sub to read OFF", || async {
        (retained_state() == "OFF").then_some(())
    })
    .await;
    let mut args = common.to_vec();
    args.extend(["-t", "homeassistant/switch/+/config", "-C", "1", "-W", "5"]);
    let config = mosquitto_client("mosquitto_sub", &args);
    assert!(
        config.contains("\"command_topic\":\"homebus/switch.lamp/set\""),
        "{config}"
    );
}

#[tokio::test]
async fn mqtt_out_connects_over_mqtts_to_a_broker_signed_by_the_configured_ca() {
    let certificates = TestCertificates::new();
    let broker = Mosquitto::start_configured(
        tempfile::tempdir().unwrap(),
        &certificates.mosquitto_tls_lines(false),
    )
    .await;
    let toml = format!(
        "[mqtt_out]\nurl = \"mqtts://127.0.0.1:{}\"\ntls = {{ ca_file = {:?} }}\n",
        broker.port, certificates.ca
    );
    let server = TestServer::start(&toml).await;
    server.switch("MOTION", true);
    until_async("states to go out over mqtts", || async {
        let text = server
            .client
            .get(server.url("/api/outputs"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let out: serde_json::Value = serde_json::from_str(&text).ok()?;
        (out[0]["state"] == "connected" && out[0]["published"].as_u64() >= Some(3)).then_some(())
    })
    .await;
}
