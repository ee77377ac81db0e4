//! Outputs: things that listen on the bus and push every change elsewhere.
//! Each follows the bus like any subscriber and hands commands back through
//! the hub's normal command path, so nothing above the bus knows it runs.
//!
//! - [`mqtt`]: every unit on an MQTT broker, with Home Assistant discovery,
//!   commands taken back from `…/set` topics.

pub mod mqtt;
