//! Transitional, for tests/sources_tls.rs alone: that file (being changed
//! on another branch) still includes `support::sources` and `support::tls`
//! by hand instead of `mod support;`. Once it says `mod support;` and
//! `support::mosquitto::Mosquitto`, delete this file. Every other test
//! reaches the peers through tests/support/mod.rs.
#![allow(dead_code)]

#[path = "mosquitto.rs"]
mod mosquitto;
#[path = "peers.rs"]
mod peers;
#[path = "wait.rs"]
mod wait;

pub use mosquitto::Mosquitto;
