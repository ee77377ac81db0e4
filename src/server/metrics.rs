//! Counters for `/metrics` (Prometheus text): subscribers by transport,
//! events in by source, messages out and subscribers dropped for lagging.
//!
//! Counters are bumped once per write (a batch of messages), not once per
//! message, so the hot path touches a shared cache line rarely.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::hub::Hub;
use crate::prometheus::{Encoder, Kind};

/// How a subscriber is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `/api/stream` (Home Assistant SSE).
    HaStream,
    /// `/subscribe_events` (filtered SSE).
    SubscribeEvents,
    /// deCONZ WebSocket push (`/ws` and the WebSocket port).
    WebSocket,
    /// Home Assistant's WebSocket API (`/api/websocket`), while subscribed.
    HaWebSocket,
}

impl Transport {
    const ALL: [Transport; 4] = [
        Transport::HaStream,
        Transport::SubscribeEvents,
        Transport::WebSocket,
        Transport::HaWebSocket,
    ];

    fn label(self) -> &'static str {
        match self {
            Transport::HaStream => "sse_stream",
            Transport::SubscribeEvents => "sse_subscribe_events",
            Transport::WebSocket => "websocket",
            Transport::HaWebSocket => "ha_websocket",
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    subscribers: AtomicU64,
    messages_out: AtomicU64,
    drops: AtomicU64,
}

/// The server's counters, shared by every connection.
#[derive(Debug, Default)]
pub struct Metrics {
    by_transport: [Counters; Transport::ALL.len()],
}

impl Metrics {
    fn counters(&self, transport: Transport) -> &Counters {
        &self.by_transport[transport as usize]
    }

    /// Counts a new subscriber until the returned guard is dropped.
    pub fn subscriber(self: &Arc<Self>, transport: Transport) -> SubscriberGuard {
        self.counters(transport)
            .subscribers
            .fetch_add(1, Ordering::Relaxed);
        SubscriberGuard {
            metrics: self.clone(),
            transport,
        }
    }

    /// Subscribers connected now on `transport`.
    pub fn subscribers(&self, transport: Transport) -> u64 {
        self.counters(transport).subscribers.load(Ordering::Relaxed)
    }

    /// Renders every counter in the Prometheus text format.
    pub fn render(&self, hub: &Hub) -> String {
        let mut encoder = Encoder::new();
        let mut by_transport = |name, kind, help, pick: fn(&Counters) -> &AtomicU64| {
            let mut family = encoder.family(name, kind, help);
            for transport in Transport::ALL {
                let value = pick(self.counters(transport)).load(Ordering::Relaxed);
                family.sample(&[("transport", transport.label())], value);
            }
        };
        by_transport(
            "homebus_subscribers",
            Kind::Gauge,
            "Connected subscribers by transport.",
            |c| &c.subscribers,
        );
        by_transport(
            "homebus_messages_out_total",
            Kind::Counter,
            "Messages written to subscribers.",
            |c| &c.messages_out,
        );
        by_transport(
            "homebus_subscriber_drops_total",
            Kind::Counter,
            "Subscribers cut off because they fell behind.",
            |c| &c.drops,
        );
        let mut events = encoder.family(
            "homebus_source_events_total",
            Kind::Counter,
            "Events received by source.",
        );
        for source in hub.sources() {
            events.sample(&[("source", &source.name)], source.events_seen);
        }
        encoder
            .family(
                "homebus_last_seq",
                Kind::Gauge,
                "Sequence number of the last published message.",
            )
            .sample(&[], hub.bus().last_seq());
        encoder.finish()
    }
}

/// One connected subscriber; counts its output and uncounts it on drop.
#[derive(Debug)]
pub struct SubscriberGuard {
    metrics: Arc<Metrics>,
    transport: Transport,
}

impl SubscriberGuard {
    /// `n` messages were written in one go.
    pub fn sent(&self, n: u64) {
        self.metrics
            .counters(self.transport)
            .messages_out
            .fetch_add(n, Ordering::Relaxed);
    }

    /// The subscriber fell behind and is being cut off.
    pub fn dropped(&self) {
        self.metrics
            .counters(self.transport)
            .drops
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.metrics
            .counters(self.transport)
            .subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_counts_a_subscriber_while_it_lives() {
        let metrics = Arc::new(Metrics::default());
        let guard = metrics.subscriber(Transport::WebSocket);
        assert_eq!(metrics.subscribers(Transport::WebSocket), 1);
        drop(guard);
        assert_eq!(metrics.subscribers(Transport::WebSocket), 0);
    }
}
