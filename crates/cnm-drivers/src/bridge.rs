//! The bridge driver: one Linux bridge per network (`br-<id12>`, `docker0` for the default network,
//! or the `com.docker.network.bridge.name` option), one veth per endpoint whose container end is created
//! straight inside the sandbox namespace. Firewall hooks arrive with the firewall work; this driver only
//! plumbs links and addresses.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cnm_core::driver::{DriverError, DriverResult, NetworkDriver, ReadyEndpoint};
use cnm_core::ids::{bridge_mac, short, staging_ifname};
use cnm_core::model::{EndpointRecord, NetworkRecord};
use cnm_core::options::BridgeOptions;
use cnm_linux::{sysctl, LinuxError, Netlink, VethSpec};
use ipnet::IpNet;

use crate::ready::{BridgePort, ReadyEndpoints};

/// What the hot path needs of a plumbed network, parsed and looked up once when the network is created
/// or restored instead of on every join.
#[derive(Debug, Clone)]
struct LiveBridge {
    index: u32,
    /// The bridge's MAC, when cnm owns the bridge and so keeps it fixed (see `ids::bridge_mac`).
    mac: Option<[u8; 6]>,
    mtu: Option<u32>,
    iface_prefix: String,
    /// When an endpoint last left with its sandbox: its port is freed when the kernel has cleaned up
    /// the namespace, a little later.
    left_at: Option<Instant>,
}

/// How long after an endpoint left a full bridge a join waits for its port to be freed.
const PORT_FREED_WITHIN: Duration = Duration::from_secs(2);
/// The pause between tries meanwhile.
const PORT_RETRY: Duration = Duration::from_millis(20);

pub struct BridgeDriver {
    host: Netlink,
    daemon_mtu: Option<u32>,
    /// By network id.
    live: Mutex<HashMap<String, LiveBridge>>,
    ready: Option<Arc<ReadyEndpoints>>,
}

fn err<E: std::fmt::Display>(e: E) -> DriverError {
    DriverError(e.to_string())
}

impl BridgeDriver {
    /// `host` must be a netlink handle of the daemon's (host) namespace.
    pub fn new(host: Netlink, daemon_mtu: Option<u32>) -> Self {
        BridgeDriver {
            host,
            daemon_mtu,
            live: Mutex::new(HashMap::new()),
            ready: None,
        }
    }

    /// Keep endpoints ready ahead of time (see `ready`).
    pub fn with_ready(mut self, ready: Arc<ReadyEndpoints>) -> Self {
        self.ready = Some(ready);
        self
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveBridge>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make an endpoint's veth on the bridge. A full bridge (EXFULL) first gives the container the ports
    /// its ready endpoints hold (they must never cost a container its place: Docker has all 1023), then,
    /// right after an endpoint left, waits for the kernel to free that one's port.
    async fn add_port(&self, net: &NetworkRecord, spec: &VethSpec<'_>) -> Result<(), LinuxError> {
        let mut res = self.host.create_veth(spec).await;
        if !res.as_ref().is_err_and(LinuxError::is_full) {
            return res;
        }
        if let Some(ready) = &self.ready {
            if ready.free_ports(&net.id).await > 0 {
                res = self.host.create_veth(spec).await;
            }
        }
        while res.as_ref().is_err_and(LinuxError::is_full) {
            let left_at = self.live().get(&net.id).and_then(|l| l.left_at);
            if left_at.is_none_or(|t| t.elapsed() >= PORT_FREED_WITHIN) {
                break;
            }
            tokio::time::sleep(PORT_RETRY).await;
            res = self.host.create_veth(spec).await;
        }
        res
    }

    /// The network's bridge as plumbed; rebuilt from the kernel if this process has not plumbed it.
    async fn live_bridge(&self, net: &NetworkRecord) -> DriverResult<LiveBridge> {
        if let Some(l) = self.live().get(&net.id) {
            return Ok(l.clone());
        }
        let name = self.bridge_name(net)?;
        let link = self
            .host
            .link_by_name(&name)
            .await
            .map_err(err)?
            .ok_or_else(|| {
                DriverError(format!("bridge {name} of network {} is missing", net.name))
            })?;
        self.remember(net, link.index, link.mac)
    }

    fn remember(
        &self,
        net: &NetworkRecord,
        index: u32,
        mac: Option<[u8; 6]>,
    ) -> DriverResult<LiveBridge> {
        let opts = self.options(net)?;
        let live = LiveBridge {
            index,
            mac: mac.filter(|_| !net.bridge_adopted),
            mtu: opts.mtu,
            iface_prefix: opts.iface_prefix,
            left_at: None,
        };
        self.live().insert(net.id.clone(), live.clone());
        Ok(live)
    }

    fn options(&self, net: &NetworkRecord) -> DriverResult<BridgeOptions> {
        BridgeOptions::parse(&net.options, self.daemon_mtu).map_err(err)
    }

    fn bridge_name(&self, net: &NetworkRecord) -> DriverResult<String> {
        if let Some(n) = &net.bridge_name {
            return Ok(n.clone());
        }
        Ok(self
            .options(net)?
            .bridge_name
            .unwrap_or_else(|| format!("br-{}", short(&net.id))))
    }

    /// Make the host send to the endpoint without ever flooding the bridge. A broadcast or an
    /// unknown-destination frame on a bridge is copied to every port within one call, and past about
    /// `net.core.netdev_max_backlog` (1000) ports the copies for the oldest ports are dropped: the
    /// oldest containers stop answering the host. So:
    /// - its addresses are pinned to its MAC in the host's neighbour table (the host never asks for
    ///   them, and the entry a previous holder of the address left with another MAC is replaced);
    /// - its MAC is pinned to its port in the bridge's FDB (a learned entry ages out after 300 s of
    ///   silence, and the next frame to it would be flooded). `port` is None when the ready filler
    ///   pinned it already.
    ///
    /// Best effort: without the entries the host still finds the container the usual way.
    async fn pin_endpoint(&self, bridge: u32, port: Option<&str>, ep: &EndpointRecord) {
        let neighbours = async {
            for ip in endpoint_addresses(ep) {
                let res = match ep.mac {
                    Some(mac) => self.host.pin_neighbour(bridge, ip, mac).await,
                    None => {
                        self.host.forget_neighbour(bridge, ip).await;
                        Ok(())
                    }
                };
                if let Err(e) = res {
                    tracing::warn!(address = %ip, error = %e, "could not pin the endpoint's neighbour entry");
                }
            }
        };
        let fdb = async {
            let (Some(port), Some(mac)) = (port, ep.mac) else {
                return;
            };
            let res = match self.host.link_by_name(port).await {
                Ok(Some(l)) => self.host.pin_port_mac(l.index, mac).await,
                Ok(None) => Err(cnm_linux::LinuxError::NotFound(port.to_string())),
                Err(e) => Err(e),
            };
            if let Err(e) = res {
                tracing::warn!(port, error = %e, "could not pin the endpoint's MAC on its bridge port");
            }
        };
        futures::join!(neighbours, fdb);
    }

    /// The endpoint is leaving: its pinned entries go (the address may come back with another MAC).
    async fn unpin_neighbours(&self, bridge: u32, ep: &EndpointRecord) {
        for ip in endpoint_addresses(ep) {
            self.host.forget_neighbour(bridge, ip).await;
        }
    }

    fn gateway_addresses(net: &NetworkRecord) -> Vec<IpNet> {
        net.subnets
            .iter()
            .filter_map(|s| {
                s.gateway
                    .and_then(|g| IpNet::new(g, s.subnet.prefix_len()).ok())
            })
            .collect()
    }

    /// Create (or adopt) the bridge and give it the gateway addresses. A bridge cnm owns carries exactly
    /// those (a changed `--bip` moves docker0); an adopted one keeps whatever else its owner put on it.
    /// Returns (index, created, MAC).
    async fn ensure_bridge(
        &self,
        net: &NetworkRecord,
        name: &str,
        owned: bool,
    ) -> DriverResult<(u32, bool, Option<[u8; 6]>)> {
        let opts = self.options(net)?;
        let (index, created, mac) = match self.host.link_by_name(name).await.map_err(err)? {
            Some(l) if l.kind.as_deref() == Some("bridge") => (l.index, false, l.mac),
            Some(_) => {
                return Err(DriverError(format!(
                    "device {name} exists and is not a bridge"
                )))
            }
            None => {
                let mac = bridge_mac(&net.id);
                let idx = self
                    .host
                    .create_bridge_with(name, mac, opts.mtu, opts.mcast_snooping)
                    .await
                    .map_err(err)?;
                (idx, true, Some(mac))
            }
        };
        let res = async {
            // A bridge without IPv6 subnets gets no IPv6 at all (Docker's user bridges show no inet6).
            let v6 = if net.enable_ipv6 { "0" } else { "1" };
            if let Err(e) = sysctl::write_iface("ipv6", name, "disable_ipv6", v6) {
                tracing::debug!(bridge = name, error = %e, "could not set disable_ipv6");
            }
            let have = self.host.addresses(index).await.map_err(err)?;
            let want = Self::gateway_addresses(net);
            if owned || created {
                for a in have.iter().filter(|a| !want.contains(a) && !is_link_local(a)) {
                    tracing::info!(bridge = name, address = %a, "removing an address the network no longer has");
                    self.host.delete_address(index, *a).await.map_err(err)?;
                }
            }
            for a in want {
                if !have.contains(&a) {
                    self.host.add_address(index, a).await.map_err(err)?;
                }
            }
            self.host.set_up(index).await.map_err(err)
        }
        .await;
        if let Err(e) = res {
            if created {
                let _ = self.host.delete_link(index).await;
            }
            return Err(e);
        }
        Ok((index, created, mac))
    }
}

/// The kernel's `BR_MAX_PORTS`: port numbers are 10 bits and port 0 is reserved.
const BRIDGE_MAX_PORTS: u32 = 1024;

fn endpoint_addresses(ep: &EndpointRecord) -> impl Iterator<Item = std::net::IpAddr> {
    [ep.ipv4.map(|a| a.addr()), ep.ipv6.map(|a| a.addr())]
        .into_iter()
        .flatten()
}

fn is_link_local(a: &IpNet) -> bool {
    match a {
        IpNet::V4(n) => n.addr().is_link_local(),
        IpNet::V6(n) => n.addr().is_unicast_link_local(),
    }
}

fn is_cnm_bridge_name(name: &str) -> bool {
    name.len() == 15 && name.starts_with("br-") && name[3..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_cnm_veth_name(name: &str) -> bool {
    name.len() == 11 && name.starts_with("veth") && name[4..].chars().all(|c| c.is_ascii_hexdigit())
}

#[async_trait]
impl NetworkDriver for BridgeDriver {
    fn name(&self) -> &'static str {
        "bridge"
    }

    fn validate(&self, net: &NetworkRecord, others: &[&NetworkRecord]) -> DriverResult<()> {
        let name = self.bridge_name(net)?;
        for o in others.iter().filter(|o| o.driver == "bridge") {
            let theirs = self.bridge_name(o)?;
            if theirs == name {
                return Err(DriverError(format!(
                    "cannot create network {} ({name}): conflicts with network {} ({theirs}): networks have same bridge name",
                    net.id, o.id
                )));
            }
        }
        Ok(())
    }

    async fn create_network(&self, net: &mut NetworkRecord) -> DriverResult<()> {
        let name = self.bridge_name(net)?;
        let owned = is_cnm_bridge_name(&name) || name == "docker0";
        let (index, created, mac) = self.ensure_bridge(net, &name, owned).await?;
        net.bridge_name = Some(name.clone());
        // A device that existed before is the user's (or docker0 of a previous life): never delete it.
        net.bridge_adopted = !created && !is_cnm_bridge_name(&name) && name != "docker0";
        self.remember(net, index, mac)?;
        tracing::debug!(bridge = %name, created, "bridge ready");
        Ok(())
    }

    async fn delete_network(&self, net: &NetworkRecord) -> DriverResult<()> {
        self.live().remove(&net.id);
        if let Some(r) = &self.ready {
            r.drop_network(&net.id);
        }
        if net.bridge_adopted {
            return Ok(());
        }
        let name = self.bridge_name(net)?;
        if let Some(l) = self.host.link_by_name(&name).await.map_err(err)? {
            self.host.delete_link(l.index).await.map_err(err)?;
        }
        Ok(())
    }

    fn iface_prefix(&self, net: &NetworkRecord) -> String {
        match self.live().get(&net.id) {
            Some(l) => l.iface_prefix.clone(),
            None => self
                .options(net)
                .map(|o| o.iface_prefix)
                .unwrap_or_else(|_| "eth".into()),
        }
    }

    async fn join(
        &self,
        net: &NetworkRecord,
        ep: &EndpointRecord,
        netns: &Path,
    ) -> DriverResult<()> {
        let bridge = self.live_bridge(net).await?;
        let host_name = ep
            .host_ifname
            .as_deref()
            .ok_or_else(|| DriverError("endpoint has no host interface name".into()))?;
        let peer_name = staging_ifname(&ep.id);
        let spec = VethSpec {
            host_name,
            peer_name: &peer_name,
            peer_netns: netns,
            peer_mac: ep.mac,
            mtu: bridge.mtu,
            master: Some(bridge.index),
            host_ipv6_off: true,
            hairpin: true,
            host_alias: None,
        };
        let res = self.add_port(net, &spec).await;
        if res.as_ref().is_ok() || res.as_ref().is_err_and(|e| e.is_exists()) {
            self.pin_endpoint(bridge.index, Some(host_name), ep).await;
        }
        match res {
            Ok(()) => Ok(()),
            // Restore joins again: the pair made before the restart is kept.
            Err(e) if e.is_exists() => Ok(()),
            // Docker passes the kernel's bare "exchange full" on; say what it means.
            Err(e) if e.is_full() => Err(DriverError(format!(
                "network {} is full: a Linux bridge holds at most {} endpoints ({e})",
                net.name,
                BRIDGE_MAX_PORTS - 1
            ))),
            Err(e) => Err(err(e)),
        }
    }

    fn take_ready(&self, net: &NetworkRecord, key: &Path) -> Option<ReadyEndpoint> {
        self.ready.as_ref()?.take_into(&net.id, key)
    }

    async fn join_ready(&self, net: &NetworkRecord, ep: &EndpointRecord) -> DriverResult<()> {
        let bridge = self.live_bridge(net).await?;
        if let Some(host_name) = ep.host_ifname.as_deref() {
            self.host.clear_alias(host_name).await.map_err(err)?;
        }
        self.pin_endpoint(bridge.index, None, ep).await;
        Ok(())
    }

    fn gateway_mac(&self, net: &NetworkRecord) -> Option<[u8; 6]> {
        self.live().get(&net.id).and_then(|l| l.mac)
    }

    fn replenish(&self, net: &NetworkRecord) {
        let Some(ready) = &self.ready else {
            return;
        };
        let port = self.live().get(&net.id).map(|l| BridgePort {
            index: l.index,
            mtu: l.mtu,
            ifname: format!("{}0", l.iface_prefix),
            ipv6: net.subnets.iter().any(|s| s.subnet.addr().is_ipv6()),
        });
        if let Some(port) = port {
            ready.replenish(&net.id, port);
        }
    }

    async fn leave(
        &self,
        net: &NetworkRecord,
        ep: &EndpointRecord,
        netns: &Path,
        sandbox_going: bool,
    ) -> DriverResult<()> {
        if let Ok(bridge) = self.live_bridge(net).await {
            self.unpin_neighbours(bridge.index, ep).await;
        }
        if let Some(ready) = &self.ready {
            ready.port_freed(&net.id);
        }
        if sandbox_going {
            if let Some(l) = self.live().get_mut(&net.id) {
                l.left_at = Some(Instant::now());
            }
            // Deleting the namespace takes the veth with it, asynchronously and batched by the kernel.
            return Ok(());
        }
        let nl = Netlink::in_netns(netns, || Ok(())).await.map_err(err)?;
        if let Some(l) = nl.link_by_name(&ep.ifname).await.map_err(err)? {
            nl.delete_link(l.index).await.map_err(err)?;
        }
        Ok(())
    }

    async fn restore_network(&self, net: &NetworkRecord) -> DriverResult<()> {
        let name = self.bridge_name(net)?;
        let (index, created, mac) = self.ensure_bridge(net, &name, !net.bridge_adopted).await?;
        self.remember(net, index, mac)?;
        if created {
            tracing::info!(bridge = %name, network = %net.name, "recreated missing bridge");
        }
        Ok(())
    }

    async fn remove_strays(
        &self,
        nets: &[&NetworkRecord],
        eps: &[&EndpointRecord],
    ) -> DriverResult<Vec<String>> {
        let links = self.host.list_links().await.map_err(err)?;
        let bridges: Vec<String> = nets
            .iter()
            .filter(|n| n.driver == "bridge")
            .filter_map(|n| self.bridge_name(n).ok())
            .collect();
        let bridge_idx: Vec<u32> = links
            .iter()
            .filter(|l| bridges.contains(&l.name))
            .map(|l| l.index)
            .collect();
        let mut removed = Vec::new();
        for l in &links {
            let stray_bridge = is_cnm_bridge_name(&l.name)
                && l.kind.as_deref() == Some("bridge")
                && !bridges.contains(&l.name);
            let stray_veth = is_cnm_veth_name(&l.name)
                && l.master.map(|m| bridge_idx.contains(&m)).unwrap_or(false)
                && !self
                    .ready
                    .as_ref()
                    .is_some_and(|r| r.holds_host_name(&l.name))
                && !eps
                    .iter()
                    .any(|e| e.host_ifname.as_deref() == Some(l.name.as_str()));
            if stray_bridge || stray_veth {
                match self.host.delete_link(l.index).await {
                    Ok(()) => removed.push(format!("link {}", l.name)),
                    Err(e) => {
                        tracing::warn!(link = %l.name, error = %e, "could not remove stray link")
                    }
                }
            }
        }
        self.unpin_strays(nets, eps, &links, &mut removed).await;
        Ok(removed)
    }
}

impl BridgeDriver {
    /// Pinned neighbour entries of addresses no endpoint holds any more (a daemon killed between
    /// removing a sandbox and unpinning). Only on bridges cnm owns and only inside the network's
    /// subnets: anything else is somebody else's.
    async fn unpin_strays(
        &self,
        nets: &[&NetworkRecord],
        eps: &[&EndpointRecord],
        links: &[cnm_linux::LinkInfo],
        removed: &mut Vec<String>,
    ) {
        for net in nets
            .iter()
            .filter(|n| n.driver == "bridge" && !n.bridge_adopted)
        {
            let Ok(name) = self.bridge_name(net) else {
                continue;
            };
            let Some(link) = links.iter().find(|l| l.name == name) else {
                continue;
            };
            let pinned = match self.host.pinned_neighbours(link.index).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(bridge = %name, error = %e, "could not list neighbour entries");
                    continue;
                }
            };
            for ip in pinned {
                let ours = net.subnets.iter().any(|s| s.subnet.contains(&ip));
                let held = eps
                    .iter()
                    .filter(|e| e.network_id == net.id)
                    .any(|e| endpoint_addresses(e).any(|a| a == ip));
                if ours && !held {
                    self.host.forget_neighbour(link.index, ip).await;
                    removed.push(format!("neighbour {ip} on {name}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_names() {
        assert!(is_cnm_bridge_name("br-0123456789ab"));
        assert!(!is_cnm_bridge_name("br-lan"));
        assert!(!is_cnm_bridge_name("docker0"));
        assert!(is_cnm_veth_name("veth0a1b2c3"));
        assert!(!is_cnm_veth_name("vethfoo"));
    }
}
