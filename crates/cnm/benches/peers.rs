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

#[path = "shared/dnsperf.rs"]
mod dnsbench;

#[path = "peers/systems.rs"]
mod systems;

#[path = "peers/report.rs"]
mod report;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use report::{ms, pct, ratio_row, Report};
use systems::{Ep, Kind, Peers, Ports};

pub static STOP: AtomicBool = AtomicBool::new(false);
/// Endpoints that answered the check only on its retry (a slow answer, counted in the report).
static LATE: AtomicUsize = AtomicUsize::new(0);

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
    /// (1): rounds of `per_round` sequential attaches per system.
    rounds: usize,
    per_round: usize,
    /// (2): containers per system, compared in chunks of `chunk`.
    n: usize,
    chunk: usize,
    /// (3)
    parallel: usize,
    par_rounds: usize,
    /// (7)
    net_rounds: usize,
    /// (4): rounds, and the sizes of the published range.
    port_rounds: usize,
    port_sizes: Vec<u32>,
    /// (5): containers per system with one published port each, in chunks of `each_chunk`.
    each_n: usize,
    each_chunk: usize,
    /// (6): rounds of one dnsperf run per system, its length, names served; the paced client's rate.
    dns_rounds: usize,
    dns_secs: u32,
    dns_names: usize,
    paced_qps: u32,
    paced_total: usize,
    /// (9): rounds and seconds per iperf3 test.
    iperf_rounds: usize,
    iperf_secs: u32,
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
            par_rounds: 1,
            net_rounds: 2,
            port_rounds: 1,
            port_sizes: vec![100],
            each_n: 10,
            each_chunk: 5,
            dns_rounds: 1,
            dns_secs: 2,
            dns_names: 5,
            paced_qps: 1000,
            paced_total: 1000,
            iperf_rounds: 1,
            iperf_secs: 1,
        }
    } else {
        Sizes {
            quick,
            rounds: 5,
            per_round: 10,
            n,
            chunk: 50,
            parallel: 20,
            par_rounds: 2,
            net_rounds: 5,
            port_rounds: 3,
            port_sizes: vec![1000, 10_000],
            each_n: 100,
            each_chunk: 10,
            dns_rounds: 3,
            dns_secs: 5,
            dns_names: 20,
            paced_qps: 5000,
            paced_total: 20_000,
            iperf_rounds: 2,
            iperf_secs: 3,
        }
    }
}

/// Processes the suite started (listeners, iperf3 servers), stopped by their PID when dropped, also
/// when a scenario panics.
#[derive(Default)]
pub struct Procs(Vec<std::process::Child>);

impl Procs {
    pub fn push(&mut self, c: std::process::Child) {
        self.0.push(c);
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }
}

/// The figures the targets are judged on, filled by the scenarios.
#[derive(Default)]
struct Targets {
    attach_vs_netavark: Option<(f64, String)>,
    scaling: Option<f64>,
    /// (ratio of the attach with 1000 ports, its rounds, cnm's added ms, netavark's added ms)
    ports_vs_netavark: Option<(f64, String, f64, f64)>,
    dns_vs_aardvark: Option<(f64, String)>,
    rss_at_n: Option<f64>,
}

fn main() {
    for sig in [nix::sys::signal::SIGINT, nix::sys::signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::Handler(on_signal))
                .expect("signal handler");
        }
    }
    // The direct-netlink floor holds each namespace by a descriptor: 1000 containers need more than
    // the usual 1024 soft limit.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        .expect("setrlimit");
    let sz = sizes();
    let t_all = Instant::now();
    let w = common::World::new();
    let mut p = Peers::new(&w);
    let idle_rss = report::rss_kb(w.daemon_pid());
    let mut rep = Report::new(sz.quick);
    let mut tg = Targets::default();
    rep.line(&format!(
        "Run {} UTC, {}, loadavg at start {}. Peers: {}. Command: `scripts/bench-peers.sh{}`{}.",
        report::now_utc(),
        if sz.quick { "quick mode" } else { "full mode" },
        report::loadavg(),
        p.versions(),
        if sz.quick { " --quick" } else { "" },
        if std::env::var("CNM_PEERS_N").is_ok() {
            format!(" with `CNM_PEERS_N={}`", sz.n)
        } else {
            String::new()
        }
    ));
    let stage = |name: &str| {
        eprintln!(
            "peers: {name} ({:.0} s, loadavg {})",
            t_all.elapsed().as_secs_f64(),
            report::loadavg()
        )
    };
    // `CNM_PEERS_ONLY=2,6` runs only those scenarios (development; the report then has only those).
    let only: Option<Vec<String>> = std::env::var("CNM_PEERS_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let want = |n: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));
    let (mut rss_ports, mut aardvark_idle, mut rss_n, mut aardvark_n) = (None, None, None, None);
    if want("1") {
        stage("(1) attach/detach");
        scenario_attach(&mut p, &sz, &mut rep, &mut tg);
    }
    if want("7") {
        stage("(7) network create/rm");
        scenario_network(&mut p, &sz, &mut rep);
    }
    if want("3") {
        stage("(3) parallel");
        scenario_parallel(&mut p, &sz, &mut rep);
    }
    if want("4") {
        stage("(4) published ranges");
        rss_ports = Some(scenario_ports(&mut p, &sz, &mut rep, &mut tg));
    }
    if want("5") {
        stage("(5) one port each");
        scenario_port_each(&mut p, &sz, &mut rep);
    }
    if want("6") {
        stage("(6) DNS");
        aardvark_idle = scenario_dns(&mut p, &sz, &mut rep, &mut tg);
    }
    if want("9") {
        stage("(9) iperf3");
        scenario_iperf(&mut p, &sz, &mut rep);
    }
    if want("2") {
        stage("(2) scaling");
        let (r, a) = scenario_scaling(&mut p, &sz, &mut rep, &mut tg);
        (rss_n, aardvark_n) = (Some(r), a);
    }
    scenario_rss(
        &sz,
        &mut rep,
        &mut tg,
        idle_rss,
        rss_n,
        rss_ports,
        aardvark_idle,
        aardvark_n,
    );
    rep.line("");
    rep.line(&format!(
        "loadavg at the end {}; the whole run took {:.0} s.",
        report::loadavg(),
        t_all.elapsed().as_secs_f64()
    ));
    rep.targets(targets_text(&tg, &sz));
    rep.finish();
    stage("done, cleaning up");
    drop(p);
    drop(w);
}

fn targets_text(tg: &Targets, sz: &Sizes) -> Vec<String> {
    let verdict = |ok: bool| match (sz.quick, ok) {
        (true, _) => "not judged (quick mode)",
        (false, true) => "**met**",
        (false, false) => "**not met**",
    };
    let mut v = Vec::new();
    if sz.quick {
        v.push("Quick mode (CI): small sizes, correctness only; the verdicts below do not judge the targets.".to_string());
    }
    v.push("Targets of issue 6, judged on the tables below (medians of the per-round ratios cnm/peer):".into());
    v.push(String::new());
    if let Some((r, row)) = &tg.attach_vs_netavark {
        v.push(format!(
            "- attach p50 ≤ 1/4 of netavark's: {} — cnm/netavark {r:.2} (rounds min / median / max {row}; (1))",
            verdict(*r <= 0.25)
        ));
    }
    if let Some(r) = tg.scaling {
        v.push(format!(
            "- scaling flat, last {k} ≤ 1.2× first {k} at {} containers: {} — cnm last/first {r:.2} ((2))",
            sz.n,
            verdict(r <= 1.2),
            k = sz.chunk
        ));
    }
    if let Some((r, row, ca, na)) = &tg.ports_vs_netavark {
        v.push(format!(
            "- 1000-port publish no slower than netavark: {} for the attach with 1000 ports, cnm/netavark \
             {r:.2} (rounds {row}); {} for the part publishing adds: cnm +{ca:.1} ms, netavark +{na:.1} ms \
             ((4))",
            verdict(*r <= 1.0),
            verdict(ca <= na)
        ));
    }
    if let Some((r, row)) = &tg.dns_vs_aardvark {
        v.push(format!(
            "- DNS ≥ 2× aardvark-dns's queries/s: {} — cnm/aardvark-dns {r:.2} ({row}; (6))",
            verdict(*r >= 2.0)
        ));
    }
    if let Some(mb) = tg.rss_at_n {
        v.push(format!(
            "- daemon RSS ≤ 30 MB at 1000 endpoints: {} — {mb:.1} MB at {} ((8))",
            verdict(mb <= 30.0 && sz.n >= 1000),
            sz.n
        ));
    }
    v
}

/// Every endpoint got its address and answers a ping from the world ("host") namespace. On a miss the
/// kernel's view is printed (neighbour entry, table-full counter, the endpoint's addresses and routes)
/// and the ping is retried once with a long timeout, to tell a slow answer from none.
fn assert_answer(p: &Peers, eps: &[&Ep]) {
    for chunk in eps.chunks(100) {
        let ips: Vec<&str> = chunk.iter().map(|e| e.ip.as_str()).collect();
        let out = p.w.sh(&format!(
            "for ip in {}; do ping -c1 -W2 -q $ip >/dev/null 2>&1 || echo $ip; done",
            ips.join(" ")
        ));
        for ip in out.stdout.split_whitespace() {
            let ep = chunk.iter().find(|e| e.ip == ip).expect("pinged endpoint");
            let diag = p.w.sh(&format!(
                "echo '# neighbour'; ip neigh show {ip}; echo '# endpoint'; nsenter --net={ns} ip -br addr; nsenter --net={ns} ip route; \
                 nsenter --net={ns} ip neigh; echo '# retry'; ping -c3 -W5 {ip}",
                ns = ep.netns_path()
            ));
            eprintln!(
                "no answer from {ip} ({:?}) within 2 s:\n{}{}",
                ep.kind, diag.stdout, diag.stderr
            );
            assert_eq!(
                diag.code, 0,
                "no answer from {ip} ({:?}), not even on retry; see above",
                ep.kind
            );
            LATE.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Check, then drop the neighbour entries the check made.
fn check(p: &Peers, kind: Kind, eps: &[&Ep]) {
    assert_answer(p, eps);
    p.forget_neighbours(kind, eps);
}

/// (1) attach/detach latency, sequential containers on one bridge, rounds interleaved.
fn scenario_attach(p: &mut Peers, sz: &Sizes, rep: &mut Report, tg: &mut Targets) {
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
            check(p, kind, &eps.iter().collect::<Vec<_>>());
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
        if *kind == Kind::Netavark {
            let r: Vec<f64> = cnm_rounds
                .iter()
                .zip(&peer_rounds)
                .map(|(a, b)| a / b)
                .collect();
            tg.attach_vs_netavark = Some((report::median(&r), report::min_med_max(&r)));
        }
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
         detach `ip netns del`. Direct-netlink floor: the same link work from the suite's own process \
         through rtnetlink (cnm-linux's wrappers): `unshare` of a netns held by a descriptor, one \
         RTM_NEWLINK for the veth (peer made in the netns, host end on the bridge and up), then address, \
         eth0 up, lo up, default route; detach closes the descriptor. No process is spawned, so it \
         is the cheapest way to do the link work at all.",
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

/// Sum of a column of `/proc/net/stat/arp_cache` over the CPUs (the kernel's neighbour table is one for
/// all namespaces, and so are its counters).
fn arp_stat(column: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/net/stat/arp_cache").unwrap_or_default();
    let mut lines = text.lines();
    let Some(i) = lines
        .next()
        .and_then(|h| h.split_whitespace().position(|c| c == column))
    else {
        return 0;
    };
    lines
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(i)?, 16).ok())
        .sum()
}

/// (2) N containers on one bridge per system, interleaved in chunks, each chunk checked right after it
/// was attached; returns cnm's RSS and aardvark-dns's at N endpoints.
fn scenario_scaling(
    p: &mut Peers,
    sz: &Sizes,
    rep: &mut Report,
    tg: &mut Targets,
) -> (u64, Option<u64>) {
    // netavark with and without aardvark-dns do the same link and firewall work; the one with DNS is
    // the one that also grows a resolver's state, and its 1000 containers are the aardvark RSS figure.
    let kinds = [
        Kind::Cnm,
        Kind::NetavarkDns,
        Kind::Cni,
        Kind::Floor,
        Kind::FloorNl,
    ];
    let chunks = sz.n.div_ceil(sz.chunk);
    let mut lat: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    let mut eps: Vec<Vec<Ep>> = (0..kinds.len()).map(|_| Vec::new()).collect();
    let fulls0 = arp_stat("table_fulls");
    let late0 = LATE.load(Ordering::SeqCst);
    let t0 = Instant::now();
    for c in 0..chunks {
        for k in 0..kinds.len() {
            // Rotate who goes first in each chunk, as in (1).
            let ki = (k + c) % kinds.len();
            let kind = kinds[ki];
            let from = eps[ki].len();
            for _ in 0..sz.chunk.min(sz.n - c * sz.chunk) {
                check_stop();
                let (d, ep) = p.attach(kind);
                lat[ki].push(d);
                eps[ki].push(ep);
            }
            // Checked now, untimed: the address works while N grows, and the entries the check
            // made are dropped again, so the suite's own pings never fill the shared table.
            check(p, kind, &eps[ki][from..].iter().collect::<Vec<_>>());
        }
        if !sz.quick && c % 4 == 3 {
            eprintln!(
                "scaling: {} of {} containers per system ({:.0} s, loadavg {})",
                (c + 1) * sz.chunk,
                sz.n,
                t0.elapsed().as_secs_f64(),
                report::loadavg()
            );
        }
    }
    let attach_s = t0.elapsed().as_secs_f64();
    // All still answer at N, the oldest included (checked again chunk by chunk, so that the entries
    // of one chunk are gone before the next).
    let t_recheck = Instant::now();
    for (ki, kind) in kinds.iter().enumerate() {
        for c in eps[ki].chunks(sz.chunk) {
            check_stop();
            check(p, *kind, &c.iter().collect::<Vec<_>>());
        }
    }
    let recheck_s = t_recheck.elapsed().as_secs_f64();
    let rss = report::rss_kb(p.w.daemon_pid());
    let aardvark_rss = p.aardvark_pid().map(report::rss_kb);
    let fulls = arp_stat("table_fulls") - fulls0;
    let late = LATE.load(Ordering::SeqCst) - late0;
    // Detach at N: the last chunk of each system, timed, newest first. In quick mode everything is
    // detached (detach is part of what CI proves); in the full run the rest goes with the world (its
    // namespace, and every peer rule and interface in it), which saves minutes of untimed teardown.
    let k = sz.chunk.min(sz.n / 2).max(1);
    let mut det: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    for (ki, e) in eps.iter_mut().enumerate() {
        for _ in 0..k {
            check_stop();
            let ep = e.pop().expect("endpoint");
            det[ki].push(p.detach(ep));
        }
    }
    if sz.quick {
        for e in eps {
            p.detach_all(e);
        }
    }
    rep.section(&format!(
        "(2) {} containers on one bridge per system (interleaved in chunks of {}): first {k} vs last {k}",
        sz.n, sz.chunk
    ));
    rep.line(&format!("| system | attach p50 first {k} ms | attach p50 last {k} ms | last/first | ratio cnm/peer of chunk p50s (min / median / max over {chunks} chunks) | detach p50 at {} ms (last {k}) |", sz.n));
    rep.line("|---|---|---|---|---|---|");
    let cnm = Growth::of(&lat[0], k, sz.chunk, None);
    tg.scaling = Some(cnm.last / cnm.first);
    for (ki, kind) in kinds.iter().enumerate() {
        let g = Growth::of(
            &lat[ki],
            k,
            sz.chunk,
            (ki > 0).then_some(cnm.chunks.as_slice()),
        );
        rep.line(&format!(
            "| {} | {} | {} | {:.2} | {} | {} |",
            kind.label(),
            ms(g.first),
            ms(g.last),
            g.last / g.first,
            g.ratio,
            ms(pct(&det[ki], 0.5))
        ));
        rep.scaling.push((kind.label(), g.chunks, g.first, g.last));
    }
    rep.chunk = sz.chunk;
    rep.line("");
    rep.line(&format!(
        "Every container of every system was checked right after its chunk was attached (a ping from \
         the host namespace; all of them again at {n}, which took {recheck_s:.0} s), then the neighbour entries the check \
         made were flushed, on the host's bridge and in the container. Plain netavark (without \
         aardvark-dns) is left out here: it does the same link and firewall work as the row with DNS, and \
         the run would not fit its time budget with a sixth thousand. Kernel neighbour-table overflows \
         during this scenario (`table_fulls` of `/proc/net/stat/arp_cache`): {fulls}; endpoints that \
         answered only on the check's retry (> 2 s): {late}. The attach phase took {attach_s:.0} s.",
        n = sz.n
    ));
    rep.line("");
    rep.line(
        "Why the check retries. The full run of 09:09 failed here with `no answer from 10.200.0.30`: it \
         pinged every container once (2 s timeout) after all 5000 attaches and stopped at the first miss. \
         The neighbour table was not the cause: its overflow counter (`table_fulls`, global to all \
         namespaces) stayed at 0 from boot through that run. What happens instead, on this loaded \
         machine, is that now and then a first ping goes unanswered within 2 s although the endpoint \
         works: in the trial run of 12:02 that was 5 of 10,000 checks, in cnm, the CNI chain and the ip \
         floor alike, each with a REACHABLE neighbour entry and answering the retry at once (0.07 ms). \
         So a miss is retried once with a 5 s timeout (printing the kernel's view), counted above, and \
         only no answer at all fails the run.",
    );
    (rss, aardvark_rss)
}

/// (3) parallel attaches: all at once, wall time.
fn scenario_parallel(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let kinds = Kind::all();
    let mut wall: Vec<Vec<f64>> = vec![vec![]; kinds.len()];
    for round in 0..sz.par_rounds {
        for k in 0..kinds.len() {
            let ki = (k + round) % kinds.len();
            let kind = kinds[ki];
            check_stop();
            let (d, eps) = p.attach_parallel(kind, sz.parallel);
            assert_eq!(eps.len(), sz.parallel);
            check(p, kind, &eps.iter().collect::<Vec<_>>());
            p.detach_all(eps);
            wall[ki].push(d.as_secs_f64() * 1000.0);
        }
    }
    rep.section(&format!(
        "(3) {} parallel attaches (one thread each, all started together), {} rounds interleaved",
        sz.parallel, sz.par_rounds
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
    rep.line("");
    rep.line(
        "netavark calls are serialised by a lock in the suite, as podman serialises them with its network \
         lock (concurrent first setups of netavark 1.4 race on its iptables chains). Every container was \
         checked (ping) before the round's teardown.",
    );
}

/// An address of the host namespace that belongs to none of the systems under test: published ports
/// are reached through it, as a client on the host would reach them.
const HOST_ADDR: &str = "10.204.0.1";

/// The host port a published port answers on, polled (the listener needs a moment to bind).
fn assert_port(p: &Peers, port: u32, what: &str) {
    let out = p.w.sh(&format!(
        "for i in $(seq 50); do curl -sf -m 1 -o /dev/null http://{HOST_ADDR}:{port}/ && exit 0; sleep 0.1; done; exit 1"
    ));
    assert_eq!(
        out.code, 0,
        "published port {port} ({what}) does not answer"
    );
}

fn www(p: &Peers) -> std::path::PathBuf {
    let d = p.w.path("www");
    std::fs::create_dir_all(&d).expect("www");
    std::fs::write(d.join("index.html"), "ok\n").expect("index");
    d
}

/// Host ports of (4): a range of its own per system.
fn range_base(kind: Kind) -> u16 {
    match kind {
        Kind::Cnm => 10000,
        Kind::Netavark => 20000,
        _ => 30000,
    }
}

/// (4) one container publishing 1000 / 10,000 ports: the excess over an attach without ports, in the
/// same round, rounds interleaved. Returns cnm's RSS while it holds the largest range.
fn scenario_ports(p: &mut Peers, sz: &Sizes, rep: &mut Report, tg: &mut Targets) -> u64 {
    let kinds = Kind::publishers();
    let www = www(p);
    // [kind][size] → excess per round; [kind] → the attach without ports per round.
    let mut excess: Vec<Vec<Vec<f64>>> = vec![vec![vec![]; sz.port_sizes.len()]; kinds.len()];
    let mut base: Vec<Vec<f64>> = vec![vec![]; kinds.len()];
    let mut total: Vec<Vec<Vec<f64>>> = vec![vec![vec![]; sz.port_sizes.len()]; kinds.len()];
    let mut detach: Vec<Vec<Vec<f64>>> = vec![vec![vec![]; sz.port_sizes.len()]; kinds.len()];
    let mut skipped: Vec<Vec<Option<String>>> = vec![vec![None; sz.port_sizes.len()]; kinds.len()];
    let mut rss_big = 0;
    for round in 0..sz.port_rounds {
        for k in 0..kinds.len() {
            let ki = (k + round) % kinds.len();
            let kind = kinds[ki];
            check_stop();
            let (d0, ep) = p.attach(kind);
            p.detach(ep);
            base[ki].push(d0.as_secs_f64() * 1000.0);
            for (si, &n) in sz.port_sizes.iter().enumerate() {
                if round == 0 && si > 0 {
                    // A linear estimate from the smaller range: a peer that would need minutes for the
                    // larger one is not run at it (the run has a time budget); the table says so.
                    let (pn, pe) = (sz.port_sizes[si - 1], excess[ki][si - 1][0]);
                    let est = pe * n as f64 / pn as f64;
                    if est > 90_000.0 {
                        skipped[ki][si] = Some(format!(
                            "not run: {pn} ports added {:.1} s, so {n} would add ≥ {:.0} s",
                            pe / 1000.0,
                            est / 1000.0
                        ));
                    }
                }
                if skipped[ki][si].is_some() {
                    continue;
                }
                check_stop();
                let ports = Ports {
                    host: range_base(kind),
                    ctr: range_base(kind),
                    n,
                };
                let (d, ep) = p.attach_ports(kind, Some(ports));
                if round == 0 {
                    // The last port of the range answers: the whole range is programmed.
                    let mut procs = Procs::default();
                    let last = ports.ctr as u32 + n - 1;
                    procs.push(p.listen(&ep, last as u16, &www));
                    assert_port(p, ports.host as u32 + n - 1, kind.label());
                    if kind == Kind::Cnm && si + 1 == sz.port_sizes.len() {
                        rss_big = report::rss_kb(p.w.daemon_pid());
                    }
                }
                detach[ki][si].push(p.detach(ep).as_secs_f64() * 1000.0);
                excess[ki][si].push(d.as_secs_f64() * 1000.0 - d0.as_secs_f64() * 1000.0);
                total[ki][si].push(d.as_secs_f64() * 1000.0);
                // A peer that needs minutes for a size would eat the run's budget: one sample then.
                if d > Duration::from_secs(60) {
                    skipped[ki][si] = Some(format!(
                        "one round only (its attach took {:.0} s)",
                        d.as_secs_f64()
                    ));
                }
            }
        }
    }
    rep.section(&format!(
        "(4) One container publishing a range of ports: time added to an attach without ports, {} rounds interleaved",
        sz.port_rounds
    ));
    rep.line("| system | attach without ports, median ms | range | added by publishing, median ms (min / max) | detach with the range, median ms | attach with the range, median ms | ratio cnm/peer of the attach with the range (min / median / max) |");
    rep.line("|---|---|---|---|---|---|---|");
    for (ki, kind) in kinds.iter().enumerate() {
        for (si, &n) in sz.port_sizes.iter().enumerate() {
            let e = &excess[ki][si];
            if e.is_empty() {
                rep.line(&format!(
                    "| {} | {} | {n} | n/a ({}) | – | – | – |",
                    kind.label(),
                    ms(report::median(&base[ki])),
                    skipped[ki][si].as_deref().unwrap_or("not run")
                ));
                continue;
            }
            let mut sorted = e.clone();
            sorted.sort_by(|a, b| a.total_cmp(b));
            let r = if ki == 0 {
                "–".to_string()
            } else {
                let m = e.len().min(excess[0][si].len());
                // Ratios of the whole attach: netavark's added time is one range rule, close enough
                // to zero that a ratio of the added times would divide by noise.
                let rs: Vec<f64> = (0..m).map(|i| total[0][si][i] / total[ki][si][i]).collect();
                if *kind == Kind::Netavark && n == 1000 {
                    tg.ports_vs_netavark = Some((
                        report::median(&rs),
                        report::min_med_max(&rs),
                        report::median(&excess[0][si]),
                        report::median(e),
                    ));
                }
                report::min_med_max(&rs)
            };
            rep.line(&format!(
                "| {} | {} | {n} | {} ({} / {}){} | {} | {} | {r} |",
                kind.label(),
                ms(report::median(&base[ki])),
                ms(report::median(e)),
                ms(sorted[0]),
                ms(sorted[sorted.len() - 1]),
                skipped[ki][si]
                    .as_ref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default(),
                ms(report::median(&detach[ki][si])),
                ms(report::median(&total[ki][si])),
            ));
        }
    }
    rep.line("");
    rep.line(
        "cnm gets `PortBindings` (and `ExposedPorts`) as the docker CLI sends `-p H1-H2:C1-C2`: the range \
         expanded into one binding per port. netavark gets one `port_mappings` entry with `range` (what \
         podman sends for the same `-p`); the CNI portmap plugin gets `runtimeConfig.portMappings` with \
         one entry per port (what libcni passes). The added time is the attach with the range minus the \
         attach without ports in the same round. In the first round a listener on the last port of the \
         range answered through the published port (HTTP from the host namespace), for every system.",
    );
    rss_big
}

/// Host ports of (5): one per container.
fn each_base(kind: Kind) -> u32 {
    match kind {
        Kind::Cnm => 41000,
        Kind::Netavark => 42000,
        _ => 43000,
    }
}

/// (5) containers with one published port each, interleaved in chunks: the last chunk against the first.
fn scenario_port_each(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let kinds = Kind::publishers();
    let www = www(p);
    let mut procs = Procs::default();
    let mut lat: Vec<Vec<Duration>> = vec![vec![]; kinds.len()];
    let mut eps: Vec<Vec<Ep>> = (0..kinds.len()).map(|_| Vec::new()).collect();
    let chunks = sz.each_n.div_ceil(sz.each_chunk);
    for c in 0..chunks {
        for k in 0..kinds.len() {
            let ki = (k + c) % kinds.len();
            let kind = kinds[ki];
            for _ in 0..sz.each_chunk.min(sz.each_n - c * sz.each_chunk) {
                check_stop();
                let host = each_base(kind) + eps[ki].len() as u32;
                let (d, ep) = p.attach_ports(
                    kind,
                    Some(Ports {
                        host: host as u16,
                        ctr: 80,
                        n: 1,
                    }),
                );
                procs.push(p.listen(&ep, 80, &www));
                lat[ki].push(d);
                eps[ki].push(ep);
            }
        }
    }
    // Every container answers on its own published port.
    for (ki, kind) in kinds.iter().enumerate() {
        for i in 0..eps[ki].len() {
            assert_port(p, each_base(*kind) + i as u32, kind.label());
        }
    }
    drop(procs);
    for e in eps {
        p.detach_all(e);
    }
    let k = sz.each_chunk;
    rep.section(&format!(
        "(5) {} containers with one published port each per system (interleaved in chunks of {k}): first {k} vs last {k}",
        sz.each_n
    ));
    rep.line(&format!("| system | attach p50 first {k} ms | attach p50 last {k} ms | last/first | ratio cnm/peer of chunk p50s (min / median / max) |"));
    rep.line("|---|---|---|---|---|");
    let cnm = Growth::of(&lat[0], k, k, None);
    for (ki, kind) in kinds.iter().enumerate() {
        let g = Growth::of(&lat[ki], k, k, (ki > 0).then_some(cnm.chunks.as_slice()));
        rep.line(&format!(
            "| {} | {} | {} | {:.2} | {} |",
            kind.label(),
            ms(g.first),
            ms(g.last),
            g.last / g.first,
            g.ratio
        ));
    }
    rep.line("");
    rep.line(&format!(
        "Each container got a listener on port 80 and every one of the {} published ports per system \
         answered (HTTP from the host namespace) before teardown.",
        sz.each_n
    ));
}

/// How one system's attach latency grows over a scenario: p50 of the first and last `k`, p50 of each
/// chunk, and the cnm/peer ratio of the chunk p50s (`–` for cnm itself, given no `cnm_chunks`).
struct Growth {
    first: f64,
    last: f64,
    chunks: Vec<f64>,
    ratio: String,
}

impl Growth {
    fn of(v: &[Duration], k: usize, chunk: usize, cnm_chunks: Option<&[f64]>) -> Self {
        let chunks: Vec<f64> = v.chunks(chunk).map(|c| pct(c, 0.5)).collect();
        Growth {
            first: pct(&v[..k], 0.5),
            last: pct(&v[v.len() - k..], 0.5),
            ratio: cnm_chunks.map_or_else(|| "–".to_string(), |c| ratio_row(c, &chunks)),
            chunks,
        }
    }
}

/// One side of (6): label, the client container, the server address, the names, their containers.
type DnsSide<'a> = (&'a str, &'a Ep, &'a str, &'a [String], &'a [Ep]);

/// (6) DNS: cnm's embedded resolver (127.0.0.11 in the container) against aardvark-dns started by
/// netavark (the bridge gateway), the same number of names, the client in a container of each.
/// Returns aardvark-dns's RSS serving those names.
fn scenario_dns(p: &mut Peers, sz: &Sizes, rep: &mut Report, tg: &mut Targets) -> Option<u64> {
    let mut cnm_eps = Vec::new();
    let mut nv_eps = Vec::new();
    for _ in 0..sz.dns_names + 1 {
        check_stop();
        cnm_eps.push(p.attach(Kind::Cnm).1);
        nv_eps.push(p.attach(Kind::NetavarkDns).1);
    }
    let aardvark_rss = p.aardvark_pid().map(report::rss_kb);
    // The first container of each is the client; the others are the names asked for.
    let cnm_names: Vec<String> = cnm_eps[1..].iter().map(|e| format!("c{}", e.idx)).collect();
    let nv_names: Vec<String> = nv_eps[1..]
        .iter()
        .map(|e| format!("bench{}", e.idx))
        .collect();
    let gw = "10.202.0.1";
    let systems: [DnsSide; 2] = [
        ("cnm", &cnm_eps[0], "127.0.0.11", &cnm_names, &cnm_eps[1..]),
        ("aardvark-dns", &nv_eps[0], gw, &nv_names, &nv_eps[1..]),
    ];
    let mut files = Vec::new();
    for (label, client, server, names, targets) in &systems {
        // Each name resolves to its container's address (one exact answer per system).
        let out = p.w.sh(&format!(
            "nsenter --net={} dig +short +time=2 +tries=2 @{server} {}",
            client.netns_path(),
            names[0]
        ));
        assert!(
            !out.stdout.trim().is_empty()
                && out.stdout.split_whitespace().all(|a| a == targets[0].ip),
            "{label}: {} did not resolve to its address: {} {}",
            names[0],
            out.stdout,
            out.stderr
        );
        let f = p.w.path(&format!("queries-{label}.txt"));
        let text: String = names.iter().map(|n| format!("{n} A\n")).collect();
        std::fs::write(&f, text).expect("query file");
        files.push(f.to_str().expect("path").to_string());
    }
    let mut runs: Vec<Vec<dnsbench::Dnsperf>> = vec![vec![], vec![]];
    let mut paced: Vec<Vec<f64>> = vec![vec![], vec![]];
    let mut paced_lost = [0usize; 2];
    for round in 0..sz.dns_rounds {
        for k in 0..2 {
            let si = (k + round) % 2;
            let (label, client, server, names, _) = &systems[si];
            check_stop();
            let mut c = p.w.command("nsenter");
            c.arg(format!("--net={}", client.netns_path()))
                .arg("dnsperf")
                .args(dnsbench::dnsperf_args(server, &files[si], sz.dns_secs));
            let out = c.output().expect("dnsperf");
            let text = String::from_utf8_lossy(&out.stdout);
            let r = dnsbench::parse_dnsperf(&text);
            assert!(
                r.lost == 0 && r.noerror_pct >= 100.0 && r.sent > 0,
                "{label}: dnsperf lost {} of {} queries or not all NOERROR ({}%):\n{text}",
                r.lost,
                r.sent,
                r.noerror_pct
            );
            runs[si].push(r);
            if round < 2 {
                let addr: std::net::SocketAddrV4 =
                    format!("{server}:53").parse().expect("server address");
                let dnsbench::Paced {
                    seen: lat, lost, ..
                } = dnsbench::paced(
                    client.open_netns(p.w),
                    addr,
                    names,
                    sz.paced_qps,
                    sz.paced_total,
                );
                if sz.quick {
                    assert_eq!(lost, 0, "{label}: paced client lost {lost} queries");
                }
                paced[si].extend(lat);
                paced_lost[si] += lost;
            }
        }
    }
    rep.section(&format!(
        "(6) DNS: {} names, dnsperf defaults (1 client, ≤ 100 queries in flight), {} s per run, {} rounds interleaved",
        sz.dns_names, sz.dns_secs, sz.dns_rounds
    ));
    rep.line(&format!("| resolver | queries/s median (min / max) | lost | avg latency ms (dnsperf) | paced {} q/s: p50 / p99 / max ms, lost | ratio cnm/peer q/s (min / median / max) |", sz.paced_qps));
    rep.line("|---|---|---|---|---|---|");
    let qps: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| r.iter().map(|x| x.qps).collect())
        .collect();
    for (si, (label, ..)) in systems.iter().enumerate() {
        let mut sorted = qps[si].clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let ratio = if si == 0 {
            "–".to_string()
        } else {
            let rs: Vec<f64> = qps[0].iter().zip(&qps[si]).map(|(a, b)| a / b).collect();
            tg.dns_vs_aardvark = Some((report::median(&rs), report::min_med_max(&rs)));
            report::min_med_max(&rs)
        };
        let avg: Vec<f64> = runs[si].iter().map(|r| r.avg_ms).collect();
        let lost: u64 = runs[si].iter().map(|r| r.lost).sum();
        let desc = if si == 0 {
            "cnm embedded (127.0.0.11 in the container)"
        } else {
            "aardvark-dns 1.4 via netavark (bridge gateway :53)"
        };
        let _ = label;
        rep.line(&format!(
            "| {desc} | {:.0} ({:.0} / {:.0}) | {lost} | {:.3} | {:.3} / {:.3} / {:.3}, {} | {ratio} |",
            report::median(&qps[si]),
            sorted[0],
            sorted[sorted.len() - 1],
            report::median(&avg),
            pct(&paced[si], 0.5),
            pct(&paced[si], 0.99),
            pct(&paced[si], 1.0),
            paced_lost[si]
        ));
    }
    rep.line("");
    rep.line(&format!(
        "Both clients run in a container's network namespace of their own system (`nsenter --net` of \
         dnsperf); every dnsperf run had zero lost and 100 % NOERROR, and one name per system was checked to \
         resolve to its container's address (dig). The paced client sends {} queries at a fixed {} q/s \
         per run (first two rounds) and times each answer. dnsperf and the servers share the machine's \
         two cores, so queries/s is bounded by both.",
        sz.paced_total, sz.paced_qps
    ));
    p.detach_all(cnm_eps);
    p.detach_all(nv_eps);
    aardvark_rss
}

/// iperf3's received throughput in Gbit/s.
fn iperf_gbps(out: &str) -> f64 {
    let v: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("iperf3 JSON ({e}): {out}"));
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no bits_per_second: {out}"))
        / 1e9
}

/// One iperf3 test: a one-shot server in `server_ns` on `port`, the client in `client_ns` (None: the
/// host namespace) connecting to `target:tport`.
fn iperf(
    p: &Peers,
    server_ns: &str,
    port: u16,
    client_ns: Option<&str>,
    target: &str,
    tport: u32,
    secs: u32,
) -> f64 {
    let mut procs = Procs::default();
    let srv =
        p.w.command("nsenter")
            .arg(format!("--net={server_ns}"))
            .args(["iperf3", "-s", "-1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 server");
    procs.push(srv);
    let ns = client_ns
        .map(|n| format!("nsenter --net={n} "))
        .unwrap_or_default();
    // The server needs a moment to listen: retry the client's connect.
    let out = p.w.sh(&format!(
        "for i in $(seq 30); do out=$({ns}iperf3 -c {target} -p {tport} -t {secs} -J 2>&1); \
         case \"$out\" in *'\"error\"'*) sleep 0.1 ;; *) printf '%s' \"$out\"; exit 0 ;; esac; done; \
         printf '%s' \"$out\"; exit 1"
    ));
    assert_eq!(out.code, 0, "iperf3 to {target}:{tport}: {}", out.stdout);
    iperf_gbps(&out.stdout)
}

/// (9) throughput: container to container on one bridge, and host to a container's published port.
fn scenario_iperf(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
    let kinds = Kind::all();
    let mut c2c: Vec<Vec<f64>> = vec![vec![]; kinds.len()];
    let mut publ: Vec<Vec<f64>> = vec![vec![]; kinds.len()];
    for round in 0..sz.iperf_rounds {
        for k in 0..kinds.len() {
            let ki = (k + round) % kinds.len();
            let kind = kinds[ki];
            check_stop();
            let publishes = Kind::publishers().contains(&kind) || kind == Kind::NetavarkDns;
            let hport = 45201 + ki as u16;
            let (_, a) = p.attach(kind);
            let (_, b) = p.attach_ports(
                kind,
                publishes.then_some(Ports {
                    host: hport,
                    ctr: 5201,
                    n: 1,
                }),
            );
            let bns = b.netns_path();
            c2c[ki].push(iperf(
                p,
                &bns,
                5201,
                Some(&a.netns_path()),
                &b.ip,
                5201,
                sz.iperf_secs,
            ));
            if publishes {
                publ[ki].push(iperf(
                    p,
                    &bns,
                    5201,
                    None,
                    HOST_ADDR,
                    hport as u32,
                    sz.iperf_secs,
                ));
            }
            p.detach(a);
            p.detach(b);
        }
    }
    rep.section(&format!(
        "(9) Throughput, iperf3 TCP {} s per test, {} rounds interleaved",
        sz.iperf_secs, sz.iperf_rounds
    ));
    rep.line("| system | container → container Gbit/s median (min / max) | ratio cnm/peer | host → published port Gbit/s median (min / max) | ratio cnm/peer |");
    rep.line("|---|---|---|---|---|");
    let cell = |v: &[f64]| {
        if v.is_empty() {
            return "n/a (no port publishing)".to_string();
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        format!(
            "{:.2} ({:.2} / {:.2})",
            report::median(&s),
            s[0],
            s[s.len() - 1]
        )
    };
    let ratio = |a: &[f64], b: &[f64], ki: usize| {
        if ki == 0 || b.is_empty() {
            return "–".to_string();
        }
        let rs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
        report::min_med_max(&rs)
    };
    for (ki, kind) in kinds.iter().enumerate() {
        rep.line(&format!(
            "| {} | {} | {} | {} | {} |",
            kind.label(),
            cell(&c2c[ki]),
            ratio(&c2c[0], &c2c[ki], ki),
            cell(&publ[ki]),
            ratio(&publ[0], &publ[ki], ki)
        ));
    }
    rep.line("");
    rep.line(&format!(
        "Server and client are iperf3 processes in two containers' network namespaces of the same \
         system (`nsenter --net`); the published-port test connects from the host namespace to \
         {HOST_ADDR} (a host address outside every system's bridge) on the published port, which each \
         system's DNAT sends to the server container. Both ends share the machine's two cores."
    ));
}

/// (8) resident memory.
#[allow(clippy::too_many_arguments)]
fn scenario_rss(
    sz: &Sizes,
    rep: &mut Report,
    tg: &mut Targets,
    idle: u64,
    at_n: Option<u64>,
    with_ports: Option<u64>,
    aardvark_names: Option<u64>,
    aardvark_n: Option<u64>,
) {
    let mb = |kb: u64| format!("{:.1} MB", kb as f64 / 1024.0);
    let opt = |v: Option<u64>| v.map(mb).unwrap_or_else(|| "not measured".into());
    let big = sz.port_sizes.last().copied().unwrap_or(0);
    tg.rss_at_n = at_n.map(|kb| kb as f64 / 1024.0);
    rep.section("(8) Resident memory (VmRSS)");
    rep.line("| state | cnm daemon | netavark | aardvark-dns | CNI plugins |");
    rep.line("|---|---|---|---|---|");
    rep.line(&format!(
        "| idle (no container; cnm: one user network) | {} | n/a (no resident process) | not started yet (netavark starts it with the first DNS container) | n/a (no resident process) |",
        mb(idle)
    ));
    rep.line(&format!(
        "| {} names on its network ((6)) | – | n/a | {} | n/a |",
        sz.dns_names + 1,
        opt(aardvark_names)
    ));
    rep.line(&format!(
        "| {n} endpoints ((2): cnm {n} containers with their resolvers; aardvark-dns {n} names) | {} | n/a | {} | n/a |",
        opt(at_n),
        opt(aardvark_n),
        n = sz.n
    ));
    rep.line(&format!(
        "| one container publishing {big} ports ((4)) | {} | n/a | n/a (not involved in ports) | n/a |",
        opt(with_ports)
    ));
    rep.line("");
    rep.line(
        "netavark and the CNI plugins run once per setup/teardown and exit; the state they create is \
         kernel memory (links, iptables rules), not counted in any process. cnm's figure at N includes \
         every container's embedded resolver (in the daemon) and its store.",
    );
}
