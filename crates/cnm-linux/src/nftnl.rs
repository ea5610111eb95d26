//! A small nf_tables netlink encoder: enough to program, in one atomic batch and without spawning
//! `nft`, the per-sandbox redirect of the embedded DNS (port 53 of 127.0.0.11 → the resolver's ports).
//! A spawned `nft` costs 3–10 ms; this batch is one sendmsg and a few acks.
//!
//! Wire format (linux/netfilter/nfnetlink.h, nf_tables.h): every message is an `nlmsghdr`, an
//! `nfgenmsg` and attributes (TLVs, 4-byte aligned; nested ones carry `NLA_F_NESTED`). A batch starts
//! with `NFNL_MSG_BATCH_BEGIN` and ends with `NFNL_MSG_BATCH_END`; the kernel commits all or nothing.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{LinuxError, Result};

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_DELRULE: u16 = 8;

const NFPROTO_IPV4: u8 = 2;
const NLA_F_NESTED: u16 = 0x8000;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;

const NFTA_META_DREG: u16 = 1;
const NFTA_META_KEY: u16 = 2;
const NFT_META_L4PROTO: u32 = 16;
const NFTA_PAYLOAD_DREG: u16 = 1;
const NFTA_PAYLOAD_BASE: u16 = 2;
const NFTA_PAYLOAD_OFFSET: u16 = 3;
const NFTA_PAYLOAD_LEN: u16 = 4;
const NFT_PAYLOAD_NETWORK_HEADER: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFT_CMP_EQ: u32 = 0;
const NFTA_IMMEDIATE_DREG: u16 = 1;
const NFTA_IMMEDIATE_DATA: u16 = 2;
const NFTA_NAT_TYPE: u16 = 1;
const NFTA_NAT_FAMILY: u16 = 2;
const NFTA_NAT_REG_ADDR_MIN: u16 = 3;
const NFTA_NAT_REG_PROTO_MIN: u16 = 5;
const NFT_NAT_SNAT: u32 = 0;
const NFT_NAT_DNAT: u32 = 1;

const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;

const NF_INET_LOCAL_OUT: u32 = 3;
const NF_INET_POST_ROUTING: u32 = 4;
const NF_ACCEPT: u32 = 1;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Name of the table cnm owns inside each sandbox namespace.
pub const DNS_TABLE: &str = "cnm-dns";

/// Attribute writer over a message buffer.
#[derive(Default)]
struct Attrs {
    buf: Vec<u8>,
}

impl Attrs {
    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn put(&mut self, kind: u16, value: &[u8]) {
        let len = (4 + value.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    fn str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.put(kind, &v);
    }

    /// nf_tables integers are big-endian.
    fn be32(&mut self, kind: u16, v: u32) {
        self.put(kind, &v.to_be_bytes());
    }

    fn nested(&mut self, kind: u16, f: impl FnOnce(&mut Attrs)) {
        let mut inner = Attrs::default();
        f(&mut inner);
        self.put(kind | NLA_F_NESTED, &inner.buf);
    }
}

/// One expression of a rule.
enum Expr {
    /// meta l4proto → reg1
    L4Proto,
    /// payload (base, offset, len) → reg1
    Payload { base: u32, offset: u32, len: u32 },
    /// reg1 == value
    CmpEq(Vec<u8>),
    /// value → reg
    Immediate { reg: u32, value: Vec<u8> },
    /// nat to the address in reg1 and port in reg2
    Nat { kind: u32 },
}

impl Expr {
    fn name(&self) -> &'static str {
        match self {
            Expr::L4Proto => "meta",
            Expr::Payload { .. } => "payload",
            Expr::CmpEq(_) => "cmp",
            Expr::Immediate { .. } => "immediate",
            Expr::Nat { .. } => "nat",
        }
    }

    fn data(&self, d: &mut Attrs) {
        match self {
            Expr::L4Proto => {
                d.be32(NFTA_META_KEY, NFT_META_L4PROTO);
                d.be32(NFTA_META_DREG, NFT_REG_1);
            }
            Expr::Payload { base, offset, len } => {
                d.be32(NFTA_PAYLOAD_DREG, NFT_REG_1);
                d.be32(NFTA_PAYLOAD_BASE, *base);
                d.be32(NFTA_PAYLOAD_OFFSET, *offset);
                d.be32(NFTA_PAYLOAD_LEN, *len);
            }
            Expr::CmpEq(v) => {
                d.be32(NFTA_CMP_SREG, NFT_REG_1);
                d.be32(NFTA_CMP_OP, NFT_CMP_EQ);
                d.nested(NFTA_CMP_DATA, |x| x.put(NFTA_DATA_VALUE, v));
            }
            Expr::Immediate { reg, value } => {
                d.be32(NFTA_IMMEDIATE_DREG, *reg);
                d.nested(NFTA_IMMEDIATE_DATA, |x| x.put(NFTA_DATA_VALUE, value));
            }
            Expr::Nat { kind } => {
                d.be32(NFTA_NAT_TYPE, *kind);
                d.be32(NFTA_NAT_FAMILY, u32::from(NFPROTO_IPV4));
                d.be32(NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
                d.be32(NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
            }
        }
    }

    fn encode(&self, a: &mut Attrs) {
        a.nested(NFTA_LIST_ELEM, |e| {
            e.str(NFTA_EXPR_NAME, self.name());
            e.nested(NFTA_EXPR_DATA, |d| self.data(d));
        });
    }
}

/// A batch of nf_tables messages under construction.
pub struct Batch {
    buf: Vec<u8>,
    seq: u32,
    first_seq: u32,
}

fn push_msg(
    buf: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    attrs: &[u8],
) {
    let len = (16 + 4 + attrs.len()) as u32;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
    buf.extend_from_slice(attrs);
}

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_APPEND: u16 = 0x800;
const NLM_F_CREATE: u16 = 0x400;

impl Batch {
    pub fn new(seq: u32) -> Self {
        let mut buf = Vec::with_capacity(2048);
        push_msg(
            &mut buf,
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            seq,
            0,
            NFNL_SUBSYS_NFTABLES,
            &[],
        );
        Batch {
            buf,
            seq: seq + 1,
            first_seq: seq + 1,
        }
    }

    fn msg(&mut self, kind: u16, extra_flags: u16, attrs: Attrs) {
        push_msg(
            &mut self.buf,
            (NFNL_SUBSYS_NFTABLES << 8) | kind,
            NLM_F_REQUEST | NLM_F_ACK | extra_flags,
            self.seq,
            NFPROTO_IPV4,
            0,
            &attrs.buf,
        );
        self.seq += 1;
    }

    pub fn add_table(&mut self, name: &str) {
        let mut a = Attrs::default();
        a.str(NFTA_TABLE_NAME, name);
        self.msg(NFT_MSG_NEWTABLE, NLM_F_CREATE, a);
    }

    /// NEWTABLE that fails with EEXIST (aborting the batch) when the table exists.
    pub fn add_table_exclusive(&mut self, name: &str) {
        let mut a = Attrs::default();
        a.str(NFTA_TABLE_NAME, name);
        self.msg(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, a);
    }

    /// A base chain of type nat with policy accept.
    pub fn add_nat_chain(&mut self, table: &str, name: &str, hook: u32, priority: i32) {
        let mut a = Attrs::default();
        a.str(NFTA_CHAIN_TABLE, table);
        a.str(NFTA_CHAIN_NAME, name);
        a.nested(NFTA_CHAIN_HOOK, |h| {
            h.be32(NFTA_HOOK_HOOKNUM, hook);
            h.be32(NFTA_HOOK_PRIORITY, priority as u32);
        });
        a.be32(NFTA_CHAIN_POLICY, NF_ACCEPT);
        a.str(NFTA_CHAIN_TYPE, "nat");
        self.msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, a);
    }

    /// Delete every rule of a chain (a DELRULE naming only the chain).
    pub fn flush_chain(&mut self, table: &str, chain: &str) {
        let mut a = Attrs::default();
        a.str(NFTA_RULE_TABLE, table);
        a.str(NFTA_RULE_CHAIN, chain);
        self.msg(NFT_MSG_DELRULE, 0, a);
    }

    fn add_rule(&mut self, table: &str, chain: &str, exprs: &[Expr]) {
        let mut a = Attrs::default();
        a.str(NFTA_RULE_TABLE, table);
        a.str(NFTA_RULE_CHAIN, chain);
        a.nested(NFTA_RULE_EXPRESSIONS, |l| {
            for e in exprs {
                e.encode(l);
            }
        });
        self.msg(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, a);
    }

    /// `meta l4proto P ip {s,d}addr ADDR th {s,d}port PORT {d,s}nat to TO_ADDR:TO_PORT`
    #[allow(clippy::too_many_arguments)]
    pub fn add_nat_rule(
        &mut self,
        table: &str,
        chain: &str,
        proto: u8,
        match_source: bool,
        addr: Ipv4Addr,
        port: u16,
        to: Ipv4Addr,
        to_port: u16,
        kind_dnat: bool,
    ) {
        let (addr_off, port_off) = if match_source { (12, 0) } else { (16, 2) };
        self.add_rule(
            table,
            chain,
            &[
                Expr::L4Proto,
                Expr::CmpEq(vec![proto]),
                Expr::Payload {
                    base: NFT_PAYLOAD_NETWORK_HEADER,
                    offset: addr_off,
                    len: 4,
                },
                Expr::CmpEq(addr.octets().to_vec()),
                Expr::Payload {
                    base: NFT_PAYLOAD_TRANSPORT_HEADER,
                    offset: port_off,
                    len: 2,
                },
                Expr::CmpEq(port.to_be_bytes().to_vec()),
                Expr::Immediate {
                    reg: NFT_REG_1,
                    value: to.octets().to_vec(),
                },
                Expr::Immediate {
                    reg: NFT_REG_2,
                    value: to_port.to_be_bytes().to_vec(),
                },
                Expr::Nat {
                    kind: if kind_dnat {
                        NFT_NAT_DNAT
                    } else {
                        NFT_NAT_SNAT
                    },
                },
            ],
        );
    }

    /// The finished batch and the sequence numbers whose acks to wait for.
    pub fn finish(mut self) -> (Vec<u8>, std::ops::Range<u32>) {
        let seq = self.seq;
        push_msg(
            &mut self.buf,
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            seq,
            0,
            NFNL_SUBSYS_NFTABLES,
            &[],
        );
        (self.buf, self.first_seq..seq)
    }
}

/// How the redirect batch treats a table that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    /// Create the table; if it exists the kernel refuses the whole batch with EEXIST and nothing
    /// changes. This is the cheap path (~0.2 ms): a fresh sandbox, or a restarted daemon that got the
    /// same ports back, whose rules are then still right.
    Create,
    /// Keep the table and chains, replace their rules. Any deletion makes the kernel's commit wait
    /// (~10 ms here), so this is only for a resolver whose ports changed.
    Replace,
}

const NLM_F_EXCL: u16 = 0x200;

/// The embedded DNS redirect of one sandbox in one transaction:
///
/// ```text
/// table ip cnm-dns {
///   chain dns-dnat { type nat hook output priority dstnat; policy accept;
///     ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:UDP
///     ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:TCP }
///   chain dns-snat { type nat hook postrouting priority srcnat; policy accept;
///     ip saddr 127.0.0.11 udp sport UDP snat to 127.0.0.11:53
///     ip saddr 127.0.0.11 tcp sport TCP snat to 127.0.0.11:53 }
/// }
/// ```
///
/// The postrouting chain matters even though replies are un-NATed by conntrack: the reverse
/// (source) translation happens at a source-NAT hook, which only exists once such a chain does.
pub fn dns_redirect_batch(
    seq: u32,
    mode: Redirect,
    listen: Ipv4Addr,
    udp_port: u16,
    tcp_port: u16,
) -> (Vec<u8>, std::ops::Range<u32>) {
    let mut b = Batch::new(seq);
    match mode {
        Redirect::Create => b.add_table_exclusive(DNS_TABLE),
        Redirect::Replace => b.add_table(DNS_TABLE),
    }
    b.add_nat_chain(DNS_TABLE, "dns-dnat", NF_INET_LOCAL_OUT, -100);
    b.add_nat_chain(DNS_TABLE, "dns-snat", NF_INET_POST_ROUTING, 100);
    if mode == Redirect::Replace {
        b.flush_chain(DNS_TABLE, "dns-dnat");
        b.flush_chain(DNS_TABLE, "dns-snat");
    }
    for (proto, port) in [(IPPROTO_UDP, udp_port), (IPPROTO_TCP, tcp_port)] {
        b.add_nat_rule(
            DNS_TABLE, "dns-dnat", proto, false, listen, 53, listen, port, true,
        );
    }
    for (proto, port) in [(IPPROTO_UDP, udp_port), (IPPROTO_TCP, tcp_port)] {
        b.add_nat_rule(
            DNS_TABLE, "dns-snat", proto, true, listen, port, listen, 53, false,
        );
    }
    b.finish()
}

/// A netfilter netlink socket of the calling thread's namespace whose reads give up after 2 s.
pub(crate) fn netfilter_socket(what: &str) -> Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(LinuxError::io(what, std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with a properly sized timeval.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    Ok(sock)
}

/// Send a batch on a fresh nfnetlink socket of the calling thread's network namespace and wait for
/// the kernel's acks; the first error (the kernel then aborted the whole batch) is returned.
pub fn apply(batch: &[u8], acks: std::ops::Range<u32>) -> Result<()> {
    let sock = netfilter_socket("nfnetlink socket")?;
    // SAFETY: zeroed sockaddr_nl addresses the kernel (pid 0).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: sendto with a valid buffer and address.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            batch.as_ptr() as *const libc::c_void,
            batch.len(),
            0,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(LinuxError::io(
            "nfnetlink send",
            std::io::Error::last_os_error(),
        ));
    }
    let mut pending: Vec<u32> = acks.collect();
    let mut buf = vec![0u8; 16384];
    while !pending.is_empty() {
        // SAFETY: recv into our buffer.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            return Err(LinuxError::io(
                "nfnetlink ack",
                std::io::Error::last_os_error(),
            ));
        }
        for (seq, errno) in parse_acks(&buf[..n as usize]) {
            if errno != 0 {
                return Err(LinuxError::Errno {
                    op: format!("nf_tables batch (message {seq})"),
                    errno: nix::errno::Errno::from_raw(errno),
                });
            }
            pending.retain(|s| *s != seq);
        }
    }
    Ok(())
}

/// `(seq, errno)` of every NLMSG_ERROR (an ack when errno is 0) in a receive buffer.
fn parse_acks(mut b: &[u8]) -> Vec<(u32, i32)> {
    const NLMSG_ERROR: u16 = 2;
    let mut out = Vec::new();
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let kind = u16::from_ne_bytes([b[4], b[5]]);
        let seq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
        if len < 16 || len > b.len() {
            break;
        }
        if kind == NLMSG_ERROR && len >= 20 {
            let code = i32::from_ne_bytes([b[16], b[17], b[18], b[19]]);
            out.push((seq, -code));
        }
        b = &b[(len + 3) & !3..];
        if b.is_empty() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walk a message stream: (type, flags, seq, attribute bytes).
    fn messages(mut b: &[u8]) -> Vec<(u16, u16, u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
            assert!(len >= 20 && len <= b.len(), "bad length {len}");
            assert_eq!(len % 4, 0, "messages stay aligned");
            let kind = u16::from_ne_bytes([b[4], b[5]]);
            let flags = u16::from_ne_bytes([b[6], b[7]]);
            let seq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
            out.push((kind, flags, seq, b[20..len].to_vec()));
            b = &b[len..];
        }
        out
    }

    /// Top-level attributes: (type without flags, nested?, value).
    fn attrs(mut b: &[u8]) -> Vec<(u16, bool, Vec<u8>)> {
        let mut out = Vec::new();
        while b.len() >= 4 {
            let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
            let kind = u16::from_ne_bytes([b[2], b[3]]);
            assert!(len >= 4 && len <= b.len());
            out.push((kind & 0x3fff, kind & NLA_F_NESTED != 0, b[4..len].to_vec()));
            b = &b[((len + 3) & !3).min(b.len())..];
        }
        out
    }

    #[test]
    fn redirect_batch_is_well_formed() {
        let listen = Ipv4Addr::new(127, 0, 0, 11);
        let (buf, acks) = dns_redirect_batch(100, Redirect::Create, listen, 40000, 40001);
        let msgs = messages(&buf);
        let kinds: Vec<u16> = msgs.iter().map(|m| m.0).collect();
        let t = |k: u16| (NFNL_SUBSYS_NFTABLES << 8) | k;
        assert_eq!(
            kinds,
            [
                NFNL_MSG_BATCH_BEGIN,
                t(NFT_MSG_NEWTABLE),
                t(NFT_MSG_NEWCHAIN),
                t(NFT_MSG_NEWCHAIN),
                t(NFT_MSG_NEWRULE),
                t(NFT_MSG_NEWRULE),
                t(NFT_MSG_NEWRULE),
                t(NFT_MSG_NEWRULE),
                NFNL_MSG_BATCH_END
            ]
        );
        // Creating refuses an existing table; replacing keeps it and flushes both chains first.
        assert_ne!(msgs[1].1 & NLM_F_EXCL, 0);
        let (rbuf, racks) = dns_redirect_batch(7, Redirect::Replace, listen, 1, 2);
        let rmsgs = messages(&rbuf);
        assert_eq!(rmsgs[1].1 & NLM_F_EXCL, 0);
        let rkinds: Vec<u16> = rmsgs.iter().map(|m| m.0).collect();
        assert_eq!(&rkinds[4..6], [t(NFT_MSG_DELRULE), t(NFT_MSG_DELRULE)]);
        assert_eq!(racks, 8..17);
        // Sequence numbers are consecutive; every message between begin and end asks for an ack.
        let seqs: Vec<u32> = msgs.iter().map(|m| m.2).collect();
        assert_eq!(seqs, (100..109).collect::<Vec<_>>());
        assert_eq!(acks, 101..108);
        for m in &msgs[1..msgs.len() - 1] {
            assert_ne!(m.1 & NLM_F_ACK, 0);
        }
        // The table name, nul-terminated.
        let table = attrs(&msgs[1].3);
        assert_eq!(table, [(NFTA_TABLE_NAME, false, b"cnm-dns\0".to_vec())]);
        // The output chain: hook 3 (output), priority -100, type nat.
        let chain = attrs(&msgs[2].3);
        let hook = chain.iter().find(|a| a.0 == NFTA_CHAIN_HOOK).expect("hook");
        assert!(hook.1, "hook is nested");
        let h = attrs(&hook.2);
        assert_eq!(h[0].2, 3u32.to_be_bytes());
        assert_eq!(h[1].2, (-100i32 as u32).to_be_bytes());
        assert!(chain.contains(&(NFTA_CHAIN_TYPE, false, b"nat\0".to_vec())));
        // The first rule: nine expressions; the destination port compared is 53, the DNAT port 40000.
        let rule = attrs(&msgs[4].3);
        let exprs = rule
            .iter()
            .find(|a| a.0 == NFTA_RULE_EXPRESSIONS)
            .expect("exprs");
        let list = attrs(&exprs.2);
        assert_eq!(list.len(), 9);
        let names: Vec<Vec<u8>> = list.iter().map(|e| attrs(&e.2)[0].2.clone()).collect();
        assert_eq!(names[0], b"meta\0");
        assert_eq!(names[8], b"nat\0");
        let data = |i: usize| attrs(&attrs(&list[i].2)[1].2);
        let cmp_port = data(5);
        let value = attrs(&cmp_port[2].2);
        assert_eq!(value[0].2, 53u16.to_be_bytes());
        let imm_port = data(7);
        assert_eq!(attrs(&imm_port[1].2)[0].2, 40000u16.to_be_bytes());
    }

    #[test]
    fn acks_are_parsed() {
        let mut b = Vec::new();
        for (seq, code) in [(5u32, 0i32), (6, -17)] {
            b.extend_from_slice(&36u32.to_ne_bytes());
            b.extend_from_slice(&2u16.to_ne_bytes());
            b.extend_from_slice(&0u16.to_ne_bytes());
            b.extend_from_slice(&seq.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&code.to_ne_bytes());
            b.extend_from_slice(&[0u8; 16]);
        }
        assert_eq!(parse_acks(&b), [(5, 0), (6, 17)]);
        assert!(parse_acks(&b[..10]).is_empty());
    }
}
