//! A stable-Rust fuzz harness for the request handler (cargo-fuzz needs nightly; see
//! docs/dns.md, "Fuzzing the resolver"). Random and structure-aware mutated packets go through both
//! the fast path (`fast::answer`) and the general path (`answer::handle`), over UDP and TCP, and every
//! outcome is checked:
//! - nothing panics (a panic is reported with the packet and the seed that reproduces it);
//! - an answer is a DNS message hickory parses, with the query's id, QR set, no bigger than the
//!   transport allows (UDP: 4096, TCP: 65535);
//! - a forward names one to three upstreams;
//! - whenever the fast path answers (A, AAAA and PTR), the general path gives the same message
//!   (answers compared as a set: both shuffle).
//!
//! The normal test run does a short round (`CNM_DNS_FUZZ_SECS`, default 8 s; at most
//! `CNM_DNS_FUZZ_ITERS`, default unlimited). A long round, in release:
//! `CNM_DNS_FUZZ_SECS=600 CNM_DNS_FUZZ_SEED=7 cargo test -p cnm-dns --release --test fuzz -- --nocapture`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cnm_core::dns::{DnsEndpoint, DnsNetwork, DnsSandbox, DnsView};
use cnm_dns::answer::{handle, Reply, Transport, MAX_UDP};
use cnm_dns::fast;
use cnm_dns::table::Table;
use hickory_proto::op::Message;

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// One of the values, picked after they are all evaluated (some draw from the same generator).
macro_rules! pick {
    ($r:expr, [$($v:expr),* $(,)?]) => {{
        let all = [$($v),*];
        *$r.pick(&all)
    }};
}

fn env<T: std::str::FromStr>(key: &str) -> Option<T> {
    std::env::var(key).ok().and_then(|v| v.parse().ok())
}

const NAMES: &[&str] = &[
    "web",
    "WEB",
    "wEb.app",
    "db",
    "svc",
    "many",
    "Many.App",
    "six",
    "six.app",
    "secret",
    "secret.other",
    "0123456789ab",
    "example.org",
    "a.b.c.d.e.f",
    "app",
    "2.0.0.10.in-addr.arpa",
    "3.0.0.10.in-addr.arpa",
    "2.0.1.10.in-addr.arpa",
    "7.1.0.10.in-addr.arpa",
    "02.0.0.10.in-addr.arpa",
    "0.10.in-addr.arpa",
    "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
    "x",
];
const SANDBOXES: &[&str] = &["s1", "s2", "int", "none"];

fn ep(names: &[&str], v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> DnsEndpoint {
    DnsEndpoint {
        names: names.iter().map(|s| s.to_string()).collect(),
        ipv4: v4,
        ipv6: v6,
    }
}

fn table() -> Table {
    let mut app = vec![
        ep(
            &["web", "svc", "0123456789ab"],
            Some([10, 0, 0, 2].into()),
            None,
        ),
        ep(&["db", "svc"], Some([10, 0, 0, 3].into()), None),
        ep(
            &["six"],
            Some([10, 0, 0, 4].into()),
            Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 4)),
        ),
    ];
    // Enough addresses behind one name that UDP answers get truncated.
    for i in 0..200u16 {
        app.push(ep(
            &["many"],
            Some(Ipv4Addr::new(10, 0, 1 + (i >> 8) as u8, i as u8)),
            Some(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, i)),
        ));
    }
    let mut networks = BTreeMap::new();
    networks.insert(
        "n-app".to_string(),
        DnsNetwork {
            name: "App".into(),
            endpoints: app,
        },
    );
    networks.insert(
        "n-other".to_string(),
        DnsNetwork {
            name: "other".into(),
            endpoints: vec![ep(&["secret", "web"], Some([10, 1, 0, 2].into()), None)],
        },
    );
    let up: Vec<IpAddr> = vec![[192, 0, 2, 53].into()];
    let sb = |nets: &[&str], upstreams: &[IpAddr], forward: bool| DnsSandbox {
        networks: nets.iter().map(|s| s.to_string()).collect(),
        upstreams: upstreams.to_vec(),
        forward,
    };
    let mut sandboxes = BTreeMap::new();
    sandboxes.insert("s1".to_string(), sb(&["n-app"], &up, true));
    sandboxes.insert("s2".to_string(), sb(&["n-other", "n-app"], &up, true));
    sandboxes.insert("int".to_string(), sb(&["n-app"], &up, false));
    Table::build(&DnsView {
        networks,
        sandboxes,
    })
}

/// A well-formed query, encoded by hand so every field can be chosen.
fn valid_query(r: &mut Rng) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&(r.next() as u16).to_be_bytes());
    // RD usually, sometimes CD/AD/other flag bits.
    let flags: u16 = if r.chance(4) {
        (r.next() as u16) & 0x7fff
    } else {
        0x0100
    };
    q.extend_from_slice(&flags.to_be_bytes());
    let edns = r.chance(3);
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    let name = r.pick(NAMES);
    for label in name.split('.') {
        let mut l = label.as_bytes().to_vec();
        if r.chance(3) {
            for b in &mut l {
                if r.chance(2) {
                    *b = b.to_ascii_uppercase();
                }
            }
        }
        q.push(l.len() as u8);
        q.extend_from_slice(&l);
    }
    q.push(0);
    let qtype: u16 = pick!(
        r,
        [1, 1, 1, 28, 28, 12, 15, 16, 255, 5, 41, r.next() as u16]
    );
    let qclass: u16 = pick!(r, [1, 1, 1, 1, 3, 255, r.next() as u16]);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&qclass.to_be_bytes());
    if edns {
        let size: u16 = pick!(r, [512, 1232, 4096, 0, 100, 65535, r.next() as u16]);
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&size.to_be_bytes());
        // Extended rcode, version, DO flag sometimes.
        q.extend_from_slice(&[0, 0, if r.chance(4) { 0x80 } else { 0 }, 0]);
        if r.chance(3) {
            // One option (a cookie, or something random).
            let code: u16 = pick!(r, [10, 8, 12, r.next() as u16]);
            let data: Vec<u8> = (0..r.below(20)).map(|_| r.byte()).collect();
            q.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
            q.extend_from_slice(&code.to_be_bytes());
            q.extend_from_slice(&(data.len() as u16).to_be_bytes());
            q.extend_from_slice(&data);
        } else {
            q.extend_from_slice(&[0, 0]);
        }
    }
    q
}

/// Offsets of the label length bytes of the question name.
fn label_offsets(q: &[u8]) -> Vec<usize> {
    let mut v = Vec::new();
    let mut at = 12;
    while let Some(&l) = q.get(at) {
        if l == 0 || l > 63 {
            break;
        }
        v.push(at);
        at += 1 + l as usize;
    }
    v
}

/// Structure-aware damage to a valid query.
fn mutate(r: &mut Rng, q: &mut Vec<u8>) {
    for _ in 0..1 + r.below(3) {
        if q.is_empty() {
            return;
        }
        match r.below(10) {
            // Flip bits / set interesting bytes anywhere.
            0 => {
                let i = r.below(q.len());
                q[i] ^= 1 << r.below(8);
            }
            1 => {
                let i = r.below(q.len());
                q[i] = pick!(
                    r,
                    [0, 0xff, 0xc0, 0xc0 | r.byte(), 63, 64, 0x3f, 0x80, r.byte()]
                );
            }
            // Truncate.
            2 => {
                let n = r.below(q.len() + 1);
                q.truncate(n);
            }
            // Bad section counts (huge, or one more/less than present).
            3 if q.len() >= 12 => {
                let at = 4 + 2 * r.below(4);
                let v: u16 = pick!(r, [0, 1, 2, 0xffff, r.next() as u16]);
                q[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
            // A compression pointer in the name: to itself (a loop), to the header, forward, or
            // to another label.
            4 => {
                let labels = label_offsets(q);
                if labels.is_empty() {
                    continue;
                }
                let at = *r.pick(&labels);
                let target = match r.below(4) {
                    0 => at,
                    1 => r.below(12),
                    2 => at + 2 + r.below(40),
                    _ => *r.pick(&labels),
                } as u16;
                let p = 0xc000 | (target & 0x3fff);
                q.truncate(at);
                q.extend_from_slice(&p.to_be_bytes());
                if r.chance(2) {
                    q.extend_from_slice(&[0, 1, 0, 1]);
                }
            }
            // A label claiming far more bytes than are there, or a name over 255 bytes.
            5 => {
                let labels = label_offsets(q);
                if let Some(&at) = labels.first() {
                    if r.chance(2) {
                        q[at] = 63;
                    } else {
                        let mut long = Vec::new();
                        for _ in 0..5 {
                            long.push(63);
                            long.extend((0..63).map(|_| b'a' + r.below(26) as u8));
                        }
                        q.splice(at..at, long);
                    }
                }
            }
            // Insert or delete bytes.
            6 => {
                let at = r.below(q.len() + 1);
                let junk: Vec<u8> = (0..1 + r.below(8)).map(|_| r.byte()).collect();
                q.splice(at..at, junk);
            }
            7 if !q.is_empty() => {
                let at = r.below(q.len());
                let end = (at + 1 + r.below(6)).min(q.len());
                q.drain(at..end);
            }
            // Trailing garbage, or a second copy of the question.
            8 => {
                let extra: Vec<u8> = if r.chance(2) {
                    q.get(12..).unwrap_or_default().to_vec()
                } else {
                    (0..r.below(300)).map(|_| r.byte()).collect()
                };
                q.extend_from_slice(&extra);
            }
            // Turn it into a response, or another opcode.
            _ if q.len() > 2 => {
                q[2] ^= pick!(r, [0x80, 0x08, 0x28, 0x78]);
            }
            _ => {}
        }
    }
}

fn packet(r: &mut Rng) -> Vec<u8> {
    match r.below(8) {
        0 => (0..r.below(600)).map(|_| r.byte()).collect(),
        1 | 2 => valid_query(r),
        _ => {
            let mut q = valid_query(r);
            mutate(r, &mut q);
            q
        }
    }
}

fn canonical(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut m = Message::from_vec(bytes).map_err(|e| format!("unparseable answer: {e}"))?;
    m.answers.sort_by_key(|r| r.data.to_string());
    m.to_vec().map_err(|e| format!("re-encode: {e}"))
}

fn check_answer(query: &[u8], b: &[u8], tr: Transport) -> Result<(), String> {
    let limit = match tr {
        Transport::Udp => MAX_UDP as usize,
        Transport::Tcp => u16::MAX as usize,
    };
    if b.len() > limit || b.len() < 12 {
        return Err(format!("answer of {} bytes over {tr:?}", b.len()));
    }
    if b[..2] != query[..2] {
        return Err("answer with another id".into());
    }
    if b[2] & 0x80 == 0 {
        return Err("answer without QR".into());
    }
    Message::from_vec(b).map_err(|e| format!("unparseable answer: {e}"))?;
    Ok(())
}

#[derive(Default, Debug)]
struct Stats {
    packets: u64,
    fast: u64,
    /// Of those, PTR answers.
    fast_ptr: u64,
    answers: u64,
    forwards: u64,
    drops: u64,
}

fn one(
    t: &Table,
    sb: &str,
    q: &[u8],
    tr: Transport,
    out: &mut Vec<u8>,
    st: &mut Stats,
) -> Result<(), String> {
    let slow = handle(t, sb, q, tr);
    match &slow {
        Reply::Answer(b) => {
            st.answers += 1;
            check_answer(q, b, tr).map_err(|e| format!("general path: {e}"))?;
        }
        Reply::Forward(ups) => {
            st.forwards += 1;
            if ups.is_empty() || ups.len() > 3 {
                return Err(format!("forward to {ups:?}"));
            }
        }
        Reply::Drop => st.drops += 1,
    }
    if fast::answer(t, sb, q, tr, out) {
        st.fast += 1;
        check_answer(q, out, tr).map_err(|e| format!("fast path: {e}"))?;
        let ptr = Message::from_vec(out)
            .ok()
            .and_then(|m| m.answers.first().map(|a| a.record_type()))
            == Some(hickory_proto::rr::RecordType::PTR);
        st.fast_ptr += u64::from(ptr);
        let Reply::Answer(s) = &slow else {
            return Err(format!("fast path answered, general path: {slow:?}"));
        };
        // hickory compresses at most 128 names per message; the fast path points every answer at
        // the question. So past ~128 records the general path's answer is longer and may need TC
        // where the fast path's still fits: then the fast answer must be the complete one (the
        // general path's over TCP, which is never cut).
        let (reference, same_len) = if s[2] & 0x02 != 0 && out[2] & 0x02 == 0 {
            match handle(t, sb, q, Transport::Tcp) {
                Reply::Answer(full) => (full, out.len() <= s.len().max(MAX_UDP as usize)),
                other => return Err(format!("general path over TCP: {other:?}")),
            }
        } else {
            let same = out.len() == s.len()
                || (out.len() < s.len() && u16::from_be_bytes([s[6], s[7]]) > 128);
            (s.clone(), same)
        };
        let flags_differ = (out[2] ^ reference[2]) & !0x02 != 0 || out[3] != reference[3];
        if canonical(out)? != canonical(&reference)? || !same_len || flags_differ {
            return Err(format!(
                "fast and general answers differ ({} and {} bytes):\n fast {:02x?}\n slow {:02x?}",
                out.len(),
                s.len(),
                &out[..out.len().min(600)],
                &s[..s.len().min(600)]
            ));
        }
    } else if !out.is_empty() {
        return Err("fast path fell through but left bytes".into());
    }
    Ok(())
}

#[test]
fn handler_survives_random_and_mutated_packets() {
    let secs: u64 = env("CNM_DNS_FUZZ_SECS").unwrap_or(8);
    let max: u64 = env("CNM_DNS_FUZZ_ITERS").unwrap_or(u64::MAX);
    let seed: u64 = env("CNM_DNS_FUZZ_SEED").unwrap_or(0x5eed_cafe_f00d_d00d);
    let mut r = Rng(seed | 1);
    let t = table();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut st = Stats::default();
    let mut out = Vec::with_capacity(4096);
    while st.packets < max && (st.packets % 256 != 0 || Instant::now() < deadline) {
        let state = r.0;
        let q = packet(&mut r);
        let sb = *r.pick(SANDBOXES);
        for tr in [Transport::Udp, Transport::Tcp] {
            let res = catch_unwind(AssertUnwindSafe(|| one(&t, sb, &q, tr, &mut out, &mut st)));
            let err = match res {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(_) => "panic".to_string(),
            };
            panic!(
                "{err}\n packet {q:02x?}\n sandbox {sb}, {tr:?}, rng state {state:#x} (seed {seed:#x})"
            );
        }
        st.packets += 1;
    }
    println!("{st:?}");
    assert!(st.fast > 0 && st.forwards > 0 && st.answers > st.fast && st.drops > 0);
    assert!(
        st.fast_ptr > 0,
        "PTR answers of the fast path are compared too"
    );
}
