//! History from the store over HTTP (`GET /api/history`), with filters and
//! paging, and retention pruning old events while unit state stays.

mod support;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use homebus::event::Event;
use homebus::store::{StoreOptions, history_router};
use serde_json::Value;
use support::store::{StoredHub, stored_seqs, temp_db};

const UNITS: &str = "[[unit]]\naddress = \"TEMP\"\nkind = \"sensor\"\n\n\
                     [[unit]]\naddress = \"DOOR\"\nkind = \"switch\"\n";

/// The start of the hour before the tests started: well inside the retention.
static HOUR: LazyLock<DateTime<Utc>> = LazyLock::new(|| {
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    Utc.timestamp_opt(hour_ago.timestamp() - hour_ago.timestamp() % 3600, 0)
        .unwrap()
});

/// Minute `n` of that hour.
fn minute(n: i64) -> DateTime<Utc> {
    *HOUR + chrono::Duration::minutes(n)
}

/// Minute `n` as a query parameter.
fn at(n: i64) -> String {
    minute(n).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Feeds an event as if it arrived at `at`.
fn event_at(hub: &StoredHub, name: &str, data: &str, at: DateTime<Utc>) {
    let mut event = Event::new(Arc::from("src"), name, Some(data.to_string()));
    event.received_at = at;
    hub.hub.ingest(event);
}

/// TEMP reads 1…5 at minutes 1…5; DOOR goes on, off, on at minutes 1.5, 2.5, 3.5.
fn hub_with_history(db: &std::path::Path) -> StoredHub {
    let hub = StoredHub::open(db, UNITS);
    let door = ["on", "off", "on"];
    for n in 1..=5 {
        event_at(&hub, "TEMP", &n.to_string(), minute(n));
        if let Some(state) = door.get(n as usize - 1) {
            event_at(
                &hub,
                "DOOR",
                state,
                minute(n) + chrono::Duration::seconds(30),
            );
        }
    }
    hub.flush();
    hub
}

/// Serves the history router on a real port; returns its base URL.
async fn serve(hub: &StoredHub) -> String {
    let app: axum::Router = history_router(hub.bus.store().clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn get(url: &str) -> reqwest::Response {
    support::server::client().get(url).send().await.unwrap()
}

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

fn states(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn history_returns_each_entitys_states_oldest_first_in_ha_shape() {
    let (_dir, db) = temp_db();
    let hub = hub_with_history(&db);
    let base = serve(&hub).await;
    let response = get(&format!(
        "{base}/api/history?entity_id=sensor.temp,switch.door&since={}",
        at(0)
    ))
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("link").is_none());
    let body: Value = json(response).await;
    let lists = body.as_array().unwrap();
    assert_eq!(lists.len(), 2);
    assert_eq!(states(&lists[0]), ["1", "2", "3", "4", "5"]);
    assert_eq!(states(&lists[1]), ["on", "off", "on"]);
    let first = &lists[0][0];
    assert_eq!(first["entity_id"], "sensor.temp");
    assert_eq!(first["attributes"]["value"], 1);
    assert_eq!(
        first["last_changed"],
        homebus::time::ha_timestamp(&minute(1))
    );
}

#[tokio::test]
async fn history_filters_by_entity_and_time_range() {
    let (_dir, db) = temp_db();
    let hub = hub_with_history(&db);
    let base = serve(&hub).await;
    // An unescaped `+00:00`, as Home Assistant clients send it.
    let body: Value = json(
        get(&format!(
            "{base}/api/history?entity_id=sensor.temp&since={}&until={}",
            minute(2).format("%Y-%m-%dT%H:%M:%S+00:00"),
            at(4)
        ))
        .await,
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(states(&body[0]), ["2", "3"]);
}

#[tokio::test]
async fn history_period_route_takes_home_assistants_parameters() {
    let (_dir, db) = temp_db();
    let hub = hub_with_history(&db);
    let base = serve(&hub).await;
    let body: Value = json(
        get(&format!(
            "{base}/api/history/period/{}?filter_entity_id=switch.door",
            at(3)
        ))
        .await,
    )
    .await;
    assert_eq!(states(&body[0]), ["on"]);
}

#[tokio::test]
async fn large_history_is_paged_with_a_link_to_the_next_page() {
    let (_dir, db) = temp_db();
    let hub = hub_with_history(&db);
    let base = serve(&hub).await;
    let mut url = format!(
        "{base}/api/history?entity_id=sensor.temp&since={}&limit=2",
        at(0)
    );
    let mut pages = Vec::new();
    loop {
        let response = get(&url).await;
        assert_eq!(response.status(), 200);
        let next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        let body: Value = json(response).await;
        pages.push(
            states(&body[0])
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        match next {
            Some(link) => {
                let path = link.trim_start_matches('<').split('>').next().unwrap();
                assert!(link.ends_with("rel=\"next\""), "{link}");
                url = format!("{base}{path}");
            }
            None => break,
        }
    }
    assert_eq!(pages, [vec!["1", "2"], vec!["3", "4"], vec!["5"]]);
}

#[tokio::test]
async fn bad_history_parameters_are_a_400_that_says_what_to_fix() {
    let (_dir, db) = temp_db();
    let hub = hub_with_history(&db);
    let base = serve(&hub).await;
    for (query, says) in [
        (
            "since=yesterday",
            "`since=yesterday` is not an RFC 3339 time",
        ),
        ("limit=0", "`limit=0` is not a number from 1 to"),
        (
            "since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z",
            "is before `since`",
        ),
        ("after=x", "`after=x` is not a seq"),
    ] {
        let response = get(&format!("{base}/api/history?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = json(response).await;
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[tokio::test]
async fn retention_prunes_old_events_in_batches_and_keeps_unit_state() {
    let (_dir, db) = temp_db();
    let hub = StoredHub::open(&db, UNITS);
    let old = Utc::now() - chrono::Duration::hours(2);
    for n in 0..2500 {
        event_at(
            &hub,
            "TEMP",
            &n.to_string(),
            old + chrono::Duration::milliseconds(n),
        );
    }
    event_at(&hub, "DOOR", "on", Utc::now());
    hub.close();

    let options = StoreOptions {
        retention: Duration::from_secs(3600),
        prune_every: Duration::from_millis(20),
        prune_batch: 100,
        ..StoreOptions::default()
    };
    let pruning = StoredHub::open_with(&db, UNITS, options, 16);
    let left = support::wait::until("old events pruned", || {
        let seqs = stored_seqs(&db);
        (seqs.len() == 1).then_some(seqs)
    })
    .await;
    assert_eq!(left, [2501]);
    assert!(pruning.bus.metrics().pruned_events >= 2500);
    let units = pruning.bus.store().units().unwrap();
    let temp = units.iter().find(|u| u.entity_id == "sensor.temp").unwrap();
    assert_eq!(temp.state, "2499");
    assert_eq!(pruning.hub.state("sensor.temp").unwrap().state, "2499");
}
