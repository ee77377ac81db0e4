//! Fixtures shared by every integration test: the hub (in-process, with a
//! server, on a store, or the real binary), config text, real peers on
//! loopback, temp files, and waiting for conditions with one deadline.
//! Each test binary uses a subset, hence the `allow`.
#![allow(dead_code)]

pub mod cli;
pub mod config;
pub mod hub;
pub mod hub_process;
pub mod mosquitto;
pub mod mqtt_client;
pub mod peers;
pub mod server;
pub mod sse_server;
pub mod store;
pub mod tls;
pub mod wait;
