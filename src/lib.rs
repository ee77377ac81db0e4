//! # homebus
//!
//! A real-time event hub for home automation and live dashboards. Modules
//! follow the data flow, in this order:
//!
//! - [`config_file`]: the config file as text: spanned TOML tables read
//!   value by value, every mistake with its `file:line:column`, secrets
//!   from `env:`; the toolkit each part reads its own section with.
//! - [`config`]: the `homebus.toml` config, assembled from the sections:
//!   `[server]` and `[auth]` here, `[[unit]]` from [`units`], each
//!   `[[source]]` from its type in [`sources`].
//! - [`sources`]: tasks that connect to devices and servers (SSE, WebSocket,
//!   HTTP polling, files, MQTT, the demo house) and move their bytes into the
//!   hub, each keeping a [`sources::SourceStatus`]; one folder per type with
//!   its config and its transport, one reconnect loop they share (back-off,
//!   status, the [`sources::OnError`] hook), their `tls` setup, and
//!   `sources::start` that runs them all.
//! - [`http_client`]: the one way homebus builds HTTP clients, for the
//!   sources and `homebus tail` (rustls, the system's roots or a source's
//!   `tls`).
//! - [`sse`]: our WHATWG-conformant, incremental Server-Sent Events parser.
//! - [`format`](mod@format): pure functions that turn a source's payload into [`event::Event`]s.
//! - [`event`]: the `Event` that every source produces.
//! - [`interpret`]: the XTension rules that turn an event's data into a
//!   [`interpret::Command`].
//! - [`units`]: the registry of named units and their Home Assistant-shaped
//!   state (applying a command says what changed, old and new), and the
//!   record of events no unit took.
//! - [`hub`]: applies the sources' events and the API's commands to the units
//!   and publishes each change on the bus as a [`bus::StateChange`]; it
//!   starts nothing.
//! - [`scripts`]: the units' and sources' Rhai scripts, run on their own
//!   thread through the hub's script hook, each run bounded.
//! - [`bus`]: where every change is published, numbered by `seq`, and where
//!   subscribers read from.
//! - [`prometheus`]: the one encoder of the Prometheus text format, for the
//!   store's and the server's counters on `/metrics`.
//! - [`outputs`]: what listens on the bus and pushes elsewhere: MQTT out
//!   (states, Home Assistant discovery, commands back from `…/set`).
//! - [`store`]: the SQLite database behind the bus: restore, replay, history.
//! - [`time`]: timestamps in the shape Home Assistant clients parse.
//! - [`server`]: SSE, WebSocket and REST serving, with auth.
//! - [`app`]: all of the above put together as `homebus run` runs it (the
//!   bus the config asks for, the hub, the restore, the sources, the server)
//!   and its orderly stop; the one composition the command line and the
//!   integration tests start.
//! - [`cli`]: the `homebus` command line (`run`, `check`, `tail`, `db`).
//!
//! Dependencies have no cycle. The leaves (`config_file`, `http_client`,
//! `sse`, `format`, `event`, `interpret`, `prometheus`, `time`) use no other
//! module. Above them, each module uses only those before it in this order:
//! `units`, `sources`, `config` (which assembles the sections `units` and
//! `sources` read), `bus`, `hub`, `scripts`, `store`, `server`, `app`, `cli`. The list
//! above is in the order data flows; this one is the order of use.

pub mod app;
pub mod bus;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod event;
pub mod format;
pub mod http_client;
pub mod hub;
pub mod interpret;
pub mod outputs;
pub mod prometheus;
pub mod scripts;
pub mod server;
pub mod sources;
pub mod sse;
pub mod store;
pub mod time;
pub mod units;
