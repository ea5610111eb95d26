//! The hand-written fast path for the common queries: one question, class IN, type A or AAAA for a
//! local name, or PTR for the address of a local container. Header and question are read straight from the bytes (no allocation; the name is
//! lowercased into a stack buffer for the lookup) and the answer is written into the caller's reused
//! buffer. Anything this path is not sure about — another type or class, compression in the
//! question, EDNS options, trailing bytes, a name that is not local, an unknown sandbox — returns
//! `false` and the caller takes the general path (`answer::handle`), which stays the reference: the
//! tests check that both give the same answer, and the fuzz harness compares them on random input.
//!
//! What is written (as `answer::handle` does it):
//! - header: the query's id, QR, opcode QUERY, the query's RD and CD, RA, NOERROR; TC when the
//!   answer does not fit the client's UDP size (512, or its EDNS size clamped to 512..=4096); then
//!   only the question (and OPT) is sent, so the client retries over TCP;
//! - the question as the client sent it (its case kept);
//! - one record per address of the asked family, named by a compression pointer to the question
//!   (0xC00C), TTL 600, in shuffled order; none when the name has no address of that family (NODATA,
//!   never NXDOMAIN);
//! - for PTR (`d.c.b.a.in-addr.arpa` or the 32 nibbles of `ip6.arpa`, in canonical form: decimal
//!   octets without leading zeros, one hex digit per label) of an address on one of the sandbox's
//!   networks: one record `name.network.`, named by the pointer to the question, TTL 600, the target
//!   written out in full (hickory compresses it only against a common suffix with the question, which
//!   a target ending in `arpa` would have: that one goes the general way);
//! - an OPT record with payload size 4096 when the query had one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::Rng;

use crate::answer::{Transport, MAX_UDP, MIN_UDP, TTL};
use crate::table::Table;

const HEADER: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
/// Longest name on the wire (RFC 1035 §2.3.4), and so the longest lookup key.
const MAX_NAME: usize = 255;
/// Offset of the question's name: what answer records point to.
const QNAME_POINTER: [u8; 2] = [0xC0, 0x0C];
/// The OPT record of a reply: root name, type OPT, payload 4096, no extended rcode, version 0, no
/// flags, no options.
const OPT_REPLY: [u8; 11] = {
    let p = MAX_UDP.to_be_bytes();
    [0, 0, TYPE_OPT as u8, p[0], p[1], 0, 0, 0, 0, 0, 0]
};
const OPT_LEN: usize = 11;

/// A query the fast path can answer, as read from the packet.
#[derive(Debug, PartialEq, Eq)]
struct Question {
    /// End of the question section (header + name + type + class).
    end: usize,
    /// Length of the lowercased dotted name in the key buffer.
    key_len: usize,
    qtype: u16,
    /// The client's EDNS UDP size, when it sent an OPT record.
    edns: Option<u16>,
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    let b = p.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Read header and question; `None` for anything outside the fast path's subset.
fn parse(packet: &[u8], key: &mut [u8; MAX_NAME]) -> Option<Question> {
    let h = packet.get(..HEADER)?;
    // A query (QR clear) with opcode QUERY.
    if h[2] & 0xf8 != 0 {
        return None;
    }
    // Exactly one question, nothing in answer and authority, at most the OPT record.
    if be16(h, 4)? != 1 || be16(h, 6)? != 0 || be16(h, 8)? != 0 {
        return None;
    }
    let additional = be16(h, 10)?;
    if additional > 1 {
        return None;
    }
    let mut at = HEADER;
    let mut key_len = 0usize;
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        // Compression pointers and the reserved label types go the general way.
        if len > 63 {
            return None;
        }
        let label = packet.get(at..at + len)?;
        at += len;
        if at - HEADER >= MAX_NAME {
            return None;
        }
        if key_len > 0 {
            *key.get_mut(key_len)? = b'.';
            key_len += 1;
        }
        for &b in label {
            // Only names that can be local: printable ASCII without dots inside labels.
            if !b.is_ascii_graphic() || b == b'.' {
                return None;
            }
            *key.get_mut(key_len)? = b.to_ascii_lowercase();
            key_len += 1;
        }
    }
    if key_len == 0 {
        return None;
    }
    let qtype = be16(packet, at)?;
    let qclass = be16(packet, at + 2)?;
    at += 4;
    if qclass != CLASS_IN || !matches!(qtype, TYPE_A | TYPE_AAAA | TYPE_PTR) {
        return None;
    }
    let end = at;
    let edns = if additional == 1 {
        let opt = packet.get(at..at + OPT_LEN)?;
        // Root name, type OPT, extended rcode 0, version 0, no options (any other OPT, and any
        // other additional record, is the general path's business).
        if opt[0] != 0
            || be16(opt, 1)? != TYPE_OPT
            || opt[5] != 0
            || opt[6] != 0
            || be16(opt, 9)? != 0
        {
            return None;
        }
        at += OPT_LEN;
        Some(be16(opt, 3)?)
    } else {
        None
    };
    if at != packet.len() {
        return None;
    }
    Some(Question {
        end,
        key_len,
        qtype,
        edns,
    })
}

/// Answer `packet` into `out` (cleared first) when it is a local A/AAAA query of sandbox `sandbox`;
/// `false` (and `out` left empty) when the general path must handle it.
pub fn answer(
    table: &Table,
    sandbox: &str,
    packet: &[u8],
    transport: Transport,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let mut key = [0u8; MAX_NAME];
    let Some(q) = parse(packet, &mut key) else {
        return false;
    };
    let Some(name) = key
        .get(..q.key_len)
        .and_then(|k| std::str::from_utf8(k).ok())
    else {
        return false;
    };
    let Some(conf) = table.sandbox(sandbox) else {
        return false;
    };
    let limit = match transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => q.edns.map_or(MIN_UDP, |s| s.clamp(MIN_UDP, MAX_UDP)) as usize,
    };
    if q.qtype == TYPE_PTR {
        let Some(target) = arpa_addr(name).and_then(|ip| table.reverse(conf, ip)) else {
            return false;
        };
        return ptr_answer(packet, &q, target, limit, out);
    }
    let Some(addrs) = table.lookup(conf, name) else {
        return false;
    };
    let (count, rdlen) = if q.qtype == TYPE_A {
        (addrs.v4.len(), 4usize)
    } else {
        (addrs.v6.len(), 16usize)
    };
    // Pointer, type, class, TTL, rdlength, address.
    let record = 2 + 2 + 2 + 4 + 2 + rdlen;
    let opt = if q.edns.is_some() { OPT_LEN } else { 0 };
    let full = count
        .checked_mul(record)
        .and_then(|r| r.checked_add(q.end + opt));
    let truncated = full.is_none_or(|n| n > limit);
    let count = if truncated { 0 } else { count };
    let Ok(ancount) = u16::try_from(count) else {
        return false;
    };
    out.reserve(q.end + count * record + opt);
    header_and_question(packet, &q, truncated, ancount, out);
    let first = out.len();
    let mut put = |rtype: u16, rdata: &[u8]| {
        out.extend_from_slice(&QNAME_POINTER);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    };
    if count > 0 {
        if q.qtype == TYPE_A {
            addrs.v4.iter().for_each(|ip| put(TYPE_A, &ip.octets()));
        } else {
            addrs.v6.iter().for_each(|ip| put(TYPE_AAAA, &ip.octets()));
        }
    }
    if count > 1 {
        shuffle_records(&mut out[first..], record);
    }
    if q.edns.is_some() {
        out.extend_from_slice(&OPT_REPLY);
    }
    true
}

/// The reply's header and the question as the client sent it.
fn header_and_question(
    packet: &[u8],
    q: &Question,
    truncated: bool,
    ancount: u16,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&packet[..2]);
    // QR, opcode QUERY, RD as asked, TC when cut; RA, CD as asked, NOERROR.
    out.push(0x80 | (packet[2] & 0x01) | if truncated { 0x02 } else { 0 });
    out.push(0x80 | (packet[3] & 0x10));
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, u8::from(q.edns.is_some())]);
    out.extend_from_slice(&packet[HEADER..q.end]);
}

/// One canonical decimal octet: `0`, or digits without a leading zero, at most 255.
fn octet(label: &str) -> Option<u8> {
    let b = label.as_bytes();
    if b.is_empty()
        || b.len() > 3
        || (b.len() > 1 && b[0] == b'0')
        || !b.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    label.parse().ok()
}

/// The address a full-length reverse name (lowercased, without the trailing dot) stands for, when
/// written canonically; anything else is the general path's.
fn arpa_addr(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut o = [0u8; 4];
        let mut labels = rest.split('.');
        for slot in o.iter_mut().rev() {
            *slot = octet(labels.next()?)?;
        }
        return labels
            .next()
            .is_none()
            .then(|| IpAddr::V4(Ipv4Addr::from(o)));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let mut addr: u128 = 0;
    let mut n = 0;
    for label in rest.split('.') {
        let &[c] = label.as_bytes() else {
            return None;
        };
        let nibble = (c as char).to_digit(16)?;
        if n == 32 {
            return None;
        }
        // The first label is the lowest nibble.
        addr |= u128::from(nibble) << (4 * n);
        n += 1;
    }
    (n == 32).then(|| IpAddr::V6(Ipv6Addr::from(addr)))
}

/// The wire form of a PTR target such as `web.app.`, when it is one the general path would write
/// the same way: labels of letters, digits, `-` and `_`, 1 to 63 bytes each, at most 255 in all,
/// and no `arpa` at the end (which hickory would compress against the question).
fn target_ok(target: &str) -> bool {
    let Some(body) = target.strip_suffix('.') else {
        return false;
    };
    if target.len() + 1 > MAX_NAME || body.is_empty() {
        return false;
    }
    let mut last = "";
    for label in body.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
        last = label;
    }
    !last.eq_ignore_ascii_case("arpa")
}

/// The PTR answer: one record naming `target` (as the table has it, with its trailing dot).
fn ptr_answer(packet: &[u8], q: &Question, target: &str, limit: usize, out: &mut Vec<u8>) -> bool {
    if !target_ok(target) {
        return false;
    }
    let rdlen = target.len() + 1;
    let opt = if q.edns.is_some() { OPT_LEN } else { 0 };
    // Never more than ~370 bytes (a 72-byte ip6.arpa question and a 255-byte target), so never cut;
    // checked all the same so the two paths cannot disagree.
    if q.end + 12 + rdlen + opt > limit {
        return false;
    }
    out.reserve(q.end + 12 + rdlen + opt);
    header_and_question(packet, q, false, 1, out);
    out.extend_from_slice(&QNAME_POINTER);
    out.extend_from_slice(&TYPE_PTR.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&TTL.to_be_bytes());
    out.extend_from_slice(&(rdlen as u16).to_be_bytes());
    for label in target.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if q.edns.is_some() {
        out.extend_from_slice(&OPT_REPLY);
    }
    true
}

/// Fisher–Yates over the fixed-size records in `recs` (DNS round robin over a shared alias).
fn shuffle_records(recs: &mut [u8], size: usize) {
    let n = recs.len() / size;
    let mut rng = rand::rng();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        if j != i {
            let (head, tail) = recs.split_at_mut(i * size);
            head[j * size..(j + 1) * size].swap_with_slice(&mut tail[..size]);
        }
    }
}

#[cfg(test)]
mod tests;
