//! Restart: unit states, seq numbering, source cursors and subscribers
//! resuming with a seq all survive a hub restart on the same SQLite file.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use homebus::bus::{Bus, BusError, BusMessage, Subscription};
use homebus::event::Event;
use homebus::store::StoreOptions;
use homebus::units::EntityState;
use support::store::{StoredHub, read_only, stored_seqs, temp_db};

const UNITS: &str = "[[unit]]\naddress = \"LAMP\"\nkind = \"dimmer\"\nname = \"Lamp\"\n\n\
                     [[unit]]\naddress = \"DOOR\"\nkind = \"switch\"\n";

/// The message with every time cut to the microsecond: the precision the
/// store keeps and clients are served.
fn to_micros(message: BusMessage) -> BusMessage {
    fn cut(t: &mut DateTime<Utc>) {
        *t = DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap();
    }
    fn cut_state(s: &mut Option<EntityState>) {
        if let Some(s) = s {
            cut(&mut s.last_changed);
            cut(&mut s.last_updated);
        }
    }
    match message {
        BusMessage::State(mut change) => {
            cut(&mut change.time);
            cut_state(&mut change.old);
            cut_state(&mut change.new);
            if let Some(cause) = &mut change.cause {
                cut(&mut cause.received_at);
            }
            BusMessage::State(change)
        }
        BusMessage::Event(mut fired) => {
            cut(&mut fired.time);
            BusMessage::Event(fired)
        }
        BusMessage::Received(mut event) => {
            cut(&mut event.received_at);
            BusMessage::Received(event)
        }
    }
}

/// Reads `n` messages (or fails after the deadline) and returns their seqs.
async fn next_seqs(sub: &mut Subscription, n: usize) -> Vec<u64> {
    support::wait::within(&format!("{n} changes from the subscription"), async {
        let mut seqs = Vec::with_capacity(n);
        while seqs.len() < n {
            let item = sub.next().await.expect("subscription ended early");
            seqs.push(item.expect("subscription failed").seq());
        }
        seqs
    })
    .await
}

#[tokio::test]
async fn restart_restores_unit_states_and_attributes() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    first.event("LAMP", Some("47,5"));
    first.event("lamp", Some(r#"{"color":"warm"}"#));
    first.event("DOOR", None);
    let before = first.hub.states();
    first.close();

    let second = StoredHub::open(&db, UNITS);
    // Times are kept to the microsecond, the precision they are served with.
    assert_eq!(
        serde_json::to_value(second.hub.states()).unwrap(),
        serde_json::to_value(before).unwrap()
    );
    let lamp = second.hub.state("light.lamp").unwrap();
    assert_eq!(lamp.state, "on");
    assert_eq!(lamp.attributes["value"], 47.5);
    assert_eq!(lamp.attributes["color"], "warm");
    assert_eq!(second.hub.state("switch.door").unwrap().state, "on");
}

#[tokio::test]
async fn units_created_by_a_source_come_back_after_restart() {
    let (_dir, db) = temp_db();
    let config = "[[source]]\nname = \"src\"\ntype = \"sse\"\nurl = \"http://127.0.0.1:9/\"\ncreate_units = true\n";
    let first = StoredHub::open(&db, config);
    first.event("Temperature", Some("21,5"));
    first.close();

    let second = StoredHub::open(&db, config);
    let temperature = second.hub.state("sensor.temperature").unwrap();
    assert_eq!(temperature.state, "21.5");
    assert_eq!(temperature.attributes["address"], "Temperature");
}

#[tokio::test]
async fn seq_continues_after_the_highest_stored_one() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    let mut last = 0;
    for n in 0..10 {
        last = first.event("LAMP", Some(&n.to_string())).seq();
    }
    first.close();

    let second = StoredHub::open(&db, UNITS);
    let next = second.event("LAMP", Some("99")).seq();
    assert_eq!(next, last + 1);
}

#[tokio::test]
async fn seq_continues_even_when_retention_pruned_every_event() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    for n in 0..5 {
        first.event("LAMP", Some(&n.to_string()));
    }
    first.close();
    let expire_all = StoreOptions {
        retention: Duration::ZERO,
        prune_every: Duration::from_millis(10),
        ..StoreOptions::default()
    };
    let pruning = StoredHub::open_with(&db, UNITS, expire_all, 16);
    support::wait::until("every event pruned", || {
        stored_seqs(&db).is_empty().then_some(())
    })
    .await;
    pruning.close();

    let second = StoredHub::open(&db, UNITS);
    assert_eq!(second.event("LAMP", Some("7")).seq(), 6);
}

#[tokio::test]
async fn each_sources_last_upstream_event_id_is_stored_for_resuming() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    first.event_with_id("LAMP", "10", "up-1");
    first.event_with_id("nobody", "text", "up-2");
    first.close();

    let second = StoredHub::open(&db, UNITS);
    let cursors = second.bus.store().source_cursors().unwrap();
    assert_eq!(cursors.get("src").map(String::as_str), Some("up-2"));
}

/// A crash between the commits of one payload's events (a `file-kv` or
/// deCONZ payload can hold several) must not lose the rest: the source's
/// resume point moves only with the payload's last event, so the source is
/// sent the whole payload again.
#[tokio::test]
async fn a_payload_whose_tail_was_not_committed_is_resumed_from_its_start() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    first.event_with_id("LAMP", "10", "up-1");
    let mut head = Event::new(Arc::from("src"), "LAMP", Some("20".to_string()));
    head.id = Some("up-2".to_string());
    head.ends_payload = false;
    first.hub.ingest(head);
    first.close();

    let second = StoredHub::open(&db, UNITS);
    let cursors = second.bus.store().source_cursors().unwrap();
    assert_eq!(cursors.get("src").map(String::as_str), Some("up-1"));
}

#[tokio::test]
async fn a_subscriber_is_only_served_changes_already_committed() {
    let (_dir, db) = temp_db();
    let hub = StoredHub::open(&db, UNITS);
    let mut live = hub.subscribe(None);
    let conn = read_only(&db);
    for n in 0..200 {
        hub.event("LAMP", Some(&(n + 1).to_string()));
    }
    for _ in 0..200 {
        let seq = next_seqs(&mut live, 1).await[0];
        let stored: i64 = conn
            .query_row(
                "SELECT count(*) FROM events WHERE seq = ?1",
                [seq as i64],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, 1, "seq {seq} was served before it was committed");
    }
}

#[tokio::test]
async fn resume_across_restart_has_no_gap_and_no_duplicate() {
    let (_dir, db) = temp_db();
    // A tiny ring, so most of the backlog must come from the store.
    let first = StoredHub::open_with(&db, UNITS, StoreOptions::default(), 8);
    for n in 0..2500 {
        first.event("LAMP", Some(&n.to_string()));
    }
    first.close();

    let second = StoredHub::open_with(&db, UNITS, StoreOptions::default(), 8);
    let mut resumed = second.subscribe(Some(10));
    // New changes arrive while the subscriber replays from the store.
    let hub = second.hub.clone();
    let publisher = tokio::task::spawn_blocking(move || {
        for n in 0..500 {
            hub.ingest(homebus::event::Event::new(
                std::sync::Arc::from("src"),
                "DOOR",
                Some(if n % 2 == 0 { "on" } else { "off" }.to_string()),
            ));
        }
    });
    let seqs = next_seqs(&mut resumed, 2990).await;
    publisher.await.unwrap();
    assert_eq!(seqs, (11..=3000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn replayed_changes_equal_the_ones_served_live() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open_with(&db, UNITS, StoreOptions::default(), 2);
    let mut live = first.subscribe(None);
    first.event("LAMP", Some("47,5"));
    first.event("DOOR", None);
    first.event("nobody", Some("hello"));
    first
        .hub
        .fire_event("doorbell", serde_json::json!({"floor": 1}));
    // Three are served: "nobody" changed nothing, so it is only logged.
    let mut served = Vec::new();
    for _ in 0..3 {
        served.push(live.next().await.unwrap().unwrap().message.clone());
    }
    drop(live);
    first.close();

    let second = StoredHub::open_with(&db, UNITS, StoreOptions::default(), 2);
    let mut replay = second.subscribe(Some(0));
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(replay.next().await.unwrap().unwrap().message.clone());
    }
    let served: Vec<BusMessage> = served.into_iter().map(to_micros).collect();
    assert_eq!(replayed, served);
    assert!(matches!(replayed[0], BusMessage::State(_)));
}

#[tokio::test]
async fn resuming_from_a_pruned_seq_is_too_old() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, UNITS);
    for n in 0..20 {
        first.event("LAMP", Some(&n.to_string()));
    }
    first.flush();
    first.close();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("DELETE FROM events WHERE seq <= 10", [])
            .unwrap();
    }
    let second = StoredHub::open_with(&db, UNITS, StoreOptions::default(), 2);
    assert!(matches!(
        second.bus.subscribe(Some(5)).err(),
        Some(BusError::TooOld {
            after: 5,
            oldest: 11
        })
    ));
    assert!(second.bus.subscribe(Some(10)).is_ok());
}

#[tokio::test]
async fn a_unit_whose_kind_changed_in_the_config_starts_unknown() {
    let (_dir, db) = temp_db();
    let first = StoredHub::open(&db, "[[unit]]\naddress = \"X\"\nkind = \"sensor\"\n");
    first.event("X", Some("12"));
    first.close();

    let second = StoredHub::open(
        &db,
        "[[unit]]\naddress = \"X\"\nkind = \"switch\"\nentity_id = \"sensor.x\"\n",
    );
    assert_eq!(second.hub.state("sensor.x").unwrap().state, "unknown");
}

#[tokio::test]
async fn metrics_report_what_is_persisted() {
    let (_dir, db) = temp_db();
    let hub = StoredHub::open(&db, UNITS);
    let mut last = 0;
    for n in 0..50 {
        last = hub.event("LAMP", Some(&n.to_string())).seq();
    }
    hub.flush();
    let metrics = hub.bus.metrics();
    assert_eq!(metrics.accepted_seq, last);
    assert_eq!(metrics.persisted_seq, last);
    assert_eq!(metrics.changes_persisted, 50);
    assert!(metrics.batches >= 1 && metrics.batches <= 50);
    assert!(
        metrics
            .prometheus()
            .contains(&format!("\nhomebus_store_persisted_seq {last}\n")),
        "{}",
        metrics.prometheus()
    );
}

#[tokio::test]
async fn a_unit_removed_upstream_stays_removed_after_restart() {
    let (_dir, db) = temp_db();
    let config = "[[source]]\nname = \"src\"\ntype = \"sse\"\nurl = \"http://127.0.0.1:9/\"\ncreate_units = true\n";
    let first = StoredHub::open(&db, config);
    first.event("Temp", Some("21"));
    let mut gone = homebus::event::Event::new(std::sync::Arc::from("src"), "Temp", None);
    gone.remove = true;
    let removal = first.hub.ingest(gone).message.clone();
    first.close();

    let second = StoredHub::open_with(&db, config, StoreOptions::default(), 1);
    assert_eq!(second.hub.state("sensor.temp"), None);
    let mut replay = second.subscribe(Some(1));
    let replayed = replay.next().await.unwrap().unwrap().message.clone();
    assert_eq!(replayed, to_micros(removal));
}
