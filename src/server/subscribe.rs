//! `GET /subscribe_events`: the MCP server's filtered stream. `type`
//! (`state` for state changes, `event` for fired events, or an event type),
//! `domain` and `entity_id` are comma lists; `token` is the JWT (checked by
//! the auth middleware like every credential).

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::fanout::{Shape, resume_point, sse_response};
use super::metrics::Transport;
use super::shapes;
use crate::bus::{BusMessage, Envelope};

/// Query parameters of `/subscribe_events`.
#[derive(Debug, Default, Deserialize)]
pub struct SubscribeQuery {
    /// `state`, `event`, or event types, comma separated; absent = all.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Entity domains (`light`, `sensor`), comma separated.
    domain: Option<String>,
    /// Entity ids, comma separated.
    entity_id: Option<String>,
    /// Resume point for clients that cannot send `Last-Event-ID`.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// Which messages one `/subscribe_events` subscriber wants.
#[derive(Debug, Default)]
pub struct SubscribeFilter {
    /// State changes wanted.
    states: bool,
    /// Every fired event wanted.
    all_events: bool,
    /// Fired events of these types wanted.
    event_types: Box<[Box<str>]>,
    /// Only state changes of entities in these domains (empty = any).
    domains: Box<[Box<str>]>,
    /// Only state changes of these entities (empty = any).
    entity_ids: Box<[Box<str>]>,
}

fn list(text: Option<&str>) -> Box<[Box<str>]> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Box::from)
        .collect()
}

impl SubscribeFilter {
    /// From the query parameters. Without `type`, state changes are wanted,
    /// and fired events too unless `domain` or `entity_id` narrow it to
    /// entities.
    pub fn new(kind: Option<&str>, domain: Option<&str>, entity_id: Option<&str>) -> Self {
        let mut filter = SubscribeFilter {
            domains: list(domain),
            entity_ids: list(entity_id),
            ..Default::default()
        };
        let kinds = list(kind);
        if kinds.is_empty() {
            filter.states = true;
            filter.all_events = filter.domains.is_empty() && filter.entity_ids.is_empty();
            return filter;
        }
        let mut event_types = Vec::new();
        for kind in kinds {
            match &*kind {
                "state" | "states" | "state_changed" => filter.states = true,
                "event" | "events" => filter.all_events = true,
                _ => event_types.push(kind),
            }
        }
        filter.event_types = event_types.into_boxed_slice();
        filter
    }

    /// Whether this message passes the filter.
    pub fn wants(&self, message: &BusMessage) -> bool {
        match message {
            BusMessage::State(change) => {
                let id = change.entity_id.as_str();
                let domain = id.split_once('.').map_or(id, |(d, _)| d);
                self.states
                    && (self.domains.is_empty() || self.domains.iter().any(|d| **d == *domain))
                    && (self.entity_ids.is_empty() || self.entity_ids.iter().any(|e| **e == *id))
            }
            BusMessage::Event(event) => {
                self.all_events || self.event_types.iter().any(|t| **t == *event.event_type)
            }
            BusMessage::Received(_) => false,
        }
    }
}

impl Shape for SubscribeFilter {
    fn encode(&self, envelope: &Envelope) -> Option<Bytes> {
        if !self.wants(&envelope.message) {
            return None;
        }
        shapes::subscribe_events(envelope)
    }
}

/// `GET /subscribe_events`.
pub async fn subscribe_events(
    State(state): State<AppState>,
    Query(query): Query<SubscribeQuery>,
    headers: HeaderMap,
) -> Response {
    let after = resume_point(&headers, query.last_event_id.as_deref());
    let filter = SubscribeFilter::new(
        query.kind.as_deref(),
        query.domain.as_deref(),
        query.entity_id.as_deref(),
    );
    sse_response(&state, after, filter, Transport::SubscribeEvents)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::bus::{FiredEvent, StateChange};

    fn state(entity_id: &str) -> BusMessage {
        BusMessage::State(Box::new(StateChange {
            seq: 1,
            entity_id: entity_id.into(),
            old: None,
            new: None,
            time: Utc::now(),
            cause: None,
        }))
    }

    fn fired(event_type: &str) -> BusMessage {
        BusMessage::Event(FiredEvent {
            seq: 1,
            event_type: event_type.into(),
            data: json!({}),
            time: Utc::now(),
        })
    }

    #[test]
    fn no_type_wants_everything() {
        let f = SubscribeFilter::new(None, None, None);
        assert!(f.wants(&state("light.a")));
        assert!(f.wants(&fired("x")));
    }

    #[test]
    fn type_state_wants_only_state_changes() {
        let f = SubscribeFilter::new(Some("state"), None, None);
        assert!(f.wants(&state("light.a")));
        assert!(!f.wants(&fired("x")));
    }

    #[test]
    fn type_event_wants_only_fired_events() {
        let f = SubscribeFilter::new(Some("event"), None, None);
        assert!(!f.wants(&state("light.a")));
        assert!(f.wants(&fired("x")));
    }

    #[test]
    fn domain_list_keeps_those_domains() {
        let f = SubscribeFilter::new(None, Some("light, switch"), None);
        assert!(f.wants(&state("light.a")));
        assert!(f.wants(&state("switch.b")));
        assert!(!f.wants(&state("sensor.c")));
        assert!(!f.wants(&fired("x")));
    }

    #[test]
    fn entity_id_list_keeps_those_entities() {
        let f = SubscribeFilter::new(Some("state"), None, Some("sensor.a,sensor.b"));
        assert!(f.wants(&state("sensor.b")));
        assert!(!f.wants(&state("sensor.c")));
    }

    #[test]
    fn an_event_type_name_keeps_that_type() {
        let f = SubscribeFilter::new(Some("doorbell"), None, None);
        assert!(f.wants(&fired("doorbell")));
        assert!(!f.wants(&fired("other")));
        assert!(!f.wants(&state("light.a")));
    }
}
