//! Records → Engine API wire types, and wire requests → the controller's typed requests (options are
//! parsed here, once).

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cnm_api::{ApiError, ApiVersion};
use cnm_core::controller::{Attachment, ContainerCreate, NetworkCreate};
use cnm_core::ids::{format_mac, parse_mac, short};
use cnm_core::model::{
    ContainerRecord, EndpointRecord, EndpointRequest, IpamConfigEcho, NetworkRecord, RunState,
};
use cnm_core::ports::Proto;
use cnm_core::CoreError;
use cnm_ipam::IpamConfigInput;

pub fn api_error(e: CoreError) -> ApiError {
    ApiError::new(e.status(), e.to_string())
}

pub fn time_of(ns: u128) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns.min(u64::MAX as u128) as u64)
}

/// moby's `until` prune filter: what was created at or before `until` goes (it keeps only what
/// `Created().After(until)`). A duration `until` is whole seconds back from now (`parse_go_time`),
/// so `until=1s` takes a network only once it is between one and two seconds old, depending on
/// where in its second it was created.
pub fn created_by(created_ns: u128, until: cnm_api::GoTime) -> bool {
    cnm_api::GoTime::from(time_of(created_ns)) <= until
}

pub fn go_time(ns: u128) -> String {
    if ns == 0 {
        return cnm_api::ZERO_TIME.to_string();
    }
    cnm_api::format_go_time(time_of(ns))
}

pub fn network(rec: &NetworkRecord, eps: &[EndpointRecord], v: ApiVersion) -> cnm_api::Network {
    let config = rec
        .subnets
        .iter()
        .map(|s| cnm_api::IpamConfig {
            subnet: s.subnet.to_string(),
            ip_range: s.ip_range.map(|r| r.to_string()).unwrap_or_default(),
            gateway: if s.show_gateway {
                s.gateway.map(|g| g.to_string()).unwrap_or_default()
            } else {
                String::new()
            },
            auxiliary_addresses: s
                .aux_addresses
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .collect();
    let containers = eps
        .iter()
        .map(|e| {
            (
                e.container_id.clone(),
                cnm_api::NetworkContainer {
                    name: e.name.clone(),
                    endpoint_id: e.id.clone(),
                    mac_address: e.mac.map(|m| format_mac(&m)).unwrap_or_default(),
                    ipv4_address: e.ipv4.map(|a| a.to_string()).unwrap_or_default(),
                    ipv6_address: e.ipv6.map(|a| a.to_string()).unwrap_or_default(),
                },
            )
        })
        .collect();
    cnm_api::Network {
        name: rec.name.clone(),
        id: rec.id.clone(),
        created: go_time(rec.created_ns),
        scope: rec.scope.clone(),
        driver: rec.driver.clone(),
        enable_ipv4: Some(rec.enable_ipv4),
        enable_ipv6: rec.enable_ipv6,
        ipam: cnm_api::Ipam {
            driver: rec.ipam_driver.clone(),
            options: rec.ipam_options.clone(),
            config,
        },
        internal: rec.internal,
        attachable: rec.attachable,
        ingress: rec.ingress,
        config_from: cnm_api::ConfigReference {
            network: rec.config_from.clone(),
        },
        config_only: rec.config_only,
        containers,
        options: rec.options.clone(),
        labels: rec.labels.clone(),
    }
    .for_api(v)
}

pub fn network_create(req: cnm_api::NetworkCreateRequest) -> NetworkCreate {
    let (ipam_driver, ipam_options, ipam_config) = match req.ipam {
        Some(i) => (
            i.driver,
            i.options,
            i.config
                .into_iter()
                .map(|c| IpamConfigInput {
                    subnet: Some(c.subnet).filter(|s| !s.is_empty()),
                    ip_range: Some(c.ip_range).filter(|s| !s.is_empty()),
                    gateway: Some(c.gateway).filter(|s| !s.is_empty()),
                    aux_addresses: c.auxiliary_addresses,
                })
                .collect(),
        ),
        None => (String::new(), None, Vec::new()),
    };
    NetworkCreate {
        name: req.name,
        driver: req.driver,
        enable_ipv4: req.enable_ipv4,
        enable_ipv6: req.enable_ipv6,
        ipam_driver,
        ipam_options,
        ipam_config,
        internal: req.internal,
        attachable: req.attachable,
        ingress: req.ingress,
        config_only: req.config_only,
        config_from: req.config_from.map(|c| c.network).unwrap_or_default(),
        options: req.options,
        labels: req.labels,
        check_duplicate: req.check_duplicate.unwrap_or(false),
    }
}

fn parse_ip(s: &str) -> Result<Option<IpAddr>, ApiError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("invalid IP address: {s}")))
}

pub fn endpoint_request(
    es: Option<cnm_api::EndpointSettings>,
    via_connect: bool,
) -> Result<EndpointRequest, ApiError> {
    let Some(es) = es else {
        return Ok(EndpointRequest {
            via_connect,
            ..Default::default()
        });
    };
    let (ipv4, ipv6) = match &es.ipam_config {
        Some(c) => (parse_ip(&c.ipv4_address)?, parse_ip(&c.ipv6_address)?),
        None => (None, None),
    };
    let mac = if es.mac_address.is_empty() {
        None
    } else {
        Some(parse_mac(&es.mac_address).ok_or_else(|| {
            ApiError::bad_request(format!("invalid MAC address: {}", es.mac_address))
        })?)
    };
    Ok(EndpointRequest {
        ipv4,
        ipv6,
        mac,
        aliases: es.aliases.unwrap_or_default(),
        links: es.links.unwrap_or_default(),
        gw_priority: es.gw_priority,
        ipam_config: es.ipam_config.map(|c| IpamConfigEcho {
            ipv4: Some(c.ipv4_address).filter(|s| !s.is_empty()),
            ipv6: Some(c.ipv6_address).filter(|s| !s.is_empty()),
        }),
        driver_opts: es.driver_opts,
        via_connect,
    })
}

pub fn container_create(
    name: Option<String>,
    req: cnm_api::ContainerCreateRequest,
) -> Result<ContainerCreate, ApiError> {
    let mut cmd = req.entrypoint.unwrap_or_default();
    cmd.extend(req.cmd.unwrap_or_default());
    let mut hc = req.host_config;
    let mut dns = Vec::new();
    for d in hc.dns.unwrap_or_default() {
        dns.push(
            d.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid DNS server address: {d}")))?,
        );
    }
    let mut extra_hosts = Vec::new();
    for h in hc.extra_hosts.unwrap_or_default() {
        let (n, ip) = h
            .split_once(':')
            .or_else(|| h.split_once('='))
            .ok_or_else(|| ApiError::bad_request(format!("invalid extra host entry: {h}")))?;
        let ip: IpAddr = ip
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| {
                ApiError::bad_request(format!("invalid IP address in add-host: {ip:?}"))
            })?;
        extra_hosts.push((n.to_string(), ip));
    }
    let (exposed_ports, ports) = container_ports(
        req.exposed_ports.unwrap_or_default(),
        std::mem::take(&mut hc.port_bindings),
        hc.publish_all_ports,
    )?;
    let mut networks = Vec::new();
    for (n, es) in req.networking_config.endpoints_config {
        networks.push((n, endpoint_request(Some(es), false)?));
    }
    Ok(ContainerCreate {
        name,
        cmd,
        env: req.env.unwrap_or_default(),
        hostname: Some(req.hostname).filter(|h| !h.is_empty()),
        domainname: req.domainname,
        working_dir: req.working_dir,
        labels: req.labels,
        network_mode: hc.network_mode,
        networks,
        dns,
        dns_search: hc.dns_search.unwrap_or_default(),
        dns_options: hc.dns_options.unwrap_or_default(),
        extra_hosts,
        auto_remove: hc.auto_remove,
        links: hc.links.unwrap_or_default(),
        ports,
        exposed_ports,
    })
}

fn core_proto(p: cnm_api::PortProto) -> Proto {
    match p {
        cnm_api::PortProto::Tcp => Proto::Tcp,
        cnm_api::PortProto::Udp => Proto::Udp,
        cnm_api::PortProto::Sctp => Proto::Sctp,
    }
}

fn api_proto(p: Proto) -> cnm_api::PortProto {
    match p {
        Proto::Tcp => cnm_api::PortProto::Tcp,
        Proto::Udp => cnm_api::PortProto::Udp,
        Proto::Sctp => cnm_api::PortProto::Sctp,
    }
}

/// A create request's `Config.ExposedPorts` and `HostConfig.PortBindings` (both already runs, as the
/// API decoded them) as the record's exposed entries and the controller's port requests. Nothing here
/// is per port unless `-P` (`publish_all`) has to name each exposed port without a binding.
fn container_ports(
    exposed: cnm_api::ExposedPorts,
    bindings: cnm_api::PortBindings,
    publish_all: bool,
) -> Result<(Vec<String>, Vec<cnm_core::ports::PortRequest>), ApiError> {
    use cnm_core::ports::{BindingKey, BindingRun};
    let bindings = bindings.into_runs();
    // Exposed: the request's ports plus every bound one, keys normalised (`80` → `80/tcp`).
    let mut exposed_runs: Vec<(Proto, u16, u16)> = exposed
        .runs
        .iter()
        .map(|&(p, a, b)| (core_proto(p), a, b))
        .collect();
    let mut exposed_keys: Vec<String> = exposed.other.iter().map(|k| port_key(k)).collect();
    let mut bound_raw = std::collections::BTreeSet::new();
    for r in &bindings {
        match &r.key {
            cnm_api::BindingKey::Port(p, c) => {
                exposed_runs.push((core_proto(*p), *c, c.saturating_add(r.count - 1)));
            }
            cnm_api::BindingKey::Raw(k) => {
                exposed_keys.push(port_key(k));
                bound_raw.insert(port_key(k));
            }
        }
    }
    let bound_runs: Vec<(Proto, u16, u16)> = exposed_runs[exposed.runs.len()..].to_vec();
    // Kept as runs (`20000-20999/tcp`) in the record; expanded again for inspect.
    let folded = cnm_core::ports::fold_exposed_runs(exposed_runs, exposed_keys);
    // `-P`: every exposed port without a binding gets a random host port.
    let mut unbound: Vec<String> = Vec::new();
    if publish_all {
        for k in folded
            .iter()
            .flat_map(|e| cnm_core::ports::expand_exposed(e))
        {
            let in_run = cnm_api::canonical_key(&k).is_some_and(|(p, n)| {
                bound_runs
                    .iter()
                    .any(|&(bp, a, b)| bp == core_proto(p) && a <= n && n <= b)
            });
            if !in_run && !bound_raw.contains(&k) {
                unbound.push(k);
            }
        }
    }
    let runs: Vec<BindingRun<'_>> = bindings
        .iter()
        .map(|r| BindingRun {
            key: match &r.key {
                cnm_api::BindingKey::Port(p, c) => BindingKey::Port(core_proto(*p), *c),
                cnm_api::BindingKey::Raw(k) => BindingKey::Raw(k),
            },
            pos: r.pos as usize,
            count: r.count,
            host_ip: &r.host_ip,
            host_port: &r.host_port,
        })
        .chain(unbound.iter().map(|k| BindingRun {
            key: BindingKey::Raw(k),
            pos: 0,
            count: 1,
            host_ip: "",
            host_port: "",
        }))
        .collect();
    let ports = cnm_core::ports::requests_from_runs(&runs)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((folded, ports))
}

/// `80` → `80/tcp`: Docker's key for a container port.
fn port_key(k: &str) -> String {
    if k.contains('/') {
        k.to_ascii_lowercase()
    } else {
        format!("{k}/tcp")
    }
}

/// `HostConfig.PortBindings` as the request gave it: a request is a run, expanded per port when the
/// JSON is written. Entries of one key keep the requests' order (their position in the key's list).
fn port_bindings_echo(c: &ContainerRecord) -> cnm_api::PortBindings {
    cnm_api::PortBindings::from_runs(
        c.config
            .ports
            .iter()
            .enumerate()
            .map(|(i, r)| cnm_api::BindingRun {
                key: cnm_api::BindingKey::Port(api_proto(r.proto), r.ctr_port),
                pos: u32::try_from(i).unwrap_or(u32::MAX),
                count: r.count.max(1),
                host_ip: r.echo_host_ip.clone(),
                host_port: r.echo_host_port.clone(),
            })
            .collect(),
    )
}

/// `NetworkSettings.Ports` of a running container: every exposed port, with its bindings or `null`.
/// Runs are expanded here, at the output edge, since Docker's JSON shows each port.
fn published_ports(c: &ContainerRecord) -> cnm_api::PortMap {
    let mut out = cnm_api::PortMap::new();
    let Some(sb) = c.sandbox.as_ref() else {
        return out;
    };
    if !c.is_running() {
        return out;
    }
    for e in &c.config.exposed_ports {
        for k in cnm_core::ports::expand_exposed(e) {
            out.insert(k, None);
        }
    }
    for m in &sb.ports.mappings {
        let host_ip = m.shown_host_ip();
        for (h, ctr) in m.each() {
            out.entry(format!("{ctr}/{}", m.proto))
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(cnm_api::PortBinding {
                    host_ip: host_ip.clone(),
                    host_port: h.to_string(),
                });
        }
    }
    out
}

/// The `Ports` column of `GET /containers/json`.
fn summary_ports(c: &ContainerRecord) -> Vec<cnm_api::Port> {
    let mut out = Vec::new();
    for (key, binds) in published_ports(c) {
        let (port, kind) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let private_port = port.parse().unwrap_or(0);
        match binds {
            Some(bs) if !bs.is_empty() => {
                for b in bs {
                    out.push(cnm_api::Port {
                        ip: b.host_ip,
                        private_port,
                        public_port: b.host_port.parse().unwrap_or(0),
                        kind: kind.to_string(),
                    });
                }
            }
            _ => out.push(cnm_api::Port {
                ip: String::new(),
                private_port,
                public_port: 0,
                kind: kind.to_string(),
            }),
        }
    }
    out
}

fn state_text(c: &ContainerRecord) -> &'static str {
    match c.process.state {
        RunState::Created => "created",
        RunState::Running => "running",
        RunState::Exited => "exited",
    }
}

fn endpoint_settings(
    c: &ContainerRecord,
    ep: Option<&EndpointRecord>,
    net: &NetworkRecord,
    v: ApiVersion,
) -> cnm_api::EndpointSettings {
    let req = c
        .config
        .networks
        .iter()
        .find(|(n, _)| *n == net.id)
        .map(|(_, r)| r.clone())
        .unwrap_or_default();
    let user_defined = !net.predefined;
    let user_aliases: Option<Vec<String>> = if req.aliases.is_empty() && !req.via_connect {
        None
    } else {
        Some(req.aliases.clone())
    };
    let hostname = c.hostname();
    let aliases = cnm_api::api_aliases(
        user_aliases.as_deref(),
        short(&c.id),
        &hostname,
        user_defined,
        v,
    );
    let mut es = cnm_api::EndpointSettings {
        ipam_config: req
            .ipam_config
            .as_ref()
            .map(|e| cnm_api::EndpointIpamConfig {
                ipv4_address: e.ipv4.clone().unwrap_or_default(),
                ipv6_address: e.ipv6.clone().unwrap_or_default(),
                ..Default::default()
            }),
        links: if req.links.is_empty() {
            None
        } else {
            Some(req.links.clone())
        },
        aliases,
        driver_opts: req.driver_opts.clone(),
        gw_priority: req.gw_priority,
        network_id: net.id.clone(),
        dns_names: if user_defined {
            Some(
                std::iter::once(c.name.clone())
                    .chain(req.aliases.iter().cloned())
                    .chain(std::iter::once(short(&c.id).to_string()))
                    .chain(c.config.hostname.iter().cloned())
                    .collect(),
            )
        } else {
            None
        },
        ..Default::default()
    };
    if let Some(ep) = ep {
        es.endpoint_id = ep.id.clone();
        if let Some(a) = ep.ipv4 {
            es.ip_address = a.addr().to_string();
            es.ip_prefix_len = a.prefix_len();
            if !net.internal {
                es.gateway = net.gateway4().map(|g| g.to_string()).unwrap_or_default();
            }
        }
        if let Some(a) = ep.ipv6 {
            es.global_ipv6_address = a.addr().to_string();
            es.global_ipv6_prefix_len = a.prefix_len();
            if !net.internal {
                es.ipv6_gateway = net.gateway6().map(|g| g.to_string()).unwrap_or_default();
            }
        }
        es.mac_address = ep.mac.map(|m| format_mac(&m)).unwrap_or_default();
    }
    es.for_api(v)
}

pub fn container_inspect(
    c: &ContainerRecord,
    attached: &[Attachment],
    dir: &std::path::Path,
    log_path: &std::path::Path,
    v: ApiVersion,
) -> cnm_api::ContainerInspect {
    let mut ns = cnm_api::NetworkSettings {
        sandbox_id: c.sandbox.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
        sandbox_key: c
            .sandbox
            .as_ref()
            .map(|s| s.key.clone())
            .unwrap_or_default(),
        ports: Some(published_ports(c)),
        ..Default::default()
    };
    for a in attached {
        let es = endpoint_settings(c, a.endpoint.as_ref(), &a.network, v);
        if a.network.name == "bridge" && a.network.predefined {
            ns.mirror_endpoint(&es);
        }
        ns.networks.insert(a.network.name.clone(), es);
    }
    ns.set_api(v);
    let started = c.process.started_ns;
    let (path, args) = match c.config.cmd.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => (String::new(), Vec::new()),
    };
    cnm_api::ContainerInspect {
        id: c.id.clone(),
        created: go_time(c.created_ns),
        path,
        args,
        state: cnm_api::ContainerState {
            status: state_text(c).into(),
            running: c.is_running(),
            pid: c.process.pid as i64,
            exit_code: c.process.exit_code as i64,
            error: c.process.error.clone(),
            started_at: go_time(started),
            finished_at: go_time(c.process.finished_ns),
            ..Default::default()
        },
        resolv_conf_path: dir.join("resolv.conf").display().to_string(),
        hostname_path: dir.join("hostname").display().to_string(),
        hosts_path: dir.join("hosts").display().to_string(),
        log_path: log_path.display().to_string(),
        name: format!("/{}", c.name),
        platform: "linux".into(),
        host_config: cnm_api::HostConfig {
            network_mode: c.config.network_mode_text.clone(),
            port_bindings: port_bindings_echo(c),
            auto_remove: c.config.auto_remove,
            dns: Some(c.config.dns.iter().map(|d| d.to_string()).collect()),
            dns_search: Some(c.config.dns_search.clone()),
            dns_options: Some(c.config.dns_options.clone()),
            extra_hosts: if c.config.extra_hosts.is_empty() {
                None
            } else {
                Some(
                    c.config
                        .extra_hosts
                        .iter()
                        .map(|(n, ip)| format!("{n}:{ip}"))
                        .collect(),
                )
            },
            ..Default::default()
        },
        config: cnm_api::ContainerConfig {
            hostname: c.hostname(),
            domainname: c.config.domainname.clone(),
            // moby falls back to the image's env when the request has none; cnm has no image.
            env: (!c.config.env.is_empty()).then(|| c.config.env.clone()),
            cmd: Some(c.config.cmd.clone()),
            working_dir: c.config.working_dir.clone(),
            labels: c.config.labels.clone(),
            exposed_ports: (!c.config.exposed_ports.is_empty()).then(|| {
                c.config
                    .exposed_ports
                    .iter()
                    .flat_map(|e| cnm_core::ports::expand_exposed(e))
                    .map(|k| (k, cnm_api::Empty::default()))
                    .collect()
            }),
            ..Default::default()
        },
        network_settings: ns,
        ..Default::default()
    }
    .for_api(v)
}

pub fn container_summary(
    c: &ContainerRecord,
    attached: &[Attachment],
    v: ApiVersion,
) -> cnm_api::ContainerSummary {
    let started = (c.process.started_ns > 0).then(|| time_of(c.process.started_ns));
    let finished = (c.process.finished_ns > 0).then(|| time_of(c.process.finished_ns));
    let status = cnm_api::docker_status_string(
        state_text(c),
        c.process.exit_code as i64,
        started,
        finished,
        SystemTime::now(),
    );
    let networks = attached
        .iter()
        .map(|a| {
            (
                a.network.name.clone(),
                endpoint_settings(c, a.endpoint.as_ref(), &a.network, v),
            )
        })
        .collect();
    cnm_api::ContainerSummary {
        id: c.id.clone(),
        names: vec![format!("/{}", c.name)],
        command: c.config.cmd.join(" "),
        created: (c.created_ns / 1_000_000_000) as i64,
        labels: c.config.labels.clone(),
        state: state_text(c).into(),
        status,
        host_config: cnm_api::SummaryHostConfig {
            network_mode: c.config.network_mode_text.clone(),
        },
        network_settings: cnm_api::SummaryNetworkSettings { networks },
        ports: summary_ports(c),
        ..Default::default()
    }
    .for_api(v)
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
