//! The one way homebus builds HTTP clients: rustls with the `ring` provider,
//! no OpenSSL, the system's root certificates unless a source's `tls` table
//! says otherwise.

use std::sync::Once;
use std::time::Duration;

static PROVIDER: Once = Once::new();

/// A client builder with TLS ready and a connect timeout; sources add what
/// they need (cookies, timeouts) before `build()`.
pub fn client_builder() -> reqwest::ClientBuilder {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("homebus/", env!("CARGO_PKG_VERSION")))
}

/// [`client_builder`] with a source's own TLS setup (extra trusted CAs,
/// `insecure`, a client certificate; see `sources::tls::TlsConfig`) in
/// place of the system's roots. Offers HTTP/2 and HTTP/1.1 by ALPN, as
/// reqwest does for the TLS setups it builds itself.
pub fn client_builder_with_tls(tls: &rustls::ClientConfig) -> reqwest::ClientBuilder {
    let mut tls = tls.clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    client_builder().tls_backend_preconfigured(tls)
}

/// Installs `ring` as rustls's process-wide provider, once; every TLS
/// client (reqwest, WebSocket, MQTT) calls this before building its config.
pub fn ensure_crypto_provider() {
    PROVIDER.call_once(|| {
        // Fails only if another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
