//! `cnm network …`.

use std::collections::BTreeMap;

use clap::Subcommand;
use serde_json::{json, Value};

use super::client::{enc, Client};
use super::format::{pretty, table, template};

#[derive(Debug, Subcommand)]
pub enum NetworkCmd {
    /// Create a network.
    Create {
        #[arg(short = 'd', long = "driver", default_value = "bridge")]
        driver: String,
        #[arg(long)]
        subnet: Vec<String>,
        #[arg(long)]
        gateway: Vec<String>,
        #[arg(long = "ip-range")]
        ip_range: Vec<String>,
        #[arg(long = "aux-address")]
        aux_address: Vec<String>,
        #[arg(long)]
        ipv6: bool,
        #[arg(long)]
        internal: bool,
        #[arg(long)]
        attachable: bool,
        #[arg(short = 'o', long = "opt")]
        opt: Vec<String>,
        #[arg(long)]
        label: Vec<String>,
        #[arg(long = "ipam-driver", default_value = "default")]
        ipam_driver: String,
        #[arg(long = "ipam-opt")]
        ipam_opt: Vec<String>,
        name: String,
    },
    /// List networks.
    Ls {
        #[arg(short = 'q', long)]
        quiet: bool,
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        #[arg(short = 'f', long = "filter")]
        filter: Vec<String>,
        #[arg(long)]
        format: Option<String>,
    },
    /// Show networks in detail.
    Inspect {
        #[arg(short = 'f', long = "format")]
        format: Option<String>,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        #[arg(long)]
        ip: Option<String>,
        #[arg(long)]
        ip6: Option<String>,
        #[arg(long)]
        alias: Vec<String>,
        #[arg(long = "driver-opt")]
        driver_opt: Vec<String>,
        #[arg(long = "gw-priority", default_value_t = 0)]
        gw_priority: i64,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect {
        #[arg(short = 'f', long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove all unused networks.
    Prune {
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(long)]
        filter: Vec<String>,
    },
}

fn kv(list: &[String]) -> Result<BTreeMap<String, String>, String> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("invalid key=value: {s}")),
        })
        .collect()
}

/// `--label k=v` / `--label k` values as a map.
pub(super) fn labels(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

fn filters_query(list: &[String]) -> Result<String, String> {
    if list.is_empty() {
        return Ok(String::new());
    }
    let mut m: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for f in list {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        m.entry(k.to_string())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(format!(
        "?filters={}",
        enc(&serde_json::to_string(&m).unwrap_or_default())
    ))
}

fn post_or_fail<T: serde::Serialize>(c: &Client, path: &str, body: &T) -> i32 {
    match c.post(path, Some(cnm_api::to_json_body(body).as_bytes())) {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("{e}");
    1
}

pub fn run(c: &Client, cmd: NetworkCmd) -> i32 {
    match cmd {
        NetworkCmd::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            aux_address,
            ipv6,
            internal,
            attachable,
            opt,
            label,
            ipam_driver,
            ipam_opt,
            name,
        } => {
            let opts = match kv(&opt) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let ipam_opts = match kv(&ipam_opt) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let aux = match kv(&aux_address) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            // As the docker CLI: gateways, ranges and aux addresses go with the subnet that contains them.
            let mut config: Vec<cnm_api::IpamConfig> = Vec::new();
            for s in &subnet {
                let net: Option<ipnet::IpNet> = s.parse().ok();
                let inside = |a: &str| -> bool {
                    let ip: Option<std::net::IpAddr> =
                        a.split('/').next().and_then(|x| x.parse().ok());
                    match (net, ip) {
                        (Some(n), Some(ip)) => n.contains(&ip),
                        _ => subnet.len() == 1,
                    }
                };
                config.push(cnm_api::IpamConfig {
                    subnet: s.clone(),
                    ip_range: ip_range
                        .iter()
                        .find(|r| inside(r))
                        .cloned()
                        .unwrap_or_default(),
                    gateway: gateway
                        .iter()
                        .find(|g| inside(g))
                        .cloned()
                        .unwrap_or_default(),
                    auxiliary_addresses: aux
                        .iter()
                        .filter(|(_, v)| inside(v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                });
            }
            if let Some(g) = gateway
                .iter()
                .find(|g| !config.iter().any(|c| c.gateway == **g))
            {
                return fail(format!("no matching subnet for gateway {g}"));
            }
            if let Some(r) = ip_range
                .iter()
                .find(|r| !config.iter().any(|c| c.ip_range == **r))
            {
                return fail(format!("no matching subnet for range {r}"));
            }
            let body = cnm_api::NetworkCreateRequest {
                driver,
                enable_ipv6: ipv6.then_some(true),
                ipam: Some(cnm_api::Ipam {
                    driver: ipam_driver,
                    options: Some(ipam_opts),
                    config,
                }),
                internal,
                attachable,
                options: opts,
                labels: labels(&label),
                name,
                check_duplicate: Some(true),
                ..Default::default()
            };
            match c.post(
                "/networks/create",
                Some(cnm_api::to_json_body(&body).as_bytes()),
            ) {
                Ok(b) => match cnm_api::decode_json_body::<cnm_api::NetworkCreateResponse>(&b) {
                    Ok(r) => {
                        if !r.warning.is_empty() {
                            eprintln!("WARNING: {}", r.warning);
                        }
                        println!("{}", r.id);
                        0
                    }
                    Err(e) => fail(e),
                },
                Err(e) => fail(e),
            }
        }
        NetworkCmd::Ls {
            quiet,
            no_trunc,
            filter,
            format,
        } => {
            let q = match filters_query(&filter) {
                Ok(q) => q,
                Err(e) => return fail(e),
            };
            let body = match c.get(&format!("/networks{q}")) {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let mut nets: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
            nets.sort_by(|a, b| {
                natural_cmp(
                    a["Name"].as_str().unwrap_or(""),
                    b["Name"].as_str().unwrap_or(""),
                )
            });
            let id = |n: &Value| {
                let id = n["Id"].as_str().unwrap_or("").to_string();
                if no_trunc {
                    id
                } else {
                    id.chars().take(12).collect()
                }
            };
            if quiet {
                for n in &nets {
                    println!("{}", id(n));
                }
                return 0;
            }
            if let Some(f) = format.as_deref() {
                for n in &nets {
                    let row = if f == "json" {
                        json!({"CreatedAt": n["Created"], "Driver": n["Driver"], "ID": id(n), "IPv6": n["EnableIPv6"].to_string(),
                               "Internal": n["Internal"].to_string(), "Labels": "", "Name": n["Name"], "Scope": n["Scope"]})
                        .to_string()
                    } else {
                        match template(f, n) {
                            Ok(s) => s,
                            Err(e) => return fail(e),
                        }
                    };
                    println!("{row}");
                }
                return 0;
            }
            let rows: Vec<Vec<String>> = nets
                .iter()
                .map(|n| {
                    vec![
                        id(n),
                        n["Name"].as_str().unwrap_or("").into(),
                        n["Driver"].as_str().unwrap_or("").into(),
                        n["Scope"].as_str().unwrap_or("").into(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
            );
            0
        }
        NetworkCmd::Inspect { format, networks } => {
            let mut out = Vec::new();
            let mut code = 0;
            for n in &networks {
                match c.get(&format!("/networks/{}", enc(n))) {
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
                        match template(&f, v) {
                            Ok(s) => println!("{s}"),
                            Err(e) => return fail(e),
                        }
                    }
                }
                None => println!("{}", pretty(&Value::Array(out))),
            }
            code
        }
        NetworkCmd::Rm { networks } => {
            let mut code = 0;
            for n in &networks {
                match c.delete(&format!("/networks/{}", enc(n))) {
                    Ok(_) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e}");
                        code = 1;
                    }
                }
            }
            code
        }
        NetworkCmd::Connect {
            ip,
            ip6,
            alias,
            driver_opt,
            gw_priority,
            network,
            container,
        } => {
            let dopts = match kv(&driver_opt) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let body = cnm_api::NetworkConnectRequest {
                container,
                endpoint_config: Some(cnm_api::EndpointSettings {
                    ipam_config: Some(cnm_api::EndpointIpamConfig {
                        ipv4_address: ip.unwrap_or_default(),
                        ipv6_address: ip6.unwrap_or_default(),
                        ..Default::default()
                    }),
                    aliases: Some(alias),
                    driver_opts: Some(dopts),
                    gw_priority,
                    ..Default::default()
                }),
            };
            post_or_fail(c, &format!("/networks/{}/connect", enc(&network)), &body)
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            let body = cnm_api::NetworkDisconnectRequest { container, force };
            post_or_fail(c, &format!("/networks/{}/disconnect", enc(&network)), &body)
        }
        NetworkCmd::Prune { force: _, filter } => {
            let q = match filters_query(&filter) {
                Ok(q) => q,
                Err(e) => return fail(e),
            };
            match c.post(&format!("/networks/prune{q}"), None) {
                Ok(b) => {
                    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                    if let Some(list) = v["NetworksDeleted"].as_array().filter(|l| !l.is_empty()) {
                        println!("Deleted Networks:");
                        for n in list {
                            println!("{}", n.as_str().unwrap_or(""));
                        }
                        println!();
                    }
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// The docker CLI's order for network names: digits sort before every other character
/// (`rsx-net1`, `rsx-net2`, `rsx-net-full`), otherwise by character.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |s: &str| -> Vec<u16> {
        s.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    c as u16 - 48
                } else {
                    c as u16 + 16
                }
            })
            .collect()
    };
    key(a).cmp(&key(b))
}
