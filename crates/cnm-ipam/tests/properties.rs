//! Property tests: address allocation against a brute-force model, and predefined-pool allocation against an
//! enumerated round-robin model.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_ipam::{AddressSpace, Family, IpamError, PoolSpec, SubnetPool};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------------------------
// SubnetPool

#[derive(Debug, Clone)]
enum AddrOp {
    Allocate,
    /// Offset from the subnet's first address; may fall outside the subnet.
    Reserve(u32),
    Release(u32),
}

fn addr_op() -> impl Strategy<Value = AddrOp> {
    prop_oneof![
        4 => Just(AddrOp::Allocate),
        2 => (0u32..80).prop_map(AddrOp::Reserve),
        3 => (0u32..80).prop_map(AddrOp::Release),
    ]
}

/// A small subnet (at most 64 addresses) and maybe an ip-range inside it.
fn small_subnet() -> impl Strategy<Value = (IpNet, Option<IpNet>)> {
    let v4 = (any::<u32>(), 26u8..=32)
        .prop_map(|(a, len)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc()));
    let v6 = (any::<u128>(), 122u8..=128)
        .prop_map(|(a, len)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc()));
    (
        prop_oneof![v4, v6],
        any::<bool>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_map(|(subnet, with_range, extra, pick)| {
            if !with_range {
                return (subnet, None);
            }
            let host_bits = subnet.max_prefix_len() - subnet.prefix_len();
            let len = subnet.prefix_len() + extra % (host_bits + 1);
            let sub: Vec<IpNet> = subnet.subnets(len).unwrap().collect();
            (subnet, Some(sub[usize::from(pick) % sub.len()]))
        })
}

fn to_int(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_int(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

fn bounds(n: &IpNet) -> (u128, u128) {
    (to_int(n.network()), to_int(n.broadcast()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn subnet_pool_matches_model((subnet, range) in small_subnet(), ops in prop::collection::vec(addr_op(), 1..120)) {
        let mut pool = SubnetPool::new(subnet, range).unwrap();
        let v4 = matches!(subnet, IpNet::V4(_));
        let (first, last) = bounds(&subnet);
        let (r_first, r_last) = range.as_ref().map_or((first, last), bounds);
        // Docker's reserved addresses, computed independently.
        let mut fixed = BTreeSet::new();
        if !v4 {
            fixed.insert(first);
        } else if subnet.prefix_len() <= 30 {
            fixed.insert(first);
            fixed.insert(last);
        }
        let mut used: BTreeSet<u128> = BTreeSet::new();
        let mut handed_out: BTreeSet<u128> = BTreeSet::new();

        for op in ops {
            match op {
                AddrOp::Allocate => {
                    let expected = (r_first..=r_last).find(|v| !used.contains(v) && !fixed.contains(v));
                    match pool.allocate() {
                        Ok(a) => {
                            let v = to_int(a);
                            prop_assert!(v >= r_first && v <= r_last, "{a} outside the range");
                            prop_assert!(!fixed.contains(&v), "{a} is reserved");
                            prop_assert!(!used.contains(&v), "{a} handed out twice");
                            prop_assert_eq!(Some(v), expected, "not the lowest free");
                            used.insert(v);
                            handed_out.insert(v);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, IpamError::Exhausted { family: if v4 { Family::V4 } else { Family::V6 } });
                            prop_assert_eq!(expected, None);
                        }
                    }
                }
                AddrOp::Reserve(off) => {
                    let v = first + u128::from(off);
                    let addr = from_int(v, v4);
                    let got = pool.reserve(addr);
                    if v > last {
                        prop_assert_eq!(got, Err(IpamError::OutOfSubnet { addr, subnet }));
                    } else if used.contains(&v) || fixed.contains(&v) {
                        prop_assert_eq!(got, Err(IpamError::AddressInUse));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        used.insert(v);
                    }
                }
                AddrOp::Release(off) => {
                    let v = first + u128::from(off);
                    pool.release(from_int(v, v4));
                    used.remove(&v);
                }
            }
            prop_assert_eq!(pool.allocated_count(), (used.len() + fixed.len()) as u128);
            let free_in_range =
                (r_first..=r_last).filter(|v| !used.contains(v) && !fixed.contains(v)).count() as u128;
            prop_assert_eq!(pool.dynamic_available(), free_in_range);
            for v in first..=last {
                prop_assert_eq!(pool.is_allocated(from_int(v, v4)), used.contains(&v) || fixed.contains(&v));
            }
            let listed: Vec<u128> = pool.allocated_addresses().map(to_int).collect();
            prop_assert_eq!(listed, used.iter().copied().collect::<Vec<_>>());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// AddressSpace

#[derive(Debug, Clone)]
enum PoolOp {
    /// Allocate with these excludes.
    Allocate(Vec<IpNet>),
    /// Reserve a user subnet.
    Reserve(IpNet),
    /// Release the n-th subnet in use (modulo).
    Release(usize),
}

/// A prefix inside 10.0.0.0/12 of length 12..=24.
fn v4_in_ten() -> impl Strategy<Value = IpNet> {
    (0u32..(1 << 20), 12u8..=24).prop_map(|(bits, len)| {
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | bits), len)
                .unwrap()
                .trunc(),
        )
    })
}

fn pool_spec() -> impl Strategy<Value = PoolSpec> {
    (v4_in_ten(), 0u8..=5)
        .prop_map(|(base, extra)| PoolSpec::new(base, (base.prefix_len() + extra).min(32)).unwrap())
}

fn pool_op() -> impl Strategy<Value = PoolOp> {
    prop_oneof![
        5 => prop::collection::vec(v4_in_ten(), 0..3).prop_map(PoolOp::Allocate),
        2 => v4_in_ten().prop_map(PoolOp::Reserve),
        3 => any::<usize>().prop_map(PoolOp::Release),
    ]
}

fn overlap(a: &IpNet, b: &IpNet) -> bool {
    let (a1, a2) = bounds(a);
    let (b1, b2) = bounds(b);
    a1 <= b2 && b1 <= a2
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn predefined_pools_round_robin_without_overlap(
        pools in prop::collection::vec(pool_spec(), 1..5),
        ops in prop::collection::vec(pool_op(), 1..80),
    ) {
        let mut space = AddressSpace::new(pools.clone(), Vec::new()).unwrap();
        // Model: every candidate enumerated, Docker's cursor, the subnets in use.
        let candidates: Vec<IpNet> = pools.iter().flat_map(|p| p.base.subnets(p.size).unwrap()).collect();
        let mut cursor = 0usize;
        let mut in_use: Vec<IpNet> = Vec::new();

        for op in ops {
            match op {
                PoolOp::Allocate(exclude) => {
                    let n = candidates.len();
                    let pick = (0..n).map(|k| (cursor + k) % n).find(|&i| {
                        let c = &candidates[i];
                        !in_use.iter().any(|u| overlap(u, c)) && !exclude.iter().any(|e| overlap(e, c))
                    });
                    match space.allocate_predefined(Family::V4, &exclude) {
                        Ok(net) => {
                            prop_assert!(!in_use.iter().any(|u| overlap(u, &net)), "{net} overlaps a subnet in use");
                            prop_assert!(!exclude.iter().any(|e| overlap(e, &net)), "{net} overlaps an exclude");
                            let i = pick.unwrap();
                            prop_assert_eq!(net, candidates[i]);
                            cursor = (i + 1) % n;
                            in_use.push(net);
                        }
                        Err(e) => {
                            prop_assert_eq!(e, IpamError::NoPredefinedPool(Family::V4));
                            prop_assert_eq!(pick, None);
                        }
                    }
                }
                PoolOp::Reserve(net) => {
                    let clash = in_use.iter().any(|u| overlap(u, &net));
                    let got = space.reserve(net);
                    if clash {
                        prop_assert_eq!(got, Err(IpamError::PoolOverlap));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        in_use.push(net);
                    }
                }
                PoolOp::Release(k) => {
                    if !in_use.is_empty() {
                        let net = in_use.remove(k % in_use.len());
                        prop_assert!(space.is_in_use(&net));
                        space.release(net);
                        prop_assert!(!space.is_in_use(&net));
                    }
                }
            }
            // Subnets in use never overlap each other.
            let listed = space.in_use();
            prop_assert_eq!(listed.len(), in_use.len());
            for (i, a) in listed.iter().enumerate() {
                for b in &listed[i + 1..] {
                    prop_assert!(!overlap(a, b), "{a} overlaps {b}");
                }
            }
        }
    }
}
