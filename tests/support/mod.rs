//! Fixtures shared by the integration tests: real servers on loopback, temp
//! files, and waiting for conditions with a deadline.
#![allow(dead_code)]

pub mod hub;
pub mod hub_process;
pub mod server;
pub mod sse_server;
pub mod store;
pub mod tls;
pub mod wait;
