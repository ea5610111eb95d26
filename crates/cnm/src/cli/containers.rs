//! `cnm run`, `exec`, `ps`, `start`, `inspect`, `logs`, `port` and friends.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;

use super::client::{enc, Client, ClientError};
use super::format::{pretty, table, template};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Network to connect to (repeatable; the first is the network mode).
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    #[arg(long)]
    pub ip: Option<String>,
    #[arg(long)]
    pub ip6: Option<String>,
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    #[arg(long)]
    pub domainname: Option<String>,
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    #[arg(long)]
    pub dns: Vec<String>,
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Add a link to another container (`NAME[:ALIAS]`, default bridge).
    #[arg(long = "link")]
    pub link: Vec<String>,
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Publish a container port: `[hostIP:][hostPort[-end]:]containerPort[-end][/tcp|udp|sctp]`.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Expose a port (or range) without publishing it.
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Publish every exposed port on a random host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    pub container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(long)]
    pub format: Option<String>,
}

fn run_error(e: impl std::fmt::Display) -> i32 {
    eprintln!("cnm: {e}");
    eprintln!("Run 'cnm run --help' for more information");
    125
}

fn strip_dashdash(mut cmd: Vec<String>) -> Vec<String> {
    if cmd.first().map(String::as_str) == Some("--") {
        cmd.remove(0);
    }
    cmd
}

/// `-p` and `--expose` as the docker CLI sends them: `HostConfig.PortBindings` and `Config.ExposedPorts`.
fn port_flags(a: &RunArgs) -> Result<(cnm_api::PortMap, BTreeMap<String, cnm_api::Empty>), String> {
    let mut bindings = cnm_api::PortMap::new();
    let mut exposed = BTreeMap::new();
    for spec in &a.publish {
        for (key, ip, port) in cnm_core::ports::parse_publish(spec).map_err(|e| e.to_string())? {
            exposed.insert(key.clone(), cnm_api::Empty::default());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(cnm_api::PortBinding {
                    host_ip: ip,
                    host_port: port,
                });
        }
    }
    for spec in &a.expose {
        let (body, proto) = spec.rsplit_once('/').unwrap_or((spec.as_str(), "tcp"));
        let (lo, hi) = cnm_core::ports::parse_range(body, "range for exposed port")
            .map_err(|e| e.to_string())?;
        for p in lo..=hi {
            exposed.insert(format!("{p}/{proto}"), cnm_api::Empty::default());
        }
    }
    Ok((bindings, exposed))
}

pub fn run(c: &Client, a: RunArgs) -> i32 {
    let (port_bindings, exposed_ports) = match port_flags(&a) {
        Ok(p) => p,
        Err(e) => return run_error(e),
    };
    if !port_bindings.is_empty() && a.network.first().map(String::as_str) == Some("host") {
        eprintln!("WARNING: Published ports are discarded when using host network mode");
    }
    let publish_all = a.publish_all;
    let cmd = strip_dashdash(a.cmd);
    if cmd.is_empty() {
        return run_error("no command given");
    }
    let mode = a
        .network
        .first()
        .cloned()
        .unwrap_or_else(|| "default".into());
    let nets: Vec<String> = if a.network.is_empty() {
        vec!["default".into()]
    } else {
        a.network.clone()
    };
    let mut endpoints = BTreeMap::new();
    for (i, n) in nets.iter().enumerate() {
        // --ip, --ip6, --network-alias and --mac-address belong to the first network, as docker's.
        let es = if i == 0 {
            cnm_api::EndpointSettings {
                ipam_config: (a.ip.is_some() || a.ip6.is_some()).then(|| {
                    cnm_api::EndpointIpamConfig {
                        ipv4_address: a.ip.clone().unwrap_or_default(),
                        ipv6_address: a.ip6.clone().unwrap_or_default(),
                        ..Default::default()
                    }
                }),
                aliases: (!a.network_alias.is_empty()).then(|| a.network_alias.clone()),
                mac_address: a.mac_address.clone().unwrap_or_default(),
                ..Default::default()
            }
        } else {
            cnm_api::EndpointSettings::default()
        };
        endpoints.insert(
            if n == "default" {
                "bridge".to_string()
            } else {
                n.clone()
            },
            es,
        );
    }
    let body = cnm_api::ContainerCreateRequest {
        hostname: a.hostname.unwrap_or_default(),
        domainname: a.domainname.unwrap_or_default(),
        env: Some(a.env),
        cmd: Some(cmd),
        working_dir: a.workdir.unwrap_or_default(),
        labels: super::networks::labels(&a.label),
        host_config: cnm_api::HostConfig {
            network_mode: mode,
            dns: Some(a.dns),
            dns_search: Some(a.dns_search),
            dns_options: Some(a.dns_option),
            extra_hosts: (!a.add_host.is_empty()).then_some(a.add_host),
            links: (!a.link.is_empty()).then_some(a.link),
            auto_remove: a.rm,
            port_bindings: port_bindings.into(),
            publish_all_ports: publish_all,
            ..Default::default()
        },
        exposed_ports: (!exposed_ports.is_empty())
            .then(|| cnm_api::ExposedPorts::from_keys(exposed_ports.into_keys())),
        networking_config: cnm_api::NetworkingConfig {
            endpoints_config: endpoints,
        },
        ..Default::default()
    };
    let body = cnm_api::to_json_body(&body);
    let path = match &a.name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".to_string(),
    };
    let id = match c.post(&path, Some(body.as_bytes())) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_string))
            .unwrap_or_default(),
        Err(e) => return run_error(e),
    };
    // Follow the output before starting, as docker attaches before it starts: nothing is missed even
    // when the process is done (and removed, with --rm) at once.
    let follow = if a.detach {
        None
    } else {
        c.request(
            "GET",
            &format!("/containers/{id}/logs?stdout=1&stderr=1&follow=1"),
            None,
        )
        .ok()
        .filter(|r| r.status == 200)
    };
    let started = c
        .request("POST", &format!("/containers/{id}/start"), None)
        .and_then(|r| {
            let status = r.status;
            let body = r.body()?;
            if status >= 400 {
                return Err(ClientError::Api(cnm_api::ApiError::from_response(
                    status, &body,
                )));
            }
            Ok(())
        });
    if let Err(e) = started {
        let code = match &e {
            ClientError::Api(api)
                if api.status == 404 && api.message.contains("executable file not found") =>
            {
                127
            }
            ClientError::Api(api)
                if api.status == 403 && api.message.contains("permission denied") =>
            {
                126
            }
            _ => 125,
        };
        if a.rm {
            let _ = c.delete(&format!("/containers/{id}?force=true"));
        }
        eprintln!("cnm: {e}");
        if code == 125 {
            eprintln!("Run 'cnm run --help' for more information");
        }
        return code;
    }
    if a.detach {
        println!("{id}");
        return 0;
    }
    if let Some(resp) = follow {
        let _ = copy_framed(resp);
    }
    match c.post(&format!("/containers/{id}/wait"), None) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["StatusCode"].as_i64())
            .unwrap_or(125) as i32,
        Err(e) => {
            eprintln!("cnm: {e}");
            125
        }
    }
}

/// Copy a framed stream to stdout/stderr.
fn copy_framed(mut resp: super::client::Response) -> Result<(), ClientError> {
    let mut demux = cnm_api::Demuxer::new();
    let out = std::io::stdout();
    let err = std::io::stderr();
    while let Some(chunk) = resp.next_chunk()? {
        for (kind, data) in demux
            .feed(&chunk)
            .map_err(|e| ClientError::Protocol(e.to_string()))?
        {
            match kind {
                cnm_api::StreamKind::Stderr => {
                    let mut e = err.lock();
                    let _ = e.write_all(&data);
                    let _ = e.flush();
                }
                _ => {
                    let mut o = out.lock();
                    let _ = o.write_all(&data);
                    let _ = o.flush();
                }
            }
        }
    }
    Ok(())
}

fn stream_logs(c: &Client, id: &str, follow: bool) -> Result<(), ClientError> {
    let resp = c.request(
        "GET",
        &format!(
            "/containers/{}/logs?stdout=1&stderr=1&follow={}",
            enc(id),
            follow as u8
        ),
        None,
    )?;
    if resp.status >= 400 {
        let status = resp.status;
        let body = resp.body()?;
        return Err(ClientError::Api(cnm_api::ApiError::from_response(
            status, &body,
        )));
    }
    copy_framed(resp)
}

pub fn logs(c: &Client, id: &str, follow: bool) -> i32 {
    match stream_logs(c, id, follow) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

pub fn exec(c: &Client, a: ExecArgs) -> i32 {
    let cmd = strip_dashdash(a.cmd);
    let body = cnm_api::to_json_body(&cnm_api::ExecCreateRequest {
        attach_stdout: true,
        attach_stderr: true,
        env: Some(a.env),
        cmd: Some(cmd),
        ..Default::default()
    });
    let exec_id = match c.post(
        &format!("/containers/{}/exec", enc(&a.container)),
        Some(body.to_string().as_bytes()),
    ) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_string))
            .unwrap_or_default(),
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let resp = match c.request(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(cnm_api::to_json_body(&cnm_api::ExecStartRequest::default()).as_bytes()),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 126;
        }
    };
    if resp.status >= 400 {
        let status = resp.status;
        let body = resp.body().unwrap_or_default();
        let e = cnm_api::ApiError::from_response(status, &body);
        eprintln!("Error response from daemon: {}", e.message);
        return if status == 404 { 127 } else { 126 };
    }
    if let Err(e) = copy_framed(resp) {
        eprintln!("{e}");
        return 1;
    }
    match c.get(&format!("/exec/{exec_id}/json")) {
        Ok(b) => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["ExitCode"].as_i64())
            .unwrap_or(1) as i32,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

pub fn start(c: &Client, ids: &[String]) -> i32 {
    each(c, ids, |c, id| {
        c.post(&format!("/containers/{}/start", enc(id)), None)
            .map(|_| ())
    })
}

/// Apply an action to each container, print its name on success, report every failure.
pub fn each<F>(c: &Client, ids: &[String], f: F) -> i32
where
    F: Fn(&Client, &str) -> Result<(), ClientError>,
{
    let mut code = 0;
    for id in ids {
        match f(c, id) {
            Ok(()) => println!("{id}"),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}

pub fn ps(c: &Client, a: PsArgs) -> i32 {
    let body = match c.get(&format!("/containers/json?all={}", a.all as u8)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let list: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
    let id = |v: &Value| {
        let s = v["Id"].as_str().unwrap_or("").to_string();
        if a.no_trunc {
            s
        } else {
            s.chars().take(12).collect()
        }
    };
    if a.quiet {
        for v in &list {
            println!("{}", id(v));
        }
        return 0;
    }
    if let Some(f) = &a.format {
        for v in &list {
            match if f == "json" {
                Ok(v.to_string())
            } else {
                template(f, v)
            } {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("{e}");
                    return 1;
                }
            }
        }
        return 0;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            let mut cmd = v["Command"].as_str().unwrap_or("").to_string();
            if !a.no_trunc && cmd.chars().count() > 20 {
                cmd = format!("{}…", cmd.chars().take(19).collect::<String>());
            }
            let created = v["Created"].as_i64().unwrap_or(now);
            let ago = cnm_api::human_duration(std::time::Duration::from_secs(
                (now - created).max(0) as u64,
            ));
            let names = v["Names"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter_map(Value::as_str)
                        .map(|s| s.trim_start_matches('/'))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let net = v["HostConfig"]["NetworkMode"]
                .as_str()
                .unwrap_or("")
                .to_string();
            vec![
                id(v),
                format!("\"{cmd}\""),
                format!("{ago} ago"),
                v["Status"].as_str().unwrap_or("").to_string(),
                ports_column(&v["Ports"]),
                net,
                names,
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CONTAINER ID",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NETWORK",
                "NAMES"
            ],
            &rows
        )
    );
    0
}

pub fn inspect(c: &Client, ids: &[String], format: Option<&str>) -> i32 {
    let mut out = Vec::new();
    let mut code = 0;
    for id in ids {
        match c.get(&format!("/containers/{}/json", enc(id))) {
            Ok(b) => out.push(serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null)),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    match format {
        Some(f) => {
            for v in &out {
                match template(f, v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("{e}");
                        return 1;
                    }
                }
            }
        }
        None => println!("{}", pretty(&Value::Array(out))),
    }
    code
}

/// docker's PORTS column: `0.0.0.0:8080->80/tcp, [::]:8080->80/tcp`, consecutive ports folded into
/// ranges (`0.0.0.0:8000-8002->8000-8002/tcp`), unpublished ones as `80/tcp`.
fn ports_column(ports: &Value) -> String {
    let mut items: Vec<(String, u64, u64, String)> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["IP"].as_str().unwrap_or("").to_string(),
                p["PublicPort"].as_u64().unwrap_or(0),
                p["PrivatePort"].as_u64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("tcp").to_string(),
            )
        })
        .collect();
    items.sort_by(|a, b| (&a.3, &a.0, a.2, a.1).cmp(&(&b.3, &b.0, b.2, b.1)));
    // Runs of (ip, proto) where both ports step by one.
    let mut runs: Vec<(String, u64, u64, u64, u64, String)> = Vec::new();
    for (ip, public, private, proto) in items {
        if let Some(last) = runs.last_mut() {
            let (lip, _, lpub1, _, lpriv1, lproto) = last;
            let step = |a: u64, b: u64| (a == 0 && b == 0) || b == a + 1;
            if *lip == ip && *lproto == proto && step(*lpub1, public) && private == *lpriv1 + 1 {
                last.2 = public;
                last.4 = private;
                continue;
            }
        }
        runs.push((ip, public, public, private, private, proto));
    }
    let range = |a: u64, b: u64| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    runs.iter()
        .map(|(ip, p0, p1, c0, c1, proto)| {
            if ip.is_empty() && *p0 == 0 {
                format!("{}/{proto}", range(*c0, *c1))
            } else {
                let host = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.clone()
                };
                format!("{host}:{}->{}/{proto}", range(*p0, *p1), range(*c0, *c1))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn port(c: &Client, id: &str) -> i32 {
    match c.get(&format!("/containers/{}/json", enc(id))) {
        Ok(b) => {
            let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            if let Some(ports) = v["NetworkSettings"]["Ports"].as_object() {
                for (cport, binds) in ports {
                    for bnd in binds.as_array().into_iter().flatten() {
                        let ip = bnd["HostIp"].as_str().unwrap_or("");
                        let ip = if ip.contains(':') {
                            format!("[{ip}]")
                        } else {
                            ip.to_string()
                        };
                        println!("{cport} -> {ip}:{}", bnd["HostPort"].as_str().unwrap_or(""));
                    }
                }
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
