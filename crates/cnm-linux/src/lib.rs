//! Kernel access for cnm: network namespaces on dedicated threads, rtnetlink links, addresses and routes,
//! per-namespace sysctls, and nf_tables over netlink (a batch encoder, dumps, change notifications).
//! Nothing here knows about networks or containers; the drivers compose these primitives. No process
//! is spawned on any path in this crate (conntrack entries are deleted over ctnetlink, `conntrack.rs`).

pub mod conntrack;
pub mod error;
pub mod netlink;
pub mod netns;
pub mod nftdump;
pub mod nftmon;
pub mod nftnl;
pub(crate) mod nlmsg;
pub mod nsworker;
pub mod sysctl;

pub use error::LinuxError;
pub use netlink::{LinkInfo, Netlink, VethSpec};
pub use netns::NsThread;
pub use nsworker::NsWorker;
