//! A stable-Rust fuzz harness for the request handler, run by every test run (the coverage-guided
//! cargo-fuzz target in `fuzz/` needs nightly; both check with `fuzz/oracle.rs`; docs/architecture.md,
//! "Fuzzing"). Random and structure-aware mutated packets go through both the fast path
//! (`fast::answer`) and the general path (`answer::handle`), over UDP and TCP, and every outcome is
//! checked:
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

mod fuzz {
    pub mod oracle;
}

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cnm_dns::answer::Transport;
use fuzz::oracle::{one, table, Stats, SANDBOXES};

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
