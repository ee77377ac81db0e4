//! A source's `tls` table against real TLS servers on loopback — HTTPS (the
//! `sse` and `fetch` sources' reqwest client), WebSocket over TLS, and a
//! mosquitto broker — with a CA made for the test: unknown to the system,
//! trusted through `ca_file`, skipped by `insecure`, and a client
//! certificate shown to servers that require one.

mod support;

use std::error::Error;
use std::time::Duration;

use homebus::sources::tls::{TlsConfig, TlsError, mqtt_transport, websocket_connector};
use support::mosquitto::Mosquitto;
use support::tls::{TestCertificates, serve_tls, serve_wss_echo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use ClientCert::{Presented, Withheld};
use Peer::{Https, MqttBroker, Wss};
use Server::{AnyClient, RequiresClientCert};
use Trust::{Insecure, SystemRoots, TestCa};

/// What rustls says when a certificate's signer is not trusted.
const UNKNOWN_ISSUER: &str = "UnknownIssuer";

/// What a client without a certificate hears from a server requiring one.
const CERTIFICATE_REQUIRED: &str = "CertificateRequired";

/// The kind of server, as each source type meets it.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// HTTPS, through the reqwest client of the `sse` and `fetch` sources.
    Https,
    /// WebSocket over TLS, as the `websocket` source connects.
    Wss,
    /// mosquitto with a TLS listener, as the `mqtt` source connects.
    MqttBroker,
}

/// Whether the server asks the client for a certificate.
#[derive(Clone, Copy, PartialEq)]
enum Server {
    AnyClient,
    RequiresClientCert,
}

/// Which servers the `tls` table trusts.
#[derive(Clone, Copy)]
enum Trust {
    /// No `ca_file`: the system's roots only.
    SystemRoots,
    /// `ca_file` = the test CA.
    TestCa,
    /// `insecure = true`.
    Insecure,
}

/// Whether the `tls` table sets `client_cert` and `client_key`.
#[derive(Clone, Copy, PartialEq)]
enum ClientCert {
    Presented,
    Withheld,
}

fn tls_table(certificates: &TestCertificates, trust: Trust, client_cert: ClientCert) -> TlsConfig {
    let presented = client_cert == Presented;
    TlsConfig {
        ca_file: matches!(trust, TestCa).then(|| certificates.ca.clone()),
        insecure: matches!(trust, Insecure),
        client_cert: presented.then(|| certificates.client_cert.clone()),
        client_key: presented.then(|| certificates.client_key.clone()),
    }
}

/// Starts a `peer` presenting a certificate from a fresh test CA and talks
/// to it once through a client built from the `tls` table; `Ok` when the
/// exchange went through (and the peer answered as it should), else the
/// error with its causes.
async fn exchange(
    peer: Peer,
    server: Server,
    trust: Trust,
    client_cert: ClientCert,
) -> Result<(), String> {
    let certificates = TestCertificates::new();
    let tls = tls_table(&certificates, trust, client_cert);
    let acceptor = match server {
        AnyClient => certificates.acceptor(),
        RequiresClientCert => certificates.acceptor_requiring_client_cert(),
    };
    let (answer, expected) = match peer {
        Https => (https_get(&tls, acceptor).await?, "hello"),
        Wss => (wss_echo(&tls, acceptor).await?, "ping"),
        MqttBroker => {
            let lines = certificates.mosquitto_tls_lines(server == RequiresClientCert);
            let broker = Mosquitto::start_configured(tempfile::tempdir().unwrap(), &lines).await;
            (mqtts_connect(&tls, broker.port).await?, "Success")
        }
    };
    assert_eq!(answer, expected, "{peer:?} answered oddly");
    Ok(())
}

fn assert_refused(outcome: Result<(), String>, reason: &str) {
    match outcome {
        Ok(()) => panic!("the connection was accepted; expected {reason}"),
        Err(error) => assert!(error.contains(reason), "expected {reason}, got: {error}"),
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

/// Runs `attempt` with the deadline; its outcome with the error's causes.
async fn within_deadline<T, E: Error>(
    what: &str,
    attempt: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    let outcome = support::wait::within(&format!("{what} to succeed or fail"), attempt).await;
    outcome.map_err(|e| with_causes(&e))
}

/// A task serving TLS on a loopback port, and the port's URL.
async fn tls_server<F: Future<Output = ()> + Send + 'static>(
    scheme: &str,
    serve: impl FnOnce(TcpListener) -> F,
) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("{scheme}://{}/", listener.local_addr().unwrap());
    (url, tokio::spawn(serve(listener)))
}

/// GETs from an HTTPS server answering `hello`, with a reqwest client built
/// from `tls` as the `sse` and `fetch` sources build theirs.
async fn https_get(tls: &TlsConfig, acceptor: TlsAcceptor) -> Result<String, String> {
    let app = axum::Router::new().fallback(|| async { "hello" });
    let (url, server) = tls_server("https", |listener| serve_tls(listener, acceptor, app)).await;
    let config = tls.client_config().unwrap();
    let client = homebus::http_client::client_builder_with_tls(&config)
        .build()
        .unwrap();
    let get = async {
        let response = client.get(&url).send().await?.error_for_status()?;
        response.text().await
    };
    let outcome = within_deadline("the HTTPS request", get).await;
    server.abort();
    outcome
}

/// Sends `ping` to a WebSocket-over-TLS echo server through a connector
/// built from `tls`, and returns the echo.
async fn wss_echo(tls: &TlsConfig, acceptor: TlsAcceptor) -> Result<String, String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite;
    let (url, server) = tls_server("wss", |listener| serve_wss_echo(listener, acceptor)).await;
    let connector = websocket_connector(tls.client_config().unwrap());
    let ping = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(&url, None, false, Some(connector))
                .await?;
        socket.send("ping".into()).await?;
        let echo = socket
            .next()
            .await
            .ok_or(tungstenite::Error::ConnectionClosed)??;
        Ok::<_, tungstenite::Error>(echo.into_text()?.to_string())
    };
    let outcome = within_deadline("the WebSocket exchange", ping).await;
    server.abort();
    outcome
}

/// Connects to the broker with a transport built from `tls`, as the `mqtt`
/// source does for `mqtts://`; the ConnAck's return code.
async fn mqtts_connect(tls: &TlsConfig, port: u16) -> Result<String, String> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
    let client_id = format!("tls-test-{:08x}", fastrand::u32(..));
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options
        .set_transport(mqtt_transport(tls.client_config().unwrap()))
        .set_keep_alive(Duration::from_secs(5));
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    let connack = async {
        loop {
            if let Event::Incoming(Packet::ConnAck(ack)) = eventloop.poll().await? {
                return Ok::<_, rumqttc::ConnectionError>(format!("{:?}", ack.code));
            }
        }
    };
    within_deadline("the MQTT connection", connack).await
}

// ---- trust: refused without ca_file, accepted with it or with insecure ----

#[tokio::test]
async fn https_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let outcome = exchange(Https, AnyClient, SystemRoots, Withheld).await;
    assert_refused(outcome, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn https_with_ca_file_trusts_the_server() {
    exchange(Https, AnyClient, TestCa, Withheld).await.unwrap();
}

#[tokio::test]
async fn https_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    exchange(Https, AnyClient, Insecure, Withheld)
        .await
        .unwrap();
}

#[tokio::test]
async fn wss_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let outcome = exchange(Wss, AnyClient, SystemRoots, Withheld).await;
    assert_refused(outcome, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn wss_with_ca_file_trusts_the_server() {
    exchange(Wss, AnyClient, TestCa, Withheld).await.unwrap();
}

#[tokio::test]
async fn wss_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    exchange(Wss, AnyClient, Insecure, Withheld).await.unwrap();
}

#[tokio::test]
async fn mqtts_without_ca_file_refuses_a_certificate_from_an_unknown_ca() {
    let outcome = exchange(MqttBroker, AnyClient, SystemRoots, Withheld).await;
    assert_refused(outcome, UNKNOWN_ISSUER);
}

#[tokio::test]
async fn mqtts_with_ca_file_is_acknowledged_by_the_broker() {
    exchange(MqttBroker, AnyClient, TestCa, Withheld)
        .await
        .unwrap();
}

#[tokio::test]
async fn mqtts_with_insecure_accepts_a_certificate_from_an_unknown_ca() {
    exchange(MqttBroker, AnyClient, Insecure, Withheld)
        .await
        .unwrap();
}

// ---- client certificates: presented when set, missed when not ----

#[tokio::test]
async fn https_presents_the_client_certificate_to_a_server_requiring_one() {
    exchange(Https, RequiresClientCert, TestCa, Presented)
        .await
        .unwrap();
}

#[tokio::test]
async fn https_without_client_cert_is_refused_by_a_server_requiring_one() {
    let outcome = exchange(Https, RequiresClientCert, TestCa, Withheld).await;
    assert_refused(outcome, CERTIFICATE_REQUIRED);
}

#[tokio::test]
async fn wss_presents_the_client_certificate_to_a_server_requiring_one() {
    exchange(Wss, RequiresClientCert, TestCa, Presented)
        .await
        .unwrap();
}

#[tokio::test]
async fn wss_without_client_cert_is_refused_by_a_server_requiring_one() {
    let outcome = exchange(Wss, RequiresClientCert, TestCa, Withheld).await;
    assert_refused(outcome, CERTIFICATE_REQUIRED);
}

#[tokio::test]
async fn mqtts_presents_the_client_certificate_to_a_broker_requiring_one() {
    exchange(MqttBroker, RequiresClientCert, TestCa, Presented)
        .await
        .unwrap();
}

#[tokio::test]
async fn mqtts_without_client_cert_is_refused_by_a_broker_requiring_one() {
    let outcome = exchange(MqttBroker, RequiresClientCert, TestCa, Withheld).await;
    assert_refused(outcome, CERTIFICATE_REQUIRED);
}

// ---- client identity files that do not fit together ----

#[test]
fn client_key_of_another_certificate_is_refused() {
    let certificates = TestCertificates::new();
    let tls = TlsConfig {
        client_key: Some(certificates.server_key.clone()),
        ..tls_table(&certificates, TestCa, Presented)
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
        ..tls_table(&certificates, TestCa, Presented)
    };
    let error = tls.client_config().expect_err("a certificate is not a key");
    assert!(matches!(error, TlsError::NoKey { .. }), "{error}");
}
