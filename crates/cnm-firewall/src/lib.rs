//! cnm's firewall on nftables: masquerade/SNAT, isolation between bridge networks, ICC, internal
//! networks, protection of unpublished container addresses, and published ports as map elements.
//!
//! cnm owns `table ip cnm` and `table ip6 cnm` and touches nothing else. It keeps the desired state
//! in memory (the controller tells it every change), sends one nft transaction per change, and
//! re-sends the whole state in one transaction at start-up and whenever someone else changes its
//! tables (`nft flush ruleset`, a flushed chain; `heal.rs`): there is never a moment without rules,
//! nor duplicates.

mod expect;
mod heal;
pub mod nft;
pub mod render;
pub mod reserve;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use cnm_core::driver::{DriverError, DriverResult};
use cnm_core::firewall::{Firewall, NetFirewall, PortError};
use cnm_core::ports::{PortMapping, PortRequest, Proto};
use cnm_linux::nftdump::Inventory;

use crate::render::{Family, TABLE};
use crate::reserve::Reservations;

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("cannot run nft: {0}")]
    Spawn(String),
    #[error("nft: {0}")]
    Nft(String),
    #[error("reading cnm's nftables tables: {0}")]
    Read(#[from] cnm_linux::LinuxError),
    #[error("the task reading cnm's nftables tables failed: {0}")]
    ReadTask(String),
}

impl From<FirewallError> for DriverError {
    fn from(e: FirewallError) -> Self {
        DriverError(e.to_string())
    }
}

#[derive(Default)]
struct Desired {
    nets: BTreeMap<String, NetFirewall>,
    ports: BTreeMap<String, Vec<PortMapping>>,
}

pub struct NftFirewall {
    desired: Mutex<Desired>,
    /// One transaction at a time, so the kernel sees them in the order the state changed.
    apply: tokio::sync::Mutex<()>,
    ports: Reservations,
    /// Set by the healer once it is subscribed to nf_tables notifications.
    pauser: OnceLock<heal::Pauser>,
}

/// A transaction script this long (≈ 900 map elements) is applied with the healer's subscription
/// paused (`heal::Pauser`): below it, the kernel's notifications cost less than the check after.
const QUIET_APPLY_BYTES: usize = 32 * 1024;

impl NftFirewall {
    pub fn new() -> Arc<Self> {
        Arc::new(NftFirewall {
            desired: Mutex::new(Desired::default()),
            apply: tokio::sync::Mutex::new(()),
            ports: Reservations::new(),
            pauser: OnceLock::new(),
        })
    }

    fn desired(&self) -> std::sync::MutexGuard<'_, Desired> {
        self.desired.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send the whole desired state in one transaction, deleting per-bridge chains nothing explains.
    async fn apply_full(&self) -> Result<(), FirewallError> {
        let _g = self.apply.lock().await;
        self.apply_full_locked().await
    }

    /// An incremental transaction the kernel refused (someone changed cnm's tables underneath it):
    /// the desired state already holds the change, so replacing everything converges.
    async fn converge(&self, e: FirewallError) -> Result<(), FirewallError> {
        tracing::warn!(error = %e, "incremental nftables change refused; replacing cnm's whole ruleset");
        self.apply_full_locked().await
    }

    /// One of cnm's own transactions (the caller holds the apply lock).
    async fn nft_apply(&self, script: &str) -> Result<(), FirewallError> {
        let pauser = self
            .pauser
            .get()
            .filter(|_| script.len() >= QUIET_APPLY_BYTES);
        let paused = pauser.filter(|p| p.pause());
        let res = nft::apply(script).await;
        if let Some(p) = paused {
            p.resume();
        }
        res
    }

    /// The desired networks (a copy: never held across an await).
    fn desired_nets(&self) -> Vec<NetFirewall> {
        self.desired().nets.values().cloned().collect()
    }

    /// [`Self::apply_full`] for a caller that holds the apply lock.
    async fn apply_full_locked(&self) -> Result<(), FirewallError> {
        let inv = match inventory().await {
            Ok(inv) => Some(inv),
            Err(e) => {
                // Only stale per-bridge chains go unnoticed; the next replacement deletes them.
                tracing::warn!(error = %e, "cannot list cnm's chains; stale ones stay for now");
                None
            }
        };
        self.apply_full_locked_with(inv.as_ref()).await
    }

    /// The full replacement, given what the kernel holds now (to delete per-bridge chains that no
    /// network explains; None: delete none).
    async fn apply_full_locked_with(&self, inv: Option<&Inventory>) -> Result<(), FirewallError> {
        let mut stale = Vec::new();
        let (nets, ports) = {
            let d = self.desired();
            (
                d.nets.values().cloned().collect::<Vec<_>>(),
                d.ports.values().cloned().collect::<Vec<_>>(),
            )
        };
        for f in Family::ALL {
            let chains = inv.into_iter().flat_map(|i| i.chains_of(f.nfproto()));
            for (c, _) in chains {
                let is_net_chain = ["fwd-in__", "fwd-out__", "nat-out__", "hairpin__"]
                    .iter()
                    .any(|p| c.starts_with(p));
                let wanted = nets
                    .iter()
                    .any(|n| render::net_chains(&n.bridge).iter().any(|w| w == c));
                if is_net_chain && !wanted {
                    stale.push((f, c.to_string()));
                }
            }
        }
        let refs: Vec<&[PortMapping]> = ports.iter().map(Vec::as_slice).collect();
        self.nft_apply(&render::full(&nets, &refs, &stale)).await?;
        for n in &nets {
            host_settings(n);
        }
        Ok(())
    }

    /// Ports held right now (benchmarks, tests).
    pub fn held_ports(&self) -> u64 {
        self.ports.held()
    }
}

/// What the kernel holds of cnm's tables, read in-process on a blocking thread (a few netlink dumps;
/// the blocking pool's threads are in the daemon's namespace).
async fn inventory() -> Result<Inventory, FirewallError> {
    tokio::task::spawn_blocking(|| {
        cnm_linux::nftdump::inventory(TABLE, &Family::ALL.map(Family::nfproto))
    })
    .await
    .map_err(|e| FirewallError::ReadTask(e.to_string()))?
    .map_err(FirewallError::from)
}

/// Host settings a bridge network needs: IPv4 forwarding (IPv6 too with an IPv6 subnet), and
/// `route_localnet` on the bridge so the host's 127.0.0.1 reaches published ports.
fn host_settings(n: &NetFirewall) {
    ensure_on("/proc/sys/net/ipv4/ip_forward", "IPv4 forwarding");
    if n.subnets.iter().any(|s| s.addr().is_ipv6()) {
        ensure_on("/proc/sys/net/ipv6/conf/all/forwarding", "IPv6 forwarding");
    }
    if !n.icc {
        // ICC off is enforced on the IP forward hook, which bridged frames reach only through br_netfilter.
        for (path, what) in [
            ("/proc/sys/net/bridge/bridge-nf-call-iptables", "IPv4"),
            ("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "IPv6"),
        ] {
            ensure_on(
                path,
                &format!("bridge netfilter ({what}) for inter-container isolation"),
            );
        }
    }
    if let Err(e) = cnm_linux::sysctl::write_iface("ipv4", &n.bridge, "route_localnet", "1") {
        tracing::warn!(bridge = %n.bridge, error = %e, "cannot enable route_localnet");
    }
}

/// Turn a host sysctl on (once; logged, since it changes the host).
fn ensure_on(path: &str, what: &str) {
    if std::fs::read_to_string(path)
        .map(|v| v.trim() == "1")
        .unwrap_or(false)
    {
        return;
    }
    match cnm_linux::sysctl::write_path(path, "1") {
        Ok(()) => tracing::info!("turned on {what} in the host namespace ({path})"),
        Err(e) => tracing::warn!(error = %e, "cannot turn on {what}"),
    }
}

/// Host ports of UDP mappings that changed between `old` and `new`, either way: entries of a mapping that
/// went away would keep following it, and entries made before a mapping existed (a client sending to
/// the port while no container held it) would keep bypassing it.
fn changed_udp(old: &[PortMapping], new: &[PortMapping]) -> Vec<u16> {
    let gone = old.iter().filter(|m| !new.contains(m));
    let added = new.iter().filter(|m| !old.contains(m));
    let mut ports: Vec<u16> = gone
        .chain(added)
        .filter(|m| m.proto == Proto::Udp)
        .flat_map(|m| m.each().map(|(h, _)| h))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[async_trait]
impl Firewall for NftFirewall {
    async fn restore(
        &self,
        nets: &[NetFirewall],
        ports: &[(String, Vec<PortMapping>)],
    ) -> DriverResult<()> {
        {
            let mut d = self.desired();
            d.nets = nets.iter().map(|n| (n.id.clone(), n.clone())).collect();
            d.ports = ports.iter().cloned().collect();
        }
        Ok(self.apply_full().await?)
    }

    async fn add_network(&self, net: &NetFirewall) -> DriverResult<()> {
        let _g = self.apply.lock().await;
        self.desired().nets.insert(net.id.clone(), net.clone());
        let applied = match self.nft_apply(&render::add_network(net)).await {
            Ok(()) => Ok(()),
            Err(e) => self.converge(e).await,
        };
        if let Err(e) = applied {
            self.desired().nets.remove(&net.id);
            return Err(e.into());
        }
        host_settings(net);
        Ok(())
    }

    async fn remove_network(&self, net: &NetFirewall) -> DriverResult<()> {
        let _g = self.apply.lock().await;
        self.desired().nets.remove(&net.id);
        if let Err(e) = self.nft_apply(&render::remove_network(net)).await {
            self.converge(e).await?;
        }
        Ok(())
    }

    fn reserve(
        &self,
        container: &str,
        reqs: &[PortRequest],
        previous: &[u16],
    ) -> Result<Vec<u16>, PortError> {
        self.ports.reserve(container, reqs, previous)
    }

    fn release(&self, container: &str) {
        self.ports.release(container);
    }

    async fn publish(&self, container: &str, maps: &[PortMapping]) -> DriverResult<()> {
        let _g = self.apply.lock().await;
        let set = |d: &mut Desired, m: &[PortMapping]| {
            if m.is_empty() {
                d.ports.remove(container);
            } else {
                d.ports.insert(container.to_string(), m.to_vec());
            }
        };
        let old = self
            .desired()
            .ports
            .get(container)
            .cloned()
            .unwrap_or_default();
        set(&mut self.desired(), maps);
        if let Err(e) = self.nft_apply(&render::replace_ports(&old, maps)).await {
            if let Err(e) = self.converge(e).await {
                set(&mut self.desired(), &old);
                return Err(e.into());
            }
        }
        flush_conntrack(&changed_udp(&old, maps)).await;
        Ok(())
    }

    async fn unpublish(&self, container: &str) -> DriverResult<()> {
        self.publish(container, &[]).await
    }
}

/// Forget conntrack entries of UDP host ports whose mapping changed or went away: a UDP "flow" never
/// ends by itself, so without this the old mapping keeps its traffic (moby#53384). One ctnetlink dump
/// and the deletes it calls for, in the daemon (a 1000-port UDP range is not 1000 processes).
async fn flush_conntrack(ports: &[u16]) {
    if ports.is_empty() {
        return;
    }
    let set: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
    let n = set.len();
    // Blocking netlink calls, off the runtime's workers; the thread is in the daemon's namespace.
    let res =
        tokio::task::spawn_blocking(move || cnm_linux::conntrack::delete_udp_by_dst_port(&set))
            .await;
    match res {
        Ok(Ok(deleted)) => {
            tracing::debug!(
                ports = n,
                deleted,
                "flushed conntrack entries of remapped UDP ports"
            )
        }
        Ok(Err(e)) => tracing::warn!(ports = n, error = %e, "cannot flush conntrack entries"),
        Err(e) => tracing::warn!(ports = n, error = %e, "conntrack flush task failed"),
    }
}
