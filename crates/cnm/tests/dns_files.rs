//! /etc/hosts and resolv.conf as Docker writes them, kept up to date while containers run; the default
//! bridge without name resolution and its legacy `--link`s; IPv6 names.

mod common;
mod dnstest;

use common::World;
use dnstest::{addrs, dig};

const DEFAULT_BLOCK: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

fn hosts(w: &World, ctr: &str) -> String {
    w.cnm(&["exec", ctr, "cat", "/etc/hosts"]).ok().stdout
}

fn short_id(w: &World, ctr: &str) -> String {
    w.inspect("container", ctr)["Id"].as_str().expect("id")[..12].to_string()
}

#[test]
fn etc_hosts_is_dockers_and_follows_connect_and_disconnect_live() {
    let w = World::new();
    w.cnm(&["network", "create", "one"]).ok();
    w.cnm(&["network", "create", "two"]).ok();
    dnstest::sleeper(&w, "web", &["--network", "one", "--hostname", "myhost"]);
    let ip1 = w.ip("web", "one");
    assert_eq!(hosts(&w, "web"), format!("{DEFAULT_BLOCK}{ip1}\tmyhost\n"));
    w.cnm(&["network", "connect", "two", "web"]).ok();
    let ip2 = w.ip("web", "two");
    assert_eq!(
        hosts(&w, "web"),
        format!("{DEFAULT_BLOCK}{ip1}\tmyhost\n{ip2}\tmyhost\n"),
        "connect appends a line, seen by the running process"
    );
    w.cnm(&["network", "disconnect", "one", "web"]).ok();
    assert_eq!(hosts(&w, "web"), format!("{DEFAULT_BLOCK}{ip2}\tmyhost\n"));
    // The file the process sees is the one cnm rewrites (no stale bind-mounted copy).
    let pid = w.inspect("container", "web")["State"]["Pid"]
        .as_u64()
        .expect("pid");
    let seen = w.sh(&format!("cat /proc/{pid}/root/etc/hosts")).ok().stdout;
    assert_eq!(seen, format!("{DEFAULT_BLOCK}{ip2}\tmyhost\n"));
    // --network none: the default block only.
    dnstest::sleeper(&w, "lonely", &["--network", "none"]);
    assert_eq!(hosts(&w, "lonely"), DEFAULT_BLOCK);
}

#[test]
fn default_bridge_has_no_name_resolution_and_host_servers_without_loopback() {
    let w = World::new();
    std::fs::write(
        w.path("resolv.conf"),
        "nameserver 127.0.0.1\nnameserver 192.0.2.9\nsearch lab.example\noptions timeout:1 attempts:1\n",
    )
    .expect("resolv.conf");
    dnstest::sleeper(&w, "aa", &[]);
    dnstest::sleeper(&w, "bb", &[]);
    let rc = w
        .cnm(&["exec", "bb", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert_eq!(
        rc,
        "nameserver 192.0.2.9\nsearch lab.example\noptions timeout:1 attempts:1\n"
    );
    // No resolver listens at 127.0.0.11 there, and the other container's name is unknown.
    let out = w.cnm(&[
        "exec",
        "bb",
        "dig",
        "+tries=1",
        "+time=1",
        "@127.0.0.11",
        "aa",
    ]);
    assert!(!out.stdout.contains("status: NOERROR"), "{}", out.stdout);
    let out = w.cnm(&["exec", "bb", "getent", "hosts", "aa"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let udp = w.cnm(&["exec", "bb", "cat", "/proc/net/udp"]).ok().stdout;
    assert!(!udp.contains("0B00007F:"), "no socket on 127.0.0.11: {udp}");
}

#[test]
fn links_on_the_default_bridge_are_hosts_entries_that_follow_rename_and_removal() {
    let w = World::new();
    dnstest::sleeper(&w, "dd", &[]);
    dnstest::sleeper(&w, "ee", &["--hostname", "ehost"]);
    dnstest::sleeper(&w, "ww", &["--link", "dd:dee", "--link", "ee"]);
    let (d_ip, e_ip, w_ip) = (
        w.ip("dd", "bridge"),
        w.ip("ee", "bridge"),
        w.ip("ww", "bridge"),
    );
    let (d_id, w_id) = (short_id(&w, "dd"), short_id(&w, "ww"));
    assert_eq!(
        hosts(&w, "ww"),
        format!("{DEFAULT_BLOCK}{d_ip}\tdee {d_id} dd\n{e_ip}\tee ehost\n{w_ip}\t{w_id}\n")
    );
    // The link names resolve through /etc/hosts, not DNS.
    let out = w.cnm(&["exec", "ww", "getent", "hosts", "dee"]).ok();
    assert!(out.stdout.starts_with(&d_ip), "{}", out.stdout);
    w.cnm(&["exec", "ww", "ping", "-c1", "-W2", "dee"]).ok();
    // The target is renamed: the link keeps its alias and shows the new name.
    w.cnm(&["rename", "dd", "dd2"]).ok();
    assert!(
        hosts(&w, "ww").contains(&format!("{d_ip}\tdee {d_id} dd2\n")),
        "{}",
        hosts(&w, "ww")
    );
    // The target is removed: its line is gone at once.
    w.cnm(&["rm", "-f", "dd2"]).ok();
    assert_eq!(
        hosts(&w, "ww"),
        format!("{DEFAULT_BLOCK}{e_ip}\tee ehost\n{w_ip}\t{w_id}\n")
    );
    // Links are checked: an unknown container, and one that is not running.
    w.cnm(&["run", "-d", "--link", "ghost:g", "--", "sleep", "1"])
        .fails(
            125,
            "could not get container for ghost: No such container: ghost",
        );
    let (status, body) = w.http(
        "POST",
        "/containers/create",
        Some(r#"{"Cmd":["sleep","1"],"HostConfig":{"Links":["ghost:g"]}}"#),
    );
    assert_eq!(status, 400, "{body}");
    dnstest::sleeper(&w, "idle", &[]);
    w.cnm(&["stop", "idle"]).ok();
    w.cnm(&[
        "run", "-d", "--name", "xx", "--link", "idle:i", "--", "sleep", "100",
    ])
    .fails(
        125,
        "Cannot link to a non running container: /idle AS /xx/i",
    );
    let (status, body) = w.http("POST", "/containers/xx/start", None);
    assert_eq!(status, 500, "{body}");
}

#[test]
fn ipv6_names_answer_aaaa_and_reverse() {
    let w = World::new();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:db8:5::/64",
        "six",
    ])
    .ok();
    dnstest::sleeper(&w, "web", &["--network", "six"]);
    dnstest::sleeper(&w, "client", &["--network", "six"]);
    let v6 = w.inspect("container", "web")["NetworkSettings"]["Networks"]["six"]
        ["GlobalIPv6Address"]
        .as_str()
        .expect("v6")
        .to_string();
    let (status, ans) = dig(&w, "client", &["web", "AAAA"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), std::slice::from_ref(&v6));
    assert!(ans[0].contains(" 600 IN AAAA "), "{ans:?}");
    let (_, ans) = dig(&w, "client", &["web.six", "A"]);
    assert_eq!(addrs(&ans), [w.ip("web", "six")]);
    let (status, ans) = dig(&w, "client", &["-x", &v6]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), ["web.six."]);
    // Both addresses of the container are in its /etc/hosts.
    let h = hosts(&w, "web");
    assert!(h.contains(&format!("{v6}\t")), "{h}");
}
