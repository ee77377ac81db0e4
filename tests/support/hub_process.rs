//! The real `homebus run` binary as a child process, with its log read line
//! by line, for tests that need the program exactly as a user starts it.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use super::wait::{within, within_limit};

/// How long a signalled hub may take to stop: it gives connections 5 s to
/// close, and a user at Ctrl-C waits no longer than this.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// A running `homebus run -c CONFIG`, killed when dropped.
pub struct HubProcess {
    /// The process.
    pub child: Child,
    /// Its stderr (the log), not yet read; `None` once handed to
    /// [`HubProcess::drain_log`].
    lines: Option<Lines<BufReader<ChildStderr>>>,
    /// Every log line read so far, for failure messages.
    pub log: String,
}

impl HubProcess {
    /// Starts `homebus run -c config` in `dir`, logging at `info` without colour.
    pub fn start(dir: &Path, config: &Path) -> Self {
        Self::start_logging(dir, config, "info")
    }

    /// Writes `toml` to `dir/homebus.toml` and starts the hub on it.
    pub fn start_toml(dir: &Path, toml: &str) -> Self {
        Self::start(dir, &super::config::write(dir, toml))
    }

    /// Starts `homebus run -c config` in `dir` with this `RUST_LOG` filter.
    pub fn start_logging(dir: &Path, config: &Path, filter: &str) -> Self {
        let mut command = super::cli::homebus(["run", "-c"]);
        command
            .arg(config)
            .current_dir(dir)
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .expect("start homebus");
        let lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        HubProcess {
            child,
            lines: Some(lines),
            log: String::new(),
        }
    }

    /// Reads the log until `find` picks something out of a line; panics
    /// with the log so far if the process ends or the deadline passes first.
    pub async fn wait_for_log<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let lines = self.lines.as_mut().expect("the log is being drained");
        let log = &mut self.log;
        let found = tokio::time::timeout(super::wait::DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                log.push_str(&line);
                log.push('\n');
                if let Some(found) = find(&line) {
                    return Some(found);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(found)) => found,
            Ok(None) => panic!("homebus ended before logging {what}:\n{}", self.log),
            Err(_) => panic!("homebus logged no {what} in time:\n{}", self.log),
        }
    }

    /// The HTTP base URL the hub logs when it starts serving.
    pub async fn base_url(&mut self) -> String {
        let addr = self
            .wait_for_log("its address", |line| {
                line.split(" addr=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            })
            .await;
        format!("http://{addr}")
    }

    /// Reads (and drops) the rest of the log in the background, so that a
    /// hub logging a lot never blocks on a full pipe.
    pub fn drain_log(&mut self) {
        if let Some(mut lines) = self.lines.take() {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        }
    }

    /// Sends `signal` (`INT`, `TERM`) with the `kill` command.
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    /// Kills the process (SIGKILL, no chance to clean up) and waits until
    /// it is gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("kill homebus");
        within("the killed homebus to end", self.child.wait())
            .await
            .expect("wait for homebus");
    }

    /// Waits for the process to end (after [`HubProcess::signal`]); panics
    /// if it takes longer than [`SHUTDOWN_LIMIT`].
    pub async fn exit(&mut self) -> ExitStatus {
        within_limit("homebus to stop", SHUTDOWN_LIMIT, self.child.wait())
            .await
            .expect("wait for homebus")
    }
}
