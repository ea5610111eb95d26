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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    pub proto: Proto,
    pub ctr_port: u16,
    pub host_ip: Option<IpAddr>,
    /// Inclusive range; a single port is `(p, p)`.
    pub host_ports: Option<(u16, u16)>,
    /// The `HostIp`/`HostPort` strings as sent, echoed by `HostConfig.PortBindings`.
    pub echo_host_ip: String,
    pub echo_host_port: String,
}

/// One published port as programmed: `host_ip:host_port/proto` → `ctr_ip:ctr_port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub proto: Proto,
    /// None: every host address of the mapping's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub ctr_ip: IpAddr,
    pub ctr_port: u16,
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
}

/// The ports a sandbox holds and has programmed (on its gateway endpoint's addresses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublishedPorts {
    /// Host ports chosen per request (index into the container's requests), kept when the gateway moves.
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

/// Docker's `HostConfig.PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`) as
/// typed requests, in key order then entry order.
pub fn requests_from_bindings(
    bindings: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<PortRequest>, PortSpecError> {
    let mut out = Vec::new();
    for (key, entries) in bindings {
        let (port, proto) = match key.split_once('/') {
            Some((p, pr)) => (p, pr),
            None => (key.as_str(), "tcp"),
        };
        let proto =
            Proto::parse(proto).ok_or_else(|| PortSpecError(format!("invalid proto: {proto}")))?;
        let ctr_port = parse_port(port, "containerPort")?;
        if ctr_port == 0 {
            return Err(PortSpecError(format!("invalid containerPort: {port}")));
        }
        let entries: Vec<(String, String)> = if entries.is_empty() {
            vec![(String::new(), String::new())]
        } else {
            entries.clone()
        };
        for (hip, hport) in entries {
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
            out.push(PortRequest {
                proto,
                ctr_port,
                host_ip,
                host_ports,
                echo_host_ip: hip,
                echo_host_port: hport,
            });
        }
    }
    Ok(out)
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
        assert_eq!(r[0].proto, Proto::Udp);
        assert_eq!(r[0].host_ports, None);
        assert_eq!(r[1].host_ports, Some((8080, 8080)));
        assert_eq!(r[1].host_ip, None);
        assert_eq!(r[2].host_ip, Some("127.0.0.1".parse().expect("ip")));
        let mut bad = BTreeMap::new();
        bad.insert("x/tcp".to_string(), vec![]);
        assert!(requests_from_bindings(&bad).is_err());
    }
}
