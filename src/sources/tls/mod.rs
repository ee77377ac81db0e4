//! TLS for the sources that connect out (`sse`, `fetch`, `websocket`,
//! `mqtt`): which servers to trust beyond the system's roots — a device
//! with a self-signed certificate — and which certificate to show a server
//! that asks for one. A source's `tls` table becomes one rustls
//! [`ClientConfig`], handed to each transport's client in the form it takes.
//! Without a `tls` table a source trusts the system's roots.
//!
//! `config.rs` reads the table from the config file; `insecure.rs` is the
//! verifier behind `insecure = true`; `tests.rs` the table's mistakes.

mod config;
mod insecure;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::SourceTls;
use insecure::AcceptAnyCertificate;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The largest PEM file read: a system CA bundle is a few hundred KiB, so
/// anything past this is a wrong path, not a certificate.
const MAX_PEM_FILE: u64 = 4 << 20;

/// A source's `tls = { … }` table, for devices and brokers whose
/// certificate the system's roots do not vouch for. The config reader
/// (`SourceTls::read`) fills it in; tests build it directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// A PEM file of certificates to trust in addition to the system's
    /// roots: the CA that signed the device's certificate, or a
    /// self-signed certificate itself. Relative to the config file's folder.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate, whoever signed it and whatever name
    /// it is for. The connection stays encrypted, but anyone on the network
    /// path can pose as the device, so homebus logs a warning when the
    /// source starts. Prefer `ca_file`; the two cannot be combined.
    pub insecure: bool,
    /// A PEM certificate (optionally followed by its chain) that homebus
    /// presents when the server asks for a client certificate, as brokers
    /// with `require_certificate` do. Needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// The private key of `client_cert`, PEM (PKCS#8, PKCS#1 or SEC1,
    /// unencrypted). Needs `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Why a `tls` table cannot be used; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Both were set, and `insecure` would make `ca_file` dead weight.
    #[error(
        "`tls.insecure = true` accepts any certificate, so `tls.ca_file` ({}) would never be used; remove one of them (prefer keeping `ca_file`)",
        path.display()
    )]
    InsecureWithCaFile { path: PathBuf },
    /// A client certificate is useless without its key.
    #[error(
        "`tls.client_cert` is set but `tls.client_key` is not; give the certificate's private key too, or remove `client_cert`"
    )]
    CertWithoutKey,
    /// A client key is useless without its certificate.
    #[error(
        "`tls.client_key` is set but `tls.client_cert` is not; give the certificate too, or remove `client_key`"
    )]
    KeyWithoutCert,
    /// The file could not be opened or read.
    #[error(
        "cannot read `tls.{field}` {}: {source}; check the path (relative to the config file's folder) and that homebus may read it",
        path.display()
    )]
    Read {
        field: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The file is too large to be a certificate or a key.
    #[error(
        "`tls.{field}` {} is larger than {} MiB, too large for a PEM certificate or key; check the path",
        path.display(),
        MAX_PEM_FILE >> 20
    )]
    TooLarge { field: &'static str, path: PathBuf },
    /// The file is not well-formed PEM.
    #[error(
        "`tls.{field}` {} is not a valid PEM file ({reason}); it should hold `-----BEGIN …-----` blocks",
        path.display()
    )]
    BadPem {
        field: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The file is PEM but has no `CERTIFICATE` block.
    #[error(
        "`tls.{field}` {} holds no certificate (no `-----BEGIN CERTIFICATE-----` block); export the certificate in PEM form",
        path.display()
    )]
    NoCertificate { field: &'static str, path: PathBuf },
    /// A certificate in `ca_file` cannot serve as a trust anchor.
    #[error(
        "`tls.ca_file` {} holds a certificate that cannot be trusted as a CA ({source}); export the CA certificate again in PEM form",
        path.display()
    )]
    BadCaCertificate {
        path: PathBuf,
        source: rustls::Error,
    },
    /// The key file has no private key block homebus reads.
    #[error(
        "`tls.client_key` {} holds no private key (no PKCS#8, PKCS#1 or SEC1 PEM block); an encrypted key must be decrypted first (`openssl pkey -in KEY -out KEY.pem`)",
        path.display()
    )]
    NoKey { path: PathBuf },
    /// The key belongs to another certificate.
    #[error(
        "`tls.client_key` {} is not the private key of the certificate in `tls.client_cert` {}; give the key that was made with that certificate",
        key.display(),
        cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// rustls refused the certificate and key for another reason.
    #[error(
        "cannot use `tls.client_cert` {} with `tls.client_key` {}: {source}",
        cert.display(),
        key.display()
    )]
    ClientIdentity {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

impl TlsError {
    /// The key of the `tls` table the error is about, where the config
    /// reader reports it.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::InsecureWithCaFile { .. } => "insecure",
            TlsError::CertWithoutKey | TlsError::ClientIdentity { .. } => "client_cert",
            TlsError::KeyWithoutCert | TlsError::NoKey { .. } | TlsError::KeyMismatch { .. } => {
                "client_key"
            }
            TlsError::BadCaCertificate { .. } => "ca_file",
            TlsError::Read { field, .. }
            | TlsError::TooLarge { field, .. }
            | TlsError::BadPem { field, .. }
            | TlsError::NoCertificate { field, .. } => field,
        }
    }
}

impl TlsConfig {
    /// The rustls client setup this table describes: the system's roots
    /// plus `ca_file` (or no check at all with `insecure`), and the client
    /// certificate when one is set. Reads the files, so call it once when
    /// the config is loaded or the source starts, not per connection; the
    /// returned config is shared by every connection of the source.
    /// Uses the `ring` provider itself, so it needs no process-wide one.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let identity = self.client_identity_paths()?;
        if let (true, Some(path)) = (self.insecure, &self.ca_file) {
            return Err(TlsError::InsecureWithCaFile { path: path.clone() });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3");
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certificates("client_cert", cert)?;
                let private_key = read_private_key(key)?;
                builder.with_client_auth_cert(chain, private_key).map_err(
                    |source| match source {
                        rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                            cert: cert.to_path_buf(),
                            key: key.to_path_buf(),
                        },
                        source => TlsError::ClientIdentity {
                            cert: cert.to_path_buf(),
                            key: key.to_path_buf(),
                            source,
                        },
                    },
                )?
            }
        };
        Ok(Arc::new(config))
    }

    /// Logs that `insecure = true` is in force for `source`: the user chose
    /// it, and the log is where they are reminded that the device is not
    /// authenticated. Call once when the source starts.
    pub fn warn_if_insecure(&self, source: &str) {
        if self.insecure {
            tracing::warn!(
                source,
                "tls.insecure = true: the server's certificate is not checked, so anyone on the \
                 network path can pose as it; set tls.ca_file to the device's CA instead"
            );
        }
    }

    /// `client_cert` and `client_key` come as a pair or not at all.
    fn client_identity_paths(&self) -> Result<Option<(&Path, &Path)>, TlsError> {
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (Some(_), None) => Err(TlsError::CertWithoutKey),
            (None, Some(_)) => Err(TlsError::KeyWithoutCert),
            (None, None) => Ok(None),
        }
    }

    /// The system's roots plus those of `ca_file`.
    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped, as reqwest and
        // tokio-tungstenite do: a device CA from `ca_file` must still work
        // on a system that has none.
        let system = rustls_native_certs::load_native_certs();
        if !system.errors.is_empty() {
            tracing::debug!(
                "some system root certificates were skipped: {:?}",
                system.errors
            );
        }
        roots.add_parsable_certificates(system.certs);
        if let Some(path) = &self.ca_file {
            for certificate in read_certificates("ca_file", path)? {
                roots
                    .add(certificate)
                    .map_err(|source| TlsError::BadCaCertificate {
                        path: path.clone(),
                        source,
                    })?;
            }
        }
        Ok(roots)
    }
}

/// The WebSocket source's connector for
/// `tokio_tungstenite::connect_async_tls_with_config`.
pub fn websocket_connector(tls: Arc<ClientConfig>) -> tokio_tungstenite::Connector {
    tokio_tungstenite::Connector::Rustls(tls)
}

/// The MQTT source's transport for `mqtts://`, in place of rumqttc's
/// default (the system's roots only).
pub fn mqtt_transport(tls: Arc<ClientConfig>) -> rumqttc::Transport {
    rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls))
}

/// The certificates of a PEM file; at least one.
fn read_certificates(
    field: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_pem_file(field, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(field, path, e))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(certificates)
}

/// The first private key of `client_key`, whichever of the three PEM kinds.
fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_pem_file("client_key", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_path_buf(),
        },
        e => bad_pem("client_key", path, e),
    })
}

fn bad_pem(field: &'static str, path: &Path, e: pem::Error) -> TlsError {
    TlsError::BadPem {
        field,
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The bytes of a file, refusing one larger than [`MAX_PEM_FILE`].
fn read_pem_file(field: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        field,
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .map_err(read_error)?
        .take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(TlsError::TooLarge {
            field,
            path: path.to_path_buf(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests;
