//! What the MQTT output has done, for `GET /api/outputs` and `/metrics`:
//! the broker link (the same shape as a source's status) and lock-free
//! counters.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::prometheus::{Encoder, Kind};
use crate::sources::{SourceStatus, SourceStatusView};

/// The MQTT output's link and counters.
#[derive(Debug)]
pub struct MqttOutStatus {
    /// The broker link: connecting, connected, reconnecting (with the
    /// error and the next try), in the shape `/api/sources` uses.
    pub link: SourceStatus,
    /// State and attributes messages handed to the broker connection.
    pub published: AtomicU64,
    /// Discovery configs published (and cleared).
    pub discovery_published: AtomicU64,
    /// `…/set` messages that became a unit command.
    pub commands: AtomicU64,
    /// `…/set` messages refused: not a command, or no such unit.
    pub bad_commands: AtomicU64,
    /// Connections that succeeded (the first one and every reconnection).
    pub connections: AtomicU64,
    /// Pending states dropped because too many entities waited at once.
    pub pending_dropped: AtomicU64,
}

/// One output as `GET /api/outputs` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OutputView {
    /// The link, as a source's status (`name` is `mqtt_out`).
    #[serde(flatten)]
    pub link: SourceStatusView,
    /// See [`MqttOutStatus::published`].
    pub published: u64,
    /// See [`MqttOutStatus::discovery_published`].
    pub discovery_published: u64,
    /// See [`MqttOutStatus::commands`].
    pub commands: u64,
    /// See [`MqttOutStatus::bad_commands`].
    pub bad_commands: u64,
    /// See [`MqttOutStatus::connections`].
    pub connections: u64,
    /// See [`MqttOutStatus::pending_dropped`].
    pub pending_dropped: u64,
}

impl MqttOutStatus {
    /// The status of an output to `url` that has not connected yet.
    pub fn new(url: &str) -> Self {
        MqttOutStatus {
            link: SourceStatus::new("mqtt_out", "mqtt_out", url),
            published: AtomicU64::new(0),
            discovery_published: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            bad_commands: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            pending_dropped: AtomicU64::new(0),
        }
    }

    /// Adds one to a counter.
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The status as `GET /api/outputs` shows it.
    pub fn view(&self) -> OutputView {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        OutputView {
            link: self.link.view(),
            published: get(&self.published),
            discovery_published: get(&self.discovery_published),
            commands: get(&self.commands),
            bad_commands: get(&self.bad_commands),
            connections: get(&self.connections),
            pending_dropped: get(&self.pending_dropped),
        }
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let view = self.view();
        let mut encoder = Encoder::new();
        let connected = u64::from(matches!(
            view.link.state,
            crate::sources::SourceState::Connected
        ));
        encoder
            .family(
                "homebus_mqtt_out_connected",
                Kind::Gauge,
                "1 while the MQTT output is connected to its broker.",
            )
            .sample(&[], connected);
        let counters: [(&str, &str, u64); 6] = [
            (
                "homebus_mqtt_out_published_total",
                "State and attributes messages published to the broker.",
                view.published,
            ),
            (
                "homebus_mqtt_out_discovery_published_total",
                "Home Assistant discovery configs published or cleared.",
                view.discovery_published,
            ),
            (
                "homebus_mqtt_out_commands_total",
                "Messages on set topics that became a unit command.",
                view.commands,
            ),
            (
                "homebus_mqtt_out_bad_commands_total",
                "Messages on set topics refused (not a command, or no such unit).",
                view.bad_commands,
            ),
            (
                "homebus_mqtt_out_connections_total",
                "Successful connections to the broker, reconnections included.",
                view.connections,
            ),
            (
                "homebus_mqtt_out_pending_dropped_total",
                "Pending states dropped while the broker was away, past the limit.",
                view.pending_dropped,
            ),
        ];
        for (name, help, value) in counters {
            encoder.family(name, Kind::Counter, help).sample(&[], value);
        }
        encoder.finish()
    }
}
