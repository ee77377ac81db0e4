//! The real `homebus run` binary as a child process, with its log read line
//! by line, for tests that need the program exactly as a user starts it.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

/// A running `homebus run -c CONFIG`, killed when dropped.
pub struct HubProcess {
    /// The process.
    pub child: Child,
    /// Its stderr (the log), not yet read.
    lines: Lines<BufReader<ChildStderr>>,
    /// Every log line read so far, for failure messages.
    pub log: String,
}

impl HubProcess {
    /// Starts `homebus run -c config` in `dir`, logging at `info` without colour.
    pub fn start(dir: &Path, config: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_homebus"))
            .args(["run", "-c"])
            .arg(config)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start homebus");
        let lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        HubProcess {
            child,
            lines,
            log: String::new(),
        }
    }

    /// Reads the log until `find` picks something out of a line; panics
    /// with the log so far if the process ends or the deadline passes first.
    pub async fn wait_for_log<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let lines = &mut self.lines;
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

    /// Waits for the process to end; panics if it takes longer than `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("homebus did not stop within {limit:?}"))
            .expect("wait for homebus")
    }
}
