//! The "local" address space: subnets in use by networks and the round-robin cursor over the predefined pools.

use std::collections::BTreeMap;

use ipnet::IpNet;

use crate::family::{low_mask, make_net, net_bounds, shl, shr};
use crate::{Family, IpamError, PoolSpec};

/// One predefined pool, as a run of equal, aligned candidate subnets.
#[derive(Debug, Clone)]
struct Span {
    /// First address of the base.
    start: u128,
    /// Last address of the base.
    last: u128,
    /// Prefix length of each candidate.
    size: u8,
    /// Host bits of each candidate (`max_prefix_len - size`).
    block_bits: u32,
    /// Number of candidates.
    count: u128,
    /// Global index (over all spans of the family) of the first candidate.
    first_index: u128,
}

/// Per-family state: the predefined candidates, the cursor, and the subnets in use.
#[derive(Debug, Clone)]
struct FamilySpace {
    family: Family,
    pools: Vec<PoolSpec>,
    spans: Vec<Span>,
    /// Number of candidates over all spans.
    total: u128,
    /// Global index of the first candidate to try next (`< total`, or 0 when `total == 0`).
    cursor: u128,
    /// Subnets in use, disjoint: first address → (last address, prefix length).
    in_use: BTreeMap<u128, (u128, u8)>,
}

impl FamilySpace {
    fn new(family: Family, pools: Vec<PoolSpec>) -> Result<Self, IpamError> {
        let mut spans = Vec::with_capacity(pools.len());
        let mut total: u128 = 0;
        for pool in &pools {
            if pool.family() != family {
                return Err(IpamError::InvalidPoolSpec(format!(
                    "invalid default address pool {pool}: not an {family} pool"
                )));
            }
            let pool = PoolSpec::new(pool.base, pool.size)?;
            let count = pool.subnet_count().ok_or_else(|| {
                IpamError::InvalidPoolSpec(format!(
                    "invalid default address pool {pool}: too many subnets"
                ))
            })?;
            let (start, last) = net_bounds(&pool.base);
            spans.push(Span {
                start,
                last,
                size: pool.size,
                block_bits: u32::from(family.max_prefix_len() - pool.size),
                count,
                first_index: total,
            });
            total = total.checked_add(count).ok_or_else(|| {
                IpamError::InvalidPoolSpec(format!(
                    "the {family} default address pools hold too many subnets"
                ))
            })?;
        }
        Ok(FamilySpace {
            family,
            pools,
            spans,
            total,
            cursor: 0,
            in_use: BTreeMap::new(),
        })
    }

    /// The span holding global index `index` (`index < total`) and the index inside it.
    fn locate(&self, index: u128) -> Option<(&Span, u128)> {
        let pos = self.spans.partition_point(|s| s.first_index <= index);
        let span = self.spans.get(pos.checked_sub(1)?)?;
        let local = index - span.first_index;
        (local < span.count).then_some((span, local))
    }

    /// Last address of the in-use subnet overlapping `[first, last]` that ends highest, if any.
    fn in_use_blocker(&self, first: u128, last: u128) -> Option<u128> {
        // In-use subnets are disjoint, so the one starting last at or before `last` also ends last.
        let (_, &(end, _)) = self.in_use.range(..=last).next_back()?;
        (end >= first).then_some(end)
    }

    fn overlaps(&self, first: u128, last: u128) -> bool {
        self.in_use_blocker(first, last).is_some()
    }

    fn allocate(&mut self, exclude: &[(u128, u128)]) -> Result<IpNet, IpamError> {
        let mut index = self.cursor;
        let mut visited: u128 = 0;
        while visited < self.total {
            let Some((span, local)) = self.locate(index) else {
                break;
            };
            let first = span.start + shl(local, span.block_bits);
            let last = first | low_mask(span.block_bits);
            let blocker = exclude
                .iter()
                .filter(|&&(s, e)| s <= last && e >= first)
                .map(|&(_, e)| e)
                .chain(self.in_use_blocker(first, last))
                .max();
            match blocker {
                None => {
                    let net = make_net(first, span.size, self.family);
                    self.in_use.insert(first, (last, span.size));
                    self.cursor = (index + 1) % self.total;
                    return Ok(net);
                }
                Some(end) => {
                    // Every candidate of this span starting at or before `end` overlaps the same blocker: jump past.
                    let skip = if end >= span.last {
                        span.count - local
                    } else {
                        shr(end - span.start, span.block_bits) + 1 - local
                    };
                    visited = visited.saturating_add(skip);
                    index = (index + skip) % self.total;
                }
            }
        }
        Err(IpamError::NoPredefinedPool(self.family))
    }
}

/// The "local" address space: which subnets are in use by networks, and the round-robin cursor over the predefined
/// pools of each family.
///
/// Candidates are never materialised: a pool like `10.0.0.0/8` cut into /30s costs the same as Docker's 31 defaults,
/// and a search skips whole runs of candidates blocked by one in-use or excluded prefix.
#[derive(Debug, Clone)]
pub struct AddressSpace {
    v4: FamilySpace,
    v6: FamilySpace,
}

impl AddressSpace {
    /// An address space with these predefined pools (each list in order of preference; either may be empty).
    ///
    /// Fails with [`IpamError::InvalidPoolSpec`] when a pool is of the wrong family, its size is out of bounds, or
    /// the pools hold more than `u128::MAX` subnets.
    pub fn new(v4: Vec<PoolSpec>, v6: Vec<PoolSpec>) -> Result<Self, IpamError> {
        Ok(AddressSpace {
            v4: FamilySpace::new(Family::V4, v4)?,
            v6: FamilySpace::new(Family::V6, v6)?,
        })
    }

    fn space(&self, family: Family) -> &FamilySpace {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn space_mut(&mut self, family: Family) -> &mut FamilySpace {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// The predefined pools of `family`, as given to [`AddressSpace::new`] (bases with host bits cleared).
    pub fn pools(&self, family: Family) -> &[PoolSpec] {
        &self.space(family).pools
    }

    /// Hands out the next predefined subnet of `family`, Docker's way: round robin starting after the last subnet
    /// handed out (the cursor advances even if the caller later releases it), wrapping at the end, skipping every
    /// candidate that overlaps a subnet in use or any prefix of `exclude` (prefixes of the other family are
    /// ignored). The subnet is marked in use.
    ///
    /// Exhausted → [`IpamError::NoPredefinedPool`].
    pub fn allocate_predefined(
        &mut self,
        family: Family,
        exclude: &[IpNet],
    ) -> Result<IpNet, IpamError> {
        let exclude: Vec<(u128, u128)> = exclude
            .iter()
            .filter(|n| Family::of_net(n) == family)
            .map(net_bounds)
            .collect();
        self.space_mut(family).allocate(&exclude)
    }

    /// Reserves a user-chosen subnet (host bits are ignored). Overlapping (or equal to) any subnet in use →
    /// [`IpamError::PoolOverlap`].
    pub fn reserve(&mut self, subnet: IpNet) -> Result<(), IpamError> {
        let space = self.space_mut(Family::of_net(&subnet));
        let (first, last) = net_bounds(&subnet);
        if space.overlaps(first, last) {
            return Err(IpamError::PoolOverlap);
        }
        space.in_use.insert(first, (last, subnet.prefix_len()));
        Ok(())
    }

    /// Releases a subnet in use (host bits are ignored). A subnet not in use (or in use with another prefix length)
    /// is left alone. The round-robin cursor does not move.
    pub fn release(&mut self, subnet: IpNet) {
        let space = self.space_mut(Family::of_net(&subnet));
        let (first, _) = net_bounds(&subnet);
        if space
            .in_use
            .get(&first)
            .is_some_and(|&(_, len)| len == subnet.prefix_len())
        {
            space.in_use.remove(&first);
        }
    }

    /// Whether exactly this subnet (host bits ignored) is in use.
    pub fn is_in_use(&self, subnet: &IpNet) -> bool {
        let (first, _) = net_bounds(subnet);
        self.space(Family::of_net(subnet))
            .in_use
            .get(&first)
            .is_some_and(|&(_, len)| len == subnet.prefix_len())
    }

    /// Whether `subnet` overlaps any subnet in use.
    pub fn overlaps_in_use(&self, subnet: &IpNet) -> bool {
        let (first, last) = net_bounds(subnet);
        self.space(Family::of_net(subnet)).overlaps(first, last)
    }

    /// The subnets in use, IPv4 first, each family in address order.
    pub fn in_use(&self) -> Vec<IpNet> {
        [&self.v4, &self.v6]
            .into_iter()
            .flat_map(|s| {
                s.in_use
                    .iter()
                    .map(|(&first, &(_, len))| make_net(first, len, s.family))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{docker_default_v4_pools, docker_default_v6_pools, ula_base_from_host_id};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn docker() -> AddressSpace {
        AddressSpace::new(docker_default_v4_pools(), Vec::new()).unwrap()
    }

    fn docker_order() -> Vec<IpNet> {
        let mut all: Vec<IpNet> = (17..=31).map(|i| net(&format!("172.{i}.0.0/16"))).collect();
        all.extend((0..16).map(|i| net(&format!("192.168.{}.0/20", i * 16))));
        all
    }

    #[test]
    fn docker_pool_order() {
        let mut space = docker();
        space.reserve(net("172.17.0.0/16")).unwrap();
        let got: Vec<IpNet> = (0..20)
            .map(|_| space.allocate_predefined(Family::V4, &[]).unwrap())
            .collect();
        let order = docker_order();
        assert_eq!(got, order[1..21].to_vec());
        assert_eq!(got[14], net("192.168.0.0/20"));
        assert_eq!(got[15], net("192.168.16.0/20"));
    }

    #[test]
    fn all_31_then_exhausted() {
        let mut space = docker();
        let got: Vec<IpNet> = (0..31)
            .map(|_| space.allocate_predefined(Family::V4, &[]).unwrap())
            .collect();
        assert_eq!(got, docker_order());
        let err = space.allocate_predefined(Family::V4, &[]).unwrap_err();
        assert_eq!(err, IpamError::NoPredefinedPool(Family::V4));
        assert_eq!(err.http_status(), 404);
        // Releasing one makes exactly that one available again.
        space.release(net("192.168.64.0/20"));
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("192.168.64.0/20")
        );
    }

    #[test]
    fn round_robin_after_release() {
        let mut space = docker();
        space.reserve(net("172.17.0.0/16")).unwrap();
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.18.0.0/16")
        );
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.19.0.0/16")
        );
        let n = space.allocate_predefined(Family::V4, &[]).unwrap();
        assert_eq!(n, net("172.20.0.0/16"));
        space.release(n);
        assert!(!space.is_in_use(&n));
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.21.0.0/16")
        );
    }

    #[test]
    fn wraps_around_skipping_in_use() {
        let mut space = docker();
        space.reserve(net("172.17.0.0/16")).unwrap();
        // Move the cursor to the end: hand out everything, then free a few.
        while space.allocate_predefined(Family::V4, &[]).is_ok() {}
        for n in ["172.18.0.0/16", "172.20.0.0/16", "192.168.16.0/20"] {
            space.release(net(n));
        }
        // The cursor is past the last pool: wrap to the start, skip 172.17 (in use).
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.18.0.0/16")
        );
        // Then skip 172.19 (in use) and continue.
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.20.0.0/16")
        );
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("192.168.16.0/20")
        );
        assert!(space.allocate_predefined(Family::V4, &[]).is_err());
    }

    #[test]
    fn wrap_returns_to_freed_pool_before_cursor() {
        let mut space = docker();
        let first = space.allocate_predefined(Family::V4, &[]).unwrap();
        assert_eq!(first, net("172.17.0.0/16"));
        for _ in 0..29 {
            space.allocate_predefined(Family::V4, &[]).unwrap();
        }
        space.release(first);
        // 192.168.240.0/20 is still free and comes first, then the wrap finds 172.17.
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("192.168.240.0/20")
        );
        assert_eq!(space.allocate_predefined(Family::V4, &[]).unwrap(), first);
    }

    #[test]
    fn exclude_list_respected() {
        let mut space = docker();
        let exclude = [
            net("172.17.5.0/24"), // host route inside 172.17
            net("172.18.0.1/32"), // a nameserver
            net("172.19.0.0/15"), // covers 172.18 and 172.19 — prefix given with host bits
            net("fd00::/8"),      // other family: ignored
        ];
        assert_eq!(
            space.allocate_predefined(Family::V4, &exclude).unwrap(),
            net("172.20.0.0/16")
        );
        // Excludes are per call: the skipped pools are not marked in use.
        assert!(!space.is_in_use(&net("172.17.0.0/16")));
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.21.0.0/16")
        );
        // A big exclude covering all of 172.16/12 skips straight to 192.168.
        assert_eq!(
            space
                .allocate_predefined(Family::V4, &[net("172.16.0.0/12")])
                .unwrap(),
            net("192.168.0.0/20")
        );
        // Excluding everything: exhausted.
        assert_eq!(
            space
                .allocate_predefined(Family::V4, &[net("0.0.0.0/0")])
                .unwrap_err(),
            IpamError::NoPredefinedPool(Family::V4)
        );
    }

    #[test]
    fn reserve_overlap_and_release() {
        let mut space = docker();
        space.reserve(net("10.99.0.0/24")).unwrap();
        let err = space.reserve(net("10.99.0.0/25")).unwrap_err();
        assert_eq!(err, IpamError::PoolOverlap);
        assert_eq!(err.http_status(), 403);
        assert_eq!(
            space.reserve(net("10.99.0.0/24")),
            Err(IpamError::PoolOverlap)
        );
        assert_eq!(
            space.reserve(net("10.0.0.0/8")),
            Err(IpamError::PoolOverlap)
        );
        space.reserve(net("10.99.1.0/24")).unwrap();
        assert!(space.is_in_use(&net("10.99.0.0/24")));
        assert!(!space.is_in_use(&net("10.99.0.0/25")));
        assert!(space.overlaps_in_use(&net("10.99.0.128/25")));
        // Releasing with another prefix length does nothing.
        space.release(net("10.99.0.0/25"));
        assert!(space.is_in_use(&net("10.99.0.0/24")));
        space.release(net("10.99.0.0/24"));
        assert!(!space.is_in_use(&net("10.99.0.0/24")));
        space.reserve(net("10.99.0.0/25")).unwrap();
        assert_eq!(
            space.in_use(),
            vec![net("10.99.0.0/25"), net("10.99.1.0/24")]
        );
        // A user subnet inside a predefined pool makes it skipped.
        space.reserve(net("172.17.3.0/24")).unwrap();
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.18.0.0/16")
        );
        // And a user subnet overlapping an allocated pool is refused.
        assert_eq!(
            space.reserve(net("172.18.0.0/24")),
            Err(IpamError::PoolOverlap)
        );
    }

    #[test]
    fn custom_pools() {
        let pools = vec![
            "base=10.10.0.0/22,size=24".parse::<PoolSpec>().unwrap(),
            "base=10.20.0.0/16,size=17".parse::<PoolSpec>().unwrap(),
        ];
        let mut space = AddressSpace::new(pools.clone(), Vec::new()).unwrap();
        assert_eq!(space.pools(Family::V4), &pools[..]);
        space.reserve(net("10.10.1.7/32")).unwrap();
        let got: Vec<IpNet> = (0..5)
            .map(|_| space.allocate_predefined(Family::V4, &[]).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                net("10.10.0.0/24"),
                net("10.10.2.0/24"),
                net("10.10.3.0/24"),
                net("10.20.0.0/17"),
                net("10.20.128.0/17")
            ]
        );
        assert!(space.allocate_predefined(Family::V4, &[]).is_err());
        // No IPv6 pools configured.
        assert_eq!(
            space.allocate_predefined(Family::V6, &[]),
            Err(IpamError::NoPredefinedPool(Family::V6))
        );
    }

    #[test]
    fn huge_pools_are_cheap() {
        // 10.0.0.0/8 cut into /30s: 4 Mi candidates, never materialised.
        let mut space = AddressSpace::new(
            vec![PoolSpec::new(net("10.0.0.0/8"), 30).unwrap()],
            Vec::new(),
        )
        .unwrap();
        space.reserve(net("10.0.0.0/9")).unwrap();
        assert_eq!(
            space
                .allocate_predefined(Family::V4, &[net("10.128.0.0/10")])
                .unwrap(),
            net("10.192.0.0/30")
        );
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("10.192.0.4/30")
        );
        // fd00::/8 into /64s: 2^56 candidates.
        let mut space6 = AddressSpace::new(
            Vec::new(),
            vec![PoolSpec::new(net("fd00::/8"), 64).unwrap()],
        )
        .unwrap();
        space6.reserve(net("fd00::/9")).unwrap();
        assert_eq!(
            space6.allocate_predefined(Family::V6, &[]).unwrap(),
            net("fd80::/64")
        );
        assert_eq!(
            space6
                .allocate_predefined(Family::V6, &[net("fd80::/16")])
                .unwrap(),
            net("fd81::/64")
        );
        // ::/0 cut into /0: a single candidate.
        let mut all =
            AddressSpace::new(Vec::new(), vec![PoolSpec::new(net("::/0"), 0).unwrap()]).unwrap();
        assert_eq!(
            all.allocate_predefined(Family::V6, &[]).unwrap(),
            net("::/0")
        );
        assert!(all.allocate_predefined(Family::V6, &[]).is_err());
    }

    #[test]
    fn v6_ula_pool_gives_64s() {
        let host = b"d3b07384-d9a0-4f4e-8d5c-7c3b8f0e9a11";
        let base = ula_base_from_host_id(host);
        let mut space =
            AddressSpace::new(docker_default_v4_pools(), docker_default_v6_pools(host)).unwrap();
        let a = space.allocate_predefined(Family::V6, &[]).unwrap();
        let b = space.allocate_predefined(Family::V6, &[]).unwrap();
        let IpNet::V6(a6) = a else { panic!("not v6") };
        let IpNet::V6(b6) = b else { panic!("not v6") };
        assert_eq!(a6.prefix_len(), 64);
        assert_eq!(a6.network(), base.network());
        assert!(base.contains(&b6));
        assert_eq!(
            u128::from(b6.network()) - u128::from(a6.network()),
            1u128 << 64
        );
        // IPv4 cursor is independent.
        assert_eq!(
            space.allocate_predefined(Family::V4, &[]).unwrap(),
            net("172.17.0.0/16")
        );
    }

    #[test]
    fn rejects_bad_pool_lists() {
        let v6 = PoolSpec {
            base: net("fd00::/48"),
            size: 64,
        };
        let err = AddressSpace::new(vec![v6], Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid default address pool base=fd00::/48,size=64: not an IPv4 pool"
        );
        let bad = PoolSpec {
            base: net("10.0.0.0/16"),
            size: 8,
        };
        assert!(matches!(
            AddressSpace::new(vec![bad], Vec::new()),
            Err(IpamError::InvalidPoolSpec(_))
        ));
        let too_many = PoolSpec {
            base: net("::/0"),
            size: 128,
        };
        assert!(matches!(
            AddressSpace::new(Vec::new(), vec![too_many]),
            Err(IpamError::InvalidPoolSpec(_))
        ));
    }

    #[test]
    fn overlapping_pool_specs_never_hand_out_overlaps() {
        let pools = vec![
            PoolSpec::new(net("10.0.0.0/16"), 24).unwrap(),
            PoolSpec::new(net("10.0.0.0/16"), 20).unwrap(),
            PoolSpec::new(net("10.0.0.0/8"), 16).unwrap(),
        ];
        let mut space = AddressSpace::new(pools, Vec::new()).unwrap();
        let mut got = Vec::new();
        while let Ok(n) = space.allocate_predefined(Family::V4, &[]) {
            got.push(n);
        }
        // 256 /24s in 10.0/16, no /20 left, then 255 other /16s of 10/8.
        assert_eq!(got.len(), 256 + 255);
        for (i, a) in got.iter().enumerate() {
            for b in &got[i + 1..] {
                assert!(!a.contains(b) && !b.contains(a), "{a} overlaps {b}");
            }
        }
    }
}
