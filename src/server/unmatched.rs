//! `GET /api/events/unmatched`: the events sources delivered that no unit
//! took, each with the `[[unit]]` section that would take them, so a new
//! user sees what to add instead of an empty dashboard.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AppState;
use super::error::ApiJson;

/// Says how many names were dropped because the record was full, so a
/// client can tell "all of them" from "the most recent ones".
pub const EVICTED_HEADER: HeaderName = HeaderName::from_static("homebus-unmatched-evicted");

/// The name that this route's static path takes from `POST /api/events/{event_type}`.
const PATH_NAME: &str = "unmatched";

/// `GET /api/events/unmatched`: a JSON array, most recently seen first.
pub async fn list(State(state): State<AppState>) -> Response {
    let list = state.hub.unmatched_events();
    (
        [(EVICTED_HEADER, list.evicted.to_string())],
        Json(list.events),
    )
        .into_response()
}

/// `POST /api/events/unmatched` still fires an event of that type, as it
/// did before the static path above shadowed `{event_type}` for it.
pub async fn fire(state: State<AppState>, data: ApiJson<Value>) -> Json<Value> {
    super::rest::fire_event(state, Path(PATH_NAME.to_string()), data).await
}
