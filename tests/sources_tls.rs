//! A source's `tls` table against real TLS servers on loopback — HTTPS (the
//! `sse` and `fetch` sources' reqwest client), WebSocket over TLS, and a
//! mosquitto broker — with a CA made for the test: unknown to the system,
//! trusted through `ca_file`, skipped by `insecure`, and a client
//! certificate shown to servers that require one.

mod support {
    pub mod tls;
}

use std::error::Error;
use std::time::Duration;

use homebus::sources::tls::{TlsConfig, TlsError, mqtt_transport, websocket_connector};
use support::tls::{TestCertificates, serve_tls, serve_wss_echo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// How long one connection attempt may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// What rustls says when a certificate's signer is not trusted.
const UNKNOWN_ISSUER: &str = "UnknownIssuer";

/// What a client without a certificate hears from a server requiring one.
const CERTIFICATE_REQUIRED: &str = "CertificateRequired";

/// Which of the test's files a `tls` table names.
#[derive(Clone, Copy)]
enum Trust {
    /// No `ca_file`: the system's roots only.
    SystemRoots,
    /// `ca_file` = the test CA.
    TestCa,
    /// `insecure = true`.
    Insecure,
}

fn tls_table(certificates: &TestCertificates, trust: Trust, client_cert: bool) -> TlsConfig {
    TlsConfig {
        ca_file: matches!(trust, Trust::TestCa).then(|| certificates.ca.clone()),
        insecure: matches!(trust, Trust::Insecure),
        client_cert: client_cert.then(|| certificates.client_cert.clone()),
        client_key: client_cert.then(|| certificates.client_key.clone()),
    }
}

/// An error with every cause under it, where rustls's reason hides.
fn with_causes(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

fn assert_refused(outcome: Result<String, String>, reason: &str) {
    match outcome {
        Ok(answer) => panic!("the connection was accepted ({answer:?}); expected {reason}"),
        Err(error) => assert!(error.contains(reason), "expected {reason}, got: {error}"),
    }
}

async fn loopback() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

// ---- HTTPS, as the sse and fetch sources' reqwest client speaks it ----

/// An HTTPS server answering `hello` to every GET, and its URL.
async fn https_server(acceptor: TlsAcceptor) -> (String, JoinHandle<()>) {
    let (listener, addr) = loopback().await;
    let app = axum::Router::new().fallback(|| async { "hello" });
    let task = tokio::spawn(serve_tls(listener, acceptor, app));
    (format!("https://{addr}/"), task)
}

/// GETs `url` with a client built from `tls`; the body or the error.
async fn https_get(tls: &TlsConfig, url: &str) -> Result<String, String> {
    let config = tls.client_config().unwrap();
    let client = homebus::http_client::client_builder_with_tls(&config)
        .build()
        .unwrap();
    let get = async {
        let response = client.get(url).send().await?.error_for_status()?;
        response.text().await
    };
    let outcome = tokio::time::timeout(DEADLINE, get)
        .await
        .expect("the HTTPS request neither succeeded nor failed");
    outcome.map_err(|e| with_causes(&e))
}

#[tokio::test]
async fn https_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let (url, _server) = https_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::SystemRoots, false);
    assert_refused(https_get(&tls, &url).await, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn https_with_ca_file_trusts_the_server() {
    let certificates = TestCertificates::new();
    let (url, _server) = https_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_eq!(https_get(&tls, &url).await.unwrap(), "hello");
}

#[tokio::test]
async fn https_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let (url, _server) = https_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::Insecure, false);
    assert_eq!(https_get(&tls, &url).await.unwrap(), "hello");
}

#[tokio::test]
async fn https_presents_the_client_certificate_to_a_server_requiring_one() {
    let certificates = TestCertificates::new();
    let (url, _server) = https_server(certificates.acceptor_requiring_client_cert()).await;
    let tls = tls_table(&certificates, Trust::TestCa, true);
    assert_eq!(https_get(&tls, &url).await.unwrap(), "hello");
}

#[tokio::test]
async fn https_without_client_cert_is_refused_by_a_server_requiring_one() {
    let certificates = TestCertificates::new();
    let (url, _server) = https_server(certificates.acceptor_requiring_client_cert()).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_refused(https_get(&tls, &url).await, CERTIFICATE_REQUIRED);
}

// ---- WebSocket over TLS, as the websocket source connects ----

/// A `wss://` echo server, and its URL.
async fn wss_server(acceptor: TlsAcceptor) -> (String, JoinHandle<()>) {
    let (listener, addr) = loopback().await;
    let task = tokio::spawn(serve_wss_echo(listener, acceptor));
    (format!("wss://{addr}/"), task)
}

/// Opens `url` with a connector built from `tls`, sends `ping` and returns
/// the echo, or the error.
async fn wss_echo(tls: &TlsConfig, url: &str) -> Result<String, String> {
    use futures_util::{SinkExt, StreamExt};
    let connector = websocket_connector(tls.client_config().unwrap());
    let exchange = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                .await?;
        socket.send("ping".into()).await?;
        let echo = socket
            .next()
            .await
            .expect("the server closed without an echo")?;
        Ok::<_, tokio_tungstenite::tungstenite::Error>(echo.into_text()?.to_string())
    };
    let outcome = tokio::time::timeout(DEADLINE, exchange)
        .await
        .expect("the WebSocket exchange neither succeeded nor failed");
    outcome.map_err(|e| with_causes(&e))
}

#[tokio::test]
async fn wss_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let (url, _server) = wss_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::SystemRoots, false);
    assert_refused(wss_echo(&tls, &url).await, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn wss_with_ca_file_trusts_the_server() {
    let certificates = TestCertificates::new();
    let (url, _server) = wss_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_eq!(wss_echo(&tls, &url).await.unwrap(), "ping");
}

#[tokio::test]
async fn wss_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let (url, _server) = wss_server(certificates.acceptor()).await;
    let tls = tls_table(&certificates, Trust::Insecure, false);
    assert_eq!(wss_echo(&tls, &url).await.unwrap(), "ping");
}

#[tokio::test]
async fn wss_presents_the_client_certificate_to_a_server_requiring_one() {
    let certificates = TestCertificates::new();
    let (url, _server) = wss_server(certificates.acceptor_requiring_client_cert()).await;
    let tls = tls_table(&certificates, Trust::TestCa, true);
    assert_eq!(wss_echo(&tls, &url).await.unwrap(), "ping");
}

#[tokio::test]
async fn wss_without_client_cert_is_refused_by_a_server_requiring_one() {
    let certificates = TestCertificates::new();
    let (url, _server) = wss_server(certificates.acceptor_requiring_client_cert()).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_refused(wss_echo(&tls, &url).await, CERTIFICATE_REQUIRED);
}

// ---- MQTT over TLS against a real mosquitto ----

/// Connects to the broker with a transport built from `tls`; `Ok` once the
/// broker acknowledged the connection (ConnAck), or the error.
async fn mqtts_connect(tls: &TlsConfig, port: u16) -> Result<String, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let mut options = MqttOptions::new(
        format!("tls-test-{:08x}", fastrand::u32(..)),
        "127.0.0.1",
        port,
    );
    options
        .set_transport(mqtt_transport(tls.client_config().unwrap()))
        .set_keep_alive(Duration::from_secs(5));
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    let connect = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return Ok(format!("{:?}", ack.code)),
                Ok(_) => {}
                Err(e) => return Err(with_causes(&e)),
            }
        }
    };
    tokio::time::timeout(DEADLINE, connect)
        .await
        .expect("the MQTT connection neither succeeded nor failed")
}

#[tokio::test]
async fn mqtts_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let broker = certificates.mosquitto(false).await;
    let tls = tls_table(&certificates, Trust::SystemRoots, false);
    assert_refused(mqtts_connect(&tls, broker.port).await, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn mqtts_with_ca_file_is_acknowledged_by_the_broker() {
    let certificates = TestCertificates::new();
    let broker = certificates.mosquitto(false).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_eq!(mqtts_connect(&tls, broker.port).await.unwrap(), "Success");
}

#[tokio::test]
async fn mqtts_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    let certificates = TestCertificates::new();
    let broker = certificates.mosquitto(false).await;
    let tls = tls_table(&certificates, Trust::Insecure, false);
    assert_eq!(mqtts_connect(&tls, broker.port).await.unwrap(), "Success");
}

#[tokio::test]
async fn mqtts_presents_the_client_certificate_to_a_broker_requiring_one() {
    let certificates = TestCertificates::new();
    let broker = certificates.mosquitto(true).await;
    let tls = tls_table(&certificates, Trust::TestCa, true);
    assert_eq!(mqtts_connect(&tls, broker.port).await.unwrap(), "Success");
}

#[tokio::test]
async fn mqtts_without_client_cert_is_refused_by_a_broker_requiring_one() {
    let certificates = TestCertificates::new();
    let broker = certificates.mosquitto(true).await;
    let tls = tls_table(&certificates, Trust::TestCa, false);
    assert_refused(mqtts_connect(&tls, broker.port).await, CERTIFICATE_REQUIRED);
}

// ---- client identity files that do not fit together ----

#[test]
fn client_key_of_another_certificate_is_refused() {
    let certificates = TestCertificates::new();
    let tls = TlsConfig {
        client_key: Some(certificates.server_key.clone()),
        ..tls_table(&certificates, Trust::TestCa, true)
    };
    let error = tls.client_config().expect_err("the keys do not match");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("server.key"), "{message}");
    assert!(message.contains("client.pem"), "{message}");
}

#[test]
fn client_key_holding_no_private_key_is_refused() {
    let certificates = TestCertificates::new();
    let tls = TlsConfig {
        client_key: Some(certificates.client_cert.clone()),
        ..tls_table(&certificates, Trust::TestCa, true)
    };
    let error = tls.client_config().expect_err("a certificate is not a key");
    assert!(matches!(error, TlsError::NoKey { .. }), "{error}");
}
