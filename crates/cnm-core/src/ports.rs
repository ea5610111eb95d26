//! Published ports: what a container asks for (`-p`, Docker's `HostConfig.PortBindings`) and what it
//! got (concrete host ports, programmed on the sandbox's gateway endpoint).
//!
//! Requests are parsed once, at the API edge, into [`PortRequest`]s; the controller turns them into
//! [`PortMapping`]s when the sandbox is built (random ports chosen, host ports reserved).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    pub fn parse(s: &str) -> Option<Proto> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One binding a container asks for: container port `ctr_port/proto` on host `host_ip` (None = every
/// address, IPv4 and IPv6) at a host port taken from `host_ports` (None = a free ephemeral port).
///
/// A *run* (`count > 1`) is `count` consecutive container ports from `ctr_port`, each published on the
/// next host port from `host_ports.0` (then `host_ports` is exactly `count` long). The docker CLI sends
/// one `PortBindings` key per port of a `-p` range; the API edge folds them back into runs
/// ([`requests_from_bindings`]) so a 10,000-port range is one request, one record entry, one held
/// reservation and one map element, and is expanded per port only where Docker's JSON shows each port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    pub proto: Proto,
    pub ctr_port: u16,
    /// Ports in the run; records written before runs existed have none (one port).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u16,
    pub host_ip: Option<IpAddr>,
    /// Inclusive range; a single port is `(p, p)`.
    pub host_ports: Option<(u16, u16)>,
    /// The `HostIp`/`HostPort` strings as sent, echoed by `HostConfig.PortBindings`. For a run the host
    /// port string of each port is its number (only canonical numbers are folded into runs).
    pub echo_host_ip: String,
    pub echo_host_port: String,
}

fn one() -> u16 {
    1
}

fn is_one(n: &u16) -> bool {
    *n == 1
}

impl PortRequest {
    /// The echoed `(key, HostIp, HostPort)` of every port of the request, in port order.
    pub fn echo(&self) -> impl Iterator<Item = (String, &str, String)> + '_ {
        (0..self.count).map(move |i| {
            let port = match self.host_ports {
                Some((h, _)) if self.count > 1 => (h + i).to_string(),
                _ => self.echo_host_port.clone(),
            };
            (
                format!("{}/{}", self.ctr_port + i, self.proto),
                self.echo_host_ip.as_str(),
                port,
            )
        })
    }
}

/// One published port, or a run of them, as programmed: `host_ip:host_port+i/proto` →
/// `ctr_ip:ctr_port+i` for `i` in `0..count`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub proto: Proto,
    /// None: every host address of the mapping's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub ctr_ip: IpAddr,
    pub ctr_port: u16,
    /// Ports in the run; records written before runs existed have none (one port).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u16,
}

impl PortMapping {
    pub fn is_ipv6(&self) -> bool {
        self.ctr_ip.is_ipv6()
    }

    /// The address Docker shows for it: `0.0.0.0`, `::` or the bound one.
    pub fn shown_host_ip(&self) -> String {
        match self.host_ip {
            Some(ip) => ip.to_string(),
            None if self.is_ipv6() => "::".into(),
            None => "0.0.0.0".into(),
        }
    }

    /// Last host port of the run (inclusive).
    pub fn last_host_port(&self) -> u16 {
        self.host_port + (self.count.max(1) - 1)
    }

    /// Each port of the run as `(host_port, ctr_port)`: the API output edge.
    pub fn each(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.count.max(1)).map(move |i| (self.host_port + i, self.ctr_port + i))
    }
}

/// The ports a sandbox holds and has programmed (on its gateway endpoint's addresses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishedPorts {
    /// Host port chosen per request (index into the container's requests; the first port of a run),
    /// kept when the gateway moves.
    pub host_ports: Vec<u16>,
    pub mappings: Vec<PortMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortSpecError(pub String);

fn parse_port(s: &str, what: &str) -> Result<u16, PortSpecError> {
    match s.parse::<u16>() {
        Ok(p) => Ok(p),
        Err(_) => Err(PortSpecError(format!("invalid {what}: {s}"))),
    }
}

/// `A` or `A-B` (inclusive); `what` names it in errors.
pub fn parse_range(s: &str, what: &str) -> Result<(u16, u16), PortSpecError> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (parse_port(a, what)?, parse_port(b, what)?),
        None => {
            let p = parse_port(s, what)?;
            (p, p)
        }
    };
    if b < a {
        return Err(PortSpecError(format!("invalid {what}: {s}")));
    }
    Ok((a, b))
}

/// The `HostConfig.PortBindings` entries the docker CLI sends for one `-p` flag:
/// `[hostIP:][hostPort[-end]:]containerPort[-end][/proto]`. Keys are `port/proto`.
pub fn parse_publish(spec: &str) -> Result<Vec<(String, String, String)>, PortSpecError> {
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, p),
        None => (spec, "tcp"),
    };
    let proto =
        Proto::parse(proto).ok_or_else(|| PortSpecError(format!("invalid proto: {proto}")))?;
    // An IPv6 host address is written in brackets: `[::1]:8080:80`.
    let (host_ip, rest) = if let Some(r) = body.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| PortSpecError(format!("invalid IP address in {spec}")))?;
        (ip.to_string(), rest.to_string())
    } else {
        let parts: Vec<&str> = body.split(':').collect();
        match parts.len() {
            1 => (String::new(), parts[0].to_string()),
            2 => (String::new(), body.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => {
                return Err(PortSpecError(format!(
                    "invalid port specification: \"{spec}\""
                )))
            }
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(PortSpecError(format!("invalid IP address: {host_ip}")));
    }
    let (host_port, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest.clone()),
    };
    if ctr.is_empty() {
        return Err(PortSpecError(format!("no port specified: {spec}<empty>")));
    }
    let (c0, c1) = parse_range(&ctr, "containerPort")?;
    let host = if host_port.is_empty() {
        None
    } else {
        Some(parse_range(&host_port, "hostPort")?)
    };
    let n = u32::from(c1 - c0) + 1;
    let mut out = Vec::with_capacity(n as usize);
    match host {
        // One container port, a host range to pick from: kept as a range.
        Some((h0, h1)) if c0 == c1 => {
            let hp = if h0 == h1 {
                h0.to_string()
            } else {
                format!("{h0}-{h1}")
            };
            out.push((format!("{c0}/{proto}"), host_ip.clone(), hp));
        }
        Some((h0, h1)) => {
            if u32::from(h1 - h0) + 1 != n {
                return Err(PortSpecError(format!(
                    "invalid ranges specified for container and host Ports: {ctr} and {host_port}"
                )));
            }
            for i in 0..n as u16 {
                out.push((
                    format!("{}/{proto}", c0 + i),
                    host_ip.clone(),
                    (h0 + i).to_string(),
                ));
            }
        }
        None => {
            for i in 0..n as u16 {
                out.push((
                    format!("{}/{proto}", c0 + i),
                    host_ip.clone(),
                    String::new(),
                ));
            }
        }
    }
    Ok(out)
}

/// The container-port side of a [`BindingRun`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKey<'a> {
    /// `port/proto` and the keys after it, parsed already.
    Port(Proto, u16),
    /// A key as sent (`80`, `80/TCP`, `x/tcp`), parsed (and refused) here.
    Raw(&'a str),
}

/// `count` consecutive keys' entries at position `pos` of each key's list of `HostConfig.PortBindings`,
/// bound to `host_ip` and consecutive host ports from `host_port`; a single entry (`count == 1`) has
/// its strings as sent. The API edge folds runs as the request streams by; a run longer than one
/// must be a plain run (a [`BindingKey::Port`] and a plain host port number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingRun<'a> {
    pub key: BindingKey<'a>,
    pub pos: usize,
    pub count: u16,
    pub host_ip: &'a str,
    pub host_port: &'a str,
}

/// Docker's `HostConfig.PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) as
/// typed requests: each key's entries as [`BindingRun`]s of one, through [`requests_from_runs`].
pub fn requests_from_bindings(
    bindings: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<PortRequest>, PortSpecError> {
    const EMPTY: &[(String, String)] = &[(String::new(), String::new())];
    let mut runs = Vec::with_capacity(bindings.len());
    for (key, entries) in bindings {
        let entries: &[(String, String)] = if entries.is_empty() { EMPTY } else { entries };
        for (pos, (hip, hport)) in entries.iter().enumerate() {
            runs.push(BindingRun {
                key: BindingKey::Raw(key),
                pos,
                count: 1,
                host_ip: hip,
                host_port: hport,
            });
        }
    }
    requests_from_runs(&runs)
}

/// Runs of `HostConfig.PortBindings` entries as typed requests.
///
/// Entries with a fixed host port written as a plain number (what the docker CLI sends for each port of
/// `-p 40000-40999:20000-20999`) are folded into runs: same entry position within their key, protocol
/// and host address, consecutive container ports to consecutive host ports (runs that arrive split,
/// e.g. where the keys' byte order leaves their numeric order at `9999/tcp` → `10000/tcp`, are joined
/// here). The others (random ports, a host range to pick from) stay one request each, after the runs of
/// the same entry position and in key order, so a random pick never takes a port a fixed request of the
/// same container needs. Entries of one key keep their order, which is all `HostConfig.PortBindings`
/// echoes (its keys are sorted).
pub fn requests_from_runs(runs: &[BindingRun<'_>]) -> Result<Vec<PortRequest>, PortSpecError> {
    // Borrowed until folded: a run arrives as one entry here and leaves as one owned request.
    struct Entry<'a> {
        pos: usize,
        fixed: bool,
        proto: Proto,
        ctr_port: u16,
        count: u16,
        host_ip: Option<IpAddr>,
        host_ports: Option<(u16, u16)>,
        key: BindingKey<'a>,
        hip: &'a str,
        hport: &'a str,
    }
    let mut all: Vec<Entry<'_>> = Vec::with_capacity(runs.len());
    for run in runs {
        let (proto, ctr_port) = match run.key {
            BindingKey::Port(proto, p) => (proto, p),
            BindingKey::Raw(key) => {
                let (port, proto) = match key.split_once('/') {
                    Some((p, pr)) => (p, pr),
                    None => (key, "tcp"),
                };
                let proto = Proto::parse(proto)
                    .ok_or_else(|| PortSpecError(format!("invalid proto: {proto}")))?;
                let ctr_port = parse_port(port, "containerPort")?;
                if ctr_port == 0 {
                    return Err(PortSpecError(format!("invalid containerPort: {port}")));
                }
                (proto, ctr_port)
            }
        };
        if ctr_port == 0 {
            return Err(PortSpecError(format!("invalid containerPort: {ctr_port}")));
        }
        let (hip, hport) = (run.host_ip, run.host_port);
        let host_ip = if hip.is_empty() {
            None
        } else {
            // An explicit 0.0.0.0 or :: is every address of that family only.
            Some(
                hip.parse::<IpAddr>()
                    .map_err(|_| PortSpecError(format!("invalid IP address: {hip}")))?,
            )
        };
        let mut host_ports = match hport {
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
        let count = run.count.max(1);
        if count > 1 {
            // Only a plain run is longer than one; its ports must all exist.
            let plain = fixed && matches!(run.key, BindingKey::Port(..));
            let fits = |first: u16| u32::from(first) + u32::from(count) - 1 <= u32::from(u16::MAX);
            match host_ports {
                Some((h, _)) if plain && fits(h) && fits(ctr_port) => {
                    host_ports = Some((h, h + (count - 1)));
                }
                _ => {
                    return Err(PortSpecError(format!(
                        "invalid port run: {count} ports from {ctr_port}/{proto} to {hport}"
                    )))
                }
            }
        }
        all.push(Entry {
            pos: run.pos,
            fixed,
            proto,
            ctr_port,
            count,
            host_ip,
            host_ports,
            key: run.key,
            hip,
            hport,
        });
    }
    // The others keep key order within their entry position, as a map of keys would give them.
    all.sort_by(|x, y| {
        (x.pos, !x.fixed).cmp(&(y.pos, !y.fixed)).then_with(|| {
            if x.fixed && y.fixed {
                (x.proto, x.hip, x.ctr_port).cmp(&(y.proto, y.hip, y.ctr_port))
            } else {
                key_bytes(&x.key, &mut [0; 16]).cmp(key_bytes(&y.key, &mut [0; 16]))
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
                && u32::from(prev.count) + u32::from(e.count) <= u32::from(u16::MAX)
                && u32::from(prev.ctr_port) + u32::from(prev.count) == u32::from(e.ctr_port)
                && matches!((prev.host_ports, e.host_ports), (Some((p0, _)), Some((h, _)))
                    if u32::from(p0) + u32::from(prev.count) == u32::from(h));
            if follows {
                prev.count += e.count;
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
            // For a run, the first port's number (each port of a run echoes its own).
            echo_host_port: e.hport.to_string(),
        })
        .collect())
}

/// The key's text as sent (`80/tcp` for a parsed one), for ordering: written into `buf` when parsed.
fn key_bytes<'a>(key: &BindingKey<'a>, buf: &'a mut [u8; 16]) -> &'a [u8] {
    match *key {
        BindingKey::Raw(k) => k.as_bytes(),
        BindingKey::Port(proto, p) => {
            use std::io::Write;
            let mut w = std::io::Cursor::new(&mut buf[..]);
            // "65535/sctp" is 10 bytes: always fits.
            let _ = write!(w, "{p}/{proto}");
            let n = usize::try_from(w.position()).unwrap_or(0);
            &buf[..n]
        }
    }
}

/// `Config.ExposedPorts` keys (`80/tcp`, already normalised), sorted and deduplicated, with runs of
/// consecutive ports of one protocol kept as one `first-last/proto` entry (the record stays small for a
/// 10,000-port range). Keys that are not a plain port number stay as they are.
pub fn fold_exposed(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    fold_exposed_runs(Vec::new(), keys)
}

/// [`fold_exposed`] of `runs` (`(proto, first, last)`, inclusive, in any order, overlapping or not)
/// and `keys`, without a string per port of the runs.
pub fn fold_exposed_runs(
    mut runs: Vec<(Proto, u16, u16)>,
    keys: impl IntoIterator<Item = String>,
) -> Vec<String> {
    let mut other: Vec<String> = Vec::new();
    for k in keys {
        let parsed = k.split_once('/').and_then(|(p, pr)| {
            let n = p.parse::<u16>().ok().filter(|n| n.to_string() == p)?;
            Some((Proto::parse(pr).filter(|x| x.as_str() == pr)?, n))
        });
        match parsed {
            Some((proto, n)) => runs.push((proto, n, n)),
            None => other.push(k),
        }
    }
    runs.sort_unstable();
    runs.dedup();
    let mut merged: Vec<(Proto, u16, u16)> = Vec::new();
    for (proto, a, b) in runs {
        match merged.last_mut() {
            Some((lp, _, lb)) if *lp == proto && u32::from(*lb) + 1 >= u32::from(a) => {
                *lb = (*lb).max(b);
            }
            _ => merged.push((proto, a, b)),
        }
    }
    other.sort();
    other.dedup();
    merged
        .into_iter()
        .map(|(proto, a, b)| {
            if a == b {
                format!("{a}/{proto}")
            } else {
                format!("{a}-{b}/{proto}")
            }
        })
        .chain(other)
        .collect()
}

/// The keys of one [`fold_exposed`] entry, one per port (the API output edge).
pub fn expand_exposed(entry: &str) -> Vec<String> {
    let ranged = entry.split_once('/').and_then(|(p, proto)| {
        let (a, b) = p.split_once('-')?;
        let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
        (a < b).then_some((a, b, proto))
    });
    match ranged {
        Some((a, b, proto)) => (a..=b).map(|p| format!("{p}/{proto}")).collect(),
        None => vec![entry.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        v.iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn publish_specs_expand_like_the_docker_cli() {
        assert_eq!(
            parse_publish("8080:80").expect("ok"),
            b(&[("80/tcp", "", "8080")])
        );
        assert_eq!(parse_publish("80").expect("ok"), b(&[("80/tcp", "", "")]));
        assert_eq!(
            parse_publish("127.0.0.1:8081:80").expect("ok"),
            b(&[("80/tcp", "127.0.0.1", "8081")])
        );
        assert_eq!(
            parse_publish("127.0.0.1::80/udp").expect("ok"),
            b(&[("80/udp", "127.0.0.1", "")])
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").expect("ok"),
            b(&[("80/tcp", "::1", "8080")])
        );
        assert_eq!(
            parse_publish("8000-8001:9000-9001/sctp").expect("ok"),
            b(&[("9000/sctp", "", "8000"), ("9001/sctp", "", "8001")])
        );
        assert_eq!(
            parse_publish("8000-8010:80").expect("ok"),
            b(&[("80/tcp", "", "8000-8010")])
        );
        assert_eq!(parse_publish("7-8").expect("ok").len(), 2);
    }

    #[test]
    fn bad_publish_specs_are_refused() {
        for s in [
            "abc", "8080:", "1-2:3-5", "80/icmp", "x:80:80", "70000:80", "9-8:80", "1:2:3:4",
        ] {
            assert!(parse_publish(s).is_err(), "{s}");
        }
    }

    #[test]
    fn bindings_become_requests() {
        let mut m = BTreeMap::new();
        m.insert(
            "80/tcp".to_string(),
            vec![
                (String::new(), "8080".to_string()),
                ("127.0.0.1".to_string(), String::new()),
            ],
        );
        m.insert("53/udp".to_string(), vec![]);
        let r = requests_from_bindings(&m).expect("ok");
        assert_eq!(r.len(), 3);
        // Fixed host ports first, then the random ones of the same entry position, in key order.
        assert_eq!(r[0].host_ports, Some((8080, 8080)));
        assert_eq!(r[0].host_ip, None);
        assert_eq!(r[1].proto, Proto::Udp);
        assert_eq!(r[1].host_ports, None);
        assert_eq!(r[2].host_ip, Some("127.0.0.1".parse().expect("ip")));
        let mut bad = BTreeMap::new();
        bad.insert("x/tcp".to_string(), vec![]);
        assert!(requests_from_bindings(&bad).is_err());
    }

    fn bindings_of(specs: &[&str]) -> BTreeMap<String, Vec<(String, String)>> {
        let mut m: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for spec in specs {
            for (k, ip, port) in parse_publish(spec).expect("spec") {
                m.entry(k).or_default().push((ip, port));
            }
        }
        m
    }

    fn echoed(reqs: &[PortRequest]) -> BTreeMap<String, Vec<(String, String)>> {
        let mut m: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in reqs {
            for (k, ip, port) in r.echo() {
                m.entry(k).or_default().push((ip.to_string(), port));
            }
        }
        m
    }

    #[test]
    fn a_cli_range_is_one_request_and_echoes_every_port() {
        // Crosses a digit boundary: the keys' byte order is not their numeric order.
        let m = bindings_of(&[
            "9990-10009:19990-20009",
            "127.0.0.1:7000-7001:7000-7001/udp",
        ]);
        let r = requests_from_bindings(&m).expect("ok");
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            (r[0].proto, r[0].ctr_port, r[0].count),
            (Proto::Tcp, 19990, 20)
        );
        assert_eq!(r[0].host_ports, Some((9990, 10009)));
        assert_eq!((r[1].proto, r[1].count), (Proto::Udp, 2));
        assert_eq!(echoed(&r), m, "PortBindings echo must be what was sent");
    }

    type Shape = (u16, u16, Option<(u16, u16)>);

    #[test]
    fn runs_break_on_gaps_positions_and_odd_spellings() {
        let mut m = bindings_of(&["8000-8002:80-82", "127.0.0.1:9000-9002:80-82", "90"]);
        // A zero-padded host port is echoed as written, so it is not folded.
        m.insert("83/tcp".into(), vec![(String::new(), "08003".into())]);
        m.insert("85/tcp".into(), vec![(String::new(), "8005".into())]);
        let r = requests_from_bindings(&m).expect("ok");
        let shape: Vec<Shape> = r
            .iter()
            .map(|r| (r.ctr_port, r.count, r.host_ports))
            .collect();
        assert_eq!(
            shape,
            vec![
                (80, 3, Some((8000, 8002))),
                (85, 1, Some((8005, 8005))),
                (83, 1, Some((8003, 8003))),
                (90, 1, None),
                (80, 3, Some((9000, 9002))),
            ]
        );
        assert_eq!(echoed(&r), m);
    }

    #[test]
    fn exposed_ports_fold_and_expand() {
        let keys = ["81/tcp", "80/tcp", "82/tcp", "80/udp", "x/tcp", "80/tcp"].map(String::from);
        let f = fold_exposed(keys);
        assert_eq!(f, vec!["80-82/tcp", "80/udp", "x/tcp"]);
        let all: Vec<String> = f.iter().flat_map(|e| expand_exposed(e)).collect();
        assert_eq!(all, vec!["80/tcp", "81/tcp", "82/tcp", "80/udp", "x/tcp"]);
    }
}
