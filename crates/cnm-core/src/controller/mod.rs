//! The controller: owns the state, runs every change as kernel work followed by one store transaction,
//! and rolls back what it did when a step fails.
//!
//! All mutations hold one async lock. An attach is ~1–2 ms of kernel work, so serialising keeps the
//! state machine simple (no lock-order bugs of the kind libnetwork keeps fixing) at a cost that only
//! shows under heavy parallel churn.

mod containers;
mod endpoints;
mod names;
mod networks;
mod ports;
mod restore;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cnm_ipam::{AddressSpace, PoolSpec, SubnetPool};
use cnm_store::Store;
use ipnet::IpNet;
use tokio::sync::{broadcast, Mutex};

use crate::dns::SandboxDns;
use crate::driver::{NetworkDriver, SandboxOs};
use crate::error::{CoreError, Result};
use crate::firewall::Firewall;
use crate::lookup::{resolve, Lookup};
use crate::model::{ContainerRecord, EndpointRecord, NetworkRecord};

pub use containers::{Attachment, ContainerCreate, StartedSandbox};
pub use networks::NetworkCreate;
pub use restore::RestoreReport;

/// Daemon-wide settings the controller needs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// `--bip`: docker0's gateway address with prefix (default 172.17.0.1/16).
    pub bip: Option<IpNet>,
    pub default_v4_pools: Vec<PoolSpec>,
    pub default_v6_pools: Vec<PoolSpec>,
    pub daemon_dns: Vec<IpAddr>,
    pub mtu: Option<u32>,
    pub host_resolv_conf: PathBuf,
    /// systemd-resolved's file of real upstreams, used when `host_resolv_conf` names only its stub.
    pub systemd_resolv_conf: PathBuf,
    pub host_hosts: PathBuf,
}

impl ControllerConfig {
    pub fn netns_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    /// A container's /etc/hosts, resolv.conf and hostname. Runtime files, rewritten at every start,
    /// so they live in the exec-root (tmpfs on a normal host, as Podman keeps them in its run root):
    /// creating them costs no disk inode on the attach path.
    pub fn files_dir(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// What of a container outlives a reboot (its log).
    pub fn data_dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }

    /// The container's log, in Docker's multiplexed framing (written by its shim).
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.data_dir(id).join("log")
    }
}

/// Something users can watch (`docker events` style).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: &'static str,
    pub action: &'static str,
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    pub time_ns: u128,
}

pub(crate) struct NetState {
    pub rec: NetworkRecord,
    /// One pool per entry of `rec.subnets`, same order.
    pub pools: Vec<SubnetPool>,
}

pub(crate) struct State {
    pub networks: BTreeMap<String, NetState>,
    pub endpoints: BTreeMap<String, EndpointRecord>,
    pub containers: BTreeMap<String, ContainerRecord>,
    pub space: AddressSpace,
}

pub struct Controller {
    pub(crate) cfg: ControllerConfig,
    pub(crate) store: Store,
    pub(crate) drivers: BTreeMap<&'static str, Arc<dyn NetworkDriver>>,
    pub(crate) os: Arc<dyn SandboxOs>,
    pub(crate) dns: Arc<dyn SandboxDns>,
    pub(crate) firewall: Arc<dyn Firewall>,
    pub(crate) state: Mutex<State>,
    pub(crate) events: broadcast::Sender<Event>,
}

impl Controller {
    pub fn config(&self) -> &ControllerConfig {
        &self.cfg
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub(crate) fn emit(
        &self,
        kind: &'static str,
        action: &'static str,
        id: &str,
        attributes: &[(&str, &str)],
    ) {
        let _ = self.events.send(Event {
            kind,
            action,
            id: id.to_string(),
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            time_ns: crate::model::now_ns(),
        });
    }

    pub(crate) fn emit_network(
        &self,
        action: &'static str,
        net: &NetworkRecord,
        container_id: &str,
    ) {
        self.emit(
            "network",
            action,
            &net.id,
            &[
                ("container", container_id),
                ("name", &net.name),
                ("type", &net.driver),
            ],
        );
    }

    pub(crate) fn driver(&self, name: &str) -> Result<Arc<dyn NetworkDriver>> {
        self.drivers
            .get(name)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("plugin \"{name}\" not found")))
    }

    pub fn driver_names(&self) -> Vec<&'static str> {
        self.drivers.keys().copied().collect()
    }
}

impl State {
    pub(crate) fn lookup_network(&self, reference: &str) -> Lookup<'_> {
        let items = self
            .networks
            .values()
            .map(|n| (n.rec.id.as_str(), n.rec.name.as_str()));
        resolve(reference, items)
    }

    pub(crate) fn resolve_network(&self, reference: &str) -> Result<String> {
        match self.lookup_network(reference) {
            Lookup::Found(id) => Ok(id.to_string()),
            Lookup::NotFound => Err(CoreError::network_not_found(reference)),
            Lookup::AmbiguousName(n) => Err(CoreError::BadRequest(format!(
                "network {reference} is ambiguous ({n} matches found based on name)"
            ))),
            Lookup::AmbiguousPrefix(n) => Err(CoreError::BadRequest(format!(
                "network {reference} is ambiguous ({n} matches found based on ID prefix)"
            ))),
        }
    }

    pub(crate) fn resolve_container(&self, reference: &str) -> Result<String> {
        let reference = reference.strip_prefix('/').unwrap_or(reference);
        let items = self
            .containers
            .values()
            .map(|c| (c.id.as_str(), c.name.as_str()));
        match resolve(reference, items) {
            Lookup::Found(id) => Ok(id.to_string()),
            Lookup::NotFound | Lookup::AmbiguousName(_) => {
                Err(CoreError::container_not_found(reference))
            }
            // moby ≥ 23 (memdb view): an invalid-parameter error, 400.
            Lookup::AmbiguousPrefix(_) => Err(CoreError::BadRequest(format!(
                "multiple IDs found with provided prefix: {reference}"
            ))),
        }
    }

    pub(crate) fn endpoints_of_network(&self, network_id: &str) -> Vec<&EndpointRecord> {
        self.endpoints
            .values()
            .filter(|e| e.network_id == network_id)
            .collect()
    }
}
