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

/// An interface made ahead of time: the endpoint must take the id and MAC it was made with (its names
/// derive from the id).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyEndpoint {
    pub endpoint_id: String,
    pub mac: [u8; 6],
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

    /// Prefix of the interface names this driver's endpoints get inside sandboxes (`eth0`, `eth1`, …).
    fn iface_prefix(&self, _net: &NetworkRecord) -> String {
        "eth".to_string()
    }

    /// Check options before anything is allocated.
    fn validate(&self, net: &NetworkRecord, others: &[&NetworkRecord]) -> DriverResult<()>;

    /// Plumb the network. On error nothing may be left behind.
    async fn create_network(&self, net: &mut NetworkRecord) -> DriverResult<()>;

    async fn delete_network(&self, net: &NetworkRecord) -> DriverResult<()>;

    /// Create the endpoint's interface inside the sandbox namespace at `netns`, named `ep.ifname`, with
    /// its MAC; addresses and routes are applied by the sandbox layer afterwards. An interface that is
    /// already there is kept, so restore can call this again.
    async fn join(
        &self,
        net: &NetworkRecord,
        ep: &EndpointRecord,
        netns: &Path,
    ) -> DriverResult<()>;

    /// Bind at `key` a spare sandbox namespace that already holds an interface on `net`, made ahead of
    /// time for the first endpoint of a new sandbox. None when there is none; the caller then makes the
    /// namespace and calls `join`.
    fn take_ready(&self, _net: &NetworkRecord, _key: &Path) -> Option<ReadyEndpoint> {
        None
    }

    /// Finish an endpoint whose interface came from `take_ready` (what `join` does besides making it).
    async fn join_ready(&self, _net: &NetworkRecord, _ep: &EndpointRecord) -> DriverResult<()> {
        Ok(())
    }

    /// Make interfaces for the next sandboxes on `net` ahead of time, in the background.
    fn replenish(&self, _net: &NetworkRecord) {}

    /// The MAC behind the network's gateway addresses, when the driver keeps it fixed: sandboxes then
    /// pin their gateways to it and never broadcast to find them.
    fn gateway_mac(&self, _net: &NetworkRecord) -> Option<[u8; 6]> {
        None
    }

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
    /// The name the driver created the interface under (`ids::staging_ifname`); an interface still
    /// carrying it is renamed to `ifname` as it comes up.
    pub staged_name: String,
    pub addresses: Vec<IpNet>,
    /// Disable IPv6 on the interface (it has no IPv6 address).
    pub no_ipv6: bool,
    /// Made ahead of time (`NetworkDriver::take_ready`): already named, up and with its sysctls; only
    /// addresses are missing.
    pub prepared: bool,
    /// Neighbour entries to pin on the interface (its network's gateways and their MAC).
    pub neighbours: Vec<(IpAddr, [u8; 6])>,
}

/// Default routes a sandbox should have: `(gateway, ifname)` per family.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gateways {
    pub v4: Option<(IpAddr, String)>,
    pub v6: Option<(IpAddr, String)>,
}

/// What to do with one family's default route.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteChange {
    Unchanged,
    Set(IpAddr, String),
    Remove,
}

/// The default-route changes of one sandbox update, derived from the routes it had and the ones it
/// should have, so the sandbox layer never has to read the routing table back.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteUpdate {
    pub v4: RouteChange,
    pub v6: RouteChange,
}

impl RouteUpdate {
    pub const NONE: RouteUpdate = RouteUpdate {
        v4: RouteChange::Unchanged,
        v6: RouteChange::Unchanged,
    };

    fn change(old: &Option<(IpAddr, String)>, new: &Option<(IpAddr, String)>) -> RouteChange {
        match (old, new) {
            (o, n) if o == n => RouteChange::Unchanged,
            (_, Some((gw, ifname))) => RouteChange::Set(*gw, ifname.clone()),
            (Some(_), None) => RouteChange::Remove,
            (None, None) => RouteChange::Unchanged,
        }
    }

    /// From the routes in place (`old`) to the wanted ones (`new`).
    pub fn between(old: &Gateways, new: &Gateways) -> Self {
        RouteUpdate {
            v4: Self::change(&old.v4, &new.v4),
            v6: Self::change(&old.v6, &new.v6),
        }
    }

    /// Install `new` whatever is in place (after a restart).
    pub fn force(new: &Gateways) -> Self {
        Self::between(&Gateways::default(), new)
    }
}

#[async_trait]
pub trait SandboxOs: Send + Sync {
    /// Create an empty namespace bound at `key` (with `lo` up).
    async fn create(&self, key: &Path) -> DriverResult<()>;
    /// Get ready for the next `create` in the background (after an attach, off its path).
    fn replenish(&self) {}
    /// Directories of namespace files that container mount namespaces must not keep copies of.
    fn private_dirs(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
    /// Drop a namespace; the kernel tears its interfaces down asynchronously.
    fn destroy(&self, key: &Path) -> DriverResult<()>;
    /// Whether the namespace file is still bound.
    fn exists(&self, key: &Path) -> bool;
    /// Bound namespace files in the namespace directory (names only).
    fn list(&self) -> Vec<String>;
    /// In one visit to the namespace: give interfaces their addresses and bring them up, then apply the
    /// default-route changes.
    async fn configure(
        &self,
        key: &Path,
        ifaces: &[IfaceConfig],
        routes: &RouteUpdate,
    ) -> DriverResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(ip: &str, ifname: &str) -> Option<(IpAddr, String)> {
        Some((ip.parse().expect("ip"), ifname.to_string()))
    }

    #[test]
    fn route_update_is_the_difference() {
        let old = Gateways {
            v4: gw("10.0.0.1", "eth0"),
            v6: None,
        };
        assert_eq!(RouteUpdate::between(&old, &old), RouteUpdate::NONE);
        let new = Gateways {
            v4: gw("10.1.0.1", "eth1"),
            v6: None,
        };
        assert_eq!(
            RouteUpdate::between(&old, &new).v4,
            RouteChange::Set("10.1.0.1".parse().expect("ip"), "eth1".into())
        );
        assert_eq!(
            RouteUpdate::between(&old, &Gateways::default()).v4,
            RouteChange::Remove
        );
        assert_eq!(
            RouteUpdate::force(&old).v4,
            RouteChange::Set("10.0.0.1".parse().expect("ip"), "eth0".into())
        );
        assert_eq!(RouteUpdate::force(&Gateways::default()), RouteUpdate::NONE);
    }
}
