//! The addresses of one network subnet.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::family::{addr_to_u128, net_bounds, u128_to_addr};
use crate::{Family, IpamError};

/// The addresses inside one network subnet (one per subnet per network).
///
/// Used addresses are kept as merged runs of offsets from the subnet's first address, so memory grows with the
/// number of *holes*, not with the subnet size, and every operation is `O(log runs)`: a /8 or a /64 with thousands
/// of containers is as cheap as a /24.
///
/// Docker's rules: an IPv4 subnet reserves its network and broadcast addresses (not for /31 and /32); an IPv6
/// subnet reserves its subnet-router anycast address (all-zero host part). Dynamic addresses are the lowest free
/// ones of the ip-range (or of the subnet when there is none); only the *subnet's* reserved addresses are skipped,
/// so a range's own network address is handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetPool {
    subnet: IpNet,
    range: Option<IpNet>,
    family: Family,
    /// First address of the subnet, as an integer.
    base: u128,
    /// Largest offset in the subnet (`2^host_bits - 1`).
    last: u128,
    /// Offsets of the ip-range (or the whole subnet), inclusive.
    range_lo: u128,
    range_hi: u128,
    /// Offsets reserved by the subnet itself (network, broadcast, anycast); never released.
    fixed: Vec<u128>,
    /// Used offsets as disjoint, non-adjacent runs: first → last (inclusive).
    runs: BTreeMap<u128, u128>,
    /// Number of used offsets (including `fixed`).
    used: u128,
    /// Number of used offsets inside `range_lo..=range_hi`.
    used_in_range: u128,
}

impl SubnetPool {
    /// The address pool of `subnet` (host bits are ignored). `range` is the `--ip-range`: dynamic addresses come
    /// only from it, static ones ([`SubnetPool::reserve`]) may be anywhere in the subnet.
    ///
    /// A range of the other family, bigger than the subnet or outside it → [`IpamError::InvalidConfig`] with
    /// Docker's texts.
    pub fn new(subnet: IpNet, range: Option<IpNet>) -> Result<Self, IpamError> {
        let subnet = subnet.trunc();
        let family = Family::of_net(&subnet);
        let (base, top) = net_bounds(&subnet);
        let last = top - base;
        let (range_lo, range_hi, range) = match range {
            None => (0, last, None),
            Some(r) => {
                let r = r.trunc();
                if Family::of_net(&r) != family {
                    return Err(IpamError::InvalidConfig(format!(
                        "invalid ip-range {r}: parent subnet is an {family} block"
                    )));
                }
                if r.prefix_len() < subnet.prefix_len() {
                    return Err(IpamError::InvalidConfig(format!(
                        "invalid ip-range {r}: CIDR block is bigger than its parent subnet {subnet}"
                    )));
                }
                if !subnet.contains(&r) {
                    return Err(IpamError::InvalidConfig(format!(
                        "invalid ip-range {r}: parent subnet {subnet} doesn't contain ip-range"
                    )));
                }
                let (lo, hi) = net_bounds(&r);
                (lo - base, hi - base, Some(r))
            }
        };
        let fixed = match family {
            Family::V4 if subnet.prefix_len() <= 30 => vec![0, last],
            Family::V4 => Vec::new(),
            Family::V6 => vec![0],
        };
        let mut pool = SubnetPool {
            subnet,
            range,
            family,
            base,
            last,
            range_lo,
            range_hi,
            fixed: Vec::new(),
            runs: BTreeMap::new(),
            used: 0,
            used_in_range: 0,
        };
        for &off in &fixed {
            pool.insert(off);
        }
        pool.fixed = fixed;
        Ok(pool)
    }

    /// The subnet (host bits cleared).
    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    /// The ip-range, if any (host bits cleared).
    pub fn range(&self) -> Option<IpNet> {
        self.range
    }

    /// The family of the subnet.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Marks an address used (gateway, aux address, static `--ip`, replay at restart).
    ///
    /// Not in the subnet → [`IpamError::OutOfSubnet`]; already used or reserved by the subnet →
    /// [`IpamError::AddressInUse`].
    pub fn reserve(&mut self, addr: IpAddr) -> Result<(), IpamError> {
        let off = self.offset_of(addr)?;
        if self.is_used(off) {
            return Err(IpamError::AddressInUse);
        }
        self.insert(off);
        Ok(())
    }

    /// Hands out the lowest free address of the ip-range (or subnet); freed addresses are reused at once.
    /// Full → [`IpamError::Exhausted`].
    pub fn allocate(&mut self) -> Result<IpAddr, IpamError> {
        let off = self
            .first_free_from(self.range_lo)
            .filter(|&off| off <= self.range_hi)
            .ok_or(IpamError::Exhausted {
                family: self.family,
            })?;
        self.insert(off);
        Ok(self.addr_at(off))
    }

    /// Frees an address. Addresses outside the subnet, not in use, or reserved by the subnet itself are ignored.
    pub fn release(&mut self, addr: IpAddr) {
        if let Ok(off) = self.offset_of(addr) {
            if !self.fixed.contains(&off) {
                self.remove(off);
            }
        }
    }

    /// Whether the address is in use (including the subnet's own reserved addresses). False outside the subnet.
    pub fn is_allocated(&self, addr: IpAddr) -> bool {
        self.offset_of(addr).is_ok_and(|off| self.is_used(off))
    }

    /// Addresses in use in the whole subnet, counting the subnet's own reserved addresses (network/broadcast or
    /// anycast) like Docker's `IPsInUse`: a fresh /24 with its gateway counts 3.
    pub fn allocated_count(&self) -> u128 {
        self.used
    }

    /// Free addresses left for dynamic allocation, i.e. in the ip-range (or subnet); Docker's
    /// `DynamicIPsAvailable`. Saturates at `u128::MAX` for `::/0`.
    pub fn dynamic_available(&self) -> u128 {
        let span = self.range_hi - self.range_lo; // number of addresses - 1
        match self.used_in_range {
            0 => span.saturating_add(1),
            used => span - (used - 1),
        }
    }

    /// The addresses in use, in ascending order, without the subnet's own reserved addresses (what a restart
    /// would replay with [`SubnetPool::reserve`]).
    pub fn allocated_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.runs
            .iter()
            .flat_map(|(&first, &last)| RangeInclusiveU128 {
                next: Some(first),
                last,
            })
            .filter(|off| !self.fixed.contains(off))
            .map(|off| self.addr_at(off))
    }

    fn offset_of(&self, addr: IpAddr) -> Result<u128, IpamError> {
        let value = addr_to_u128(addr);
        if Family::of_addr(&addr) != self.family
            || value < self.base
            || value - self.base > self.last
        {
            return Err(IpamError::OutOfSubnet {
                addr,
                subnet: self.subnet,
            });
        }
        Ok(value - self.base)
    }

    fn addr_at(&self, off: u128) -> IpAddr {
        u128_to_addr(self.base + off, self.family)
    }

    fn is_used(&self, off: u128) -> bool {
        self.runs
            .range(..=off)
            .next_back()
            .is_some_and(|(_, &last)| last >= off)
    }

    /// Lowest free offset at or above `from`, if any (runs are non-adjacent, so the end of a run + 1 is free).
    fn first_free_from(&self, from: u128) -> Option<u128> {
        match self.runs.range(..=from).next_back() {
            Some((_, &last)) if last >= from => last.checked_add(1).filter(|&off| off <= self.last),
            _ => Some(from),
        }
    }

    fn count(&mut self, off: u128, up: bool) {
        let in_range = (self.range_lo..=self.range_hi).contains(&off);
        if up {
            self.used += 1;
            self.used_in_range += u128::from(in_range);
        } else {
            self.used -= 1;
            self.used_in_range -= u128::from(in_range);
        }
    }

    /// Marks a free offset used, merging it with its neighbouring runs.
    fn insert(&mut self, off: u128) {
        let mut first = off;
        let mut last = off;
        if let Some((&s, &e)) = self.runs.range(..off).next_back() {
            if e.checked_add(1) == Some(off) {
                first = s;
            }
        }
        if let Some(next) = off.checked_add(1) {
            if let Some(e) = self.runs.remove(&next) {
                last = e;
            }
        }
        self.runs.insert(first, last);
        self.count(off, true);
    }

    /// Marks an offset free, splitting its run. No-op if it is not used.
    fn remove(&mut self, off: u128) {
        let Some((&first, &last)) = self.runs.range(..=off).next_back() else {
            return;
        };
        if last < off {
            return;
        }
        self.runs.remove(&first);
        if first < off {
            self.runs.insert(first, off - 1);
        }
        if off < last {
            self.runs.insert(off + 1, last);
        }
        self.count(off, false);
    }
}

/// `first..=last` over `u128` without overflow at `u128::MAX`.
struct RangeInclusiveU128 {
    next: Option<u128>,
    last: u128,
}

impl Iterator for RangeInclusiveU128 {
    type Item = u128;

    fn next(&mut self) -> Option<u128> {
        let cur = self.next?;
        self.next = if cur < self.last { Some(cur + 1) } else { None };
        Some(cur)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pool(subnet: &str) -> SubnetPool {
        SubnetPool::new(net(subnet), None).unwrap()
    }

    #[test]
    fn v4_reserves_network_and_broadcast() {
        let mut p = pool("10.1.0.0/24");
        assert!(p.is_allocated(ip("10.1.0.0")));
        assert!(p.is_allocated(ip("10.1.0.255")));
        assert_eq!(p.allocated_count(), 2);
        assert_eq!(p.dynamic_available(), 254);
        assert_eq!(p.reserve(ip("10.1.0.0")), Err(IpamError::AddressInUse));
        assert_eq!(p.reserve(ip("10.1.0.255")), Err(IpamError::AddressInUse));
        assert_eq!(p.allocate().unwrap(), ip("10.1.0.1"));
        // Releasing a reserved address does nothing.
        p.release(ip("10.1.0.0"));
        assert!(p.is_allocated(ip("10.1.0.0")));
        assert_eq!(p.allocate().unwrap(), ip("10.1.0.2"));
        assert_eq!(p.allocated_count(), 4);
        assert_eq!(p.dynamic_available(), 252);
        assert_eq!(
            p.allocated_addresses().collect::<Vec<_>>(),
            vec![ip("10.1.0.1"), ip("10.1.0.2")]
        );
    }

    #[test]
    fn gateway_then_containers_lowest_free_reuse() {
        let mut p = pool("172.18.0.0/16");
        p.reserve(ip("172.18.0.1")).unwrap();
        assert_eq!(p.allocated_count(), 3); // Docker's IPsInUse for an empty network
        assert_eq!(p.dynamic_available(), 65533);
        let a: Vec<IpAddr> = (0..3).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(
            a,
            vec![ip("172.18.0.2"), ip("172.18.0.3"), ip("172.18.0.4")]
        );
        p.release(ip("172.18.0.3"));
        assert!(!p.is_allocated(ip("172.18.0.3")));
        assert_eq!(p.allocate().unwrap(), ip("172.18.0.3"));
        assert_eq!(p.allocate().unwrap(), ip("172.18.0.5"));
        assert_eq!(p.reserve(ip("172.18.0.4")), Err(IpamError::AddressInUse));
    }

    #[test]
    fn out_of_subnet() {
        let mut p = pool("10.99.0.0/24");
        let err = p.reserve(ip("10.1.2.3")).unwrap_err();
        assert_eq!(
            err,
            IpamError::OutOfSubnet {
                addr: ip("10.1.2.3"),
                subnet: net("10.99.0.0/24")
            }
        );
        assert_eq!(
            err.to_string(),
            "Invalid address 10.1.2.3: It does not belong to any of this network's subnets"
        );
        assert_eq!(err.http_status(), 500);
        assert!(matches!(
            p.reserve(ip("fd00::1")),
            Err(IpamError::OutOfSubnet { .. })
        ));
        assert!(!p.is_allocated(ip("10.1.2.3")));
        p.release(ip("10.1.2.3")); // ignored
        assert_eq!(p.allocated_count(), 2);
    }

    #[test]
    fn ip_range_hands_out_range_network_address() {
        let mut p = SubnetPool::new(net("10.98.0.0/16"), Some(net("10.98.5.0/24"))).unwrap();
        assert_eq!(p.range(), Some(net("10.98.5.0/24")));
        p.reserve(ip("10.98.0.254")).unwrap(); // gateway outside the range
        assert_eq!(p.dynamic_available(), 256);
        assert_eq!(p.allocate().unwrap(), ip("10.98.5.0"));
        assert_eq!(p.allocate().unwrap(), ip("10.98.5.1"));
        assert_eq!(p.dynamic_available(), 254);
        // Static addresses may be anywhere in the subnet.
        p.reserve(ip("10.98.200.7")).unwrap();
        p.reserve(ip("10.98.5.2")).unwrap();
        assert_eq!(p.dynamic_available(), 253);
        assert_eq!(p.allocate().unwrap(), ip("10.98.5.3"));
        // Fill the range: the last one is 10.98.5.255 (not the subnet's broadcast), then exhausted.
        let mut last = ip("10.98.5.3");
        while let Ok(a) = p.allocate() {
            last = a;
        }
        assert_eq!(last, ip("10.98.5.255"));
        assert_eq!(p.dynamic_available(), 0);
        assert_eq!(
            p.allocate(),
            Err(IpamError::Exhausted { family: Family::V4 })
        );
        // But the subnet still has room for static addresses.
        p.reserve(ip("10.98.6.0")).unwrap();
    }

    #[test]
    fn ip_range_at_subnet_start_skips_network_address() {
        let mut p = SubnetPool::new(net("10.5.0.0/16"), Some(net("10.5.0.0/30"))).unwrap();
        assert_eq!(p.dynamic_available(), 3);
        assert_eq!(p.allocate().unwrap(), ip("10.5.0.1"));
        // The range equal to the whole subnet behaves like no range.
        let mut q = SubnetPool::new(net("10.6.0.0/30"), Some(net("10.6.0.0/30"))).unwrap();
        assert_eq!(q.dynamic_available(), 2);
        assert_eq!(q.allocate().unwrap(), ip("10.6.0.1"));
        assert_eq!(q.allocate().unwrap(), ip("10.6.0.2"));
        assert!(q.allocate().is_err());
    }

    #[test]
    fn bad_ranges() {
        let cases = [
            ("10.1.0.0/16", "10.2.0.0/24", "invalid ip-range 10.2.0.0/24: parent subnet 10.1.0.0/16 doesn't contain ip-range"),
            ("10.1.0.0/16", "10.0.0.0/8", "invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.1.0.0/16"),
            ("10.1.0.0/16", "fd00::/64", "invalid ip-range fd00::/64: parent subnet is an IPv4 block"),
        ];
        for (subnet, range, text) in cases {
            let err = SubnetPool::new(net(subnet), Some(net(range))).unwrap_err();
            assert_eq!(err, IpamError::InvalidConfig(text.into()));
        }
    }

    #[test]
    fn slash_30_with_gateway_has_one_address() {
        let mut p = pool("10.30.0.0/30");
        p.reserve(ip("10.30.0.1")).unwrap();
        assert_eq!(p.dynamic_available(), 1);
        assert_eq!(p.allocate().unwrap(), ip("10.30.0.2"));
        let err = p.allocate().unwrap_err();
        assert_eq!(err, IpamError::Exhausted { family: Family::V4 });
        assert_eq!(
            err.to_string(),
            "no available IPv4 addresses on this network's address pools"
        );
        assert_eq!(err.http_status(), 500);
        p.release(ip("10.30.0.2"));
        assert_eq!(p.allocate().unwrap(), ip("10.30.0.2"));
    }

    #[test]
    fn slash_31_and_32_reserve_nothing() {
        let mut p = pool("10.31.0.0/31");
        assert_eq!(p.allocated_count(), 0);
        assert_eq!(p.dynamic_available(), 2);
        assert_eq!(p.allocate().unwrap(), ip("10.31.0.0"));
        assert_eq!(p.allocate().unwrap(), ip("10.31.0.1"));
        assert!(p.allocate().is_err());
        let mut q = pool("10.32.0.7/32");
        assert_eq!(q.subnet(), net("10.32.0.7/32"));
        assert_eq!(q.dynamic_available(), 1);
        q.reserve(ip("10.32.0.7")).unwrap();
        assert_eq!(
            q.allocate(),
            Err(IpamError::Exhausted { family: Family::V4 })
        );
        q.release(ip("10.32.0.7"));
        assert_eq!(q.allocate().unwrap(), ip("10.32.0.7"));
    }

    #[test]
    fn v6_reserves_only_anycast() {
        let mut p = pool("fd12:3456:789a:1::/64");
        assert_eq!(p.family(), Family::V6);
        assert!(p.is_allocated(ip("fd12:3456:789a:1::")));
        assert!(!p.is_allocated(ip("fd12:3456:789a:1:ffff:ffff:ffff:ffff")));
        assert_eq!(p.allocated_count(), 1);
        assert_eq!(p.dynamic_available(), u128::from(u64::MAX));
        assert_eq!(p.allocate().unwrap(), ip("fd12:3456:789a:1::1"));
        assert_eq!(p.allocate().unwrap(), ip("fd12:3456:789a:1::2"));
        p.reserve(ip("fd12:3456:789a:1:ffff:ffff:ffff:ffff"))
            .unwrap();
        assert_eq!(
            p.reserve(ip("fd12:3456:789a:1::")),
            Err(IpamError::AddressInUse)
        );
        let err = p.reserve(ip("fd12:3456:789a:2::1")).unwrap_err();
        assert!(matches!(err, IpamError::OutOfSubnet { .. }));
        // A full /126: anycast reserved, three addresses.
        let mut q = pool("fd00::/126");
        assert_eq!(q.dynamic_available(), 3);
        for want in ["fd00::1", "fd00::2", "fd00::3"] {
            assert_eq!(q.allocate().unwrap(), ip(want));
        }
        assert_eq!(
            q.allocate(),
            Err(IpamError::Exhausted { family: Family::V6 })
        );
        // /128: only the anycast address, nothing to hand out (Docker's rule).
        let mut r = pool("fd00::5/128");
        assert_eq!(r.dynamic_available(), 0);
        assert!(r.allocate().is_err());
    }

    #[test]
    fn v6_whole_space_does_not_overflow() {
        let mut p = pool("::/0");
        assert_eq!(p.dynamic_available(), u128::MAX);
        assert_eq!(p.allocate().unwrap(), ip("::1"));
        p.reserve(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
            .unwrap();
        assert_eq!(p.dynamic_available(), u128::MAX - 2);
        assert_eq!(p.allocated_addresses().count(), 2);
    }

    #[test]
    fn v6_range() {
        let mut p = SubnetPool::new(net("fd00:1::/64"), Some(net("fd00:1::1:0/112"))).unwrap();
        assert_eq!(p.dynamic_available(), 65536);
        assert_eq!(p.allocate().unwrap(), ip("fd00:1::1:0"));
        assert_eq!(p.allocate().unwrap(), ip("fd00:1::1:1"));
    }

    #[test]
    fn many_allocations_in_a_slash_16() {
        let mut p = pool("10.200.0.0/16");
        p.reserve(ip("10.200.0.1")).unwrap();
        let addrs: Vec<IpAddr> = (0..5000).map(|_| p.allocate().unwrap()).collect();
        assert_eq!(addrs[0], ip("10.200.0.2"));
        assert_eq!(addrs[4999], ip("10.200.19.137")); // offset 5001
        assert_eq!(p.allocated_count(), 5003);
        // Release every third address in the middle, then reallocate: lowest first.
        let freed: Vec<IpAddr> = addrs[1000..4000].iter().step_by(3).copied().collect();
        for a in &freed {
            p.release(*a);
        }
        assert_eq!(p.allocated_count(), 5003 - 1000);
        for want in &freed {
            assert_eq!(p.allocate().unwrap(), *want);
        }
        assert_eq!(p.allocate().unwrap(), ip("10.200.19.138"));
        assert_eq!(p.dynamic_available(), 65534 - 5002);
    }

    #[test]
    fn fragmented_big_subnets_stay_fast() {
        // A /8 with 100 000 scattered static addresses: each allocation is a tree lookup, not a scan.
        let mut p = pool("10.0.0.0/8");
        for i in 0..100_000u32 {
            p.reserve(IpAddr::V4((0x0a00_0000 + 2 + i * 2).into()))
                .unwrap();
        }
        let start = std::time::Instant::now();
        for i in 0..100_000u32 {
            assert_eq!(
                p.allocate().unwrap(),
                IpAddr::V4((0x0a00_0001 + 2 * i).into())
            );
        }
        // Generous bound: a scan per allocation would take minutes.
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(
            p.allocate().unwrap(),
            IpAddr::V4((0x0a00_0000u32 + 200_001).into())
        );
        // A /64 with thousands of allocations.
        let mut q = pool("fd00:aaaa::/64");
        for _ in 0..10_000 {
            q.allocate().unwrap();
        }
        q.release(ip("fd00:aaaa::100"));
        assert_eq!(q.allocate().unwrap(), ip("fd00:aaaa::100"));
        assert_eq!(q.allocate().unwrap(), ip("fd00:aaaa::2711"));
    }
}
