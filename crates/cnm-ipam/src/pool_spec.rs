//! `--default-address-pool` entries, Docker's default pools and the host's ULA prefix.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use ipnet::{IpNet, Ipv6Net};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Family, IpamError};

/// One `--default-address-pool base=CIDR,size=N` entry: `base` is cut into consecutive subnets of prefix length
/// `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PoolSpec {
    /// The block to cut (its host bits are cleared when parsed).
    pub base: IpNet,
    /// Prefix length of each subnet handed out.
    pub size: u8,
}

impl PoolSpec {
    /// A pool spec, checked like a parsed one (the base's host bits are cleared).
    pub fn new(base: IpNet, size: u8) -> Result<Self, IpamError> {
        let spec = PoolSpec {
            base: base.trunc(),
            size,
        };
        spec.check().map_err(|why| {
            IpamError::InvalidPoolSpec(format!("invalid default address pool {spec}: {why}"))
        })?;
        Ok(spec)
    }

    /// The family of the pool.
    pub fn family(&self) -> Family {
        Family::of_net(&self.base)
    }

    /// How many subnets the pool holds, `None` if that does not fit in a `u128` (only `::/0` cut into /128s).
    pub fn subnet_count(&self) -> Option<u128> {
        let diff = u32::from(self.size.saturating_sub(self.base.prefix_len()));
        1u128.checked_shl(diff)
    }

    fn check(&self) -> Result<(), String> {
        let max = self.base.max_prefix_len();
        if self.size > max {
            return Err(format!(
                "size {} is larger than {max}, the longest {} prefix",
                self.size,
                self.family()
            ));
        }
        if self.size < self.base.prefix_len() {
            return Err(format!(
                "size {} is smaller than the prefix length /{} of base {}",
                self.size,
                self.base.prefix_len(),
                self.base
            ));
        }
        Ok(())
    }
}

impl fmt::Display for PoolSpec {
    /// `base=CIDR,size=N`, the form [`PoolSpec::from_str`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "base={},size={}", self.base, self.size)
    }
}

impl FromStr for PoolSpec {
    type Err = IpamError;

    /// Parses `base=172.80.0.0/16,size=24` (keys in any order, case-insensitive, surrounding spaces ignored). Like
    /// Docker, host bits of the base are silently cleared.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |why: String| {
            IpamError::InvalidPoolSpec(format!("invalid default address pool \"{text}\": {why}"))
        };
        let mut base: Option<IpNet> = None;
        let mut size: Option<u8> = None;
        for field in text.split(',') {
            let field = field.trim();
            let Some((key, value)) = field.split_once('=') else {
                return Err(fail(format!("field '{field}' must be a key=value pair")));
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "base" => {
                    if base.is_some() {
                        return Err(fail("key 'base' given twice".into()));
                    }
                    let net = value
                        .parse::<IpNet>()
                        .map_err(|_| fail(format!("base '{value}' is not a valid CIDR block")))?;
                    base = Some(net.trunc());
                }
                "size" => {
                    if size.is_some() {
                        return Err(fail("key 'size' given twice".into()));
                    }
                    let n = value.parse::<u8>().map_err(|_| {
                        fail(format!("size '{value}' must be an integer from 0 to 128"))
                    })?;
                    size = Some(n);
                }
                _ => {
                    return Err(fail(format!(
                        "unexpected key '{key}' (expected 'base' or 'size')"
                    )))
                }
            }
        }
        let base = base.ok_or_else(|| fail("missing key 'base'".into()))?;
        let size = size.ok_or_else(|| fail("missing key 'size'".into()))?;
        let spec = PoolSpec { base, size };
        spec.check().map_err(fail)?;
        Ok(spec)
    }
}

fn spec(base: &str, size: u8) -> Option<PoolSpec> {
    base.parse().ok().map(|base| PoolSpec { base, size })
}

/// Docker's local default IPv4 pools, in order: 172.17–172.31 as /16s (15 subnets), then 192.168.0.0/16 as /20s
/// (16 subnets).
pub fn docker_default_v4_pools() -> Vec<PoolSpec> {
    [
        ("172.17.0.0/16", 16),
        ("172.18.0.0/16", 16),
        ("172.19.0.0/16", 16),
        ("172.20.0.0/14", 16),
        ("172.24.0.0/14", 16),
        ("172.28.0.0/14", 16),
        ("192.168.0.0/16", 20),
    ]
    .into_iter()
    .filter_map(|(base, size)| spec(base, size))
    .collect()
}

/// The host's ULA /48, Docker's way (`deriveULABaseNetwork`): `fd00::/8` followed by a 40-bit global ID, which is
/// the low 40 bits of the first 8 bytes (big endian) of `sha256(host_id)`, i.e. bytes 3 to 7 of the digest.
pub fn ula_base_from_host_id(host_id: &[u8]) -> Ipv6Net {
    let digest = Sha256::digest(host_id);
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..6].copy_from_slice(&digest[3..8]);
    Ipv6Net::new(Ipv6Addr::from(octets), 48)
        .unwrap_or_else(|_| Ipv6Net::from(Ipv6Addr::from(octets)))
}

/// The default IPv6 pool list used when no IPv6 pool is configured: the host's ULA /48 cut into /64s.
pub fn docker_default_v6_pools(host_id: &[u8]) -> Vec<PoolSpec> {
    vec![PoolSpec {
        base: IpNet::V6(ula_base_from_host_id(host_id)),
        size: 64,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    #[test]
    fn parses_both_key_orders() {
        let a: PoolSpec = "base=172.80.0.0/16,size=24".parse().expect("parse");
        let b: PoolSpec = "size=24,base=172.80.0.0/16".parse().expect("parse");
        assert_eq!(a, b);
        assert_eq!(
            a,
            PoolSpec {
                base: net("172.80.0.0/16"),
                size: 24
            }
        );
        assert_eq!(a.to_string(), "base=172.80.0.0/16,size=24");
        assert_eq!(a.subnet_count(), Some(256));
        assert_eq!(a.family(), Family::V4);
        let c: PoolSpec = " BASE = fd00:1::/48 , Size=64 ".parse().expect("parse");
        assert_eq!(
            c,
            PoolSpec {
                base: net("fd00:1::/48"),
                size: 64
            }
        );
        assert_eq!(c.family(), Family::V6);
    }

    #[test]
    fn clears_host_bits_like_docker() {
        let a: PoolSpec = "base=10.10.3.4/16,size=24".parse().expect("parse");
        assert_eq!(a.base, net("10.10.0.0/16"));
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (
                "base=172.80.0.0/16,size=8",
                "size 8 is smaller than the prefix length /16 of base 172.80.0.0/16",
            ),
            ("base=foo,size=24", "base 'foo' is not a valid CIDR block"),
            (
                "base=10.0.0.0/33,size=24",
                "base '10.0.0.0/33' is not a valid CIDR block",
            ),
            ("size=24", "missing key 'base'"),
            ("base=10.0.0.0/8", "missing key 'size'"),
            (
                "base=10.0.0.0/8,size=33",
                "size 33 is larger than 32, the longest IPv4 prefix",
            ),
            (
                "base=fd00::/8,size=129",
                "size 129 is larger than 128, the longest IPv6 prefix",
            ),
            (
                "base=10.0.0.0/8,size=x",
                "size 'x' must be an integer from 0 to 128",
            ),
            (
                "base=10.0.0.0/8,size=24,color=red",
                "unexpected key 'color' (expected 'base' or 'size')",
            ),
            (
                "base=10.0.0.0/8,size",
                "field 'size' must be a key=value pair",
            ),
            (
                "base=10.0.0.0/8,base=11.0.0.0/8,size=24",
                "key 'base' given twice",
            ),
            ("", "field '' must be a key=value pair"),
        ];
        for (text, why) in cases {
            let err = text.parse::<PoolSpec>().expect_err(text);
            assert_eq!(
                err,
                IpamError::InvalidPoolSpec(format!(
                    "invalid default address pool \"{text}\": {why}"
                ))
            );
            assert_eq!(err.http_status(), 400);
        }
    }

    #[test]
    fn new_checks() {
        assert!(PoolSpec::new(net("10.0.0.0/8"), 24).is_ok());
        let err = PoolSpec::new(net("10.0.0.0/8"), 4).expect_err("too small");
        assert_eq!(
            err.to_string(),
            "invalid default address pool base=10.0.0.0/8,size=4: size 4 is smaller than the prefix length /8 of base 10.0.0.0/8"
        );
        assert_eq!(
            PoolSpec {
                base: net("::/0"),
                size: 128
            }
            .subnet_count(),
            None
        );
    }

    #[test]
    fn docker_defaults() {
        let pools = docker_default_v4_pools();
        assert_eq!(pools.len(), 7);
        assert_eq!(
            pools[0],
            PoolSpec {
                base: net("172.17.0.0/16"),
                size: 16
            }
        );
        assert_eq!(
            pools[3],
            PoolSpec {
                base: net("172.20.0.0/14"),
                size: 16
            }
        );
        assert_eq!(
            pools[6],
            PoolSpec {
                base: net("192.168.0.0/16"),
                size: 20
            }
        );
        let total: u128 = pools.iter().filter_map(PoolSpec::subnet_count).sum();
        assert_eq!(total, 31);
    }

    #[test]
    fn ula_is_stable_and_well_formed() {
        let a = ula_base_from_host_id(b"5b9c8e4e-6b3f-4b6e-9a43-3f2a2b7c1d00");
        let b = ula_base_from_host_id(b"5b9c8e4e-6b3f-4b6e-9a43-3f2a2b7c1d00");
        let c = ula_base_from_host_id(b"another host");
        assert_eq!(a, b);
        assert_ne!(a, c);
        let ula: Ipv6Net = "fd00::/8".parse().expect("net");
        for n in [a, c] {
            assert_eq!(n.prefix_len(), 48);
            assert!(ula.contains(&n));
            assert_eq!(n, n.trunc());
        }
        // sha256("") = e3b0c442 98fc1c14 …: the global ID is bytes 3..8 = 42 98 fc 1c 14.
        assert_eq!(
            ula_base_from_host_id(b""),
            "fd42:98fc:1c14::/48".parse::<Ipv6Net>().expect("net")
        );
        let v6 = docker_default_v6_pools(b"");
        assert_eq!(
            v6,
            vec![PoolSpec {
                base: net("fd42:98fc:1c14::/48"),
                size: 64
            }]
        );
    }
}
