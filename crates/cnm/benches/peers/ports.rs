//! Scenarios (4) one container publishing a range and (5) one published port per container.

use crate::attach::Growth;
use crate::*;

/// An address of the host namespace that belongs to none of the systems under test: published ports
/// are reached through it, as a client on the host would reach them.
pub(crate) const HOST_ADDR: &str = "10.204.0.1";

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
pub(crate) fn scenario_ports(p: &mut Peers, sz: &Sizes, rep: &mut Report, tg: &mut Targets) -> u64 {
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
pub(crate) fn scenario_port_each(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
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
