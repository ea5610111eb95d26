//! Identifiers and generated names.

use rand::Rng;

/// A random 64-hex identifier (networks, endpoints, containers, sandboxes), as Docker's.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill(&mut b);
    hex(&b)
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A random locally administered unicast MAC (Docker 28 and later use random container MACs).
pub fn random_mac() -> [u8; 6] {
    let mut m = [0u8; 6];
    rand::rng().fill(&mut m);
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

/// A bridge MAC: `02:42:` plus four bytes, as Docker's bridges; here the first four bytes of the
/// network id (random), so a bridge made again for the same network (restore) has the same MAC and the
/// gateway entries pinned in its containers stay right.
pub fn bridge_mac(network_id: &str) -> [u8; 6] {
    let mut m = [0x02, 0x42, 0, 0, 0, 0];
    let hex = network_id.as_bytes();
    for (i, b) in m[2..].iter_mut().enumerate() {
        let pair = hex
            .get(2 * i..2 * i + 2)
            .and_then(|p| std::str::from_utf8(p).ok())
            .and_then(|p| u8::from_str_radix(p, 16).ok());
        *b = pair.unwrap_or_else(|| rand::rng().random());
    }
    m
}

pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        m[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(m)
}

/// Host-side veth name: `veth` + 7 hex chars of the endpoint id, so a restart can tell cnm's links apart.
pub fn veth_name(endpoint_id: &str) -> String {
    format!("veth{}", &endpoint_id[..7.min(endpoint_id.len())])
}

/// The name a sandbox interface is created under before it is renamed to `eth0`, `eth1`, … when it comes
/// up. Per-interface sysctls are written while it has this name: a name no other namespace uses keeps
/// the kernel's /proc/sys lookups short, where thousands of namespaces all have an `eth0`.
pub fn staging_ifname(endpoint_id: &str) -> String {
    format!("cnm{}", &endpoint_id[..11.min(endpoint_id.len())])
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "festive",
    "gallant",
    "happy",
    "inspiring",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "trusting",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];
const NAMES: &[&str] = &[
    "babbage", "curie", "dijkstra", "euler", "feynman", "gauss", "hopper", "johnson", "knuth",
    "lovelace", "meitner", "noether", "pascal", "ritchie", "shannon", "thompson", "turing",
    "wozniak", "yalow", "zuse",
];

/// A Docker-style generated container name (`adjective_surname`).
pub fn random_name() -> String {
    let mut r = rand::rng();
    format!(
        "{}_{}",
        ADJECTIVES[r.random_range(0..ADJECTIVES.len())],
        NAMES[r.random_range(0..NAMES.len())]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_mac_follows_its_network_id() {
        let id = "0123abcd".to_string() + &"f".repeat(56);
        assert_eq!(bridge_mac(&id), [0x02, 0x42, 0x01, 0x23, 0xab, 0xcd]);
        assert_eq!(bridge_mac(&id), bridge_mac(&id));
        let other = new_id();
        assert_eq!(&format_mac(&bridge_mac(&other))[6..], {
            let h = &other[..8];
            &format!("{}:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6], &h[6..8])[..]
        });
    }

    #[test]
    fn ids_are_64_hex_and_unique() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn macs_are_local_unicast_and_round_trip() {
        for _ in 0..100 {
            let m = random_mac();
            assert_eq!(m[0] & 0x03, 0x02);
            assert_eq!(parse_mac(&format_mac(&m)), Some(m));
        }
        assert_eq!(parse_mac("02:42:ac:11:00:0"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }
}
