//! The web-platform-tests `eventsource/format-*` streams, parsed as a browser would.
//!
//! Every case runs three ways — whole, in the chunk sizes the WPT server flushes,
//! and one byte at a time — because chunk boundaries must never change the result.

use base64::Engine;
use homebus::sse::{SseItem, SseParser};
use serde::Deserialize;

const CASES: &str = include_str!("data/sse/wpt_format_cases.json");

#[derive(Deserialize)]
struct Case {
    name: String,
    stream_b64: String,
    chunks: Option<Vec<usize>>,
    events: Vec<Expected>,
    retry_ms: Option<u64>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
struct Expected {
    #[serde(rename = "type")]
    event_type: String,
    data: String,
    last_event_id: String,
}

/// What an `EventSource` is left with: the events it dispatched and its reconnection time.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Expected>,
    retry_ms: Option<u64>,
}

fn run(pieces: &[&[u8]]) -> Outcome {
    let mut parser = SseParser::new(1 << 20);
    let mut items = Vec::new();
    for piece in pieces {
        parser
            .feed(piece, &mut items)
            .expect("WPT streams are far below the limit");
    }
    let mut outcome = Outcome {
        events: Vec::new(),
        retry_ms: None,
    };
    for item in items {
        match item {
            SseItem::Retry(ms) => outcome.retry_ms = Some(ms),
            SseItem::Event(event) => {
                if let Some(data) = &event.data {
                    outcome.events.push(Expected {
                        event_type: event.event_type_or_default().to_owned(),
                        data: data.clone(),
                        last_event_id: event.last_event_id.clone(),
                    });
                }
            }
        }
    }
    outcome
}

fn split_by_sizes<'a>(stream: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = stream;
    for &size in sizes {
        let (piece, after) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    pieces.push(rest);
    pieces
}

#[test]
fn every_wpt_format_case_dispatches_what_a_browser_dispatches() {
    let cases: Vec<Case> = serde_json::from_str(CASES).expect("the WPT case file is valid JSON");
    assert!(cases.len() >= 26, "the WPT case file lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        let stream = base64::engine::general_purpose::STANDARD
            .decode(&case.stream_b64)
            .expect("stream_b64 is valid base64");
        let expected = Outcome {
            events: case
                .events
                .iter()
                .map(|e| Expected {
                    event_type: e.event_type.clone(),
                    data: e.data.clone(),
                    last_event_id: e.last_event_id.clone(),
                })
                .collect(),
            retry_ms: case.retry_ms,
        };
        let mut ways = vec![("whole", run(&[&stream]))];
        if let Some(sizes) = &case.chunks {
            ways.push(("in WPT chunks", run(&split_by_sizes(&stream, sizes))));
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        ways.push(("byte by byte", run(&bytes)));
        for (way, outcome) in ways {
            if outcome != expected {
                failures.push(format!(
                    "{} ({way}): got {outcome:?}, want {expected:?}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}
