//! A source's status: what it is doing now and what went wrong last, as the
//! server and the dashboard show it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a source is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceState {
    /// Trying to connect.
    Connecting,
    /// Connected and receiving.
    Connected,
    /// Waiting to try again.
    Reconnecting,
    /// Stopped for good (for example an unsupported type).
    Error,
}

/// The status of one source, updated by its task and read by the server.
#[derive(Debug)]
pub struct SourceStatus {
    /// The source's name.
    name: String,
    /// Its type, as in the config.
    kind: &'static str,
    /// Its URL, without any password.
    url: String,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: SourceState,
    last_error: Option<String>,
    next_try_at: Option<Instant>,
    events_seen: u64,
    last_event_at: Option<DateTime<Utc>>,
}

/// A snapshot of a source's status, in the shape of `/api/sources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatusView {
    /// Source name.
    pub name: String,
    /// Source type.
    #[serde(rename = "type")]
    pub kind: String,
    /// URL (password removed).
    pub url: String,
    /// What it is doing.
    pub state: SourceState,
    /// The last error, kept until a connection succeeds.
    pub last_error: Option<String>,
    /// Milliseconds until the next try, while reconnecting.
    pub next_try_in_ms: Option<u64>,
    /// Events received since start.
    pub events_seen: u64,
    /// When the last event arrived (RFC 3339).
    pub last_event_at: Option<String>,
}

impl SourceStatus {
    /// A source about to connect for the first time.
    pub fn new(name: &str, kind: &'static str, url: &str) -> Self {
        SourceStatus {
            name: name.to_string(),
            kind,
            url: without_password(url),
            inner: Mutex::new(Inner {
                state: SourceState::Connecting,
                last_error: None,
                next_try_at: None,
                events_seen: 0,
                last_event_at: None,
            }),
        }
    }

    /// The status of a configured source, before it first connects.
    pub fn for_config(config: &super::SourceConfig) -> Self {
        Self::new(
            &config.name,
            config.kind.type_name(),
            &config.kind.location(),
        )
    }

    fn update(&self, f: impl FnOnce(&mut Inner)) {
        f(&mut self.inner.lock().expect("status lock"));
    }

    /// A try is starting.
    pub fn connecting(&self) {
        self.update(|s| {
            s.state = SourceState::Connecting;
            s.next_try_at = None;
        });
    }

    /// A connection succeeded: the last error is cleared.
    pub fn connected(&self) {
        self.update(|s| {
            s.state = SourceState::Connected;
            s.last_error = None;
            s.next_try_at = None;
        });
    }

    /// The next try comes after `delay`; `error` is what went wrong, if anything.
    pub fn reconnecting(&self, error: Option<String>, delay: Duration) {
        self.update(|s| {
            s.state = SourceState::Reconnecting;
            if error.is_some() {
                s.last_error = error;
            }
            s.next_try_at = Some(Instant::now() + delay);
        });
    }

    /// The source stopped for good.
    pub fn failed(&self, error: String) {
        self.update(|s| {
            s.state = SourceState::Error;
            s.last_error = Some(error);
            s.next_try_at = None;
        });
    }

    /// An event arrived.
    pub fn event_seen(&self, at: DateTime<Utc>) {
        self.update(|s| {
            s.events_seen += 1;
            s.last_event_at = Some(at);
        });
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A snapshot for the API.
    pub fn view(&self) -> SourceStatusView {
        let s = self.inner.lock().expect("status lock");
        SourceStatusView {
            name: self.name.clone(),
            kind: self.kind.to_string(),
            url: self.url.clone(),
            state: s.state,
            last_error: s.last_error.clone(),
            next_try_in_ms: s
                .next_try_at
                .map(|t| t.saturating_duration_since(Instant::now()).as_millis() as u64),
            events_seen: s.events_seen,
            last_event_at: s.last_event_at.map(|t| crate::time::ha_timestamp(&t)),
        }
    }
}

/// The URL with any password replaced by `***`, fit for logs and the API.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_error_stays_until_a_connection_succeeds() {
        let status = SourceStatus::new("cam", "sse", "http://cam.local/");
        status.reconnecting(Some("connection refused".into()), Duration::from_secs(1));
        status.connecting();
        assert_eq!(
            status.view().last_error.as_deref(),
            Some("connection refused")
        );
        status.connected();
        assert_eq!(status.view().last_error, None);
    }

    #[test]
    fn reconnecting_reports_time_to_next_try() {
        let status = SourceStatus::new("cam", "sse", "http://cam.local/");
        status.reconnecting(None, Duration::from_secs(5));
        let view = status.view();
        assert_eq!(view.state, SourceState::Reconnecting);
        assert!(view.next_try_in_ms.unwrap() <= 5000);
    }

    #[test]
    fn passwords_are_hidden_from_the_url() {
        assert_eq!(
            without_password("http://me:secret@cam.local/x"),
            "http://me:***@cam.local/x"
        );
    }
}
