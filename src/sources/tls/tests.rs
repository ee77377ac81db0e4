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

// ---- the `tls` table as the config reader reads it ----

/// The errors of a config with one source of `kind` at `url` and this
/// `tls` line, loaded as if from `/etc/homebus/homebus.toml`.
fn config_errors(kind: &str, url: &str, tls: &str) -> Vec<crate::config::ConfigError> {
    let extra = if kind == "mqtt" {
        "topics = [\"home/#\"]\n"
    } else {
        "events = [\"reading\"]\n"
    };
    let text =
        format!("[[source]]\nname = \"dev\"\ntype = \"{kind}\"\nurl = \"{url}\"\n{extra}{tls}\n");
    match crate::config::parse_str(&text, Path::new("/etc/homebus/homebus.toml")) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    }
}

/// The one error of such a config, as `homebus check` prints it.
fn config_error(kind: &str, url: &str, tls: &str) -> String {
    let errors = config_errors(kind, url, tls);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors[0].to_string()
}

#[test]
fn a_source_without_tls_loads_with_none() {
    let text = "[[source]]\nname = \"dev\"\ntype = \"sse\"\nurl = \"https://dev.local/\"\n";
    let config = crate::config::parse_str(text, Path::new("homebus.toml")).unwrap();
    assert_eq!(config.sources.len(), 1);
    assert!(config.sources[0].kind.tls().is_none());
}

#[test]
fn insecure_tls_is_loaded_with_its_client_setup() {
    let text = "[[source]]\nname = \"dev\"\ntype = \"websocket\"\nurl = \"wss://dev.local/\"\n\
                events = [\"x\"]\ntls = { insecure = true }\n";
    let config = crate::config::parse_str(text, Path::new("homebus.toml")).unwrap();
    let tls = config.sources[0].kind.tls().expect("the tls table is kept");
    assert!(tls.table.insecure);
}

#[test]
fn tls_is_taken_by_sse_websocket_fetch_and_mqtt() {
    let insecure = "tls = { insecure = true }";
    for (kind, url) in [
        ("sse", "https://dev.local/events"),
        ("fetch", "https://dev.local/data"),
        ("websocket", "wss://dev.local/"),
        ("mqtt", "mqtts://dev.local"),
        ("mqtt", "ssl://dev.local"),
    ] {
        assert_eq!(config_errors(kind, url, insecure), [], "{kind} {url}");
    }
}

#[test]
fn tls_paths_are_relative_to_the_config_files_folder() {
    let error = config_error(
        "sse",
        "https://dev.local/events",
        r#"tls = { ca_file = "certs/ca.pem" }"#,
    );
    assert!(error.contains("/etc/homebus/certs/ca.pem"), "{error}");
}

#[test]
fn unreadable_ca_file_is_reported_at_its_value_with_the_tls_sentence() {
    let error = config_error(
        "fetch",
        "https://dev.local/data",
        r#"tls = { ca_file = "nowhere.pem" }"#,
    );
    // Line 6, where `tls` is; column 19, where the path's value starts.
    assert!(
        error.starts_with(
            "/etc/homebus/homebus.toml:6:19: [[source]] `dev`: cannot read `tls.ca_file`"
        ),
        "{error}"
    );
    assert!(
        error.contains("relative to the config file's folder"),
        "{error}"
    );
}

#[test]
fn unknown_key_in_tls_is_refused_with_the_keys_it_takes() {
    let error = config_error(
        "websocket",
        "wss://dev.local/",
        r#"tls = { cafile = "ca.pem" }"#,
    );
    assert!(
        error.contains(":6:9: unknown key `cafile` in `tls` in [[source]] `dev`"),
        "{error}"
    );
    assert!(error.contains("did you mean `ca_file`?"), "{error}");
    for key in ["ca_file", "insecure", "client_cert", "client_key"] {
        assert!(error.contains(&format!("`{key}`")), "{error}");
    }
}

#[test]
fn tls_on_a_url_without_tls_is_refused_with_the_scheme_to_use() {
    for (kind, url, scheme) in [
        ("sse", "http://dev.local/events", "https"),
        ("fetch", "http://dev.local/data", "https"),
        ("websocket", "ws://dev.local/", "wss"),
        ("mqtt", "mqtt://dev.local", "mqtts"),
        ("mqtt", "tcp://dev.local", "mqtts"),
    ] {
        let error = config_error(kind, url, "tls = { insecure = true }");
        assert!(
            error.contains(":6:1: `tls` in [[source]] `dev` would never be used"),
            "{error}"
        );
        assert!(error.contains(&format!("with `{scheme}://`")), "{error}");
    }
}

#[test]
fn tls_that_is_not_a_table_is_refused() {
    let error = config_error("sse", "https://dev.local/events", r#"tls = "ca.pem""#);
    assert!(
        error.contains("`tls` in [[source]] `dev` must be a table"),
        "{error}"
    );
}

#[test]
fn tls_on_a_file_source_is_refused() {
    let text =
        "[[source]]\nname = \"f\"\ntype = \"file\"\npath = \"x.txt\"\ntls = { insecure = true }\n";
    let errors = crate::config::parse_str(text, Path::new("/etc/homebus/homebus.toml"))
        .expect_err("a file has no TLS")
        .to_string();
    assert!(
        errors.contains("`tls` in [[source]] `f` only applies to"),
        "{errors}"
    );
}
