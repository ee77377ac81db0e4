//! `[auth]`: the API keys and the JWT secret clients authenticate with.

use toml::Spanned;

use crate::config_file::Secret;
use crate::config_file::read::{Env, Section};
use crate::config_file::report::Report;

/// Keys of `[auth]`.
pub(super) const AUTH_KEYS: &[&str] = &["api_keys", "jwt_secret"];

/// `[auth]`: API keys and the JWT secret.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Keys accepted as `Authorization: Bearer`, `x-ha-access` or `?api_password=`.
    pub api_keys: Vec<Secret>,
    /// HS256 secret for `?token=` JWTs.
    pub jwt_secret: Option<Secret>,
}

/// `[auth]`.
pub(super) fn read(report: &mut Report, section: &Section<'_, '_>, env: Env<'_>) -> AuthConfig {
    let mut auth = AuthConfig::default();
    if let Some(keys) = section.secrets(report, "api_keys", env) {
        for key in &keys {
            if key.get_ref().expose().is_empty() {
                report.add(
                    key.span(),
                    "an empty key in `api_keys` of [auth] would let anyone in; remove it or give it a value",
                );
            }
        }
        auth.api_keys = keys.into_iter().map(Spanned::into_inner).collect();
    }
    if let Some(secret) = section.secret(report, "jwt_secret", env) {
        if secret.expose().is_empty()
            && let Some(v) = section.value("jwt_secret")
        {
            report.add(
                v.span(),
                "`jwt_secret` in [auth] is empty; give it a long random value or remove it",
            );
        }
        auth.jwt_secret = Some(secret);
    }
    let any_present = section.value("api_keys").is_some() || section.value("jwt_secret").is_some();
    if !any_present {
        report.add(
            section.span(),
            "[auth] has neither `api_keys` nor `jwt_secret`, so no client could connect; \
             add `api_keys = [\"env:HOMEBUS_API_KEY\"]`, or remove [auth] to stay open on loopback",
        );
    }
    auth
}
