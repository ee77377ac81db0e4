//! The hub as `homebus run` puts it together (`homebus::app::start`): the
//! bus picked from `server.database`, the restore at start, the history
//! routes, and the orderly stop that commits every change.

mod support;

use std::path::Path;

use homebus::app::{RunningHub, Stopped};
use homebus::interpret::Command;
use support::config::{LOOPBACK_SERVER, unit};
use support::store::temp_db;

/// Starts the whole hub with one switch `LAMP` on `database`.
async fn start(database: &str) -> RunningHub {
    let config = support::config::parse(&format!(
        "{LOOPBACK_SERVER}database = \"{database}\"\n\n{}",
        unit("LAMP", "switch")
    ));
    homebus::app::start(config).await.expect("the hub starts")
}

async fn start_on_file(db: &Path) -> RunningHub {
    start(&db.display().to_string()).await
}

fn switch_on(running: &RunningHub) -> u64 {
    running
        .hub()
        .command("LAMP", &Command::On)
        .unwrap()
        .expect("a change")
        .seq()
}

async fn get(running: &RunningHub, path: &str) -> (u16, String) {
    let response = support::server::client()
        .get(format!("http://{}{path}", running.addr()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn stop_commits_every_change_and_the_next_start_restores_it() {
    let (_dir, db) = temp_db();
    let first = start_on_file(&db).await;
    let seq = switch_on(&first);
    assert_eq!(
        first.stop().await,
        Stopped {
            connections_closed: true,
            store_flushed: true
        }
    );

    let second = start_on_file(&db).await;
    assert_eq!(second.hub().state("switch.lamp").unwrap().state, "on");
    let next = second
        .hub()
        .command("LAMP", &Command::Off)
        .unwrap()
        .expect("a change")
        .seq();
    assert!(next > seq, "numbering continues after {seq}, got {next}");
}

#[tokio::test]
async fn history_is_served_from_the_database_file() {
    let (_dir, db) = temp_db();
    let running = start_on_file(&db).await;
    switch_on(&running);
    let bus = running.persistent_bus().expect("a persistent bus");
    assert!(
        bus.flush(support::wait::DEADLINE),
        "the change is committed"
    );

    let (status, body) = get(&running, "/api/history?entity_id=switch.lamp").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"on\""), "{body}");
}

#[tokio::test]
async fn without_a_database_history_answers_how_to_keep_it() {
    let running = start(":memory:").await;
    assert!(running.persistent_bus().is_none());

    let (status, body) = get(&running, "/api/history").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("server.database"), "{body}");
}

#[tokio::test]
async fn a_database_that_a_running_hub_holds_is_refused_with_what_to_do() {
    let (_dir, db) = temp_db();
    let _running = start_on_file(&db).await;
    let config = support::config::parse(&format!(
        "{LOOPBACK_SERVER}database = \"{}\"\n",
        db.display()
    ));

    let error = homebus::app::start(config)
        .await
        .err()
        .expect("the second hub must not start");
    let message = error.to_string();
    assert!(message.contains("in use by another homebus"), "{message}");
    assert!(message.contains("server.database"), "{message}");
}
