//! The controller of cnm: libnetwork's Container Network Model — networks, endpoints and sandboxes — with
//! its order of operations, rollback on failure, persistence through `cnm-store`, and IPAM replayed from the
//! stored records. It makes no syscalls itself: drivers (`NetworkDriver`) and the sandbox OS layer
//! (`SandboxOs`) are traits implemented in `cnm-drivers`.

pub mod controller;
pub mod dns;
pub mod driver;
pub mod error;
pub mod files;
pub mod firewall;
pub mod ids;
pub mod lookup;
pub mod model;
pub mod options;
pub mod phases;
pub mod ports;

pub use controller::{Controller, ControllerConfig};
pub use error::CoreError;
