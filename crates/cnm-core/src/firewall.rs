//! The seam between the controller and the firewall (cnm-firewall: nftables). The controller says what
//! must hold — which bridge networks exist with which policy, which ports each sandbox publishes — and
//! the firewall keeps that as its desired state, programs it, and restores it if someone removes it.

use std::net::{IpAddr, Ipv4Addr};

use async_trait::async_trait;
use ipnet::IpNet;

use crate::driver::DriverResult;
use crate::model::NetworkRecord;
use crate::options;
use crate::ports::{PortMapping, PortRequest};

/// The firewall policy of one bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetFirewall {
    pub id: String,
    pub bridge: String,
    pub subnets: Vec<IpNet>,
    pub icc: bool,
    pub masquerade: bool,
    pub internal: bool,
    /// `com.docker.network.host_ipv4`: SNAT outgoing IPv4 traffic to this address instead of masquerade.
    pub snat_v4: Option<Ipv4Addr>,
}

impl NetFirewall {
    /// The policy of a bridge network; None for drivers without one.
    pub fn of(net: &NetworkRecord) -> Option<NetFirewall> {
        if net.driver != "bridge" {
            return None;
        }
        let bridge = net.bridge_name.clone()?;
        // Validated when the network was created; a record that no longer parses gets no rules.
        let opts = options::BridgeOptions::parse(&net.options, None).ok()?;
        Some(NetFirewall {
            id: net.id.clone(),
            bridge,
            subnets: net.subnets.iter().map(|s| s.subnet).collect(),
            icc: opts.enable_icc,
            masquerade: opts.enable_ip_masquerade,
            internal: net.internal,
            snat_v4: opts.host_ipv4,
        })
    }
}

/// Why a host port could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Another container of this daemon holds it (Docker's wording).
    #[error("Bind for {ip}:{port} failed: port is already allocated")]
    Allocated { ip: String, port: u16 },
    /// A process of the host holds it.
    #[error("failed to bind host port {ip}:{port}/{proto}: address already in use")]
    InUse {
        ip: String,
        port: u16,
        proto: &'static str,
    },
    #[error("no free host port in {first}-{last}/{proto}")]
    Exhausted {
        first: u16,
        last: u16,
        proto: &'static str,
    },
    #[error("{0}")]
    Other(String),
}

#[async_trait]
pub trait Firewall: Send + Sync {
    /// Replace all of cnm's rules with this state, in one transaction (start-up).
    async fn restore(
        &self,
        nets: &[NetFirewall],
        ports: &[(String, Vec<PortMapping>)],
    ) -> DriverResult<()>;
    async fn add_network(&self, net: &NetFirewall) -> DriverResult<()>;
    async fn remove_network(&self, net: &NetFirewall) -> DriverResult<()>;
    /// Hold the host ports of a container's requests so no other process or container takes them;
    /// returns the chosen host port per request (the first one of a run, which takes `count` ports). `previous` (same length, or empty) are ports held
    /// before (a restarted daemon takes the same ones again).
    fn reserve(
        &self,
        container: &str,
        reqs: &[PortRequest],
        previous: &[u16],
    ) -> Result<Vec<u16>, PortError>;
    /// Let go of every host port of the container.
    fn release(&self, container: &str);
    /// Program (replace) the mappings of a container.
    async fn publish(&self, container: &str, maps: &[PortMapping]) -> DriverResult<()>;
    /// Remove the mappings of a container.
    async fn unpublish(&self, container: &str) -> DriverResult<()>;
}

/// No firewall (unit tests, tools): ports are "reserved" without any check and nothing is programmed.
pub struct NoFirewall;

#[async_trait]
impl Firewall for NoFirewall {
    async fn restore(
        &self,
        _nets: &[NetFirewall],
        _ports: &[(String, Vec<PortMapping>)],
    ) -> DriverResult<()> {
        Ok(())
    }
    async fn add_network(&self, _net: &NetFirewall) -> DriverResult<()> {
        Ok(())
    }
    async fn remove_network(&self, _net: &NetFirewall) -> DriverResult<()> {
        Ok(())
    }
    fn reserve(
        &self,
        _container: &str,
        reqs: &[PortRequest],
        previous: &[u16],
    ) -> Result<Vec<u16>, PortError> {
        Ok(reqs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                previous
                    .get(i)
                    .copied()
                    .or(r.host_ports.map(|(a, _)| a))
                    .unwrap_or(32768 + i as u16)
            })
            .collect())
    }
    fn release(&self, _container: &str) {}
    async fn publish(&self, _container: &str, _maps: &[PortMapping]) -> DriverResult<()> {
        Ok(())
    }
    async fn unpublish(&self, _container: &str) -> DriverResult<()> {
        Ok(())
    }
}

/// The mappings of a container's requests on its gateway endpoint's addresses (a run stays one
/// mapping per family, from the run's first host port): a request for every
/// host address maps both families the endpoint has; a request bound to one address maps only the
/// family of that address.
pub fn mappings(
    reqs: &[PortRequest],
    host_ports: &[u16],
    ctr_v4: Option<IpAddr>,
    ctr_v6: Option<IpAddr>,
) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for (r, hp) in reqs.iter().zip(host_ports) {
        let targets: Vec<(Option<IpAddr>, IpAddr)> = match r.host_ip {
            None => [ctr_v4, ctr_v6]
                .into_iter()
                .flatten()
                .map(|c| (None, c))
                .collect(),
            Some(h) => {
                let c = if h.is_ipv4() { ctr_v4 } else { ctr_v6 };
                c.map(|c| (Some(h), c)).into_iter().collect()
            }
        };
        for (host_ip, ctr_ip) in targets {
            out.push(PortMapping {
                proto: r.proto,
                host_ip,
                host_port: *hp,
                ctr_ip,
                ctr_port: r.ctr_port,
                count: r.count.max(1),
            });
        }
    }
    out
}
