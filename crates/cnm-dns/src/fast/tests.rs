use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::*;
use crate::answer::tests::{big_table, query, table};
use crate::answer::{handle, Reply};

fn fast(t: &Table, sb: &str, bytes: &[u8], tr: Transport) -> Option<Vec<u8>> {
    let mut out = vec![0xee; 7];
    if answer(t, sb, bytes, tr, &mut out) {
        Some(out)
    } else {
        assert!(out.is_empty(), "a fall-through leaves nothing behind");
        None
    }
}

fn slow(t: &Table, sb: &str, bytes: &[u8], tr: Transport) -> Vec<u8> {
    match handle(t, sb, bytes, tr) {
        Reply::Answer(b) => b,
        other => panic!("the general path did not answer: {other:?}"),
    }
}

/// Both messages parsed, answers put in one order (the shuffle), encoded again.
fn canonical(bytes: &[u8]) -> Vec<u8> {
    let mut m = Message::from_vec(bytes).expect("reply parses");
    m.answers.sort_by_key(|r| r.data.to_string());
    m.to_vec().expect("encode")
}

/// The fast path answers `m` and its answer is the general path's.
fn equivalent(t: &Table, sb: &str, m: &Message, tr: Transport) -> Message {
    let bytes = m.to_vec().expect("encode");
    let f = fast(t, sb, &bytes, tr).unwrap_or_else(|| panic!("fast path fell through: {m:?}"));
    let s = slow(t, sb, &bytes, tr);
    assert_eq!(f.len(), s.len(), "same length");
    assert_eq!(f[..HEADER], s[..HEADER], "same header");
    assert_eq!(canonical(&f), canonical(&s), "same message");
    let parsed = Message::from_vec(&f).expect("parses");
    if parsed.answers.len() <= 1 {
        assert_eq!(f, s, "byte for byte");
    }
    parsed
}

fn falls_through(t: &Table, sb: &str, m: &Message) {
    let bytes = m.to_vec().expect("encode");
    assert_eq!(fast(t, sb, &bytes, Transport::Udp), None, "{m:?}");
}

fn with_edns(mut m: Message, size: u16) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(size);
    m.set_edns(e);
    m
}

#[test]
fn local_a_and_aaaa_match_the_general_path() {
    let t = table();
    for (sb, name, qt, n) in [
        ("s1", "web", RecordType::A, 1),
        ("s1", "web.", RecordType::A, 1),
        ("s1", "WeB", RecordType::A, 1),
        ("s1", "web.APP", RecordType::A, 1),
        ("s1", "0123456789AB", RecordType::A, 1),
        ("s1", "webhost", RecordType::A, 1),
        ("s1", "six", RecordType::AAAA, 1),
        ("s1", "SIX.app.", RecordType::AAAA, 1),
        ("s1", "six", RecordType::A, 1),
        // A name without an address of the asked family: NOERROR, no answer.
        ("s1", "web", RecordType::AAAA, 0),
        ("s1", "db", RecordType::AAAA, 0),
        // Several containers sharing an alias: all addresses.
        ("s1", "svc", RecordType::A, 2),
        ("s1", "Svc.App", RecordType::A, 2),
        // The first network that has the name wins.
        ("s2", "web", RecordType::A, 1),
        ("s2", "secret.other", RecordType::A, 1),
    ] {
        for tr in [Transport::Udp, Transport::Tcp] {
            let m = equivalent(&t, sb, &query(name, qt), tr);
            assert_eq!(m.answers.len(), n, "{sb} {name} {qt:?}");
            assert!(!m.metadata.truncation);
            let m = equivalent(&t, sb, &with_edns(query(name, qt), 1232), tr);
            assert_eq!(m.answers.len(), n, "{sb} {name} {qt:?} with EDNS");
            assert!(m.edns.is_some());
        }
    }
}

#[test]
fn header_flags_follow_the_query() {
    let t = table();
    let mut q = query("web", RecordType::A);
    q.metadata.recursion_desired = false;
    q.metadata.checking_disabled = true;
    q.metadata.id = 0xfffe;
    let m = equivalent(&t, "s1", &q, Transport::Udp);
    assert_eq!(m.metadata.id, 0xfffe);
    assert!(!m.metadata.recursion_desired);
    assert!(m.metadata.checking_disabled);
    assert!(m.metadata.recursion_available);
}

#[test]
fn shared_alias_order_varies() {
    let t = big_table(8);
    let q = query("many", RecordType::A).to_vec().expect("enc");
    let mut orders = std::collections::HashSet::new();
    for _ in 0..50 {
        let f = fast(&t, "s", &q, Transport::Udp).expect("answered");
        orders.insert(f[q.len()..].to_vec());
    }
    assert!(orders.len() > 1, "the records are shuffled");
}

#[test]
fn oversized_udp_answers_set_tc_like_the_general_path() {
    let t = big_table(60);
    let q = query("many", RecordType::A);
    let m = equivalent(&t, "s", &q, Transport::Udp);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    let m = equivalent(&t, "s", &q, Transport::Tcp);
    assert_eq!(m.answers.len(), 60);
    let m = equivalent(
        &t,
        "s",
        &with_edns(query("many", RecordType::A), 4096),
        Transport::Udp,
    );
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 60);
    // A tiny EDNS size is taken as 512; a huge one as 4096.
    let m = equivalent(
        &t,
        "s",
        &with_edns(query("many", RecordType::A), 100),
        Transport::Udp,
    );
    assert!(m.metadata.truncation);
    assert!(m.edns.is_some(), "the OPT stays in a truncated answer");
    let t = big_table(255);
    let m = equivalent(
        &t,
        "s",
        &with_edns(query("many", RecordType::A), 65000),
        Transport::Udp,
    );
    assert!(m.metadata.truncation, "255 records do not fit 4096 bytes");
    // Just at the limit: 512 bytes of header, question and 30 records of 16 bytes fit; 31 do not.
    for (n, cut) in [(30u8, false), (31, true)] {
        let t = big_table(n);
        let m = equivalent(&t, "s", &query("many", RecordType::A), Transport::Udp);
        assert_eq!(m.metadata.truncation, cut, "{n} records");
    }
}

#[test]
fn everything_else_falls_through() {
    let t = table();
    // Not local, not visible from this sandbox, unknown sandbox.
    falls_through(&t, "s1", &query("example.org", RecordType::A));
    falls_through(&t, "s1", &query("secret", RecordType::A));
    falls_through(&t, "nosuch", &query("web", RecordType::A));
    // Other types and classes.
    falls_through(&t, "s1", &query("web", RecordType::MX));
    falls_through(&t, "s1", &query("web", RecordType::TXT));
    let mut ch = query("web", RecordType::A);
    ch.queries[0].set_query_class(DNSClass::CH);
    falls_through(&t, "s1", &ch);
    // Root, two questions, a response.
    falls_through(&t, "s1", &query(".", RecordType::A));
    let mut two = query("web", RecordType::A);
    two.add_query(hickory_proto::op::Query::query(
        Name::from_ascii("db").expect("n"),
        RecordType::A,
    ));
    falls_through(&t, "s1", &two);
    let mut r = query("web", RecordType::A);
    r.metadata.message_type = hickory_proto::op::MessageType::Response;
    falls_through(&t, "s1", &r);
    // EDNS with options (a cookie, as dig sends): the general path echoes what it does.
    let mut e = Edns::new();
    e.options_mut()
        .insert(EdnsOption::Unknown(EdnsCode::Cookie.into(), vec![1; 8]));
    let mut q = query("web", RecordType::A);
    q.set_edns(e);
    falls_through(&t, "s1", &q);
    // Bytes a label may not have in a local name.
    let mut raw = query("web", RecordType::A).to_vec().expect("enc");
    raw[13] = b'.';
    assert_eq!(fast(&t, "s1", &raw, Transport::Udp), None);
    // Trailing garbage and truncations.
    let good = query("web", RecordType::A).to_vec().expect("enc");
    let mut long = good.clone();
    long.push(0);
    assert_eq!(fast(&t, "s1", &long, Transport::Udp), None);
    for cut in 0..good.len() {
        assert_eq!(
            fast(&t, "s1", &good[..cut], Transport::Udp),
            None,
            "cut {cut}"
        );
    }
}

#[test]
fn compressed_question_names_fall_through() {
    let t = table();
    // "web" as a pointer into the header region: never followed by the fast path.
    let mut raw = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    raw.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
    assert_eq!(fast(&t, "s1", &raw, Transport::Udp), None);
    // A name longer than 255 bytes on the wire.
    let mut raw = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for _ in 0..5 {
        raw.push(63);
        raw.extend_from_slice(&[b'a'; 63]);
    }
    raw.extend_from_slice(&[0, 0, 1, 0, 1]);
    assert_eq!(fast(&t, "s1", &raw, Transport::Udp), None);
}

/// The fast path's PTR answer is the general path's, byte for byte (one record: no shuffle).
fn same_ptr(t: &Table, sb: &str, m: &Message, tr: Transport) -> Message {
    let bytes = m.to_vec().expect("encode");
    let f = fast(t, sb, &bytes, tr).unwrap_or_else(|| panic!("fast path fell through: {m:?}"));
    assert_eq!(f, slow(t, sb, &bytes, tr), "byte for byte: {m:?}");
    Message::from_vec(&f).expect("parses")
}

fn ptr_target(m: &Message) -> String {
    assert_eq!(m.answers.len(), 1, "{m:?}");
    assert_eq!(m.answers[0].ttl, TTL);
    match &m.answers[0].data {
        hickory_proto::rr::RData::PTR(p) => p.0.to_string(),
        other => panic!("not a PTR: {other:?}"),
    }
}

#[test]
fn ptr_of_local_addresses_matches_the_general_path_byte_for_byte() {
    let t = table();
    let v6 = "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa";
    for (sb, name, target) in [
        ("s1", "2.0.0.10.in-addr.arpa", "web.App."),
        ("s1", "2.0.0.10.in-addr.arpa.", "web.App."),
        ("s1", "2.0.0.10.IN-ADDR.Arpa", "web.App."),
        ("s1", "3.0.0.10.in-addr.arpa", "db.App."),
        ("s1", "4.0.0.10.in-addr.arpa", "six.App."),
        ("s1", v6, "six.App."),
        ("s1", &v6.replace('d', "D"), "six.App."),
        // Seen from both networks: each address names its own network.
        ("s2", "2.0.1.10.in-addr.arpa", "secret.other."),
        ("s2", "2.0.0.10.in-addr.arpa", "web.App."),
    ] {
        for tr in [Transport::Udp, Transport::Tcp] {
            let m = same_ptr(&t, sb, &query(name, RecordType::PTR), tr);
            assert_eq!(ptr_target(&m), target, "{sb} {name}");
            let m = same_ptr(&t, sb, &with_edns(query(name, RecordType::PTR), 1232), tr);
            assert_eq!(ptr_target(&m), target, "{sb} {name} with EDNS");
            assert!(m.edns.is_some());
        }
    }
    let mut q = query("2.0.0.10.in-addr.arpa", RecordType::PTR);
    q.metadata.recursion_desired = false;
    q.metadata.checking_disabled = true;
    q.metadata.id = 7;
    let m = same_ptr(&t, "s1", &q, Transport::Udp);
    assert_eq!((m.metadata.id, m.metadata.recursion_desired), (7, false));
}

#[test]
fn ptr_the_fast_path_is_not_sure_of_falls_through() {
    let t = table();
    for name in [
        // Not visible from s1 (other network), not local, not full length.
        "2.0.1.10.in-addr.arpa",
        "9.9.9.10.in-addr.arpa",
        "0.10.in-addr.arpa",
        "1.2.0.0.10.in-addr.arpa",
        "in-addr.arpa",
        // Non-canonical spellings hickory accepts: its answer is the reference.
        "02.0.0.10.in-addr.arpa",
        "2.00.0.10.in-addr.arpa",
        "256.0.0.10.in-addr.arpa",
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
        "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.ip6.arpa",
        "4.00.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
        "web.app",
    ] {
        falls_through(&t, "s1", &query(name, RecordType::PTR));
    }
    falls_through(
        &t,
        "nosuch",
        &query("2.0.0.10.in-addr.arpa", RecordType::PTR),
    );
    let mut ch = query("2.0.0.10.in-addr.arpa", RecordType::PTR);
    ch.queries[0].set_query_class(DNSClass::CH);
    falls_through(&t, "s1", &ch);
}

#[test]
fn ptr_targets_hickory_would_compress_or_refuse_go_the_general_way() {
    use cnm_core::dns::{DnsNetwork, DnsSandbox, DnsView};
    use std::collections::BTreeMap;
    let mut networks = BTreeMap::new();
    let mut sandboxes = BTreeMap::new();
    for (i, (net, ctr)) in [("in-addr.arpa", "web"), ("ARPA", "db"), ("app", "a.b")]
        .into_iter()
        .enumerate()
    {
        let id = format!("n{i}");
        networks.insert(
            id.clone(),
            DnsNetwork {
                name: net.into(),
                endpoints: vec![crate::answer::tests::ep(
                    &[ctr],
                    Some([10, 9, i as u8, 2]),
                    None,
                )],
            },
        );
        sandboxes.insert(
            format!("s{i}"),
            DnsSandbox {
                networks: vec![id],
                upstreams: vec![],
                forward: true,
            },
        );
    }
    let t = Table::build(&DnsView {
        networks,
        sandboxes,
    });
    // A target ending in `arpa` shares a suffix with the question: hickory compresses it.
    for (sb, name) in [
        ("s0", "2.0.9.10.in-addr.arpa"),
        ("s1", "2.1.9.10.in-addr.arpa"),
    ] {
        let q = query(name, RecordType::PTR);
        falls_through(&t, sb, &q);
        let m = Message::from_vec(&slow(&t, sb, &q.to_vec().expect("enc"), Transport::Udp))
            .expect("parses");
        assert_eq!(m.answers.len(), 1, "the general path still answers");
    }
    // A dot in the container name is two labels on the wire: the same on both paths.
    let m = same_ptr(
        &t,
        "s2",
        &query("2.2.9.10.in-addr.arpa", RecordType::PTR),
        Transport::Udp,
    );
    assert_eq!(ptr_target(&m), "a.b.app.");
}

/// How long one answer takes, fast path against the general path (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn timing() {
    let t = table();
    let a = query("web", RecordType::A).to_vec().expect("enc");
    let ptr = query("2.0.0.10.in-addr.arpa", RecordType::PTR)
        .to_vec()
        .expect("enc");
    for (label, q) in [("A", a), ("PTR", ptr)] {
        let (f, s) = per_query_ns(&t, &q);
        println!("{label}: fast path {f:.0} ns/query, general path {s:.0} ns/query");
    }
}

/// Nanoseconds per answer of one query, on the fast path and on the general path.
fn per_query_ns(t: &Table, q: &[u8]) -> (f64, f64) {
    let n = 1_000_000;
    let mut out = Vec::with_capacity(4096);
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        assert!(answer(t, "s1", q, Transport::Udp, &mut out));
    }
    let fast = t0.elapsed().as_nanos() as f64 / n as f64;
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        assert!(matches!(
            handle(t, "s1", q, Transport::Udp),
            Reply::Answer(_)
        ));
    }
    (fast, t0.elapsed().as_nanos() as f64 / n as f64)
}
