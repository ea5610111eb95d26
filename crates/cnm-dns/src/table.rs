//! The lookup index the resolvers answer from, compiled from the controller's `DnsView`: per network
//! lowercased name → addresses and address → PTR name; per sandbox which networks it sees.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_core::dns::DnsView;

/// Docker uses at most three upstream servers (`maxExtDNS`).
pub const MAX_UPSTREAMS: usize = 3;

/// Addresses of one name on one network.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Addrs {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
}

#[derive(Debug, Default)]
struct NetNames {
    /// Network name, lowercased, for `name.network` queries.
    name: String,
    by_name: HashMap<String, Addrs>,
    /// `container.network.` for reverse lookups.
    by_ip: HashMap<IpAddr, String>,
}

/// Resolver settings of one sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConf {
    /// Indexes into `Table::networks`, in connect order.
    networks: Vec<usize>,
    pub upstreams: Vec<IpAddr>,
    pub forward: bool,
}

/// Every name of every resolving network, and per sandbox what it may see.
#[derive(Debug, Default)]
pub struct Table {
    networks: Vec<NetNames>,
    sandboxes: HashMap<String, SandboxConf>,
}

impl Table {
    pub fn build(view: &DnsView) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(view.networks.len());
        let mut networks = Vec::with_capacity(view.networks.len());
        for (id, net) in &view.networks {
            let mut n = NetNames {
                name: net.name.to_ascii_lowercase(),
                ..Default::default()
            };
            for ep in &net.endpoints {
                for name in &ep.names {
                    let a = n.by_name.entry(name.to_ascii_lowercase()).or_default();
                    a.v4.extend(ep.ipv4);
                    a.v6.extend(ep.ipv6);
                }
                if let Some(first) = ep.names.first() {
                    let ptr = format!("{first}.{}.", net.name);
                    for ip in [ep.ipv4.map(IpAddr::V4), ep.ipv6.map(IpAddr::V6)]
                        .into_iter()
                        .flatten()
                    {
                        n.by_ip.entry(ip).or_insert_with(|| ptr.clone());
                    }
                }
            }
            index.insert(id.as_str(), networks.len());
            networks.push(n);
        }
        let sandboxes = view
            .sandboxes
            .iter()
            .map(|(id, sb)| {
                let conf = SandboxConf {
                    networks: sb
                        .networks
                        .iter()
                        .filter_map(|n| index.get(n.as_str()).copied())
                        .collect(),
                    upstreams: sb
                        .upstreams
                        .iter()
                        .copied()
                        // Never forward to ourselves.
                        .filter(|ip| *ip != IpAddr::V4(crate::LISTEN_ADDR))
                        .take(MAX_UPSTREAMS)
                        .collect(),
                    forward: sb.forward,
                };
                (id.clone(), conf)
            })
            .collect();
        Table {
            networks,
            sandboxes,
        }
    }

    pub fn sandbox(&self, id: &str) -> Option<&SandboxConf> {
        self.sandboxes.get(id)
    }

    /// Addresses of a lowercased name without trailing dot as one sandbox sees it: the name itself on
    /// its networks (first network that has it wins), else `name.network` for one of its networks.
    pub fn lookup(&self, sb: &SandboxConf, name: &str) -> Option<&Addrs> {
        let nets = || sb.networks.iter().filter_map(|&i| self.networks.get(i));
        if let Some(a) = nets().find_map(|n| n.by_name.get(name)) {
            return Some(a);
        }
        for (i, _) in name.match_indices('.') {
            let (host, net) = (&name[..i], &name[i + 1..]);
            if let Some(a) = nets()
                .filter(|n| n.name == net)
                .find_map(|n| n.by_name.get(host))
            {
                return Some(a);
            }
        }
        None
    }

    /// `container.network.` for an address on one of the sandbox's networks.
    pub fn reverse(&self, sb: &SandboxConf, ip: IpAddr) -> Option<&str> {
        sb.networks
            .iter()
            .filter_map(|&i| self.networks.get(i))
            .find_map(|n| n.by_ip.get(&ip))
            .map(String::as_str)
    }

    /// Number of names and sandboxes (for logs).
    pub fn size(&self) -> (usize, usize) {
        (
            self.networks.iter().map(|n| n.by_name.len()).sum(),
            self.sandboxes.len(),
        )
    }
}
