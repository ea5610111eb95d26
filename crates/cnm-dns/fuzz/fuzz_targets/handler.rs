//! libFuzzer target: the first byte of an input picks the sandbox and the transport, the rest is the
//! packet; the general and the fast path must both survive it and agree (`oracle::one`, the checks
//! the stable harness makes).
#![no_main]

use std::sync::OnceLock;

use cnm_dns::answer::Transport;
use cnm_dns::table::Table;
use libfuzzer_sys::fuzz_target;

// The stable harness reads the oracle's counters; this target only needs its verdict.
#[allow(dead_code)]
#[path = "../../tests/fuzz/oracle.rs"]
mod oracle;

fn names() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(oracle::table)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, packet)) = data.split_first() else {
        return;
    };
    let sandbox = oracle::SANDBOXES[usize::from(pick) % oracle::SANDBOXES.len()];
    let transport = if pick & 0x80 == 0 {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let mut out = Vec::with_capacity(4096);
    let mut stats = oracle::Stats::default();
    if let Err(e) = oracle::one(names(), sandbox, packet, transport, &mut out, &mut stats) {
        panic!("{e}\n sandbox {sandbox}, {transport:?}, packet {packet:02x?}");
    }
});
