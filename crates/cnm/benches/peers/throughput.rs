//! Scenario (9): iperf3 throughput, container to container and through a published port.

use crate::ports::HOST_ADDR;
use crate::*;

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
pub(crate) fn scenario_iperf(p: &mut Peers, sz: &Sizes, rep: &mut Report) {
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
