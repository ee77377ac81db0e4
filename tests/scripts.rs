//! Unit and source scripts in the hub as `homebus run` composes it, fed by
//! a real SSE source.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use futures_util::{StreamExt, stream};
use homebus::app::RunningHub;
use homebus::interpret::Command;
use support::config::{LOOPBACK_SERVER, source, unit};
use support::hub_process::HubProcess;
use support::server::TestServer;
use support::sse_server::{ScriptedServer, plain, sse_stream, sse_then_hang};
use support::wait::{until, until_async, within, within_limit};
use tokio::sync::Notify;

async fn start(toml: &str) -> RunningHub {
    let config =
        support::config::parse(&format!("{LOOPBACK_SERVER}database = \":memory:\"\n{toml}"));
    homebus::app::start(config).await.expect("the hub starts")
}

/// `entity_id`'s `attributes.script_error`, once it is set.
async fn script_error(running: &RunningHub, entity_id: &str) -> serde_json::Value {
    until("the script error", || {
        Some(attribute(running, entity_id, "script_error")).filter(|e| !e.is_null())
    })
    .await
}

fn state(running: &RunningHub, entity_id: &str) -> String {
    running
        .hub()
        .state(entity_id)
        .map(|s| s.state)
        .unwrap_or_default()
}

/// Waits, as `what`, until `entity_id`'s state is `wanted`.
async fn reads(running: &RunningHub, entity_id: &str, wanted: &str, what: &str) {
    until(what, || (state(running, entity_id) == wanted).then_some(())).await;
}

fn attribute(running: &RunningHub, entity_id: &str, name: &str) -> serde_json::Value {
    running
        .hub()
        .state(entity_id)
        .and_then(|s| s.attributes.get(name).cloned())
        .unwrap_or_default()
}

const MOTION_LIGHT: &str = r#"
[[unit]]
address = "MOTION"
kind = "switch"
on_script = '''
unit("HALL").on();
let pending = unit("HALL").attributes.timer;
if pending != () { cancel(pending); }
let handle = after("300ms", || unit("HALL").off());
unit("HALL").attributes(#{ timer: handle });
'''

[[unit]]
address = "HALL"
kind = "switch"
"#;

#[tokio::test]
async fn motion_turns_the_hall_on_and_the_delay_turns_it_off() {
    let server = ScriptedServer::start(|_| sse_then_hang(vec!["event: Motion\n\n".into()])).await;
    let running = start(&(source("sse", "cam", &server.base, "") + MOTION_LIGHT)).await;
    reads(&running, "switch.hall", "on", "HALL on").await;
    reads(&running, "switch.hall", "off", "HALL off after the delay").await;
}

#[tokio::test]
async fn new_motion_within_the_delay_re_arms_the_timer() {
    // The camera sends a second Motion when the test says so.
    let again = Arc::new(Notify::new());
    let signal = again.clone();
    let server = ScriptedServer::start(move |_| {
        let signal = signal.clone();
        let first =
            stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"event: Motion\n\n")) });
        let second = stream::once(async move {
            signal.notified().await;
            Ok(Bytes::from_static(b"event: Motion\n\n"))
        });
        sse_stream(first.chain(second).chain(stream::pending()))
    })
    .await;
    let running = start(&(source("sse", "cam", &server.base, "") + MOTION_LIGHT)).await;
    reads(&running, "switch.hall", "on", "HALL on").await;
    let first = attribute(&running, "switch.hall", "timer");
    // Motion again, within the 300 ms delay: the first timer is cancelled
    // and a new one set.
    tokio::time::sleep(Duration::from_millis(150)).await;
    again.notify_one();
    until("a new timer", || {
        let now = attribute(&running, "switch.hall", "timer");
        (now != first).then_some(())
    })
    .await;
    let rearmed_at = Instant::now();
    reads(&running, "switch.hall", "off", "HALL off").await;
    assert!(
        rearmed_at.elapsed() >= Duration::from_millis(200),
        "the first timer was not cancelled"
    );
}

#[tokio::test]
async fn on_unparsed_turns_a_text_line_into_two_unit_changes() {
    let server = ScriptedServer::start(|_| {
        sse_then_hang(vec!["event: CAM\ndata: motion=1;lux=310\n\n".into()])
    })
    .await;
    let scripts = r#"on_unparsed = '''
for pair in data.split(";") {
    let kv = pair.split("=");
    if kv[0] == "motion" { if kv[1] == "1" { unit("CAM_MOTION").on() } else { unit("CAM_MOTION").off() } }
    if kv[0] == "lux" { unit("LUX").set(kv[1]) }
}
'''"#;
    let running = start(
        &(source("sse", "cam", &server.base, scripts)
            + "[[unit]]\naddress = \"CAM\"\nkind = \"sensor\"\n"
            + "[[unit]]\naddress = \"CAM_MOTION\"\nkind = \"switch\"\n"
            + "[[unit]]\naddress = \"LUX\"\nkind = \"sensor\"\n"),
    )
    .await;
    reads(&running, "switch.cam_motion", "on", "motion on").await;
    reads(&running, "sensor.lux", "310", "lux 310").await;
}

#[tokio::test]
async fn on_error_runs_with_the_error_and_the_attempt_when_the_server_is_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let running = start(
        &(source(
            "sse",
            "cam",
            &url,
            "reconnect = \"20ms\"\non_error = 'unit(\"CAM_DOWN\").attributes(#{ error: error, attempt: attempt, source: source })'",
        ) + "[[unit]]\naddress = \"CAM_DOWN\"\nkind = \"switch\"\n"),
    )
    .await;
    until("a second attempt", || {
        (attribute(&running, "switch.cam_down", "attempt").as_i64() >= Some(2)).then_some(())
    })
    .await;
    assert_eq!(attribute(&running, "switch.cam_down", "source"), "cam");
    // `error` is the sentence `/api/sources` shows as `last_error`.
    until("the script's error to be the source's last_error", || {
        let error = attribute(&running, "switch.cam_down", "error");
        let last_error = running.hub().sources()[0].last_error.clone()?;
        (error.as_str() == Some(last_error.as_str()) && !last_error.is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_script_that_never_ends_is_stopped_and_its_error_shows_on_the_unit() {
    let running = start(
        "[scripts]\nmax_run_time = \"100ms\"\nmax_operations = 1000000000\n\
         [[unit]]\naddress = \"SPIN\"\nkind = \"switch\"\non_script = 'loop {}'\n\
         [[unit]]\naddress = \"OTHER\"\nkind = \"switch\"\n",
    )
    .await;
    let started = std::time::Instant::now();
    running.hub().command("SPIN", &Command::On).unwrap();
    // The hub keeps applying commands meanwhile.
    running.hub().command("OTHER", &Command::On).unwrap();
    assert_eq!(state(&running, "switch.other"), "on");
    let error = script_error(&running, "switch.spin").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(error["script"], "unit/SPIN/on_script", "{error}");
    let reason = error["reason"].as_str().unwrap();
    assert!(reason.contains("max_run_time"), "{error}");
}

#[tokio::test]
async fn a_failed_run_shows_script_place_and_reason_apart_until_the_next_good_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("lamp_on.rhai");
    std::fs::write(
        &script,
        "let plugged = false;\n  throw \"the lamp is unplugged\";\n",
    )
    .unwrap();
    let running = start(&format!(
        "[[unit]]\naddress = \"LAMP\"\nkind = \"switch\"\non_script = {:?}\n\
         off_script = 'log(\"lamp off\")'\n",
        script.display().to_string()
    ))
    .await;
    running.hub().command("LAMP", &Command::On).unwrap();
    let error = script_error(&running, "switch.lamp").await;
    assert_eq!(
        error,
        serde_json::json!({
            "script": "unit/LAMP/on_script",
            "at": format!("{}:2:3", script.display()),
            "reason": "Runtime error: the lamp is unplugged",
        })
    );
    running.hub().command("LAMP", &Command::Off).unwrap();
    until("the error cleared by the good Off run", || {
        attribute(&running, "switch.lamp", "script_error")
            .is_null()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn two_units_commanding_each_other_stop_at_depth_8_with_a_logged_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \":memory:\"\n\
             [[unit]]\naddress = \"PING\"\nkind = \"switch\"\non_script = 'unit(\"PONG\").on()'\n\
             [[unit]]\naddress = \"PONG\"\nkind = \"switch\"\non_script = 'unit(\"PING\").on()'\n"
        ),
    );
    let base = hub.base_url().await;
    let client = support::server::client();
    command(&client, &base, "PING", r#"{"command":"on"}"#).await;
    let refusal = hub
        .wait_for_log("the refusal", |line| {
            line.contains("refused to run").then(|| line.to_string())
        })
        .await;
    hub.drain_log();
    assert!(refusal.contains("unit/PING/on_script"), "{refusal}");
    assert!(refusal.contains("depth 8"), "{refusal}");
    let metrics = get_text(&client, &format!("{base}/metrics")).await.unwrap();
    // Depths 1 to 8: PING, PONG, PING, … four runs each, then the refusal.
    for script in ["PING", "PONG"] {
        let runs = format!("homebus_script_runs_total{{script=\"unit/{script}/on_script\"}} 4");
        assert!(metrics.contains(&runs), "no `{runs}` in\n{metrics}");
    }
    assert!(
        metrics.contains("homebus_script_depth_refusals_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unit_finds_a_unit_by_any_case_address_or_entity_id_and_commands_it() {
    let running = start(
        r#"[[unit]]
address = "BUTTON"
kind = "switch"
on_script = '''
unit("hall").toggle();
unit("light.level").set("47,5");
unit("Note").attributes(#{ by: unit.address, when: event });
'''
off_script = 'unit("HALL").toggle(); unit("NOBODY").on()'
[[unit]]
address = "HALL"
kind = "switch"
[[unit]]
address = "LEVEL"
kind = "dimmer"
[[unit]]
address = "NOTE"
kind = "switch"
"#,
    )
    .await;
    running.hub().command("BUTTON", &Command::On).unwrap();
    until("NOTE's attributes", || {
        (attribute(&running, "switch.note", "by") == "BUTTON").then_some(())
    })
    .await;
    assert_eq!(state(&running, "switch.hall"), "on");
    assert_eq!(attribute(&running, "light.level", "value"), 47.5);
    // A command from the API has no source event.
    assert!(attribute(&running, "switch.note", "when").is_null());

    running.hub().command("BUTTON", &Command::Off).unwrap();
    let error = script_error(&running, "switch.button").await;
    assert_eq!(
        state(&running, "switch.hall"),
        "off",
        "toggle turned it off"
    );
    let reason = error["reason"].as_str().unwrap();
    assert!(
        reason.contains(r#"unit("NOBODY"): no unit has this address or entity id"#),
        "{reason}"
    );
}

#[tokio::test]
async fn a_script_reads_a_units_state_value_attributes_and_last_changed() {
    let running = start(
        r#"[[unit]]
address = "READER"
kind = "switch"
on_script = '''
let level = unit("LEVEL");
unit("OUT").attributes(#{
    state: level.state, value: level.value, level_kind: level.attributes.kind,
    changed: level.last_changed, none: unit("OUT").value, now: now()
});
'''
[[unit]]
address = "LEVEL"
kind = "dimmer"
[[unit]]
address = "OUT"
kind = "switch"
"#,
    )
    .await;
    let hub = running.hub();
    hub.command("LEVEL", &homebus::interpret::interpret(Some("30")))
        .unwrap();
    let level = hub.state("light.level").unwrap();
    hub.command("READER", &Command::On).unwrap();
    until("OUT's attributes", || {
        attribute(&running, "switch.out", "now")
            .as_str()
            .map(|_| ())
    })
    .await;
    assert_eq!(
        attribute(&running, "switch.out", "state"),
        level.state.as_str()
    );
    assert_eq!(attribute(&running, "switch.out", "value"), 30.0);
    assert_eq!(attribute(&running, "switch.out", "level_kind"), "dimmer");
    let text = |name: &str| {
        attribute(&running, "switch.out", name)
            .as_str()
            .unwrap()
            .to_string()
    };
    // The same text as the REST API's `last_changed`.
    let rest = serde_json::to_value(&level).unwrap();
    assert_eq!(text("changed"), rest["last_changed"].as_str().unwrap());
    assert!(attribute(&running, "switch.out", "none").is_null());
    let now = chrono::DateTime::parse_from_rfc3339(&text("now")).unwrap();
    assert!(
        now >= level.last_changed,
        "{now} before {}",
        level.last_changed
    );
}

#[tokio::test]
async fn log_and_fire_reach_every_stream_as_events() {
    let server = TestServer::start(
        r#"[[unit]]
address = "BELL"
kind = "switch"
on_script = 'log("someone rang"); fire("doorbell", #{ ring: 2 }); fire("chime")'
"#,
    )
    .await;
    let mut stream = server.sse("/api/stream").await;
    server.switch("BELL", true);
    let log = serde_json::json!({"script": "unit/BELL/on_script", "message": "someone rang"});
    let mut wanted = vec![
        ("homebus_script_log", log),
        ("doorbell", serde_json::json!({"ring": 2})),
        ("chime", serde_json::json!({})),
    ];
    within("the script's events on /api/stream", async {
        while !wanted.is_empty() {
            let json = stream.event().await.expect("the stream ended").json();
            wanted.retain(|(kind, data)| !(json["event_type"] == *kind && json["data"] == *data));
        }
    })
    .await;
}

#[tokio::test]
async fn cancel_tells_whether_the_timer_was_still_pending() {
    let running = start(
        r#"[[unit]]
address = "T"
kind = "switch"
on_script = '''
let h = after("1h", || unit("OUT").on());
let first = cancel(h);
let ran = after(0, || unit("OUT").attributes(#{ ran: true }));
unit("OUT").attributes(#{ first: first, again: cancel(h), ran_handle: ran });
'''
off_script = 'unit("OUT").attributes(#{ late: cancel(unit("OUT").attributes.ran_handle) })'
[[unit]]
address = "OUT"
kind = "switch"
"#,
    )
    .await;
    running.hub().command("T", &Command::On).unwrap();
    until("the 0 ms timer to run", || {
        (attribute(&running, "switch.out", "ran") == true).then_some(())
    })
    .await;
    assert_eq!(attribute(&running, "switch.out", "first"), true);
    assert_eq!(attribute(&running, "switch.out", "again"), false);
    running.hub().command("T", &Command::Off).unwrap();
    until("cancel after the timer ran", || {
        (attribute(&running, "switch.out", "late") == false).then_some(())
    })
    .await;
    assert_ne!(
        state(&running, "switch.out"),
        "on",
        "the cancelled timer ran"
    );
}

#[tokio::test]
async fn runs_for_one_unit_happen_in_the_order_of_its_commands() {
    let running = start(
        r#"[[unit]]
address = "COUNTER"
kind = "sensor"
value_script = '''
let seen = unit("LOG").attributes.seen;
if seen == () { seen = []; }
seen.push(value);
unit("LOG").attributes(#{ seen: seen });
'''
[[unit]]
address = "LOG"
kind = "switch"
"#,
    )
    .await;
    for n in 1..=50 {
        let command = homebus::interpret::interpret(Some(&n.to_string()));
        running.hub().command("COUNTER", &command).unwrap();
    }
    let seen = until("50 runs", || {
        let seen = attribute(&running, "switch.log", "seen");
        (seen.as_array().map(Vec::len) == Some(50)).then_some(seen)
    })
    .await;
    let expected: Vec<f64> = (1..=50).map(f64::from).collect();
    assert_eq!(seen, serde_json::json!(expected));
}

/// The reason of `entity`'s `script_error`, once there is one other than `not`.
async fn reason_other_than(running: &RunningHub, entity: &str, not: &str) -> String {
    until("a new script error", || {
        attribute(running, entity, "script_error")["reason"]
            .as_str()
            .filter(|r| *r != not)
            .map(str::to_string)
    })
    .await
}

#[tokio::test]
async fn a_run_past_a_size_or_operations_limit_fails_with_the_limit_named() {
    let running = start(
        r#"[scripts]
max_string_size = 100
max_operations = 10000
[[unit]]
address = "GROW"
kind = "switch"
on_script = 'let s = "x"; loop { s += s; }'
off_script = 'let n = 0; loop { n += 1; }'
"#,
    )
    .await;
    running.hub().command("GROW", &Command::On).unwrap();
    let string = reason_other_than(&running, "switch.grow", "").await;
    assert!(string.contains("string too large"), "{string}");
    running.hub().command("GROW", &Command::Off).unwrap();
    let operations = reason_other_than(&running, "switch.grow", &string).await;
    assert!(operations.contains("Too many operations"), "{operations}");
}

#[tokio::test]
async fn a_script_can_neither_import_modules_nor_keep_unbounded_timers() {
    let running = start(
        r#"[[unit]]
address = "S"
kind = "switch"
on_script = 'import "secrets" as s;'
off_script = 'for i in 0..10001 { after("1h", || ()); }'
"#,
    )
    .await;
    running.hub().command("S", &Command::On).unwrap();
    let import = reason_other_than(&running, "switch.s", "").await;
    assert!(import.to_lowercase().contains("module"), "{import}");
    running.hub().command("S", &Command::Off).unwrap();
    let timers = reason_other_than(&running, "switch.s", &import).await;
    assert!(
        timers.contains("10000 timers are pending already"),
        "{timers}"
    );
}

/// Reads `/api/stream` until every entity of `wanted` has reached its
/// state there (other events are skipped); panics after the deadline.
async fn stream_shows(stream: &mut support::server::SseReader, wanted: &[(&str, &str)]) {
    let mut missing: Vec<(&str, &str)> = wanted.to_vec();
    within("the changes on /api/stream", async {
        while !missing.is_empty() {
            let block = stream.event().await.expect("the stream ended");
            let json = block.json();
            let data = &json["data"];
            missing.retain(|(entity, state)| {
                !(data["entity_id"] == *entity && data["new_state"]["state"] == *state)
            });
        }
    })
    .await;
}

#[tokio::test]
async fn on_unparsed_changes_are_seen_by_an_api_stream_subscriber() {
    // The camera speaks only once the subscriber is listening.
    let go = Arc::new(Notify::new());
    let gate = go.clone();
    let camera = ScriptedServer::start(move |_| {
        let gate = gate.clone();
        let line = stream::once(async move {
            gate.notified().await;
            Ok::<_, std::io::Error>(Bytes::from_static(
                b"event: CAM\ndata: motion=1;lux=310\n\n",
            ))
        });
        sse_stream(line.chain(stream::pending()))
    })
    .await;
    let scripts = r#"on_unparsed = '''
for pair in data.split(";") {
    let kv = pair.split("=");
    if kv[0] == "motion" && kv[1] == "1" { unit("CAM_MOTION").on() }
    if kv[0] == "lux" { unit("LUX").set(kv[1]) }
}
'''"#;
    let server = TestServer::start(
        &(source("sse", "cam", &camera.base, scripts)
            + unit("CAM", "sensor").as_str()
            + unit("CAM_MOTION", "switch").as_str()
            + unit("LUX", "sensor").as_str()),
    )
    .await;
    let mut stream = server.sse("/api/stream").await;
    go.notify_one();
    stream_shows(
        &mut stream,
        &[("switch.cam_motion", "on"), ("sensor.lux", "310")],
    )
    .await;
}

#[tokio::test]
async fn on_error_runs_when_the_server_drops_an_established_connection() {
    // The first connection is answered, sends one event and is then cut
    // mid-stream; every later one is refused with a 503.
    let camera = ScriptedServer::start(|request| {
        if request.number > 0 {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "down");
        }
        let hello = stream::once(async {
            Ok::<_, std::io::Error>(Bytes::from_static(b"event: CAM_SEEN\n\n"))
        });
        let cut = stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other("the camera dropped the connection"))
        });
        sse_stream(hello.chain(cut))
    })
    .await;
    let on_error = "reconnect = \"20ms\"\non_error = '''
let seen = #{};
seen[\"attempt_\" + attempt] = error;
seen.source = source;
unit(\"CAM_DOWN\").attributes(seen);
'''";
    let running = start(
        &(source("sse", "cam", &camera.base, on_error)
            + unit("CAM_SEEN", "switch").as_str()
            + unit("CAM_DOWN", "switch").as_str()),
    )
    .await;
    reads(&running, "switch.cam_seen", "on", "the connection to work").await;
    let dropped = until("on_error for the drop", || {
        attribute(&running, "switch.cam_down", "attempt_1")
            .as_str()
            .map(str::to_string)
    })
    .await;
    let refused = until("on_error for the next, refused attempt", || {
        attribute(&running, "switch.cam_down", "attempt_2")
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert_eq!(attribute(&running, "switch.cam_down", "source"), "cam");
    assert!(!dropped.is_empty() && !dropped.contains("503"), "{dropped}");
    assert!(refused.contains("503"), "{refused}");
    assert_eq!(camera.request(0).map(|r| r.number), Some(0));
}

#[tokio::test]
async fn a_stuck_script_never_stalls_an_api_stream_subscriber() {
    let server = TestServer::start(
        "[scripts]\nmax_run_time = \"3s\"\nmax_operations = 1000000000000\n\
         [[unit]]\naddress = \"SPIN\"\nkind = \"switch\"\n\
         on_script = 'unit(\"SPIN\").attributes(#{ running: true }); loop {}'\n\
         [[unit]]\naddress = \"OTHER\"\nkind = \"switch\"\n",
    )
    .await;
    let mut stream = server.sse("/api/stream").await;
    let started = Instant::now();
    server.switch("SPIN", true);
    // The script is inside its loop once its first line has been served.
    within_limit(
        "the script to start",
        Duration::from_secs(2),
        stream_shows_attribute(&mut stream, "switch.spin", "running"),
    )
    .await;
    let response = server
        .client
        .post(server.url("/api/units/OTHER/command"))
        .body(r#"{"command":"on"}"#)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    within_limit(
        "the change made during the stuck run",
        Duration::from_secs(1),
        stream_shows(&mut stream, &[("switch.other", "on")]),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the change was seen only after the run ended"
    );
    let error = server
        .wait_state("switch.spin", "showing its script error", |s| {
            s.attributes.contains_key("script_error")
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "the limit did not stop the run in time"
    );
    let reason = error.attributes["script_error"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("max_run_time"), "{reason}");
}

/// Reads `/api/stream` until `entity` shows attribute `name`.
async fn stream_shows_attribute(stream: &mut support::server::SseReader, entity: &str, name: &str) {
    loop {
        let block = stream.event().await.expect("the stream ended");
        let json = block.json();
        let new_state = &json["data"]["new_state"];
        if json["data"]["entity_id"] == entity && !new_state["attributes"][name].is_null() {
            return;
        }
    }
}

/// Replaces `path`'s text the way editors save: a new file renamed over it.
fn save(path: &std::path::Path, text: &str) {
    let draft = path.with_extension("rhai.draft");
    std::fs::write(&draft, text).unwrap();
    std::fs::rename(&draft, path).unwrap();
}

/// `POST /api/units/{address}/command` with this body; panics unless 200.
async fn command(client: &reqwest::Client, base: &str, address: &str, body: &str) {
    let response = client
        .post(format!("{base}/api/units/{address}/command"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{address} {body}");
}

/// The body of `GET url`, or `None` if the request failed.
async fn get_text(client: &reqwest::Client, url: &str) -> Option<String> {
    client.get(url).send().await.ok()?.text().await.ok()
}

/// Turns MOTION on (running its On script) until HALL reads `reading`.
async fn motion_until_hall_reads(client: &reqwest::Client, base: &str, reading: &str) {
    until_async(&format!("HALL to read {reading}"), || async {
        command(client, base, "MOTION", r#"{"command":"on"}"#).await;
        let body = get_text(client, &format!("{base}/api/states/sensor.hall")).await?;
        let state: serde_json::Value = serde_json::from_str(&body).ok()?;
        (state["state"] == reading).then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_edited_script_file_is_recompiled_and_a_broken_edit_keeps_the_previous_code() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("motion_on.rhai");
    std::fs::write(&script, "unit(\"HALL\").set(1);\n").unwrap();
    let mut hub = HubProcess::start_toml(
        dir.path(),
        &format!(
            "{LOOPBACK_SERVER}database = \":memory:\"\n\n\
             [[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\non_script = \"motion_on.rhai\"\n\n{}",
            unit("HALL", "sensor")
        ),
    );
    let base = hub.base_url().await;
    let client = support::server::client();
    motion_until_hall_reads(&client, &base, "1").await;

    save(&script, "unit(\"HALL\").set(2);\n");
    motion_until_hall_reads(&client, &base, "2").await;

    save(&script, "let x = 1;\nunit(\"HALL\").set(3;\n");
    let place = hub
        .wait_for_log("the syntax error of the edited file", |line| {
            let at = line.find("motion_on.rhai:")?;
            line.contains("Rhai syntax error")
                .then(|| line[at..].split_whitespace().next().unwrap().to_string())
        })
        .await;
    hub.drain_log();
    let place = place.trim_end_matches(':');
    let mut parts = place.rsplitn(3, ':');
    let column: usize = parts.next().unwrap().parse().expect("a column");
    let line: usize = parts.next().unwrap().parse().expect("a line");
    assert_eq!(line, 2, "{place}");
    assert!(column > 1, "{place}");
    // The code compiled before still runs.
    command(&client, &base, "HALL", r#"{"command":"set","value":0}"#).await;
    motion_until_hall_reads(&client, &base, "2").await;
}
