//! Bridge endpoints made ahead of time: a spare sandbox namespace that already holds its veth, the host
//! end enslaved to the network's bridge. Adding a port to a bridge is the part of an attach that grows
//! with the bridge (the kernel walks its port and adjacency lists on every `br_add_if`: 0.8 ms for the
//! tenth port, 2.2 ms for the thousandth here), so a sandbox whose first endpoint is on a network with a
//! ready endpoint skips both the namespace and the veth, and the next one is made in the background.
//!
//! A ready endpoint is an ordinary endpoint's interface made early, under the endpoint id and MAC it was
//! made with, already named as the sandbox's first interface (`eth0`), with IPv6 off when the network
//! has none, and up: bringing a bridge port's carrier up is itself O(ports) kernel work (the port state
//! selection walks every port), and it is done here too. Taking one binds its namespace at the sandbox
//! key and drops the host end's alias; the start then only adds addresses and the default route. Until
//! then the host end carries the alias [`READY_ALIAS`] (so `ip link` says what it is); the namespace
//! has no address, so nothing answers on it.
//!
//! Their namespaces live in a directory of their own (a private mount, like the sandbox directory); a
//! daemon start drops those of the previous run, a network's go when it is deleted, and a clean
//! shutdown drops them all. Only recently used networks keep any, at most [`READY_TOTAL`] in all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use cnm_core::driver::ReadyEndpoint;
use cnm_core::ids::{new_id, random_mac, staging_ifname, veth_name};
use cnm_linux::{netns, sysctl, LinuxError, Netlink, VethSpec};

/// Ready endpoints kept per network when turned on (`--ready-endpoints`): one is taken by each start,
/// one is being made.
pub const READY_PER_NETWORK: usize = 2;
/// On by default. They hold up to 2 of a bridge's 1023 ports, and give them up when a container needs one.
pub const READY_DEFAULT: usize = READY_PER_NETWORK;
/// Ready endpoints kept over all networks (each is a namespace and a veth, a few hundred KB of kernel
/// memory); the least recently used network gives up its own first.
pub const READY_TOTAL: usize = 8;
/// The alias on the host end of a ready endpoint.
pub const READY_ALIAS: &str = "cnm: ready for the next container";

/// Where a network's ready endpoints are plugged in, and how their sandbox side looks.
#[derive(Debug, Clone)]
pub struct BridgePort {
    pub index: u32,
    pub mtu: Option<u32>,
    /// The name of a sandbox's first interface on this network (`eth0`, or the network's prefix).
    pub ifname: String,
    /// The network has IPv6 (else the interface gets none at all).
    pub ipv6: bool,
}

struct Prepared {
    netns: PathBuf,
    endpoint_id: String,
    mac: [u8; 6],
}

#[derive(Default)]
struct NetworkReady {
    ready: Vec<Prepared>,
    filling: bool,
    last_used: u64,
    /// The bridge refused a port: make none until an endpoint leaves it, since the ports ready
    /// endpoints hold are then ports a container cannot have.
    full: bool,
}

#[derive(Default)]
struct Inner {
    /// By network id.
    nets: HashMap<String, NetworkReady>,
    clock: u64,
}

impl Inner {
    fn total(&self) -> usize {
        self.nets.values().map(|n| n.ready.len()).sum()
    }

    /// Take one ready endpoint from the least recently used other network, to make room.
    fn evict_for(&mut self, net_id: &str) -> Option<Prepared> {
        let (_, victim) = self
            .nets
            .iter_mut()
            .filter(|(id, n)| id.as_str() != net_id && !n.ready.is_empty())
            .min_by_key(|(_, n)| n.last_used)?;
        victim.ready.pop()
    }
}

pub struct ReadyEndpoints {
    dir: PathBuf,
    host: Netlink,
    per_network: usize,
    total: usize,
    seq: AtomicU64,
    /// Shutting down: no more are made.
    closed: AtomicBool,
    inner: Mutex<Inner>,
}

impl ReadyEndpoints {
    /// Ready endpoints under `dir`, made over `host` (the daemon's namespace); a previous run's are
    /// dropped. `per_network` 0 turns them off.
    pub fn new(
        dir: PathBuf,
        host: Netlink,
        per_network: usize,
        total: usize,
    ) -> Result<Arc<Self>, LinuxError> {
        netns::prepare_dir(&dir)?;
        for name in netns::list(&dir) {
            if let Err(e) = netns::remove(&dir.join(&name)) {
                tracing::warn!(ready = %name, error = %e, "could not drop an old ready endpoint");
            }
        }
        Ok(Arc::new(ReadyEndpoints {
            dir,
            host,
            per_network,
            total,
            seq: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            inner: Mutex::new(Inner::default()),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bind a ready endpoint's namespace of network `net_id` at `key`. None when none is ready.
    pub fn take_into(&self, net_id: &str, key: &Path) -> Option<ReadyEndpoint> {
        let p = {
            let mut inner = self.inner();
            inner.clock += 1;
            let now = inner.clock;
            let net = inner.nets.get_mut(net_id)?;
            net.last_used = now;
            net.ready.pop()?
        };
        match netns::adopt(&p.netns, key) {
            Ok(()) => Some(ReadyEndpoint {
                endpoint_id: p.endpoint_id,
                mac: p.mac,
            }),
            Err(e) => {
                tracing::warn!(ready = %p.netns.display(), error = %e, "ready endpoint unusable");
                drop_namespace(&p.netns);
                None
            }
        }
    }

    /// Whether `name` is the host end of a ready endpoint (not a stray).
    pub fn holds_host_name(&self, name: &str) -> bool {
        self.inner()
            .nets
            .values()
            .flat_map(|n| &n.ready)
            .any(|p| veth_name(&p.endpoint_id) == name)
    }

    /// Make ready endpoints for `net_id` until it has its share, in the background; one filler per
    /// network at a time.
    pub fn replenish(self: &Arc<Self>, net_id: &str, port: BridgePort) {
        if self.per_network == 0 || self.total == 0 || self.closed.load(Ordering::Acquire) {
            return;
        }
        {
            let mut inner = self.inner();
            inner.clock += 1;
            let now = inner.clock;
            let net = inner.nets.entry(net_id.to_string()).or_default();
            net.last_used = now;
            if net.filling || net.full || net.ready.len() >= self.per_network {
                return;
            }
            net.filling = true;
        }
        let me = self.clone();
        let net_id = net_id.to_string();
        tokio::spawn(async move { me.fill(&net_id, port).await });
    }

    async fn fill(&self, net_id: &str, port: BridgePort) {
        loop {
            let evicted = {
                let mut inner = self.inner();
                let full = inner.total() >= self.total;
                let Some(net) = inner.nets.get_mut(net_id) else {
                    return;
                };
                if net.ready.len() >= self.per_network {
                    net.filling = false;
                    return;
                }
                if full {
                    match inner.evict_for(net_id) {
                        Some(p) => Some(p),
                        None => {
                            if let Some(net) = inner.nets.get_mut(net_id) {
                                net.filling = false;
                            }
                            return;
                        }
                    }
                } else {
                    None
                }
            };
            if let Some(p) = evicted {
                drop_namespace(&p.netns);
            }
            let made = self.make(&port).await;
            let closed = self.closed.load(Ordering::Acquire);
            let mut inner = self.inner();
            match (made, inner.nets.get_mut(net_id)) {
                (Ok(p), Some(net)) if !closed && !net.full => net.ready.push(p),
                // Shutting down, or the network was deleted while this one was being made.
                (Ok(p), net) => {
                    if let Some(net) = net {
                        net.filling = false;
                    }
                    drop(inner);
                    drop_namespace(&p.netns);
                    return;
                }
                (Err(e), net) => {
                    if e.is_full() {
                        tracing::debug!(network = %net_id, "bridge full: no ready endpoints until one leaves");
                    } else {
                        tracing::warn!(network = %net_id, error = %e, "could not make a ready endpoint");
                    }
                    if let Some(net) = net {
                        net.filling = false;
                        net.full |= e.is_full();
                    }
                    return;
                }
            }
        }
    }

    async fn make(&self, port: &BridgePort) -> Result<Prepared, LinuxError> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("ready-{}-{n}", std::process::id()));
        netns::create(&path).await?;
        let endpoint_id = new_id();
        let mac = random_mac();
        let staged = staging_ifname(&endpoint_id);
        let res = async {
            let host_name = veth_name(&endpoint_id);
            self.host
                .create_veth(&VethSpec {
                    host_name: &host_name,
                    peer_name: &staged,
                    peer_netns: &path,
                    peer_mac: Some(mac),
                    mtu: port.mtu,
                    master: Some(port.index),
                    host_ipv6_off: true,
                    hairpin: true,
                    host_alias: Some(READY_ALIAS),
                })
                .await?;
            // The bridge knows the MAC's port before the container sends anything (see the bridge
            // driver's `pin_endpoint`); the start then has only the neighbour entry to add.
            let host = self
                .host
                .link_by_name(&host_name)
                .await?
                .ok_or_else(|| LinuxError::NotFound(host_name.clone()))?;
            self.host.pin_port_mac(host.index, mac).await?;
            bring_up(&path, &staged, port).await
        }
        .await;
        match res {
            Ok(()) => Ok(Prepared {
                netns: path,
                endpoint_id,
                mac,
            }),
            Err(e) => {
                // The namespace takes a half-made veth with it.
                drop_namespace(&path);
                Err(e)
            }
        }
    }

    /// The network's bridge refused a container's port: give back the ports its ready endpoints hold,
    /// at once (deleting the host ends; dropping the namespaces alone frees them only when the kernel
    /// gets round to it), and make no more until an endpoint leaves. Returns how many were freed.
    pub async fn free_ports(&self, net_id: &str) -> usize {
        let held = {
            let mut inner = self.inner();
            let net = inner.nets.entry(net_id.to_string()).or_default();
            net.full = true;
            std::mem::take(&mut net.ready)
        };
        let mut freed = 0;
        for p in &held {
            let host_name = veth_name(&p.endpoint_id);
            match self.host.link_by_name(&host_name).await {
                Ok(Some(l)) => match self.host.delete_link(l.index).await {
                    Ok(()) => freed += 1,
                    Err(e) => {
                        tracing::warn!(ready = %host_name, error = %e, "could not free a ready endpoint's port")
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(ready = %host_name, error = %e, "could not free a ready endpoint's port")
                }
            }
            drop_namespace(&p.netns);
        }
        if freed > 0 {
            tracing::info!(network = %net_id, freed, "bridge full: gave the ready endpoints' ports to containers");
        }
        freed
    }

    /// An endpoint left the network's bridge: ready endpoints may be made again.
    pub fn port_freed(&self, net_id: &str) {
        if let Some(net) = self.inner().nets.get_mut(net_id) {
            net.full = false;
        }
    }

    /// Drop a network's ready endpoints (the network is being deleted).
    pub fn drop_network(&self, net_id: &str) {
        let gone = self.inner().nets.remove(net_id);
        for p in gone.into_iter().flat_map(|n| n.ready) {
            drop_namespace(&p.netns);
        }
    }

    /// Drop every ready endpoint, after the ones being made (clean shutdown; a killed daemon's go at
    /// the next start).
    pub async fn drain(&self) {
        self.closed.store(true, Ordering::Release);
        for _ in 0..100 {
            if !self.inner().nets.values().any(|n| n.filling) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let nets = std::mem::take(&mut self.inner().nets);
        for p in nets.into_values().flat_map(|n| n.ready) {
            drop_namespace(&p.netns);
        }
    }
}

/// Inside the ready namespace: IPv6 off under the staging name (a name no other namespace has keeps the
/// sysctl lookup short), then the final name and up in one message. The netlink socket goes with this
/// function, so nothing but the bind mount holds the namespace.
async fn bring_up(netns: &Path, staged: &str, port: &BridgePort) -> Result<(), LinuxError> {
    let ipv6 = port.ipv6;
    let name = staged.to_string();
    let nl = Netlink::in_netns(netns, move || {
        if !ipv6 {
            sysctl::write_iface("ipv6", &name, "disable_ipv6", "1")?;
        }
        Ok(())
    })
    .await?;
    let link = nl
        .link_by_name(staged)
        .await?
        .ok_or_else(|| LinuxError::NotFound(staged.to_string()))?;
    nl.rename_up(link.index, &port.ifname).await
}

/// Unbinding the namespace deletes the veth in it, and with it the host end on the bridge.
fn drop_namespace(path: &Path) {
    if let Err(e) = netns::remove(path) {
        tracing::warn!(ready = %path.display(), error = %e, "could not drop a ready endpoint");
    }
}
