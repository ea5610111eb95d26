use super::*;
use cnm_core::ports::Proto;

fn net(bridge: &str, subnets: &[&str], icc: bool, internal: bool) -> NetFirewall {
    NetFirewall {
        id: format!("id-{bridge}"),
        bridge: bridge.into(),
        subnets: subnets.iter().map(|s| s.parse().expect("net")).collect(),
        icc,
        masquerade: true,
        internal,
        snat_v4: None,
    }
}

fn map(proto: Proto, host_ip: Option<&str>, hp: u16, ctr: &str, cp: u16) -> PortMapping {
    PortMapping {
        proto,
        host_ip: host_ip.map(|h| h.parse().expect("ip")),
        host_port: hp,
        ctr_ip: ctr.parse().expect("ip"),
        ctr_port: cp,
        count: 1,
    }
}

fn run(host_ip: Option<&str>, hp: u16, ctr: &str, cp: u16, count: u16) -> PortMapping {
    PortMapping {
        count,
        ..map(Proto::Tcp, host_ip, hp, ctr, cp)
    }
}

#[test]
fn full_ruleset_snapshot() {
    let nets = vec![
        net("docker0", &["172.17.0.0/16"], true, false),
        net("br-aaa", &["172.18.0.0/16", "fd00:1::/64"], false, false),
        net("br-int", &["172.19.0.0/16"], true, true),
    ];
    let mut snat = net("br-snat", &["172.20.0.0/16"], true, false);
    snat.snat_v4 = Some("192.0.2.10".parse().expect("ip"));
    let mut nets = nets;
    nets.push(snat);
    let ports = vec![
        map(Proto::Tcp, None, 8080, "172.18.0.2", 80),
        map(Proto::Tcp, None, 8080, "fd00:1::2", 80),
        map(Proto::Udp, Some("127.0.0.1"), 5353, "172.18.0.2", 53),
    ];
    let stale = vec![(Family::V4, "fwd-in__br-gone".to_string())];
    insta::assert_snapshot!(full(&nets, &[&ports], &stale));
}

#[test]
fn network_add_and_remove_snapshot() {
    let n = net("br-bbb", &["10.5.0.0/24"], false, false);
    insta::assert_snapshot!(format!("{}---\n{}", add_network(&n), remove_network(&n)));
}

#[test]
fn a_range_of_equal_ports_is_one_element() {
    let maps: Vec<PortMapping> = (1000..2000)
        .map(|p| map(Proto::Tcp, None, p, "172.18.0.2", p))
        .collect();
    let els = port_elements(&maps);
    assert_eq!(els.len(), 1);
    assert_eq!(
        els.get(&(0, "dnat-any-same")).expect("map"),
        &vec!["tcp . 1000-1999 : 172.18.0.2".to_string()]
    );
}

#[test]
fn translated_ports_are_one_element_each_and_runs_break_on_gaps() {
    let mut maps: Vec<PortMapping> = (0..3)
        .map(|i| map(Proto::Tcp, None, 9000 + i, "172.18.0.2", 80 + i))
        .collect();
    maps.push(map(Proto::Udp, None, 7000, "172.18.0.2", 7000));
    maps.push(map(Proto::Udp, None, 7002, "172.18.0.2", 7002));
    maps.push(map(Proto::Tcp, Some("10.0.0.1"), 443, "172.18.0.2", 443));
    let els = port_elements(&maps);
    assert_eq!(els.get(&(0, "dnat-any-to")).map(Vec::len), Some(3));
    assert_eq!(
        els.get(&(0, "dnat-any-same")).expect("map"),
        &vec![
            "udp . 7000 : 172.18.0.2".to_string(),
            "udp . 7002 : 172.18.0.2".to_string()
        ]
    );
    assert_eq!(
        els.get(&(0, "dnat-addr-same")).expect("map"),
        &vec!["10.0.0.1 . tcp . 443 : 172.18.0.2".to_string()]
    );
}

#[test]
fn replacing_ports_deletes_old_keys_then_adds_new() {
    let old = vec![map(Proto::Tcp, None, 8080, "172.18.0.2", 80)];
    let new = vec![map(Proto::Tcp, None, 8080, "172.19.0.2", 80)];
    let s = replace_ports(&old, &new);
    assert_eq!(
        s,
        "delete element ip cnm dnat-any-to { tcp . 8080 }\nadd element ip cnm dnat-any-to { tcp . 8080 : 172.19.0.2 . 80 }\n"
    );
}

#[test]
fn a_run_of_equal_ports_is_one_interval_element_and_adjacent_runs_merge() {
    let maps = vec![
        run(None, 10000, "172.18.0.2", 10000, 10000),
        run(None, 20000, "172.18.0.2", 20000, 5),
        map(Proto::Tcp, None, 20005, "172.18.0.2", 20005),
        run(Some("127.0.0.1"), 30000, "172.18.0.2", 30000, 2),
    ];
    let els = port_elements(&maps);
    assert_eq!(
        els.get(&(0, "dnat-any-same")).expect("map"),
        &vec!["tcp . 10000-20005 : 172.18.0.2".to_string(),],
        "10000..=19999, 20000..=20004 and 20005 touch: one interval"
    );
    assert_eq!(
        els.get(&(0, "dnat-addr-same")).expect("map"),
        &vec!["127.0.0.1 . tcp . 30000-30001 : 172.18.0.2".to_string()]
    );
}

#[test]
fn a_translated_run_is_one_hash_element_per_port() {
    let maps = vec![run(None, 40000, "fd00::2", 20000, 3)];
    let els = port_elements(&maps);
    assert_eq!(
        els.get(&(1, "dnat-any-to")).expect("map"),
        &vec![
            "tcp . 40000 : fd00::2 . 20000".to_string(),
            "tcp . 40001 : fd00::2 . 20001".to_string(),
            "tcp . 40002 : fd00::2 . 20002".to_string(),
        ]
    );
    let s = replace_ports(&maps, &[]);
    assert_eq!(
        s,
        "delete element ip6 cnm dnat-any-to { tcp . 40000, tcp . 40001, tcp . 40002 }\n"
    );
}
