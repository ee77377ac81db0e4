//! Who may connect: API keys (`Authorization: Bearer`, `x-ha-access`,
//! `?api_password=`) and HS256 JWTs (`?token=`), checked by one middleware
//! in front of every protected route.
//!
//! Keys are compared in constant time and never logged; a refusal never says
//! which part was wrong.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::config::AuthConfig;

/// The credentials the server accepts, built once from `[auth]`.
pub struct Auth {
    /// Accepted API keys.
    keys: Vec<Vec<u8>>,
    /// Key and rules for `?token=` JWTs, when a secret is configured.
    jwt: Option<(DecodingKey, Validation)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Auth({} keys, jwt: {})",
            self.keys.len(),
            self.jwt.is_some()
        )
    }
}

impl Auth {
    /// The credentials of an `[auth]` section.
    pub fn new(config: &AuthConfig) -> Self {
        let jwt = config.jwt_secret.as_ref().map(|secret| {
            // Only HS256; `exp` must be present and in the future. A token
            // naming any other algorithm (`none` included) is refused.
            let mut validation = Validation::new(Algorithm::HS256);
            validation.leeway = 5;
            validation.validate_aud = false;
            (
                DecodingKey::from_secret(secret.expose().as_bytes()),
                validation,
            )
        });
        Auth {
            keys: config
                .api_keys
                .iter()
                .map(|k| k.expose().as_bytes().to_vec())
                .filter(|k| !k.is_empty())
                .collect(),
            jwt,
        }
    }

    /// Whether `given` is one of the API keys. Every key is compared, in
    /// constant time, whatever matches.
    pub fn is_key(&self, given: &[u8]) -> bool {
        let mut found = subtle::Choice::from(0);
        for key in &self.keys {
            found |= key.as_slice().ct_eq(given);
        }
        found.into()
    }

    /// Whether `token` is a valid, unexpired HS256 JWT signed with our secret.
    pub fn is_valid_token(&self, token: &str) -> bool {
        self.jwt.as_ref().is_some_and(|(key, validation)| {
            jsonwebtoken::decode::<serde_json::Value>(token, key, validation).is_ok()
        })
    }

    /// What a request presents in the four places: an accepted credential
    /// in any of them → [`Presented::Accepted`]; something in at least one
    /// and nothing accepted → [`Presented::Refused`]; nothing at all →
    /// [`Presented::Nothing`]. An empty `?api_password=` counts as sent.
    pub fn presented(&self, headers: &HeaderMap, query: Option<&str>) -> Presented {
        let mut sent = false;
        if let Some(value) = headers.get(AUTHORIZATION) {
            sent = true;
            if let Some(key) = value.to_str().ok().and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            }) && (self.is_key(key.trim().as_bytes()) || self.is_valid_token(key.trim()))
            {
                return Presented::Accepted;
            }
        }
        if let Some(value) = headers.get("x-ha-access") {
            sent = true;
            if self.is_key(value.as_bytes()) {
                return Presented::Accepted;
            }
        }
        for (name, value) in query
            .into_iter()
            .flat_map(|query| url::form_urlencoded::parse(query.as_bytes()))
        {
            let accepted = match &*name {
                "api_password" => self.is_key(value.as_bytes()),
                "token" => self.is_valid_token(&value),
                _ => continue,
            };
            if accepted {
                return Presented::Accepted;
            }
            sent = true;
        }
        if sent {
            Presented::Refused
        } else {
            Presented::Nothing
        }
    }
}

/// What a request carried, judged by [`Auth::presented`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// An accepted key or token.
    Accepted,
    /// A key or token, none of them accepted.
    Refused,
    /// No credential in any of the four places.
    Nothing,
}

/// Middleware: lets a request through when auth is off or it carries an
/// accepted credential; otherwise 401 with a JSON error.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    guard(&state, request, next, false).await
}

/// Middleware of the WebSocket push port: [`require`], except that with
/// `server.websocket_open` a request carrying no credential at all passes,
/// as deCONZ clients send none. One that carries a wrong key is still
/// refused: a client that sends a key expects it to be checked, and letting
/// it through would hide its misconfiguration until auth is turned on.
pub async fn require_on_push_port(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let open = state.websocket_open;
    guard(&state, request, next, open).await
}

async fn guard(state: &AppState, request: Request, next: Next, open: bool) -> Response {
    let Some(auth) = &state.auth else {
        return next.run(request).await;
    };
    match auth.presented(request.headers(), request.uri().query()) {
        Presented::Accepted => next.run(request).await,
        Presented::Nothing if open => next.run(request).await,
        Presented::Nothing | Presented::Refused => ApiError::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::config_file::Secret;

    fn auth() -> Auth {
        Auth::new(&AuthConfig {
            api_keys: vec![Secret("k1".into()), Secret("k2".into())],
            jwt_secret: Some(Secret("s".into())),
        })
    }

    fn token(alg: Algorithm, secret: &str, exp: i64) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &json!({"sub": "me", "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn any_configured_key_is_accepted() {
        assert!(auth().is_key(b"k2"));
        assert!(!auth().is_key(b"k3"));
        assert!(!auth().is_key(b""));
    }

    #[test]
    fn hs256_token_with_future_exp_is_valid() {
        assert!(auth().is_valid_token(&token(Algorithm::HS256, "s", now() + 60)));
    }

    #[test]
    fn expired_token_is_refused() {
        assert!(!auth().is_valid_token(&token(Algorithm::HS256, "s", now() - 3600)));
    }

    #[test]
    fn token_signed_with_another_secret_is_refused() {
        assert!(!auth().is_valid_token(&token(Algorithm::HS256, "x", now() + 60)));
    }

    #[test]
    fn token_with_another_algorithm_is_refused() {
        assert!(!auth().is_valid_token(&token(Algorithm::HS512, "s", now() + 60)));
    }

    #[test]
    fn unsigned_alg_none_token_is_refused() {
        use base64_free::encode;
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = encode(format!(r#"{{"exp":{}}}"#, now() + 60).as_bytes());
        assert!(!auth().is_valid_token(&format!("{header}.{claims}.")));
    }

    #[test]
    fn token_without_exp_is_refused() {
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "me"}),
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert!(!auth().is_valid_token(&token));
    }

    fn presented(headers: &[(&'static str, &str)], query: Option<&str>) -> Presented {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        auth().presented(&map, query)
    }

    #[test]
    fn a_request_with_no_credential_presents_nothing() {
        assert_eq!(presented(&[], None), Presented::Nothing);
        assert_eq!(presented(&[], Some("a=1&b")), Presented::Nothing);
    }

    #[test]
    fn a_wrong_key_anywhere_is_refused_not_absent() {
        assert_eq!(
            presented(&[], Some("api_password=nope")),
            Presented::Refused
        );
        assert_eq!(presented(&[], Some("api_password=")), Presented::Refused);
        assert_eq!(presented(&[], Some("token=nope")), Presented::Refused);
        assert_eq!(
            presented(&[("x-ha-access", "nope")], None),
            Presented::Refused
        );
        assert_eq!(
            presented(&[("authorization", "Basic azE6")], None),
            Presented::Refused
        );
    }

    #[test]
    fn one_accepted_credential_wins_over_wrong_ones() {
        assert_eq!(
            presented(&[("x-ha-access", "nope")], Some("api_password=k1")),
            Presented::Accepted
        );
        assert_eq!(
            presented(&[("authorization", "Bearer k2")], None),
            Presented::Accepted
        );
    }

    /// Base64url without padding, enough to forge a test token.
    mod base64_free {
        pub fn encode(bytes: &[u8]) -> String {
            const ALPHABET: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..=chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
