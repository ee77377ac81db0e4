//! A second MQTT client acting as Home Assistant: subscribes, collects
//! every message it is sent, and publishes (birth messages, commands).

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use super::wait::within;

/// One message as the client received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its topic.
    pub topic: String,
    /// Its payload as text (lossy).
    pub payload: String,
    /// Whether the broker sent it as retained (a late subscriber's copy).
    pub retain: bool,
}

/// A connected rumqttc client with its subscriptions acknowledged.
pub struct MqttWatcher {
    /// Publishes through the same connection.
    pub client: AsyncClient,
    received: mpsc::UnboundedReceiver<Received>,
    _task: tokio::task::JoinHandle<()>,
}

impl MqttWatcher {
    /// Connects to the broker on `port` and subscribes to `filters`,
    /// returning once the broker acknowledged the subscription.
    pub async fn connect(port: u16, filters: &[&str]) -> Self {
        let mut options =
            MqttOptions::new(format!("ha-{:08x}", fastrand::u32(..)), "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        for filter in filters {
            client.subscribe(*filter, QoS::AtLeastOnce).await.unwrap();
        }
        let (tx, received) = mpsc::unbounded_channel();
        let (acked_tx, mut acked) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send(Received {
                            topic: p.topic.clone(),
                            payload: String::from_utf8_lossy(&p.payload).into_owned(),
                            retain: p.retain,
                        });
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = acked_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        within("the test client's subscriptions", async {
            for _ in filters {
                acked.recv().await;
            }
        })
        .await;
        MqttWatcher {
            client,
            received,
            _task: task,
        }
    }

    /// The next message on `topic` (others are skipped).
    pub async fn next_on(&mut self, topic: &str) -> Received {
        self.next_where(topic, |_| true).await
    }

    /// The next message on `topic` whose payload passes `accept`.
    pub async fn next_where(&mut self, topic: &str, accept: impl Fn(&str) -> bool) -> Received {
        within(&format!("a message on {topic}"), async {
            loop {
                let message = self.received.recv().await.expect("the client runs");
                if message.topic == topic && accept(&message.payload) {
                    return message;
                }
            }
        })
        .await
    }

    /// Every message up to and including the next one on `topic` whose
    /// payload passes `accept`, in the order they arrived.
    pub async fn all_until(&mut self, topic: &str, accept: impl Fn(&str) -> bool) -> Vec<Received> {
        within(&format!("a message on {topic}"), async {
            let mut seen = Vec::new();
            loop {
                let message = self.received.recv().await.expect("the client runs");
                let last = message.topic == topic && accept(&message.payload);
                seen.push(message);
                if last {
                    return seen;
                }
            }
        })
        .await
    }

    /// Publishes and returns once rumqttc queued it (QoS 1).
    pub async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }
}
