//! The file source against real files in a temporary directory.

mod support;

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use homebus::bus::BusMessage;
use homebus::sources::SourceState;
use support::config::unit;
use support::hub::TestHub;
use support::wait::within;

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"
[[source]]
name = "provider"
type = "file"
url = "{url}"
interval = "50ms"
{extra}

[[unit]]
address = "temperature_file"
kind = "sensor"
"#
    )
}

fn write(path: &Path, value: u32) {
    std::fs::write(path, format!("event=\"temperature_file\";data={value}")).unwrap();
}

/// The classic file provider: rewrites the file in a loop with a new
/// two-digit reading, truncating it first and writing it in two pieces (the
/// last digit apart), so a reader can catch it empty or half-written — a
/// half-written `data=4` of `data=42` is a valid but wrong reading.
fn rewrite_in_a_loop(path: &Path) -> tokio::task::JoinHandle<()> {
    let path = path.to_path_buf();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let mut ticks = tokio::time::interval(Duration::from_millis(40));
        for round in 0u32.. {
            ticks.tick().await;
            let value = 10 + round % 90;
            let text = format!("event=\"temperature_file\";data={value}");
            let (head, tail) = text.split_at(text.len() - 1);
            let mut file = tokio::fs::File::create(&path).await.unwrap();
            file.write_all(head.as_bytes()).await.unwrap();
            file.flush().await.unwrap();
            tokio::task::yield_now().await;
            file.write_all(tail.as_bytes()).await.unwrap();
            file.flush().await.unwrap();
        }
    })
}

#[tokio::test]
async fn a_file_rewritten_in_a_loop_drives_a_sensor_and_is_never_half_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.txt");
    write(&path, 10);
    let hub = TestHub::start(&config(path.to_str().unwrap(), ""));
    let mut changes = hub.hub.bus().subscribe(None).unwrap();
    let writer = rewrite_in_a_loop(&path);
    let mut readings = Vec::new();
    within("five readings", async {
        while readings.len() < 5 {
            let envelope = changes.next().await.unwrap().unwrap();
            if let BusMessage::State(change) = &envelope.message {
                readings.push(change.new.as_ref().unwrap().state.clone());
            }
        }
    })
    .await;
    writer.abort();
    for reading in &readings {
        let value: u32 = reading.parse().unwrap_or_else(|_| panic!("{reading:?}"));
        assert!(
            (10..100).contains(&value),
            "a half-written file was applied: {readings:?}"
        );
    }
}

#[tokio::test]
async fn a_file_url_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.txt");
    write(&path, 42);
    let url = format!("file://{}", path.display());
    let hub = TestHub::start(&config(&url, ""));
    hub.wait_state_is("sensor.temperature_file", "42").await;
}

#[tokio::test]
async fn a_change_is_read_at_once_without_waiting_for_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.txt");
    write(&path, 1);
    let toml = config(path.to_str().unwrap(), "").replace("\"50ms\"", "\"1h\"");
    let hub = TestHub::start(&toml);
    hub.wait_state_is("sensor.temperature_file", "1").await;
    write(&path, 2);
    hub.wait_state_is("sensor.temperature_file", "2").await;
}

#[tokio::test]
async fn a_missing_file_is_a_status_error_until_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.txt");
    let hub = TestHub::start(&config(path.to_str().unwrap(), ""));
    let view = hub
        .wait_source("provider", "the missing file in the status", |s| {
            s.last_error
                .as_deref()
                .is_some_and(|e| e.contains("does not exist"))
        })
        .await;
    assert_eq!(view.state, SourceState::Reconnecting);
    write(&path, 5);
    hub.wait_state_is("sensor.temperature_file", "5").await;
    assert_eq!(hub.source("provider").last_error, None);
}

#[tokio::test]
async fn a_file_deleted_and_recreated_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.txt");
    write(&path, 11);
    let hub = TestHub::start(&config(path.to_str().unwrap(), ""));
    hub.wait_state_is("sensor.temperature_file", "11").await;
    std::fs::remove_file(&path).unwrap();
    hub.wait_source("provider", "the deleted file in the status", |s| {
        s.last_error.is_some()
    })
    .await;
    write(&path, 22);
    hub.wait_state_is("sensor.temperature_file", "22").await;
}

#[tokio::test]
async fn several_events_in_one_file_are_all_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.txt");
    std::fs::write(
        &path,
        "event=\"temperature_file\";data=19\nevent=\"usermessage\";data=\"HELLO NĖURO!\"\nevent=\"door\";data=on\n",
    )
    .unwrap();
    let toml = config(path.to_str().unwrap(), "") + unit("door", "switch").as_str();
    let hub = TestHub::start(&toml);
    hub.wait_state_is("sensor.temperature_file", "19").await;
    hub.wait_state_is("switch.door", "on").await;
}
