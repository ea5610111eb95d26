use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use cnm_core::dns::{DnsEndpoint, DnsNetwork, DnsSandbox, DnsView};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::*;
use crate::table::Table;

pub(crate) fn ep(names: &[&str], v4: Option<[u8; 4]>, v6: Option<&str>) -> DnsEndpoint {
    DnsEndpoint {
        names: names.iter().map(|s| s.to_string()).collect(),
        ipv4: v4.map(Ipv4Addr::from),
        ipv6: v6.map(|s| s.parse::<Ipv6Addr>().expect("v6")),
    }
}

/// Two networks: `app` (web, db sharing alias `svc`, an IPv6 host) and `other` (secret); sandbox
/// `s1` is on `app` only, `s2` on both, `int` on an internal-only setup, `noup` without upstreams.
pub(crate) fn table() -> Table {
    let mut networks = BTreeMap::new();
    networks.insert(
        "n-app".to_string(),
        DnsNetwork {
            name: "App".into(),
            endpoints: vec![
                ep(
                    &["web", "svc", "0123456789ab", "webhost"],
                    Some([10, 0, 0, 2]),
                    None,
                ),
                ep(&["db", "svc"], Some([10, 0, 0, 3]), None),
                ep(&["six"], Some([10, 0, 0, 4]), Some("fd00::4")),
            ],
        },
    );
    networks.insert(
        "n-other".to_string(),
        DnsNetwork {
            name: "other".into(),
            endpoints: vec![ep(&["secret", "web"], Some([10, 1, 0, 2]), None)],
        },
    );
    let up = vec!["192.0.2.53".parse().expect("ip")];
    let sb = |nets: &[&str], upstreams: &[IpAddr], forward: bool| DnsSandbox {
        networks: nets.iter().map(|s| s.to_string()).collect(),
        upstreams: upstreams.to_vec(),
        forward,
    };
    let mut sandboxes = BTreeMap::new();
    sandboxes.insert("s1".to_string(), sb(&["n-app"], &up, true));
    sandboxes.insert("s2".to_string(), sb(&["n-other", "n-app"], &up, true));
    sandboxes.insert("int".to_string(), sb(&["n-app"], &up, false));
    sandboxes.insert("noup".to_string(), sb(&["n-app"], &[], true));
    Table::build(&DnsView {
        networks,
        sandboxes,
    })
}

pub(crate) fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), qtype));
    m
}

fn ask(t: &Table, sb: &str, m: &Message, tr: Transport) -> Reply {
    handle(t, sb, &m.to_vec().expect("encode"), tr)
}

fn answered(r: Reply) -> Message {
    match r {
        Reply::Answer(b) => Message::from_vec(&b).expect("reply parses"),
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn a_records(m: &Message) -> Vec<IpAddr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn names_aliases_short_id_hostname_and_name_network_resolve() {
    let t = table();
    for name in [
        "web",
        "webhost",
        "0123456789ab",
        "web.app",
        "web.App.",
        "WEB",
        "wEb.aPp",
    ] {
        let m = answered(ask(&t, "s1", &query(name, RecordType::A), Transport::Udp));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_eq!(m.metadata.id, 4242);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(m.metadata.recursion_available);
        assert_eq!(
            a_records(&m),
            ["10.0.0.2".parse::<IpAddr>().expect("ip")],
            "{name}"
        );
        assert!(m.answers.iter().all(|r| r.ttl == TTL));
        // The question is echoed as asked.
        assert_eq!(
            m.queries[0].name().to_ascii().trim_end_matches('.'),
            name.trim_end_matches('.')
        );
    }
}

#[test]
fn shared_alias_returns_all_addresses_in_varying_order() {
    let t = table();
    let mut orders = std::collections::HashSet::new();
    for _ in 0..64 {
        let m = answered(ask(&t, "s1", &query("svc", RecordType::A), Transport::Udp));
        let mut got = a_records(&m);
        orders.insert(got.clone());
        got.sort();
        assert_eq!(
            got,
            [
                "10.0.0.2".parse::<IpAddr>().expect("ip"),
                "10.0.0.3".parse().expect("ip")
            ]
        );
    }
    assert_eq!(orders.len(), 2, "round robin shuffles the answers");
}

#[test]
fn family_mismatch_and_other_types_are_nodata_never_nxdomain() {
    let t = table();
    for (name, qt) in [
        ("web", RecordType::AAAA),
        ("web", RecordType::MX),
        ("db.app", RecordType::TXT),
    ] {
        let m = answered(ask(&t, "s1", &query(name, qt), Transport::Udp));
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "{name} {qt}"
        );
        assert!(m.answers.is_empty());
    }
    let m = answered(ask(
        &t,
        "s1",
        &query("six", RecordType::AAAA),
        Transport::Udp,
    ));
    assert_eq!(a_records(&m), ["fd00::4".parse::<IpAddr>().expect("ip")]);
}

#[test]
fn a_sandbox_sees_only_its_networks() {
    let t = table();
    assert_eq!(
        ask(&t, "s1", &query("secret", RecordType::A), Transport::Udp),
        Reply::Forward(vec!["192.0.2.53".parse().expect("ip")])
    );
    assert!(matches!(
        ask(
            &t,
            "s1",
            &query("secret.other", RecordType::A),
            Transport::Udp
        ),
        Reply::Forward(_)
    ));
    // s2 is on both; `web` is first found on its first network (other), `web.app` picks app.
    let m = answered(ask(&t, "s2", &query("web", RecordType::A), Transport::Udp));
    assert_eq!(a_records(&m), ["10.1.0.2".parse::<IpAddr>().expect("ip")]);
    let m = answered(ask(
        &t,
        "s2",
        &query("web.app", RecordType::A),
        Transport::Udp,
    ));
    assert_eq!(a_records(&m), ["10.0.0.2".parse::<IpAddr>().expect("ip")]);
    // An unknown sandbox gets SERVFAIL, not somebody else's names.
    let m = answered(ask(
        &t,
        "nobody",
        &query("web", RecordType::A),
        Transport::Udp,
    ));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn ptr_of_local_addresses() {
    let t = table();
    let m = answered(ask(
        &t,
        "s1",
        &query("3.0.0.10.in-addr.arpa.", RecordType::PTR),
        Transport::Udp,
    ));
    match &m.answers[0].data {
        RData::PTR(p) => assert_eq!(p.0.to_ascii(), "db.App."),
        other => panic!("{other:?}"),
    }
    let v6 = "4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    let m = answered(ask(&t, "s1", &query(v6, RecordType::PTR), Transport::Udp));
    assert_eq!(m.answers.len(), 1);
    // An address of a network the sandbox is not on is not answered locally.
    assert!(matches!(
        ask(
            &t,
            "s1",
            &query("2.0.1.10.in-addr.arpa.", RecordType::PTR),
            Transport::Udp
        ),
        Reply::Forward(_)
    ));
}

#[test]
fn external_names_forward_or_servfail() {
    let t = table();
    assert!(matches!(
        ask(
            &t,
            "s1",
            &query("example.org", RecordType::A),
            Transport::Tcp
        ),
        Reply::Forward(_)
    ));
    for sb in ["int", "noup"] {
        let m = answered(ask(
            &t,
            sb,
            &query("example.org", RecordType::A),
            Transport::Udp,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{sb}");
        assert_eq!(m.queries.len(), 1);
    }
    // Local names still answer on an internal network.
    let m = answered(ask(&t, "int", &query("db", RecordType::A), Transport::Udp));
    assert_eq!(a_records(&m).len(), 1);
    // A class other than IN is not local.
    let mut q = query("web", RecordType::A);
    q.queries[0].set_query_class(DNSClass::CH);
    assert!(matches!(
        ask(&t, "s1", &q, Transport::Udp),
        Reply::Forward(_)
    ));
}

pub(crate) fn big_table(n: u8) -> Table {
    let mut networks = BTreeMap::new();
    networks.insert(
        "n".to_string(),
        DnsNetwork {
            name: "big".into(),
            endpoints: (0..n)
                .map(|i| ep(&["many"], Some([10, 9, 0, i]), None))
                .collect(),
        },
    );
    let mut sandboxes = BTreeMap::new();
    sandboxes.insert(
        "s".to_string(),
        DnsSandbox {
            networks: vec!["n".into()],
            upstreams: vec![],
            forward: true,
        },
    );
    Table::build(&DnsView {
        networks,
        sandboxes,
    })
}

#[test]
fn oversized_udp_answers_are_truncated_and_tcp_carries_them() {
    let t = big_table(60);
    let q = query("many", RecordType::A);
    let m = answered(ask(&t, "s", &q, Transport::Udp));
    assert!(m.metadata.truncation, "60 A records do not fit 512 bytes");
    assert!(m.answers.is_empty());
    assert_eq!(m.queries.len(), 1);
    let m = answered(ask(&t, "s", &q, Transport::Tcp));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 60);
    // With EDNS the client's larger buffer is honoured.
    let mut q = query("many", RecordType::A);
    let mut e = Edns::new();
    e.set_max_payload(4096);
    q.set_edns(e);
    let m = answered(ask(&t, "s", &q, Transport::Udp));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 60);
    assert!(m.edns.is_some(), "an EDNS query gets an OPT back");
    // Few records fit without TC.
    let m = answered(ask(
        &big_table(5),
        "s",
        &query("many", RecordType::A),
        Transport::Udp,
    ));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 5);
}

#[test]
fn malformed_and_odd_messages() {
    let t = table();
    // Shorter than a header: dropped.
    assert_eq!(handle(&t, "s1", &[1, 2, 3], Transport::Udp), Reply::Drop);
    assert_eq!(handle(&t, "s1", &[], Transport::Udp), Reply::Drop);
    // A header claiming a question that is not there: FORMERR with the id.
    let mut junk = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    junk.extend_from_slice(&[0x3f, b'x']);
    let m = answered(handle(&t, "s1", &junk, Transport::Udp));
    assert_eq!(m.metadata.id, 0xabcd);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // Responses are never answered (no reflection loops).
    let mut r = query("web", RecordType::A);
    r.metadata.message_type = MessageType::Response;
    assert_eq!(ask(&t, "s1", &r, Transport::Udp), Reply::Drop);
    // No question, or two: FORMERR. Another opcode: NOTIMP.
    let mut none = query("web", RecordType::A);
    none.queries.clear();
    let m = answered(ask(&t, "s1", &none, Transport::Udp));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let mut two = query("web", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("db").expect("n"),
        RecordType::A,
    ));
    let m = answered(ask(&t, "s1", &two, Transport::Udp));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    let mut upd = query("web", RecordType::A);
    upd.metadata.op_code = OpCode::Update;
    let m = answered(ask(&t, "s1", &upd, Transport::Udp));
    assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
}

#[test]
fn error_replies_keep_the_question() {
    let q = query("example.org", RecordType::AAAA)
        .to_vec()
        .expect("enc");
    let m =
        Message::from_vec(&error_reply(&q, ResponseCode::ServFail).expect("reply")).expect("parse");
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.metadata.id, 4242);
    assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
    assert_eq!(error_reply(&[0u8; 3], ResponseCode::ServFail), None);
}

mod fuzzish {
    use super::*;
    use proptest::prelude::*;

    fn check(t: &Table, bytes: &[u8], tr: Transport) {
        match handle(t, "s1", bytes, tr) {
            Reply::Answer(b) => {
                let limit = if tr == Transport::Udp {
                    MAX_UDP as usize
                } else {
                    65535
                };
                assert!(b.len() <= limit, "answer of {} bytes", b.len());
                assert!(b.len() >= HEADER);
                assert_eq!(&b[..2], &bytes[..2], "the reply carries the query's id");
                assert_ne!(b[2] & 0x80, 0, "the reply is a response");
            }
            Reply::Forward(up) => assert!(!up.is_empty() && up.len() <= 3),
            Reply::Drop => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Arbitrary bytes never panic and only ever produce sane replies.
        #[test]
        fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let t = table();
            check(&t, &bytes, Transport::Udp);
            check(&t, &bytes, Transport::Tcp);
        }

        /// Valid queries with mutated bytes (flipped bits, truncation) stay harmless too.
        #[test]
        fn mutated_queries(
            name in "[a-zA-Z0-9]{1,20}(\\.[a-z]{1,8}){0,3}",
            qt in prop_oneof![Just(RecordType::A), Just(RecordType::AAAA), Just(RecordType::PTR), Just(RecordType::MX)],
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in any::<usize>(),
        ) {
            let t = table();
            let mut b = query(&name, qt).to_vec().expect("enc");
            for (i, x) in flips {
                let n = b.len();
                b[i % n] ^= x;
            }
            let n = b.len();
            b.truncate(HEADER.max(cut % (n + 1)));
            check(&t, &b, Transport::Udp);
        }
    }
}
