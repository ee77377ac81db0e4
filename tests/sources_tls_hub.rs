//! Sources with a `tls` table in a running hub, their config read by the
//! validating loader, against real TLS servers on loopback that present a
//! certificate from a CA made for the test: an HTTPS event stream (`sse`),
//! an HTTPS answer (`fetch`), WebSocket over TLS (`websocket`) and mosquitto
//! with a TLS listener (`mqtt`). Without `ca_file` the status shows the
//! certificate error; with it, or with `insecure = true`, an event reaches
//! a unit; a server requiring a client certificate gets one. Then the real
//! binary: the `insecure` warning in its log, and `homebus check` on the
//! `tls` mistakes. (`tests/sources_tls.rs` tests the building blocks.)

mod support;

use std::cell::Cell;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocketUpgrade};
use homebus::sources::tls::{TlsConfig, mqtt_transport};
use support::hub::TestHub;
use support::hub_process::HubProcess;
use support::mosquitto::Mosquitto;
use support::sse_server::sse_then_hang;
use support::tls::{TestCertificates, serve_tls};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use Peer::{Fetch, Mqtt, Sse, Wss};
use Setup::{CaFile, ClientCertificate, Insecure, NoTls};

/// The reading every peer sends, and the state it gives the unit.
const READING: &str = "21.5";

/// The unit the reading sets.
const ENTITY: &str = "sensor.temperature";

/// A TLS server as one source type meets it.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// An HTTPS event stream, for an `sse` source.
    Sse,
    /// An HTTPS answer, for a `fetch` source.
    Fetch,
    /// WebSocket over TLS, for a `websocket` source.
    Wss,
    /// mosquitto with a TLS listener, for an `mqtt` source.
    Mqtt,
}

/// The source's `tls` table, and what the server asks of the client.
#[derive(Clone, Copy, PartialEq)]
enum Setup {
    /// No `tls` table: the system's roots only.
    NoTls,
    /// `tls = { ca_file = <the test CA> }`.
    CaFile,
    /// `tls = { insecure = true }`.
    Insecure,
    /// A server that requires a client certificate signed by the test CA,
    /// and a table with `ca_file`, `client_cert` and `client_key`.
    ClientCertificate,
}

impl Setup {
    /// The source's `tls` line.
    fn tls_line(self, certificates: &TestCertificates) -> String {
        let (ca, cert, key) = (
            &certificates.ca,
            &certificates.client_cert,
            &certificates.client_key,
        );
        match self {
            NoTls => String::new(),
            CaFile => format!("tls = {{ ca_file = {ca:?} }}"),
            Insecure => "tls = { insecure = true }".to_string(),
            ClientCertificate => {
                format!(
                    "tls = {{ ca_file = {ca:?}, client_cert = {cert:?}, client_key = {key:?} }}"
                )
            }
        }
    }
}

/// A peer serving over TLS, until dropped.
struct Served {
    /// What the source's `url` is.
    url: String,
    /// The HTTPS or WSS server's task.
    task: Option<JoinHandle<()>>,
    /// For `Mqtt`: the broker, and the transport its publisher uses.
    broker: Option<(Mosquitto, rumqttc::Transport)>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts `peer` with the test CA's server certificate; it requires a
/// client certificate with `ClientCertificate`.
async fn serve(peer: Peer, certificates: &TestCertificates, setup: Setup) -> Served {
    let require_client_cert = setup == ClientCertificate;
    if let Mqtt = peer {
        let lines = certificates.mosquitto_tls_lines(require_client_cert);
        let broker = Mosquitto::start_configured(tempfile::tempdir().unwrap(), &lines).await;
        let publisher = TlsConfig {
            ca_file: Some(certificates.ca.clone()),
            insecure: false,
            client_cert: Some(certificates.client_cert.clone()),
            client_key: Some(certificates.client_key.clone()),
        };
        let transport = mqtt_transport(publisher.client_config().unwrap());
        return Served {
            url: format!("mqtts://127.0.0.1:{}", broker.port),
            task: None,
            broker: Some((broker, transport)),
        };
    }
    let acceptor = if require_client_cert {
        certificates.acceptor_requiring_client_cert()
    } else {
        certificates.acceptor()
    };
    let (scheme, app) = match peer {
        Sse => ("https", Router::new().fallback(|| async { event_stream() })),
        Fetch => ("https", Router::new().fallback(|| async { READING })),
        Wss => ("wss", Router::new().fallback(websocket_sending_the_reading)),
        Mqtt => unreachable!("served above"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("{scheme}://{}/", listener.local_addr().unwrap());
    Served {
        url,
        task: Some(tokio::spawn(serve_tls(listener, acceptor, app))),
        broker: None,
    }
}

/// One `temperature` event, then an open stream.
fn event_stream() -> axum::response::Response {
    let event = format!("event: temperature\ndata: {READING}\n\n");
    sse_then_hang(vec![Bytes::from(event)])
}

/// Sends the reading once the socket is open, then reads until it closes.
async fn websocket_sending_the_reading(upgrade: WebSocketUpgrade) -> axum::response::Response {
    upgrade.on_upgrade(|mut socket| async move {
        if socket.send(Message::Text(READING.into())).await.is_ok() {
            while let Some(Ok(_)) = socket.recv().await {}
        }
    })
}

/// Publishes the reading to the broker over TLS (QoS 1) and waits for the
/// broker's acknowledgement.
async fn publish_reading(broker: &Mosquitto, transport: &rumqttc::Transport) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let id = format!("publisher-{:08x}", fastrand::u32(..));
    let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
    options.set_transport(transport.clone());
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    client
        .publish("temperature", QoS::AtLeastOnce, false, READING)
        .await
        .unwrap();
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => return,
            Ok(_) => {}
            Err(e) => panic!("cannot publish to the test broker over TLS: {e}"),
        }
    }
}

/// A config with one source of `peer`'s type at `url` whose readings set
/// [`ENTITY`].
fn config(peer: Peer, url: &str, tls: &str) -> String {
    let own = match peer {
        Sse => "type = \"sse\"\nreconnect = \"50ms\"",
        Fetch => "type = \"fetch\"\nevents = [\"temperature\"]\ninterval = \"50ms\"",
        Wss => "type = \"websocket\"\nevents = [\"temperature\"]\nreconnect = \"50ms\"",
        Mqtt => "type = \"mqtt\"\ntopics = [\"temperature\"]\nreconnect = \"50ms\"",
    };
    format!(
        "[[source]]\nname = \"device\"\nurl = \"{url}\"\n{own}\n{tls}\n\n\
         [[unit]]\naddress = \"temperature\"\nkind = \"sensor\"\n"
    )
}

/// A hub whose one source connects to `peer` set up so, and the peer.
async fn hub_with(peer: Peer, setup: Setup) -> (TestHub, Served) {
    let certificates = TestCertificates::new();
    let served = serve(peer, &certificates, setup).await;
    let tls = setup.tls_line(&certificates);
    let hub = TestHub::start(&config(peer, &served.url, &tls));
    (hub, served)
}

/// Checks that the reading reaches the unit through the source.
async fn reading_arrives(peer: Peer, setup: Setup) {
    let (hub, served) = hub_with(peer, setup).await;
    match &served.broker {
        None => {
            hub.wait_state_is(ENTITY, READING).await;
        }
        // The source subscribes once connected, and mosquitto keeps no
        // message sent before that: publish until one arrives.
        Some((broker, transport)) => {
            let publishing = async {
                loop {
                    publish_reading(broker, transport).await;
                    let seen = hub.wait_state_is(ENTITY, READING);
                    if tokio::time::timeout(Duration::from_millis(200), seen)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            };
            support::wait::within(&format!("{ENTITY} to become {READING}"), publishing).await;
        }
    }
}

/// Checks that the source's status shows that the server's certificate
/// was refused, and that nothing arrived.
async fn certificate_refused(peer: Peer) {
    let (hub, _served) = hub_with(peer, NoTls).await;
    let status = hub
        .wait_source("device", "a certificate error in the status", |s| {
            s.last_error.is_some()
        })
        .await;
    let error = status.last_error.unwrap();
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "{peer:?}: {error}"
    );
    assert_eq!(hub.state(ENTITY).as_deref(), Some("unknown"));
}

// ---- refused without ca_file ----

#[tokio::test]
async fn sse_without_ca_file_shows_the_certificate_error() {
    certificate_refused(Sse).await;
}

#[tokio::test]
async fn fetch_without_ca_file_shows_the_certificate_error() {
    certificate_refused(Fetch).await;
}

#[tokio::test]
async fn websocket_without_ca_file_shows_the_certificate_error() {
    certificate_refused(Wss).await;
}

#[tokio::test]
async fn mqtt_without_ca_file_shows_the_certificate_error() {
    certificate_refused(Mqtt).await;
}

// ---- accepted with ca_file ----

#[tokio::test]
async fn sse_with_ca_file_delivers_the_event() {
    reading_arrives(Sse, CaFile).await;
}

#[tokio::test]
async fn fetch_with_ca_file_delivers_the_answer() {
    reading_arrives(Fetch, CaFile).await;
}

#[tokio::test]
async fn websocket_with_ca_file_delivers_the_message() {
    reading_arrives(Wss, CaFile).await;
}

#[tokio::test]
async fn mqtt_with_ca_file_delivers_the_message() {
    reading_arrives(Mqtt, CaFile).await;
}

// ---- accepted with insecure ----

#[tokio::test]
async fn sse_with_insecure_delivers_the_event() {
    reading_arrives(Sse, Insecure).await;
}

#[tokio::test]
async fn fetch_with_insecure_delivers_the_answer() {
    reading_arrives(Fetch, Insecure).await;
}

#[tokio::test]
async fn websocket_with_insecure_delivers_the_message() {
    reading_arrives(Wss, Insecure).await;
}

#[tokio::test]
async fn mqtt_with_insecure_delivers_the_message() {
    reading_arrives(Mqtt, Insecure).await;
}

// ---- client certificates presented to a server that requires one ----

#[tokio::test]
async fn sse_presents_the_client_certificate() {
    reading_arrives(Sse, ClientCertificate).await;
}

#[tokio::test]
async fn fetch_presents_the_client_certificate() {
    reading_arrives(Fetch, ClientCertificate).await;
}

#[tokio::test]
async fn websocket_presents_the_client_certificate() {
    reading_arrives(Wss, ClientCertificate).await;
}

#[tokio::test]
async fn mqtt_presents_the_client_certificate() {
    reading_arrives(Mqtt, ClientCertificate).await;
}

// ---- the real binary ----

#[tokio::test]
async fn insecure_source_runs_and_the_binary_logs_a_warning() {
    let certificates = TestCertificates::new();
    let served = serve(Fetch, &certificates, Insecure).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("homebus.toml");
    let server =
        "[server]\nlisten = \"127.0.0.1:0\"\nwebsocket_port = 0\ndatabase = \":memory:\"\n\n";
    let source = config(Fetch, &served.url, "tls = { insecure = true }");
    std::fs::write(&path, format!("{server}{source}")).unwrap();
    let mut hub = HubProcess::start(dir.path(), &path);
    let (warned, changed) = (Cell::new(false), Cell::new(false));
    hub.wait_for_log("the insecure warning and the reading", |line| {
        if line.contains("WARN") && line.contains("tls.insecure = true") {
            assert!(
                line.contains("device"),
                "the warning names the source: {line}"
            );
            warned.set(true);
        }
        if line.contains(ENTITY) && line.contains(&format!("→ {READING}")) {
            changed.set(true);
        }
        (warned.get() && changed.get()).then_some(())
    })
    .await;
    let warnings = hub.log.matches("tls.insecure = true").count();
    assert_eq!(
        warnings, 1,
        "warned once, when the source started:\n{}",
        hub.log
    );
}

/// The one error `homebus check` prints for `config` (in a file of its
/// own folder), with the file's path.
fn check_error(config: &str, files: &[(&str, &str)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("homebus.toml");
    std::fs::write(&path, config).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_homebus"))
        .arg("check")
        .arg("-c")
        .arg(&path)
        .output()
        .expect("the homebus binary runs");
    assert_eq!(out.status.code(), Some(1), "the config is refused");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one error: {stderr}");
    let folder = dir.path().display().to_string();
    (folder, stderr)
}

fn sse_source(url: &str, tls: &str) -> String {
    format!("[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"{url}\"\n{tls}\n")
}

#[test]
fn check_reports_a_missing_ca_file_at_its_place_with_the_path_it_tried() {
    let config = sse_source(
        "https://cam.local/events",
        r#"tls = { ca_file = "cam-ca.pem" }"#,
    );
    let (folder, error) = check_error(&config, &[]);
    let tried = Path::new(&folder).join("cam-ca.pem");
    let expected = format!(
        "{folder}/homebus.toml:5:19: [[source]] `cam`: cannot read `tls.ca_file` {}: ",
        tried.display()
    );
    assert!(error.starts_with(&expected), "{error}");
    assert!(
        error.contains("check the path (relative to the config file's folder)"),
        "{error}"
    );
}

#[test]
fn check_reports_a_ca_file_without_a_certificate() {
    let config = sse_source(
        "https://cam.local/events",
        r#"tls = { ca_file = "notes.txt" }"#,
    );
    let (_, error) = check_error(&config, &[("notes.txt", "not a certificate\n")]);
    assert!(
        error.contains(":5:19: [[source]] `cam`: `tls.ca_file`"),
        "{error}"
    );
    assert!(error.contains("holds no certificate"), "{error}");
}

#[test]
fn check_refuses_an_unknown_key_in_tls_and_lists_the_keys() {
    let config = sse_source(
        "https://cam.local/events",
        r#"tls = { insecure = true, ca = "x" }"#,
    );
    let (_, error) = check_error(&config, &[]);
    assert!(
        error.contains(":5:26: unknown key `ca` in `tls` in [[source]] `cam`"),
        "{error}"
    );
    assert!(
        error.contains("`ca_file`, `insecure`, `client_cert` or `client_key`"),
        "{error}"
    );
}

#[test]
fn check_refuses_tls_on_a_plain_http_url_with_a_hint_to_use_https() {
    let config = sse_source("http://cam.local/events", "tls = { insecure = true }");
    let (_, error) = check_error(&config, &[]);
    assert!(
        error.contains(":5:1: `tls` in [[source]] `cam` would never be used"),
        "{error}"
    );
    assert!(error.contains("`http://`"), "{error}");
    assert!(error.contains("write the URL with `https://`"), "{error}");
}
