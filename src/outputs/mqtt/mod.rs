//! MQTT out (`[mqtt_out]`): every unit's state published to a broker on
//! each change, Home Assistant discovery configs so HA finds the units by
//! itself, and `…/set` commands taken back into the hub's normal command
//! path.
//!
//! Two tasks: the *link* polls rumqttc's event loop (connecting again with
//! the shared [`Backoff`]) and hands what arrives to the *publisher*, which
//! follows the bus and owns every decision. The publisher never waits on
//! the broker: a publish that does not fit rumqttc's queue, or one made
//! while the broker is away, waits in a map of pending states (newest per
//! entity wins, bounded), so neither the bus nor the link can block it.
//!
//! Which discovery configs this node published before is read back from
//! the broker itself: at each connection homebus subscribes to
//! `<discovery_prefix>/+/+/config`; the retained configs named
//! `<node>_…` whose unit no longer exists are cleared. The broker is the
//! one place that knows what HA will see, so no second list can disagree
//! with it, and the store is not needed (it may be in memory).

mod payload;
mod status;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, Outgoing, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use payload::{BadCommand, Component, Topics, read_command};
pub use status::{MqttOutStatus, OutputView};

use crate::bus::{BusError, BusMessage, Subscription};
use crate::config::{Config, MqttOutConfig, UnitConfig};
use crate::hub::Hub;
use crate::sources::{Backoff, BrokerAddress};
use crate::units::EntityState;
use payload::{attributes_payload, discovery_config, state_payload};

/// How often the broker hears from homebus on a quiet connection; also how
/// soon the last will fires after homebus dies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Requests queued towards the broker: room for a whole republish of a
/// few hundred units at once.
const REQUEST_QUEUE: usize = 4096;

/// The most entities whose state may wait for the broker at once; past it
/// a change of a further entity is dropped (and counted): it is published
/// with everything else when the broker is back.
const MAX_PENDING: usize = 10_000;

/// How often pending states are tried again while connected.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// The largest MQTT packet homebus sends or accepts (other devices'
/// discovery configs arrive during the scan).
const MAX_PACKET: usize = 1 << 20;

/// How long a clean stop waits for `offline` to reach the broker.
const GOODBYE_WITHIN: Duration = Duration::from_secs(2);

/// A running MQTT output.
pub struct MqttOut {
    /// What it has done, for `/api/outputs` and `/metrics`.
    pub status: Arc<MqttOutStatus>,
    /// Ends after `offline` was published on shutdown.
    pub task: JoinHandle<()>,
}

/// `GET /api/outputs`: each output's link and counters (`[]` without
/// `[mqtt_out]`), in the shape of `GET /api/sources` plus the counters.
pub fn outputs_router<S: Clone + Send + Sync + 'static>(
    status: Option<Arc<MqttOutStatus>>,
) -> axum::Router<S> {
    async fn outputs(
        axum::extract::State(status): axum::extract::State<Option<Arc<MqttOutStatus>>>,
    ) -> axum::Json<Vec<OutputView>> {
        axum::Json(status.iter().map(|s| s.view()).collect())
    }
    axum::Router::new()
        .route("/api/outputs", axum::routing::get(outputs))
        .with_state(status)
}

/// Starts the MQTT output of `config`, if it has `[mqtt_out]`; it runs
/// until `shutdown`, then publishes `offline` and disconnects.
pub fn start(hub: Arc<Hub>, config: &Config, shutdown: CancellationToken) -> Option<MqttOut> {
    let out = config.mqtt_out.clone()?;
    let status = Arc::new(MqttOutStatus::new(&out.url));
    let shown = status.link.view().url;
    let topics = Topics::new(&out);
    let options = BrokerAddress {
        url: &out.url,
        tls: out.tls.as_ref(),
        username: out.username.as_deref(),
        password: out.password.as_ref(),
        shown: &shown,
    }
    .options(out.client_id.clone());
    let mut options = match options {
        Ok(options) => options,
        Err(e) => {
            tracing::error!(output = "mqtt_out", "{e}");
            status.link.failed(e);
            return Some(MqttOut {
                status,
                task: tokio::spawn(async {}),
            });
        }
    };
    if let Some(tls) = &out.tls {
        tls.warn_if_insecure("mqtt_out");
    }
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_last_will(LastWill::new(
            topics.availability(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    let (client, eventloop) = AsyncClient::new(options, REQUEST_QUEUE);
    // Subscribed before the first connection, so no change is missed.
    let bus = hub.bus().subscribe(None).ok();
    let (links, arrivals) = mpsc::channel(256);
    let link = tokio::spawn(run_link(
        eventloop,
        status.clone(),
        out.reconnect.backoff(),
        links,
        shutdown.clone(),
    ));
    let units = config
        .units
        .iter()
        .map(|u| (u.address.to_ascii_lowercase(), u.clone()))
        .collect();
    let publisher = Publisher {
        hub,
        config: out,
        topics,
        units,
        client,
        status: status.clone(),
        connected: false,
        discovered: HashSet::new(),
        pending: HashMap::new(),
    };
    let task = tokio::spawn(publisher.run(bus, arrivals, link, shutdown));
    Some(MqttOut { status, task })
}

/// What the link hands the publisher.
enum Arrival {
    /// The broker accepted the connection (the first or a new one).
    Connected,
    /// The connection broke; the link is trying again.
    Lost,
    /// A message on a subscribed topic.
    Message(Publish),
}

/// Polls the broker connection until shutdown, connecting again after each
/// failure with the shared back-off. Ends after sending the final
/// DISCONNECT, or when the publisher is gone.
async fn run_link(
    mut eventloop: EventLoop,
    status: Arc<MqttOutStatus>,
    mut backoff: Backoff,
    arrivals: mpsc::Sender<Arrival>,
    shutdown: CancellationToken,
) {
    let url = status.link.view().url;
    status.link.connecting();
    let mut connected = false;
    loop {
        let arrival = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected = true;
                status.link.connected();
                MqttOutStatus::count(&status.connections);
                tracing::info!(output = "mqtt_out", %url, "connected to the broker");
                Arrival::Connected
            }
            Ok(Event::Incoming(Packet::Publish(message))) => Arrival::Message(message),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => continue,
            Err(e) => {
                let cause = crate::sources::error_chain(&e);
                let error = if connected {
                    format!(
                        "lost the connection to the broker: {cause}; homebus reconnects by itself"
                    )
                } else {
                    format!(
                        "cannot reach the broker at {url}: {cause}; check that it is running \
                         and that `url` in [mqtt_out] points at it"
                    )
                };
                let delay = if connected {
                    backoff.after_disconnect()
                } else {
                    backoff.after_failure()
                };
                tracing::warn!(output = "mqtt_out", %url, "broker connection: {error}; trying again in {delay:?}");
                status.link.reconnecting(Some(error), delay);
                let was_connected = std::mem::take(&mut connected);
                if was_connected && arrivals.send(Arrival::Lost).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                status.link.connecting();
                continue;
            }
        };
        if arrivals.send(arrival).await.is_err() {
            return;
        }
    }
}

/// A state waiting for the broker.
enum Pending {
    /// The entity's newest state.
    State(EntityState),
    /// The entity is gone; its last state says which topics to clear.
    Removed(EntityState),
}

/// Follows the bus and publishes; takes commands from the link.
struct Publisher {
    /// Where commands go and current states come from.
    hub: Arc<Hub>,
    /// `[mqtt_out]`.
    config: MqttOutConfig,
    /// The topic names.
    topics: Topics,
    /// `[[unit]]` by lower-cased address, for `binary_sensor` and
    /// `device_class`.
    units: HashMap<String, UnitConfig>,
    /// Requests towards the broker (never awaited: `try_` only).
    client: AsyncClient,
    /// Counters and the link's state.
    status: Arc<MqttOutStatus>,
    /// Whether the broker is there now.
    connected: bool,
    /// Entities whose discovery config went out on this connection.
    discovered: HashSet<String>,
    /// States not yet handed to the broker, newest per entity.
    pending: HashMap<String, Pending>,
}

impl Publisher {
    async fn run(
        mut self,
        mut bus: Option<Subscription>,
        mut arrivals: mpsc::Receiver<Arrival>,
        mut link: JoinHandle<()>,
        shutdown: CancellationToken,
    ) {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                arrival = arrivals.recv() => match arrival {
                    Some(Arrival::Connected) => self.on_connect(),
                    Some(Arrival::Lost) => self.connected = false,
                    Some(Arrival::Message(message)) => self.on_message(&message),
                    None => break,
                },
                change = next_change(&mut bus) => match change {
                    Some(Ok(envelope)) => {
                        if let BusMessage::State(change) = &envelope.message {
                            let update = match &change.new {
                                Some(new) => Pending::State(new.clone()),
                                None => match &change.old {
                                    Some(old) => Pending::Removed(old.clone()),
                                    None => continue,
                                },
                            };
                            self.changed(&change.entity_id, update);
                        }
                    }
                    Some(Err(BusError::Lagged { missed })) | Some(Err(BusError::TooOld { after: missed, .. })) => {
                        tracing::warn!(output = "mqtt_out", "fell {missed} changes behind the bus; republishing every state");
                        bus = self.hub.bus().subscribe(None).ok();
                        if self.connected {
                            self.republish_all();
                        }
                    }
                    None => break,
                },
                _ = flush.tick(), if self.connected && !self.pending.is_empty() => self.flush_pending(),
            }
        }
        if self.connected {
            let _ = self.client.try_publish(
                self.topics.availability(),
                QoS::AtLeastOnce,
                true,
                "offline",
            );
            let _ = self.client.try_disconnect();
            if tokio::time::timeout(GOODBYE_WITHIN, &mut link)
                .await
                .is_err()
            {
                tracing::warn!(
                    output = "mqtt_out",
                    "the broker did not take `offline` within 2 s"
                );
            }
        }
        link.abort();
    }

    /// A unit changed: publish it now, or keep it for when the broker can
    /// take it.
    fn changed(&mut self, entity_id: &str, update: Pending) {
        if !self.config.publishes(entity_id) {
            return;
        }
        if self.connected && self.pending.is_empty() && self.publish(&update) {
            return;
        }
        self.keep(entity_id, update);
    }

    /// Keeps `update` as the entity's pending state (replacing an older
    /// one); drops it, counted, when too many entities already wait.
    fn keep(&mut self, entity_id: &str, update: Pending) {
        if self.pending.len() >= MAX_PENDING && !self.pending.contains_key(entity_id) {
            MqttOutStatus::count(&self.status.pending_dropped);
            return;
        }
        self.pending.insert(entity_id.to_string(), update);
    }

    /// Hands the pending states to the broker, as many as its queue takes.
    fn flush_pending(&mut self) {
        let ids: Vec<String> = self.pending.keys().cloned().collect();
        for id in ids {
            let Some(update) = self.pending.remove(&id) else {
                continue;
            };
            if !self.publish(&update) {
                self.pending.insert(id, update);
                return;
            }
        }
    }

    /// The broker is there: say `online`, listen for commands (and HA's
    /// birth message and the old discovery configs), publish everything.
    fn on_connect(&mut self) {
        self.connected = true;
        self.discovered.clear();
        let mut filters = vec![self.topics.commands_filter()];
        if self.topics.discovery() {
            filters.push(self.topics.ha_status());
            filters.push(self.topics.configs_filter());
        }
        for filter in filters {
            if let Err(e) = self.client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                tracing::warn!(output = "mqtt_out", "cannot subscribe to {filter}: {e}");
            }
        }
        self.send(&self.topics.availability(), "online", true);
        self.republish_all();
    }

    /// Publishes every unit's discovery config, state and attributes, and
    /// clears the topics of units removed while the broker was away.
    fn republish_all(&mut self) {
        self.discovered.clear();
        let removed: Vec<(String, Pending)> = self
            .pending
            .drain()
            .filter(|(_, p)| matches!(p, Pending::Removed(_)))
            .collect();
        for (id, update) in removed {
            if !self.publish(&update) {
                self.keep(&id, update);
            }
        }
        for state in self.hub.states() {
            if self.config.publishes(&state.entity_id) {
                let id = state.entity_id.clone();
                let update = Pending::State(state);
                if !self.publish(&update) {
                    self.keep(&id, update);
                }
            }
        }
    }

    /// Publishes one update; `false` when rumqttc's queue is full.
    fn publish(&mut self, update: &Pending) -> bool {
        match update {
            Pending::State(state) => {
                if self.topics.discovery() && !self.discovered.contains(&state.entity_id) {
                    let Some((topic, config)) = self.discovery_of(state) else {
                        return true;
                    };
                    if !self.send(&topic, &config, true) {
                        return false;
                    }
                    MqttOutStatus::count(&self.status.discovery_published);
                    self.discovered.insert(state.entity_id.clone());
                }
                let id = &state.entity_id;
                let retain = self.config.retain;
                if let Some(payload) = state_payload(state)
                    && !self.send(&self.topics.state(id), &payload, retain)
                {
                    return false;
                }
                let sent = self.send(
                    &self.topics.attributes(id),
                    &attributes_payload(state),
                    retain,
                );
                if sent {
                    MqttOutStatus::count(&self.status.published);
                }
                sent
            }
            Pending::Removed(old) => {
                let id = &old.entity_id;
                let mut sent = self.send(&self.topics.state(id), "", true)
                    && self.send(&self.topics.attributes(id), "", true);
                if self.topics.discovery()
                    && let Some((topic, _)) = self.discovery_of(old)
                {
                    sent = sent && self.send(&topic, "", true);
                    MqttOutStatus::count(&self.status.discovery_published);
                }
                self.discovered.remove(id);
                sent
            }
        }
    }

    /// A unit's discovery topic and config.
    fn discovery_of(&self, state: &EntityState) -> Option<(String, String)> {
        let address = state
            .attributes
            .get("address")
            .and_then(serde_json::Value::as_str)
            .map(str::to_ascii_lowercase);
        let unit = address.and_then(|a| self.units.get(&a));
        let (component, config) = discovery_config(&self.topics, state, unit)?;
        Some((
            self.topics.config(component.as_str(), &state.entity_id),
            config,
        ))
    }

    /// `try_publish` with the configured QoS; `false` when the queue is full.
    fn send(&self, topic: &str, payload: &str, retain: bool) -> bool {
        self.client
            .try_publish(topic, self.config.qos, retain, payload.as_bytes().to_vec())
            .is_ok()
    }

    /// A message on a subscribed topic: HA's birth message, an old
    /// discovery config, or a command.
    fn on_message(&mut self, message: &Publish) {
        let topic = message.topic.as_str();
        if self.topics.discovery() && topic == self.topics.ha_status() {
            if message.payload.as_ref() == b"online" {
                tracing::info!(
                    output = "mqtt_out",
                    "Home Assistant is online; publishing discovery again"
                );
                self.republish_all();
            }
            return;
        }
        if self.topics.discovery() && self.topics.is_own_config(topic) {
            if message.retain
                && !message.payload.is_empty()
                && !self.current_configs().contains(topic)
            {
                tracing::info!(output = "mqtt_out", %topic, "clearing the discovery config of a unit that no longer exists");
                self.send(topic, "", true);
                MqttOutStatus::count(&self.status.discovery_published);
            }
            return;
        }
        if let Some(entity_id) = self.topics.command_entity(topic) {
            match self.command(entity_id, &message.payload) {
                Ok(()) => MqttOutStatus::count(&self.status.commands),
                Err(e) => {
                    MqttOutStatus::count(&self.status.bad_commands);
                    tracing::warn!(output = "mqtt_out", %topic, "command refused: {e}");
                }
            }
        }
    }

    /// The discovery topics of the units that exist now.
    fn current_configs(&self) -> HashSet<String> {
        self.hub
            .states()
            .iter()
            .filter(|s| self.config.publishes(&s.entity_id))
            .filter_map(|s| self.discovery_of(s).map(|(topic, _)| topic))
            .collect()
    }

    /// A `…/set` payload applied through the hub's command path.
    fn command(&self, entity_id: &str, payload: &[u8]) -> Result<(), String> {
        if !self.config.publishes(entity_id) {
            return Err(format!(
                "`{entity_id}` is not published over MQTT (see `include`/`exclude` in [mqtt_out])"
            ));
        }
        let unit = self.hub.with_registry(|r| {
            r.by_entity_id(entity_id)
                .map(|u| (u.address.clone(), u.state_text().to_string()))
        });
        let Some((address, current)) = unit else {
            return Err(format!("there is no unit `{entity_id}`"));
        };
        let command = read_command(payload, &current).map_err(|e| e.to_string())?;
        self.hub
            .command(&address, &command)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The next bus message, or never when there is no subscription.
async fn next_change(
    bus: &mut Option<Subscription>,
) -> Option<Result<Arc<crate::bus::Envelope>, BusError>> {
    match bus {
        Some(bus) => bus.next().await,
        None => std::future::pending().await,
    }
}
