//! The seam between the controller and the embedded DNS resolver (127.0.0.11 in each sandbox).
//!
//! The controller publishes, in the same locked operation that changes a container, that container's
//! whole part of the names (`DnsContainer`: its endpoints on every resolving network and its sandbox's
//! resolver settings). The resolvers replace that part in one step, so a name that is removed is gone
//! from every sandbox at once (moby#22466) and a reader never sees half an update; and a change costs
//! the size of one container, not of every name the daemon knows.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use async_trait::async_trait;

use crate::driver::DriverResult;
use crate::ids::short;
use crate::model::{ContainerRecord, EndpointRecord, NetworkRecord};

/// One endpoint's names on one network. `names[0]` is the container name, which PTR answers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEndpoint {
    pub names: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

/// A network with embedded name resolution (user-defined networks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsNetwork {
    pub name: String,
    pub endpoints: Vec<DnsEndpoint>,
}

/// What the resolver of one sandbox needs besides the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSandbox {
    /// Ids of the sandbox's networks whose names it may see, in connect order.
    pub networks: Vec<String>,
    /// Servers for names that are not local, in order of preference (at most three are used).
    pub upstreams: Vec<IpAddr>,
    /// False when every network of the sandbox is internal: external names then get SERVFAIL
    /// without any query leaving the host.
    pub forward: bool,
}

/// One endpoint of a container on a resolving network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMembership {
    pub network_id: String,
    /// For `name.network` queries and PTR answers.
    pub network_name: String,
    pub endpoint: DnsEndpoint,
}

/// Everything one container adds to the names. Empty when it has no sandbox (stopped or removed):
/// publishing that withdraws all it had.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsContainer {
    pub endpoints: Vec<DnsMembership>,
    /// The sandbox id and its resolver settings, when the sandbox resolves names.
    pub sandbox: Option<(String, DnsSandbox)>,
}

/// Every name the resolvers may answer, and per sandbox (by sandbox id) which of them it sees: a
/// whole table at once, as tests and tools write it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsView {
    pub networks: BTreeMap<String, DnsNetwork>,
    pub sandboxes: BTreeMap<String, DnsSandbox>,
}

/// The embedded resolvers, implemented by the daemon (cnm-dns); the controller only drives it.
#[async_trait]
pub trait SandboxDns: Send + Sync {
    /// Start the resolver of a sandbox whose namespace is bound at `key`: listening sockets inside
    /// that namespace and port 53 redirected to them there. Starting one that runs already rebinds
    /// it (after a daemon restart the old sockets died with the old process).
    async fn start(&self, sandbox_id: &str, key: &Path) -> DriverResult<()>;
    /// Whether this process serves a resolver for the sandbox.
    fn running(&self, sandbox_id: &str) -> bool;
    /// Stop serving a sandbox (its namespace is going away).
    fn stop(&self, sandbox_id: &str);
    /// Replace the part of each listed container (by container id) with the one given, all in one
    /// step for readers.
    fn publish(&self, containers: Vec<(String, DnsContainer)>);
    /// After a restart: forget what is kept for sandboxes other than `keep` (they are gone).
    fn prune(&self, _keep: &[String]) {}
}

/// No embedded DNS (unit tests, tools): nothing runs, nothing is answered.
pub struct NoDns;

#[async_trait]
impl SandboxDns for NoDns {
    async fn start(&self, _sandbox_id: &str, _key: &Path) -> DriverResult<()> {
        Ok(())
    }
    fn running(&self, _sandbox_id: &str) -> bool {
        false
    }
    fn stop(&self, _sandbox_id: &str) {}
    fn publish(&self, _containers: Vec<(String, DnsContainer)>) {}
}

/// The DNS names of a container's endpoint, in Docker's order (name, aliases, short id, hostname),
/// without duplicates. The first is the one PTR answers give.
pub fn endpoint_names(ctr: &ContainerRecord, ep: &EndpointRecord) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(3 + ep.aliases.len());
    let candidates = std::iter::once(ctr.name.as_str())
        .chain(ep.aliases.iter().map(String::as_str))
        .chain(std::iter::once(short(&ctr.id)))
        .chain(ctr.config.hostname.as_deref());
    for n in candidates {
        if !n.is_empty() && !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    }
    names
}

/// Whether a network's members get the embedded resolver and each other's names.
pub fn resolves_names(net: &NetworkRecord) -> bool {
    net.is_user_defined() && net.driver != "host" && net.driver != "null"
}

fn to_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn to_v6(ip: IpAddr) -> Option<Ipv6Addr> {
    match ip {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    }
}

impl DnsEndpoint {
    pub fn new(ctr: &ContainerRecord, ep: &EndpointRecord) -> Self {
        DnsEndpoint {
            names: endpoint_names(ctr, ep),
            ipv4: ep.ipv4.and_then(|n| to_v4(n.addr())),
            ipv6: ep.ipv6.and_then(|n| to_v6(n.addr())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn ctr(name: &str, hostname: Option<&str>) -> ContainerRecord {
        ContainerRecord {
            id: "0123456789abcdef0123".into(),
            name: name.into(),
            created_ns: 0,
            config: ContainerConfig {
                cmd: vec![],
                env: vec![],
                hostname: hostname.map(str::to_string),
                domainname: String::new(),
                working_dir: String::new(),
                labels: Default::default(),
                network_mode_text: String::new(),
                mode: NetworkMode::Networks,
                networks: vec![],
                dns: vec![],
                dns_search: vec![],
                dns_options: vec![],
                extra_hosts: vec![],
                auto_remove: false,
                links: vec![],
                ports: vec![],
                exposed_ports: vec![],
            },
            process: ProcessState {
                state: RunState::Running,
                pid: 0,
                shim_pid: 0,
                exit_code: 0,
                error: String::new(),
                started_ns: 0,
                finished_ns: 0,
            },
            sandbox: None,
        }
    }

    fn ep(aliases: &[&str]) -> EndpointRecord {
        EndpointRecord {
            id: "e".into(),
            network_id: "n".into(),
            container_id: "c".into(),
            name: "web".into(),
            ifname: "eth0".into(),
            host_ifname: None,
            mac: None,
            ipv4: Some("10.0.0.2/24".parse().expect("net")),
            ipv6: None,
            static_ipv4: None,
            static_ipv6: None,
            requested_mac: None,
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            links: vec![],
            gw_priority: 0,
            ipam_config: None,
            driver_opts: None,
            via_connect: false,
        }
    }

    #[test]
    fn names_in_dockers_order_without_duplicates() {
        let c = ctr("web", Some("WEB"));
        assert_eq!(
            endpoint_names(&c, &ep(&["app", "Web", "db"])),
            ["web", "app", "db", "0123456789ab"]
        );
        let c = ctr("web", Some("host1"));
        let d = DnsEndpoint::new(&c, &ep(&[]));
        assert_eq!(d.names, ["web", "0123456789ab", "host1"]);
        assert_eq!(d.ipv4, Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(d.ipv6, None);
    }
}
