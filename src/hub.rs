//! The hub: applies events and commands to the units, numbers every change
//! and publishes it on the bus. It starts nothing: `sources::start` runs the
//! sources and hands their events to it through [`sources::Intake`].
//!
//! One lock covers "number, apply, publish", so `seq` order on the bus is
//! the order in which changes were applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde_json::{Map, Value};

use crate::bus::{Bus, BusMessage, Envelope, FiredEvent, StateChange};
use crate::config::Config;
use crate::event::Event;
use crate::interpret::{Command, interpret};
use crate::sources::{self, SourceStatus, SourceStatusView};
use crate::units::{Applied, EntityState, UnitError, UnitRegistry, UnmatchedEvents, UnmatchedList};

/// Where the hub tells the scripts what happened (the XTension "script
/// handler"): a trait, so the hub does not depend on the scripts that use it.
/// Called under the hub's lock: an implementation must only queue work.
pub trait ScriptHook: Send + Sync {
    /// Plain-text data that the rules do not turn into a state; `unit` is
    /// the addressed unit's state, if there is one.
    fn on_text(&self, event: &Event, unit: Option<&EntityState>, text: &str);

    /// An On, Off or value command reached a unit (from a source, the API
    /// or a script), whether or not it changed the state.
    fn on_command(&self, _seen: CommandSeen<'_>) {}

    /// A source's connection was refused or lost (the interface error handler).
    fn on_source_error(&self, _error: sources::SourceError<'_>) {}
}

/// A command as a unit received it, for [`ScriptHook::on_command`].
#[derive(Debug, Clone, Copy)]
pub struct CommandSeen<'a> {
    /// The unit's address as the command named it.
    pub address: &'a str,
    /// On, Off or SetValue.
    pub command: &'a Command,
    /// The state before, when the command changed it.
    pub old: Option<&'a EntityState>,
    /// The state after, when the command changed it.
    pub new: Option<&'a EntityState>,
    /// The source event that carried the command; `None` for the API and scripts.
    pub event: Option<&'a Event>,
}

impl CommandSeen<'_> {
    /// Whether scripts hear of this command: On, Off and values do, attribute
    /// merges and text do not.
    fn runs_scripts(command: &Command) -> bool {
        matches!(command, Command::On | Command::Off | Command::SetValue(_))
    }
}

/// The default script hook: writes the text to the log.
pub struct LogScriptHook;

impl ScriptHook for LogScriptHook {
    fn on_text(&self, event: &Event, unit: Option<&EntityState>, text: &str) {
        tracing::info!(
            source = %event.source,
            event = %event.name,
            entity_id = unit.map(|u| u.entity_id.as_str()).unwrap_or("-"),
            "text: {text}"
        );
    }
}

/// The state guarded by the hub's lock.
struct Core {
    /// Every unit.
    registry: UnitRegistry,
    /// The seq given to the next event or change.
    next_seq: u64,
    /// Events no unit took, for `GET /api/events/unmatched`: under this
    /// lock, it costs matched events nothing.
    unmatched: UnmatchedEvents,
}

impl Core {
    /// The next sequence number, used up.
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}

/// Applies events and commands, and publishes the resulting changes.
pub struct Hub {
    core: Mutex<Core>,
    bus: Arc<dyn Bus>,
    /// Source name → whether it may create units.
    create_units: HashMap<String, bool>,
    /// Every configured source's status, in config order.
    sources: Vec<Arc<SourceStatus>>,
    script: Arc<dyn ScriptHook>,
}

impl Hub {
    /// A hub for this config with its units in state `unknown`, numbering
    /// changes after the bus's last seq.
    pub fn new(config: &Config, bus: Arc<dyn Bus>) -> Result<Self, UnitError> {
        let registry = UnitRegistry::from_config(&config.units)?;
        let sources = config
            .sources
            .iter()
            .map(|s| Arc::new(SourceStatus::for_config(s)))
            .collect();
        Ok(Hub {
            core: Mutex::new(Core {
                registry,
                next_seq: bus.last_seq() + 1,
                unmatched: UnmatchedEvents::default(),
            }),
            bus,
            create_units: config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.create_units))
                .collect(),
            sources,
            script: Arc::new(LogScriptHook),
        })
    }

    /// Replaces the script hook.
    pub fn with_script_hook(mut self, script: Arc<dyn ScriptHook>) -> Self {
        self.script = script;
        self
    }

    /// Whether this source's config allows it to create and remove units.
    fn may_create_units(&self, source: &str) -> bool {
        self.create_units.get(source).copied().unwrap_or(false)
    }

    /// The bus the hub publishes on.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// Runs `f` on the registry under the hub's lock (restoring state, reading units).
    pub fn with_registry<T>(&self, f: impl FnOnce(&mut UnitRegistry) -> T) -> T {
        f(&mut self.core.lock().expect("hub lock").registry)
    }

    /// Every unit's state, sorted by entity id.
    pub fn states(&self) -> Vec<EntityState> {
        self.with_registry(|r| r.states())
    }

    /// One entity's state.
    pub fn state(&self, entity_id: &str) -> Option<EntityState> {
        self.with_registry(|r| r.by_entity_id(entity_id).map(|u| u.entity_state()))
    }

    /// Every source's status.
    pub fn sources(&self) -> Vec<SourceStatusView> {
        self.sources.iter().map(|s| s.view()).collect()
    }

    /// The event names sources delivered that no unit has taken (names
    /// that have since become a unit's address are left out).
    pub fn unmatched_events(&self) -> UnmatchedList {
        let mut core = self.core.lock().expect("hub lock");
        let Core {
            registry,
            unmatched,
            ..
        } = &mut *core;
        unmatched.list(|name| registry.by_address(name).is_some())
    }

    /// Numbers a source event, applies it by the XTension rules and
    /// publishes the result: a state change, or the event itself when it
    /// changed nothing.
    pub fn ingest(&self, mut event: Event) -> Arc<Envelope> {
        if event.remove {
            return self.remove_unit(event);
        }
        let command = interpret(event.data.as_deref());
        if event.data.as_deref().is_none_or(|d| d.trim().is_empty()) {
            tracing::info!(source = %event.source, event = %event.name, "event with no data: On");
        }
        let create = self.may_create_units(&event.source);
        let mut core = self.core.lock().expect("hub lock");
        event.seq = core.take_seq();
        let now = event.received_at;
        let applied = core.registry.apply(&event.name, &command, create, now);
        if CommandSeen::runs_scripts(&command) && !matches!(applied, Applied::NoUnit) {
            let (old, new) = states_of(&applied);
            self.script.on_command(CommandSeen {
                address: &event.name,
                command: &command,
                old,
                new,
                event: Some(&event),
            });
        }
        if let Command::Text(text) = &command {
            let unit = core
                .registry
                .by_address(&event.name)
                .map(|u| u.entity_state());
            self.script.on_text(&event, unit.as_ref(), text);
        }
        let message = match applied {
            Applied::Changed { old, new } => {
                tracing::info!(
                    seq = event.seq,
                    entity_id = %new.entity_id,
                    "{} → {}",
                    old.as_ref().map_or("(new)", |o| o.state.as_str()),
                    new.state
                );
                BusMessage::State(Box::new(StateChange {
                    seq: event.seq,
                    entity_id: new.entity_id.clone(),
                    old,
                    new: Some(new),
                    time: now,
                    cause: Some(event),
                }))
            }
            Applied::NoUnit => {
                tracing::info!(source = %event.source, event = %event.name, "no unit has this address; listed at /api/events/unmatched");
                core.unmatched.record(&event, &command, create);
                BusMessage::Received(event)
            }
            Applied::Unchanged => BusMessage::Received(event),
        };
        self.bus.publish(message)
    }

    /// A source says a device is gone: its unit is removed (published as a
    /// change with no new state) when the source may create units; otherwise
    /// the event is only logged, so configured units never vanish.
    fn remove_unit(&self, mut event: Event) -> Arc<Envelope> {
        let create = self.may_create_units(&event.source);
        let mut core = self.core.lock().expect("hub lock");
        event.seq = core.take_seq();
        let removed = if create {
            core.registry.remove(&event.name)
        } else {
            tracing::info!(source = %event.source, event = %event.name, "device removed upstream; the unit is kept (the source has no `create_units`)");
            None
        };
        let message = match removed {
            Some(old) => {
                tracing::info!(seq = event.seq, entity_id = %old.entity_id, "removed (the device is gone upstream)");
                BusMessage::State(Box::new(StateChange {
                    seq: event.seq,
                    entity_id: old.entity_id.clone(),
                    old: Some(old),
                    new: None,
                    time: event.received_at,
                    cause: Some(event),
                }))
            }
            None => BusMessage::Received(event),
        };
        self.bus.publish(message)
    }

    /// Applies a command to the unit at `address` (from the API). Returns
    /// the published change, or `None` when nothing changed.
    pub fn command(
        &self,
        address: &str,
        command: &Command,
    ) -> Result<Option<Arc<Envelope>>, UnitError> {
        let mut core = self.core.lock().expect("hub lock");
        let now = Utc::now();
        let applied = core.registry.apply(address, command, false, now);
        if CommandSeen::runs_scripts(command) && !matches!(applied, Applied::NoUnit) {
            let (old, new) = states_of(&applied);
            self.script.on_command(CommandSeen {
                address,
                command,
                old,
                new,
                event: None,
            });
        }
        match applied {
            Applied::NoUnit => Err(UnitError::UnknownAddress(address.to_string())),
            Applied::Unchanged => Ok(None),
            Applied::Changed { old, new } => Ok(Some(self.publish_change(&mut core, old, new))),
        }
    }

    /// Sets an entity's state text and attributes directly (`POST /api/states/{id}`),
    /// read by the same rules as event data.
    pub fn set_state(
        &self,
        entity_id: &str,
        state: &str,
        attributes: Map<String, Value>,
    ) -> Result<Option<Arc<Envelope>>, UnitError> {
        let command = match interpret(Some(state)) {
            Command::Text(text) => Command::Attributes {
                attributes,
                readings: vec![crate::interpret::Reading::Text(text)],
            },
            Command::Attributes { .. } => Command::Attributes {
                attributes,
                readings: vec![crate::interpret::Reading::Text(state.to_string())],
            },
            Command::On => Command::Attributes {
                attributes,
                readings: vec![crate::interpret::Reading::On],
            },
            Command::Off => Command::Attributes {
                attributes,
                readings: vec![crate::interpret::Reading::Off],
            },
            Command::SetValue(n) => Command::Attributes {
                attributes,
                readings: vec![crate::interpret::Reading::Value(n)],
            },
        };
        let mut core = self.core.lock().expect("hub lock");
        let now = Utc::now();
        match core.registry.apply_to_entity(entity_id, &command, now)? {
            Applied::Changed { old, new } => Ok(Some(self.publish_change(&mut core, old, new))),
            _ => Ok(None),
        }
    }

    /// Fires an event through the bus (`POST /api/events/{type}`).
    pub fn fire_event(&self, event_type: &str, data: Value) -> Arc<Envelope> {
        let mut core = self.core.lock().expect("hub lock");
        let seq = core.take_seq();
        self.bus.publish(BusMessage::Event(FiredEvent {
            seq,
            event_type: event_type.to_string(),
            data,
            time: Utc::now(),
        }))
    }

    fn publish_change(
        &self,
        core: &mut Core,
        old: Option<EntityState>,
        new: EntityState,
    ) -> Arc<Envelope> {
        let seq = core.take_seq();
        tracing::info!(seq, entity_id = %new.entity_id, "{} → {} (API)", old.as_ref().map_or("(new)", |o| o.state.as_str()), new.state);
        self.bus.publish(BusMessage::State(Box::new(StateChange {
            seq,
            entity_id: new.entity_id.clone(),
            time: new.last_updated,
            old,
            new: Some(new),
            cause: None,
        })))
    }
}

/// The states before and after of a command that changed something.
fn states_of(applied: &Applied) -> (Option<&EntityState>, Option<&EntityState>) {
    match applied {
        Applied::Changed { old, new } => (old.as_ref(), Some(new)),
        Applied::NoUnit | Applied::Unchanged => (None, None),
    }
}

/// The interface error handler: the status and the log already show the
/// error; the scripts' `on_error` runs through the script hook.
impl sources::OnError for Hub {
    fn source_error(&self, error: sources::SourceError<'_>) {
        self.script.on_source_error(error);
    }
}

impl sources::Intake for Hub {
    fn take(&self, event: Event) {
        self.ingest(event);
    }

    fn source_status(&self, name: &str) -> Option<Arc<SourceStatus>> {
        self.sources.iter().find(|s| s.name() == name).cloned()
    }
}
