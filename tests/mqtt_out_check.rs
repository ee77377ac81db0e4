//! `homebus check` on `[mqtt_out]`: the real binary on files on disk.

mod support;

use support::cli::{homebus, stderr, succeeded};
use support::config::write;

#[test]
fn check_accepts_a_complete_mqtt_out_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"
[mqtt_out]
url = "mqtt://127.0.0.1:1883"
prefix = "homebus"
discovery_prefix = "homeassistant"
qos = 1
retain = true
include = ["switch.*", "light.*"]

[[unit]]
address = "DOOR"
kind = "switch"
binary_sensor = true
device_class = "door"
"#,
    );
    let out = homebus(["check", "-c"]).arg(&path).output().unwrap();
    assert_eq!(
        succeeded(&out),
        format!("{}: ok (0 sources, 1 units)\n", path.display())
    );
}

#[test]
fn check_reports_a_bad_qos_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[mqtt_out]\nurl = \"mqtt://127.0.0.1:1883\"\nqos = 2\n",
    );
    let out = homebus(["check", "-c"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "{}:3:7: `qos` in [mqtt_out] is 2; it must be between 0 and 1\n",
            path.display()
        )
    );
}
