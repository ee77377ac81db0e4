//! The REST API in Home Assistant's shape, plus `/api/sources`, the deCONZ
//! config endpoint, `/metrics` and `/healthz`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::{ApiError, ApiJson};
use crate::bus::BusMessage;
use crate::interpret::{Command, Number};
use crate::units::{EntityState, UnitError};

/// `GET /api/`: Home Assistant clients probe it.
pub async fn api_root() -> Json<Value> {
    Json(json!({"message": "API running."}))
}

/// `GET /api/states`.
pub async fn states(State(state): State<AppState>) -> Json<Vec<EntityState>> {
    Json(state.hub.states())
}

/// `GET /api/states/{entity_id}`.
pub async fn entity_state(
    State(state): State<AppState>,
    Path(entity_id): Path<String>,
) -> Result<Json<EntityState>, ApiError> {
    current_state(&state, entity_id)
}

/// Body of `POST /api/states/{entity_id}`.
#[derive(Debug, Deserialize)]
pub struct NewState {
    /// The state text, read by the same rules as event data.
    state: Value,
    /// Attributes merged into the unit's.
    #[serde(default)]
    attributes: Map<String, Value>,
}

/// `POST /api/states/{entity_id}`: sets the state; answers the new state.
pub async fn set_state(
    State(state): State<AppState>,
    Path(entity_id): Path<String>,
    ApiJson(body): ApiJson<Option<NewState>>,
) -> Result<Json<EntityState>, ApiError> {
    let Some(body) = body else {
        return Err(ApiError::bad_request(
            r#"send a JSON body like {"state": "on", "attributes": {}}"#,
        ));
    };
    let text = match &body.state {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "`state` must be a string, a number or true/false",
            ));
        }
    };
    state
        .hub
        .set_state(&entity_id, &text, body.attributes)
        .map_err(unit_error)?;
    current_state(&state, entity_id)
}

/// Body of `POST /api/units/{address}/command`.
#[derive(Debug, Deserialize)]
pub struct CommandBody {
    /// `on`, `off` or `set`.
    command: String,
    /// The value for `set`.
    value: Option<Value>,
}

const COMMANDS: &str =
    r#"the commands are {"command":"on"}, {"command":"off"} and {"command":"set","value":47.5}"#;

/// `POST /api/units/{address}/command`: answers the unit's state after it.
pub async fn command(
    State(state): State<AppState>,
    Path(address): Path<String>,
    ApiJson(body): ApiJson<Option<CommandBody>>,
) -> Result<Json<EntityState>, ApiError> {
    let Some(body) = body else {
        return Err(ApiError::bad_request(format!(
            "send a JSON body: {COMMANDS}"
        )));
    };
    let command = match body.command.to_ascii_lowercase().as_str() {
        "on" => Command::On,
        "off" => Command::Off,
        "set" => match body.value.as_ref().and_then(number) {
            Some(value) => Command::SetValue(Number::from_f64(value)),
            None => {
                return Err(ApiError::bad_request(format!(
                    "`set` needs a numeric `value`; {COMMANDS}"
                )));
            }
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown command `{other}`; {COMMANDS}"
            )));
        }
    };
    let published = state.hub.command(&address, &command).map_err(unit_error)?;
    if let Some(envelope) = published
        && let BusMessage::State(change) = &envelope.message
        && let Some(new) = &change.new
    {
        return Ok(Json(new.clone()));
    }
    state
        .hub
        .with_registry(|r| r.by_address(&address).map(|u| u.entity_state()))
        .map(Json)
        .ok_or_else(|| unit_error(UnitError::UnknownAddress(address)))
}

/// A finite number from JSON, also written as a string (`"47,5"`).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => crate::interpret::parse_number(s).map(|n| n.value),
        _ => None,
    }
    .filter(|n| n.is_finite())
}

/// `POST /api/events/{event_type}`: fires an event with the JSON body as
/// its data (an empty body is `{}`).
pub async fn fire_event(
    State(state): State<AppState>,
    Path(event_type): Path<String>,
    ApiJson(data): ApiJson<Value>,
) -> Json<Value> {
    let data = if data.is_null() { json!({}) } else { data };
    state.hub.fire_event(&event_type, data);
    Json(json!({ "message": format!("Event {event_type} fired.") }))
}

/// `GET /api/sources`: every source's status.
pub async fn sources(State(state): State<AppState>) -> Response {
    Json(state.hub.sources()).into_response()
}

/// `GET /api/{apikey}/config`: deCONZ's gateway config, where clients find
/// the WebSocket port. A key that is not accepted gets deCONZ's 403.
pub async fn deconz_config(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    if let Some(auth) = &state.auth
        && !auth.is_key(key.as_bytes())
    {
        let body =
            json!([{"error": {"type": 1, "address": "/", "description": "unauthorized user"}}]);
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    Json(json!({
        "name": "homebus",
        "apiversion": "1.16.0",
        "swversion": env!("CARGO_PKG_VERSION"),
        "modelid": "homebus",
        "websocketport": state.websocket_port,
        "websocketnotifyall": true,
        "bridgeid": "HOMEBUS",
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render(&state.hub);
    if let Some(extra) = &state.extra_metrics {
        text.push_str(&extra());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /healthz`: the server answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see the HTTP endpoints in the docs")
}

fn unit_error(error: UnitError) -> ApiError {
    match error {
        UnitError::UnknownAddress(_) | UnitError::UnknownEntity(_) => {
            ApiError::not_found(error.to_string())
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

/// An entity's state as JSON, or the 404 for an unknown entity.
fn current_state(state: &AppState, entity_id: String) -> Result<Json<EntityState>, ApiError> {
    state
        .hub
        .state(&entity_id)
        .map(Json)
        .ok_or_else(|| unit_error(UnitError::UnknownEntity(entity_id)))
}
