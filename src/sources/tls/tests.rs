//! The `tls` table's mistakes, each refused with the file and the fix.
//! Handshakes against real servers are in `tests/sources_tls.rs`.

use std::path::{Path, PathBuf};

use super::{MAX_PEM_FILE, TlsConfig, TlsError};

/// A temp dir with one file of `contents`, and its path.
fn file_with(contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.pem");
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

fn ca_file(path: &Path) -> TlsConfig {
    TlsConfig {
        ca_file: Some(path.to_path_buf()),
        ..TlsConfig::default()
    }
}

fn refusal(config: &TlsConfig) -> TlsError {
    config
        .client_config()
        .expect_err("this tls table should be refused")
}

#[test]
fn no_table_trusts_the_system_roots_only() {
    TlsConfig::default().client_config().unwrap();
}

#[test]
fn insecure_alone_is_accepted() {
    let insecure = TlsConfig {
        insecure: true,
        ..TlsConfig::default()
    };
    insecure.client_config().unwrap();
}

#[test]
fn client_cert_without_client_key_is_refused() {
    let config = TlsConfig {
        client_cert: Some("client.pem".into()),
        ..TlsConfig::default()
    };
    let error = refusal(&config);
    assert!(matches!(error, TlsError::CertWithoutKey), "{error}");
    assert!(error.to_string().contains("`tls.client_key` is not"));
}

#[test]
fn client_key_without_client_cert_is_refused() {
    let config = TlsConfig {
        client_key: Some("client.key".into()),
        ..TlsConfig::default()
    };
    let error = refusal(&config);
    assert!(matches!(error, TlsError::KeyWithoutCert), "{error}");
    assert!(error.to_string().contains("`tls.client_cert` is not"));
}

#[test]
fn insecure_with_ca_file_is_refused_as_contradictory() {
    let config = TlsConfig {
        insecure: true,
        ..ca_file(Path::new("device-ca.pem"))
    };
    let error = refusal(&config).to_string();
    assert!(error.contains("device-ca.pem"), "{error}");
    assert!(error.contains("remove one of them"), "{error}");
}

#[test]
fn missing_ca_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.pem");
    let error = refusal(&ca_file(&path));
    assert!(matches!(error, TlsError::Read { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("`tls.ca_file`"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn ca_file_without_a_certificate_is_refused() {
    let (_dir, path) = file_with(b"this is not a certificate\n");
    let error = refusal(&ca_file(&path));
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
    assert!(error.to_string().contains(&path.display().to_string()));
}

#[test]
fn ca_file_with_an_unterminated_pem_block_is_refused() {
    let (_dir, path) = file_with(b"-----BEGIN CERTIFICATE-----\nMIIB\n");
    let error = refusal(&ca_file(&path));
    assert!(matches!(error, TlsError::BadPem { .. }), "{error}");
}

#[test]
fn ca_file_whose_certificate_is_not_der_is_refused() {
    let (_dir, path) = file_with(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    let error = refusal(&ca_file(&path));
    assert!(
        matches!(error, TlsError::BadCaCertificate { .. }),
        "{error}"
    );
}

#[test]
fn ca_file_larger_than_any_pem_file_is_refused() {
    let (_dir, path) = file_with(&vec![b'-'; MAX_PEM_FILE as usize + 1]);
    let error = refusal(&ca_file(&path));
    assert!(matches!(error, TlsError::TooLarge { .. }), "{error}");
}

#[test]
fn table_reads_from_toml_and_refuses_unknown_keys() {
    #[derive(serde::Deserialize)]
    struct Source {
        tls: TlsConfig,
    }
    let source: Source = toml::from_str(r#"tls = { ca_file = "ca.pem" }"#).unwrap();
    assert_eq!(source.tls, ca_file(Path::new("ca.pem")));
    let typo = toml::from_str::<Source>(r#"tls = { cafile = "ca.pem" }"#);
    let message = typo.err().expect("cafile is not a key").to_string();
    assert!(message.contains("ca_file"), "{message}");
}
