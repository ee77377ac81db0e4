//! Records the git commit the binary is built from, for `homebus --version`.
//!
//! Sets `HOMEBUS_GIT_COMMIT` to `git rev-parse --short HEAD`, or to `unknown`
//! when there is no git, no repository, or the crate is not the top of the
//! repository it sits in (a crate tarball unpacked under `target/package/` in
//! someone's checkout must not claim that checkout's commit).
//!
//! Cargo reruns this script only when `.git/HEAD` or the ref it points to
//! moves (a commit, a checkout), so an ordinary edit does not rebuild it and
//! the commit it reports stays the one the binary was built from.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = commit_of(&manifest_dir).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HOMEBUS_GIT_COMMIT={commit}");
}

/// The short commit of the repository whose top is `dir`, registering the
/// files that move when it changes; `None` when there is none.
fn commit_of(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), dir) {
        return None;
    }
    // `--git-path` finds HEAD and refs in a linked worktree (where `.git` is a
    // file) as well as in an ordinary clone.
    watch(dir, &git(dir, &["rev-parse", "--git-path", "HEAD"])?);
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch(dir, &git(dir, &["rev-parse", "--git-path", &reference])?);
        // A ref that `git gc` packed lives in packed-refs instead.
        let packed = git(dir, &["rev-parse", "--git-path", "packed-refs"])?;
        if dir.join(&packed).exists() {
            watch(dir, &packed);
        }
    }
    git(dir, &["rev-parse", "--short", "HEAD"])
}

/// Tells cargo to rerun when `path` (relative to `dir` as git prints it)
/// changes. Cargo rebuilds every time when a watched path is missing, so a
/// missing path (a ref that `git gc` packed) is watched through the nearest
/// directory above it that exists: the next commit writes the loose ref into
/// it, which cargo sees.
fn watch(dir: &Path, path: &str) {
    let path = dir.join(path);
    if let Some(existing) = path.ancestors().find(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", existing.display());
    }
}

/// Whether two paths name the same directory once symlinks are resolved.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Runs `git args` in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
