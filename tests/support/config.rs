//! Config text for tests, read through the one validating reader as
//! `homebus check` and `homebus run` read it.

use std::path::{Path, PathBuf};

use homebus::config::Config;

/// A `[server]` section on loopback with both ports picked by the system,
/// so a real binary can run beside the others; add more `[server]` keys
/// after it.
pub const LOOPBACK_SERVER: &str = "[server]\nlisten = \"127.0.0.1:0\"\nwebsocket_port = 0\n";

/// Where config text is said to come from: a file in `tests/`, so relative
/// paths in it resolve there and messages name a `.toml` file.
pub fn test_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/homebus.toml")
}

/// Reads config text as `homebus check` would; panics with the reader's
/// messages if it is refused.
pub fn parse(toml: &str) -> Config {
    homebus::config::parse_str(toml, &test_file())
        .unwrap_or_else(|e| panic!("test config refused:\n{e}"))
}

/// A `[[source]]` block of type `kind` named `name` reading `url`, plus
/// `extra` lines (`events = [...]`, `reconnect = "50ms"`, …).
pub fn source(kind: &str, name: &str, url: &str, extra: &str) -> String {
    format!("[[source]]\nname = \"{name}\"\ntype = \"{kind}\"\nurl = \"{url}\"\n{extra}\n")
}

/// A `[[unit]]` block.
pub fn unit(address: &str, kind: &str) -> String {
    format!("[[unit]]\naddress = \"{address}\"\nkind = \"{kind}\"\n")
}

/// Writes `toml` to `homebus.toml` in `dir`, for the real binary; returns
/// its path.
pub fn write(dir: &Path, toml: &str) -> PathBuf {
    let path = dir.join("homebus.toml");
    std::fs::write(&path, toml).unwrap();
    path
}
