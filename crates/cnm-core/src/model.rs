//! Persisted records. These are the daemon's intent; the kernel is reconciled to them on start.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One subnet of a network with what IPAM handed out for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubnetRecord {
    pub subnet: IpNet,
    pub ip_range: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    pub aux_addresses: BTreeMap<String, IpAddr>,
    /// The user gave the subnet (static addresses are allowed only then).
    pub user_subnet: bool,
    /// Show `Gateway` in inspect (the user gave it, or the pool was chosen by cnm): Docker's echo rules.
    pub show_gateway: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// Unix time in nanoseconds.
    pub created_ns: u128,
    pub scope: String,
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_only: bool,
    pub config_from: String,
    pub ipam_driver: String,
    pub ipam_options: Option<BTreeMap<String, String>>,
    pub subnets: Vec<SubnetRecord>,
    /// Driver options exactly as given (echoed by inspect).
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// One of the three networks that always exist (`bridge`, `host`, `none`).
    pub predefined: bool,
    /// Kernel device of a bridge network.
    pub bridge_name: Option<String>,
    /// The bridge existed before cnm used it: never delete it.
    pub bridge_adopted: bool,
}

impl NetworkRecord {
    pub fn v4(&self) -> impl Iterator<Item = &SubnetRecord> {
        self.subnets.iter().filter(|s| s.subnet.addr().is_ipv4())
    }

    pub fn v6(&self) -> impl Iterator<Item = &SubnetRecord> {
        self.subnets.iter().filter(|s| s.subnet.addr().is_ipv6())
    }

    pub fn gateway4(&self) -> Option<IpAddr> {
        self.v4().find_map(|s| s.gateway)
    }

    pub fn gateway6(&self) -> Option<IpAddr> {
        self.v6().find_map(|s| s.gateway)
    }

    pub fn has_user_subnet(&self) -> bool {
        self.subnets.iter().any(|s| s.user_subnet)
    }

    /// User-defined networks get the embedded DNS; the predefined ones do not.
    pub fn is_user_defined(&self) -> bool {
        !self.predefined
    }
}

/// Echo of the `IPAMConfig` an endpoint was requested with.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IpamConfigEcho {
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointRecord {
    pub id: String,
    pub network_id: String,
    pub container_id: String,
    /// The container name (Docker names endpoints after containers).
    pub name: String,
    /// Interface name inside the sandbox (`eth0`, …); empty for host and none.
    pub ifname: String,
    /// Host-side device (veth), if any.
    pub host_ifname: Option<String>,
    pub mac: Option<[u8; 6]>,
    pub ipv4: Option<IpNet>,
    pub ipv6: Option<IpNet>,
    /// Addresses the user asked for (static), kept so a restarted container gets them again.
    pub static_ipv4: Option<IpAddr>,
    pub static_ipv6: Option<IpAddr>,
    pub requested_mac: Option<[u8; 6]>,
    /// `--network-alias` / `connect --alias` values.
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub gw_priority: i64,
    pub ipam_config: Option<IpamConfigEcho>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Attached through `network connect` (Docker echoes the request's `{}`s then).
    pub via_connect: bool,
}

/// What a container asked for on one network; kept across stop/start.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointRequest {
    pub ipv4: Option<IpAddr>,
    pub ipv6: Option<IpAddr>,
    pub mac: Option<[u8; 6]>,
    pub aliases: Vec<String>,
    pub links: Vec<String>,
    pub gw_priority: i64,
    pub ipam_config: Option<IpamConfigEcho>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub via_connect: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// One or more bridge-like networks, each its own endpoint in the sandbox netns.
    Networks,
    Host,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerConfig {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: String,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// What the user wrote (`default`, `bridge`, `host`, `none`, a network name).
    pub network_mode_text: String,
    pub mode: NetworkMode,
    /// (network id, request) in connect order.
    pub networks: Vec<(String, EndpointRequest)>,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<(String, IpAddr)>,
    pub auto_remove: bool,
    /// `--link NAME[:ALIAS]` (default bridge): /etc/hosts entries for other containers.
    #[serde(default)]
    pub links: Vec<LinkRecord>,
    /// `-p` / `HostConfig.PortBindings`, parsed.
    #[serde(default)]
    pub ports: Vec<crate::ports::PortRequest>,
    /// `Config.ExposedPorts` keys (`80/tcp`), shown as unbound entries of `NetworkSettings.Ports`.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
}

/// One legacy link: the target container (by id, so a rename keeps it) and the alias it is known by.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkRecord {
    pub target: String,
    pub alias: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessState {
    pub state: RunState,
    pub pid: u32,
    pub shim_pid: u32,
    pub exit_code: i32,
    pub error: String,
    pub started_ns: u128,
    pub finished_ns: u128,
}

/// The network namespace and files of a started container.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxRecord {
    pub id: String,
    /// Path of the namespace file (`<exec-root>/netns/<id12>`, or `…/netns/default` in host mode).
    pub key: String,
    /// Endpoint ids in connect order.
    pub endpoints: Vec<String>,
    /// Index of the next `ethN`: names are never reused within a sandbox.
    pub next_iface: u32,
    /// Endpoint currently holding the IPv4 / IPv6 default route.
    pub gw4_endpoint: Option<String>,
    pub gw6_endpoint: Option<String>,
    /// Host ports held and mappings programmed for the container's published ports.
    #[serde(default)]
    pub ports: crate::ports::PublishedPorts,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created_ns: u128,
    pub config: ContainerConfig,
    pub process: ProcessState,
    pub sandbox: Option<SandboxRecord>,
}

impl ContainerRecord {
    pub fn hostname(&self) -> String {
        self.config
            .hostname
            .clone()
            .unwrap_or_else(|| crate::ids::short(&self.id).to_string())
    }

    pub fn is_running(&self) -> bool {
        self.process.state == RunState::Running
    }
}

pub fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
