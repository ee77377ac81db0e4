//! Auth over real sockets: the four ways to present a credential, their
//! failures, and the refusal to serve a network without auth.

mod support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::server::TestServer;

const AUTH: &str = "[auth]\napi_keys = [\"K1\", \"K2\"]\njwt_secret = \"S\"";

async fn status(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn token(alg: Algorithm, secret: &str, exp_from_now: i64) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &json!({"sub": "dashboard", "exp": chrono::Utc::now().timestamp() + exp_from_now}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn bearer_key_is_accepted() {
    let server = TestServer::start(AUTH).await;
    let request = server
        .client
        .get(server.url("/api/states"))
        .header("Authorization", "Bearer K2");
    assert_eq!(status(request).await.0, 200);
}

#[tokio::test]
async fn x_ha_access_key_is_accepted() {
    let server = TestServer::start(AUTH).await;
    let request = server
        .client
        .get(server.url("/api/states"))
        .header("x-ha-access", "K1");
    assert_eq!(status(request).await.0, 200);
}

#[tokio::test]
async fn api_password_query_is_accepted() {
    let server = TestServer::start(AUTH).await;
    let request = server.client.get(server.url("/api/states?api_password=K1"));
    assert_eq!(status(request).await.0, 200);
}

#[tokio::test]
async fn jwt_token_query_is_accepted_on_subscribe_events() {
    let server = TestServer::start(AUTH).await;
    let url = format!(
        "/subscribe_events?type=state&token={}",
        token(Algorithm::HS256, "S", 600)
    );
    let mut stream = server.sse(&url).await;
    stream.block().await.unwrap();
    server.switch("MOTION", true);
    assert_eq!(
        stream.event().await.unwrap().json()["entity_id"],
        "switch.motion"
    );
}

#[tokio::test]
async fn missing_credential_is_401_with_a_json_error() {
    let server = TestServer::start(AUTH).await;
    let (code, json) = status(server.client.get(server.url("/api/states"))).await;
    assert_eq!(code, 401);
    assert!(json["message"].is_string());
}

async fn refused_message(request: reqwest::RequestBuilder) -> String {
    let (code, json) = status(request).await;
    assert_eq!(code, 401);
    json["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn wrong_key_in_each_place_is_401_and_says_the_same() {
    let server = TestServer::start(AUTH).await;
    let url = server.url("/api/states");
    let missing = refused_message(server.client.get(&url)).await;
    let messages = [
        refused_message(
            server
                .client
                .get(&url)
                .header("Authorization", "Bearer nope"),
        )
        .await,
        refused_message(server.client.get(&url).header("x-ha-access", "nope")).await,
        refused_message(server.client.get(format!("{url}?api_password=nope"))).await,
        refused_message(server.client.get(format!("{url}?token=nope"))).await,
    ];
    for message in messages {
        assert_eq!(
            message, missing,
            "a refusal must not hint which part was wrong"
        );
        assert!(!message.contains("nope"));
    }
}

#[tokio::test]
async fn expired_token_is_401() {
    let server = TestServer::start(AUTH).await;
    let url = server.url(&format!(
        "/api/states?token={}",
        token(Algorithm::HS256, "S", -3600)
    ));
    assert_eq!(status(server.client.get(url)).await.0, 401);
}

#[tokio::test]
async fn token_signed_with_another_algorithm_is_401() {
    let server = TestServer::start(AUTH).await;
    let url = server.url(&format!(
        "/api/states?token={}",
        token(Algorithm::HS384, "S", 600)
    ));
    assert_eq!(status(server.client.get(url)).await.0, 401);
}

#[tokio::test]
async fn unsigned_alg_none_token_is_401() {
    let server = TestServer::start(AUTH).await;
    // {"alg":"none","typ":"JWT"} . {"sub":"x","exp":4102444800} . (no signature)
    let forged = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwfQ.";
    let url = server.url(&format!("/api/states?token={forged}"));
    assert_eq!(status(server.client.get(url)).await.0, 401);
}

#[tokio::test]
async fn stream_without_credential_is_401() {
    let server = TestServer::start(AUTH).await;
    let (code, _) = status(server.client.get(server.url("/api/stream"))).await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn websocket_port_needs_a_credential_when_auth_is_set() {
    let server = TestServer::start(AUTH).await;
    let refused = tokio_tungstenite::connect_async(server.push_url()).await;
    assert!(refused.is_err(), "connected without a key");
    let url = format!("{}?api_password=K1", server.push_url());
    tokio_tungstenite::connect_async(url).await.unwrap();
}

#[tokio::test]
async fn healthz_needs_no_credential() {
    let server = TestServer::start(AUTH).await;
    assert_eq!(
        status(server.client.get(server.url("/healthz"))).await.0,
        200
    );
}

#[tokio::test]
async fn without_auth_a_non_loopback_address_is_refused_and_says_why() {
    let mut config = support::config::parse("");
    config.server.listen = "0.0.0.0:0".parse().unwrap();
    config.server.websocket_port = 0;
    let error = TestServer::try_start_config(config)
        .await
        .err()
        .expect("the server must refuse to start");
    let message = error.to_string();
    assert!(message.contains("0.0.0.0"), "{message}");
    assert!(message.contains("[auth]"), "{message}");
    assert!(message.contains("allow_open = true"), "{message}");
}

#[tokio::test]
async fn allow_open_serves_a_non_loopback_address_without_auth() {
    let mut config = support::config::parse("[server]\nallow_open = true");
    config.server.listen = "0.0.0.0:0".parse().unwrap();
    config.server.websocket_port = 0;
    let server = TestServer::start_config(config).await;
    let url = format!("http://127.0.0.1:{}/healthz", server.addr.port());
    assert_eq!(server.client.get(url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn jwt_as_bearer_is_accepted() {
    let server = TestServer::start(AUTH).await;
    let request = server.client.get(server.url("/api/states")).header(
        "Authorization",
        format!("Bearer {}", token(Algorithm::HS256, "S", 600)),
    );
    assert_eq!(status(request).await.0, 200);
}
