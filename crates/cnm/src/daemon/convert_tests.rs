//! The streaming `PortBindings` / `ExposedPorts` decoder against the decoder it replaced (a `Value`
//! tree, a map of keys, one entry per port, folded afterwards), on generated requests: odd key orders,
//! repeated keys, mixed protocols, host addresses, random ports, `-P`, odd spellings and bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use cnm_core::ports::{parse_range, PortRequest, PortSpecError, Proto};

use super::container_create;

/// The previous `requests_from_bindings`, kept verbatim as the reference.
#[allow(clippy::type_complexity)]
fn old_requests_from_bindings(
    bindings: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<PortRequest>, PortSpecError> {
    // Borrowed until folded: a 10,000-port range is 10,000 entries here but one owned request after.
    struct Entry<'a> {
        pos: usize,
        fixed: bool,
        proto: Proto,
        ctr_port: u16,
        count: u16,
        host_ip: Option<IpAddr>,
        host_ports: Option<(u16, u16)>,
        hip: &'a str,
        hport: &'a str,
    }
    let mut all: Vec<Entry<'_>> = Vec::with_capacity(bindings.len());
    const EMPTY: &[(String, String)] = &[(String::new(), String::new())];
    for (key, entries) in bindings {
        let (port, proto) = match key.split_once('/') {
            Some((p, pr)) => (p, pr),
            None => (key.as_str(), "tcp"),
        };
        let proto =
            Proto::parse(proto).ok_or_else(|| PortSpecError(format!("invalid proto: {proto}")))?;
        let ctr_port = port
            .parse::<u16>()
            .map_err(|_| PortSpecError(format!("invalid containerPort: {port}")))?;
        if ctr_port == 0 {
            return Err(PortSpecError(format!("invalid containerPort: {port}")));
        }
        let entries: &[(String, String)] = if entries.is_empty() { EMPTY } else { entries };
        for (pos, (hip, hport)) in entries.iter().enumerate() {
            let host_ip = if hip.is_empty() {
                None
            } else {
                // An explicit 0.0.0.0 or :: is every address of that family only.
                Some(
                    hip.parse::<IpAddr>()
                        .map_err(|_| PortSpecError(format!("invalid IP address: {hip}")))?,
                )
            };
            let host_ports = match hport.as_str() {
                "" | "0" => None,
                s => Some(parse_range(s, "hostPort")?),
            };
            if matches!(host_ports, Some((0, _))) {
                return Err(PortSpecError(format!("invalid hostPort: {hport}")));
            }
            // A plain number (no sign, no leading zero, no range): echoed exactly by its value.
            let fixed = matches!(host_ports, Some((a, b)) if a == b)
                && !hport.starts_with('0')
                && hport.bytes().all(|c| c.is_ascii_digit());
            all.push(Entry {
                pos,
                fixed,
                proto,
                ctr_port,
                count: 1,
                host_ip,
                host_ports,
                hip,
                hport,
            });
        }
    }
    // Stable: the others keep key order within their entry position.
    all.sort_by(|x, y| {
        (x.pos, !x.fixed).cmp(&(y.pos, !y.fixed)).then_with(|| {
            if x.fixed && y.fixed {
                (x.proto, x.hip, x.ctr_port).cmp(&(y.proto, y.hip, y.ctr_port))
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    let mut folded: Vec<Entry<'_>> = Vec::new();
    for e in all {
        if let Some(prev) = folded.last_mut() {
            let follows = prev.fixed
                && e.fixed
                && prev.pos == e.pos
                && prev.proto == e.proto
                && prev.hip == e.hip
                && prev.count < u16::MAX
                && u32::from(prev.ctr_port) + u32::from(prev.count) == u32::from(e.ctr_port)
                && matches!((prev.host_ports, e.host_ports), (Some((p0, _)), Some((h, _)))
                    if u32::from(p0) + u32::from(prev.count) == u32::from(h));
            if follows {
                prev.count += 1;
                if let Some((p0, _)) = prev.host_ports {
                    prev.host_ports = Some((p0, p0 + (prev.count - 1)));
                }
                continue;
            }
        }
        folded.push(e);
    }
    Ok(folded
        .into_iter()
        .map(|e| PortRequest {
            proto: e.proto,
            ctr_port: e.ctr_port,
            count: e.count,
            host_ip: e.host_ip,
            host_ports: e.host_ports,
            echo_host_ip: e.hip.to_string(),
            echo_host_port: e.hport.to_string(),
        })
        .collect())
}

/// The previous request path: JSON tree → `PortMap` → per-key map → requests, exposed keys as strings.
fn reference(body: &str) -> Result<(Vec<String>, Vec<PortRequest>), String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Hc {
        #[serde(rename = "PortBindings")]
        port_bindings: cnm_api::PortMap,
        #[serde(rename = "PublishAllPorts")]
        publish_all_ports: bool,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Req {
        #[serde(rename = "ExposedPorts")]
        exposed_ports: Option<BTreeMap<String, cnm_api::Empty>>,
        #[serde(rename = "HostConfig")]
        host_config: Hc,
    }
    let req: Req = cnm_api::from_value_go(v).map_err(|e| e.to_string())?;
    let hc = req.host_config;
    let exposed: BTreeSet<String> = req
        .exposed_ports
        .unwrap_or_default()
        .keys()
        .chain(hc.port_bindings.keys())
        .map(|k| super::port_key(k))
        .collect();
    let mut bindings: BTreeMap<String, Vec<(String, String)>> = hc
        .port_bindings
        .into_iter()
        .map(|(k, v)| {
            let entries = v
                .into_iter()
                .flatten()
                .map(|b| (b.host_ip, b.host_port))
                .collect();
            (k, entries)
        })
        .collect();
    if hc.publish_all_ports {
        let bound: BTreeSet<String> = bindings.keys().map(|b| super::port_key(b)).collect();
        for k in &exposed {
            if !bound.contains(k) {
                bindings.insert(k.clone(), Vec::new());
            }
        }
    }
    let exposed = cnm_core::ports::fold_exposed(exposed);
    let ports = old_requests_from_bindings(&bindings).map_err(|e| e.to_string())?;
    Ok((exposed, ports))
}

fn streaming(body: &str) -> Result<(Vec<String>, Vec<PortRequest>), String> {
    let req: cnm_api::ContainerCreateRequest =
        cnm_api::decode_json_body(body.as_bytes()).map_err(|e| e.message)?;
    let c = container_create(None, req).map_err(|e| e.message)?;
    Ok((c.exposed_ports, c.ports))
}

/// Every port of the requests as (proto, container port, address, echoed address, host ports).
type Port = (
    Proto,
    u16,
    Option<IpAddr>,
    String,
    Option<(u16, u16)>,
    String,
);

fn per_port(reqs: &[PortRequest]) -> Vec<Port> {
    let mut out: Vec<Port> = Vec::new();
    for r in reqs {
        for i in 0..r.count {
            let hp = match r.host_ports {
                Some((h, _)) if r.count > 1 => Some((h + i, h + i)),
                other => other,
            };
            let echo = if r.count > 1 {
                hp.map(|(h, _)| h.to_string()).unwrap_or_default()
            } else {
                r.echo_host_port.clone()
            };
            out.push((
                r.proto,
                r.ctr_port + i,
                r.host_ip,
                r.echo_host_ip.clone(),
                hp,
                echo,
            ));
        }
    }
    out
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

struct Body {
    json: String,
    /// Only Docker-spelled keys, each once: the requests must then be exactly the reference's.
    plain: bool,
}

/// A request body with 0–40 keys around a digit boundary (9995–10004) and low ports, of three
/// protocols, entries that follow each other (runs), random ports, host ranges, addresses, field
/// names in other cases, `null`s, repeated keys, odd spellings and (rarely) one bad value.
fn body(rng: &mut Rng, allow_bad: bool) -> Body {
    let mut plain = true;
    let mut keys: Vec<String> = Vec::new();
    let base: u16 = if rng.below(2) == 0 { 9995 } else { 80 };
    let proto = ["tcp", "udp", "sctp"];
    let n = rng.below(40);
    let offset: u16 = [0u16, 0, 100, 30000][rng.below(4)];
    let mut items: Vec<String> = Vec::new();
    let mut bad = false;
    for i in 0..n {
        let p = rng.pick(&proto);
        let port = base + (i as u16 % 12);
        let mut key = format!("{port}/{p}");
        match rng.below(25) {
            0 => {
                key = format!("{port}");
                plain = false;
            }
            1 => {
                key = format!("{port}/{}", p.to_uppercase());
                plain = false;
            }
            2 => {
                key = format!("0{port}/{p}");
                plain = false;
            }
            3 if allow_bad && !bad => {
                key = format!("{port}/icmp");
                bad = true;
            }
            _ => {}
        }
        if keys.contains(&key) {
            plain = false;
        }
        keys.push(key.clone());
        let ip = rng.pick(&["", "", "", "127.0.0.1", "::1", "0.0.0.0"]);
        let entries = rng.below(4);
        let value = match entries {
            0 => {
                plain = false;
                rng.pick(&["null", "[]"]).to_string()
            }
            _ => {
                let mut es = Vec::new();
                for e in 0..entries.min(2) {
                    let hp = match rng.below(12) {
                        0 => String::new(),
                        1 => "8000-8010".to_string(),
                        2 => format!("0{}", port + offset),
                        3 if allow_bad && !bad => {
                            bad = true;
                            "70000".to_string()
                        }
                        _ => (port + offset + 1000 * e as u16).to_string(),
                    };
                    let (fi, fp) = if rng.below(10) == 0 {
                        plain = false;
                        ("hostip", "HOSTPORT")
                    } else {
                        ("HostIp", "HostPort")
                    };
                    let ip_v = if rng.below(15) == 0 {
                        "null".to_string()
                    } else {
                        format!("{ip:?}")
                    };
                    es.push(format!(r#"{{"{fi}":{ip_v},"{fp}":{hp:?}}}"#));
                }
                format!("[{}]", es.join(","))
            }
        };
        items.push(format!("{key:?}:{value}"));
    }
    // Shuffle some of the time: the docker CLI sorts keys, other clients need not.
    if rng.below(2) == 0 {
        for i in (1..items.len()).rev() {
            let j = rng.below(i + 1);
            items.swap(i, j);
        }
    }
    let mut exposed: Vec<String> = Vec::new();
    for i in 0..rng.below(6) {
        exposed.push(format!(
            "{:?}:{{}}",
            format!("{}/{}", base + 20 + i as u16, rng.pick(&proto))
        ));
    }
    let publish_all = rng.below(4) == 0;
    Body {
        json: format!(
            r#"{{"ExposedPorts":{{{}}},"HostConfig":{{"PublishAllPorts":{publish_all},"PortBindings":{{{}}}}}}}"#,
            exposed.join(","),
            items.join(",")
        ),
        plain,
    }
}

#[test]
fn streaming_decoder_agrees_with_the_reference() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // What the generated bodies covered: refused, plain, with runs, with random ports.
    let mut seen = [0usize; 4];
    for round in 0..4000 {
        let b = body(&mut rng, round % 3 == 0);
        let want = reference(&b.json);
        let got = streaming(&b.json);
        match (&want, &got) {
            (Err(w), Err(g)) => {
                seen[0] += 1;
                assert_eq!(w, g, "error differs for {}", b.json);
            }
            (Ok((we, wp)), Ok((ge, gp))) => {
                seen[1] += usize::from(b.plain);
                seen[2] += usize::from(wp.iter().any(|r| r.count > 2));
                seen[3] += usize::from(wp.iter().any(|r| r.host_ports.is_none()));
                assert_eq!(we, ge, "exposed ports differ for {}", b.json);
                if b.plain {
                    assert_eq!(wp, gp, "requests differ for {}", b.json);
                } else {
                    // Odd spellings of one port tie in the fold's order; the ports are the same.
                    let (mut w, mut g) = (per_port(wp), per_port(gp));
                    w.sort();
                    g.sort();
                    assert_eq!(w, g, "ports differ for {}", b.json);
                }
            }
            _ => panic!("{want:?} vs {got:?} for {}", b.json),
        }
    }
    assert!(seen.iter().all(|&n| n > 100), "coverage {seen:?}");
}

#[test]
fn a_cli_range_is_one_request_whatever_the_key_order() {
    let keys: Vec<String> = (0..2000u16)
        .map(|i| {
            format!(
                r#""{}/tcp":[{{"HostIp":"","HostPort":"{}"}}]"#,
                9000 + i,
                41000 + i
            )
        })
        .collect();
    // Sorted as Go writes them (byte order: 10000… before 9000…), and reversed.
    let mut sorted = keys.clone();
    sorted.sort();
    for order in [keys.clone(), sorted, keys.iter().rev().cloned().collect()] {
        let body = format!(
            r#"{{"HostConfig":{{"PortBindings":{{{}}}}}}}"#,
            order.join(",")
        );
        let (exposed, reqs) = streaming(&body).expect("decode");
        assert_eq!(exposed, vec!["9000-10999/tcp"]);
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        assert_eq!(
            (reqs[0].ctr_port, reqs[0].count, reqs[0].host_ports),
            (9000, 2000, Some((41000, 42999)))
        );
    }
}

#[test]
fn a_repeated_key_replaces_its_first_binding_inside_a_run() {
    // 80–84 → 8080–8084, then 82 again → 9999: Go keeps the last value of a repeated key.
    let body = r#"{"HostConfig":{"PortBindings":{
        "80/tcp":[{"HostPort":"8080"}],"81/tcp":[{"HostPort":"8081"}],"82/tcp":[{"HostPort":"8082"}],
        "83/tcp":[{"HostPort":"8083"}],"84/tcp":[{"HostPort":"8084"}],"82/tcp":[{"HostPort":"9999"}]}}}"#;
    let (_, reqs) = streaming(body).expect("decode");
    type Shape = (u16, u16, Option<(u16, u16)>);
    let shape: Vec<Shape> = reqs
        .iter()
        .map(|r| (r.ctr_port, r.count, r.host_ports))
        .collect();
    assert_eq!(
        shape,
        vec![
            (80, 2, Some((8080, 8081))),
            (82, 1, Some((9999, 9999))),
            (83, 2, Some((8083, 8084)))
        ]
    );
    assert_eq!(reference(body).expect("reference").1, reqs);
}

#[test]
fn bad_bindings_keep_dockers_messages() {
    for (bindings, message) in [
        (r#"{"80/icmp":[{"HostPort":"1"}]}"#, "invalid proto: icmp"),
        (r#"{"x/tcp":[]}"#, "invalid containerPort: x"),
        (r#"{"0/tcp":[]}"#, "invalid containerPort: 0"),
        (
            r#"{"80/tcp":[{"HostPort":"70000"}]}"#,
            "invalid hostPort: 70000",
        ),
        (
            r#"{"80/tcp":[{"HostPort":"9-8"}]}"#,
            "invalid hostPort: 9-8",
        ),
        (
            r#"{"80/tcp":[{"HostIp":"1.2.3","HostPort":"1"}]}"#,
            "invalid IP address: 1.2.3",
        ),
        (
            r#"{"80/tcp":[{"HostPort":8080}]}"#,
            "invalid type: integer `8080`, expected a string",
        ),
        (
            r#"{"80/tcp":{"HostPort":"1"}}"#,
            "invalid type: map, expected a sequence",
        ),
        (r#"["80/tcp"]"#, "invalid type: sequence, expected a map"),
    ] {
        let body = format!(r#"{{"HostConfig":{{"PortBindings":{bindings}}}}}"#);
        assert_eq!(streaming(&body).expect_err(bindings), message, "{bindings}");
        assert_eq!(reference(&body).expect_err(bindings), message, "{bindings}");
    }
}

// The `until` prune filter, with `until` as `parse_go_time` makes it from a duration.

/// `created_by` of a network made at `created`, pruned with `until=<dur>` at `now` (both unix
/// seconds and milliseconds).
fn pruned_by_duration(created: (u64, u32), now: (i64, u32), dur: &str) -> bool {
    let now = cnm_api::GoTime::from_unix(now.0, now.1 * 1_000_000)
        .to_system_time()
        .expect("now");
    let until = cnm_api::parse_go_time(dur, now).expect("until");
    let ns = u128::from(created.0) * 1_000_000_000 + u128::from(created.1) * 1_000_000;
    super::created_by(ns, until)
}

#[test]
fn until_is_whole_seconds_so_old_enough_takes_up_to_one_more_second() {
    // Created at .115, pruned 1.8 s later with until=1s: until is now − 1 s rounded down to the second,
    // 1800000000.000, before the creation, so the network stays (moby does the same). This is how
    // the docker_cli prune test failed when it slept only 1.5 s.
    assert!(!pruned_by_duration(
        (1_800_000_000, 115),
        (1_800_000_001, 915),
        "1s"
    ));
    // Created late in its second, the same 1.8 s is enough.
    assert!(pruned_by_duration(
        (1_800_000_000, 900),
        (1_800_000_002, 700),
        "1s"
    ));
    // Two seconds are always enough: until = ⌊now − 1 s⌋ > now − 2 s ≥ created.
    for ms in [0, 1, 115, 500, 999] {
        assert!(pruned_by_duration(
            (1_800_000_000, ms),
            (1_800_000_002, ms),
            "1s"
        ));
    }
}

#[test]
fn until_takes_what_was_created_at_that_very_instant() {
    // moby keeps only what `Created().After(until)`.
    assert!(pruned_by_duration(
        (1_800_000_000, 0),
        (1_800_000_001, 0),
        "1s"
    ));
    assert!(!pruned_by_duration(
        (1_800_000_000, 1),
        (1_800_000_001, 0),
        "1s"
    ));
    let until = cnm_api::GoTime::from_unix(1_800_000_000, 5);
    assert!(super::created_by(1_800_000_000_000_000_005, until));
    assert!(!super::created_by(1_800_000_000_000_000_006, until));
}
