//! Unit and source scripts in the hub as `homebus run` composes it, fed by
//! a real SSE source.

mod support;

use homebus::app::RunningHub;
use homebus::interpret::Command;
use support::config::{LOOPBACK_SERVER, source};
use support::sse_server::{ScriptedServer, sse_then_hang};
use support::wait::{until, until_async};

async fn start(toml: &str) -> RunningHub {
    let config =
        support::config::parse(&format!("{LOOPBACK_SERVER}database = \":memory:\"\n{toml}"));
    homebus::app::start(config).await.expect("the hub starts")
}

fn state(running: &RunningHub, entity_id: &str) -> String {
    running
        .hub()
        .state(entity_id)
        .map(|s| s.state)
        .unwrap_or_default()
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
    until("HALL on", || {
        (state(&running, "switch.hall") == "on").then_some(())
    })
    .await;
    until("HALL off after the delay", || {
        (state(&running, "switch.hall") == "off").then_some(())
    })
    .await;
}

#[tokio::test]
async fn new_motion_within_the_delay_re_arms_the_timer() {
    let running = start(MOTION_LIGHT).await;
    let hub = running.hub().clone();
    hub.command("MOTION", &Command::On).unwrap();
    until("HALL on", || {
        (state(&running, "switch.hall") == "on").then_some(())
    })
    .await;
    let first = attribute(&running, "switch.hall", "timer");
    // Motion again: the first timer is cancelled and a new one set.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    hub.command("MOTION", &Command::On).unwrap();
    until("a new timer", || {
        let now = attribute(&running, "switch.hall", "timer");
        (now != first).then_some(())
    })
    .await;
    let rearmed_at = std::time::Instant::now();
    until("HALL off", || {
        (state(&running, "switch.hall") == "off").then_some(())
    })
    .await;
    assert!(
        rearmed_at.elapsed() >= std::time::Duration::from_millis(200),
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
    until("motion on", || {
        (state(&running, "switch.cam_motion") == "on").then_some(())
    })
    .await;
    until("lux 310", || {
        (state(&running, "sensor.lux") == "310").then_some(())
    })
    .await;
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
    let error = attribute(&running, "switch.cam_down", "error");
    assert_eq!(attribute(&running, "switch.cam_down", "source"), "cam");
    assert!(error.as_str().is_some_and(|e| !e.is_empty()), "{error}");
    let status = running.hub().sources();
    assert!(status[0].last_error.is_some());
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
    let error = until("the script error", || {
        attribute(&running, "switch.spin", "script_error")
            .as_str()
            .map(str::to_string)
    })
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(error.contains("max_run_time"), "{error}");
    assert!(error.contains("on_script"), "{error}");
}

#[tokio::test]
async fn two_units_commanding_each_other_stop_at_depth_8() {
    let running = start(
        "[[unit]]\naddress = \"PING\"\nkind = \"switch\"\non_script = 'unit(\"PONG\").on()'\n\
         [[unit]]\naddress = \"PONG\"\nkind = \"switch\"\non_script = 'unit(\"PING\").on()'\n",
    )
    .await;
    running.hub().command("PING", &Command::On).unwrap();
    let url = format!("http://{}/metrics", running.addr());
    let body = until_async("a refusal on /metrics", || {
        let url = url.clone();
        async move {
            let text = support::server::client()
                .get(url)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains("homebus_script_depth_refusals_total 1")
                .then_some(text)
        }
    })
    .await;
    assert!(!body.contains("homebus_script_depth_refusals_total 2"));
}
