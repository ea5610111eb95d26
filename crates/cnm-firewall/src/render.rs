//! Desired state → nft script. Pure: every function returns text for one `nft -f -` transaction, so
//! the kernel applies it all or nothing, and the output is snapshot-tested.
//!
//! Layout, per IP family (`table ip cnm`, `table ip6 cnm`), in the spirit of Docker 29's nftables
//! backend but with cnm's own names:
//! - `filter-FORWARD` (hook forward): `jump user` first, then a verdict map on the output interface
//!   (`fwd-in`: traffic into a bridge) and one on the input interface (`fwd-out`: traffic leaving it).
//!   A bridge's `fwd-in__<br>` chain accepts replies, published ports (`ct status dnat`) and — with ICC
//!   on — traffic from its own bridge, and drops everything else: that one chain is the isolation
//!   between networks and the protection of unpublished container addresses from other hosts, with no
//!   rule per container.
//! - `nat-PREROUTING` / `nat-OUTPUT` jump to `nat-ports` for local destinations; `nat-ports` looks the
//!   packet up in four maps (bound address or any address; same port or translated port), so a
//!   published port is a map element and a port range with equal host and container ports is one
//!   interval element. nft 1.0.6 has no port-offset form of `dnat` (a map's data cannot be a range,
//!   and `dnat to a:b-c` picks any port of the range), so a translated range is one element per port,
//!   in plain hash maps: adding a singleton to an interval map costs nft twice as much.
//! - `nat-POSTROUTING`: masquerade (or SNAT) per subnet through a verdict map on the source address,
//!   hairpin and host-loopback masquerade per bridge through a verdict map on the output interface.
//! - `user`: created empty, never flushed (DOCKER-USER semantics).
//!
//! ICC off relies on br_netfilter (as Docker's does): frames between two ports of one bridge reach the
//! IP forward hook with the bridge as both input and output interface, where `fwd-in__<br>` drops
//! them. The firewall turns `bridge-nf-call-iptables` on when an ICC-off network exists.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

use cnm_core::firewall::NetFirewall;
use cnm_core::ports::PortMapping;
use ipnet::IpNet;

pub const TABLE: &str = "cnm";
pub const USER_CHAIN: &str = "user";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn nft(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    /// The kernel's `NFPROTO_*` number of the family.
    pub fn nfproto(self) -> u8 {
        match self {
            Family::V4 => cnm_linux::nftmon::NFPROTO_IPV4,
            Family::V6 => cnm_linux::nftmon::NFPROTO_IPV6,
        }
    }

    fn addr_type(self) -> &'static str {
        match self {
            Family::V4 => "ipv4_addr",
            Family::V6 => "ipv6_addr",
        }
    }

    fn loopback(self) -> &'static str {
        match self {
            Family::V4 => "127.0.0.0/8",
            Family::V6 => "::1",
        }
    }

    fn of_net(self, n: &IpNet) -> bool {
        matches!(
            (self, n),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        )
    }

    fn of_ip(self, ip: &IpAddr) -> bool {
        matches!(
            (self, ip),
            (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
        )
    }
}

const MAPS: [&str; 8] = [
    "fwd-in",
    "fwd-out",
    "post-src",
    "post-out",
    "dnat-any-to",
    "dnat-any-same",
    "dnat-addr-to",
    "dnat-addr-same",
];

/// Maps of earlier cnm versions (translated ports in interval maps), removed by a full replacement.
const LEGACY_MAPS: [&str; 2] = ["dnat-any", "dnat-addr"];

fn map_type(f: Family, map: &str) -> String {
    let a = f.addr_type();
    match map {
        "fwd-in" | "fwd-out" | "post-out" => "type ifname : verdict;".into(),
        "post-src" => format!("type {a} : verdict; flags interval;"),
        "dnat-any-to" => format!("type inet_proto . inet_service : {a} . inet_service;"),
        "dnat-any" => {
            format!("type inet_proto . inet_service : {a} . inet_service; flags interval;")
        }
        "dnat-any-same" => format!("type inet_proto . inet_service : {a}; flags interval;"),
        "dnat-addr-to" => {
            format!("type {a} . inet_proto . inet_service : {a} . inet_service;")
        }
        "dnat-addr" => {
            format!("type {a} . inet_proto . inet_service : {a} . inet_service; flags interval;")
        }
        _ => format!("type {a} . inet_proto . inet_service : {a}; flags interval;"),
    }
}

/// Names of the per-bridge chains of a family.
pub fn net_chains(bridge: &str) -> [String; 4] {
    [
        format!("fwd-in__{bridge}"),
        format!("fwd-out__{bridge}"),
        format!("nat-out__{bridge}"),
        format!("hairpin__{bridge}"),
    ]
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// One chain as cnm writes it: declared (with its hook, for a base chain), flushed, then these rules,
/// each one kernel rule. The healer's expectations come from the same values (`expect.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSpec {
    pub name: String,
    pub hook: Option<&'static str>,
    pub rules: Vec<String>,
}

fn write_chain(out: &mut String, t: &str, c: &ChainSpec) {
    match c.hook {
        Some(h) => {
            let _ = writeln!(out, "add chain {t} {} {{ {h} }}", c.name);
        }
        None => {
            let _ = writeln!(out, "add chain {t} {}", c.name);
        }
    }
    let _ = writeln!(out, "flush chain {t} {}", c.name);
    for r in &c.rules {
        let _ = writeln!(out, "add rule {t} {} {r}", c.name);
    }
}

/// The chains of one family's table that every state has (the user chain aside), in write order.
pub fn base_chains(f: Family) -> Vec<ChainSpec> {
    let l4 = "meta l4proto { tcp, udp, sctp }";
    let fa = f.nft();
    let chains: [(&str, Option<&'static str>, Vec<String>); 6] = [
        (
            // route_localnet is on for the bridges, so the kernel no longer treats a loopback
            // destination arriving there as a martian: drop it before anything sees it.
            "raw-PREROUTING",
            Some("type filter hook prerouting priority raw; policy accept;"),
            vec![format!(
                "iifname != \"lo\" {fa} daddr {} drop",
                f.loopback()
            )],
        ),
        (
            "filter-FORWARD",
            Some("type filter hook forward priority filter; policy accept;"),
            vec![
                format!("jump {USER_CHAIN}"),
                "oifname vmap @fwd-in".into(),
                "iifname vmap @fwd-out".into(),
            ],
        ),
        (
            "nat-ports",
            None,
            vec![
                format!("{l4} dnat {fa} to {fa} daddr . meta l4proto . th dport map @dnat-addr-to"),
                format!(
                    "{l4} dnat {fa} to {fa} daddr . meta l4proto . th dport map @dnat-addr-same"
                ),
                format!("{l4} dnat {fa} to meta l4proto . th dport map @dnat-any-to"),
                format!("{l4} dnat {fa} to meta l4proto . th dport map @dnat-any-same"),
            ],
        ),
        (
            "nat-PREROUTING",
            Some("type nat hook prerouting priority dstnat; policy accept;"),
            // Loopback destinations arriving from outside are never translated (moby#45610).
            vec![
                format!("{fa} daddr {} return", f.loopback()),
                "fib daddr type local jump nat-ports".into(),
            ],
        ),
        (
            "nat-OUTPUT",
            Some("type nat hook output priority -100; policy accept;"),
            match f {
                Family::V4 => vec!["fib daddr type local jump nat-ports".into()],
                // IPv6 has no route_localnet: ::1 cannot be translated to a container.
                Family::V6 => vec![
                    "ip6 daddr ::1 return".into(),
                    "fib daddr type local jump nat-ports".into(),
                ],
            },
        ),
        (
            "nat-POSTROUTING",
            Some("type nat hook postrouting priority srcnat; policy accept;"),
            vec![
                "oifname vmap @post-out".into(),
                format!("{fa} saddr vmap @post-src"),
            ],
        ),
    ];
    chains
        .into_iter()
        .map(|(name, hook, rules)| ChainSpec {
            name: name.to_string(),
            hook,
            rules,
        })
        .collect()
}

/// Tables, maps and base chains of one family, with the maps emptied and the base chains rewritten:
/// the start of a full replacement. The user chain is only ever added.
fn base(out: &mut String, f: Family) {
    let t = format!("{} {TABLE}", f.nft());
    let _ = writeln!(out, "add table {t}");
    let _ = writeln!(out, "add chain {t} {USER_CHAIN}");
    for m in MAPS {
        let _ = writeln!(out, "add map {t} {m} {{ {} }}", map_type(f, m));
        let _ = writeln!(out, "flush map {t} {m}");
    }
    for c in base_chains(f) {
        write_chain(out, &t, &c);
    }
    // Declared first so the delete cannot fail on a table that never had them; nothing refers to them
    // any more once nat-ports is rewritten above.
    for m in LEGACY_MAPS {
        let _ = writeln!(out, "add map {t} {m} {{ {} }}", map_type(f, m));
        let _ = writeln!(out, "delete map {t} {m}");
    }
}

/// The four per-bridge chains of one network in one family: `fwd-in__`, `fwd-out__`, `nat-out__`,
/// `hairpin__`. A family without a subnet still isolates the bridge (nothing routed into it).
pub fn bridge_chains(f: Family, n: &NetFirewall) -> Vec<ChainSpec> {
    let subnets: Vec<&IpNet> = n.subnets.iter().filter(|s| f.of_net(s)).collect();
    let br = q(&n.bridge);
    let [fin, fout, nat_out, hairpin] = net_chains(&n.bridge);
    let mut fwd_in = Vec::new();
    let mut fwd_out = Vec::new();
    if n.internal {
        fwd_in.push(format!("iifname != {br} drop"));
        fwd_out.push(format!("oifname != {br} drop"));
    }
    fwd_in.push("ct state established,related accept".into());
    if !n.internal {
        fwd_in.push("ct status dnat accept".into());
    }
    fwd_in.push(format!(
        "iifname {br} {}",
        if n.icc { "accept" } else { "drop" }
    ));
    fwd_in.push("drop".into());
    fwd_out.push("accept".into());
    let mut nat = Vec::new();
    if n.masquerade && !n.internal {
        let action = match (f, n.snat_v4) {
            (Family::V4, Some(ip)) => format!("snat ip to {ip}"),
            _ => "masquerade".into(),
        };
        nat.push(format!("oifname != {br} {action}"));
    }
    // A container reaching a published port of its own bridge: the reply must come back through the
    // host. Matched by source subnet, not input interface: br_netfilter translates and bridges such a
    // frame without routing it, and its postrouting hook has no input interface.
    let mut hp: Vec<String> = subnets
        .iter()
        .map(|s| format!("{} saddr {} ct status dnat masquerade", f.nft(), s.trunc()))
        .collect();
    if f == Family::V4 {
        // The host reaching a published port through 127.0.0.1 (route_localnet is on for the bridge).
        hp.push("ip saddr 127.0.0.0/8 ct status dnat masquerade".into());
    }
    [
        (fin, fwd_in),
        (fout, fwd_out),
        (nat_out, nat),
        (hairpin, hp),
    ]
    .into_iter()
    .map(|(name, rules)| ChainSpec {
        name,
        hook: None,
        rules,
    })
    .collect()
}

/// The per-bridge chains of one network in one family, and the map elements that reach them.
fn network(out: &mut String, f: Family, n: &NetFirewall) {
    let subnets: Vec<&IpNet> = n.subnets.iter().filter(|s| f.of_net(s)).collect();
    let t = format!("{} {TABLE}", f.nft());
    let br = q(&n.bridge);
    let [fin, fout, nat_out, hairpin] = net_chains(&n.bridge);
    for c in bridge_chains(f, n) {
        write_chain(out, &t, &c);
    }
    let _ = writeln!(out, "add element {t} fwd-in {{ {br} : jump {fin} }}");
    let _ = writeln!(out, "add element {t} fwd-out {{ {br} : jump {fout} }}");
    let _ = writeln!(out, "add element {t} post-out {{ {br} : jump {hairpin} }}");
    if n.masquerade && !n.internal && !subnets.is_empty() {
        let els: Vec<String> = subnets
            .iter()
            .map(|s| format!("{} : jump {nat_out}", s.trunc()))
            .collect();
        let _ = writeln!(out, "add element {t} post-src {{ {} }}", els.join(", "));
    }
}

fn network_delete(out: &mut String, f: Family, n: &NetFirewall) {
    let t = format!("{} {TABLE}", f.nft());
    let br = q(&n.bridge);
    let _ = writeln!(out, "delete element {t} fwd-in {{ {br} }}");
    let _ = writeln!(out, "delete element {t} fwd-out {{ {br} }}");
    let _ = writeln!(out, "delete element {t} post-out {{ {br} }}");
    let subnets: Vec<String> = n
        .subnets
        .iter()
        .filter(|s| f.of_net(s))
        .map(|s| s.trunc().to_string())
        .collect();
    if n.masquerade && !n.internal && !subnets.is_empty() {
        let _ = writeln!(
            out,
            "delete element {t} post-src {{ {} }}",
            subnets.join(", ")
        );
    }
    // A chain must be empty before it can go.
    for c in net_chains(&n.bridge) {
        let _ = writeln!(out, "flush chain {t} {c}");
        let _ = writeln!(out, "delete chain {t} {c}");
    }
}

/// Map elements of one container's mappings, per (family, map): runs whose host and container ports
/// are equal become one interval element (adjacent runs of one target merged); a translated run is one
/// element per port (see the module comment).
pub fn port_elements(maps: &[PortMapping]) -> BTreeMap<(u8, &'static str), Vec<String>> {
    let mut sorted: Vec<&PortMapping> = maps.iter().collect();
    sorted.sort_by_key(|m| (m.is_ipv6(), m.host_ip, m.proto, m.ctr_ip, m.host_port));
    let mut out: BTreeMap<(u8, &'static str), Vec<String>> = BTreeMap::new();
    let mut i = 0;
    while i < sorted.len() {
        let m = sorted[i];
        let fam = u8::from(m.is_ipv6());
        let bound = m.host_ip.filter(|ip| !ip.is_unspecified());
        let key = |ports: &str| match bound {
            Some(ip) => format!("{ip} . {} . {ports}", m.proto),
            None => format!("{} . {ports}", m.proto),
        };
        if m.host_port != m.ctr_port {
            let map = if bound.is_some() {
                "dnat-addr-to"
            } else {
                "dnat-any-to"
            };
            let els = out.entry((fam, map)).or_default();
            for (h, c) in m.each() {
                els.push(format!("{} : {} . {c}", key(&h.to_string()), m.ctr_ip));
            }
            i += 1;
            continue;
        }
        let mut last = m.last_host_port();
        let mut j = i;
        while j + 1 < sorted.len() {
            let n = sorted[j + 1];
            let next_ok = n.host_port == n.ctr_port
                && n.host_ip == m.host_ip
                && n.proto == m.proto
                && n.ctr_ip == m.ctr_ip
                && u32::from(n.host_port) == u32::from(last) + 1;
            if !next_ok {
                break;
            }
            last = n.last_host_port();
            j += 1;
        }
        let ports = if last > m.host_port {
            format!("{}-{last}", m.host_port)
        } else {
            m.host_port.to_string()
        };
        let map = if bound.is_some() {
            "dnat-addr-same"
        } else {
            "dnat-any-same"
        };
        out.entry((fam, map))
            .or_default()
            .push(format!("{} : {}", key(&ports), m.ctr_ip));
        i = j + 1;
    }
    out
}

fn fam_of(i: u8) -> Family {
    if i == 0 {
        Family::V4
    } else {
        Family::V6
    }
}

/// `add element` (or `delete element`, keys only) lines for mappings.
fn port_lines(out: &mut String, maps: &[PortMapping], delete: bool) {
    for ((fam, map), els) in port_elements(maps) {
        let t = format!("{} {TABLE}", fam_of(fam).nft());
        let els: Vec<String> = if delete {
            els.iter()
                .map(|e| e.split(" : ").next().unwrap_or(e).to_string())
                .collect()
        } else {
            els
        };
        // nft reads long lines fine; chunk anyway so one element list stays readable in errors.
        for chunk in els.chunks(512) {
            let verb = if delete { "delete" } else { "add" };
            let _ = writeln!(out, "{verb} element {t} {map} {{ {} }}", chunk.join(", "));
        }
    }
}

/// The whole desired state, replacing whatever cnm had: `stale` are per-bridge chains found in the
/// kernel that no network explains (deleted after the maps that point at them were emptied).
pub fn full(nets: &[NetFirewall], ports: &[&[PortMapping]], stale: &[(Family, String)]) -> String {
    let mut out = String::new();
    for f in Family::ALL {
        // nft 1.0.6 folds elements added to an interval map into the map's own declaration when both
        // are in one transaction, so the chains those elements jump to must be declared first.
        let _ = writeln!(out, "add table {} {TABLE}", f.nft());
        for n in nets {
            for c in net_chains(&n.bridge) {
                let _ = writeln!(out, "add chain {} {TABLE} {c}", f.nft());
            }
        }
        base(&mut out, f);
    }
    for (f, chain) in stale {
        let _ = writeln!(out, "add chain {} {TABLE} {chain}", f.nft());
        let _ = writeln!(out, "flush chain {} {TABLE} {chain}", f.nft());
        let _ = writeln!(out, "delete chain {} {TABLE} {chain}", f.nft());
    }
    for n in nets {
        for f in Family::ALL {
            network(&mut out, f, n);
        }
    }
    for maps in ports {
        port_lines(&mut out, maps, false);
    }
    out
}

pub fn add_network(n: &NetFirewall) -> String {
    let mut out = String::new();
    for f in Family::ALL {
        network(&mut out, f, n);
    }
    out
}

pub fn remove_network(n: &NetFirewall) -> String {
    let mut out = String::new();
    for f in Family::ALL {
        network_delete(&mut out, f, n);
    }
    out
}

/// Replace a container's mappings `old` with `new` in one transaction.
pub fn replace_ports(old: &[PortMapping], new: &[PortMapping]) -> String {
    let mut out = String::new();
    port_lines(&mut out, old, true);
    port_lines(&mut out, new, false);
    out
}

/// Whether a family has anything to do with an address.
pub fn family_of(ip: &IpAddr) -> Family {
    if Family::V4.of_ip(ip) {
        Family::V4
    } else {
        Family::V6
    }
}

#[cfg(test)]
mod tests;
