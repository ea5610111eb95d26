//! Network create / delete / prune, in libnetwork's order: validate all → IPAM → driver → store → event.

use std::collections::BTreeMap;

use cnm_ipam::{
    validate_config, AddressSpace, Family, IpamConfigInput, SubnetPool, ValidatedConfig,
};
use cnm_store::{Batch, Kind};
use ipnet::IpNet;

use super::{Controller, NetState};
use crate::error::{CoreError, Result};
use crate::firewall::NetFirewall;
use crate::ids::new_id;
use crate::lookup::Lookup;
use crate::model::{now_ns, EndpointRecord, NetworkRecord, SubnetRecord};

/// A validated-at-the-edge `POST /networks/create`.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: String,
    pub enable_ipv4: Option<bool>,
    pub enable_ipv6: Option<bool>,
    pub ipam_driver: String,
    pub ipam_options: Option<BTreeMap<String, String>>,
    pub ipam_config: Vec<IpamConfigInput>,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub config_from: String,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub check_duplicate: bool,
}

/// Take a network's subnets from the address space: the user's, or the next predefined pool of each
/// enabled family; each with its gateway (given, or the first free address) and aux addresses reserved.
/// On failure everything taken so far is given back.
fn allocate_subnets(
    space: &mut AddressSpace,
    configs: &[ValidatedConfig],
    enable_ipv4: bool,
    enable_ipv6: bool,
) -> Result<Vec<(SubnetRecord, SubnetPool)>> {
    let mut reserved: Vec<IpNet> = Vec::new();
    let mut out = Vec::new();
    let res = (|| -> Result<()> {
        for (fam, enabled) in [(Family::V4, enable_ipv4), (Family::V6, enable_ipv6)] {
            let user: Vec<&ValidatedConfig> = configs
                .iter()
                .filter(|c| c.subnet.map(|s| Family::of_net(&s)) == Some(fam))
                .collect();
            if !enabled {
                if !user.is_empty() {
                    return Err(CoreError::BadRequest(format!(
                        "{fam} subnet given but {fam} is not enabled on this network"
                    )));
                }
                continue;
            }
            let auto = ValidatedConfig::default();
            let wanted = if user.is_empty() { vec![&auto] } else { user };
            for c in wanted {
                let subnet = match c.subnet {
                    Some(s) => {
                        space.reserve(s)?;
                        s
                    }
                    None => space.allocate_predefined(fam, &[])?,
                };
                reserved.push(subnet);
                let mut pool = SubnetPool::new(subnet, c.ip_range)?;
                let gateway = match c.gateway {
                    Some(g) => {
                        pool.reserve(g)?;
                        g
                    }
                    None => pool.allocate()?,
                };
                for ip in c.aux_addresses.values() {
                    pool.reserve(*ip)?;
                }
                let record = SubnetRecord {
                    subnet,
                    ip_range: c.ip_range,
                    gateway: Some(gateway),
                    aux_addresses: c.aux_addresses.clone(),
                    user_subnet: c.subnet.is_some(),
                    // Docker echoes a gateway it chose for a default pool, not one it chose in a user subnet.
                    show_gateway: c.gateway.is_some() || c.subnet.is_none(),
                };
                out.push((record, pool));
            }
        }
        Ok(())
    })();
    match res {
        Ok(()) => Ok(out),
        Err(e) => {
            for s in reserved {
                space.release(s);
            }
            Err(e)
        }
    }
}

const PREDEFINED_NAMES: [&str; 3] = ["bridge", "host", "default"];

fn opt_bool(opts: &BTreeMap<String, String>, key: &str) -> Result<Option<bool>> {
    match opts.get(key).map(String::as_str) {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(v) => Err(CoreError::BadRequest(format!(
            "driver-opt \"{key}\" is not a valid bool: {v:?}"
        ))),
    }
}

impl Controller {
    /// Create a network; returns (id, warning).
    pub async fn create_network(&self, req: NetworkCreate) -> Result<(String, String)> {
        let mut st = self.state.lock().await;
        if req.name.is_empty() {
            return Err(CoreError::Internal("invalid name: ".into()));
        }
        if PREDEFINED_NAMES.contains(&req.name.as_str()) {
            return Err(CoreError::Forbidden(format!(
                "operation is not permitted on predefined {} network ",
                req.name
            )));
        }
        let driver_name = if req.driver.is_empty() {
            "bridge".to_string()
        } else {
            req.driver.clone()
        };
        if driver_name == "overlay" {
            return Err(CoreError::Internal("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.".into()));
        }
        let driver = self.driver(&driver_name)?;
        if driver.singleton() && st.networks.values().any(|n| n.rec.driver == driver_name) {
            return Err(CoreError::Forbidden(format!(
                "only one instance of \"{}\" network is allowed",
                driver_name
            )));
        }
        if !req.ipam_driver.is_empty() && req.ipam_driver != "default" {
            return Err(CoreError::NotFound(format!(
                "plugin \"{}\" not found",
                req.ipam_driver
            )));
        }
        let mut warning = String::new();
        if let Some(existing) = st.networks.values().find(|n| n.rec.name == req.name) {
            if req.check_duplicate {
                return Err(CoreError::Conflict(format!(
                    "network with name {} already exists",
                    req.name
                )));
            }
            warning = format!(
                "Network with name {} (id : {}) already exists",
                req.name, existing.rec.id
            );
        }
        let enable_ipv4 = req
            .enable_ipv4
            .or(opt_bool(&req.options, crate::options::OPT_ENABLE_IPV4)?)
            .unwrap_or(true);
        let enable_ipv6 = req
            .enable_ipv6
            .or(opt_bool(&req.options, crate::options::OPT_ENABLE_IPV6)?)
            .unwrap_or(false);
        let mut configs = Vec::new();
        for c in &req.ipam_config {
            configs.push(validate_config(c)?);
        }
        let has_subnets = driver_name != "host" && driver_name != "null";
        if !has_subnets && !configs.is_empty() {
            return Err(CoreError::BadRequest(format!(
                "{driver_name} network does not support IPAM configuration"
            )));
        }
        if driver_name == "bridge" {
            for fam in [Family::V4, Family::V6] {
                let n = configs
                    .iter()
                    .filter(|c| c.subnet.map(|s| Family::of_net(&s)) == Some(fam))
                    .count();
                if n > 1 {
                    return Err(CoreError::Forbidden(
                        "bridge driver doesn't support multiple subnets".into(),
                    ));
                }
            }
        }
        if !enable_ipv4 && !enable_ipv6 && has_subnets {
            return Err(CoreError::BadRequest("IPv4 or IPv6 must be enabled".into()));
        }

        let mut rec = NetworkRecord {
            id: new_id(),
            name: req.name.clone(),
            driver: driver_name.clone(),
            created_ns: now_ns(),
            scope: "local".into(),
            enable_ipv4: enable_ipv4 && has_subnets,
            enable_ipv6: enable_ipv6 && has_subnets,
            internal: req.internal,
            attachable: req.attachable,
            ingress: req.ingress,
            config_only: req.config_only,
            config_from: req.config_from.clone(),
            ipam_driver: "default".into(),
            ipam_options: req.ipam_options.clone(),
            subnets: Vec::new(),
            options: req.options.clone(),
            labels: req.labels.clone(),
            predefined: false,
            bridge_name: None,
            bridge_adopted: false,
        };
        {
            let others: Vec<&NetworkRecord> = st.networks.values().map(|n| &n.rec).collect();
            driver
                .validate(&rec, &others)
                .map_err(|e| CoreError::Forbidden(e.0))?;
        }

        let (subnets, pools): (Vec<SubnetRecord>, Vec<SubnetPool>) = if has_subnets {
            allocate_subnets(&mut st.space, &configs, enable_ipv4, enable_ipv6)?
                .into_iter()
                .unzip()
        } else {
            (Vec::new(), Vec::new())
        };
        rec.subnets = subnets;
        let release = |st: &mut super::State, rec: &NetworkRecord| {
            for s in &rec.subnets {
                st.space.release(s.subnet);
            }
        };

        // A pending marker lets a restart after kill -9 remove a half-created network's kernel objects.
        if let Err(e) = self
            .store
            .put(Kind::Meta, &format!("pending-network/{}", rec.id), &rec)
        {
            release(&mut st, &rec);
            return Err(e.into());
        }
        let mut created = driver.create_network(&mut rec).await;
        if created.is_ok() {
            if let Some(fw) = NetFirewall::of(&rec) {
                if let Err(e) = self.firewall.add_network(&fw).await {
                    if let Err(de) = driver.delete_network(&rec).await {
                        tracing::warn!(network = %rec.id, error = %de, "rollback of network create failed");
                    }
                    created = Err(e);
                }
            }
        }
        if let Err(e) = created {
            release(&mut st, &rec);
            let mut b = Batch::new();
            b.delete(Kind::Meta, &format!("pending-network/{}", rec.id));
            let _ = self.store.commit(b);
            return Err(CoreError::Driver(e.0));
        }
        let mut batch = Batch::new();
        batch.put(Kind::Network, &rec.id, &rec)?;
        batch.delete(Kind::Meta, &format!("pending-network/{}", rec.id));
        if let Err(e) = self.store.commit(batch) {
            self.forget_network_firewall(&rec).await;
            if let Err(de) = driver.delete_network(&rec).await {
                tracing::warn!(network = %rec.id, error = %de, "rollback of network create failed");
            }
            release(&mut st, &rec);
            return Err(e.into());
        }
        let id = rec.id.clone();
        tracing::info!(network = %id, name = %rec.name, driver = %rec.driver, "network created");
        self.emit(
            "network",
            "create",
            &id,
            &[("name", &rec.name), ("type", &rec.driver)],
        );
        st.networks.insert(id.clone(), NetState { rec, pools });
        Ok((id, warning))
    }

    /// Take a network's rules off the firewall (a failure leaves stray chains the next full
    /// replacement deletes, so it is only logged).
    async fn forget_network_firewall(&self, rec: &NetworkRecord) {
        if let Some(fw) = NetFirewall::of(rec) {
            if let Err(e) = self.firewall.remove_network(&fw).await {
                tracing::warn!(network = %rec.id, error = %e, "removing the network's firewall rules failed");
            }
        }
    }

    pub async fn delete_network(&self, reference: &str) -> Result<()> {
        let mut st = self.state.lock().await;
        let id = st.resolve_network(reference)?;
        self.delete_network_locked(&mut st, &id).await
    }

    async fn delete_network_locked(&self, st: &mut super::State, id: &str) -> Result<()> {
        let Some(net) = st.networks.get(id) else {
            return Err(CoreError::network_not_found(id));
        };
        if net.rec.predefined {
            return Err(CoreError::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                net.rec.name
            )));
        }
        if !st.endpoints_of_network(id).is_empty() {
            return Err(CoreError::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                net.rec.name, net.rec.id
            )));
        }
        let rec = net.rec.clone();
        let driver = self.driver(&rec.driver)?;
        // Store first: if the kernel step fails the network is gone for users and a restart removes the
        // leftover device as a stray.
        let mut b = Batch::new();
        b.delete(Kind::Network, id);
        self.store.commit(b)?;
        self.forget_network_firewall(&rec).await;
        if let Err(e) = driver.delete_network(&rec).await {
            tracing::warn!(network = %id, error = %e, "kernel cleanup of removed network failed");
        }
        for s in &rec.subnets {
            st.space.release(s.subnet);
        }
        st.networks.remove(id);
        tracing::info!(network = %id, name = %rec.name, "network removed");
        self.emit(
            "network",
            "destroy",
            id,
            &[("name", &rec.name), ("type", &rec.driver)],
        );
        Ok(())
    }

    /// Remove every user network without endpoints that `selected` accepts; returns their names.
    pub async fn prune_networks<F>(&self, selected: F) -> Result<Vec<String>>
    where
        F: Fn(&NetworkRecord) -> bool,
    {
        let mut st = self.state.lock().await;
        let candidates: Vec<(String, String)> = st
            .networks
            .values()
            .filter(|n| !n.rec.predefined && selected(&n.rec))
            .filter(|n| st.endpoints.values().all(|e| e.network_id != n.rec.id))
            .map(|n| (n.rec.name.clone(), n.rec.id.clone()))
            .collect();
        let mut removed = Vec::new();
        for (name, id) in candidates {
            match self.delete_network_locked(&mut st, &id).await {
                Ok(()) => removed.push(name),
                Err(e) => {
                    tracing::warn!(network = %id, error = %e, "prune: could not remove network")
                }
            }
        }
        Ok(removed)
    }

    /// All networks (records only).
    pub async fn networks(&self) -> Vec<NetworkRecord> {
        let st = self.state.lock().await;
        st.networks.values().map(|n| n.rec.clone()).collect()
    }

    /// One network with its endpoints and their container names.
    pub async fn network(&self, reference: &str) -> Result<(NetworkRecord, Vec<EndpointRecord>)> {
        let st = self.state.lock().await;
        // Docker words an ambiguous name differently on GET than everywhere else.
        let id = match st.lookup_network(reference) {
            Lookup::AmbiguousName(n) => {
                return Err(CoreError::BadRequest(format!(
                    "{n} matches found based on name: network {reference} is ambiguous"
                )))
            }
            _ => st.resolve_network(reference)?,
        };
        let net = st
            .networks
            .get(&id)
            .ok_or_else(|| CoreError::network_not_found(reference))?;
        let eps = st.endpoints_of_network(&id).into_iter().cloned().collect();
        Ok((net.rec.clone(), eps))
    }
}
