//! Request handling as a pure function: bytes in, what to do out. No sockets, no clock, so every rule
//! is a unit test and the whole thing can be fuzzed.
//!
//! Rules (Docker's embedded DNS, with its known bugs fixed):
//! - A / AAAA of a local name (container name, alias, short id, hostname, `name.network`) → its
//!   addresses on the first of the sandbox's networks that has it, shuffled; TTL 600.
//! - A local name without an address of the asked family, or any other type of a local name → NOERROR
//!   with no answer (NODATA), never NXDOMAIN (aardvark-dns#679).
//! - PTR of a local address → `name.network.`.
//! - Anything else is forwarded; with no upstream, or a sandbox on internal networks only → SERVFAIL.
//! - UDP answers larger than the client's limit (512, or its EDNS size up to 4096) carry only the
//!   question and TC, so the client retries over TCP.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use crate::table::Table;

/// TTL of local answers (Docker's).
pub const TTL: u32 = 600;
/// Largest UDP answer we send to an EDNS client.
pub const MAX_UDP: u16 = 4096;
/// Classic DNS limit for UDP without EDNS.
pub const MIN_UDP: u16 = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send these bytes back.
    Answer(Vec<u8>),
    /// Not a local name: send the query as it came to these servers, in order.
    Forward(Vec<IpAddr>),
    /// Nothing to answer (a response, or fewer bytes than a header).
    Drop,
}

const HEADER: usize = 12;

/// A header-only reply with `rcode`, built from the raw query (for queries that do not parse).
pub fn error_from_raw(packet: &[u8], rcode: ResponseCode) -> Option<Vec<u8>> {
    if packet.len() < HEADER || packet[2] & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0u8; HEADER];
    out[0] = packet[0];
    out[1] = packet[1];
    // QR, the query's opcode and RD; RA.
    out[2] = 0x80 | (packet[2] & 0x79);
    out[3] = 0x80 | (u16::from(rcode) as u8 & 0x0f);
    Some(out)
}

/// A reply carrying the query's question and `rcode` (SERVFAIL after failed forwarding, …).
pub fn error_reply(packet: &[u8], rcode: ResponseCode) -> Option<Vec<u8>> {
    match Message::from_vec(packet) {
        Ok(q) if q.metadata.message_type == MessageType::Query => {
            let mut r = response_to(&q);
            r.metadata.response_code = rcode;
            r.to_vec().ok()
        }
        _ => error_from_raw(packet, rcode),
    }
}

fn response_to(q: &Message) -> Message {
    let mut r = Message::response(q.metadata.id, q.metadata.op_code);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.metadata.checking_disabled = q.metadata.checking_disabled;
    r.add_queries(q.queries.iter().cloned());
    if q.edns.is_some() {
        let mut e = Edns::new();
        e.set_max_payload(MAX_UDP);
        r.set_edns(e);
    }
    r
}

/// The largest answer this client takes.
fn limit(q: &Message, transport: Transport) -> usize {
    match transport {
        Transport::Tcp => u16::MAX as usize,
        Transport::Udp => match &q.edns {
            Some(e) => e.max_payload().clamp(MIN_UDP, MAX_UDP) as usize,
            None => MIN_UDP as usize,
        },
    }
}

/// Encode, setting TC and dropping the records when the answer is too big for the client.
fn encode(r: &Message, limit: usize) -> Option<Vec<u8>> {
    let bytes = r.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    r.truncate().to_vec().ok()
}

/// The lowercased query name without its trailing dot, when it could be a local name (only
/// printable ASCII without dots inside labels).
fn local_key(name: &Name) -> Option<String> {
    let mut key = String::with_capacity(64);
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        for &b in label {
            if !b.is_ascii_graphic() || b == b'.' {
                return None;
            }
            key.push(b.to_ascii_lowercase() as char);
        }
    }
    (!key.is_empty()).then_some(key)
}

/// The address a reverse name stands for (a full-length in-addr.arpa / ip6.arpa name).
fn arpa_addr(name: &Name) -> Option<IpAddr> {
    let net = name.parse_arpa_name().ok()?;
    let full = match net.addr() {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    (net.prefix_len() == full).then(|| net.addr())
}

fn forward_or_fail(q: &Message, conf: &crate::table::SandboxConf, limit: usize) -> Reply {
    if conf.forward && !conf.upstreams.is_empty() {
        return Reply::Forward(conf.upstreams.clone());
    }
    let mut r = response_to(q);
    r.metadata.response_code = ResponseCode::ServFail;
    answer(encode(&r, limit))
}

fn answer(bytes: Option<Vec<u8>>) -> Reply {
    bytes.map(Reply::Answer).unwrap_or(Reply::Drop)
}

/// What to do with one DNS message a client of sandbox `sandbox` sent.
pub fn handle(table: &Table, sandbox: &str, packet: &[u8], transport: Transport) -> Reply {
    let q = match Message::from_vec(packet) {
        Ok(q) => q,
        Err(_) => return answer(error_from_raw(packet, ResponseCode::FormErr)),
    };
    if q.metadata.message_type != MessageType::Query {
        return Reply::Drop;
    }
    let limit = limit(&q, transport);
    let fail = |rcode: ResponseCode| {
        let mut r = response_to(&q);
        r.metadata.response_code = rcode;
        answer(encode(&r, limit))
    };
    if q.metadata.op_code != OpCode::Query {
        return fail(ResponseCode::NotImp);
    }
    let [query] = q.queries.as_slice() else {
        return fail(ResponseCode::FormErr);
    };
    let Some(conf) = table.sandbox(sandbox) else {
        return fail(ResponseCode::ServFail);
    };
    if query.query_class() != DNSClass::IN {
        return forward_or_fail(&q, conf, limit);
    }
    let qtype = query.query_type();
    if qtype == RecordType::PTR {
        let local = arpa_addr(query.name()).and_then(|ip| table.reverse(conf, ip));
        return match local.and_then(|n| Name::from_ascii(n).ok()) {
            Some(target) => {
                let mut r = response_to(&q);
                r.add_answer(Record::from_rdata(
                    query.name().clone(),
                    TTL,
                    RData::PTR(PTR(target)),
                ));
                answer(encode(&r, limit))
            }
            None => forward_or_fail(&q, conf, limit),
        };
    }
    let Some(addrs) = local_key(query.name()).and_then(|k| table.lookup(conf, &k)) else {
        return forward_or_fail(&q, conf, limit);
    };
    let mut r = response_to(&q);
    r.add_answers(records(query, qtype, addrs));
    answer(encode(&r, limit))
}

/// The answer records of a local name, shuffled (DNS round robin over a shared alias).
fn records(query: &Query, qtype: RecordType, addrs: &crate::table::Addrs) -> Vec<Record> {
    let name = query.name();
    let mut out: Vec<Record> = match qtype {
        RecordType::A => addrs
            .v4
            .iter()
            .map(|ip| Record::from_rdata(name.clone(), TTL, RData::A(A(*ip))))
            .collect(),
        RecordType::AAAA => addrs
            .v6
            .iter()
            .map(|ip| Record::from_rdata(name.clone(), TTL, RData::AAAA(AAAA(*ip))))
            .collect(),
        _ => Vec::new(),
    };
    if out.len() > 1 {
        out.shuffle(&mut rand::rng());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
