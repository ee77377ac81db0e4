//! Fixtures for the source tests: a hub running one source, real peers on
//! loopback (a TCP server that can go away and come back, tiny HTTP and
//! WebSocket answers, a mosquitto broker), and waiting with a deadline.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use homebus::bus::InProcessBus;
use homebus::hub::Hub;
use homebus::sources::SourceStatusView;
use homebus::units::EntityState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for a condition before it fails.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// A hub running the sources of a config, stopped when dropped.
pub struct RunningHub {
    /// The hub.
    pub hub: Arc<Hub>,
    shutdown: CancellationToken,
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl RunningHub {
    /// Reads the config from TOML as `homebus check` would (a file in the
    /// tests' directory, so relative paths resolve there), starts the hub
    /// and its sources.
    pub fn start(toml: &str) -> RunningHub {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/homebus.toml");
        let config = homebus::config::parse_str(toml, &file)
            .unwrap_or_else(|e| panic!("test config refused:\n{e}"));
        let bus = Arc::new(InProcessBus::new(1024, 1024));
        let hub = Arc::new(Hub::new(&config, bus).expect("hub"));
        let shutdown = CancellationToken::new();
        homebus::sources::start(hub.clone(), &config.sources, &shutdown, &Default::default());
        RunningHub { hub, shutdown }
    }

    /// An entity's state text, if the entity exists.
    pub fn state(&self, entity_id: &str) -> Option<String> {
        self.hub.state(entity_id).map(|s| s.state)
    }

    /// An entity's whole state.
    pub fn entity(&self, entity_id: &str) -> Option<EntityState> {
        self.hub.state(entity_id)
    }

    /// The status of the first source.
    pub fn source(&self) -> SourceStatusView {
        self.hub.sources().remove(0)
    }

    /// Waits until the entity's state satisfies `check`; returns the state.
    pub async fn wait_state(
        &self,
        entity_id: &str,
        what: &str,
        check: impl Fn(&EntityState) -> bool,
    ) -> EntityState {
        wait_for(what, || self.entity(entity_id).filter(|s| check(s))).await
    }

    /// Waits until the entity's state is exactly `state`.
    pub async fn wait_state_is(&self, entity_id: &str, state: &str) -> EntityState {
        self.wait_state(entity_id, &format!("{entity_id} to be `{state}`"), |s| {
            s.state == state
        })
        .await
    }

    /// Waits until the first source's status satisfies `check`.
    pub async fn wait_source(
        &self,
        what: &str,
        check: impl Fn(&SourceStatusView) -> bool,
    ) -> SourceStatusView {
        wait_for(what, || Some(self.source()).filter(|s| check(s))).await
    }
}

/// Polls `probe` every few milliseconds until it gives a value; panics with
/// `what` after [`DEADLINE`].
pub async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let polling = async {
        loop {
            if let Some(value) = probe() {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    match tokio::time::timeout(DEADLINE, polling).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// What a [`Peer`] does with each accepted connection; the number counts
/// connections from 0 across restarts.
pub type Handler =
    Arc<dyn Fn(TcpStream, usize) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |stream, n| Box::pin(f(stream, n)))
}

/// A TCP server on a loopback port that can go away (listener closed,
/// every connection dropped) and come back on the same port.
pub struct Peer {
    /// Its address.
    pub addr: SocketAddr,
    handler: Handler,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    task: Option<JoinHandle<()>>,
}

impl Peer {
    /// Starts a server on a free port.
    pub async fn start(handler: Handler) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut peer = Peer {
            addr: listener.local_addr().unwrap(),
            handler,
            connections: Arc::new(AtomicUsize::new(0)),
            task: None,
        };
        peer.serve(listener);
        peer
    }

    fn serve(&mut self, listener: TcpListener) {
        let handler = self.handler.clone();
        let connections = self.connections.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) drops every connection.
            let mut open = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while open.try_join_next().is_some() {}
                let n = connections.fetch_add(1, Ordering::SeqCst);
                open.spawn(handler(stream, n));
            }
        }));
    }

    /// Closes the listener and every connection.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = wait_for_async_bind(self.addr).await;
        self.serve(listener);
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn wait_for_async_bind(addr: SocketAddr) -> TcpListener {
    let binding = async {
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    };
    tokio::time::timeout(DEADLINE, binding)
        .await
        .unwrap_or_else(|_| panic!("cannot listen on {addr} again"))
}

/// One HTTP request as a test server sees it.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Request target.
    pub path: String,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl HttpRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body).
pub async fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(HttpRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// Writes a whole HTTP/1.1 answer and closes the connection.
pub async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
    let mut text = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The classic HTTP example provider: answers every request with a number
/// (10, 11, 12, …), one per request.
pub fn number_per_request() -> Handler {
    let counter = Arc::new(AtomicUsize::new(10));
    handler(move |mut stream, _| {
        let counter = counter.clone();
        async move {
            if read_request(&mut stream).await.is_some() {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                respond(&mut stream, 200, &[], &n.to_string()).await;
            }
        }
    })
}

/// The classic WebSocket example provider: sends a random number every few
/// milliseconds.
pub fn websocket_numbers() -> Handler {
    handler(|stream, _| async move {
        use futures_util::SinkExt;
        let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            let n = fastrand::u32(10..100).to_string();
            if socket.send(n.into()).await.is_err() {
                return;
            }
        }
    })
}

/// A WebSocket server that sends these messages on each connection, then
/// keeps the connection open (reading, so pings are answered).
pub fn websocket_sending(messages: Vec<String>) -> Handler {
    let messages = Arc::new(messages);
    handler(move |stream, _| {
        let messages = messages.clone();
        async move {
            use futures_util::{SinkExt, StreamExt};
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            for message in messages.iter() {
                if socket.send(message.clone().into()).await.is_err() {
                    return;
                }
            }
            while let Some(Ok(_)) = socket.next().await {}
        }
    })
}

/// A running mosquitto broker on a free loopback port, killed when dropped.
pub struct Mosquitto {
    /// Its port.
    pub port: u16,
    /// The one user allowed in, when anonymous access is off.
    pub user: Option<(String, String)>,
    child: Option<tokio::process::Child>,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Where Debian installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

impl Mosquitto {
    /// Starts mosquitto 2 (anonymous access, loopback only) and waits until
    /// it accepts connections. Fails — does not skip — when it is missing.
    pub async fn start() -> Mosquitto {
        Self::start_with(None).await
    }

    /// Starts mosquitto 2 that lets in only this user.
    pub async fn start_with_user(user: &str, password: &str) -> Mosquitto {
        Self::start_with(Some((user.to_string(), password.to_string()))).await
    }

    async fn start_with(user: Option<(String, String)>) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let access = match &user {
            None => "allow_anonymous true\n".to_string(),
            Some((name, password)) => {
                let file = dir.path().join("passwords");
                let made = std::process::Command::new("/usr/bin/mosquitto_passwd")
                    .arg("-b")
                    .arg("-c")
                    .arg(&file)
                    .arg(name)
                    .arg(password)
                    .status()
                    .expect("mosquitto_passwd (Debian package mosquitto); run scripts/test");
                assert!(made.success(), "mosquitto_passwd failed");
                format!("allow_anonymous false\npassword_file {}\n", file.display())
            }
        };
        let mut broker = Self::start_configured(dir, &access).await;
        broker.user = user;
        broker
    }

    /// Starts mosquitto 2 with one loopback listener and these config lines
    /// (access, TLS files), keeping `dir` (where its files are) alive.
    pub async fn start_configured(dir: tempfile::TempDir, lines: &str) -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\n{lines}persistence false\n"),
        )
        .unwrap();
        let mut broker = Mosquitto {
            port,
            user: None,
            child: None,
            config,
            _dir: dir,
        };
        broker.launch(&which_mosquitto()).await;
        broker
    }

    async fn launch(&mut self, binary: &Path) {
        let child = tokio::process::Command::new(binary)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let port = self.port;
        let ready = async {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(DEADLINE, ready)
            .await
            .expect("mosquitto did not start listening");
    }

    /// Kills the broker.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.launch(&which_mosquitto()).await;
    }
}

fn which_mosquitto() -> std::path::PathBuf {
    let path = Path::new(MOSQUITTO);
    assert!(
        path.exists(),
        "{MOSQUITTO} is missing: the MQTT tests need a real broker; run scripts/test \
         (it installs the Debian package `mosquitto`) or `apt-get install mosquitto`"
    );
    path.to_path_buf()
}

/// Publishes one message to the broker with rumqttc (QoS 1), waiting until
/// the broker acknowledged it.
pub async fn mqtt_publish(broker: &Mosquitto, topic: &str, payload: &str) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new(
        format!("test-{:08x}", fastrand::u32(..)),
        "127.0.0.1",
        broker.port,
    );
    options.set_keep_alive(Duration::from_secs(5));
    if let Some((user, password)) = &broker.user {
        options.set_credentials(user, password);
    }
    let (client, mut eventloop) = AsyncClient::new(options, 4);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
        .await
        .unwrap();
    let acked = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!("cannot publish to the test broker: {e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, acked)
        .await
        .expect("publish acknowledged");
    let _ = client.disconnect().await;
}

/// An SSE server: answers every request with `text/event-stream`, sends
/// `stream` (SSE text), then keeps the connection open until the client
/// leaves.
pub fn sse_sending(stream: String) -> Handler {
    let stream = Arc::new(stream);
    handler(move |mut connection, _| {
        let stream = stream.clone();
        async move {
            if read_request(&mut connection).await.is_none() {
                return;
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";
            if connection.write_all(head.as_bytes()).await.is_err()
                || connection.write_all(stream.as_bytes()).await.is_err()
            {
                return;
            }
            let mut rest = [0u8; 256];
            while matches!(connection.read(&mut rest).await, Ok(n) if n > 0) {}
        }
    })
}
