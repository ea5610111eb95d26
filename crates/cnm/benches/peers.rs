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

#[path = "peers/attach.rs"]
mod attach;
#[path = "peers/dns.rs"]
mod dns;
#[path = "peers/ports.rs"]
mod ports;
#[path = "peers/throughput.rs"]
mod throughput;

use attach::{scenario_attach, scenario_network, scenario_parallel, scenario_scaling};
use dns::scenario_dns;
use ports::{scenario_port_each, scenario_ports};
use throughput::scenario_iperf;

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
            // The host end is found by the peer index of the endpoint's eth0 (`eth0@ifN`): /sys
            // would show the namespace that mounted it, not the endpoint's.
            let diag = p.w.sh(&format!(
                "echo '# neighbour'; ip neigh show {ip}
                 echo '# endpoint'; nsenter --net={ns} ip -br addr; nsenter --net={ns} ip route
                 nsenter --net={ns} ip neigh; nsenter --net={ns} ip -s -o link show eth0
                 echo '# host end'
                 peer=$(nsenter --net={ns} ip -o link show eth0 | sed -n 's/.*@if\\([0-9]*\\):.*/\\1/p')
                 mac=$(nsenter --net={ns} ip -o link show eth0 | sed -n 's/.*link.ether \\([0-9a-f:]*\\).*/\\1/p')
                 ip -d -s -o link | grep \"^$peer:\"; bridge -d link show | grep \"^$peer:\"
                 echo \"# fdb entries for $mac\"; bridge fdb show | grep -i \"$mac\"
                 echo \"# route\"; ip -4 route get {ip}; echo \"# arp_cache\"; cat /proc/net/stat/arp_cache | head -2; ip -4 neigh | wc -l
                 echo '# retry'; ping -c3 -W5 {ip}",
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
