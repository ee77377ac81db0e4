//! One authenticated connection's commands and subscriptions: what each
//! command answers, and which frames a bus message becomes for it.
//!
//! A connection reads the bus through one subscription, however many HA
//! subscriptions it holds, taken when the first starts and let go when the
//! last ends; the bus's `lag_limit` is its bounded queue.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::protocol::{self, Command, CommandError, ErrorCode, Incoming, Unreadable};
use super::services::{self, Credential};
use super::shapes::{self, HaState};
use crate::bus::{self, Envelope};
use crate::server::AppState;
use crate::server::metrics::{SubscriberGuard, Transport};

/// What one HA subscription wants from the bus.
enum Wants {
    /// `subscribe_events`: every event, or those of one type.
    Events(Option<Box<str>>),
    /// `subscribe_entities`: state changes after the snapshot it was sent
    /// (`after`, a seq), of every entity or of those listed.
    Entities {
        only: Option<Box<[String]>>,
        after: u64,
    },
}

/// One HA subscription: the id of the command that started it and its filter.
struct HaSubscription {
    id: u64,
    wants: Wants,
}

/// An authenticated connection's state.
pub struct Session {
    state: AppState,
    /// For `auth/current_user`.
    credential: Credential,
    /// The `Host` the client connected to, for `get_config`'s `internal_url`.
    host: Option<String>,
    /// The last command id; the next must be greater.
    last_id: u64,
    /// Whether the client asked for `coalesce_messages`.
    pub coalesce: bool,
    subscriptions: Vec<HaSubscription>,
    /// The bus feed, while any subscription lives.
    pub feed: Option<bus::Subscription>,
    /// Counts the connection as a subscriber while it has a feed.
    metrics: Option<SubscriberGuard>,
}

impl Session {
    /// A session for a connection that authenticated with `credential`.
    pub fn new(state: AppState, credential: Credential, host: Option<String>) -> Self {
        Session {
            state,
            credential,
            host,
            last_id: 0,
            coalesce: false,
            subscriptions: Vec::new(),
            feed: None,
            metrics: None,
        }
    }

    /// Cancelled when the server stops.
    pub fn shutdown(&self) -> tokio_util::sync::CancellationToken {
        self.state.shutdown.clone()
    }

    /// The answers to one text frame, in order; an error when the frame
    /// must end the connection.
    pub fn on_text(&mut self, text: &str) -> Result<Vec<Bytes>, Unreadable> {
        let mut out = Vec::new();
        for incoming in protocol::read_frame(text, &mut self.last_id)? {
            match incoming {
                Incoming::Command(command) => {
                    if let Err(error) = self.run(&command, &mut out) {
                        out.push(protocol::error(Some(command.id), &error));
                    }
                }
                Incoming::Refused(id, error) => out.push(protocol::error(id, &error)),
            }
        }
        Ok(out)
    }

    fn run(&mut self, command: &Command, out: &mut Vec<Bytes>) -> Result<(), CommandError> {
        let id = command.id;
        let hub = &self.state.hub;
        let result = match command.kind.as_str() {
            "ping" => {
                out.push(protocol::pong(id));
                return Ok(());
            }
            "supported_features" => {
                let features = command.body.get("features").and_then(Value::as_object);
                self.coalesce = features
                    .and_then(|f| f.get("coalesce_messages"))
                    .is_some_and(|v| v.as_u64() == Some(1) || v.as_bool() == Some(true));
                Value::Null
            }
            "get_states" => {
                let states = hub.states();
                let shaped: Vec<HaState<'_>> = states.iter().map(HaState::new).collect();
                out.push(protocol::result(id, &shaped));
                return Ok(());
            }
            "get_config" => services::config(hub, self.host.as_deref()),
            "get_services" => services::services(hub),
            "call_service" => services::call_service(hub, &command.body)?,
            "auth/current_user" => services::current_user(self.credential),
            "subscribe_events" => {
                let event_type = match command.body.get("event_type") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(t)) if t == "*" => None,
                    Some(Value::String(t)) => Some(Box::from(t.as_str())),
                    Some(other) => {
                        return Err(CommandError::new(
                            ErrorCode::InvalidFormat,
                            format!("event_type must be a string, not {other}"),
                        ));
                    }
                };
                self.subscribe(id, Wants::Events(event_type))?;
                Value::Null
            }
            "subscribe_entities" => {
                let only = entity_ids(&command.body)?;
                return self.subscribe_entities(id, only, out);
            }
            "unsubscribe_events" => {
                let target = command.body.get("subscription").and_then(Value::as_u64);
                self.unsubscribe(target)?;
                Value::Null
            }
            other => {
                return Err(CommandError::new(
                    ErrorCode::UnknownCommand,
                    format!(
                        "Unknown command `{other}`: homebus speaks auth/current_user, \
                         call_service, get_config, get_services, get_states, ping, \
                         subscribe_entities, subscribe_events, supported_features and \
                         unsubscribe_events"
                    ),
                ));
            }
        };
        out.push(protocol::result(id, &result));
        Ok(())
    }

    /// Adds a subscription, taking a bus feed first if there is none.
    fn subscribe(&mut self, id: u64, wants: Wants) -> Result<(), CommandError> {
        if self.feed.is_none() {
            let feed = self.state.hub.bus().subscribe(None).map_err(|error| {
                CommandError::new(ErrorCode::HomeAssistantError, error.to_string())
            })?;
            self.feed = Some(feed);
            self.metrics = Some(self.state.metrics.subscriber(Transport::HaWebSocket));
        }
        self.subscriptions.push(HaSubscription { id, wants });
        Ok(())
    }

    /// `subscribe_entities`: the result, then every state as `a`, then the
    /// changes after that snapshot.
    fn subscribe_entities(
        &mut self,
        id: u64,
        only: Option<Box<[String]>>,
        out: &mut Vec<Bytes>,
    ) -> Result<(), CommandError> {
        // The feed is taken before the snapshot, and the snapshot records
        // the seq it is as of (read under the hub's lock, which publishing
        // holds), so no change is lost between them and none is sent twice.
        self.subscribe(id, Wants::Events(None))?;
        let bus = self.state.hub.bus().clone();
        let (states, after) = self
            .state
            .hub
            .with_registry(|registry| (registry.states(), bus.last_seq()));
        let wanted = |entity_id: &str| {
            only.as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == entity_id))
        };
        let added = shapes::entities_added(states.iter().filter(|s| wanted(&s.entity_id)));
        let last = self.subscriptions.last_mut().expect("just added");
        last.wants = Wants::Entities { only, after };
        out.push(protocol::result(id, &Value::Null));
        out.push(protocol::event(id, added.to_string().as_bytes()));
        Ok(())
    }

    fn unsubscribe(&mut self, target: Option<u64>) -> Result<(), CommandError> {
        let position = target.and_then(|t| self.subscriptions.iter().position(|s| s.id == t));
        let Some(position) = position else {
            return Err(CommandError::new(
                ErrorCode::NotFound,
                "Subscription not found: `subscription` must be the id of a subscribe_events or \
                 subscribe_entities command of this connection",
            ));
        };
        self.subscriptions.remove(position);
        if self.subscriptions.is_empty() {
            self.feed = None;
            self.metrics = None;
        }
        Ok(())
    }

    /// Appends the frames one bus message becomes for this connection's
    /// subscriptions. Returns how many.
    pub fn on_envelope(&self, envelope: &Envelope, out: &mut Vec<Bytes>) -> u64 {
        let mut sent = 0;
        for subscription in &self.subscriptions {
            let body = match &subscription.wants {
                Wants::Events(event_type) => {
                    let Some(served) = shapes::event_type(&envelope.message) else {
                        continue;
                    };
                    if event_type.as_deref().is_some_and(|t| t != served) {
                        continue;
                    }
                    shapes::event_body(envelope)
                }
                Wants::Entities { only, after } => {
                    let crate::bus::BusMessage::State(change) = &envelope.message else {
                        continue;
                    };
                    let wanted = only
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&change.entity_id));
                    if envelope.seq() <= *after || !wanted {
                        continue;
                    }
                    shapes::entities_body(envelope)
                }
            };
            if let Some(body) = body {
                out.push(protocol::event(subscription.id, &body));
                sent += 1;
            }
        }
        sent
    }

    /// The lag the feed reported: this connection is cut off.
    pub fn lagged(&mut self) {
        if let Some(metrics) = &self.metrics {
            metrics.dropped();
        }
        self.feed = None;
    }

    /// Counts frames written to subscribers.
    pub fn sent(&self, n: u64) {
        if let (Some(metrics), true) = (&self.metrics, n > 0) {
            metrics.sent(n);
        }
    }
}

/// `subscribe_entities`' optional `entity_ids`.
fn entity_ids(body: &Map<String, Value>) -> Result<Option<Box<[String]>>, CommandError> {
    match body.get("entity_ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Box<[String]>>>()
            .map(Some)
            .ok_or_else(|| {
                CommandError::new(
                    ErrorCode::InvalidFormat,
                    "entity_ids must be a list of entity ids",
                )
            }),
        Some(_) => Err(CommandError::new(
            ErrorCode::InvalidFormat,
            "entity_ids must be a list of entity ids",
        )),
    }
}
