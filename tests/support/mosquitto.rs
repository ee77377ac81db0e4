//! A real mosquitto broker on a free loopback port, and a client that
//! publishes to it, for the MQTT source tests.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;

use super::wait::{until_async, within};

/// A running mosquitto broker on a free loopback port, killed when dropped.
pub struct Mosquitto {
    /// Its port.
    pub port: u16,
    /// The one user allowed in, when anonymous access is off.
    pub user: Option<(String, String)>,
    child: Option<tokio::process::Child>,
    config: PathBuf,
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
        let port = super::peers::free_addr().port();
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
        until_async("mosquitto to listen", || async move {
            TcpStream::connect(("127.0.0.1", port)).await.ok()
        })
        .await;
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

fn which_mosquitto() -> PathBuf {
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
    within("the broker to acknowledge a publish", acked).await;
    let _ = client.disconnect().await;
}
