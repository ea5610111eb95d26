//! The lookup index the resolvers answer from: per network lowercased name → addresses and address →
//! PTR name; per sandbox which networks it sees. It changes one container at a time (`publish`): the
//! container's old part is taken out and its new part put in, so a change costs the size of that
//! container, however many names the daemon knows.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_core::dns::{DnsContainer, DnsEndpoint, DnsMembership, DnsSandbox, DnsView};

/// Docker uses at most three upstream servers (`maxExtDNS`).
pub const MAX_UPSTREAMS: usize = 3;

/// Addresses of one name on one network.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Addrs {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
}

impl Addrs {
    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

#[derive(Debug, Default, Clone)]
struct NetNames {
    /// Network name, lowercased, for `name.network` queries.
    name: String,
    /// The name as created, for PTR answers.
    spelling: String,
    by_name: HashMap<String, Addrs>,
    /// `container.network.` for reverse lookups.
    by_ip: HashMap<IpAddr, String>,
    /// Endpoints and sandboxes that use this slot; it is freed (and may be reused) at zero.
    users: usize,
}

/// Resolver settings of one sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConf {
    /// Slots in `Table::networks`, in connect order.
    networks: Vec<usize>,
    pub upstreams: Vec<IpAddr>,
    pub forward: bool,
}

/// What one container put in, to take it out again.
#[derive(Debug, Default, Clone)]
struct Part {
    endpoints: Vec<(usize, DnsEndpoint)>,
    sandbox: Option<String>,
}

/// Every name of every resolving network, and per sandbox what it may see.
#[derive(Debug, Default, Clone)]
pub struct Table {
    networks: Vec<NetNames>,
    slots: HashMap<String, usize>,
    free: Vec<usize>,
    sandboxes: HashMap<String, SandboxConf>,
    parts: HashMap<String, Part>,
}

fn ptr_name(ep: &DnsEndpoint, network: &str) -> Option<String> {
    ep.names.first().map(|first| format!("{first}.{network}."))
}

fn ips(ep: &DnsEndpoint) -> impl Iterator<Item = IpAddr> {
    [ep.ipv4.map(IpAddr::V4), ep.ipv6.map(IpAddr::V6)]
        .into_iter()
        .flatten()
}

fn remove_one<T: PartialEq>(v: &mut Vec<T>, x: &T) {
    if let Some(i) = v.iter().position(|y| y == x) {
        v.remove(i);
    }
}

impl Table {
    /// A whole table from a view (tests and tools): each network is held for the table's life, each
    /// endpoint and sandbox published as a part of its own.
    pub fn build(view: &DnsView) -> Self {
        let mut t = Table::default();
        for (id, net) in &view.networks {
            t.hold_network(id, &net.name);
        }
        for (id, net) in &view.networks {
            for (i, ep) in net.endpoints.iter().enumerate() {
                let part = DnsContainer {
                    endpoints: vec![DnsMembership {
                        network_id: id.clone(),
                        network_name: net.name.clone(),
                        endpoint: ep.clone(),
                    }],
                    sandbox: None,
                };
                t.publish(&format!("endpoint {i} of {id}"), &part);
            }
        }
        for (id, sb) in &view.sandboxes {
            let part = DnsContainer {
                endpoints: Vec::new(),
                sandbox: Some((id.clone(), sb.clone())),
            };
            t.publish(&format!("sandbox {id}"), &part);
        }
        t
    }

    /// Replace what container `id` contributes with `part` (empty: withdraw it).
    pub fn publish(&mut self, id: &str, part: &DnsContainer) {
        if let Some(old) = self.parts.remove(id) {
            if let Some(sb) = old.sandbox {
                self.drop_sandbox(&sb);
            }
            for (slot, ep) in &old.endpoints {
                self.drop_endpoint(*slot, ep);
            }
        }
        let mut new = Part::default();
        for m in &part.endpoints {
            let slot = self.hold_network(&m.network_id, &m.network_name);
            self.add_endpoint(slot, &m.endpoint);
            new.endpoints.push((slot, m.endpoint.clone()));
        }
        if let Some((sb_id, sb)) = &part.sandbox {
            self.set_sandbox(sb_id, sb);
            new.sandbox = Some(sb_id.clone());
        }
        if !new.endpoints.is_empty() || new.sandbox.is_some() {
            self.parts.insert(id.to_string(), new);
        }
    }

    /// The slot of a network, made on first use; one more user.
    fn hold_network(&mut self, id: &str, name: &str) -> usize {
        let slot = match self.slots.get(id) {
            Some(&s) => s,
            None => {
                let s = self.free.pop().unwrap_or_else(|| {
                    self.networks.push(NetNames::default());
                    self.networks.len() - 1
                });
                self.slots.insert(id.to_string(), s);
                s
            }
        };
        let n = &mut self.networks[slot];
        n.users += 1;
        if n.spelling != name {
            n.spelling = name.to_string();
            n.name = name.to_ascii_lowercase();
        }
        slot
    }

    fn release_network(&mut self, slot: usize) {
        let n = &mut self.networks[slot];
        n.users = n.users.saturating_sub(1);
        if n.users == 0 {
            *n = NetNames::default();
            self.slots.retain(|_, s| *s != slot);
            self.free.push(slot);
        }
    }

    fn add_endpoint(&mut self, slot: usize, ep: &DnsEndpoint) {
        let n = &mut self.networks[slot];
        for name in &ep.names {
            let a = n.by_name.entry(name.to_ascii_lowercase()).or_default();
            a.v4.extend(ep.ipv4);
            a.v6.extend(ep.ipv6);
        }
        if let Some(ptr) = ptr_name(ep, &n.spelling) {
            for ip in ips(ep) {
                n.by_ip.entry(ip).or_insert_with(|| ptr.clone());
            }
        }
    }

    fn drop_endpoint(&mut self, slot: usize, ep: &DnsEndpoint) {
        let n = &mut self.networks[slot];
        let ptr = ptr_name(ep, &n.spelling);
        for name in &ep.names {
            let key = name.to_ascii_lowercase();
            if let Some(a) = n.by_name.get_mut(&key) {
                if let Some(ip) = ep.ipv4 {
                    remove_one(&mut a.v4, &ip);
                }
                if let Some(ip) = ep.ipv6 {
                    remove_one(&mut a.v6, &ip);
                }
                if a.is_empty() {
                    n.by_name.remove(&key);
                }
            }
        }
        for ip in ips(ep) {
            if n.by_ip.get(&ip) == ptr.as_ref() {
                n.by_ip.remove(&ip);
            }
        }
        self.release_network(slot);
    }

    fn set_sandbox(&mut self, id: &str, sb: &DnsSandbox) {
        let networks: Vec<usize> = sb
            .networks
            .iter()
            .filter_map(|n| self.slots.get(n.as_str()).copied())
            .collect();
        for &slot in &networks {
            self.networks[slot].users += 1;
        }
        let conf = SandboxConf {
            networks,
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
        if let Some(old) = self.sandboxes.insert(id.to_string(), conf) {
            for slot in old.networks {
                self.release_network(slot);
            }
        }
    }

    fn drop_sandbox(&mut self, id: &str) {
        if let Some(old) = self.sandboxes.remove(id) {
            for slot in old.networks {
                self.release_network(slot);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn member(net: &str, names: &[&str], v4: [u8; 4]) -> DnsMembership {
        DnsMembership {
            network_id: format!("id-{net}"),
            network_name: net.to_string(),
            endpoint: DnsEndpoint {
                names: names.iter().map(|s| s.to_string()).collect(),
                ipv4: Some(Ipv4Addr::from(v4)),
                ipv6: None,
            },
        }
    }

    fn container(sb: &str, members: Vec<DnsMembership>) -> DnsContainer {
        let networks = members.iter().map(|m| m.network_id.clone()).collect();
        DnsContainer {
            endpoints: members,
            sandbox: Some((
                sb.to_string(),
                DnsSandbox {
                    networks,
                    upstreams: vec![],
                    forward: true,
                },
            )),
        }
    }

    fn v4(t: &Table, sb: &str, name: &str) -> Vec<Ipv4Addr> {
        let conf = t.sandbox(sb).expect("sandbox");
        t.lookup(conf, name)
            .map(|a| a.v4.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_container_part_is_replaced_and_withdrawn_whole() {
        let mut t = Table::default();
        t.publish(
            "a",
            &container("sa", vec![member("App", &["web", "svc"], [10, 0, 0, 2])]),
        );
        t.publish(
            "b",
            &container(
                "sb",
                vec![
                    member("App", &["db", "svc"], [10, 0, 0, 3]),
                    member("back", &["db"], [10, 1, 0, 3]),
                ],
            ),
        );
        assert_eq!(v4(&t, "sa", "svc").len(), 2);
        assert_eq!(v4(&t, "sb", "web.app"), [Ipv4Addr::new(10, 0, 0, 2)]);
        let conf = t.sandbox("sa").expect("sandbox");
        assert_eq!(
            t.reverse(conf, "10.0.0.3".parse().expect("ip")),
            Some("db.App.")
        );

        // Renamed: the old name is gone, the new one answers, the shared alias keeps both.
        t.publish(
            "a",
            &container("sa", vec![member("App", &["front", "svc"], [10, 0, 0, 2])]),
        );
        assert!(v4(&t, "sb", "web").is_empty());
        assert_eq!(v4(&t, "sb", "front"), [Ipv4Addr::new(10, 0, 0, 2)]);
        assert_eq!(v4(&t, "sb", "svc").len(), 2);

        // Removed: its names leave every network at once, and its sandbox is forgotten.
        t.publish("b", &DnsContainer::default());
        assert!(t.sandbox("sb").is_none());
        assert_eq!(v4(&t, "sa", "svc"), [Ipv4Addr::new(10, 0, 0, 2)]);
        let conf = t.sandbox("sa").expect("sandbox");
        assert_eq!(t.reverse(conf, "10.0.0.3".parse().expect("ip")), None);
        // The network nobody uses any more gave its slot back.
        assert!(!t.slots.contains_key("id-back"));
        assert_eq!(t.free.len(), 1);
        t.publish("a", &DnsContainer::default());
        assert_eq!(t.size(), (0, 0));
        assert!(t.parts.is_empty() && t.slots.is_empty());
    }

    #[test]
    fn a_freed_slot_is_reused_for_another_network() {
        let mut t = Table::default();
        t.publish(
            "a",
            &container("sa", vec![member("one", &["x"], [10, 0, 0, 2])]),
        );
        t.publish("a", &DnsContainer::default());
        t.publish(
            "b",
            &container("sb", vec![member("two", &["y"], [10, 2, 0, 2])]),
        );
        assert_eq!(t.networks.len(), 1);
        assert!(v4(&t, "sb", "x").is_empty());
        assert_eq!(v4(&t, "sb", "y.two"), [Ipv4Addr::new(10, 2, 0, 2)]);
    }
}
