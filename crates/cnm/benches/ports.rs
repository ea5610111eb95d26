//! Published-port benchmarks through the API, in a world of their own (same harness as the end-to-end
//! tests): what publishing 1000 and 10,000 ports adds to an attach, how 100 containers with one port each
//! scale, daemon RSS per published port, and TCP throughput through a published port (iperf3) against
//! container-to-container throughput in the same run.
//!
//! Run: `cargo bench -p cnm --bench ports` (root). `CNM_BENCH_ROUNDS` (default 10) sets the rounds; the
//! variants are interleaved within each round. The `PortBindings`-only variants are the history's;
//! the last one is the body `docker run -p 10000-19999:10000-19999` sends (with `ExposedPorts`).
//! The exec-root is a tmpfs, as `/run/cnm` is on a host: on the test machine's disk, each start's runtime
//! files and namespace mounts cost more with every container (first 10 → last 10 of the 100: 0.2 → 2.1 ms
//! for the files alone), which a host does not pay. `CNM_BENCH_READY=N` runs the daemon with
//! `--ready-endpoints N`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "measure.rs"]
mod measure;

use measure::{loadavg, rss_kb, server_timing};

use std::time::{Duration, Instant};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

/// Create and start a container with `bindings` (a `PortBindings` JSON object); returns its id and the
/// attach time without the process start (client total minus the server's process time).
fn attach(w: &common::World, name: &str, cmd: &str, bindings: &str) -> (String, Duration) {
    attach_body(
        w,
        name,
        &format!(
            r#"{{"Cmd":{cmd},"HostConfig":{{"NetworkMode":"bench","PortBindings":{bindings}}}}}"#
        ),
    )
}

/// [`attach`] with a whole create body.
fn attach_body(w: &common::World, name: &str, body: &str) -> (String, Duration) {
    let t = Instant::now();
    let (st, resp) = w.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(body),
    );
    assert_eq!(st, 201, "{resp}");
    let v: serde_json::Value = serde_json::from_str(&resp).expect("json");
    let id = v["Id"].as_str().expect("id").to_string();
    let (st, head, resp) = w.http_full("POST", &format!("/containers/{id}/start"), None);
    let total = t.elapsed();
    assert_eq!(st, 204, "{resp}");
    (id, total.saturating_sub(server_timing(&head, "process")))
}

fn remove(w: &common::World, id: &str) {
    let (st, _) = w.http("DELETE", &format!("/containers/{id}?force=1"), None);
    assert_eq!(st, 204);
}

/// `{"P/tcp":[{"HostPort":"H"}], …}` for host ports `h0..h0+n` → container ports `c0..c0+n`.
fn range(h0: u32, c0: u32, n: u32) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#""{}/tcp":[{{"HostIp":"","HostPort":"{}"}}]"#,
                c0 + i,
                h0 + i
            )
        })
        .collect();
    format!("{{{}}}", items.join(","))
}

/// `Config.ExposedPorts` as the docker CLI sends it with `-p`: every container port of the range.
fn exposed(c0: u32, n: u32) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#""{}/tcp":{{}}"#, c0 + i))
        .collect();
    format!("{{{}}}", items.join(","))
}

fn iperf_bps(out: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(out).expect("iperf3 JSON");
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("bits_per_second")
}

fn main() {
    let rounds: usize = std::env::var("CNM_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut w = common::World::new_with_tmpfs_run();
    // `CNM_BENCH_READY=N` runs the daemon with `--ready-endpoints N` (what they cost or save here).
    if let Ok(n) = std::env::var("CNM_BENCH_READY") {
        w.stop_daemon(nix::sys::signal::Signal::SIGTERM);
        w.start_daemon(&["--ready-endpoints", &n]);
        println!("(daemon with --ready-endpoints {n})");
    }
    w.cnm(&["network", "create", "--subnet", "10.201.0.0/16", "bench"])
        .ok();
    let sleep = r#"["sleep","100000"]"#;

    // (1) publishing over an attach without ports, interleaved.
    let variants: [(&str, String); 4] = [
        ("no ports", "{}".into()),
        (
            "1000 ports, same host and container ports",
            range(20000, 20000, 1000),
        ),
        ("1000 ports, translated", range(40000, 20000, 1000)),
        (
            "10,000 ports, same host and container ports",
            range(10000, 10000, 10000),
        ),
    ];
    // The docker CLI's body for `docker run -p 10000-19999:10000-19999`: `ExposedPorts` too.
    let cli_body = format!(
        r#"{{"Cmd":{sleep},"ExposedPorts":{},"HostConfig":{{"NetworkMode":"bench","PortBindings":{}}}}}"#,
        exposed(10000, 10000),
        range(10000, 10000, 10000)
    );
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len() + 1];
    for r in 0..rounds {
        let (id, d) = attach_body(&w, &format!("p{r}-cli"), &cli_body);
        times[variants.len()].push(ms(d));
        remove(&w, &id);
        for (i, (_, b)) in variants.iter().enumerate() {
            let (id, d) = attach(&w, &format!("p{r}-{i}"), sleep, b);
            if i == 3 && r == 0 {
                // Correctness: the last port of the big range is programmed.
                let rules = w.sh("nft list map ip cnm dnat-any-same").ok().stdout;
                assert!(
                    rules.contains("10000-19999"),
                    "range not programmed: {rules}"
                );
            }
            times[i].push(ms(d));
            remove(&w, &id);
        }
    }

    // (3) RSS per published port: one container holding 10,000, measured against the daemon right after
    // the same container came and went once, so that what the first such start makes once for good (a
    // blocking-pool thread and its stack, the healer's read buffers, the allocator's arenas) is in both.
    let pid = w.daemon_pid();
    let (warm, _) = attach(&w, "warm", sleep, &range(10000, 10000, 10000));
    remove(&w, &warm);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kb(pid);
    let (big, _) = attach(&w, "big", sleep, &range(10000, 10000, 10000));
    let after = rss_kb(pid);
    remove(&w, &big);

    // (2) 100 containers with one published port each, each answering on it.
    let www = w.path("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("index.html"), "ok\n").expect("index");
    let httpd = format!(
        r#"["busybox","httpd","-f","-p","80","-h","{}"]"#,
        www.display()
    );
    let mut per = Vec::new();
    let mut ids = Vec::new();
    for i in 0..100u32 {
        let b = format!(
            r#"{{"80/tcp":[{{"HostIp":"","HostPort":"{}"}}]}}"#,
            31000 + i
        );
        let (id, d) = attach(&w, &format!("one{i}"), &httpd, &b);
        per.push(ms(d));
        ids.push(id);
    }
    std::thread::sleep(Duration::from_millis(300));
    for i in (0..100u32).step_by(9) {
        w.sh(&format!(
            "curl -sf -m 2 http://127.0.0.1:{}/ >/dev/null",
            31000 + i
        ))
        .ok();
    }
    for id in &ids {
        remove(&w, id);
    }

    // (4) throughput: container to container, and through a published port (DNAT) from another container.
    let (srv, _) = attach(
        &w,
        "iperf-srv",
        r#"["iperf3","-s","-p","5201"]"#,
        r#"{"5201/tcp":[{"HostIp":"","HostPort":"15201"}]}"#,
    );
    std::thread::sleep(Duration::from_millis(300));
    let srv_ip = w.ip("iperf-srv", "bench");
    let gw = "10.201.0.1";
    let mut direct = Vec::new();
    let mut dnat = Vec::new();
    for _ in 0..3 {
        for (target, port, out) in [
            (&srv_ip as &str, "5201", &mut direct),
            (gw, "15201", &mut dnat),
        ] {
            let o = w
                .cnm(&[
                    "run",
                    "--rm",
                    "--network",
                    "bench",
                    "--",
                    "iperf3",
                    "-c",
                    target,
                    "-p",
                    port,
                    "-t",
                    "3",
                    "-J",
                ])
                .ok();
            out.push(iperf_bps(&o.stdout) / 1e9);
        }
    }
    remove(&w, &srv);

    println!(
        "cnm published-port benchmark, {rounds} rounds, loadavg {}",
        loadavg()
    );
    println!("| attach (create + start minus process start) | min ms | median ms | max ms | median over no ports |");
    println!("|---|---|---|---|---|");
    let base = stats(&times[0]).1;
    let labels = variants
        .iter()
        .map(|(l, _)| *l)
        .chain(["10,000 ports as the docker CLI sends them (with ExposedPorts)"]);
    for (label, t) in labels.zip(&times) {
        let (lo, mid, hi) = stats(t);
        println!(
            "| {label} | {lo:.2} | {mid:.2} | {hi:.2} | +{:.2} ms |",
            mid - base
        );
    }
    let first: f64 = per[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = per[90..].iter().sum::<f64>() / 10.0;
    println!();
    println!(
        "100 containers with one published port each: first 10 mean {first:.2} ms, last 10 mean {last:.2} ms, ratio {:.2}",
        last / first
    );
    println!(
        "daemon RSS: {before} kB before, {after} kB holding 10,000 published ports ({:.1} bytes per port)",
        (after.saturating_sub(before) * 1024) as f64 / 10000.0
    );
    let (dl, dm, dh) = stats(&direct);
    let (nl, nm, nh) = stats(&dnat);
    println!("iperf3 container → container: {dl:.2}/{dm:.2}/{dh:.2} Gbit/s (min/median/max)");
    println!("iperf3 container → published port (DNAT): {nl:.2}/{nm:.2}/{nh:.2} Gbit/s; median ratio {:.2}", nm / dm);
}
