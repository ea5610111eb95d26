//! cnm against its peers in one run (issue 6), in a namespace world of its own (the end-to-end harness):
//! cnm (through its Docker-shaped API), netavark 1.4 driven directly as podman drives it (without and
//! with aardvark-dns), the CNI reference plugins (bridge + host-local + portmap + firewall) invoked
//! directly with CNI env and a conflist-equivalent chain, and the kernel floor (`ip -batch`: netns +
//! veth + address + route only).
//!
//! Everything runs inside the world's network and mount namespaces; the world mounts its own tmpfs on
//! `/run`, so `/run/netns/*`, the xtables lock and the peers' state never reach the machine's own.
//! Rounds are interleaved (cnm, peer, cnm, peer…) and compared as ratios cnm/peer (min/median/max).
//!
//! Run: `scripts/bench-peers.sh [--quick]` (root). Environment: `CNM_PEERS_QUICK=1` (small sizes,
//! correctness only), `CNM_PEERS_N` (containers of the scaling scenario, default 1000),
//! `CNM_PEERS_WRITE=1` (write the tables between the markers in docs/performance.md and the chart).

#[path = "../tests/common/mod.rs"]
mod common;

#[path = "measure.rs"]
mod measure;

#[path = "peers/systems.rs"]
mod systems;

#[path = "peers/report.rs"]
mod report;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use report::{ms, pct, ratio_row, Report};
use systems::{Ep, Kind, Peers};

pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Panics (and so unwinds through every `Drop`, which cleans up) once SIGINT/SIGTERM arrived.
pub fn check_stop() {
    if STOP.load(Ordering::SeqCst) {
        panic!("interrupted: cleaning up the benchmark's namespaces and processes");
    }
}

struct Sizes {
    quick: bool,
    rounds: usize,
    per_round: usize,
    n: usize,
    chunk: usize,
    parallel: usize,
    net_rounds: usize,
}

fn sizes() -> Sizes {
    let quick = std::env::var("CNM_PEERS_QUICK").is_ok_and(|v| v == "1");
    let n = std::env::var("CNM_PEERS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20 } else { 1000 });
    if quick {
        Sizes {
            quick,
            rounds: 2,
            per_round: 3,
            n,
            chunk: 5,
            parallel: 5,
            net_rounds: 2,
        }
    } else {
        Sizes {
            quick,
            rounds: 5,
            per_round: 10,
            n,
            chunk: 50,
            parallel: 20,
            net_rounds: 5,
        }
    }
}

fn main() {
    for sig in [nix::sys::signal::SIGINT, nix::sys::signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::Handler(on_signal))
                .expect("signal handler");
        }
    }
    let sz = sizes();
    let w = common::World::new();
    let mut p = Peers::new(&w);
    let idle_rss = report::rss_kb(w.daemon_pid());
    let mut rep = Report::new(sz.quick);
    rep.line(&format!(
        "Run {} UTC, {}, loadavg at start {}. Peers: {}.",
        report::now_utc(),
        if sz.quick { "quick mode" } else { "full mode" },
        report::loadavg(),
        p.versions()
    ));

    scenario_attach(&mut p, &sz, &mut rep);
    scenario_network(&mut p, &sz, &mut rep);
    let rss_n = scenario_scaling(&mut p, &sz, &mut rep);
    scenario_parallel(&mut p, &sz, &mut rep);
    scenario_rss(&p, &sz, &mut rep, idle_rss, rss_n);
    rep.line(&format!("loadavg at the end {}.", report::loadavg()));
    rep.todo();
    rep.finish();
    drop(p);
    drop(w);
}

/// Every endpoint got its address and answers a ping from the world ("host") namespace.
fn assert_answer(p: &Peers, eps: &[Ep]) {
    let ips: Vec<&str> = eps.iter().map(|e| e.ip.as_str()).collect();
    for chunk in ips.chunks(200) {
        let out = p.w.sh(&format!(
            "for ip in {}; do ping -c1 -W2 -q $ip >/dev/null 2>&1 || {{ echo $ip; exit 1; }}; done",
            chunk.join(" ")
        ));
        assert_eq!(out.code, 0, "no answer from {}", out.stdout.trim());
    }
}

/// (1) attach/detach latency, sequential containers on one bridge, rounds interleaved.
fn scenario_attach(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let kinds = Kind::all();
    let mut attach: Vec<Vec<Vec<Duration>>> = vec![vec![]; kinds.len()];
    let mut detach: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    let mut sandbox: Vec<Vec<Duration>> = vec![vec![]; sz.rounds];
    for (round, sb_round) in sandbox.iter_mut().enumerate() {
        for k in 0..kinds.len() {
            // Rotate who goes first so drift and warm caches hit all alike.
            let ki = (k + round) % kinds.len();
            let kind = kinds[ki];
            let mut eps = Vec::new();
            let mut lat = Vec::new();
            for _ in 0..sz.per_round {
                check_stop();
                let (d, ep) = p.attach(kind);
                lat.push(d);
                if let Some(sb) = ep.server {
                    sb_round.push(sb);
                }
                eps.push(ep);
            }
            assert_answer(p, &eps);
            for ep in eps {
                detach[ki].push(p.detach(ep));
            }
            attach[ki].push(lat);
        }
    }
    let total = sz.rounds * sz.per_round;
    rep.section(&format!(
        "(1) Attach and detach latency: {total} sequential containers per system on one bridge \
         ({} rounds of {}, interleaved, order rotated each round)",
        sz.rounds, sz.per_round
    ));
    rep.line("| system | attach p50 / p90 / p99 ms | detach p50 / p90 / p99 ms | attach p50 ratio cnm/peer (min / median / max over rounds) | same, cnm's in-daemon sandbox time |");
    rep.line("|---|---|---|---|---|");
    let all = |v: &Vec<Vec<Duration>>| v.iter().flatten().copied().collect::<Vec<_>>();
    let cnm_rounds: Vec<f64> = attach[0].iter().map(|r| pct(r, 0.5)).collect();
    let sb_rounds: Vec<f64> = sandbox.iter().map(|r| pct(r, 0.5)).collect();
    let sb_all: Vec<Duration> = sandbox.iter().flatten().copied().collect();
    for (ki, kind) in kinds.iter().enumerate() {
        let a = all(&attach[ki]);
        let peer_rounds: Vec<f64> = attach[ki].iter().map(|r| pct(r, 0.5)).collect();
        let (r1, r2) = if ki == 0 {
            ("–".to_string(), "–".to_string())
        } else {
            (
                ratio_row(&cnm_rounds, &peer_rounds),
                ratio_row(&sb_rounds, &peer_rounds),
            )
        };
        rep.line(&format!(
            "| {} | {} / {} / {} | {} / {} / {} | {r1} | {r2} |",
            kind.label(),
            ms(pct(&a, 0.5)),
            ms(pct(&a, 0.9)),
            ms(pct(&a, 0.99)),
            ms(pct(&detach[ki], 0.5)),
            ms(pct(&detach[ki], 0.9)),
            ms(pct(&detach[ki], 0.99)),
        ));
        if ki == 0 {
            rep.line(&format!(
                "| cnm, in-daemon sandbox + endpoint time (Server-Timing `sandbox`) | {} / {} / {} | – | – | – |",
                ms(pct(&sb_all, 0.5)),
                ms(pct(&sb_all, 0.9)),
                ms(pct(&sb_all, 0.99)),
            ));
        }
        rep.attach_p50.push((kind.label(), pct(&a, 0.5)));
    }
    rep.line("");
    rep.line(
        "What each row times. cnm: `POST /containers/create` + `POST /containers/{id}/start` of a `sleep` \
         process on a user network (the client-visible total: namespace, veth, addresses, routes, embedded \
         DNS, /etc files, store commit, *and* spawning the shim and the process); detach is \
         `DELETE /containers/{id}?force=1`. netavark / CNI: the `setup` / `ADD` chain only, the netns \
         already made by the suite (as podman makes it before calling them); detach is `teardown` / the \
         `DEL` chain (the netns removed afterwards, untimed). Kernel floor: two `ip -batch` processes \
         (netns + veth with its peer in the netns + master/up; then address, up, lo, default route), \
         detach `ip netns del`.",
    );
}

/// (7) network create / rm.
fn scenario_network(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let mut cnm_c = Vec::new();
    let mut cnm_r = Vec::new();
    let mut fl_c = Vec::new();
    let mut fl_r = Vec::new();
    let mut rc = Vec::new();
    let mut rr = Vec::new();
    for round in 0..sz.net_rounds {
        check_stop();
        let (c1, r1) = p.cnm_network_cycle(round, 10);
        let (c2, r2) = p.floor_network_cycle(round, 10);
        rc.push(pct(&c1, 0.5) / pct(&c2, 0.5));
        rr.push(pct(&r1, 0.5) / pct(&r2, 0.5));
        cnm_c.extend(c1);
        cnm_r.extend(r1);
        fl_c.extend(c2);
        fl_r.extend(r2);
    }
    rep.section(&format!(
        "(7) Network create / rm: {} rounds of 10 bridge networks each, interleaved",
        sz.net_rounds
    ));
    rep.line("| system | create p50 / p99 ms | rm p50 / p99 ms | ratio cnm/peer create p50 (min / median / max) | rm p50 |");
    rep.line("|---|---|---|---|---|");
    rep.line(&format!(
        "| cnm (`POST /networks/create`, `DELETE /networks/{{id}}`) | {} / {} | {} / {} | – | – |",
        ms(pct(&cnm_c, 0.5)),
        ms(pct(&cnm_c, 0.99)),
        ms(pct(&cnm_r, 0.5)),
        ms(pct(&cnm_r, 0.99))
    ));
    rep.line(&format!(
        "| kernel floor (one `ip -batch`: bridge add, address, up / `link del`) | {} / {} | {} / {} | {} | {} |",
        ms(pct(&fl_c, 0.5)),
        ms(pct(&fl_c, 0.99)),
        ms(pct(&fl_r, 0.5)),
        ms(pct(&fl_r, 0.99)),
        report::min_med_max(&rc),
        report::min_med_max(&rr)
    ));
    rep.line("| netavark 1.4 / CNI plugins | n/a | n/a | – | – |");
    rep.line("");
    rep.line(
        "netavark and the CNI plugins have no network-create operation: podman writes a JSON file (or a \
         conflist) and the bridge is made by the first container's `setup`/`ADD` (and left in place by \
         the last teardown). cnm creates the bridge, IPAM pool and firewall state eagerly and deletes them on rm.",
    );
}

/// (2) N containers on one bridge per system, interleaved in chunks; returns cnm's RSS at N endpoints.
fn scenario_scaling(p: &mut Peers, sz: &Sizes, rep: &mut Report) -> u64 {
    let kinds = Kind::all();
    let chunks = sz.n.div_ceil(sz.chunk);
    let mut lat: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    let mut eps: Vec<Vec<Ep>> = (0..kinds.len()).map(|_| Vec::new()).collect();
    let t0 = Instant::now();
    for c in 0..chunks {
        for (ki, kind) in kinds.iter().enumerate() {
            for _ in 0..sz.chunk.min(sz.n - c * sz.chunk) {
                check_stop();
                let (d, ep) = p.attach(*kind);
                lat[ki].push(d);
                eps[ki].push(ep);
            }
        }
        if !sz.quick && c % 4 == 3 {
            eprintln!(
                "scaling: {} of {} containers per system ({:.0} s)",
                (c + 1) * sz.chunk,
                sz.n,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let rss = report::rss_kb(p.w.daemon_pid());
    let aardvark_rss = p.aardvark_pid().map(report::rss_kb);
    for e in &eps {
        assert_answer(p, e);
    }
    let mut det: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    for (ki, e) in eps.into_iter().enumerate() {
        for ep in e {
            check_stop();
            det[ki].push(p.detach(ep));
        }
    }
    let k = sz.chunk.min(sz.n / 2).max(1);
    rep.section(&format!(
        "(2) {} containers on one bridge per system (interleaved in chunks of {}): first {k} vs last {k}",
        sz.n, sz.chunk
    ));
    rep.line(&format!("| system | attach p50 first {k} ms | attach p50 last {k} ms | last/first | ratio cnm/peer of chunk p50s (min / median / max over {chunks} chunks) | detach p50 ms (all) |"));
    rep.line("|---|---|---|---|---|---|");
    let chunk_p50 =
        |v: &[Duration]| -> Vec<f64> { v.chunks(sz.chunk).map(|c| pct(c, 0.5)).collect() };
    let cnm_chunks = chunk_p50(&lat[0]);
    for (ki, kind) in kinds.iter().enumerate() {
        let v = &lat[ki];
        let first = pct(&v[..k], 0.5);
        let last = pct(&v[v.len() - k..], 0.5);
        let r = if ki == 0 {
            "–".to_string()
        } else {
            ratio_row(&cnm_chunks, &chunk_p50(v))
        };
        rep.line(&format!(
            "| {} | {} | {} | {:.2} | {r} | {} |",
            kind.label(),
            ms(first),
            ms(last),
            last / first,
            ms(pct(&det[ki], 0.5))
        ));
        rep.scaling.push((kind.label(), chunk_p50(v), first, last));
    }
    rep.chunk = sz.chunk;
    if let Some(a) = aardvark_rss {
        rep.aardvark_rss = a;
    }
    rep.line("");
    rep.line("Every container of every system was checked: it got its address and answered a ping from the host namespace.");
    rss
}

/// (3) parallel attaches: all at once, wall time.
fn scenario_parallel(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let kinds = Kind::all();
    let rounds = if sz.quick { 1 } else { 3 };
    let mut wall: Vec<Vec<f64>> = vec![vec![]; kinds.len()];
    for _ in 0..rounds {
        for (ki, kind) in kinds.iter().enumerate() {
            check_stop();
            let (d, eps) = p.attach_parallel(*kind, sz.parallel);
            assert_eq!(eps.len(), sz.parallel);
            assert_answer(p, &eps);
            for ep in eps {
                p.detach(ep);
            }
            wall[ki].push(d.as_secs_f64() * 1000.0);
        }
    }
    rep.section(&format!(
        "(3) {} parallel attaches (one thread each, all started together), {rounds} rounds interleaved",
        sz.parallel
    ));
    rep.line("| system | wall time for all, median ms | per container (wall / n) ms | ratio cnm/peer wall (min / median / max) |");
    rep.line("|---|---|---|---|");
    for (ki, kind) in kinds.iter().enumerate() {
        let med = report::median(&wall[ki]);
        let r = if ki == 0 {
            "–".to_string()
        } else {
            let rs: Vec<f64> = wall[0].iter().zip(&wall[ki]).map(|(a, b)| a / b).collect();
            report::min_med_max(&rs)
        };
        rep.line(&format!(
            "| {} | {} | {} | {r} |",
            kind.label(),
            ms(med),
            ms(med / sz.parallel as f64)
        ));
    }
}

/// (8) resident memory.
fn scenario_rss(p: &Peers, sz: &Sizes, rep: &mut Report, idle: u64, at_n: u64) {
    rep.section("(8) Resident memory");
    rep.line("| what | cnm daemon | peers |");
    rep.line("|---|---|---|");
    rep.line(&format!(
        "| idle (no network, no container) | {:.1} MB | netavark, CNI plugins: no resident process |",
        idle as f64 / 1024.0
    ));
    rep.line(&format!(
        "| with {} endpoints (cnm: {} containers with their resolvers) | {:.1} MB | aardvark-dns with {} names: {:.1} MB |",
        sz.n,
        sz.n,
        at_n as f64 / 1024.0,
        sz.n,
        rep.aardvark_rss as f64 / 1024.0
    ));
    let _ = p;
}
