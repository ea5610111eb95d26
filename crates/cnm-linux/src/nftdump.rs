//! What nf_tables holds of one table name, asked in-process: which families have it, its chains, and
//! how many rules each chain holds. Netlink dumps on one socket (`NFT_MSG_GETTABLE`,
//! `NFT_MSG_GETCHAIN`, and `NFT_MSG_GETRULE` filtered by table, once per family: with a table filter
//! the kernel stops after the first table of that name), where `nft list table` is a process, a full
//! dump and JSON to parse.
//!
//! Rules are only counted, never decoded: counting is enough to see a flushed or edited chain, and
//! decoding expressions is what ties a reader to one nft version (netavark's breakages).

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{LinuxError, Result};
use crate::nftmon::{NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_NEWTABLE};
use crate::nlmsg;

const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_GETRULE: u16 = 7;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFPROTO_UNSPEC: u8 = 0;

/// A dump interrupted by a concurrent transaction is started again at most this often.
const ATTEMPTS: usize = 5;

/// The tables of one name, per family (`NFPROTO_*`), as the kernel has them right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Families that have the table.
    pub tables: BTreeSet<u8>,
    /// Every chain of those tables (family, name) with its number of rules.
    pub chains: BTreeMap<(u8, String), usize>,
}

impl Inventory {
    /// Chains of one family's table.
    pub fn chains_of(&self, family: u8) -> impl Iterator<Item = (&str, usize)> {
        self.chains
            .iter()
            .filter(move |((f, _), _)| *f == family)
            .map(|((_, c), n)| (c.as_str(), *n))
    }
}

/// The table `table` of each of `families` (`NFPROTO_*`), in the calling thread's network namespace
/// (blocking: a few netlink round trips, well under a millisecond for cnm's tables).
pub fn inventory(table: &str, families: &[u8]) -> Result<Inventory> {
    let sock = crate::nftnl::netfilter_socket("nf_tables dump socket")?;
    for _ in 0..ATTEMPTS {
        if let Some(inv) = dump_all(&sock, table, families)? {
            return Ok(inv);
        }
    }
    Err(LinuxError::Errno {
        op: format!("nf_tables dump of table {table} (kept changing while read)"),
        errno: nix::errno::Errno::EINTR,
    })
}

/// One pass over the dumps; None when one was interrupted (the ruleset changed meanwhile).
fn dump_all(sock: &OwnedFd, table: &str, families: &[u8]) -> Result<Option<Inventory>> {
    let mut inv = Inventory::default();
    let mut rule_filter = Vec::new();
    nlmsg::push_attr(&mut rule_filter, NFTA_RULE_TABLE, &nul(table));
    let mut dumps: Vec<(u16, u8, &[u8])> = vec![
        (NFT_MSG_GETTABLE, NFPROTO_UNSPEC, &[]),
        (NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, &[]),
    ];
    dumps.extend(
        families
            .iter()
            .map(|f| (NFT_MSG_GETRULE, *f, &rule_filter[..])),
    );
    for (seq, (kind, dump_family, payload)) in (1u32..).zip(dumps) {
        let complete = dump(sock, kind, dump_family, seq, payload, |msg, family, a| {
            // Every object names its table in attribute 1 (NFTA_TABLE_NAME, _CHAIN_TABLE, _RULE_TABLE).
            if !families.contains(&family)
                || nlmsg::attr_str(a, NFTA_TABLE_NAME).as_deref() != Some(table)
            {
                return;
            }
            let chain_attr = match msg {
                NFT_MSG_NEWTABLE => {
                    inv.tables.insert(family);
                    return;
                }
                NFT_MSG_NEWCHAIN => NFTA_CHAIN_NAME,
                NFT_MSG_NEWRULE => NFTA_RULE_CHAIN,
                _ => return,
            };
            let Some(chain) = nlmsg::attr_str(a, chain_attr) else {
                return;
            };
            let rules = inv.chains.entry((family, chain)).or_insert(0);
            if msg == NFT_MSG_NEWRULE {
                *rules += 1;
            }
        })?;
        if !complete {
            return Ok(None);
        }
    }
    Ok(Some(inv))
}

fn nul(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Run one dump (of `family`, or all); `each` gets (message type, family, attributes) of every
/// object. False when the kernel flagged the dump as interrupted.
fn dump(
    sock: &OwnedFd,
    kind: u16,
    family: u8,
    seq: u32,
    payload: &[u8],
    mut each: impl FnMut(u16, u8, &[u8]),
) -> Result<bool> {
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let req = nlmsg::nfnl_message(
        (NFNL_SUBSYS_NFTABLES << 8) | kind,
        flags,
        seq,
        family,
        0,
        payload,
    );
    crate::nlmsg::send(sock, &req, "nf_tables dump request")?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut complete = true;
    loop {
        // SAFETY: recv into our buffer.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(LinuxError::io(
                "nf_tables dump",
                std::io::Error::last_os_error(),
            ));
        }
        let n = n as usize;
        if n == 0 {
            return Ok(complete);
        }
        for m in nlmsg::messages(&buf[..n]) {
            if m.seq != seq {
                continue;
            }
            if m.flags & nlmsg::NLM_F_DUMP_INTR != 0 {
                complete = false;
            }
            match m.kind {
                nlmsg::NLMSG_DONE => return Ok(complete),
                nlmsg::NLMSG_ERROR => {
                    let errno = m.error().unwrap_or(0);
                    if errno == 0 {
                        return Ok(complete);
                    }
                    return Err(LinuxError::Errno {
                        op: "nf_tables dump".into(),
                        errno: nix::errno::Errno::from_raw(errno),
                    });
                }
                k if k >> 8 == NFNL_SUBSYS_NFTABLES => {
                    if let Some((family, a)) = m.nfgen() {
                        each(k & 0xff, family, a);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nft(script: &str) {
        let st = std::process::Command::new("nft")
            .args(["-f", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                if let Some(mut i) = c.stdin.take() {
                    i.write_all(script.as_bytes())?;
                }
                c.wait()
            })
            .expect("nft");
        assert!(st.success(), "nft -f: {script}");
    }

    /// In a namespace of this test's own (needs root): both families' tables, their chains with the
    /// rules counted, empty chains listed, and another table of another name left out.
    #[test]
    fn the_kernel_is_read_back() {
        // SAFETY: unshare of the calling thread's network namespace only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
        let fams = [2, 10];
        assert_eq!(
            inventory("cnm", &fams).expect("empty"),
            Inventory::default()
        );
        nft("add table ip cnm
             add chain ip cnm user
             add chain ip cnm filter-FORWARD { type filter hook forward priority 0; }
             add rule ip cnm filter-FORWARD jump user
             add rule ip cnm filter-FORWARD meta l4proto { tcp, udp } accept
             add rule ip cnm filter-FORWARD drop
             add table ip6 cnm
             add chain ip6 cnm nat { type nat hook postrouting priority 100; }
             add rule ip6 cnm nat masquerade
             add table ip other
             add chain ip other filter-FORWARD { type filter hook forward priority 0; }
             add rule ip other filter-FORWARD accept
             add table inet cnm
             add chain inet cnm c
             add rule inet cnm c accept");
        let inv = inventory("cnm", &fams).expect("inventory");
        assert_eq!(inv.tables, [2u8, 10].into_iter().collect());
        let ip: Vec<(&str, usize)> = inv.chains_of(2).collect();
        assert_eq!(ip, [("filter-FORWARD", 3), ("user", 0)]);
        assert_eq!(inv.chains_of(10).collect::<Vec<_>>(), [("nat", 1)]);
        assert_eq!(
            inv.chains_of(1).count(),
            0,
            "table inet cnm is not asked for"
        );
        let inet = inventory("cnm", &[1]).expect("inet");
        assert_eq!(inet.chains_of(1).collect::<Vec<_>>(), [("c", 1)]);
        nft("flush chain ip cnm filter-FORWARD; delete table ip6 cnm");
        let inv = inventory("cnm", &fams).expect("inventory");
        assert_eq!(inv.tables, [2u8].into_iter().collect());
        assert_eq!(
            inv.chains_of(2).collect::<Vec<_>>(),
            [("filter-FORWARD", 0), ("user", 0)]
        );
    }
}
