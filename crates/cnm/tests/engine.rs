//! End-to-end tests of the single-host engine, each in its own world (see `common`).

mod common;

use common::World;
use nix::sys::signal::Signal;
use serde_json::Value;

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn predefined_networks_are_listed_like_docker() {
    let w = World::new();
    let out = w.cnm(&["network", "ls"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "NETWORK ID     NAME      DRIVER    SCOPE");
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| (r[1], r[2], r[3])).collect::<Vec<_>>(),
        vec![
            ("bridge", "bridge", "local"),
            ("host", "host", "local"),
            ("none", "null", "local")
        ]
    );
    let br = w.inspect("network", "bridge");
    assert_eq!(br["IPAM"]["Config"][0]["Subnet"], "172.17.0.0/16");
    assert_eq!(br["IPAM"]["Config"][0]["Gateway"], "172.17.0.1");
    assert_eq!(br["Options"]["com.docker.network.bridge.name"], "docker0");
    assert_eq!(
        br["Options"]["com.docker.network.bridge.default_bridge"],
        "true"
    );
    let addr = w.sh("ip -o -4 addr show dev docker0").ok();
    assert!(
        addr.stdout.contains("172.17.0.1/16"),
        "docker0 address: {}",
        addr.stdout
    );
}

#[test]
fn network_create_takes_next_pool_and_inspect_has_dockers_shape() {
    let w = World::new();
    let id = w
        .cnm(&["network", "create", "app"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let n = w.inspect("network", "app");
    assert_eq!(
        keys(&n),
        [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv4",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels"
        ]
    );
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "172.18.0.0/16");
    assert_eq!(n["IPAM"]["Config"][0]["Gateway"], "172.18.0.1");
    let br = format!("br-{}", &id[..12]);
    w.sh(&format!("ip -o addr show dev {br} | grep -q 172.18.0.1/16"))
        .ok();
    // Round robin: the next network gets the next pool even after this one is removed.
    w.cnm(&["network", "rm", "app"]).ok();
    assert_ne!(
        w.sh(&format!("ip link show {br}")).code,
        0,
        "bridge must be gone"
    );
    w.cnm(&["network", "create", "app2"]).ok();
    assert_eq!(
        w.inspect("network", "app2")["IPAM"]["Config"][0]["Subnet"],
        "172.19.0.0/16"
    );
    // User subnet, gateway, range; echoed as given.
    w.cnm(&[
        "network",
        "create",
        "--subnet",
        "10.98.0.0/16",
        "--ip-range",
        "10.98.5.0/24",
        "--gateway",
        "10.98.0.254",
        "full",
    ])
    .ok();
    let f = w.inspect("network", "full");
    assert_eq!(
        f["IPAM"]["Config"][0],
        serde_json::json!({"Subnet":"10.98.0.0/16","IPRange":"10.98.5.0/24","Gateway":"10.98.0.254"})
    );
    w.run_bg("r1", &["--network", "full"], &["sleep", "1000"]);
    assert_eq!(w.ip("r1", "full"), "10.98.5.0");
}

#[test]
fn run_serves_and_fetches_and_exec_sees_inspect_address() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let ip = w.web("web", "app", "hello from cnm\n");
    let c = w.inspect("container", "web");
    let short = c["Id"].as_str().expect("id")[..12].to_string();
    let mac = c["NetworkSettings"]["Networks"]["app"]["MacAddress"]
        .as_str()
        .expect("mac")
        .to_string();
    assert_eq!(ip, "172.18.0.2");
    let got = w
        .cnm(&[
            "run",
            "--rm",
            "--network",
            "app",
            "--",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{ip}/"),
        ])
        .ok();
    assert_eq!(got.stdout, "hello from cnm\n");
    let addr = w
        .cnm(&["exec", "web", "--", "ip", "addr", "show", "eth0"])
        .ok();
    assert!(
        addr.stdout.contains(&format!("inet {ip}/16")),
        "{}",
        addr.stdout
    );
    assert!(
        addr.stdout.contains(&format!("link/ether {mac}")),
        "{}",
        addr.stdout
    );
    // /etc files have Docker's content.
    let hosts = w
        .cnm(&["exec", "web", "--", "cat", "/etc/hosts"])
        .ok()
        .stdout;
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
    assert!(hosts.ends_with(&format!("{ip}\t{short}\n")));
    let rc = w
        .cnm(&["exec", "web", "--", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert!(
        rc.starts_with("nameserver 127.0.0.11\n") && rc.contains("options ndots:0"),
        "{rc}"
    );
    let hn = w.cnm(&["exec", "web", "--", "hostname"]).ok().stdout;
    assert_eq!(hn.trim(), short);
    // The foreground exit code is the container's.
    assert_eq!(w.cnm(&["run", "--rm", "--", "sh", "-c", "exit 7"]).code, 7);
    assert_eq!(
        w.cnm(&["run", "--rm", "--", "no-such-command-xyz"]).code,
        127
    );
    // ps shows it; rm -f removes it and its namespace.
    let ps = w.cnm(&["ps"]).ok().stdout;
    assert!(ps.contains("web") && ps.contains("Up"), "{ps}");
    w.cnm(&["rm", "-f", "web"]).ok();
    assert_eq!(w.sandboxes(), 0, "no namespace may be left");
}

fn default_route(w: &World, ctr: &str) -> String {
    w.cnm(&["exec", ctr, "--", "ip", "route", "show", "default"])
        .ok()
        .stdout
        .trim()
        .to_string()
}

#[track_caller]
fn assert_default_route(w: &World, ctr: &str, want: &str) {
    let got = default_route(w, ctr);
    assert!(
        got.starts_with(want),
        "default route {got:?}, want {want:?}"
    );
}

#[test]
fn connect_and_disconnect_live_with_dockers_gateway_rule() {
    let w = World::new();
    for (subnet, name, internal) in [
        ("10.61.0.0/24", "bnet", false),
        ("10.62.0.0/24", "anet", false),
        ("10.63.0.0/24", "cnet", false),
        ("10.64.0.0/24", "aint", true),
    ] {
        let mut args = vec!["network", "create", "--subnet", subnet, name];
        if internal {
            args.insert(2, "--internal");
        }
        w.cnm(&args).ok();
    }
    w.run_bg("c1", &["--network", "bnet"], &["sleep", "1000"]);
    assert_default_route(&w, "c1", "default via 10.61.0.1 dev eth0");
    w.cnm(&["network", "connect", "anet", "c1"]).ok();
    let links = w
        .cnm(&["exec", "c1", "--", "ip", "-o", "addr", "show", "eth1"])
        .ok()
        .stdout;
    assert!(links.contains("10.62.0.2/24"), "{links}");
    // Lexical order among non-internal networks: anet now holds the default route.
    assert_default_route(&w, "c1", "default via 10.62.0.1 dev eth1");
    // An internal network never gives a default route, even if it sorts first.
    w.cnm(&["network", "connect", "aint", "c1"]).ok();
    assert_default_route(&w, "c1", "default via 10.62.0.1 dev eth1");
    // Gateway priority beats the name order.
    w.cnm(&["network", "connect", "--gw-priority", "10", "cnet", "c1"])
        .ok();
    assert_default_route(&w, "c1", "default via 10.63.0.1 dev eth3");
    let hosts = w
        .cnm(&["exec", "c1", "--", "cat", "/etc/hosts"])
        .ok()
        .stdout;
    assert!(
        hosts.contains("10.62.0.2\t") && hosts.contains("10.63.0.2\t"),
        "{hosts}"
    );
    // Connecting twice is refused with Docker's message.
    w.cnm(&["network", "connect", "anet", "c1"])
        .fails(1, "endpoint with name c1 already exists in network anet");
    w.cnm(&["network", "disconnect", "cnet", "c1"]).ok();
    assert_ne!(
        w.cnm(&["exec", "c1", "--", "ip", "link", "show", "eth3"])
            .code,
        0,
        "eth3 must be gone"
    );
    assert_default_route(&w, "c1", "default via 10.62.0.1 dev eth1");
    w.cnm(&["network", "disconnect", "anet", "c1"]).ok();
    assert_default_route(&w, "c1", "default via 10.61.0.1 dev eth0");
    w.cnm(&["network", "disconnect", "anet", "c1"])
        .fails(1, "is not connected to network anet");
}

#[test]
fn host_and_none_modes() {
    let w = World::new();
    let none = w
        .cnm(&["run", "--rm", "--network", "none", "--", "ip", "-o", "link"])
        .ok()
        .stdout;
    let links: Vec<&str> = none.lines().collect();
    assert_eq!(links.len(), 1, "{none}");
    assert!(links[0].contains(": lo:"));
    let host_links = w
        .cnm(&["run", "--rm", "--network", "host", "--", "ip", "-o", "link"])
        .ok()
        .stdout;
    assert!(host_links.contains("docker0"), "{host_links}");
    let hosts = w
        .cnm(&[
            "run",
            "--rm",
            "--network",
            "host",
            "--",
            "cat",
            "/etc/hosts",
        ])
        .ok()
        .stdout;
    assert_eq!(hosts, std::fs::read_to_string("/etc/hosts").expect("hosts"));
    w.run_bg("h1", &["--network", "host"], &["sleep", "100"]);
    let c = w.inspect("container", "h1");
    assert!(c["NetworkSettings"]["SandboxKey"]
        .as_str()
        .expect("key")
        .ends_with("/netns/default"));
    w.cnm(&["network", "connect", "bridge", "h1"]).fails(
        1,
        "container sharing network namespace with another container or host cannot be connected to any other network",
    );
}

#[test]
fn daemon_restart_keeps_containers_and_networking() {
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut w = World::new();
        w.cnm(&["network", "create", "app"]).ok();
        let ip = w.web("web", "app", "still here\n");
        let before = w.inspect("container", "web");
        let net_before = w.inspect("network", "app");
        w.stop_daemon(sig);
        // With the daemon down the container keeps serving (the host reaches it over the bridge).
        w.sh(&format!("ping -c1 -W2 {ip}")).ok();
        w.start_daemon(&[]);
        let after = w.inspect("container", "web");
        assert_eq!(after["State"]["Running"], true);
        assert_eq!(after["State"]["Pid"], before["State"]["Pid"]);
        assert_eq!(
            after["NetworkSettings"]["Networks"]["app"],
            before["NetworkSettings"]["Networks"]["app"]
        );
        assert_eq!(w.inspect("network", "app")["Id"], net_before["Id"]);
        let got = w.cnm(&[
            "run",
            "--rm",
            "--network",
            "app",
            "--",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{ip}/"),
        ]);
        assert_eq!(got.code, 0, "fetch after restart ({sig}): {}", got.stderr);
        assert_eq!(got.stdout, "still here\n");
        // The supervisor still sees the exit after the restart.
        w.cnm(&["stop", "-t", "1", "web"]).ok();
        assert_eq!(w.inspect("container", "web")["State"]["Status"], "exited");
        assert_eq!(w.sandboxes(), 0);
    }
}

#[test]
fn restart_removes_what_nobody_owns() {
    let mut w = World::new();
    w.stop_daemon(Signal::SIGKILL);
    // Leftovers of a killed operation: a cnm-named bridge and a bound namespace file nobody references.
    w.sh("ip link add br-0123456789ab type bridge").ok();
    w.sh(&format!(
        "touch {0}/exec/netns/deadbeef0000 && mount --bind /proc/self/ns/net {0}/exec/netns/deadbeef0000",
        w.dir.path().display()
    ))
    .ok();
    w.start_daemon(&[]);
    assert_ne!(
        w.sh("ip link show br-0123456789ab").code,
        0,
        "stray bridge must be removed"
    );
    assert!(
        !w.path("exec/netns/deadbeef0000").exists(),
        "stray namespace must be removed"
    );
}

#[test]
fn a_second_daemon_on_the_same_data_root_is_refused() {
    let w = World::new();
    let out = w
        .command(common::CNM)
        .args([
            "daemon",
            "-H",
            &format!("unix://{}", w.path("other.sock").display()),
            "--data-root",
        ])
        .arg(w.path("data"))
        .arg("--exec-root")
        .arg(w.path("exec2"))
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another cnm daemon is already using"));
}

/// Containers' veths in the world (the daemon's ready ones aside).
fn veth_count(w: &World) -> usize {
    w.veths(None).0.len()
}

#[test]
fn fifty_parallel_runs_get_distinct_working_addresses() {
    let w = World::new();
    w.cnm(&["network", "create", "par"]).ok();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let w = &w;
                s.spawn(move || {
                    w.run_bg(
                        &format!("p{i:02}"),
                        &["--network", "par"],
                        &["sleep", "1000"],
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(ids.len(), 50);
    let net = w.inspect("network", "par");
    let mut addrs: Vec<String> = net["Containers"]
        .as_object()
        .expect("containers")
        .values()
        .map(|c| c["IPv4Address"].as_str().expect("ip").to_string())
        .collect();
    addrs.sort();
    addrs.dedup();
    assert_eq!(addrs.len(), 50, "addresses must be distinct");
    // Every one answers from the host namespace.
    let targets: Vec<&str> = addrs
        .iter()
        .map(|a| a.split('/').next().expect("ip"))
        .collect();
    w.sh(&format!(
        "for ip in {}; do ping -c1 -W2 $ip >/dev/null || exit 1; done",
        targets.join(" ")
    ))
    .ok();
    for i in 0..50 {
        w.cnm(&["rm", "-f", &format!("p{i:02}")]).ok();
    }
    assert_eq!(w.sandboxes(), 0);
    // Veths go away with their namespaces, asynchronously.
    let mut n = veth_count(&w);
    for _ in 0..100 {
        if n == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        n = veth_count(&w);
    }
    assert_eq!(n, 0, "veths leaked");
    let ready = w.veths(None).1.len();
    assert!(ready <= 2, "{ready} ready veths kept for one network");
}
