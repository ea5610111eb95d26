//! Start-up: load the store, replay IPAM, make sure the predefined networks exist, and reconcile the
//! kernel to the stored intent (recreate what is missing, remove what cnm owns but the store does not
//! know).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use cnm_ipam::{AddressSpace, SubnetPool};
use cnm_store::{Batch, Kind, Store};
use ipnet::IpNet;
use tokio::sync::{broadcast, Mutex};

use super::{Controller, ControllerConfig, NetState, State};
use crate::dns::{NoDns, SandboxDns};
use crate::driver::{NetworkDriver, SandboxOs};
use crate::error::{CoreError, Result};
use crate::firewall::{Firewall, NoFirewall};
use crate::ids::new_id;
use crate::model::{
    now_ns, ContainerRecord, EndpointRecord, NetworkMode, NetworkRecord, RunState, SubnetRecord,
};
use crate::options;

/// What the start-up reconciliation did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    pub networks: usize,
    pub running: usize,
    pub exited_while_down: Vec<String>,
    pub removed: Vec<String>,
}

fn default_bridge_options() -> BTreeMap<String, String> {
    [
        (options::OPT_DEFAULT_BRIDGE, "true"),
        (options::OPT_ICC, "true"),
        (options::OPT_MASQUERADE, "true"),
        (options::OPT_HOST_BINDING, "0.0.0.0"),
        (options::OPT_BRIDGE_NAME, "docker0"),
        (options::OPT_MTU, "1500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn predefined(name: &str, driver: &str) -> NetworkRecord {
    NetworkRecord {
        id: new_id(),
        name: name.into(),
        driver: driver.into(),
        created_ns: now_ns(),
        scope: "local".into(),
        enable_ipv4: driver == "bridge",
        enable_ipv6: false,
        internal: false,
        attachable: false,
        ingress: false,
        config_only: false,
        config_from: String::new(),
        ipam_driver: "default".into(),
        ipam_options: None,
        subnets: Vec::new(),
        options: BTreeMap::new(),
        labels: BTreeMap::new(),
        predefined: true,
        bridge_name: None,
        bridge_adopted: false,
    }
}

impl Controller {
    /// Open the controller: load state, ensure `bridge`, `host` and `none`, reconcile the kernel.
    /// `alive(container)` tells whether a container recorded as running still has its process.
    pub async fn open<F>(
        cfg: ControllerConfig,
        store: Store,
        drivers: Vec<Arc<dyn NetworkDriver>>,
        os: Arc<dyn SandboxOs>,
        alive: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&ContainerRecord) -> bool,
    {
        Self::open_with_dns(cfg, store, drivers, os, Arc::new(NoDns), alive).await
    }

    /// `open`, with the embedded resolvers: those of running sandboxes are started again.
    pub async fn open_with_dns<F>(
        cfg: ControllerConfig,
        store: Store,
        drivers: Vec<Arc<dyn NetworkDriver>>,
        os: Arc<dyn SandboxOs>,
        dns: Arc<dyn SandboxDns>,
        alive: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&ContainerRecord) -> bool,
    {
        Self::open_full(cfg, store, drivers, os, dns, Arc::new(NoFirewall), alive).await
    }

    /// `open_with_dns`, with the firewall: its whole state is programmed once everything is restored.
    pub async fn open_full<F>(
        cfg: ControllerConfig,
        store: Store,
        drivers: Vec<Arc<dyn NetworkDriver>>,
        os: Arc<dyn SandboxOs>,
        dns: Arc<dyn SandboxDns>,
        firewall: Arc<dyn Firewall>,
        alive: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&ContainerRecord) -> bool,
    {
        let space = AddressSpace::new(cfg.default_v4_pools.clone(), cfg.default_v6_pools.clone())?;
        let (events, _) = broadcast::channel(1024);
        let ctl = Controller {
            drivers: drivers.into_iter().map(|d| (d.name(), d)).collect(),
            cfg,
            store,
            os,
            dns,
            firewall,
            state: Mutex::new(State {
                networks: BTreeMap::new(),
                endpoints: BTreeMap::new(),
                containers: BTreeMap::new(),
                space,
            }),
            events,
        };
        let report = ctl.restore(alive).await?;
        Ok((ctl, report))
    }

    async fn restore<F>(&self, alive: F) -> Result<RestoreReport>
    where
        F: Fn(&ContainerRecord) -> bool,
    {
        let mut report = RestoreReport::default();
        let mut st = self.state.lock().await;

        // Half-created networks of a killed daemon.
        let pending: Vec<(String, NetworkRecord)> = self
            .store
            .list(Kind::Meta)?
            .into_iter()
            .filter(|(k, _): &(String, serde_json::Value)| k.starts_with("pending-network/"))
            .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|r| (k, r)))
            .collect();
        let stored: Vec<(String, NetworkRecord)> = self.store.list(Kind::Network)?;
        let stored_ids: BTreeSet<&str> = stored.iter().map(|(k, _)| k.as_str()).collect();
        let mut batch = Batch::new();
        for (key, rec) in &pending {
            if !stored_ids.contains(rec.id.as_str()) {
                if let Ok(d) = self.driver(&rec.driver) {
                    if let Err(e) = d.delete_network(rec).await {
                        tracing::debug!(network = %rec.id, error = %e, "pending network had nothing to remove");
                    }
                }
                report
                    .removed
                    .push(format!("half-created network {}", rec.name));
            }
            batch.delete(Kind::Meta, key);
        }
        self.store.commit(batch)?;

        // Networks and their subnets.
        for (_, rec) in stored {
            let mut pools = Vec::new();
            for s in &rec.subnets {
                st.space.reserve(s.subnet)?;
                let mut pool = SubnetPool::new(s.subnet, s.ip_range)?;
                if let Some(gw) = s.gateway {
                    let _ = pool.reserve(gw);
                }
                for ip in s.aux_addresses.values() {
                    let _ = pool.reserve(*ip);
                }
                pools.push(pool);
            }
            st.networks.insert(rec.id.clone(), NetState { rec, pools });
        }
        self.ensure_predefined(&mut st).await?;

        // Containers and endpoints: a running container whose process is gone has exited while we were away.
        let containers: Vec<(String, ContainerRecord)> = self.store.list(Kind::Container)?;
        let endpoints: Vec<(String, EndpointRecord)> = self.store.list(Kind::Endpoint)?;
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        for (_, c) in &containers {
            if let Some(sb) = &c.sandbox {
                referenced.extend(sb.endpoints.iter().cloned());
            }
        }
        let mut batch = Batch::new();
        for (id, ep) in endpoints {
            if referenced.contains(&id) && st.networks.contains_key(&ep.network_id) {
                if let Some(net) = st.networks.get_mut(&ep.network_id) {
                    for addr in [ep.ipv4, ep.ipv6].into_iter().flatten() {
                        for (i, s) in net.rec.subnets.iter().enumerate() {
                            if s.subnet.contains(&addr.addr()) {
                                let _ = net.pools[i].reserve(addr.addr());
                            }
                        }
                    }
                }
                st.endpoints.insert(id, ep);
            } else {
                tracing::info!(endpoint = %id, "removing stale endpoint");
                batch.delete(Kind::Endpoint, &id);
            }
        }
        self.store.commit(batch)?;

        for (id, mut c) in containers {
            let has_sandbox = c.sandbox.is_some();
            let running = c.process.state == RunState::Running && alive(&c);
            if has_sandbox && !running {
                // The process is gone (or never started): release its networking.
                let mut sb = c.sandbox.take().unwrap_or_else(unreachable_sandbox);
                self.teardown_endpoints(&mut st, &mut sb, true).await;
                if c.config.mode != NetworkMode::Host {
                    let _ = self.os.destroy(Path::new(&sb.key));
                }
                if c.process.state == RunState::Running {
                    c.process.state = RunState::Exited;
                    c.process.finished_ns = now_ns();
                    report.exited_while_down.push(id.clone());
                }
                let mut batch = Batch::new();
                for e in &sb.endpoints {
                    batch.delete(Kind::Endpoint, e);
                }
                if c.config.auto_remove && c.process.state == RunState::Exited {
                    batch.delete(Kind::Container, &id);
                    self.store.commit(batch)?;
                    continue;
                }
                batch.put(Kind::Container, &id, &c)?;
                self.store.commit(batch)?;
            } else if running {
                report.running += 1;
            }
            st.containers.insert(id, c);
        }

        // Kernel: networks first, then running sandboxes.
        for net in st.networks.values() {
            if let Ok(d) = self.driver(&net.rec.driver) {
                if let Err(e) = d.restore_network(&net.rec).await {
                    tracing::error!(network = %net.rec.id, error = %e, "could not restore network");
                }
            }
        }
        report.networks = st.networks.len();
        let running: Vec<ContainerRecord> = st
            .containers
            .values()
            .filter(|c| c.sandbox.is_some())
            .cloned()
            .collect();
        for c in running {
            if let Err(e) = self.restore_sandbox(&mut st, &c).await {
                tracing::error!(container = %c.id, error = %e, "could not restore sandbox");
            }
        }
        // Names first, so a resolver answers from its first packet on; then the resolvers, whose
        // sockets died with the previous process.
        self.publish_all_dns(&st);
        self.restart_resolvers(&st).await;
        // The firewall last, in one transaction: the rules of the previous process stay in force
        // until this replaces them.
        self.restore_firewall(&st).await;

        // Strays: namespace files and devices nobody owns.
        let keys: BTreeSet<String> = st
            .containers
            .values()
            .filter_map(|c| c.sandbox.as_ref())
            .filter_map(|sb| {
                Path::new(&sb.key)
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
            })
            .collect();
        for name in self.os.list() {
            if !keys.contains(&name) {
                let path = self.cfg.netns_dir().join(&name);
                if self.os.destroy(&path).is_ok() {
                    report.removed.push(format!("namespace {name}"));
                }
            }
        }
        let nets: Vec<&NetworkRecord> = st.networks.values().map(|n| &n.rec).collect();
        let eps: Vec<&EndpointRecord> = st.endpoints.values().collect();
        for d in self.drivers.values() {
            match d.remove_strays(&nets, &eps).await {
                Ok(r) => report.removed.extend(r),
                Err(e) => tracing::warn!(driver = d.name(), error = %e, "stray removal failed"),
            }
        }
        Ok(report)
    }

    async fn restore_sandbox(&self, st: &mut State, c: &ContainerRecord) -> Result<()> {
        let Some(mut sb) = c.sandbox.clone() else {
            return Ok(());
        };
        let key = Path::new(&sb.key).to_path_buf();
        if c.config.mode != NetworkMode::Host && !self.os.exists(&key) {
            return Err(CoreError::Internal(format!(
                "namespace {} of a running container is gone",
                sb.key
            )));
        }
        // Joins are idempotent: interfaces that survived are kept, missing ones are made again; the
        // container files live in the data-root and need no rewrite.
        let eps: Vec<EndpointRecord> = sb
            .endpoints
            .iter()
            .filter_map(|e| st.endpoints.get(e))
            .filter(|e| !e.ifname.is_empty())
            .cloned()
            .collect();
        for ep in &eps {
            let Some(net) = st.networks.get(&ep.network_id).map(|n| n.rec.clone()) else {
                continue;
            };
            self.driver(&net.driver)?
                .join(&net, ep, &key)
                .await
                .map_err(|e| CoreError::Driver(e.0))?;
        }
        let joined: Vec<&EndpointRecord> = eps.iter().collect();
        self.apply_sandbox(st, &mut sb, &joined, None, true).await
    }

    /// `none` and `host` keep their ids for the life of the data-root; `bridge` follows `--bip`.
    async fn ensure_predefined(&self, st: &mut State) -> Result<()> {
        let mut batch = Batch::new();
        for (name, driver) in [("none", "null"), ("host", "host")] {
            if !st
                .networks
                .values()
                .any(|n| n.rec.predefined && n.rec.name == name)
            {
                let rec = predefined(name, driver);
                batch.put(Kind::Network, &rec.id, &rec)?;
                st.networks.insert(
                    rec.id.clone(),
                    NetState {
                        rec,
                        pools: Vec::new(),
                    },
                );
            }
        }
        let bip: IpNet = self.cfg.bip.unwrap_or_else(|| {
            "172.17.0.1/16"
                .parse()
                .unwrap_or_else(|_| unreachable_net())
        });
        let subnet = bip.trunc();
        let existing = st
            .networks
            .values()
            .find(|n| n.rec.predefined && n.rec.name == "bridge")
            .map(|n| n.rec.clone());
        let keep = existing.as_ref().map(|r| {
            r.v4()
                .any(|s| s.subnet == subnet && s.gateway == Some(bip.addr()))
        });
        match (existing, keep) {
            (Some(_), Some(true)) => {}
            (existing, _) => {
                if let Some(old) = existing {
                    if st.endpoints.values().any(|e| e.network_id == old.id) {
                        tracing::warn!(
                            "--bip changed but containers use the default bridge; keeping {}",
                            old.subnets[0].subnet
                        );
                        self.store.commit(batch)?;
                        return Ok(());
                    }
                    for s in &old.subnets {
                        st.space.release(s.subnet);
                    }
                    st.networks.remove(&old.id);
                    batch.delete(Kind::Network, &old.id);
                }
                let mut rec = predefined("bridge", "bridge");
                rec.options = default_bridge_options();
                if let Some(mtu) = self.cfg.mtu {
                    rec.options.insert(options::OPT_MTU.into(), mtu.to_string());
                }
                st.space.reserve(subnet)?;
                let mut pool = SubnetPool::new(subnet, None)?;
                pool.reserve(bip.addr())?;
                rec.subnets.push(SubnetRecord {
                    subnet,
                    ip_range: None,
                    gateway: Some(bip.addr()),
                    aux_addresses: BTreeMap::new(),
                    user_subnet: false,
                    show_gateway: true,
                });
                let driver = self.driver("bridge")?;
                driver
                    .create_network(&mut rec)
                    .await
                    .map_err(|e| CoreError::Driver(e.0))?;
                batch.put(Kind::Network, &rec.id, &rec)?;
                st.networks.insert(
                    rec.id.clone(),
                    NetState {
                        rec,
                        pools: vec![pool],
                    },
                );
            }
        }
        self.store.commit(batch)?;
        Ok(())
    }
}

fn unreachable_net() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::default())
}

fn unreachable_sandbox() -> crate::model::SandboxRecord {
    crate::model::SandboxRecord {
        id: String::new(),
        key: String::new(),
        endpoints: Vec::new(),
        next_iface: 0,
        gw4_endpoint: None,
        gw6_endpoint: None,
        ports: Default::default(),
    }
}
