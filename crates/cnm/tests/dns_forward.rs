//! Forwarding of names the embedded resolver does not own, each test in its own world with DNS servers
//! it starts itself inside that world (see `dnstest::start`); nothing ever reaches a real resolver.

mod common;
mod dnstest;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::World;
use dnstest::{addrs, dig, Mode};
use hickory_proto::rr::RecordType;

const EXT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);

fn at53(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("ip"), 53)
}

/// Addresses of the world ("host") namespace where test servers can listen (on `lo`: local to the
/// whole namespace); a container reaches them through its bridge gateway.
fn host_addresses(w: &World, ips: &[&str]) {
    let script: Vec<String> = ips
        .iter()
        .map(|ip| format!("ip addr add {ip}/32 dev lo"))
        .collect();
    w.sh(&script.join(" && ")).ok();
}

#[test]
fn host_loopback_servers_are_dialled_from_the_daemon_namespace_over_udp_and_tcp() {
    let w = World::new();
    // The world's resolv.conf names 127.0.0.1 (see the harness): a resolver on the host's loopback.
    let up = dnstest::start(
        w.holder_pid(),
        at53("127.0.0.1"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "cc", &["--network", "app"]);
    for t in ["+notcp", "+tcp"] {
        let (status, ans) = dig(&w, "cc", &[t, "ext.example", "A"]);
        assert_eq!(status, "NOERROR", "{t}");
        assert_eq!(addrs(&ans), [EXT.to_string()], "{t}");
        let (status, ans) = dig(&w, "cc", &[t, "EXT.example", "AAAA"]);
        assert_eq!(status, "NOERROR", "{t}");
        assert!(ans.is_empty());
        // The upstream's NXDOMAIN comes through unchanged.
        let (status, _) = dig(&w, "cc", &[t, "nope.example"]);
        assert_eq!(status, "NXDOMAIN", "{t}");
    }
    let seen = up.seen();
    assert!(
        seen.iter()
            .any(|s| s.0 == "ext.example" && s.1 == RecordType::A && !s.3),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.0 == "ext.example" && s.1 == RecordType::AAAA && s.3),
        "TCP queries are forwarded over TCP: {seen:?}"
    );
    // Every query came from the daemon's own loopback, not from the container.
    assert!(seen.iter().all(|s| s.2.ip().is_loopback()), "{seen:?}");
    // Local names are never forwarded.
    let before = up.seen().len();
    let (status, _) = dig(&w, "cc", &["cc"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(up.seen().len(), before);
}

#[test]
fn container_dns_then_daemon_dns_are_used_and_dialled_from_the_container_namespace() {
    let mut w = World::new();
    host_addresses(&w, &["192.0.2.53", "192.0.2.54"]);
    let own = dnstest::start(
        w.holder_pid(),
        at53("192.0.2.53"),
        &[("ext.example", Ipv4Addr::new(198, 51, 100, 1))],
        Mode::Answer,
    );
    let daemon = dnstest::start(
        w.holder_pid(),
        at53("192.0.2.54"),
        &[("ext.example", Ipv4Addr::new(198, 51, 100, 2))],
        Mode::Answer,
    );
    let host = dnstest::start(
        w.holder_pid(),
        at53("127.0.0.1"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    w.start_daemon(&["--dns", "192.0.2.54"]);
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "withdns", &["--network", "app", "--dns", "192.0.2.53"]);
    dnstest::sleeper(&w, "plain", &["--network", "app"]);
    // resolv.conf still names only the embedded resolver.
    let rc = w
        .cnm(&["exec", "withdns", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert_eq!(rc, "nameserver 127.0.0.11\noptions ndots:0\n");
    let (_, ans) = dig(&w, "withdns", &["ext.example"]);
    assert_eq!(addrs(&ans), ["198.51.100.1"], "the container's --dns");
    let (_, ans) = dig(&w, "plain", &["ext.example"]);
    assert_eq!(addrs(&ans), ["198.51.100.2"], "the daemon's --dns");
    assert!(host.seen().is_empty(), "the host file is not used");
    // Non-loopback servers see the container's own address: the socket was made in its namespace.
    let src = |u: &dnstest::Upstream| u.seen().first().map(|s| s.2.ip().to_string());
    assert_eq!(src(&own), Some(w.ip("withdns", "app")));
    assert_eq!(src(&daemon), Some(w.ip("plain", "app")));
}

#[test]
fn up_to_three_upstreams_in_order_within_glibcs_retry_then_servfail() {
    let w = World::new();
    host_addresses(
        &w,
        &["192.0.2.61", "192.0.2.62", "192.0.2.63", "192.0.2.64"],
    );
    let silent = dnstest::start(w.holder_pid(), at53("192.0.2.61"), &[], Mode::Silent);
    let failing = dnstest::start(w.holder_pid(), at53("192.0.2.62"), &[], Mode::ServFail);
    let good = dnstest::start(
        w.holder_pid(),
        at53("192.0.2.63"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    let fourth = dnstest::start(
        w.holder_pid(),
        at53("192.0.2.64"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    w.cnm(&["network", "create", "app"]).ok();
    let dns = |ips: &[&str]| -> Vec<String> {
        let mut v = vec!["--network".to_string(), "app".to_string()];
        for ip in ips {
            v.push("--dns".into());
            v.push(ip.to_string());
        }
        v
    };
    let opts = dns(&["192.0.2.61", "192.0.2.62", "192.0.2.63", "192.0.2.64"]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    dnstest::sleeper(&w, "cc", &opts);
    // One try of glibc's 5 s: a silent first server and a refusing second one still leave the
    // answer of the third in time.
    let t = Instant::now();
    let (status, ans) = dig(&w, "cc", &["+time=5", "ext.example"]);
    let took = t.elapsed();
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), [EXT.to_string()]);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(silent.seen().len(), 1);
    assert_eq!(failing.seen().len(), 1);
    assert_eq!(good.seen().len(), 1);
    assert!(fourth.seen().is_empty(), "at most three upstreams");

    // All of them fail (no server at .65: port unreachable; .62: SERVFAIL): SERVFAIL, quickly.
    host_addresses(&w, &["192.0.2.65"]);
    let opts = dns(&["192.0.2.65", "192.0.2.62"]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    dnstest::sleeper(&w, "dd", &opts);
    let t = Instant::now();
    let (status, _) = dig(&w, "dd", &["+time=5", "ext.example"]);
    assert_eq!(status, "SERVFAIL");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Only silent servers: still a SERVFAIL before the client gives up.
    let opts = dns(&["192.0.2.61"]);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    dnstest::sleeper(&w, "ee", &opts);
    let (status, _) = dig(&w, "ee", &["+time=5", "ext.example"]);
    assert_eq!(status, "SERVFAIL");
}

#[test]
fn a_sandbox_on_internal_networks_only_gets_servfail_without_any_query_leaving() {
    let w = World::new();
    let up = dnstest::start(
        w.holder_pid(),
        at53("127.0.0.1"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    w.cnm(&["network", "create", "--internal", "inner"]).ok();
    w.cnm(&["network", "create", "outer"]).ok();
    dnstest::sleeper(&w, "peer", &["--network", "inner"]);
    dnstest::sleeper(&w, "cc", &["--network", "inner"]);
    let (status, _) = dig(&w, "cc", &["ext.example"]);
    assert_eq!(status, "SERVFAIL");
    let (status, _) = dig(&w, "cc", &["-x", "203.0.113.7"]);
    assert_eq!(status, "SERVFAIL");
    assert!(up.seen().is_empty(), "{:?}", up.seen());
    // Names of the internal network still resolve.
    let (status, ans) = dig(&w, "cc", &["peer"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), [w.ip("peer", "inner")]);
    // Once it also has a way out, external names are forwarded.
    w.cnm(&["network", "connect", "outer", "cc"]).ok();
    let (status, ans) = dig(&w, "cc", &["ext.example"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), [EXT.to_string()]);
}

#[test]
fn systemd_resolved_stub_is_replaced_by_its_real_upstream_file() {
    let mut w = World::new();
    std::fs::write(
        w.path("resolv.conf"),
        "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n",
    )
    .expect("host resolv.conf");
    std::fs::write(
        w.path("systemd-resolv.conf"),
        "nameserver 127.0.0.1\nnameserver 192.0.2.70\nsearch corp.example\n",
    )
    .expect("systemd file");
    let up = dnstest::start(
        w.holder_pid(),
        at53("127.0.0.1"),
        &[("ext.example", EXT)],
        Mode::Answer,
    );
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    let real = w.path("systemd-resolv.conf");
    w.start_daemon(&["--systemd-resolv-conf", real.to_str().expect("path")]);
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "cc", &["--network", "app"]);
    dnstest::sleeper(&w, "legacy", &[]);
    // User network: the search domains are kept, ndots:0 added.
    let rc = w
        .cnm(&["exec", "cc", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert_eq!(
        rc,
        "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0\n"
    );
    let (status, ans) = dig(&w, "cc", &["ext.example"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), [EXT.to_string()]);
    assert_eq!(
        up.seen().len(),
        1,
        "the real upstream, on the host's loopback"
    );
    // Default bridge: the real file without its loopback servers.
    let rc = w
        .cnm(&["exec", "legacy", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert_eq!(rc, "nameserver 192.0.2.70\nsearch corp.example\n");
}
