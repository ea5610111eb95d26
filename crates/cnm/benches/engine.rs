//! Engine benchmarks through the API, in a world of their own (same harness as the end-to-end tests):
//! attach latency (create + start of a container with one bridge endpoint, no ports), its scaling up to
//! N containers on one bridge, remove latency, `network create` latency, and daemon RSS.
//!
//! Run: `cargo bench -p cnm --bench engine` (root; N defaults to 1000, `CNM_BENCH_N` overrides;
//! `CNM_BENCH_DAEMON_ARGS` passes daemon flags, e.g. `--ready-endpoints 0`; `CNM_BENCH_NETWORK_OPTS` the
//! network's `-o` options, e.g. `cnm.bridge.mcast_snooping=true`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "measure.rs"]
mod measure;

use measure::{loadavg, pct, rss_kb, server_timing, steal_ms};

use std::time::Instant;

fn main() {
    let n: usize = std::env::var("CNM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut w = common::World::new_with_tmpfs_run();
    // Extra daemon flags to compare settings (e.g. `--ready-endpoints 0`).
    if let Ok(extra) = std::env::var("CNM_BENCH_DAEMON_ARGS") {
        let extra: Vec<&str> = extra.split_whitespace().collect();
        w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
        w.start_daemon(&extra);
    }
    let idle = rss_kb(w.daemon_pid());

    let mut creates = Vec::new();
    for i in 0..30 {
        let t = Instant::now();
        let (st, _) = w.http(
            "POST",
            "/networks/create",
            Some(&format!(r#"{{"Name":"bn{i}","CheckDuplicate":true}}"#)),
        );
        creates.push(t.elapsed());
        assert_eq!(st, 201);
    }
    for i in 0..30 {
        w.http("DELETE", &format!("/networks/bn{i}"), None);
    }
    // Extra `-o k=v` options of the benchmark's network (e.g. `cnm.bridge.mcast_snooping=true`).
    let net_opts = std::env::var("CNM_BENCH_NETWORK_OPTS").unwrap_or_default();
    let mut args = vec!["network", "create", "--subnet", "10.200.0.0/16"];
    for o in net_opts.split_whitespace() {
        args.extend(["-o", o]);
    }
    args.push("bench");
    w.cnm(&args).ok();

    // The hypervisor's steal time moves these figures more than the load average shows.
    let steal0 = steal_ms();
    let mut attach = Vec::new();
    // Server-side sandbox + endpoint time, and the client-side total minus the process start.
    let mut sandbox = Vec::new();
    let mut net_attach = Vec::new();
    let mut ids = Vec::new();
    // Each start's Server-Timing laps (netns, join, configure, files, dns, store, names…).
    let mut laps: Vec<Vec<(String, f64)>> = Vec::new();
    for i in 0..n {
        let a = attach_once(&w, "bench", &format!("b{i}"));
        attach.push(a.total);
        laps.push(all_timings(&a.head));
        sandbox.push(server_timing(&a.head, "sandbox"));
        net_attach.push(a.without_process());
        ids.push(a.id);
    }
    let rss_n = rss_kb(w.daemon_pid());
    // Correctness: every container got an address and answers.
    let net = w.inspect("network", "bench");
    assert_eq!(net["Containers"].as_object().expect("containers").len(), n);
    let sample: Vec<String> = net["Containers"]
        .as_object()
        .expect("c")
        .values()
        .step_by((n / 20).max(1))
        .map(|c| {
            c["IPv4Address"]
                .as_str()
                .expect("ip")
                .split('/')
                .next()
                .expect("ip")
                .to_string()
        })
        .collect();
    w.sh(&format!(
        "for ip in {}; do ping -c1 -W2 $ip >/dev/null || exit 1; done",
        sample.join(" ")
    ))
    .ok();

    // The same comparison sampled in the same minutes: attaches alternate between a bridge holding 9
    // containers (each sample is its 10th) and this one holding all N (each is its N+1th), each
    // removed again after. The first/last medians above also carry whatever the machine did between
    // the start and the end of the run.
    let small_net = "bench-small";
    w.cnm(&["network", "create", "--subnet", "10.201.0.0/16", small_net])
        .ok();
    let mut small_ids = Vec::new();
    for i in 0..9 {
        small_ids.push(attach_once(&w, small_net, &format!("s{i}")).id);
    }
    let (mut at_10, mut at_big) = (Vec::new(), Vec::new());
    for round in 0..50 {
        for (net, out) in [(small_net, &mut at_10), ("bench", &mut at_big)] {
            let a = attach_once(&w, net, &format!("alt-{net}-{round}"));
            out.push(a.without_process());
            let (st, _) = w.http("DELETE", &format!("/containers/{}?force=1", a.id), None);
            assert_eq!(st, 204);
        }
    }
    for id in &small_ids {
        w.http("DELETE", &format!("/containers/{id}?force=1"), None);
    }

    let mut removes = Vec::new();
    for id in &ids {
        let t = Instant::now();
        let (st, _) = w.http("DELETE", &format!("/containers/{id}?force=1"), None);
        removes.push(t.elapsed());
        assert_eq!(st, 204);
    }
    // Medians of 50 (as the peer suite's chunks): ten samples gave ratios that flipped between runs.
    let k = 50.min(n / 2).max(1);
    println!(
        "cnm engine benchmark, N={n}, loadavg {}, VM steal during the run {:.0} ms",
        loadavg(),
        steal_ms() - steal0
    );
    println!("| measure | p50 ms | p90 ms | p99 ms |");
    println!("|---|---|---|---|");
    println!(
        "| attach (create+start, one bridge endpoint, through the API) | {:.2} | {:.2} | {:.2} |",
        pct(&attach, 0.5),
        pct(&attach, 0.9),
        pct(&attach, 0.99)
    );
    println!(
        "| attach without the process start (create+start through the API minus the server's process time) | {:.2} | {:.2} | {:.2} |",
        pct(&net_attach, 0.5),
        pct(&net_attach, 0.9),
        pct(&net_attach, 0.99)
    );
    println!(
        "| sandbox + endpoint, measured in the daemon (namespace, veth, addresses, routes, files, store) | {:.2} | {:.2} | {:.2} |",
        pct(&sandbox, 0.5),
        pct(&sandbox, 0.9),
        pct(&sandbox, 0.99)
    );
    println!(
        "| remove (force, running) | {:.2} | {:.2} | {:.2} |",
        pct(&removes, 0.5),
        pct(&removes, 0.9),
        pct(&removes, 0.99)
    );
    println!(
        "| network create | {:.2} | {:.2} | {:.2} |",
        pct(&creates, 0.5),
        pct(&creates, 0.9),
        pct(&creates, 0.99)
    );
    println!();
    for (label, v) in [
        ("attach", &attach),
        ("attach without process", &net_attach),
        ("sandbox + endpoint", &sandbox),
    ] {
        println!(
            "scaling of {label}: first {k} median {:.2} ms, last {k} median {:.2} ms, ratio {:.2}",
            pct(&v[..k], 0.5),
            pct(&v[n - k..], 0.5),
            pct(&v[n - k..], 0.5) / pct(&v[..k], 0.5)
        );
    }
    println!();
    // In order of first appearance: `ready` replaces `netns` once the pool has filled.
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in laps.iter().flatten() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let took_ready = |rows: &[Vec<(String, f64)>]| {
        rows.iter()
            .filter(|r| r.iter().any(|(n, _)| n == "ready"))
            .count()
    };
    println!(
        "starts that took a ready bridge endpoint: {} of {n} (first {k}: {}, last {k}: {})",
        took_ready(&laps),
        took_ready(&laps[..k]),
        took_ready(&laps[n - k..])
    );
    println!(
        "scaling of attach without process, interleaved (50 each): 10th on its bridge median {:.2} ms, {}th median {:.2} ms, ratio {:.2}",
        pct(&at_10, 0.5),
        n + 1,
        pct(&at_big, 0.5),
        pct(&at_big, 0.5) / pct(&at_10, 0.5)
    );
    println!();
    println!("| daemon step (Server-Timing) | first {k} mean ms | last {k} mean ms | growth ms |");
    println!("|---|---|---|---|");
    for name in names {
        let mean_of = |rows: &[Vec<(String, f64)>]| {
            rows.iter()
                .filter_map(|r| r.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                .sum::<f64>()
                / rows.len() as f64
        };
        let (a, b) = (mean_of(&laps[..k]), mean_of(&laps[n - k..]));
        println!("| {name} | {a:.3} | {b:.3} | {:+.3} |", b - a);
    }
    println!(
        "daemon RSS: idle {} kB, with {n} endpoints {} kB",
        idle, rss_n
    );
}

/// Every `name;dur=ms` entry of the Server-Timing header, in order.
fn all_timings(head: &str) -> Vec<(String, f64)> {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("server-timing:"))
        .map(|l| {
            l.split_once(':')
                .map(|(_, v)| v)
                .unwrap_or_default()
                .split(',')
                .filter_map(|p| {
                    let (name, dur) = p.trim().split_once(";dur=")?;
                    Some((name.to_string(), dur.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

struct Attached {
    id: String,
    total: std::time::Duration,
    /// The start's response head (its Server-Timing).
    head: String,
}

impl Attached {
    fn without_process(&self) -> std::time::Duration {
        self.total
            .saturating_sub(server_timing(&self.head, "process"))
    }
}

/// Create and start one container on `net` through the API.
fn attach_once(w: &common::World, net: &str, name: &str) -> Attached {
    let body = format!(r#"{{"Cmd":["sleep","100000"],"HostConfig":{{"NetworkMode":"{net}"}}}}"#);
    let t = Instant::now();
    let (st, resp) = w.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body),
    );
    assert_eq!(st, 201, "{resp}");
    let id: serde_json::Value = serde_json::from_str(&resp).expect("json");
    let id = id["Id"].as_str().expect("id").to_string();
    let (st, head, resp) = w.http_full("POST", &format!("/containers/{id}/start"), None);
    let total = t.elapsed();
    assert_eq!(st, 204, "{resp}");
    Attached { id, total, head }
}
