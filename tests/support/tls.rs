//! A throw-away certificate authority with a server certificate for
//! 127.0.0.1 and a client certificate, made with the `openssl` command, and
//! TLS servers presenting them: HTTPS, a WebSocket echo, mosquitto.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

/// A CA, and a server and a client certificate signed by it, in a temp dir.
pub struct TestCertificates {
    /// The CA certificate (PEM); point `SSL_CERT_FILE` or `tls.ca_file` at
    /// it to trust the server.
    pub ca: PathBuf,
    /// The server's certificate, for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server certificate's private key.
    pub server_key: PathBuf,
    /// A certificate for client authentication.
    pub client_cert: PathBuf,
    /// The client certificate's private key.
    pub client_key: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command is needed for TLS tests (apt-get install openssl)");
    assert!(status.success(), "openssl {args:?} failed");
}

/// Makes a P-256 key and a CSR for `name` (the common name), or a
/// self-signed certificate with `-x509`.
fn new_key(dir: &Path, name: &str, common_name: &str, x509: bool) {
    let (key, out) = (format!("{name}.key"), format!("{name}.csr"));
    let out = if x509 { format!("{name}.pem") } else { out };
    let subject = format!("/CN={common_name}");
    let mut args = vec!["req"];
    if x509 {
        args.extend(["-x509", "-days", "2"]);
    }
    args.extend([
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &out,
        "-subj",
        &subject,
    ]);
    openssl(dir, &args);
}

/// Makes `name.key` and `name.pem`, signed by the CA, with these X.509
/// extensions.
fn issue(dir: &Path, name: &str, common_name: &str, extensions: &str) {
    new_key(dir, name, common_name, false);
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), extensions).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
}

impl TestCertificates {
    /// Makes a CA, a server certificate for `127.0.0.1` and `localhost`,
    /// and a client certificate.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        new_key(d, "ca", "homebus test CA", true);
        issue(
            d,
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        );
        issue(
            d,
            "client",
            "homebus test client",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        );
        TestCertificates {
            ca: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            client_cert: d.join("client.pem"),
            client_key: d.join("client.key"),
            _dir: dir,
        }
    }

    /// A TLS acceptor presenting the server certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.server_acceptor(false)
    }

    /// A TLS acceptor presenting the server certificate that refuses
    /// clients without a certificate signed by the CA.
    pub fn acceptor_requiring_client_cert(&self) -> TlsAcceptor {
        self.server_acceptor(true)
    }

    fn server_acceptor(&self, require_client_cert: bool) -> TlsAcceptor {
        let certs = pem_certificates(&self.server_cert);
        let key = PrivateKeyDer::from_pem_file(&self.server_key).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(pem_certificates(&self.ca));
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(certs, key).unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    /// Starts mosquitto with one TLS listener on a free loopback port
    /// presenting the server certificate, requiring a client certificate
    /// when asked. Waits until it listens.
    pub async fn mosquitto(&self, require_client_cert: bool) -> TlsMosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                // As root, mosquitto would read the files as user `mosquitto`,
                // which may not enter the temp dir; `user root` keeps it.
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n\
                 cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_client_cert}\n",
                self.ca.display(),
                self.server_cert.display(),
                self.server_key.display(),
            ),
        )
        .unwrap();
        let log = dir.path().join("mosquitto.log");
        let mut child = tokio::process::Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {MOSQUITTO} ({e}); run scripts/test or apt-get install mosquitto"
                )
            });
        let listening = async {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(status);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(())
        };
        let started = tokio::time::timeout(Duration::from_secs(20), listening).await;
        if !matches!(started, Ok(Ok(()))) {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("mosquitto did not start listening ({started:?}):\n{log}");
        }
        TlsMosquitto {
            port,
            _child: child,
            _dir: dir,
        }
    }
}

/// Where Debian installs the broker.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A mosquitto broker speaking only TLS, killed when dropped.
pub struct TlsMosquitto {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

fn pem_certificates(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Accepts TLS connections on `listener` and hands each to `serve` in its
/// own task, until the task running this is aborted.
async fn serve_tls_connections<F, Fut>(listener: TcpListener, acceptor: TlsAcceptor, serve: F)
where
    F: Fn(TlsStream<TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let serve = Arc::new(serve);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, serve) = (acceptor.clone(), serve.clone());
        tokio::spawn(async move {
            // A client that refuses our certificate, or that we refuse,
            // ends the handshake: fine.
            if let Ok(tls) = acceptor.accept(tcp).await {
                serve(tls).await;
            }
        });
    }
}

/// Serves `app` over TLS on `listener` until the task is aborted.
pub async fn serve_tls(listener: TcpListener, acceptor: TlsAcceptor, app: Router) {
    serve_tls_connections(listener, acceptor, move |tls| {
        let app = app.clone();
        async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                .await;
        }
    })
    .await;
}

/// Serves WebSocket over TLS on `listener`, sending each text or binary
/// message back, until the task is aborted.
pub async fn serve_wss_echo(listener: TcpListener, acceptor: TlsAcceptor) {
    use futures_util::{SinkExt, StreamExt};
    serve_tls_connections(listener, acceptor, |tls| async move {
        let Ok(mut socket) = tokio_tungstenite::accept_async(tls).await else {
            return;
        };
        while let Some(Ok(message)) = socket.next().await {
            if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                return;
            }
        }
    })
    .await;
}
