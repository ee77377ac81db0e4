//! `homebus --version` run as a user would: the real binary.

mod support;

use support::cli::{homebus, succeeded};

/// Whether `commit` is what build.rs records: a short git hash or `unknown`.
fn is_commit(commit: &str) -> bool {
    commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn version_prints_the_crate_version_and_the_commit_it_was_built_from() {
    let output = homebus(["--version"])
        .output()
        .expect("the homebus binary runs");
    let stdout = succeeded(&output);
    let line = stdout.trim_end();
    let rest = line
        .strip_prefix(&format!("homebus {} (", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("`{line}` starts with the name and the crate version"));
    let commit = rest
        .strip_suffix(')')
        .unwrap_or_else(|| panic!("`{line}` ends with the commit in parentheses"));
    assert!(
        is_commit(commit),
        "`{commit}` is a short git hash or `unknown`"
    );
}

#[test]
fn a_commit_is_seven_or_more_hex_digits_or_unknown() {
    assert!(is_commit("abc1234"));
    assert!(is_commit("unknown"));
    assert!(!is_commit("abc123"));
    assert!(!is_commit("xyz1234"));
    assert!(!is_commit(""));
}
