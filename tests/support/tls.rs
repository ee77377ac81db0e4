//! A throw-away certificate authority with a server certificate for
//! 127.0.0.1 and a client certificate, made with the `openssl` command, and
//! TLS servers presenting them: HTTPS, a WebSocket echo, mosquitto.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

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

    /// mosquitto config lines that make its listener speak only TLS with
    /// the server certificate, requiring a client certificate signed by the
    /// CA when asked; for `mosquitto::Mosquitto::start_configured`.
    pub fn mosquitto_tls_lines(&self, require_client_cert: bool) -> String {
        format!(
            // As root, mosquitto reads these files as user `mosquitto`, who
            // may not enter the temp dir; `user root` keeps it root.
            "allow_anonymous true\nuser root\ncafile {}\ncertfile {}\nkeyfile {}\n\
             require_certificate {require_client_cert}\n",
            self.ca.display(),
            self.server_cert.display(),
            self.server_key.display(),
        )
    }
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

/// Serves `app` over TLS on `listener` until the task is aborted; its
/// routes may upgrade to WebSocket.
pub async fn serve_tls(listener: TcpListener, acceptor: TlsAcceptor, app: Router) {
    serve_tls_connections(listener, acceptor, move |tls| {
        let app = app.clone();
        async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(app))
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
