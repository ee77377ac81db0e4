//! A hub started from config text, with its sources running, stopped on drop.

use std::path::Path;
use std::sync::Arc;

use homebus::bus::{Bus, InProcessBus};
use homebus::config::Config;
use homebus::hub::Hub;
use homebus::sources::{SourceState, SourceStatusView};
use homebus::units::EntityState;
use tokio_util::sync::CancellationToken;

/// A running hub.
pub struct TestHub {
    /// The hub.
    pub hub: Arc<Hub>,
    /// The config it runs.
    pub config: Config,
    shutdown: CancellationToken,
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestHub {
    /// Parses `toml`, builds the hub on an in-process bus and starts its sources.
    pub fn start(toml: &str) -> Self {
        let config = homebus::config::parse_str(toml, Path::new("test.toml"))
            .unwrap_or_else(|e| panic!("test config refused:\n{e}"));
        let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(10_000, 10_000));
        let hub = Arc::new(Hub::new(&config, bus).unwrap());
        let shutdown = CancellationToken::new();
        homebus::sources::start(hub.clone(), &config.sources, &shutdown, &Default::default());
        TestHub {
            hub,
            config,
            shutdown,
        }
    }

    /// An entity's state text, if the entity exists.
    pub fn state(&self, entity_id: &str) -> Option<String> {
        self.hub.state(entity_id).map(|s| s.state)
    }

    /// An entity's full state.
    pub fn entity(&self, entity_id: &str) -> Option<EntityState> {
        self.hub.state(entity_id)
    }

    /// A source's status by name.
    pub fn source(&self, name: &str) -> SourceStatusView {
        self.hub
            .sources()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no source {name}"))
    }

    /// Waits until a source has reported an error containing `text`.
    pub async fn source_error(&self, name: &str, text: &str) -> SourceStatusView {
        super::wait::until(
            &format!("source {name} to report an error with `{text}`"),
            super::wait::DEADLINE,
            || {
                let status = self.source(name);
                let matches = status
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains(text))
                    && status.state != SourceState::Connected;
                matches.then_some(status)
            },
        )
        .await
    }

    /// Waits until an entity's state satisfies `check`.
    pub async fn wait_state(
        &self,
        entity_id: &str,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> String {
        super::wait::until(
            &format!("{entity_id} to be {what}"),
            super::wait::DEADLINE,
            || self.state(entity_id).filter(|s| check(s)),
        )
        .await
    }
}
