//! The real `homebus` binary, as a user runs it from a shell: every test
//! that runs the binary builds its command here.

use std::ffi::OsStr;
use std::process::{Command, Output};

/// `homebus ARGS…`, not started yet; add `-c`, a working directory or
/// environment before running it.
pub fn homebus<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_homebus"));
    command.args(args);
    command
}

/// Runs `command` to its end from an async test without blocking the
/// runtime; returns its exit status and output.
pub async fn output(command: Command) -> Output {
    tokio::process::Command::from(command)
        .output()
        .await
        .expect("the homebus binary runs")
}

/// The text a command printed on stderr, for assertion messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that the command exited 0 (showing its stderr if not) and
/// returns what it printed on stdout.
pub fn succeeded(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// Asserts that the command failed and returns what it printed on stderr.
pub fn failed(output: &Output) -> String {
    assert!(!output.status.success(), "it succeeded: {output:?}");
    stderr(output)
}
