//! cnm's embedded DNS: Docker's resolver at 127.0.0.11 in every sandbox on a user-defined network.
//!
//! The daemon serves every sandbox itself: for each one a UDP socket and a TCP listener bound at
//! `127.0.0.11:<random>` inside the sandbox's network namespace, and port 53 of 127.0.0.11 redirected
//! to them by a small nf_tables table inside that namespace, so the container may bind :53 itself.
//! Answers come from one shared table (`table`), built from the controller's snapshots; what to answer
//! is a pure function (`answer`); names that are not local are forwarded (`forward`).

pub mod answer;
pub mod batch;
pub mod fast;
pub mod forward;
pub mod ports;
pub mod priority;
pub mod server;
pub mod table;
pub mod udp_thread;

use std::net::Ipv4Addr;

pub use server::Resolvers;

/// The resolver's address inside every sandbox (in 127/8, so nothing is added to `lo`).
pub const LISTEN_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error(transparent)]
    Linux(#[from] cnm_linux::LinuxError),
    #[error("the resolvers must be started inside the tokio runtime")]
    NoRuntime,
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}
