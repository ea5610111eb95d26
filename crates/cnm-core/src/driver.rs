//! The two seams between the controller and the kernel. Drivers plumb networks and put interfaces into
//! sandboxes; the sandbox OS layer owns namespaces and the configuration inside them.

use std::net::IpAddr;
use std::path::Path;

use async_trait::async_trait;
use ipnet::IpNet;

use crate::model::{EndpointRecord, NetworkRecord};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(pub String);

pub type DriverResult<T> = std::result::Result<T, DriverError>;

/// What a driver tells the controller after putting an interface into a sandbox.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinInfo {
    pub gateway4: Option<IpAddr>,
    pub gateway6: Option<IpAddr>,
}

/// A network driver (bridge, host, null; later macvlan, ipvlan, overlay, remote).
#[async_trait]
pub trait NetworkDriver: Send + Sync {
    fn name(&self) -> &'static str;

    /// At most one network of this driver may exist (host, null).
    fn singleton(&self) -> bool {
        false
    }

    /// Endpoints of this driver live in a namespace of their own (false: host mode, none).
    fn needs_sandbox_iface(&self) -> bool {
        true
    }

    /// Check options before anything is allocated.
    fn validate(&self, net: &NetworkRecord, others: &[&NetworkRecord]) -> DriverResult<()>;

    /// Plumb the network. On error nothing may be left behind.
    async fn create_network(&self, net: &mut NetworkRecord) -> DriverResult<()>;

    async fn delete_network(&self, net: &NetworkRecord) -> DriverResult<()>;

    /// Create the endpoint's interface inside the sandbox namespace at `netns`, named `ep.ifname`, with
    /// its MAC; addresses and routes are applied by the sandbox layer afterwards.
    async fn join(
        &self,
        net: &NetworkRecord,
        ep: &mut EndpointRecord,
        netns: &Path,
    ) -> DriverResult<JoinInfo>;

    /// Remove the endpoint's interface. `sandbox_going` = the namespace is about to be deleted anyway, so
    /// interfaces inside it need not be deleted one by one.
    async fn leave(
        &self,
        net: &NetworkRecord,
        ep: &EndpointRecord,
        netns: &Path,
        sandbox_going: bool,
    ) -> DriverResult<()>;

    /// Make the kernel match a stored network after a restart (recreate what is missing).
    async fn restore_network(&self, net: &NetworkRecord) -> DriverResult<()>;

    /// Remove kernel objects this driver owns that no stored network or endpoint explains.
    async fn remove_strays(
        &self,
        nets: &[&NetworkRecord],
        eps: &[&EndpointRecord],
    ) -> DriverResult<Vec<String>>;
}

/// Addresses and routes for one interface inside a sandbox.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IfaceConfig {
    pub ifname: String,
    pub addresses: Vec<IpNet>,
    /// Disable IPv6 on the interface (it has no IPv6 address).
    pub no_ipv6: bool,
}

/// Default routes a sandbox should have after a change: `(gateway, ifname)` per family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gateways {
    pub v4: Option<(IpAddr, String)>,
    pub v6: Option<(IpAddr, String)>,
}

#[async_trait]
pub trait SandboxOs: Send + Sync {
    /// Create an empty namespace bound at `key` (with `lo` up).
    async fn create(&self, key: &Path) -> DriverResult<()>;
    /// Drop a namespace; the kernel tears its interfaces down asynchronously.
    fn destroy(&self, key: &Path) -> DriverResult<()>;
    /// Whether the namespace file is still bound.
    fn exists(&self, key: &Path) -> bool;
    /// Bound namespace files in the namespace directory (names only).
    fn list(&self) -> Vec<String>;
    /// Configure an interface and, in the same step, the sandbox's default routes.
    async fn configure(
        &self,
        key: &Path,
        iface: Option<&IfaceConfig>,
        gateways: &Gateways,
    ) -> DriverResult<()>;
    /// Delete an interface inside the sandbox (live disconnect).
    async fn remove_iface(&self, key: &Path, ifname: &str) -> DriverResult<()>;
}
