//! What the fuzz harnesses check of one packet, shared by the stable harness (`tests/fuzz.rs`) and the
//! cargo-fuzz target (`fuzz/fuzz_targets/handler.rs`): the names and sandboxes both serve, and the
//! verdict on what the general and the fast path make of a packet.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_core::dns::{DnsEndpoint, DnsNetwork, DnsSandbox, DnsView};
use cnm_dns::answer::{handle, Reply, Transport, MAX_UDP};
use cnm_dns::fast;
use cnm_dns::table::Table;
use hickory_proto::op::Message;

pub const SANDBOXES: &[&str] = &["s1", "s2", "int", "none"];

fn ep(names: &[&str], v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>) -> DnsEndpoint {
    DnsEndpoint {
        names: names.iter().map(|s| s.to_string()).collect(),
        ipv4: v4,
        ipv6: v6,
    }
}

pub fn table() -> Table {
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
pub struct Stats {
    pub packets: u64,
    pub fast: u64,
    /// Of those, PTR answers.
    pub fast_ptr: u64,
    pub answers: u64,
    pub forwards: u64,
    pub drops: u64,
}

pub fn one(
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
