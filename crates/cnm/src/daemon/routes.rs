//! Request routing: `{id}` segments may contain '/', so routes are matched by hand on method and path.

use std::sync::Arc;
use std::time::Duration;

use cnm_api::{decode_json_body, to_json_body, ApiError, ApiVersion, Filters};
use hyper::{Method, Response};

use super::convert::{self, api_error};
use super::http::{empty, error, full, json, text, Body, Req};
use super::procs::{ExecState, Supervisor};
use super::Daemon;

type R = Result<Response<Body>, ApiError>;

pub async fn dispatch(d: &Arc<Daemon>, r: Req) -> Response<Body> {
    let v = r.version;
    match route(d, r).await {
        Ok(resp) => resp,
        Err(e) => {
            if e.status >= 500 {
                tracing::warn!(status = e.status, message = %e.message, "request failed");
            }
            error(&e, v)
        }
    }
}

fn body_json<T: serde::de::DeserializeOwned + Default>(r: &Req) -> Result<T, ApiError> {
    if r.body.is_empty() {
        return Ok(T::default());
    }
    decode_json_body(&r.body)
}

async fn route(d: &Arc<Daemon>, r: Req) -> R {
    let path = r.path.clone();
    let m = r.method.clone();
    if path == "/_ping" && (m == Method::GET || m == Method::HEAD) {
        return ping(m == Method::HEAD);
    }
    if path == "/version" && m == Method::GET {
        return Ok(json(
            200,
            r.version,
            to_json_body(&super::system::version()),
        ));
    }
    if path == "/info" && m == Method::GET {
        return Ok(json(
            200,
            r.version,
            to_json_body(&super::system::info(d, r.version).await),
        ));
    }
    if path == "/events" && m == Method::GET {
        return super::events::stream(d, &r);
    }
    if path == "/networks" && m == Method::GET {
        return networks_list(d, &r).await;
    }
    if path == "/networks/create" && m == Method::POST {
        return network_create(d, &r).await;
    }
    if path == "/networks/prune" && m == Method::POST {
        return networks_prune(d, &r).await;
    }
    if let Some(rest) = path.strip_prefix("/networks/") {
        if m == Method::POST {
            if let Some(id) = rest.strip_suffix("/connect") {
                return network_connect(d, &r, id).await;
            }
            if let Some(id) = rest.strip_suffix("/disconnect") {
                return network_disconnect(d, &r, id).await;
            }
        }
        if m == Method::GET {
            let (net, eps) = d.ctl.network(rest).await.map_err(api_error)?;
            return Ok(json(
                200,
                r.version,
                to_json_body(&convert::network(&net, &eps, r.version)),
            ));
        }
        if m == Method::DELETE {
            d.ctl.delete_network(rest).await.map_err(api_error)?;
            return Ok(empty(204, r.version));
        }
    }
    if path == "/containers/create" && m == Method::POST {
        let req: cnm_api::ContainerCreateRequest = body_json(&r)?;
        let create = convert::container_create(r.query("name").map(str::to_string), req)?;
        let id = d.ctl.create_container(create).await.map_err(api_error)?;
        // The log exists from creation on, so a client can follow it before starting the container.
        let log = d.procs.log_path(&id);
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::File::create(&log);
        let resp = cnm_api::ContainerCreateResponse {
            id,
            warnings: Vec::new(),
        };
        return Ok(json(201, r.version, to_json_body(&resp)));
    }
    if path == "/containers/json" && m == Method::GET {
        return containers_list(d, &r).await;
    }
    if let Some(rest) = path.strip_prefix("/containers/") {
        if m == Method::DELETE {
            return container_remove(d, &r, rest).await;
        }
        if let Some((id, action)) = rest.rsplit_once('/') {
            match (m.clone(), action) {
                (Method::GET, "json") => return container_inspect(d, &r, id).await,
                (Method::POST, "start") => return container_start(d, &r, id).await,
                (Method::POST, "stop") => return container_stop(d, &r, id).await,
                (Method::POST, "kill") => return container_kill(d, &r, id).await,
                (Method::POST, "wait") => return container_wait(d, &r, id).await,
                (Method::GET, "logs") => return container_logs(d, &r, id).await,
                (Method::POST, "exec") => return exec_create(d, &r, id).await,
                (Method::POST, "rename") => {
                    let name = r.query("name").unwrap_or_default().to_string();
                    d.ctl.rename_container(id, &name).await.map_err(api_error)?;
                    return Ok(empty(204, r.version));
                }
                _ => {}
            }
        }
    }
    if let Some(rest) = path.strip_prefix("/exec/") {
        if let Some((id, action)) = rest.rsplit_once('/') {
            match (m.clone(), action) {
                (Method::POST, "start") => return exec_start(d, &r, id).await,
                (Method::GET, "json") => return exec_inspect(&r, d, id),
                _ => {}
            }
        }
    }
    Err(ApiError::not_found("page not found"))
}

/// `HEAD|GET /_ping`: moby answers HEAD with an explicit `Content-Length: 0` and GET with `OK`.
fn ping(head: bool) -> R {
    let b = Response::builder()
        .status(200)
        .header("Api-Version", ApiVersion::CURRENT.to_string())
        .header("Cache-Control", "no-cache, no-store, must-revalidate");
    let b = if head {
        b.header("Content-Length", "0")
    } else {
        b
    };
    b.header("Content-Type", "text/plain; charset=utf-8")
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header("Pragma", "no-cache")
        .header("Server", super::http::server_header())
        .body(full(if head { "" } else { "OK" }))
        .map_err(|e| ApiError::internal(e.to_string()))
}

async fn networks_list(d: &Arc<Daemon>, r: &Req) -> R {
    let f = Filters::parse_opt(r.query("filters"))?;
    f.validate(cnm_api::NETWORK_LIST_FILTERS)?;
    let dangling = f.dangling()?;
    let types = f.network_types()?;
    // Which networks containers use matters only to the dangling filter.
    let used: Vec<String> = match dangling {
        Some(_) => d
            .ctl
            .containers()
            .await
            .into_iter()
            .flat_map(|(c, _)| c.config.networks.into_iter().map(|(id, _)| id))
            .collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for n in d.ctl.networks().await {
        let kind = if n.predefined {
            cnm_api::NetworkType::Builtin
        } else {
            cnm_api::NetworkType::Custom
        };
        let keep = (!f.contains("driver") || f.exact_match("driver", &n.driver))
            && (!f.contains("name") || f.substring_match("name", &n.name))
            && (!f.contains("id") || f.prefix_match("id", &n.id))
            && (!f.contains("scope") || f.exact_match("scope", &n.scope))
            && (!f.contains("label") || f.match_labels("label", &n.labels))
            && (types.is_empty() || types.contains(&kind))
            && dangling.is_none_or(|want| want == (!n.predefined && !used.contains(&n.id)));
        if keep {
            out.push(convert::network(&n, &[], r.version));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(json(200, r.version, to_json_body(&out)))
}

async fn network_create(d: &Arc<Daemon>, r: &Req) -> R {
    let req: cnm_api::NetworkCreateRequest = decode_json_body(&r.body)?;
    let mut create = convert::network_create(req);
    // API 1.44 deprecated `CheckDuplicate`: from there on a name is always checked.
    if r.version >= ApiVersion::V1_44 {
        create.check_duplicate = true;
    }
    let (id, warning) = d.ctl.create_network(create).await.map_err(api_error)?;
    Ok(json(
        201,
        r.version,
        to_json_body(&cnm_api::NetworkCreateResponse { id, warning }),
    ))
}

async fn networks_prune(d: &Arc<Daemon>, r: &Req) -> R {
    let f = Filters::parse_opt(r.query("filters"))?;
    f.validate(cnm_api::NETWORK_PRUNE_FILTERS)?;
    let until = match f.get("until").first() {
        Some(u) => Some(
            cnm_api::parse_go_time(u, std::time::SystemTime::now())
                .map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    if let Some(u) = until {
        // A duration is rounded down to a whole second (as moby does): worth seeing when a prune
        // keeps a network that looked old enough.
        tracing::debug!(until = %u, "network prune: networks created after this stay");
    }
    let removed = d
        .ctl
        .prune_networks(|n| {
            let old_enough = until.is_none_or(|u| convert::created_by(n.created_ns, u));
            old_enough && f.match_prune_labels(&n.labels)
        })
        .await
        .map_err(api_error)?;
    // moby reports every prune, even one that removed nothing; networks free no disk space.
    d.events
        .publish_now("network", "prune", "", &[("reclaimed", "0")]);
    let body = cnm_api::NetworkPruneResponse::from_names(removed);
    Ok(json(200, r.version, to_json_body(&body)))
}

async fn network_connect(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let req: cnm_api::NetworkConnectRequest = decode_json_body(&r.body)?;
    let ep = convert::endpoint_request(req.endpoint_config, true)?;
    d.ctl
        .connect(id, &req.container, ep)
        .await
        .map_err(api_error)?;
    Ok(empty(200, r.version))
}

async fn network_disconnect(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let req: cnm_api::NetworkDisconnectRequest = decode_json_body(&r.body)?;
    d.ctl
        .disconnect(id, &req.container, req.force)
        .await
        .map_err(api_error)?;
    Ok(empty(200, r.version))
}

async fn containers_list(d: &Arc<Daemon>, r: &Req) -> R {
    let all = r.flag("all");
    let mut out = Vec::new();
    let mut ctrs = d.ctl.containers().await;
    ctrs.sort_by_key(|c| std::cmp::Reverse(c.0.created_ns));
    for (c, attached) in &ctrs {
        if !all && !c.is_running() {
            continue;
        }
        out.push(convert::container_summary(c, attached, r.version));
    }
    Ok(json(200, r.version, to_json_body(&out)))
}

async fn container_inspect(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let (c, attached) = d.ctl.container(id).await.map_err(api_error)?;
    let body = convert::container_inspect(
        &c,
        &attached,
        &d.ctl.files_dir(&c.id),
        &d.procs.log_path(&c.id),
        r.version,
    );
    Ok(json(200, r.version, to_json_body(&body)))
}

async fn container_start(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let t0 = std::time::Instant::now();
    let sb = match d.ctl.prepare_start(id).await {
        Ok(sb) => sb,
        Err(cnm_core::CoreError::NotModified(_)) => return Ok(empty(304, r.version)),
        Err(e) => return Err(api_error(e)),
    };
    let sandbox = t0.elapsed();
    let mut timing = format!("sandbox;dur={:.3}", sandbox.as_secs_f64() * 1e3);
    for (name, took) in sb.phases.laps() {
        timing.push_str(&format!(", {name};dur={:.3}", took.as_secs_f64() * 1e3));
    }
    d.procs.start(d, sb).await?;
    let process = t0.elapsed() - sandbox;
    tracing::debug!(
        sandbox_us = sandbox.as_micros() as u64,
        process_us = process.as_micros() as u64,
        "container started"
    );
    // W3C Server-Timing: lets benchmarks tell the networking work from the process start.
    timing.push_str(&format!(", process;dur={:.3}", process.as_secs_f64() * 1e3));
    let mut resp = empty(204, r.version);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&timing) {
        resp.headers_mut().insert("Server-Timing", v);
    }
    Ok(resp)
}

async fn container_stop(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let (c, _) = d.ctl.container(id).await.map_err(api_error)?;
    if !c.is_running() {
        return Ok(empty(304, r.version));
    }
    let t: u64 = r.query("t").and_then(|t| t.parse().ok()).unwrap_or(10);
    Supervisor::signal(c.process.pid, nix::sys::signal::Signal::SIGTERM)?;
    if !Supervisor::wait_stopped(d, &c.id, Some(Duration::from_secs(t))).await {
        Supervisor::signal(c.process.pid, nix::sys::signal::Signal::SIGKILL)?;
        Supervisor::wait_stopped(d, &c.id, Some(Duration::from_secs(10))).await;
    }
    Ok(empty(204, r.version))
}

fn parse_signal(s: Option<&str>) -> Result<nix::sys::signal::Signal, ApiError> {
    let s = s.unwrap_or("SIGKILL");
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| ApiError::bad_request(format!("Invalid signal: {s}")));
    }
    let name = if s.starts_with("SIG") {
        s.to_string()
    } else {
        format!("SIG{s}")
    };
    name.parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid signal: {s}")))
}

async fn container_kill(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let (c, _) = d.ctl.container(id).await.map_err(api_error)?;
    let sig = parse_signal(r.query("signal"))?;
    if !c.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    Supervisor::signal(c.process.pid, sig)?;
    if sig == nix::sys::signal::Signal::SIGKILL {
        Supervisor::wait_stopped(d, &c.id, Some(Duration::from_secs(10))).await;
    }
    Ok(empty(204, r.version))
}

fn wait_response(code: i32, v: ApiVersion) -> Response<Body> {
    json(
        200,
        v,
        to_json_body(&cnm_api::ContainerWaitResponse::new(code as i64, None, v)),
    )
}

async fn container_wait(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let cid = match d.ctl.container(id).await {
        Ok((c, _)) => c.id,
        // Removed right after exiting (--rm): the supervisor still knows the code.
        Err(e) => {
            return d
                .procs
                .exit_code_of(id)
                .map(|code| wait_response(code, r.version))
                .ok_or_else(|| api_error(e))
        }
    };
    Supervisor::wait_stopped(d, &cid, None).await;
    let code = match d.ctl.container(&cid).await {
        Ok((c, _)) => c.process.exit_code,
        Err(_) => d.procs.exit_code_of(&cid).unwrap_or(255),
    };
    Ok(wait_response(code, r.version))
}

async fn container_remove(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let force = r.flag("force");
    let (c, _) = d.ctl.container(id).await.map_err(api_error)?;
    if c.is_running() && force {
        Supervisor::signal(c.process.pid, nix::sys::signal::Signal::SIGKILL)?;
    }
    d.ctl
        .remove_container(&c.id, force)
        .await
        .map_err(api_error)?;
    Ok(empty(204, r.version))
}

async fn container_logs(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let (c, _) = d.ctl.container(id).await.map_err(api_error)?;
    let (stdout, stderr) = (r.flag("stdout"), r.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let path = d.procs.log_path(&c.id);
    let body = Supervisor::logs(
        d.clone(),
        c.id.clone(),
        path,
        r.flag("follow"),
        stdout,
        stderr,
    );
    Ok(text(
        200,
        r.version,
        "application/vnd.docker.multiplexed-stream",
        body,
    ))
}

async fn exec_create(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let (c, _) = d.ctl.container(id).await.map_err(api_error)?;
    if !c.is_running() {
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            c.id
        )));
    }
    let req: cnm_api::ExecCreateRequest = decode_json_body(&r.body)?;
    let cmd = req.cmd.unwrap_or_default();
    if cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let exec_id = cnm_core::ids::new_id();
    let mut env = req.env.unwrap_or_default();
    env.push(format!("HOSTNAME={}", c.hostname()));
    d.procs
        .execs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            exec_id.clone(),
            ExecState {
                container_id: c.id.clone(),
                cmd,
                env,
                running: false,
                exit_code: None,
                pid: 0,
            },
        );
    Ok(json(
        201,
        r.version,
        to_json_body(&cnm_api::ExecCreateResponse { id: exec_id }),
    ))
}

async fn exec_start(d: &Arc<Daemon>, r: &Req, id: &str) -> R {
    let cid = {
        let execs = d.procs.execs.lock().unwrap_or_else(|p| p.into_inner());
        execs
            .get(id)
            .map(|e| e.container_id.clone())
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?
    };
    let (c, _) = d.ctl.container(&cid).await.map_err(api_error)?;
    if !c.is_running() {
        return Err(ApiError::conflict(format!(
            "container {} is not running",
            c.id
        )));
    }
    let body = d
        .procs
        .exec_start(d.clone(), id.to_string(), c.process.pid)?;
    Ok(text(
        200,
        r.version,
        "application/vnd.docker.multiplexed-stream",
        body,
    ))
}

fn exec_inspect(r: &Req, d: &Arc<Daemon>, id: &str) -> R {
    let execs = d.procs.execs.lock().unwrap_or_else(|p| p.into_inner());
    let e = execs
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
    let body = cnm_api::ExecInspect {
        id: id.to_string(),
        running: e.running,
        exit_code: e.exit_code.map(i64::from),
        container_id: e.container_id.clone(),
        pid: e.pid as i64,
        ..Default::default()
    };
    Ok(json(200, r.version, to_json_body(&body)))
}
