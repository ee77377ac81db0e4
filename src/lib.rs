//! # homebus
//!
//! A real-time event hub for home automation and live dashboards. Modules
//! follow the data flow, in this order:
//!
//! - [`config`]: the `homebus.toml` file, parsed and validated with the
//!   position of every mistake.
//! - [`sources`]: tasks that connect to devices and servers (SSE, WebSocket,
//!   HTTP polling, files, MQTT) and move their bytes into the hub, each
//!   keeping a [`sources::SourceStatus`].
//! - [`sse`]: our WHATWG-conformant, incremental Server-Sent Events parser.
//! - [`format`]: pure functions that turn a source's payload into [`event::Event`]s.
//! - [`event`]: the `Event` that every source produces.
//! - [`interpret`]: the XTension rules that turn an event's data into a
//!   [`interpret::Command`].
//! - [`units`]: the registry of named units and their Home Assistant-shaped state;
//!   applying a command yields a [`bus::StateChange`].
//! - [`bus`]: where every change is published, numbered by `seq`, and where
//!   subscribers read from.
//! - [`prometheus`]: the one encoder of the Prometheus text format, for the
//!   store's and the server's counters on `/metrics`.
//! - [`store`]: the SQLite database behind the bus: restore, replay, history.
//! - [`hub`]: the wiring that runs sources, applies their events and publishes the
//!   changes.
//! - [`server`]: SSE, WebSocket and REST serving, with auth.
//! - [`cli`]: the `homebus` command line (`run`, `check`, `tail`).

pub mod bus;
pub mod cli;
pub mod config;
pub mod event;
pub mod format;
pub mod http_client;
pub mod hub;
pub mod interpret;
pub mod prometheus;
pub mod server;
pub mod sources;
pub mod sse;
pub mod store;
pub mod time;
pub mod units;
