//! Embedded DNS benchmarks, in a world of their own (the end-to-end harness):
//! - local-name throughput with `dnsperf` (defaults: one client, at most 100 queries in flight) from
//!   inside a container against 127.0.0.11, and, in the same run and the same way, against aardvark-dns
//!   (when installed) serving the same names from the bridge gateway, as netavark would start it;
//! - latency at a fixed 10k queries/s from inside a container (a paced UDP client in the container's
//!   namespace; dnsperf reports no percentiles); it splits send → answer read (what the program
//!   waits) from send → answer queued on its socket (the kernel's receive timestamp: resolver and
//!   kernel, without the client's own wake-up), and reports how late the client itself sent against
//!   its schedule (a late client sends its backlog in a burst); the sender is SCHED_FIFO 1 by default
//!   (`CNM_DNS_PACED_CLIENT=normal` for a nice-0 one) so that the offered load keeps its schedule;
//! - the same two measurements against a reference responder in the same container (127.0.0.12:53,
//!   the least a UDP server can do, at the resolver's scheduling): the machine's floor and dnsperf's
//!   ceiling in the same run. The paced runs alternate cnm and the reference (`CNM_DNS_PACED_ROUNDS`,
//!   default 2) and print the VM's steal time (the hypervisor running something else) over each run;
//!   `CNM_DNS_PACED_DIRECT=1` adds cnm's resolver at its own port, without the :53 redirect;
//!   `CNM_DNS_PACED_TRACE=<file>` writes per-query timestamps to line up with a `perf record -k mono`;
//! - what the resolver adds to attach: the daemon's sandbox time (Server-Timing) of containers on a user
//!   network (resolver) against the default bridge (none), interleaved;
//! - memory per sandbox resolver: daemon RSS growth per container, user network minus default bridge.
//!
//! Run: `cargo bench -p cnm --bench dns` (root; `CNM_BENCH_N` sets the attach/memory sample, default 200;
//! `CNM_DNS_BENCH=paced` or `=throughput` runs only that part).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/dnsperf.rs"]
mod dnsbench;
#[path = "measure.rs"]
mod measure;

use measure::{loadavg, pct, rss_kb, server_timing, steal_ms, Ms};

use dnsbench::start_aardvark;

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::time::Duration;

use common::World;

const NAMES: usize = 20;

/// Create and start a sleeping container; the daemon's sandbox time in ms.
fn start(w: &World, name: &str, network: &str) -> f64 {
    let body =
        format!(r#"{{"Cmd":["sleep","100000"],"HostConfig":{{"NetworkMode":"{network}"}}}}"#);
    let (st, resp) = w.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body),
    );
    assert_eq!(st, 201, "{resp}");
    let (st, head, resp) = w.http_full("POST", &format!("/containers/{name}/start"), None);
    assert_eq!(st, 204, "{resp}");
    server_timing(&head, "sandbox").ms()
}

/// One `dnsperf` run from inside `ctr`: (queries/s, lost, average ms, max ms).
fn dnsperf(w: &World, ctr: &str, server: &str, file: &str, secs: u32) -> (f64, u64, f64, f64) {
    let mut args = vec!["exec".to_string(), ctr.to_string(), "dnsperf".to_string()];
    args.extend(dnsbench::dnsperf_args(server, file, secs));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = dnsbench::parse_dnsperf(&w.cnm(&args).ok().stdout);
    (r.qps, r.lost, r.avg_ms, r.max_ms)
}

/// Memory and attach cost, on a fresh daemon. The two kinds are interleaved so that both see the
/// same load; memory is the RSS growth over each kind's own batch.
fn attach_and_memory(w: &World, n: usize) {
    w.cnm(&["network", "create", "--subnet", "10.201.0.0/16", "attach"])
        .ok();
    let (mut user, mut legacy) = (Vec::new(), Vec::new());
    for i in 0..20 {
        start(
            w,
            &format!("warm{i}"),
            if i % 2 == 0 { "attach" } else { "bridge" },
        );
    }
    let pid = w.daemon_pid();
    let r0 = rss_kb(pid);
    for i in 0..n {
        legacy.push(start(w, &format!("l{i}"), "bridge"));
    }
    let r1 = rss_kb(pid);
    for i in 0..n {
        user.push(start(w, &format!("u{i}"), "attach"));
    }
    let r2 = rss_kb(pid);
    let per_legacy = (r1 as f64 - r0 as f64) / n as f64;
    let per_user = (r2 as f64 - r1 as f64) / n as f64;
    // A second, interleaved sample of the attach times, so drift does not pose as a cost.
    let (mut user2, mut legacy2) = (Vec::new(), Vec::new());
    for i in 0..n {
        user2.push(start(w, &format!("iu{i}"), "attach"));
        legacy2.push(start(w, &format!("il{i}"), "bridge"));
    }
    user.extend(user2);
    legacy.extend(legacy2);
    let ids = w.cnm(&["ps", "-aq"]).ok().stdout;
    for id in ids.lines().filter(|l| !l.is_empty()) {
        w.http("DELETE", &format!("/containers/{id}?force=1"), None);
    }
    println!();
    println!(
        "| attach, sandbox part in the daemon (N={}) | p50 ms | p90 ms | p99 ms |",
        2 * n
    );
    println!("|---|---|---|---|");
    for (label, v) in [
        ("user network (with the resolver)", &user),
        ("default bridge (no resolver)", &legacy),
    ] {
        println!(
            "| {label} | {:.2} | {:.2} | {:.2} |",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99)
        );
    }
    println!(
        "resolver setup added to attach p50: {:.2} ms",
        pct(&user, 0.5) - pct(&legacy, 0.5)
    );
    println!(
        "daemon RSS: {r0} kB before, +{per_legacy:.1} kB per default-bridge container, +{per_user:.1} kB per user-network container: {:.1} kB per sandbox resolver",
        per_user - per_legacy
    );
}

/// dnsperf against cnm and, in the same run, aardvark-dns.
fn throughput(w: &World, file: &str, gateway: &str, entries: &[(String, String, String)]) {
    let secs = 10;
    println!();
    println!("| local names, dnsperf defaults (1 client, ≤100 in flight), {secs} s, {NAMES} names | queries/s | lost | avg ms | max ms |");
    println!("|---|---|---|---|---|");
    let (qps, lost, avg, max) = dnsperf(w, "client", "127.0.0.11", file, secs);
    println!("| cnm (127.0.0.11 in the container) | {qps:.0} | {lost} | {avg:.3} | {max:.2} |");
    // Whether the resolver thread left real-time during the run (its CPU budget, `priority.rs`).
    let log = w.log();
    let demoted = log
        .lines()
        .filter(|l| l.contains("over its real-time CPU budget") || l.contains("UDP thread demoted"))
        .count();
    println!("(resolver thread demoted to fair scheduling {demoted} times so far)");
    if std::env::var("CNM_DNS_PACED_DIRECT").is_ok_and(|v| v == "1") {
        let pid = w.inspect("container", "client")["State"]["Pid"]
            .as_u64()
            .expect("pid") as u32;
        let port = resolver_port(pid).to_string();
        let mut args = vec!["exec", "client", "dnsperf", "-p", &port];
        let rest = dnsbench::dnsperf_args("127.0.0.11", file, secs);
        args.extend(rest.iter().map(String::as_str));
        let r = dnsbench::parse_dnsperf(&w.cnm(&args).ok().stdout);
        println!(
            "| cnm at its own port {port}, without the :53 redirect | {:.0} | {} | {:.3} | {:.2} |",
            r.qps, r.lost, r.avg_ms, r.max_ms
        );
    }
    let (rq, rl, ra, rm) = dnsperf(w, "client", "127.0.0.12", file, secs);
    println!("| reference responder (127.0.0.12 in the container: the least a server can do) | {rq:.0} | {rl} | {ra:.3} | {rm:.2} |");
    println!("cnm / reference responder: {:.2}", qps / rq);
    match start_aardvark(w, gateway, entries) {
        Some(apid) => {
            std::thread::sleep(Duration::from_millis(300));
            let (aq, al, aa, am) = dnsperf(w, "client", gateway, file, secs);
            println!("| aardvark-dns (gateway:53, same names, same client) | {aq:.0} | {al} | {aa:.3} | {am:.2} |");
            println!("ratio cnm / aardvark-dns: {:.2}", qps / aq);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(apid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        None => println!("| aardvark-dns | not installed | | | |"),
    }
}

/// The UDP port cnm's resolver is bound to inside the container (127.0.0.11:<port>).
fn resolver_port(pid: u32) -> u16 {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "ss", "-Hunl"])
        .output()
        .expect("ss");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("127.0.0.11:")?.parse().ok())
        .expect("resolver socket at 127.0.0.11")
}

fn main() {
    let n: usize = std::env::var("CNM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    assert!(
        Command::new("dnsperf").arg("-h").output().is_ok(),
        "dnsperf is needed (scripts/install-deps.sh)"
    );
    let w = World::new();
    println!("cnm DNS benchmark, loadavg {}", loadavg());

    // `CNM_DNS_BENCH=paced` runs only the paced latency part (for profiling the tail),
    // `CNM_DNS_BENCH=throughput` only the dnsperf part.
    let part = std::env::var("CNM_DNS_BENCH").unwrap_or_default();
    let (paced_only, throughput_only) = (part == "paced", part == "throughput");
    if !paced_only && !throughput_only {
        attach_and_memory(&w, n);
    }

    // Throughput and latency of local names.
    let gateway = "10.202.0.1";
    w.cnm(&[
        "network",
        "create",
        "--subnet",
        "10.202.0.0/16",
        "--gateway",
        gateway,
        "bench",
    ])
    .ok();
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for i in 0..NAMES {
        let name = format!("s{i}");
        let id = w.run_bg(&name, &["--network", "bench"], &["sleep", "100000"]);
        entries.push((id, w.ip(&name, "bench"), name.clone()));
        names.push(name);
    }
    let client_id = w.run_bg("client", &["--network", "bench"], &["sleep", "100000"]);
    entries.push((client_id, w.ip("client", "bench"), "client".into()));
    let file = w.path("queries.txt");
    let text: String = names.iter().map(|n| format!("{n} A\n")).collect();
    std::fs::write(&file, text).expect("query file");
    let file = file.to_str().expect("path").to_string();
    let pid = w.inspect("container", "client")["State"]["Pid"]
        .as_u64()
        .expect("pid") as u32;
    let cnm_dns = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 11), 53);
    let reference_dns = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 12), 53);
    let _reference = dnsbench::reference_responder(
        File::open(format!("/proc/{pid}/ns/net")).expect("container netns"),
        reference_dns,
    );
    if !paced_only {
        throughput(&w, &file, gateway, &entries);
    }
    if throughput_only {
        return;
    }
    let qps = 10_000;
    let total = 60_000;
    let row = |v: &[f64]| {
        format!(
            "{:.3} | {:.3} | {:.3} | {:.3}",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 0.999),
            pct(v, 1.0)
        )
    };
    let netns = || File::open(format!("/proc/{pid}/ns/net")).expect("container netns");
    // The paced runs alternate cnm and the reference responder (the machine's floor), so both see
    // the same moments of the shared machine; CNM_DNS_PACED_ROUNDS sets how many of each (default 2).
    // The sender is real-time by default (CNM_DNS_PACED_CLIENT=normal for a nice-0 sender).
    let rounds: usize = std::env::var("CNM_DNS_PACED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let client = match std::env::var("CNM_DNS_PACED_CLIENT").as_deref() {
        Ok("normal") => dnsbench::Client::Normal,
        _ => dnsbench::Client::RealTime,
    };
    let mut targets = vec![
        ("cnm, 127.0.0.11:53".to_string(), cnm_dns),
        (
            "reference responder, 127.0.0.12:53".to_string(),
            reference_dns,
        ),
    ];
    // CNM_DNS_PACED_DIRECT=1 adds cnm's resolver at its own port, without the :53 redirect (the
    // nf_tables DNAT in the container): what the redirect costs.
    if std::env::var("CNM_DNS_PACED_DIRECT").is_ok_and(|v| v == "1") {
        let port = resolver_port(pid);
        targets.push((
            format!("cnm, 127.0.0.11:{port} (its socket, no redirect)"),
            SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 11), port),
        ));
    }
    let mut p99s: Vec<Vec<f64>> = vec![vec![]; targets.len()];
    for round in 0..rounds {
        for (k, (label, server)) in targets.iter().enumerate() {
            let (label, server) = (label.as_str(), *server);
            let (steal0, load0) = (steal_ms(), loadavg());
            let p = dnsbench::paced(netns(), server, &names, qps, total, client);
            let steal = steal_ms() - steal0;
            if p.lost > 0 {
                // Which socket dropped them: the server's or the client's (`d` in skmem).
                let ss = Command::new("nsenter")
                    .args(["-t", &pid.to_string(), "-n", "ss", "-uamn"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                println!(
                    "lost {} queries; UDP sockets in the container:\n{ss}",
                    p.lost
                );
            }
            p99s[k].push(pct(&p.at_socket, 0.99));
            println!();
            println!(
                "| round {}: {label}, paced {qps} queries/s ({client:?} sender) from inside the container, {total} queries, lost {}; loadavg {load0}, VM steal {steal:.0} ms | p50 ms | p99 ms | p99.9 ms | max ms |",
                round + 1,
                p.lost
            );
            println!("|---|---|---|---|---|");
            println!(
                "| query sent → answer read by the client | {} |",
                row(&p.seen)
            );
            println!(
                "| query sent → answer queued on the client's socket (kernel timestamp) | {} |",
                row(&p.at_socket)
            );
            println!(
                "| the client's own lateness in sending (against its schedule) | {} |",
                row(&p.send_lag)
            );
        }
    }
    println!();
    for ((label, _), v) in targets.iter().zip(&p99s) {
        println!("p99 at the socket per round, {label}: {v:.3?} ms");
    }
    println!("loadavg at the end {}", loadavg());
}
