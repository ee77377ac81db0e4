//! `GET /api/stream`: Home Assistant's event stream. Every state change as
//! a `state_changed` event, other fired events with their own type;
//! `?restrict=a,b` keeps only those event types.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use super::AppState;
use super::fanout::{Shape, resume_point, sse_response};
use super::metrics::Transport;
use super::shapes;
use crate::bus::Envelope;

/// Query parameters of `/api/stream`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// Comma list of event types to keep.
    restrict: Option<String>,
    /// Resume point for clients that cannot send `Last-Event-ID`.
    #[serde(rename = "lastEventId")]
    last_event_id: Option<String>,
}

/// The Home Assistant shape, optionally restricted to some event types.
pub struct HaStream {
    /// Event types to keep; `None` keeps all.
    restrict: Option<Box<[Box<str>]>>,
}

impl HaStream {
    /// From a `restrict` comma list (empty items ignored; an empty list keeps all).
    pub fn new(restrict: Option<&str>) -> Self {
        let list: Box<[Box<str>]> = restrict
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Box::from)
            .collect();
        HaStream {
            restrict: (!list.is_empty()).then_some(list),
        }
    }
}

impl Shape for HaStream {
    fn encode(&self, envelope: &Envelope) -> Option<Bytes> {
        if let Some(restrict) = &self.restrict {
            let event_type = shapes::event_type(&envelope.message)?;
            if !restrict.iter().any(|t| **t == *event_type) {
                return None;
            }
        }
        shapes::ha_stream(envelope)
    }
}

/// `GET /api/stream`.
pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Response {
    let after = resume_point(&headers, query.last_event_id.as_deref());
    sse_response(
        &state,
        after,
        HaStream::new(query.restrict.as_deref()),
        Transport::HaStream,
    )
}
