//! cnm's built-in network drivers (`bridge`, `host`, `null`) and the Linux implementation of the sandbox
//! layer (namespaces, addresses, routes inside them).

pub mod bridge;
pub mod ready;
pub mod sandbox;
pub mod simple;
pub mod spares;

pub use bridge::BridgeDriver;
pub use sandbox::LinuxSandboxOs;
pub use simple::{HostDriver, NullDriver};
