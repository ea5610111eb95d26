//! Scenario (6): DNS queries/s and latency, cnm's embedded resolver against aardvark-dns.

use crate::*;

/// One side of (6): label, the client container, the server address, the names, their containers.
type DnsSide<'a> = (&'a str, &'a Ep, &'a str, &'a [String], &'a [Ep]);

/// (6) DNS: cnm's embedded resolver (127.0.0.11 in the container) against aardvark-dns started by
/// netavark (the bridge gateway), the same number of names, the client in a container of each.
/// Returns aardvark-dns's RSS serving those names.
pub(crate) fn scenario_dns(
    p: &mut Peers,
    sz: &Sizes,
    rep: &mut Report,
    tg: &mut Targets,
) -> Option<u64> {
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
                    dnsbench::Client::Normal,
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
