//! The hub fixture: config text → validated config → a hub on a bus with
//! its sources running and no server; everything stops when it is dropped.
//! [`super::server::TestServer`] runs the whole hub of `homebus run`
//! (`homebus::app::start`) and reads it through a [`TestHub`];
//! [`super::store::StoredHub`] puts a persistent bus under one.
//!
//! Why not `homebus::app::start` here too: that always binds a server, and
//! is async; the source tests need neither ports nor an `.await` to build
//! their hub, so this keeps the two library calls (`Hub::new`,
//! `sources::start`) that are all of the composition they use.

use std::collections::HashMap;
use std::sync::Arc;

use homebus::bus::{Bus, InProcessBus};
use homebus::config::Config;
use homebus::hub::Hub;
use homebus::sources::{SourceState, SourceStatusView};
use homebus::units::EntityState;
use tokio_util::sync::CancellationToken;

use super::wait::until;

/// A running hub and its sources.
pub struct TestHub {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The config it runs.
    pub config: Config,
    /// Cancelled on drop: stops the sources this fixture started (none
    /// when it reads a hub that another fixture runs).
    shutdown: CancellationToken,
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestHub {
    /// Reads `toml` as `homebus check` would, builds the hub on an
    /// in-memory bus and starts its sources.
    pub fn start(toml: &str) -> Self {
        Self::start_config(super::config::parse(toml))
    }

    /// The hub of `homebus run --demo` with no config file: the simulated
    /// house and its source.
    pub fn with_demo() -> Self {
        let mut config = Config::default();
        config.add_demo();
        Self::start_config(config)
    }

    /// Builds the hub of exactly this config on an in-memory bus sized as
    /// the config says, and starts its sources.
    pub fn start_config(config: Config) -> Self {
        let bus = Arc::new(InProcessBus::new(
            config.server.replay_buffer,
            config.server.lag_limit,
        ));
        let running = Self::idle_on(config, bus);
        running.start_sources(&HashMap::new());
        running
    }

    /// Builds the hub of `config` on `bus` without starting its sources,
    /// for tests that feed events themselves (and may restore a store
    /// first, as `homebus run` does before its sources start).
    pub fn idle_on(config: Config, bus: Arc<dyn Bus>) -> Self {
        let hub = Arc::new(
            Hub::new(&config, bus).unwrap_or_else(|e| panic!("the test units do not fit: {e}")),
        );
        Self::reading(hub, config)
    }

    /// The waits and look-ups of this fixture on a hub that something else
    /// runs (and stops).
    pub fn reading(hub: Arc<Hub>, config: Config) -> Self {
        TestHub {
            hub,
            config,
            shutdown: CancellationToken::new(),
        }
    }

    /// Starts the configured sources, each resuming after its entry in
    /// `resume_ids` (source name → last upstream event ID); they stop when
    /// this is dropped.
    pub fn start_sources(&self, resume_ids: &HashMap<String, String>) {
        homebus::sources::start(
            self.hub.clone(),
            &self.config.sources,
            &self.shutdown,
            resume_ids,
        );
    }

    /// An entity's state text, if the entity exists.
    pub fn state(&self, entity_id: &str) -> Option<String> {
        self.hub.state(entity_id).map(|s| s.state)
    }

    /// An entity's whole state, if the entity exists.
    pub fn entity(&self, entity_id: &str) -> Option<EntityState> {
        self.hub.state(entity_id)
    }

    /// A source's status by name; panics if there is no such source.
    pub fn source(&self, name: &str) -> SourceStatusView {
        self.hub
            .sources()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no source {name}"))
    }

    /// Waits until the entity exists and `check` holds for its state;
    /// returns that state.
    pub async fn wait_state(
        &self,
        entity_id: &str,
        what: &str,
        check: impl Fn(&EntityState) -> bool,
    ) -> EntityState {
        until(&format!("{entity_id} to be {what}"), || {
            self.entity(entity_id).filter(|s| check(s))
        })
        .await
    }

    /// Waits until the entity's state text is exactly `state`.
    pub async fn wait_state_is(&self, entity_id: &str, state: &str) -> EntityState {
        self.wait_state(entity_id, &format!("`{state}`"), |s| s.state == state)
            .await
    }

    /// Waits until `check` holds for the status of source `name`.
    pub async fn wait_source(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&SourceStatusView) -> bool,
    ) -> SourceStatusView {
        until(&format!("source {name}: {what}"), || {
            Some(self.source(name)).filter(|s| check(s))
        })
        .await
    }

    /// Waits until source `name` is not connected and its last error
    /// contains `text`.
    pub async fn source_error(&self, name: &str, text: &str) -> SourceStatusView {
        self.wait_source(name, &format!("an error with `{text}`"), |s| {
            s.state != SourceState::Connected
                && s.last_error.as_deref().is_some_and(|e| e.contains(text))
        })
        .await
    }
}
