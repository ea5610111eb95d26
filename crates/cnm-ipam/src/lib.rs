//! Docker-compatible default IPAM for cnm, as pure logic (no I/O).
//!
//! - [`AddressSpace`]: the local address space — subnets in use by networks and Docker's round-robin choice among
//!   the predefined pools ([`docker_default_v4_pools`], `--default-address-pool` entries as [`PoolSpec`], and the
//!   host's ULA /48 from [`ula_base_from_host_id`]).
//! - [`SubnetPool`]: the addresses of one network subnet (lowest free, optional `--ip-range`, Docker's reserved
//!   network/broadcast/anycast addresses), cheap even for a /8 or a /64.
//! - [`validate_config`]: checks a network's IPAM config with Docker's error texts.
//!
//! Every error is an [`IpamError`] whose `Display` is Docker's message and whose
//! [`http_status`](IpamError::http_status) is Docker's status.

mod config;
mod error;
mod family;
mod pool_spec;
mod space;
mod subnet;

pub use config::{validate_config, IpamConfigInput, ValidatedConfig};
pub use error::IpamError;
pub use family::Family;
pub use pool_spec::{
    docker_default_v4_pools, docker_default_v6_pools, ula_base_from_host_id, PoolSpec,
};
pub use space::AddressSpace;
pub use subnet::SubnetPool;
