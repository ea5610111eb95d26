//! Address families and the integer arithmetic on addresses shared by the allocators.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of_addr(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family of a prefix.
    pub fn of_net(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// Number of bits in an address of this family (32 or 128).
    pub fn max_prefix_len(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

impl fmt::Display for Family {
    /// `IPv4` / `IPv6`, as in Docker's messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// The address as an unsigned integer (IPv4 in the low 32 bits).
pub(crate) fn addr_to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address of `family` whose integer value is `value` (for IPv4 only the low 32 bits are used).
pub(crate) fn u128_to_addr(value: u128, family: Family) -> IpAddr {
    match family {
        // Truncation is intended: IPv4 values always fit in 32 bits.
        Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

/// `2^bits - 1` for `bits` in `0..=128` (all ones for 128).
pub(crate) fn low_mask(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// `value >> bits`, 0 when `bits >= 128`.
pub(crate) fn shr(value: u128, bits: u32) -> u128 {
    value.checked_shr(bits).unwrap_or(0)
}

/// `value << bits`, 0 when `bits >= 128`.
pub(crate) fn shl(value: u128, bits: u32) -> u128 {
    value.checked_shl(bits).unwrap_or(0)
}

/// First and last address of a prefix, as integers (the prefix's host bits are ignored).
pub(crate) fn net_bounds(net: &IpNet) -> (u128, u128) {
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let first = addr_to_u128(net.network());
    (first, first | low_mask(host_bits))
}

/// The prefix of `family` starting at integer address `start` with length `prefix_len` (clamped to the family's
/// maximum).
pub(crate) fn make_net(start: u128, prefix_len: u8, family: Family) -> IpNet {
    let len = prefix_len.min(family.max_prefix_len());
    match u128_to_addr(start, family) {
        IpAddr::V4(a) => IpNet::V4(
            Ipv4Net::new(a, len)
                .unwrap_or_else(|_| Ipv4Net::from(a))
                .trunc(),
        ),
        IpAddr::V6(a) => IpNet::V6(
            Ipv6Net::new(a, len)
                .unwrap_or_else(|_| Ipv6Net::from(a))
                .trunc(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_helpers() {
        assert_eq!(Family::V4.to_string(), "IPv4");
        assert_eq!(Family::V6.to_string(), "IPv6");
        assert_eq!(low_mask(0), 0);
        assert_eq!(low_mask(8), 255);
        assert_eq!(low_mask(128), u128::MAX);
        assert_eq!(shr(u128::MAX, 128), 0);
        assert_eq!(shl(1, 128), 0);
        let net: IpNet = "10.1.2.3/16".parse().expect("net");
        assert_eq!(net_bounds(&net), (0x0a01_0000, 0x0a01_ffff));
        assert_eq!(
            make_net(0x0a01_0000, 16, Family::V4),
            "10.1.0.0/16".parse::<IpNet>().expect("net")
        );
        let all: IpNet = "::/0".parse().expect("net");
        assert_eq!(net_bounds(&all), (0, u128::MAX));
        assert_eq!(
            u128_to_addr(1, Family::V6),
            "::1".parse::<IpAddr>().expect("addr")
        );
    }
}
