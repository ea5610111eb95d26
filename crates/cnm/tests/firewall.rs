//! The nftables firewall and published ports, end to end: each test's world namespace is "the host",
//! and an `ext` namespace wired to it over a veth plays another machine on the LAN (192.0.2.2, the
//! host being 192.0.2.1). No packet leaves the world.

mod common;
#[path = "firewall/heal.rs"]
mod heal;

use std::time::{Duration, Instant};

use common::World;
use nix::sys::signal::Signal;

const HOST: &str = "192.0.2.1";

/// Another machine on the host's LAN: a namespace of its own (held by a `sleep` this test started)
/// wired to the world over a veth. It has no route to container subnets unless `route` says so, so a
/// reply reaches a container only through masquerade.
struct Peer {
    holder: std::process::Child,
}

impl Peer {
    fn new(w: &World, route: Option<&str>) -> Peer {
        let holder = w
            .command("unshare")
            .args(["--net", "sleep", "100000"])
            .spawn()
            .expect("peer holder");
        let pid = holder.id();
        let start = Instant::now();
        let world_ns = w.sh("readlink /proc/self/ns/net").ok().stdout;
        while w.sh(&format!("readlink /proc/{pid}/ns/net")).stdout == world_ns {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "peer namespace did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let p = Peer { holder };
        w.sh(&format!(
            "ip link add ext0 type veth peer name eth0 netns {pid} && \
             ip addr add {HOST}/24 dev ext0 && ip link set ext0 up"
        ))
        .ok();
        p.sh(
            w,
            "ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up && ip link set lo up",
        )
        .ok();
        if let Some(subnet) = route {
            p.sh(w, &format!("ip route add {subnet} via {HOST}")).ok();
        }
        p
    }

    fn sh(&self, w: &World, script: &str) -> common::Out {
        w.sh(&format!(
            "nsenter -t {} -n sh -c '{script}'",
            self.holder.id()
        ))
    }

    /// Fetch `url` from the peer; the body, or None when it cannot.
    fn fetch(&self, w: &World, url: &str) -> Option<String> {
        let out = self.sh(w, &format!("curl -s -m 2 {url}"));
        (out.code == 0).then_some(out.stdout)
    }

    /// Serve `body` at `/` on port 80 (IPv4 and IPv6), logging each client's address.
    fn serve(&self, w: &World, body: &str) -> Server {
        let www = w.path(&format!("www-peer-{}", self.holder.id()));
        std::fs::create_dir_all(&www).expect("www");
        std::fs::write(www.join("index.html"), body).expect("index");
        let child = self
            .nsenter(w)
            .args(["busybox", "httpd", "-f", "-vv", "-p", "80", "-h"])
            .arg(&www)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("httpd");
        std::thread::sleep(Duration::from_millis(200));
        Server { child }
    }

    fn nsenter(&self, w: &World) -> std::process::Command {
        let mut c = w.command("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-n"]);
        c
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A server on the peer (`Peer::serve`).
struct Server {
    child: std::process::Child,
}

impl Server {
    /// Stop it (our own child, by PID) and return its log: one line per client, with its address.
    fn log(self) -> String {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            Signal::SIGTERM,
        );
        let out = self.child.wait_with_output().expect("httpd output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A first IPv6 exchange waits for neighbour discovery on the links it crosses: `fetch` is tried
/// for up to 6 s.
fn first_ipv6_exchange(mut fetch: impl FnMut() -> Option<String>) -> Option<String> {
    let start = Instant::now();
    loop {
        let got = fetch();
        if got.is_some() || start.elapsed() > Duration::from_secs(6) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fetch `url` from the host itself.
fn from_host(w: &World, url: &str) -> Option<String> {
    let out = w.sh(&format!("curl -s -m 2 {url}"));
    (out.code == 0).then_some(out.stdout)
}

/// Fetch `url` from a throwaway container on `network`.
fn from_container(w: &World, network: &str, url: &str) -> Option<String> {
    let out = w.cnm(&[
        "run",
        "--rm",
        "--network",
        network,
        "--",
        "curl",
        "-s",
        "-m",
        "2",
        url,
    ]);
    (out.code == 0).then_some(out.stdout)
}

/// A busybox httpd container serving `body`, with extra `run` options (`-p …`).
fn web(w: &World, name: &str, network: &str, opts: &[&str], body: &str) -> String {
    let www = w.path(&format!("www-{name}"));
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("index.html"), body).expect("index");
    let root = www.to_str().expect("path").to_string();
    let mut o = vec!["--network", network];
    o.extend_from_slice(opts);
    w.run_bg(
        name,
        &o,
        &["busybox", "httpd", "-f", "-p", "80", "-h", &root],
    );
    w.ip(name, network)
}

fn ruleset(w: &World) -> String {
    w.sh("nft list ruleset").ok().stdout
}

#[test]
fn a_published_port_answers_from_everywhere_and_goes_away_with_the_container() {
    let w = World::new();
    let peer = Peer::new(&w, None);
    w.cnm(&["network", "create", "app"]).ok();
    web(&w, "web", "app", &["-p", "8080:80"], "published\n");
    let url = format!("http://{HOST}:8080/");
    let want = Some("published\n".to_string());
    assert_eq!(peer.fetch(&w, &url), want, "from another host");
    assert_eq!(from_host(&w, &url), want, "from the host's address");
    assert_eq!(
        from_host(&w, "http://127.0.0.1:8080/"),
        want,
        "from the host's 127.0.0.1"
    );
    assert_eq!(
        from_container(&w, "app", &url),
        want,
        "from another container"
    );
    let hairpin = w.cnm(&["exec", "web", "--", "curl", "-s", "-m", "2", &url]);
    assert_eq!(
        hairpin.stdout, "published\n",
        "from itself: {}",
        hairpin.stderr
    );
    w.cnm(&["network", "create", "other"]).ok();
    assert_eq!(
        from_container(&w, "other", &url),
        want,
        "from a container of another network"
    );

    // What users read back: `cnm port`, inspect and ps.
    let port = w.cnm(&["port", "web"]).ok().stdout;
    assert_eq!(port, "80/tcp -> 0.0.0.0:8080\n");
    let c = w.inspect("container", "web");
    assert_eq!(
        c["NetworkSettings"]["Ports"]["80/tcp"][0],
        serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "8080"})
    );
    assert_eq!(
        c["HostConfig"]["PortBindings"]["80/tcp"][0],
        serde_json::json!({"HostIp": "", "HostPort": "8080"})
    );
    let ps = w.cnm(&["ps"]).ok().stdout;
    assert!(ps.contains("0.0.0.0:8080->80/tcp"), "{ps}");

    // The port is held: no host process can take it.
    let nc = w.sh("timeout 1 busybox nc -l -p 8080 2>&1; echo rc=$?");
    assert!(
        nc.stdout.contains("in use"),
        "host process bound a published port: {}",
        nc.stdout
    );

    w.cnm(&["stop", "-t", "1", "web"]).ok();
    assert_eq!(
        peer.fetch(&w, &url),
        None,
        "a stopped container's port still answers"
    );
    assert!(
        !ruleset(&w).contains(". 8080 :"),
        "the mapping is still programmed"
    );
    assert_eq!(
        w.inspect("container", "web")["NetworkSettings"]["Ports"],
        serde_json::json!({})
    );
    // Let go: a host process may bind it now.
    let nc = w.sh("timeout 1 busybox nc -l -p 8080 2>&1; echo rc=$?");
    assert!(!nc.stdout.contains("in use"), "{}", nc.stdout);
}

#[test]
fn a_taken_port_fails_with_dockers_error_and_leaves_nothing_behind() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    web(&w, "one", "app", &["-p", "8080:80"], "one\n");
    let before = ruleset(&w);
    let out = w.cnm(&[
        "run",
        "-d",
        "--name",
        "two",
        "--network",
        "app",
        "-p",
        "8080:80",
        "--",
        "sleep",
        "1000",
    ]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{}",
        out.stderr
    );
    assert_eq!(w.sandboxes(), 1, "the failed container's sandbox was left");
    assert_eq!(ruleset(&w), before, "the failed start changed the firewall");
    assert_eq!(
        from_host(&w, "http://127.0.0.1:8080/"),
        Some("one\n".into())
    );
    // A port a host process already holds is refused the same way.
    let mut holder = w
        .command("busybox")
        .args(["nc", "-l", "-p", "8090"])
        .spawn()
        .expect("nc");
    std::thread::sleep(Duration::from_millis(200));
    let out = w.cnm(&[
        "run",
        "-d",
        "--name",
        "three",
        "--network",
        "app",
        "-p",
        "8090:80",
        "--",
        "sleep",
        "1000",
    ]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.stderr.contains("8090"), "{}", out.stderr);
    assert_eq!(w.sandboxes(), 1);
    // Bad specs are refused before anything is made.
    let out = w.cnm(&["run", "--network", "app", "-p", "80:80:80:80", "--", "true"]);
    assert_eq!(out.code, 125);
    assert!(out.stderr.contains("invalid"), "{}", out.stderr);
}

#[test]
fn random_ports_come_from_the_ephemeral_range_and_bound_addresses_stay_bound() {
    let w = World::new();
    let peer = Peer::new(&w, None);
    w.cnm(&["network", "create", "app"]).ok();
    web(
        &w,
        "web",
        "app",
        &["-p", "80", "-p", "127.0.0.1:8081:80"],
        "hi\n",
    );
    let port = w.cnm(&["port", "web"]).ok().stdout;
    let random: u16 = port
        .lines()
        .find(|l| l.contains("0.0.0.0:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no random port in {port:?}"));
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").expect("range");
    let mut it = range
        .split_whitespace()
        .map(|v| v.parse::<u16>().expect("num"));
    let (lo, hi) = (it.next().expect("lo"), it.next().expect("hi"));
    assert!((lo..=hi).contains(&random), "{random} not in {lo}-{hi}");
    assert_eq!(
        peer.fetch(&w, &format!("http://{HOST}:{random}/")),
        Some("hi\n".into())
    );
    assert!(port.contains("80/tcp -> 127.0.0.1:8081"), "{port}");
    // Bound to 127.0.0.1: the host reaches it there; nothing else does (moby#45610).
    assert_eq!(from_host(&w, "http://127.0.0.1:8081/"), Some("hi\n".into()));
    assert_eq!(from_host(&w, &format!("http://{HOST}:8081/")), None);
    assert_eq!(peer.fetch(&w, &format!("http://{HOST}:8081/")), None);
}

#[test]
fn networks_are_isolated_icc_off_and_internal_hold() {
    let w = World::new();
    let _peer = Peer::new(&w, None);
    w.cnm(&["network", "create", "a"]).ok();
    w.cnm(&["network", "create", "b"]).ok();
    let ip_a = web(&w, "wa", "a", &[], "a\n");
    let ip_b = web(&w, "wb", "b", &[], "b\n");
    assert_eq!(
        from_container(&w, "a", &format!("http://{ip_b}/")),
        None,
        "a → b"
    );
    assert_eq!(
        from_container(&w, "b", &format!("http://{ip_a}/")),
        None,
        "b → a"
    );
    let ping = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "a",
        "--",
        "ping",
        "-c1",
        "-W1",
        &ip_b,
    ]);
    assert_ne!(ping.code, 0, "ICMP crossed networks");
    let udp = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "a",
        "--",
        "sh",
        "-c",
        &format!("echo x | busybox nc -u -w1 {ip_b} 53; echo done"),
    ]);
    assert!(udp.stdout.contains("done"));
    // The host still reaches both; a container on both networks reaches both.
    assert_eq!(
        from_host(&w, &format!("http://{ip_a}/")),
        Some("a\n".into())
    );
    let both = w.run_bg("both", &["--network", "a"], &["sleep", "1000"]);
    w.cnm(&["network", "connect", "b", &both]).ok();
    for (ip, body) in [(&ip_a, "a\n"), (&ip_b, "b\n")] {
        let got = w.cnm(&[
            "exec",
            "both",
            "--",
            "curl",
            "-s",
            "-m",
            "2",
            &format!("http://{ip}/"),
        ]);
        assert_eq!(got.stdout, body, "{}", got.stderr);
    }

    // ICC off: neighbours cannot talk; the gateway and the outside still work.
    w.cnm(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "noicc",
    ])
    .ok();
    let ip_n = web(&w, "wn", "noicc", &[], "n\n");
    assert_eq!(
        from_container(&w, "noicc", &format!("http://{ip_n}/")),
        None,
        "ICC off let a neighbour in"
    );
    let gw = w.inspect("network", "noicc")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .expect("gw")
        .to_string();
    let ping = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "noicc",
        "--",
        "ping",
        "-c1",
        "-W2",
        &gw,
    ]);
    assert_eq!(
        ping.code, 0,
        "gateway unreachable with ICC off: {}",
        ping.stderr
    );
    let out = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "noicc",
        "--",
        "ping",
        "-c1",
        "-W2",
        "192.0.2.2",
    ]);
    assert_eq!(
        out.code, 0,
        "outside unreachable with ICC off: {}",
        out.stderr
    );

    // Internal: nothing out, nothing in.
    w.cnm(&["network", "create", "--internal", "int"]).ok();
    let ip_i = web(&w, "wi", "int", &[], "i\n");
    let out = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "int",
        "--",
        "ping",
        "-c1",
        "-W1",
        "192.0.2.2",
    ]);
    assert_ne!(out.code, 0, "an internal network reached the LAN");
    assert_eq!(
        from_container(&w, "int", &format!("http://{ip_i}/")),
        Some("i\n".into())
    );
    assert_eq!(from_container(&w, "a", &format!("http://{ip_i}/")), None);
}

#[test]
fn outbound_is_masqueraded_and_unpublished_addresses_are_protected() {
    let w = World::new();
    w.cnm(&["network", "create", "--subnet", "10.77.0.0/24", "app"])
        .ok();
    let peer = Peer::new(&w, Some("10.77.0.0/24"));
    // The peer serves; the container reaches it, and the peer sees the host's address.
    let server = peer.serve(&w, "peer\n");
    assert_eq!(
        from_container(&w, "app", "http://192.0.2.2/"),
        Some("peer\n".into())
    );
    let log = server.log();
    assert!(
        log.contains(HOST) && !log.contains("10.77.0."),
        "not masqueraded: {log}"
    );

    // Even with a route to the subnet, the peer cannot reach an unpublished container port…
    let ip = web(&w, "web", "app", &[], "hidden\n");
    assert_eq!(
        peer.fetch(&w, &format!("http://{ip}/")),
        None,
        "direct access to a container"
    );
    // …but a published one, by the host's address.
    web(&w, "pub", "app", &["-p", "8085:80"], "shown\n");
    assert_eq!(
        peer.fetch(&w, &format!("http://{HOST}:8085/")),
        Some("shown\n".into())
    );

    // Masquerade off: the peer (without a route back) gets no answer through.
    w.cnm(&[
        "network",
        "create",
        "--subnet",
        "10.78.0.0/24",
        "-o",
        "com.docker.network.bridge.enable_ip_masquerade=false",
        "nomasq",
    ])
    .ok();
    let out = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "nomasq",
        "--",
        "ping",
        "-c1",
        "-W1",
        "192.0.2.2",
    ]);
    assert_ne!(out.code, 0, "traffic got NAT with masquerade off");
}

#[test]
fn a_restart_replaces_the_rules_without_a_gap_or_duplicates() {
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut w = World::new();
        w.cnm(&["network", "create", "app"]).ok();
        let got = w.path("got");
        // One TCP connection through the published port, written to for 2 s across the restart.
        w.run_bg(
            "sink",
            &["--network", "app", "-p", "8080:80"],
            &[
                "sh",
                "-c",
                &format!("sleep 1000 | busybox nc -l -p 80 > {}", got.display()),
            ],
        );
        std::thread::sleep(Duration::from_millis(200));
        let before = ruleset(&w);
        let flow = w
            .command("sh")
            .arg("-c")
            .arg("i=0; while [ $i -lt 40 ]; do echo $i; sleep 0.05; i=$((i+1)); done | busybox nc 127.0.0.1 8080")
            .spawn()
            .expect("flow");
        std::thread::sleep(Duration::from_millis(300));
        w.stop_daemon(sig);
        w.start_daemon(&[]);
        let st = flow.wait_with_output().expect("flow");
        assert!(
            st.status.success(),
            "the flow broke across the restart ({sig})"
        );
        let lines: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let text = std::fs::read_to_string(&got).expect("sink output");
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            lines,
            "data lost across the restart ({sig})"
        );
        assert_eq!(
            ruleset(&w),
            before,
            "rules changed across a restart ({sig})"
        );
        let held = w.sh("timeout 1 busybox nc -l -p 8080 2>&1; echo rc=$?");
        assert!(
            held.stdout.contains("in use"),
            "port not held after restart: {}",
            held.stdout
        );
    }
}

#[test]
fn a_thousand_published_ports_are_a_handful_of_elements() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let www = w.path("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("index.html"), "many\n").expect("index");
    let root = www.display().to_string();
    w.run_bg(
        "web",
        &[
            "--network",
            "app",
            "-p",
            "20000-20999:20000-20999",
            "-p",
            "30000-30999:80",
        ],
        &[
            "sh",
            "-c",
            // Both in the foreground of their own shell jobs: a daemonizing httpd would leave the
            // container's process group and outlive `rm -f` (no PID namespace; docs/compatibility.md).
            &format!("busybox httpd -f -p 20500 -h {root} & exec busybox httpd -f -p 80 -h {root}"),
        ],
    );
    let rules = ruleset(&w);
    let elements = rules.matches(" : ").count();
    assert!(elements < 40, "a port range became {elements} elements");
    assert_eq!(
        from_host(&w, "http://127.0.0.1:20500/"),
        Some("many\n".into())
    );
    // One container port with a host range: one port of that range, as docker does.
    let ports = w.cnm(&["port", "web"]).ok().stdout;
    assert_eq!(ports.lines().count(), 1001, "{ports}");
    let picked = ports
        .lines()
        .find(|l| l.starts_with("80/tcp"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse::<u16>().ok())
        .expect("the 80/tcp binding");
    assert!((30000..=30999).contains(&picked));
    assert_eq!(
        from_host(&w, &format!("http://127.0.0.1:{picked}/")),
        Some("many\n".into())
    );
    w.cnm(&["rm", "-f", "web"]).ok();
    assert!(!ruleset(&w).contains("20000"));
}

#[test]
fn host_mode_ignores_published_ports_with_a_warning() {
    let w = World::new();
    let out = w.cnm(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "8080:80",
        "--",
        "true",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out
        .stderr
        .contains("Published ports are discarded when using host network mode"));
}

#[test]
fn ipv6_ports_and_isolation() {
    let w = World::new();
    let peer = Peer::new(&w, None);
    w.sh("ip addr add 2001:db8:9::1/64 dev ext0 nodad").ok();
    peer.sh(&w, "ip addr add 2001:db8:9::2/64 dev eth0 nodad")
        .ok();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:71::/64",
        "a6",
    ])
    .ok();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:72::/64",
        "b6",
    ])
    .ok();
    web(&w, "w6", "a6", &["-p", "8088:80"], "six\n");
    let v6 = |name: &str, net: &str| {
        w.inspect("container", name)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"]
            .as_str()
            .expect("v6")
            .to_string()
    };
    let ip_a = v6("w6", "a6");
    let port = w.cnm(&["port", "w6"]).ok().stdout;
    assert!(port.contains("80/tcp -> [::]:8088"), "{port}");
    let got = first_ipv6_exchange(|| peer.fetch(&w, "http://[2001:db8:9::1]:8088/"));
    assert_eq!(
        got,
        Some("six\n".into()),
        "IPv6 published port from another host"
    );
    assert_eq!(
        from_container(&w, "a6", &format!("http://[{ip_a}]/")),
        Some("six\n".into())
    );
    assert_eq!(
        from_container(&w, "b6", &format!("http://[{ip_a}]/")),
        None,
        "IPv6 crossed networks"
    );
}

#[test]
fn a_udp_flow_follows_a_remapped_port() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    // A UDP receiver appending what it gets to a file (busybox nc has no UDP listener here).
    let recv = w.path("udp-recv.py");
    std::fs::write(
        &recv,
        "import socket, sys\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('0.0.0.0', 53))\n\
         out = open(sys.argv[1], 'ab', 0)\n\
         while True:\n    out.write(s.recv(100))\n",
    )
    .expect("receiver");
    let sink = |name: &str| {
        let file = w.path(&format!("udp-{name}"));
        w.run_bg(
            name,
            &["--network", "app", "-p", "5300:53/udp"],
            &[
                "python3",
                recv.to_str().expect("path"),
                file.to_str().expect("path"),
            ],
        );
        file
    };
    let got = |f: &std::path::Path| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .contains("ping")
    };
    let wait_for = |f: &std::path::Path| {
        let start = Instant::now();
        while !got(f) {
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    };
    let a = sink("ua");
    std::thread::sleep(Duration::from_millis(200));
    // One UDP "flow": the same source port throughout, as a long-lived client's.
    let mut sender = w
        .command("sh")
        .arg("-c")
        .arg(
            "exec python3 -c 'import socket,time\n\
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
s.bind((\"127.0.0.1\",40000))\n\
while True: s.sendto(b\"ping\\n\",(\"127.0.0.1\",5300)); time.sleep(0.1)'",
        )
        .spawn()
        .expect("sender");
    assert!(wait_for(&a), "the first container got nothing");
    w.cnm(&["rm", "-f", "ua"]).ok();
    let b = sink("ub");
    let reached = wait_for(&b);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sender.id() as i32),
        Signal::SIGKILL,
    );
    let _ = sender.wait();
    assert!(
        reached,
        "the flow kept following the old mapping (stale conntrack entry): ub at {}; {} / {}",
        w.ip("ub", "app"),
        w.sh("conntrack -L -p udp 2>&1").stdout,
        w.log()
            .lines()
            .filter(|l| l.contains("ub") || l.contains("conntrack"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A 1000-port UDP range moves to a container at another address: the flows to it, which conntrack
/// had tied to the old container (and, between the two, to no mapping at all), follow the new one.
/// The daemon flushes them in one ctnetlink exchange, not a `conntrack` process per port.
#[test]
fn udp_flows_into_a_remapped_range_follow_it() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    // Receives on every port of the range, appending what it gets to a file.
    let recv = w.path("udp-range.py");
    std::fs::write(
        &recv,
        "import socket, sys, selectors\n\
         sel = selectors.DefaultSelector()\n\
         for p in range(6000, 7000):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    s.bind(('0.0.0.0', p))\n    sel.register(s, selectors.EVENT_READ)\n\
         out = open(sys.argv[1], 'ab', 0)\n\
         while True:\n    for k, _ in sel.select():\n        out.write(k.fileobj.recv(100))\n",
    )
    .expect("receiver");
    let sink = |name: &str| {
        let file = w.path(&format!("udp-{name}"));
        w.run_bg(
            name,
            &["--network", "app", "-p", "6000-6999:6000-6999/udp"],
            &[
                "python3",
                recv.to_str().expect("path"),
                file.to_str().expect("path"),
            ],
        );
        file
    };
    let got = |f: &std::path::Path| {
        let s = std::fs::read_to_string(f).unwrap_or_default();
        ["p6000", "p6500", "p6999"].iter().all(|m| s.contains(m))
    };
    let wait_for = |f: &std::path::Path| {
        let start = Instant::now();
        while !got(f) {
            if start.elapsed() > Duration::from_secs(5) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    };
    let a = sink("ra");
    std::thread::sleep(Duration::from_millis(300));
    // Three long-lived flows (fixed source ports) into the range.
    let mut sender = w
        .command("sh")
        .arg("-c")
        .arg(
            "exec python3 -c 'import socket,time\n\
ss=[]\n\
for i,p in enumerate((6000,6500,6999)):\n    s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"127.0.0.1\",41000+i)); ss.append((s,p))\n\
while True:\n    for s,p in ss: s.sendto(b\"p%d\\n\" % p,(\"127.0.0.1\",p))\n    time.sleep(0.05)'",
        )
        .spawn()
        .expect("sender");
    assert!(wait_for(&a), "the first container got nothing");
    w.cnm(&["rm", "-f", "ra"]).ok();
    // Take the freed address, so the next container gets another one; let packets arrive while
    // nothing is published (conntrack then records them without a mapping).
    w.run_bg("filler", &["--network", "app"], &["sleep", "1000"]);
    std::thread::sleep(Duration::from_millis(300));
    let b = sink("rb");
    assert_ne!(w.ip("rb", "app"), w.ip("filler", "app"));
    let reached = wait_for(&b);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sender.id() as i32),
        Signal::SIGKILL,
    );
    let _ = sender.wait();
    assert!(
        reached,
        "flows kept following the old state (stale conntrack entries): {:?}; {}",
        std::fs::read_to_string(&b).unwrap_or_default(),
        w.sh("conntrack -L -p udp 2>&1").stdout
    );
}

#[test]
fn published_ports_move_with_the_gateway_endpoint() {
    let w = World::new();
    let peer = Peer::new(&w, None);
    w.cnm(&["network", "create", "--subnet", "10.231.0.0/24", "one"])
        .ok();
    w.cnm(&["network", "create", "--subnet", "10.232.0.0/24", "two"])
        .ok();
    // A single port and a translated run (8100 → 80, 8101 → 81).
    let ip1 = web(
        &w,
        "web",
        "one",
        &["-p", "8080:80", "-p", "8100-8101:80-81"],
        "moved\n",
    );
    let want = Some("moved\n".to_string());
    let dnat = |w: &World| w.sh("nft list map ip cnm dnat-any-to").ok().stdout;
    for port in [8080, 8100] {
        assert_eq!(
            peer.fetch(&w, &format!("http://{HOST}:{port}/")),
            want,
            "port {port} through the first network"
        );
    }
    assert!(dnat(&w).contains(&format!(": {ip1} . 80")), "{}", dnat(&w));

    // A second network with a higher gateway priority takes the default route, and the ports with it.
    w.cnm(&["network", "connect", "--gw-priority", "10", "two", "web"])
        .ok();
    let ip2 = w.ip("web", "two");
    let route = w.cnm(&["exec", "web", "--", "ip", "route"]).ok().stdout;
    assert!(route.contains("default via 10.232.0.1"), "{route}");
    let rules = dnat(&w);
    assert!(rules.contains(&format!(": {ip2} . 80")), "{rules}");
    assert!(rules.contains(&format!(": {ip2} . 81")), "{rules}");
    assert!(
        !rules.contains(&format!(": {ip1} .")),
        "the old gateway's rules stayed: {rules}"
    );
    for port in [8080, 8100] {
        assert_eq!(
            peer.fetch(&w, &format!("http://{HOST}:{port}/")),
            want,
            "port {port} through the new gateway network"
        );
    }
    let c = w.inspect("container", "web");
    assert_eq!(
        c["NetworkSettings"]["Ports"]["81/tcp"][0],
        serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "8101"})
    );

    // Disconnecting it gives the ports back to the first network.
    w.cnm(&["network", "disconnect", "two", "web"]).ok();
    let rules = dnat(&w);
    assert!(rules.contains(&format!(": {ip1} . 80")), "{rules}");
    assert!(
        !rules.contains(&format!(": {ip2} .")),
        "the disconnected network's rules stayed: {rules}"
    );
    for port in [8080, 8100] {
        assert_eq!(
            peer.fetch(&w, &format!("http://{HOST}:{port}/")),
            want,
            "port {port} back through the first network"
        );
    }
    // The host ports stayed held throughout (the same reservation).
    let nc = w.sh("timeout 1 busybox nc -l -p 8101 2>&1; echo rc=$?");
    assert!(nc.stdout.contains("in use"), "{}", nc.stdout);
}

/// The isolation matrix over IPv6: networks × ICC × internal × published/unpublished, from containers,
/// from the host and from another host that routes to the container subnets.
#[test]
fn ipv6_isolation_matrix() {
    let w = World::new();
    let peer = Peer::new(&w, None);
    w.sh("ip addr add 2001:db8:9::1/64 dev ext0 nodad").ok();
    peer.sh(&w, "ip addr add 2001:db8:9::2/64 dev eth0 nodad")
        .ok();
    let nets: [(&str, &str, &[&str]); 4] = [
        ("a6", "fd00:81::/64", &[]),
        ("b6", "fd00:82::/64", &[]),
        (
            "c6",
            "fd00:83::/64",
            &["-o", "com.docker.network.bridge.enable_icc=false"],
        ),
        ("i6", "fd00:84::/64", &["--internal"]),
    ];
    for (name, subnet, opts) in nets {
        let mut args = vec!["network", "create", "--ipv6", "--subnet", subnet];
        args.extend_from_slice(opts);
        args.push(name);
        w.cnm(&args).ok();
        // The other host routes every container subnet through this host (direct access attempts).
        peer.sh(&w, &format!("ip -6 route add {subnet} via 2001:db8:9::1"))
            .ok();
    }
    let v6 = |name: &str, net: &str| {
        w.inspect("container", name)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"]
            .as_str()
            .expect("v6")
            .to_string()
    };
    web(&w, "pa", "a6", &["-p", "8096:80"], "pa\n");
    web(&w, "ua", "a6", &[], "ua\n");
    web(&w, "ub", "b6", &[], "ub\n");
    web(&w, "pc", "c6", &["-p", "8097:80"], "pc\n");
    web(&w, "ui", "i6", &[], "ui\n");
    let (pa, ua, ub, pc, ui) = (
        v6("pa", "a6"),
        v6("ua", "a6"),
        v6("ub", "b6"),
        v6("pc", "c6"),
        v6("ui", "i6"),
    );
    let url = |ip: &str| format!("http://[{ip}]/");
    // Positive checks first: they also settle neighbour discovery on every link.
    let eventually = |what: &str, f: &dyn Fn() -> Option<String>, want: &str| {
        let start = Instant::now();
        loop {
            let got = f();
            if got.as_deref() == Some(want) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(8),
                "{what}: got {got:?}, want {want:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    eventually(
        "published port of an ICC-on network from another host",
        &|| peer.fetch(&w, "http://[2001:db8:9::1]:8096/"),
        "pa\n",
    );
    eventually(
        "published port of an ICC-off network from another host",
        &|| peer.fetch(&w, "http://[2001:db8:9::1]:8097/"),
        "pc\n",
    );
    eventually(
        "same network, ICC on",
        &|| from_container(&w, "a6", &url(&ua)),
        "ua\n",
    );
    eventually(
        "inside an internal network",
        &|| from_container(&w, "i6", &url(&ui)),
        "ui\n",
    );
    eventually(
        "the host reaches an unpublished container",
        &|| from_host(&w, &url(&ub)),
        "ub\n",
    );
    let none: [(&str, Option<String>); 8] = [
        ("a6 → b6", from_container(&w, "a6", &url(&ub))),
        (
            "b6 → a6 (published container)",
            from_container(&w, "b6", &url(&pa)),
        ),
        ("ICC off: c6 → c6", from_container(&w, "c6", &url(&pc))),
        ("a6 → internal i6", from_container(&w, "a6", &url(&ui))),
        ("internal i6 → a6", from_container(&w, "i6", &url(&ua))),
        (
            "another host → unpublished container",
            peer.fetch(&w, &url(&ub)),
        ),
        (
            "another host → a published container's address directly",
            peer.fetch(&w, &url(&pa)),
        ),
        (
            "another host → internal container",
            peer.fetch(&w, &url(&ui)),
        ),
    ];
    for (what, got) in none {
        assert_eq!(got, None, "{what} must not connect");
    }
}

#[test]
fn outbound_takes_host_ipv4_when_given_and_ipv6_is_masqueraded() {
    let w = World::new();
    // The peer has no route to any container subnet: only translated traffic gets an answer.
    let peer = Peer::new(&w, None);
    w.sh("ip addr add 192.0.2.5/24 dev ext0 && ip addr add 2001:db8:9::1/64 dev ext0 nodad")
        .ok();
    peer.sh(&w, "ip addr add 2001:db8:9::2/64 dev eth0 nodad")
        .ok();
    w.cnm(&[
        "network",
        "create",
        "--subnet",
        "10.79.0.0/24",
        "-o",
        "com.docker.network.host_ipv4=192.0.2.5",
        "snat",
    ])
    .ok();
    w.cnm(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.80.0.0/24",
        "--subnet",
        "fd00:73::/64",
        "six",
    ])
    .ok();
    let server = peer.serve(&w, "peer\n");
    assert_eq!(
        from_container(&w, "snat", "http://192.0.2.2/"),
        Some("peer\n".into()),
        "host_ipv4 network reaches the peer"
    );
    let got = first_ipv6_exchange(|| from_container(&w, "six", "http://[2001:db8:9::2]/"));
    assert_eq!(got, Some("peer\n".into()), "IPv6 network reaches the peer");
    let log = server.log();
    assert!(
        log.contains("[::ffff:192.0.2.5]:") && !log.contains("[::ffff:192.0.2.1]:"),
        "IPv4 not translated to host_ipv4: {log}"
    );
    assert!(
        log.contains("[2001:db8:9::1]:") && !log.contains("fd00:73"),
        "IPv6 not masqueraded: {log}"
    );
}

/// Someone else's nftables: a table with a forward chain and a rule, and a table with a set.
const FOREIGN: &str = "table ip mine {
	chain guard {
		type filter hook forward priority 10; policy accept;
		ip saddr 203.0.113.0/24 counter drop
	}
}
table inet theirs {
	set blocked {
		type ipv4_addr
		elements = { 198.51.100.7 }
	}
}";

#[test]
fn cnm_touches_only_its_own_tables_and_says_when_it_turns_forwarding_on() {
    let mut w = World::new();
    w.stop_daemon(Signal::SIGTERM);
    w.sh("sysctl -qw net.ipv4.ip_forward=0").ok();
    std::fs::write(w.path("foreign.nft"), FOREIGN).expect("foreign rules");
    w.sh(&format!("nft -f {}", w.path("foreign.nft").display()))
        .ok();
    let foreign = |w: &World| {
        w.sh("nft list table ip mine && nft list table inet theirs")
            .ok()
            .stdout
    };
    let before = foreign(&w);
    w.start_daemon(&[]);
    assert_eq!(
        w.sh("sysctl -n net.ipv4.ip_forward").ok().stdout.trim(),
        "1"
    );
    assert!(
        w.log()
            .contains("turned on IPv4 forwarding in the host namespace"),
        "{}",
        w.log()
    );
    // Everything cnm does to its own tables: networks, published ports, flush-and-heal, restarts.
    w.cnm(&["network", "create", "app"]).ok();
    let ip = web(&w, "pub", "app", &["-p", "8090:80"], "ok\n");
    assert_eq!(from_host(&w, "http://127.0.0.1:8090/"), Some("ok\n".into()));
    assert_eq!(from_host(&w, &format!("http://{ip}/")), Some("ok\n".into()));
    w.sh("nft delete table ip cnm").ok();
    let start = Instant::now();
    while from_host(&w, "http://127.0.0.1:8090/").is_none() {
        assert!(start.elapsed() < Duration::from_secs(3), "not healed");
        std::thread::sleep(Duration::from_millis(50));
    }
    w.cnm(&["rm", "-f", "pub"]).ok();
    w.cnm(&["network", "rm", "app"]).ok();
    w.stop_daemon(Signal::SIGKILL);
    w.start_daemon(&[]);
    w.stop_daemon(Signal::SIGTERM);
    assert_eq!(foreign(&w), before, "cnm changed someone else's tables");
    let tables = w.sh("nft list tables").ok().stdout;
    assert!(
        tables.contains("table ip mine") && tables.contains("table inet theirs"),
        "{tables}"
    );
}
