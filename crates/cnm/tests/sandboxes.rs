//! End-to-end tests of sandbox lifetimes and addressing options, each in its own world (see `common`).

mod common;

use std::time::{Duration, Instant};

use common::World;

/// Host-side veth names of containers on a bridge (not the ones kept ready for the next container).
fn ports(w: &World, bridge: &str) -> Vec<String> {
    w.veths(Some(bridge)).0
}

fn bridge_of(w: &World, network: &str) -> String {
    let id = w.inspect("network", network)["Id"]
        .as_str()
        .expect("id")
        .to_string();
    format!("br-{}", &id[..12])
}

#[track_caller]
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn removing_a_container_frees_its_interface_while_others_keep_running() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let br = bridge_of(&w, "app");
    w.run_bg("ca", &["--network", "app"], &["sleep", "1000"]);
    w.run_bg("cb", &["--network", "app"], &["sleep", "1000"]);
    assert_eq!(ports(&w, &br).len(), 2);
    // The later container's mount namespace must not keep the earlier one's network namespace alive.
    w.cnm(&["rm", "-f", "ca"]).ok();
    wait_until("a's veth to go with its namespace", || {
        ports(&w, &br).len() == 1
    });
    w.run_bg("cc", &["--network", "app"], &["sleep", "1000"]);
    w.cnm(&["rm", "-f", "cb"]).ok();
    wait_until("b's veth to go", || ports(&w, &br).len() == 1);
}

#[test]
fn container_mount_namespace_does_not_see_other_sandboxes() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    w.run_bg("ca", &["--network", "app"], &["sleep", "1000"]);
    w.run_bg("cb", &["--network", "app"], &["sleep", "1000"]);
    let netns_dir = w.path("exec/netns");
    let mounts = w
        .cnm(&["exec", "cb", "--", "cat", "/proc/self/mountinfo"])
        .ok()
        .stdout;
    let dir = netns_dir.to_str().expect("path");
    assert!(
        !mounts.lines().any(|l| l.contains(dir)),
        "sandbox namespace files visible inside a container:\n{mounts}"
    );
}

fn v6_address(w: &World, ctr: &str, network: &str) -> String {
    w.inspect("container", ctr)["NetworkSettings"]["Networks"][network]["GlobalIPv6Address"]
        .as_str()
        .expect("ipv6 address")
        .to_string()
}

#[test]
fn ipv6_network_with_a_subnet_gives_dual_stack_interfaces_that_talk() {
    let w = World::new();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:db8:1::/64",
        "v6net",
    ])
    .ok();
    let n = w.inspect("network", "v6net");
    assert_eq!(n["EnableIPv6"], true);
    let cfg = n["IPAM"]["Config"].as_array().expect("config");
    assert!(
        cfg.iter().any(|c| c["Subnet"] == "fd00:db8:1::/64"),
        "{cfg:?}"
    );
    // Docker adds an IPv4 subnet from the default pools next to the user's IPv6 one.
    assert!(
        cfg.iter().any(|c| c["Subnet"] == "172.18.0.0/16"),
        "{cfg:?}"
    );
    w.run_bg("c6a", &["--network", "v6net"], &["sleep", "1000"]);
    w.run_bg("c6b", &["--network", "v6net"], &["sleep", "1000"]);
    let a = v6_address(&w, "c6a", "v6net");
    let b = v6_address(&w, "c6b", "v6net");
    assert_eq!(a, "fd00:db8:1::2");
    assert_eq!(b, "fd00:db8:1::3");
    let addr = w
        .cnm(&["exec", "c6a", "--", "ip", "-6", "addr", "show", "eth0"])
        .ok()
        .stdout;
    assert!(addr.contains(&format!("inet6 {a}/64")), "{addr}");
    let route = w
        .cnm(&["exec", "c6a", "--", "ip", "-6", "route", "show", "default"])
        .ok()
        .stdout;
    assert!(route.contains("via fd00:db8:1::1 dev eth0"), "{route}");
    // Container to container and container to gateway over IPv6 (DAD may hold a fresh address briefly).
    wait_until("IPv6 ping between containers", || {
        w.cnm(&["exec", "c6a", "--", "ping", "-6", "-c1", "-W1", &b])
            .code
            == 0
    });
    w.cnm(&[
        "exec",
        "c6b",
        "--",
        "ping",
        "-6",
        "-c1",
        "-W2",
        "fd00:db8:1::1",
    ])
    .ok();
    // IPv4 still works next to it.
    let b4 = w.ip("c6b", "v6net");
    w.cnm(&["exec", "c6a", "--", "ping", "-c1", "-W2", &b4])
        .ok();
}

#[test]
fn ipv6_network_without_a_subnet_gets_a_stable_ula_64() {
    let mut w = World::new();
    w.cnm(&["network", "create", "--ipv6", "auto6"]).ok();
    let subnets = |w: &World, name: &str| -> Vec<String> {
        w.inspect("network", name)["IPAM"]["Config"]
            .as_array()
            .expect("config")
            .iter()
            .filter_map(|c| c["Subnet"].as_str().map(str::to_string))
            .collect()
    };
    let first = subnets(&w, "auto6");
    let v6: Vec<&String> = first.iter().filter(|s| s.contains(':')).collect();
    assert_eq!(v6.len(), 1, "{first:?}");
    assert!(
        v6[0].starts_with("fd") && v6[0].ends_with("::/64"),
        "{v6:?}"
    );
    w.run_bg("u6", &["--network", "auto6"], &["sleep", "1000"]);
    let a = v6_address(&w, "u6", "auto6");
    let net: ipnet::Ipv6Net = v6[0].parse().expect("v6 subnet");
    assert!(
        net.contains(&a.parse::<std::net::Ipv6Addr>().expect("v6")),
        "{a} in {net}"
    );
    // The ULA prefix comes from the host id: a second network takes the next /64 of the same /48, and
    // the first keeps its subnet across a restart.
    w.cnm(&["network", "create", "--ipv6", "auto6b"]).ok();
    let second = subnets(&w, "auto6b");
    let v6b: Vec<&String> = second.iter().filter(|s| s.contains(':')).collect();
    assert_eq!(v6b.len(), 1);
    assert_ne!(v6b[0], v6[0]);
    assert_eq!(
        v6b[0].split(':').take(3).collect::<Vec<_>>(),
        v6[0].split(':').take(3).collect::<Vec<_>>()
    );
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    w.start_daemon(&[]);
    assert_eq!(subnets(&w, "auto6"), first);
}

#[test]
fn aux_addresses_are_never_handed_out_and_mac_address_is_used() {
    let w = World::new();
    w.cnm(&[
        "network",
        "create",
        "--subnet",
        "10.77.0.0/24",
        "--aux-address",
        "router=10.77.0.2",
        "--aux-address",
        "printer=10.77.0.3",
        "aux",
    ])
    .ok();
    let n = w.inspect("network", "aux");
    assert_eq!(
        n["IPAM"]["Config"][0]["AuxiliaryAddresses"],
        serde_json::json!({"printer":"10.77.0.3","router":"10.77.0.2"})
    );
    w.run_bg(
        "m1",
        &["--network", "aux", "--mac-address", "02:42:0a:4d:00:99"],
        &["sleep", "1000"],
    );
    assert_eq!(w.ip("m1", "aux"), "10.77.0.4");
    let c = w.inspect("container", "m1");
    assert_eq!(
        c["NetworkSettings"]["Networks"]["aux"]["MacAddress"],
        "02:42:0a:4d:00:99"
    );
    let link = w
        .cnm(&["exec", "m1", "--", "ip", "link", "show", "eth0"])
        .ok()
        .stdout;
    assert!(link.contains("link/ether 02:42:0a:4d:00:99"), "{link}");
    // A static address on an aux address is refused; nothing is left of the attempt.
    let out = w.cnm(&[
        "run",
        "-d",
        "--name",
        "m2",
        "--network",
        "aux",
        "--ip",
        "10.77.0.2",
        "--",
        "sleep",
        "1000",
    ]);
    assert_ne!(out.code, 0, "{} {}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Address already in use"),
        "Docker's message: {}",
        out.stderr
    );
    assert_eq!(w.sandboxes(), 1);
}

#[test]
fn bip_and_default_address_pools_shape_the_daemons_networks() {
    let mut w = World::new();
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    w.start_daemon(&[
        "--bip",
        "10.55.0.1/24",
        "--default-address-pool",
        "base=10.60.0.0/16,size=24",
    ]);
    let br = w.inspect("network", "bridge");
    assert_eq!(br["IPAM"]["Config"][0]["Subnet"], "10.55.0.0/24");
    assert_eq!(br["IPAM"]["Config"][0]["Gateway"], "10.55.0.1");
    let addr = w.sh("ip -o -4 addr show dev docker0").ok().stdout;
    assert!(addr.contains("10.55.0.1/24"), "{addr}");
    assert!(!addr.contains("172.17.0.1"), "old bip must be gone: {addr}");
    w.run_bg("onbr", &[], &["sleep", "1000"]);
    assert_eq!(w.ip("onbr", "bridge"), "10.55.0.2");
    for (name, want) in [("p1", "10.60.0.0/24"), ("p2", "10.60.1.0/24")] {
        w.cnm(&["network", "create", name]).ok();
        assert_eq!(
            w.inspect("network", name)["IPAM"]["Config"][0]["Subnet"],
            want
        );
    }
    w.run_bg("onp2", &["--network", "p2"], &["sleep", "1000"]);
    assert_eq!(w.ip("onp2", "p2"), "10.60.1.2");
    w.cnm(&["exec", "onp2", "--", "ping", "-c1", "-W2", "10.60.1.1"])
        .ok();
}

/// Links in the world's host namespace, by name.
fn host_links(w: &World) -> Vec<String> {
    w.sh("ip -o link show")
        .ok()
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

#[test]
fn kill_9_in_the_middle_of_runs_leaves_nothing_a_restart_does_not_clean() {
    let mut w = World::new();
    w.cnm(&["network", "create", "--subnet", "10.66.0.0/24", "app"])
        .ok();
    let br = bridge_of(&w, "app");
    for (round, delay_ms) in [25u64, 110, 200, 400].into_iter().enumerate() {
        let clients: Vec<std::process::Child> = (0..8)
            .map(|i| {
                w.command(common::CNM)
                    .args([
                        "run",
                        "-d",
                        "--name",
                        &format!("k{round}x{i}"),
                        "--network",
                        "app",
                    ])
                    .args(["--", "sleep", "1000"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("spawn cnm run")
            })
            .collect();
        std::thread::sleep(Duration::from_millis(delay_ms));
        w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
        for mut c in clients {
            let _ = c.wait();
        }
        w.start_daemon(&[]);

        // What the daemon says runs is exactly what has a namespace, a port on the bridge and an address.
        let running: Vec<String> = w
            .cnm(&["ps", "-q", "--no-trunc"])
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect();
        let created = w.cnm(&["ps", "-aq"]).ok().stdout.lines().count();
        eprintln!(
            "round {round}: killed after {delay_ms} ms: {} running, {created} known",
            running.len()
        );
        assert_eq!(
            w.sandboxes(),
            running.len(),
            "round {round}: namespace files vs running containers"
        );
        wait_until("ports of killed attaches to go", || {
            ports(&w, &br).len() == running.len()
        });
        let strays: Vec<String> = host_links(&w)
            .into_iter()
            .filter(|l| l.starts_with("veth") || l.starts_with("cnm"))
            .filter(|l| !ports(&w, &br).contains(l))
            .collect();
        assert!(strays.is_empty(), "round {round}: stray links {strays:?}");
        let net = w.inspect("network", "app");
        let members = net["Containers"].as_object().expect("containers");
        assert_eq!(members.len(), running.len(), "round {round}: {net}");
        let mut addrs: Vec<String> = members
            .values()
            .map(|c| c["IPv4Address"].as_str().expect("addr").to_string())
            .collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(
            addrs.len(),
            running.len(),
            "round {round}: duplicate addresses"
        );
        for id in &running {
            w.cnm(&["exec", id, "--", "ping", "-c1", "-W2", "10.66.0.1"])
                .ok();
        }
    }
    // After all that, a new container still gets a free address and works.
    w.run_bg("after", &["--network", "app"], &["sleep", "1000"]);
    let ip = w.ip("after", "app");
    w.cnm(&["exec", "after", "--", "ping", "-c1", "-W2", "10.66.0.1"])
        .ok();
    let net = w.inspect("network", "app");
    let same = net["Containers"]
        .as_object()
        .expect("containers")
        .values()
        .filter(|c| {
            c["IPv4Address"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("{ip}/"))
        })
        .count();
    assert_eq!(same, 1, "{ip} handed out twice");
}

#[test]
fn spare_namespaces_are_made_ahead_used_and_dropped_on_shutdown() {
    let mut w = World::new();
    let spares = |w: &World| {
        std::fs::read_dir(w.path("exec/netns-spare"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    wait_until("the pool to fill", || spares(&w) == 4);
    w.cnm(&["network", "create", "app"]).ok();
    for i in 0..6 {
        w.run_bg(&format!("sp{i}"), &["--network", "app"], &["sleep", "1000"]);
    }
    wait_until("the pool to refill", || spares(&w) == 4);
    assert_eq!(w.sandboxes(), 6);
    for i in 0..6 {
        w.cnm(&[
            "exec",
            &format!("sp{i}"),
            "--",
            "ping",
            "-c1",
            "-W2",
            "172.18.0.1",
        ])
        .ok();
    }
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(spares(&w), 0, "a clean shutdown drops its spares");
    w.start_daemon(&[]);
    wait_until("the pool to fill again", || spares(&w) == 4);
    w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
    w.start_daemon(&[]);
    wait_until("a killed daemon's spares replaced", || spares(&w) == 4);
    for i in 0..6 {
        w.cnm(&[
            "exec",
            &format!("sp{i}"),
            "--",
            "ping",
            "-c1",
            "-W2",
            "172.18.0.1",
        ])
        .ok();
    }
}

fn ppid(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("ppid")
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `cnm spawner` child of a daemon.
fn spawner_of(daemon: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("PPid:"))
                        .and_then(|v| v.trim().parse::<u32>().ok())
                })
                == Some(daemon)
                && cmdline(p).get(1).map(String::as_str) == Some("spawner")
        })
}

#[test]
fn shims_are_forked_by_a_spawner_that_goes_with_its_daemon() {
    let mut w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    w.run_bg("sh1", &["--network", "app"], &["sleep", "1000"]);
    let pid = w.inspect("container", "sh1")["State"]["Pid"]
        .as_u64()
        .expect("pid") as u32;
    let shim = ppid(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{shim}/comm"))
            .expect("comm")
            .trim(),
        "cnm-shim"
    );
    // A forked shim carries the spawner's command line, not `cnm shim SPEC`.
    assert_eq!(cmdline(shim).get(1).map(String::as_str), Some("spawner"));
    let old = spawner_of(w.daemon_pid()).expect("spawner of the first daemon");
    w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
    wait_until("the killed daemon's spawner to exit", || {
        !std::path::Path::new(&format!("/proc/{old}")).exists()
            || std::fs::read_to_string(format!("/proc/{old}/status"))
                .map(|s| s.contains("State:\tZ"))
                .unwrap_or(true)
    });
    w.start_daemon(&[]);
    // The container kept running and is recognised as running by the new daemon.
    assert_eq!(w.inspect("container", "sh1")["State"]["Running"], true);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    w.run_bg("sh2", &["--network", "app"], &["sleep", "1000"]);
    w.cnm(&[
        "exec",
        "sh2",
        "--",
        "ping",
        "-c1",
        "-W2",
        &w.ip("sh1", "app"),
    ])
    .ok();
    w.cnm(&["stop", "-t", "1", "sh1"]).ok();
    assert_eq!(w.inspect("container", "sh1")["State"]["Running"], false);
}

#[test]
fn container_traffic_flows_without_a_gap_across_daemon_restarts() {
    let mut w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    w.run_bg("target", &["--network", "app"], &["sleep", "1000"]);
    let ip = w.ip("target", "app");
    // 100 pings, 40 ms apart, while the daemon is stopped twice (SIGTERM, then SIGKILL) and started again.
    w.run_bg(
        "pinger",
        &["--network", "app"],
        &["ping", "-q", "-c", "100", "-i", "0.04", "-W", "1", &ip],
    );
    std::thread::sleep(Duration::from_millis(500));
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    w.start_daemon(&[]);
    std::thread::sleep(Duration::from_millis(300));
    w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
    std::thread::sleep(Duration::from_millis(300));
    w.start_daemon(&[]);
    wait_until("the pinger to finish", || {
        w.inspect("container", "pinger")["State"]["Running"] == false
    });
    let logs = w.cnm(&["logs", "pinger"]).ok().stdout;
    assert!(
        logs.contains("100 packets transmitted, 100 received, 0% packet loss"),
        "{logs}"
    );
    assert_eq!(w.inspect("container", "pinger")["State"]["ExitCode"], 0);
}

fn ready_namespaces(w: &World) -> usize {
    std::fs::read_dir(w.path("exec/netns-ready"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn address_of(w: &World, ctr: &str, net: &str) -> (String, String) {
    let c = w.inspect("container", ctr);
    let n = &c["NetworkSettings"]["Networks"][net];
    (
        n["IPAddress"].as_str().expect("ip").to_string(),
        n["MacAddress"].as_str().expect("mac").to_string(),
    )
}

#[test]
fn bridge_endpoints_made_ahead_are_taken_by_the_next_container_and_dropped_with_their_network() {
    let mut w = World::new();
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    w.start_daemon(&["--ready-endpoints", "2"]);
    w.cnm(&["network", "create", "app"]).ok();
    let br = bridge_of(&w, "app");
    w.run_bg("r0", &["--network", "app"], &["sleep", "1000"]);
    wait_until("two endpoints ready on app's bridge", || {
        w.veths(Some(&br)).1.len() == 2
    });
    assert_eq!(ready_namespaces(&w), 2);
    let ready_before = w.veths(Some(&br)).1;

    // The next container's interface is one of those, under its name, without the ready alias.
    w.run_bg("r1", &["--network", "app"], &["sleep", "1000"]);
    let (ctrs, _) = w.veths(Some(&br));
    assert_eq!(ctrs.len(), 2, "{ctrs:?}");
    assert!(
        ctrs.iter().any(|n| ready_before.contains(n)),
        "r1 took none of the ready interfaces {ready_before:?}: {ctrs:?}"
    );
    let (ip0, _) = address_of(&w, "r0", "app");
    let (ip1, mac1) = address_of(&w, "r1", "app");
    let link = w
        .cnm(&["exec", "r1", "--", "ip", "-o", "link", "show", "eth0"])
        .ok();
    assert!(link.stdout.contains(&mac1), "{} lacks {mac1}", link.stdout);
    w.cnm(&["exec", "r1", "--", "ping", "-c1", "-W2", &ip0])
        .ok();
    w.sh(&format!("ping -c1 -W2 {ip1}")).ok();
    // On an IPv4-only network neither way of making the interface leaves IPv6 on it.
    for c in ["r0", "r1"] {
        let v6 = w
            .cnm(&[
                "exec",
                c,
                "--",
                "cat",
                "/proc/sys/net/ipv6/conf/eth0/disable_ipv6",
            ])
            .ok();
        assert_eq!(v6.stdout.trim(), "1", "{c}");
        let addrs = w
            .cnm(&["exec", c, "--", "ip", "-6", "addr", "show", "dev", "eth0"])
            .ok();
        assert!(addrs.stdout.trim().is_empty(), "{c}: {}", addrs.stdout);
    }
    wait_until("the pool to refill", || w.veths(Some(&br)).1.len() == 2);

    // A requested MAC is not one a ready interface has: that container gets its own, and works.
    w.run_bg(
        "r2",
        &["--network", "app", "--mac-address", "02:42:ac:11:00:99"],
        &["sleep", "1000"],
    );
    let (ip2, mac2) = address_of(&w, "r2", "app");
    assert_eq!(mac2, "02:42:ac:11:00:99");
    let link = w
        .cnm(&["exec", "r2", "--", "ip", "-o", "link", "show", "eth0"])
        .ok();
    assert!(link.stdout.contains(&mac2), "{}", link.stdout);
    w.cnm(&["exec", "r2", "--", "ping", "-c1", "-W2", &ip1])
        .ok();

    // A killed daemon's ready interfaces go at the next start; the containers keep working.
    w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
    w.start_daemon(&["--ready-endpoints", "2"]);
    assert_eq!(ready_namespaces(&w), 0);
    wait_until("the killed daemon's ready interfaces to go", || {
        w.veths(Some(&br)).1.is_empty()
    });
    assert_eq!(ports(&w, &br).len(), 3);
    w.cnm(&["exec", "r1", "--", "ping", "-c1", "-W2", &ip2])
        .ok();

    // They come back with the next start, and go with their network.
    w.run_bg("r3", &["--network", "app"], &["sleep", "1000"]);
    wait_until("ready again", || w.veths(Some(&br)).1.len() == 2);
    for c in ["r0", "r1", "r2", "r3"] {
        w.cnm(&["rm", "-f", c]).ok();
    }
    w.cnm(&["network", "rm", "app"]).ok();
    assert_eq!(ready_namespaces(&w), 0);
    wait_until("no veth left", || {
        let (c, r) = w.veths(None);
        c.is_empty() && r.is_empty()
    });

    // A clean shutdown drops them too; `--ready-endpoints 0` makes none.
    w.cnm(&["network", "create", "two"]).ok();
    w.run_bg("t0", &["--network", "two"], &["sleep", "1000"]);
    wait_until("ready on two", || ready_namespaces(&w) == 2);
    w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(ready_namespaces(&w), 0, "a clean shutdown drops them");
    w.start_daemon(&["--ready-endpoints", "0"]);
    w.run_bg("t1", &["--network", "two"], &["sleep", "1000"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ready_namespaces(&w), 0);
    let (ip_t0, _) = address_of(&w, "t0", "two");
    w.cnm(&["exec", "t1", "--", "ping", "-c1", "-W2", &ip_t0])
        .ok();
}

#[test]
fn bridges_have_multicast_snooping_off_unless_asked_and_ipv6_neighbour_discovery_works() {
    let w = World::new();
    w.cnm(&["network", "create", "plain"]).ok();
    w.cnm(&[
        "network",
        "create",
        "-o",
        "cnm.bridge.mcast_snooping=true",
        "snoop",
    ])
    .ok();
    let snooping = |net: &str| {
        let br = bridge_of(&w, net);
        w.sh(&format!("ip -d link show {br}")).ok().stdout
    };
    assert!(
        snooping("plain").contains("mcast_snooping 0"),
        "{}",
        snooping("plain")
    );
    assert!(
        snooping("snoop").contains("mcast_snooping 1"),
        "{}",
        snooping("snoop")
    );
    let docker0 = w.sh("ip -d link show docker0").ok().stdout;
    assert!(docker0.contains("mcast_snooping 0"), "{docker0}");
    // IPv6 neighbour discovery (solicited-node multicast) works between two containers.
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:5::/64",
        "v6",
    ])
    .ok();
    w.run_bg("m0", &["--network", "v6"], &["sleep", "1000"]);
    w.run_bg("m1", &["--network", "v6"], &["sleep", "1000"]);
    let c = w.inspect("container", "m0");
    let ip6 = c["NetworkSettings"]["Networks"]["v6"]["GlobalIPv6Address"]
        .as_str()
        .expect("v6 address")
        .to_string();
    w.cnm(&["exec", "m1", "--", "ping", "-6", "-c1", "-W2", &ip6])
        .ok();
    // The IPv6 gateway is pinned too, and the host reaches the container over IPv6 by its pinned entry.
    let gw6 = c["NetworkSettings"]["Networks"]["v6"]["IPv6Gateway"]
        .as_str()
        .expect("v6 gateway")
        .to_string();
    let inside = w
        .cnm(&["exec", "m0", "--", "ip", "-6", "neigh", "show", &gw6])
        .ok()
        .stdout;
    assert!(inside.contains("PERMANENT"), "{inside}");
    let br = bridge_of(&w, "v6");
    let host = w
        .sh(&format!("ip -6 neigh show dev {br} {ip6}"))
        .ok()
        .stdout;
    assert!(host.contains("PERMANENT"), "{host}");
    w.sh(&format!("ping -6 -c1 -W2 {ip6}")).ok();
}

/// Packets of eth0 received inside a container (its /proc/net/dev).
fn rx_packets(w: &World, ctr: &str) -> u64 {
    let dev = w
        .cnm(&["exec", ctr, "--", "cat", "/proc/net/dev"])
        .ok()
        .stdout;
    dev.lines()
        .find_map(|l| l.trim().strip_prefix("eth0:"))
        .and_then(|f| f.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no eth0 in {ctr}'s /proc/net/dev:\n{dev}"))
}

/// A broadcast or unknown-destination frame on a bridge is copied to every port at once, and past
/// about 1000 ports the copies for the oldest ports are dropped. So the host and a container reach each
/// other without flooding: the container's addresses are pinned to its MAC in the host's neighbour
/// table, its MAC to its port in the bridge's FDB, its gateway to the bridge's MAC in its own table,
/// and no other container sees their traffic. The host's entries go with the container, and a restart
/// removes the ones a killed daemon left.
#[test]
fn the_host_and_a_container_reach_each_other_without_flooding_the_bridge() {
    let mut w = World::new();
    w.cnm(&["network", "create", "--subnet", "10.77.0.0/24", "quiet"])
        .ok();
    // The first container of a network makes its own interface, the second takes a ready one.
    w.run_bg("q0", &["--network", "quiet"], &["sleep", "1000"]);
    w.run_bg("q1", &["--network", "quiet"], &["sleep", "1000"]);
    let br = bridge_of(&w, "quiet");
    let link = w.sh(&format!("ip -o link show {br}")).ok().stdout;
    let br_mac = link
        .split_whitespace()
        .skip_while(|f| *f != "link/ether")
        .nth(1)
        .unwrap_or_else(|| panic!("no MAC in {link}"))
        .to_string();
    for (me, other) in [("q0", "q1"), ("q1", "q0")] {
        let net = &w.inspect("container", me)["NetworkSettings"]["Networks"]["quiet"];
        let ip = net["IPAddress"].as_str().expect("address").to_string();
        let mac = net["MacAddress"].as_str().expect("mac").to_string();
        let gw = net["Gateway"].as_str().expect("gateway").to_string();
        let neigh = w.sh(&format!("ip neigh show dev {br} {ip}")).ok().stdout;
        assert!(
            neigh.contains(&format!("lladdr {mac} PERMANENT")),
            "{me}: {neigh}"
        );
        let fdb = w
            .sh(&format!("bridge fdb show br {br} | grep -i '^{mac} '"))
            .ok()
            .stdout;
        assert!(fdb.contains("static"), "{me}: {fdb}");
        let inside = w
            .cnm(&["exec", me, "--", "ip", "neigh", "show", &gw])
            .ok()
            .stdout;
        assert!(
            inside.contains(&format!("lladdr {br_mac} PERMANENT")),
            "{me}: {inside}"
        );
        // The host forgets what it learned, as it would over time (dynamic entries age out); the
        // ping and its answer (no ARP request either way, no flooded frame) reach only the two ends.
        w.sh(&format!(
            "ip neigh flush dev {br} && bridge fdb flush dev {br} dynamic"
        ))
        .ok();
        let before = rx_packets(&w, other);
        w.sh(&format!("ping -c3 -i0.2 -W1 {ip}")).ok();
        assert_eq!(
            rx_packets(&w, other),
            before,
            "{other} saw traffic between the host and {me}"
        );
    }
    let ip = w.ip("q0", "quiet");

    w.cnm(&["rm", "-f", "q0"]).ok();
    let neigh = w.sh(&format!("ip neigh show dev {br} {ip}")).ok().stdout;
    assert!(!neigh.contains("PERMANENT"), "{neigh}");

    // What a daemon killed between removing a sandbox and unpinning leaves: a pinned address of the
    // network that no endpoint holds goes at the next start; one outside its subnet is not cnm's.
    w.sh(&format!(
        "ip neigh add 10.77.0.200 lladdr 02:00:00:00:00:c8 dev {br} nud permanent && \
         ip neigh add 192.0.2.9 lladdr 02:00:00:00:00:09 dev {br} nud permanent"
    ))
    .ok();
    w.stop_daemon(nix::sys::signal::Signal::SIGKILL);
    w.start_daemon(&[]);
    let left = w
        .sh(&format!("ip neigh show dev {br} nud permanent"))
        .ok()
        .stdout;
    assert!(!left.contains("10.77.0.200"), "{left}");
    assert!(left.contains("192.0.2.9"), "{left}");
    let q1 = w.ip("q1", "quiet");
    assert!(left.contains(&q1), "q1's entry stays: {left}");
}

/// Ports on a bridge, whoever holds them.
fn bridge_ports(w: &World, bridge: &str) -> usize {
    let (containers, ready) = w.veths(Some(bridge));
    containers.len() + ready.len()
}

#[test]
fn a_full_bridge_gives_the_ports_of_its_ready_endpoints_to_containers() {
    let w = World::new();
    w.cnm(&["network", "create", "--subnet", "10.77.0.0/20", "full"])
        .ok();
    w.cnm(&["network", "create", "other"]).ok();
    w.run_bg("first", &["--network", "full"], &["sleep", "1000"]);
    let br = bridge_of(&w, "full");
    wait_until("two ready endpoints on the bridge", || {
        w.veths(Some(&br)).1.len() == 2
    });
    // A bridge holds 1023 ports: the container's, the two ready ones and 1020 of someone else's.
    let mut batch = String::new();
    for i in 0..1020 {
        batch.push_str(&format!(
            "link add fill{i} type veth peer name fillp{i}\nlink set fill{i} master {br}\n"
        ));
    }
    std::fs::write(w.path("fill.batch"), batch).expect("batch");
    w.sh(&format!("ip -batch {}", w.path("fill.batch").display()))
        .ok();
    assert_eq!(bridge_ports(&w, &br), 1023);
    w.sh(&format!(
        "ip link add over type veth peer name overp && ip link set over master {br}"
    ))
    .fails(2, "xchange full");

    // Connecting a container needs a port: the ready endpoints give theirs up.
    w.run_bg("late", &["--network", "other"], &["sleep", "1000"]);
    w.cnm(&["network", "connect", "full", "late"]).ok();
    assert!(
        w.veths(Some(&br)).1.is_empty(),
        "ready endpoints gave up their ports"
    );
    let first = w.ip("first", "full");
    w.cnm(&["exec", "late", "--", "ping", "-c", "1", "-W", "2", &first])
        .ok();
    // None is made again while the bridge is full: the one port left goes to the next container.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(w.veths(Some(&br)).1.len(), 0, "no ready endpoint refilled");
    w.run_bg("third", &["--network", "other"], &["sleep", "1000"]);
    w.cnm(&["network", "connect", "full", "third"]).ok();
    assert_eq!(bridge_ports(&w, &br), 1023);

    // Really full: a clear error, and nothing half-made.
    w.run_bg("fourth", &["--network", "other"], &["sleep", "1000"]);
    let before = w.sh("ip -o link show type veth | wc -l").ok().stdout;
    w.cnm(&["network", "connect", "full", "fourth"]).fails(
        1,
        "network full is full: a Linux bridge holds at most 1023 endpoints",
    );
    assert_eq!(
        w.sh("ip -o link show type veth | wc -l").ok().stdout,
        before
    );
    let nets = w.inspect("container", "fourth")["NetworkSettings"]["Networks"].clone();
    assert!(nets.get("full").is_none(), "{nets}");
    w.cnm(&["exec", "fourth", "--", "ip", "link", "show", "eth1"])
        .fails(1, "");

    // Once a container leaves, a port is free for ready endpoints again.
    w.cnm(&["rm", "-f", "late"]).ok();
    w.run_bg("fifth", &["--network", "full"], &["sleep", "1000"]);
    w.cnm(&["exec", "fifth", "--", "ping", "-c", "1", "-W", "2", &first])
        .ok();
}
