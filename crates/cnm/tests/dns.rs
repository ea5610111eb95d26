//! End-to-end tests of the embedded DNS (127.0.0.11), /etc/hosts and resolv.conf, each in its own
//! world. Upstream servers are started by the tests themselves inside the world (see `upstream`).

mod common;
mod dnstest;

use std::time::{Duration, Instant};

use common::World;
use dnstest::{addrs, dig};
use nix::sys::signal::Signal;

#[test]
fn names_aliases_short_id_hostname_and_name_network_resolve_over_udp_and_tcp() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let id = dnstest::sleeper(
        &w,
        "web",
        &[
            "--network",
            "app",
            "--network-alias",
            "www",
            "--hostname",
            "webhost",
        ],
    );
    dnstest::sleeper(&w, "client", &["--network", "app"]);
    let ip = w.ip("web", "app");
    let resolv = w
        .cnm(&["exec", "client", "cat", "/etc/resolv.conf"])
        .ok()
        .stdout;
    assert!(
        resolv.starts_with("nameserver 127.0.0.11\n") && resolv.contains("options ndots:0"),
        "{resolv}"
    );
    for name in [
        "web",
        "www",
        &id[..12],
        "webhost",
        "web.app",
        "WeB",
        "WWW.App.",
    ] {
        for transport in ["+notcp", "+tcp"] {
            let (status, ans) = dig(&w, "client", &[transport, name, "A"]);
            assert_eq!(status, "NOERROR", "{name} {transport}");
            assert_eq!(addrs(&ans), std::slice::from_ref(&ip), "{name} {transport}");
            assert!(ans[0].contains(" 600 IN A "), "TTL 600: {ans:?}");
        }
    }
    // The name exists without IPv6: NOERROR with no answer, never NXDOMAIN.
    let (status, ans) = dig(&w, "client", &["web", "AAAA"]);
    assert_eq!(status, "NOERROR");
    assert!(ans.is_empty(), "{ans:?}");
    // Reverse: name.network.
    let (status, ans) = dig(&w, "client", &["-x", &ip]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), ["web.app."]);
    // busybox's resolver (musl-like) finds it too.
    let out = w
        .cnm(&["exec", "client", "busybox", "nslookup", "www"])
        .ok();
    assert!(out.stdout.contains(&ip), "{}", out.stdout);
    // The resolver sockets live in the sandbox namespace, bound at 127.0.0.11 on random ports.
    let ss = w
        .cnm(&["exec", "client", "cat", "/proc/net/udp"])
        .ok()
        .stdout;
    assert!(ss.contains("0B00007F:"), "a UDP socket on 127.0.0.11: {ss}");
}

#[test]
fn shared_alias_answers_every_address_in_round_robin() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let mut ips = Vec::new();
    for n in ["s1", "s2", "s3"] {
        dnstest::sleeper(&w, n, &["--network", "app", "--network-alias", "svc"]);
        ips.push(w.ip(n, "app"));
    }
    ips.sort();
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..12 {
        let (status, ans) = dig(&w, "s1", &["svc"]);
        assert_eq!(status, "NOERROR");
        assert_eq!(addrs(&ans), ips);
        firsts.insert(ans[0].clone());
    }
    assert!(firsts.len() > 1, "the order changes between answers");
}

#[test]
fn a_sandbox_sees_only_the_names_of_its_networks_and_connect_alias_works() {
    let w = World::new();
    w.cnm(&["network", "create", "front"]).ok();
    w.cnm(&["network", "create", "back"]).ok();
    dnstest::sleeper(&w, "db", &["--network", "back"]);
    dnstest::sleeper(&w, "fe", &["--network", "front"]);
    let (status, _) = dig(&w, "fe", &["db"]);
    assert_eq!(
        status, "SERVFAIL",
        "db is on another network (no upstream here)"
    );
    let (status, _) = dig(&w, "fe", &["db.back"]);
    assert_eq!(status, "SERVFAIL");
    // Connected to back with an alias: both names resolve at once, from a live sandbox.
    w.cnm(&["network", "connect", "--alias", "fe-alias", "back", "fe"])
        .ok();
    let (_, ans) = dig(&w, "fe", &["db"]);
    assert_eq!(addrs(&ans), [w.ip("db", "back")]);
    let (_, ans) = dig(&w, "db", &["fe-alias"]);
    assert_eq!(addrs(&ans), [w.ip("fe", "back")]);
    // The alias belongs to the back network only.
    let (_, ans) = dig(&w, "db", &["fe-alias.back"]);
    assert_eq!(addrs(&ans), [w.ip("fe", "back")]);
    // Disconnected: the names of back are gone for fe, and fe's for db.
    w.cnm(&["network", "disconnect", "back", "fe"]).ok();
    let (status, _) = dig(&w, "fe", &["db"]);
    assert_eq!(status, "SERVFAIL");
    let (status, _) = dig(&w, "db", &["fe-alias"]);
    assert_eq!(status, "SERVFAIL");
}

#[test]
fn removing_or_stopping_a_container_removes_its_names_at_once_and_rename_follows() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "web", &["--network", "app"]);
    dnstest::sleeper(&w, "client", &["--network", "app"]);
    let (_, ans) = dig(&w, "client", &["web"]);
    assert_eq!(ans.len(), 1);
    w.cnm(&["rename", "web", "web2"]).ok();
    let (status, _) = dig(&w, "client", &["web"]);
    assert_eq!(status, "SERVFAIL", "the old name is gone");
    let (_, ans) = dig(&w, "client", &["web2"]);
    assert_eq!(addrs(&ans), [w.ip("web2", "app")]);
    assert_eq!(
        w.inspect("container", "web2")["Name"].as_str(),
        Some("/web2")
    );
    w.cnm(&["rename", "web2", "client"])
        .fails(1, "is already in use by container");
    w.cnm(&["rm", "-f", "web2"]).ok();
    let (status, _) = dig(&w, "client", &["web2"]);
    assert_eq!(
        status, "SERVFAIL",
        "a removed container's name is gone at once"
    );
}

#[test]
fn malformed_and_oversized_packets_do_no_harm() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    for i in 0..40 {
        w.http(
            "POST",
            &format!("/containers/create?name=m{i}"),
            Some(r#"{"Cmd":["sleep","100000"],"HostConfig":{"NetworkMode":"app"},"NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["many"]}}}}"#),
        );
        w.http("POST", &format!("/containers/m{i}/start"), None);
    }
    // 40 A records do not fit 512 bytes: UDP answers carry TC, dig retries over TCP and gets all.
    let out = w
        .cnm(&[
            "exec", "m0", "dig", "+tries=1", "+time=3", "+noedns", "+ignore", "many",
        ])
        .ok();
    assert!(out.stdout.contains(" tc"), "{}", out.stdout);
    let (status, ans) = dig(&w, "m0", &["+noedns", "many"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(ans.len(), 40, "TCP retry carries every address");
    // Garbage of every size, a response, an empty datagram: the resolver keeps answering.
    let script = r#"
        for n in 0 1 11 12 13 100 511 512 513 4000 9000; do
            head -c $n /dev/urandom | busybox nc -u -w 1 127.0.0.11 53 >/dev/null 2>&1 &
        done
        printf '\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00' | busybox nc -u -w 1 127.0.0.11 53 >/dev/null 2>&1 &
        head -c 70000 /dev/urandom | busybox nc -w 1 127.0.0.11 53 >/dev/null 2>&1
        wait
    "#;
    w.cnm(&["exec", "m0", "sh", "-c", script]);
    let (status, ans) = dig(&w, "m1", &["m0"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(ans.len(), 1);
}

#[test]
fn a_container_can_run_its_own_dns_server_on_port_53() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "web", &["--network", "app"]);
    // The container's own DNS server, bound on 0.0.0.0:53 (UDP and TCP).
    w.run_bg(
        "own",
        &["--network", "app"],
        &[
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--pid-file",
            "--user=root",
            "--port=53",
            "--address=/own.test/10.9.9.9",
        ],
    );
    let start = Instant::now();
    loop {
        let udp = w.cnm(&["exec", "own", "cat", "/proc/net/udp"]).ok().stdout;
        if udp.contains("00000000:0035") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "dnsmasq did not bind :53: {udp}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for t in ["+notcp", "+tcp"] {
        // Through 127.0.0.11 the embedded resolver answers...
        let (status, ans) = dig(&w, "own", &[t, "web"]);
        assert_eq!(status, "NOERROR", "{t}");
        assert_eq!(addrs(&ans), [w.ip("web", "app")]);
        // ...and the container's own server answers on its other addresses.
        let (status, ans) = dig(&w, "own", &[t, "@127.0.0.1", "own.test"]);
        assert_eq!(status, "NOERROR", "{t}");
        assert_eq!(addrs(&ans), ["10.9.9.9"]);
    }
    // The redirect is a small table inside the sandbox namespace.
    let pid = w.inspect("container", "own")["State"]["Pid"]
        .as_u64()
        .expect("pid");
    let rules = w
        .sh(&format!("nsenter -t {pid} -n nft list table ip cnm-dns"))
        .ok()
        .stdout;
    assert!(
        rules.contains("ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:"),
        "{rules}"
    );
    assert!(
        rules.contains("ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:"),
        "{rules}"
    );
    // The world ("host") namespace has no such table.
    assert_ne!(w.sh("nft list table ip cnm-dns").code, 0);
}

#[test]
fn containers_resolve_again_within_a_second_of_a_daemon_restart() {
    let mut w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "web", &["--network", "app"]);
    dnstest::sleeper(&w, "client", &["--network", "app"]);
    let ip = w.ip("web", "app");
    let before = resolver_ports(&w, "client");
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        w.stop_daemon(sig);
        let t = Instant::now();
        w.start_daemon(&[]);
        let up = t.elapsed();
        // From inside the running container, without restarting it: poll until it answers.
        let mut ok = false;
        while t.elapsed() < up + Duration::from_secs(1) {
            let out = w.cnm(&[
                "exec", "client", "dig", "+tries=1", "+time=1", "+short", "web",
            ]);
            if out.stdout.trim() == ip {
                ok = true;
                break;
            }
        }
        let took = t.elapsed() - up;
        assert!(
            ok,
            "no answer within 1 s after the restart ({sig}); log:\n{}",
            w.log()
        );
        assert!(took < Duration::from_secs(1), "{sig}: {took:?}");
        // Exactly one redirect table, pointing at the ports the resolver listens on now, which are
        // the ones it had before (so the redirect did not have to change).
        let now = resolver_ports(&w, "client");
        let rules = w
            .sh(&format!(
                "nsenter -t {} -n nft list ruleset",
                pid(&w, "client")
            ))
            .ok()
            .stdout;
        assert_eq!(rules.matches("table ip cnm-dns").count(), 1, "{rules}");
        assert!(
            rules.contains(&format!("udp dport 53 dnat to 127.0.0.11:{}", now.0))
                && rules.contains(&format!("tcp dport 53 dnat to 127.0.0.11:{}", now.1)),
            "{now:?} {rules}"
        );
        assert_eq!(now, before, "{sig}: the ports are kept across the restart");
    }
    // A restart that cannot get the old ports back (here: its record is lost) replaces the rules.
    let record = w.path(&format!("exec/dns/{}", sandbox_id(&w, "client")));
    std::fs::remove_file(&record).expect("port record");
    w.stop_daemon(Signal::SIGKILL);
    w.start_daemon(&[]);
    let (status, ans) = dig(&w, "client", &["web"]);
    assert_eq!(status, "NOERROR", "{}", w.log());
    assert_eq!(addrs(&ans), [ip]);
    let now = resolver_ports(&w, "client");
    let rules = w
        .sh(&format!(
            "nsenter -t {} -n nft list table ip cnm-dns",
            pid(&w, "client")
        ))
        .ok()
        .stdout;
    assert!(
        rules.contains(&format!("udp dport 53 dnat to 127.0.0.11:{}", now.0)),
        "{now:?} {rules}"
    );
    assert_eq!(rules.matches("dnat to").count(), 2, "{rules}");
    // Removing the container removes its record.
    w.cnm(&["rm", "-f", "client"]).ok();
    assert!(!record.exists());
}

fn pid(w: &World, ctr: &str) -> u64 {
    w.inspect("container", ctr)["State"]["Pid"]
        .as_u64()
        .expect("pid")
}

fn sandbox_id(w: &World, ctr: &str) -> String {
    w.inspect("container", ctr)["NetworkSettings"]["SandboxID"]
        .as_str()
        .expect("sandbox id")
        .to_string()
}

/// (UDP, TCP) ports of the sockets on 127.0.0.11 in a container's namespace.
fn resolver_ports(w: &World, ctr: &str) -> (u16, u16) {
    let find = |file: &str| -> u16 {
        let table = w.cnm(&["exec", ctr, "cat", file]).ok().stdout;
        let hex = table
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .find_map(|local| local.strip_prefix("0B00007F:"))
            .unwrap_or_else(|| panic!("no socket on 127.0.0.11 in {file}: {table}"));
        u16::from_str_radix(hex, 16).expect("port")
    };
    (find("/proc/net/udp"), find("/proc/net/tcp"))
}

/// The daemon's UDP resolver thread (`cnm-dns-udp`), and its scheduling policy.
fn udp_thread_policy(w: &World) -> (i32, libc::c_int) {
    let daemon = w.daemon_pid();
    let tasks = std::fs::read_dir(format!("/proc/{daemon}/task")).expect("daemon tasks");
    let tid = tasks
        .filter_map(|t| t.ok())
        .find(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "cnm-dns-udp")
        })
        .and_then(|t| t.file_name().to_str()?.parse::<i32>().ok())
        .expect("a cnm-dns-udp thread in the daemon");
    // SAFETY: reading the policy of a thread id.
    (tid, unsafe { libc::sched_getscheduler(tid) })
}

#[test]
fn the_udp_resolver_runs_real_time_and_goes_fair_under_a_flood() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    dnstest::sleeper(&w, "web", &["--network", "app"]);
    dnstest::sleeper(&w, "client", &["--network", "app"]);
    let (_, policy) = udp_thread_policy(&w);
    assert_eq!(
        policy,
        libc::SCHED_FIFO,
        "the daemon runs as root: real-time"
    );
    assert!(
        w.log().contains("DNS UDP thread: real-time scheduling"),
        "the daemon says so: {}",
        w.log()
    );
    // A flood from inside the container keeps the thread above its budget: it leaves real-time
    // while it lasts (and the names still resolve), then takes it again. The flood is open-loop and
    // real-time itself, so that it outruns the resolver even when other work shares the machine (a
    // closed-loop client such as dnsperf in the normal class cannot, on a busy 2-CPU host).
    let client_ns = format!("/proc/{}/ns/net", pid(&w, "client"));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let demoted = std::thread::scope(|s| {
        let flood = s.spawn(|| flood_udp(&client_ns, &stop));
        let mut demoted = false;
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) && !demoted {
            std::thread::sleep(Duration::from_millis(50));
            demoted = udp_thread_policy(&w).1 == libc::SCHED_OTHER;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let sent = flood.join().expect("flood");
        assert!(sent > 0, "the flood sent nothing");
        demoted
    });
    assert!(demoted, "a saturating load runs the thread fair");
    assert!(
        w.log().contains("over its real-time CPU budget"),
        "{}",
        w.log()
    );
    let (status, ans) = dig(&w, "client", &["web", "A"]);
    assert_eq!(status, "NOERROR");
    assert_eq!(addrs(&ans), [w.ip("web", "app")]);
    let t0 = Instant::now();
    while udp_thread_policy(&w).1 != libc::SCHED_FIFO {
        // One quiet window (100 ms) after the next query brings it back.
        dig(&w, "client", &["web", "A"]);
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "real-time again once quiet"
        );
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Send `web A` queries to 127.0.0.11:53 from the network namespace at `netns` as fast as one
/// SCHED_FIFO 1 thread can (answers are never read) until `stop`; returns how many were sent.
fn flood_udp(netns: &str, stop: &std::sync::atomic::AtomicBool) -> u64 {
    let ns = std::fs::File::open(netns).expect("client netns");
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: pid 0 is this thread; `param` is a valid sched_param.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    assert_eq!(rc, 0, "the test runs as root: a real-time flood");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("flood socket");
    sock.connect("127.0.0.11:53").expect("connect");
    // `web` IN A, recursion desired.
    let query: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03web\x00\x00\x01\x00\x01";
    let mut sent = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for _ in 0..64 {
            if sock.send(query).is_ok() {
                sent += 1;
            }
        }
    }
    sent
}
