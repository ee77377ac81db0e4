//! JSON errors in Home Assistant's shape (`{"message": "..."}`), and a JSON
//! body extractor whose refusals use it too.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// An error answer: a status and a sentence saying what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `message` member of the JSON body.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 401, the same for a missing and a wrong credential.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized: send a valid API key (Authorization: Bearer, x-ha-access or \
             ?api_password=) or a valid ?token=",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

/// A JSON body, read whatever its `Content-Type` (curl's `-d` sends
/// form-encoded by default); a malformed, mistyped or oversized body is
/// answered with a JSON error (413 over `server.max_body_size`). An empty
/// body reads as JSON `null`, so `Option<T>` accepts it.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large; send less, or raise server.max_body_size",
                    ),
                    status => {
                        ApiError::new(status, format!("cannot read the request body: {rejection}"))
                    }
                })?;
        let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &body
        };
        serde_json::from_slice(text).map(ApiJson).map_err(|e| {
            ApiError::bad_request(format!("the body is not the JSON expected here: {e}"))
        })
    }
}
