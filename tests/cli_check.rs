//! `homebus check` run as a user would: the real binary on files on disk.

mod support;

use std::path::Path;
use std::process::Output;

use support::cli::{homebus, stderr, succeeded};
use support::config::write;

fn check(path: &Path) -> Output {
    homebus(["check", "-c"])
        .arg(path)
        .output()
        .expect("the homebus binary runs")
}

/// Checks that `homebus check` accepts the file (exit 0) and counts what
/// it holds.
fn assert_ok(path: &Path, counts: &str) {
    assert_eq!(
        succeeded(&check(path)),
        format!("{}: ok ({counts})\n", path.display())
    );
}

/// The one error line `homebus check` prints for a config with one mistake
/// (exit 1).
fn only_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    (path.display().to_string(), stderr)
}

#[test]
fn good_config_prints_ok_with_counts_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"
[server]
listen = "127.0.0.1:8080"

[[source]]
name = "camera"
type = "sse"
url = "https://cam.local/events"

[[source]]
name = "weather"
type = "fetch"
url = "http://127.0.0.1:8080/"
events = ["temperature"]

[[unit]]
address = "MOTION"
kind = "switch"
"#,
    );
    assert_ok(&path, "2 sources, 1 units");
}

#[test]
fn config_with_three_mistakes_prints_all_three_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"[server]
listen = "8080"

[[source]]
name = "weather"
type = "fetch"
url = "http://127.0.0.1:8080/"
events = ["temperature"]
intervall = "5s"

[[unit]]
address = "MOTION"
kind = "swich"
"#,
    );
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = stderr(&out);
    let lines: Vec<&str> = stderr.lines().collect();
    let file = path.display().to_string();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("{file}:2:10: `listen`")),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with(&format!("{file}:9:1: unknown key `intervall`")),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!("{file}:13:8: `kind`")),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_one_clear_error_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.toml");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}: cannot read the config file", path.display())),
        "{stderr}"
    );
}

#[test]
fn neuro_source_blocks_pass_the_check() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/neuro.toml");
    assert_ok(&path, "4 sources, 0 units");
}

#[test]
fn a_key_the_source_type_does_not_take_is_refused_with_its_keys() {
    let (file, stderr) = only_error(
        "[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"http://h/\"\ntimeout = \"5s\"\n",
    );
    assert!(
        stderr.starts_with(&format!(
            "{file}:5:1: `timeout` in [[source]] `cam` only applies to `fetch` or `websocket` \
             sources, not `sse`; remove it (`sse` sources take `name`, `type`,"
        )),
        "{stderr}"
    );
}

#[test]
fn a_bare_number_for_reconnect_is_refused_with_a_hint_in_milliseconds() {
    let (file, stderr) = only_error(
        "[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"http://h/\"\nreconnect = 5000\n",
    );
    assert!(
        stderr.starts_with(&format!(
            "{file}:5:13: `reconnect` in [[source]] `cam` must be a duration with a unit, \
             not a bare number; write e.g. `reconnect = \"5000ms\"`"
        )),
        "{stderr}"
    );
}

#[test]
fn a_script_syntax_error_is_printed_at_the_script_files_line_and_column_and_run_refuses_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("motion.rhai");
    std::fs::write(&script, "// turn the hall on\nunit(\"HALL\").on(;\n").unwrap();
    let path = write(
        dir.path(),
        "[[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\non_script = \"motion.rhai\"\n",
    );
    let checked = stderr(&check(&path));
    let first = checked.lines().next().unwrap_or_default().to_string();
    assert!(
        first.starts_with(&format!("{}:2:", script.display())),
        "{checked}"
    );
    assert!(first.contains("Rhai syntax error"), "{checked}");
    let run = homebus(["run", "-c"])
        .arg(&path)
        .output()
        .expect("the homebus binary runs");
    assert!(!run.status.success());
    assert!(stderr(&run).contains(&first), "{}", stderr(&run));
}
