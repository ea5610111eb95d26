//! What the healer expects the kernel to hold, and what of it is missing.
//!
//! Why chains and rule counts, and not a table check or a full comparison: a table check (what the
//! `nft list tables` poll did) misses `nft flush chain ip cnm nat-PREROUTING`, which breaks every
//! published port just as well; comparing rule contents means decoding nf_tables expressions, which
//! ties cnm to one nft/kernel wire version (netavark broke that way). Every chain cnm writes is
//! declared, flushed and filled with a known number of rules in one transaction, so "each chain
//! exists and holds exactly that many rules" is exact for every change cnm makes itself, is read
//! with three small netlink dumps, and catches a deleted table, a deleted chain, a flushed chain and
//! a rule added to or deleted from cnm's chains. The user chain only has to exist (its rules are the
//! user's). Not covered: a rule replaced in place (same count), and map elements (a flushed
//! `dnat-*` map); both are put right by the next full replacement.

use std::collections::BTreeMap;
use std::fmt;

use cnm_core::firewall::NetFirewall;
use cnm_linux::nftdump::Inventory;

use crate::render::{self, Family, TABLE, USER_CHAIN};

/// Chains of both families with their expected number of rules (None: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    chains: BTreeMap<(u8, String), Option<usize>>,
}

/// The expectation for the desired networks.
pub fn expected(nets: &[NetFirewall]) -> Expected {
    let mut chains = BTreeMap::new();
    for f in Family::ALL {
        chains.insert((f.nfproto(), USER_CHAIN.to_string()), None);
        let specs = render::base_chains(f)
            .into_iter()
            .chain(nets.iter().flat_map(|n| render::bridge_chains(f, n)));
        for c in specs {
            chains.insert((f.nfproto(), c.name), Some(c.rules.len()));
        }
    }
    Expected { chains }
}

/// Something of cnm's that the kernel does not hold as cnm wrote it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Missing {
    Table(u8),
    Chain(u8, String),
    Rules {
        family: u8,
        chain: String,
        have: usize,
        want: usize,
    },
}

fn fam(f: u8) -> &'static str {
    if f == Family::V6.nfproto() {
        "ip6"
    } else {
        "ip"
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Table(f) => write!(out, "table {} {TABLE}", fam(*f)),
            Missing::Chain(f, c) => write!(out, "chain {} {TABLE} {c}", fam(*f)),
            Missing::Rules {
                family,
                chain,
                have,
                want,
            } => write!(
                out,
                "rules of chain {} {TABLE} {chain} ({have} of {want})",
                fam(*family)
            ),
        }
    }
}

/// A short list for a log line: the first few, and how many more.
pub fn summary(missing: &[Missing]) -> String {
    const SHOWN: usize = 4;
    let mut s: Vec<String> = missing.iter().take(SHOWN).map(|m| m.to_string()).collect();
    if missing.len() > SHOWN {
        s.push(format!("{} more", missing.len() - SHOWN));
    }
    s.join(", ")
}

impl Expected {
    /// What of this is not in `inv`. A missing table is one entry, not one per chain; chains the
    /// kernel has beyond these (a user's, in cnm's table) are not cnm's business here.
    pub fn missing(&self, inv: &Inventory) -> Vec<Missing> {
        let mut out = Vec::new();
        for f in Family::ALL {
            let nf = f.nfproto();
            if !inv.tables.contains(&nf) {
                out.push(Missing::Table(nf));
                continue;
            }
            for ((cf, chain), want) in &self.chains {
                if *cf != nf {
                    continue;
                }
                match (inv.chains.get(&(nf, chain.clone())), want) {
                    (None, _) => out.push(Missing::Chain(nf, chain.clone())),
                    (Some(have), Some(want)) if have != want => out.push(Missing::Rules {
                        family: nf,
                        chain: chain.clone(),
                        have: *have,
                        want: *want,
                    }),
                    _ => {}
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(bridge: &str, subnets: &[&str], internal: bool) -> NetFirewall {
        NetFirewall {
            id: format!("id-{bridge}"),
            bridge: bridge.into(),
            subnets: subnets.iter().map(|s| s.parse().expect("net")).collect(),
            icc: true,
            masquerade: true,
            internal,
            snat_v4: None,
        }
    }

    /// The kernel as it is right after cnm applied `nets` (every expected chain, exact counts), with
    /// a user rule and a user chain besides.
    fn applied(nets: &[NetFirewall]) -> Inventory {
        let mut inv = Inventory::default();
        for f in Family::ALL {
            inv.tables.insert(f.nfproto());
            inv.chains.insert((f.nfproto(), "user".into()), 3);
            inv.chains.insert((f.nfproto(), "my-own".into()), 1);
        }
        for ((f, c), n) in &expected(nets).chains {
            inv.chains.insert((*f, c.clone()), n.unwrap_or(3));
        }
        inv
    }

    #[test]
    fn what_cnm_applied_is_complete() {
        let nets = [
            net("br-a", &["172.18.0.0/16", "fd00::/64"], false),
            net("br-i", &["172.19.0.0/16"], true),
        ];
        let e = expected(&nets);
        assert!(e.missing(&applied(&nets)).is_empty());
        // The base chains' rule counts are what render writes.
        assert_eq!(
            e.chains.get(&(2, "filter-FORWARD".into())),
            Some(&Some(3)),
            "jump user, fwd-in, fwd-out"
        );
        assert_eq!(e.chains.get(&(10, "nat-OUTPUT".into())), Some(&Some(2)));
        assert_eq!(e.chains.get(&(2, "user".into())), Some(&None));
        // An internal network masquerades nothing: its nat-out chain exists and is empty.
        assert_eq!(e.chains.get(&(2, "nat-out__br-i".into())), Some(&Some(0)));
        // 2 families × (user + 6 base chains + 4 per bridge × 2 bridges).
        assert_eq!(e.chains.len(), 2 * (1 + 6 + 8));
    }

    #[test]
    fn tampering_is_named() {
        let nets = [net("br-a", &["172.18.0.0/16"], false)];
        let e = expected(&nets);
        let good = applied(&nets);

        let mut no_table = good.clone();
        no_table.tables.remove(&2);
        no_table.chains.retain(|(f, _), _| *f != 2);
        assert_eq!(e.missing(&no_table), [Missing::Table(2)]);
        assert_eq!(summary(&e.missing(&no_table)), "table ip cnm");

        let mut flushed = good.clone();
        flushed.chains.insert((2, "filter-FORWARD".into()), 0);
        assert_eq!(
            summary(&e.missing(&flushed)),
            "rules of chain ip cnm filter-FORWARD (0 of 3)"
        );

        let mut extra = good.clone();
        extra.chains.insert((10, "nat-PREROUTING".into()), 3);
        assert_eq!(e.missing(&extra).len(), 1, "an added rule is a change too");

        let mut gone = good.clone();
        gone.chains.remove(&(10, "nat-ports".into()));
        gone.chains.remove(&(10, "user".into()));
        assert_eq!(
            e.missing(&gone),
            [
                Missing::Chain(10, "nat-ports".into()),
                Missing::Chain(10, "user".into())
            ]
        );
        // A user rule more or less is not.
        let mut user = good;
        user.chains.insert((2, "user".into()), 0);
        assert!(e.missing(&user).is_empty());
    }

    fn nft(script: &str) {
        use std::io::Write;
        let mut c = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("nft");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("script");
        assert!(c.wait().expect("nft").success(), "nft refused:\n{script}");
    }

    fn kernel() -> Inventory {
        cnm_linux::nftdump::inventory(TABLE, &Family::ALL.map(Family::nfproto)).expect("inventory")
    }

    /// What render writes is what the expectation says, counted by the kernel itself (in a namespace
    /// of this test's own; needs root and nft): a wrong count here would make the healer replace the
    /// ruleset after every change of cnm's own.
    #[test]
    fn the_kernel_holds_what_render_wrote() {
        // SAFETY: unshare of the calling thread's network namespace only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
        let mut icc_off = net("br-b", &["172.20.0.0/16", "fd00:2::/64"], false);
        icc_off.icc = false;
        let mut snat = net("br-s", &["172.21.0.0/16"], false);
        snat.snat_v4 = Some("192.0.2.10".parse().expect("ip"));
        let mut no_masq = net("br-n", &["172.22.0.0/16"], false);
        no_masq.masquerade = false;
        let nets = vec![
            net("br-a", &["172.18.0.0/16", "fd00:1::/64"], false),
            net("br-i", &["172.19.0.0/16"], true),
            icc_off,
            snat,
        ];
        let ports = [cnm_core::ports::PortMapping {
            proto: cnm_core::ports::Proto::Tcp,
            host_ip: None,
            host_port: 8080,
            ctr_ip: "172.18.0.2".parse().expect("ip"),
            ctr_port: 80,
            count: 1,
        }];
        nft(&render::full(&nets, &[&ports], &[]));
        assert_eq!(expected(&nets).missing(&kernel()), []);
        // Incremental changes keep it exact.
        nft(&render::add_network(&no_masq));
        let mut more = nets.clone();
        more.push(no_masq.clone());
        assert_eq!(expected(&more).missing(&kernel()), []);
        nft(&render::remove_network(&nets[1]));
        more.remove(1);
        assert_eq!(expected(&more).missing(&kernel()), []);
        // A user's rules and chains change nothing; a flushed base chain does.
        nft("add rule ip cnm user drop\nadd chain ip cnm mine");
        assert_eq!(expected(&more).missing(&kernel()), []);
        nft("flush chain ip6 cnm nat-PREROUTING");
        assert_eq!(
            summary(&expected(&more).missing(&kernel())),
            "rules of chain ip6 cnm nat-PREROUTING (0 of 2)"
        );
    }

    /// What one check costs (the dumps and the comparison) with 1, 10 and 100 networks in cnm's tables.
    /// `cargo test -p cnm-firewall --release --lib expect::tests::check_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, not a check"]
    fn check_timing() {
        // SAFETY: unshare of the calling thread's network namespace only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
        let mut nets = Vec::new();
        for n in [1usize, 10, 100] {
            while nets.len() < n {
                let i = nets.len();
                nets.push(net(
                    &format!("br-{i:04}"),
                    &[
                        &format!("10.{}.{}.0/24", i / 250, i % 250),
                        &format!("fd00:{i:x}::/64"),
                    ],
                    false,
                ));
            }
            nft(&render::full(&nets, &[], &[]));
            let want = expected(&nets);
            let mut took: Vec<f64> = (0..50)
                .map(|_| {
                    let t = std::time::Instant::now();
                    assert!(want.missing(&kernel()).is_empty());
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            took.sort_by(f64::total_cmp);
            let inv = kernel();
            println!(
                "{n} networks ({} chains, {} rules): check median {:.2} ms, max {:.2} ms",
                inv.chains.len(),
                inv.chains.values().sum::<usize>(),
                took[25],
                took[49]
            );
        }
    }

    #[test]
    fn a_long_list_is_cut() {
        let m: Vec<Missing> = (0..6).map(|i| Missing::Chain(2, format!("c{i}"))).collect();
        assert_eq!(
            summary(&m),
            "chain ip cnm c0, chain ip cnm c1, chain ip cnm c2, chain ip cnm c3, 2 more"
        );
    }
}
