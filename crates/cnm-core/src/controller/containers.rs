//! Containers and their sandboxes: create records the intent; start builds the sandbox (namespace,
//! endpoints, routes, files) for the daemon to run the process in; exit and remove tear it down.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use cnm_store::{Batch, Kind};

use super::{Controller, State};
use crate::driver::ReadyEndpoint;
use crate::error::{CoreError, Result};
use crate::files::{
    render_host_mode_hosts, render_hosts, render_resolv_internal, render_resolv_legacy,
    DnsSettings, ResolvConf,
};
use crate::ids::{new_id, random_name, short};
use crate::model::{
    now_ns, ContainerConfig, ContainerRecord, EndpointRecord, EndpointRequest, NetworkMode,
    NetworkRecord, ProcessState, RunState, SandboxRecord,
};
use crate::phases::Phases;

/// A validated-at-the-edge container create.
#[derive(Debug, Clone, Default)]
pub struct ContainerCreate {
    pub name: Option<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: String,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// `default`, `bridge`, `host`, `none` or a network reference.
    pub network_mode: String,
    /// Extra networks (reference → request); the one named by `network_mode` may appear here too.
    pub networks: Vec<(String, EndpointRequest)>,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<(String, IpAddr)>,
    pub auto_remove: bool,
    /// `--link NAME[:ALIAS]`.
    pub links: Vec<String>,
    /// Published ports (`-p`), parsed at the API edge.
    pub ports: Vec<crate::ports::PortRequest>,
    /// `Config.ExposedPorts` keys plus the published ones (`80/tcp`).
    pub exposed_ports: Vec<String>,
}

/// One network of a container, with its endpoint when the container has a sandbox.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub network: NetworkRecord,
    pub endpoint: Option<EndpointRecord>,
}

/// What the daemon needs to start the process of a container whose sandbox is ready.
#[derive(Debug, Clone)]
pub struct StartedSandbox {
    pub id: String,
    pub netns: Option<PathBuf>,
    pub hostname: String,
    pub hosts_path: PathBuf,
    pub resolv_path: PathBuf,
    pub hostname_path: PathBuf,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// Where the time of building the sandbox went (`Server-Timing`).
    pub phases: Phases,
}

pub(super) fn valid_container_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

impl Controller {
    pub async fn create_container(&self, req: ContainerCreate) -> Result<String> {
        let mut st = self.state.lock().await;
        if req.cmd.is_empty() {
            return Err(CoreError::BadRequest("no command specified".into()));
        }
        let name = match &req.name {
            Some(n) if !n.is_empty() => {
                let n = n.strip_prefix('/').unwrap_or(n).to_string();
                if !valid_container_name(&n) {
                    return Err(CoreError::BadRequest(format!(
                        "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                    )));
                }
                if let Some(other) = st.containers.values().find(|c| c.name == n) {
                    return Err(CoreError::Conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    )));
                }
                n
            }
            _ => loop {
                let n = random_name();
                if !st.containers.values().any(|c| c.name == n) {
                    break n;
                }
            },
        };
        let mode_text = if req.network_mode.is_empty() {
            "default".to_string()
        } else {
            req.network_mode.clone()
        };
        let primary = if mode_text == "default" {
            "bridge".to_string()
        } else {
            mode_text.clone()
        };
        if primary.starts_with("container:") {
            return Err(CoreError::BadRequest(
                "network mode container:<id> is not supported yet".into(),
            ));
        }
        let primary_id = st.resolve_network(&primary)?;
        let primary_rec = st
            .networks
            .get(&primary_id)
            .map(|n| n.rec.clone())
            .ok_or_else(|| CoreError::network_not_found(&primary))?;
        let mode = match primary_rec.driver.as_str() {
            "host" => NetworkMode::Host,
            "null" => NetworkMode::None,
            _ => NetworkMode::Networks,
        };
        let mut networks: Vec<(String, EndpointRequest)> = Vec::new();
        let primary_req = req
            .networks
            .iter()
            .find(|(r, _)| st.resolve_network(r).ok().as_deref() == Some(primary_id.as_str()))
            .map(|(_, q)| q.clone())
            .unwrap_or_default();
        networks.push((primary_id.clone(), primary_req));
        for (r, q) in &req.networks {
            let id = st.resolve_network(r)?;
            if networks.iter().any(|(n, _)| *n == id) {
                continue;
            }
            if mode != NetworkMode::Networks {
                return Err(CoreError::BadRequest(format!(
                    "Container cannot be connected to network endpoints: {}",
                    req.networks
                        .iter()
                        .map(|(r, _)| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let drv = st
                .networks
                .get(&id)
                .map(|n| n.rec.driver.clone())
                .unwrap_or_default();
            if drv == "host" || drv == "null" {
                return Err(CoreError::BadRequest(format!(
                    "Container cannot be connected to network endpoints: {primary}, {r}"
                )));
            }
            networks.push((id, q.clone()));
        }
        for (id, q) in &networks {
            let Some(n) = st.networks.get(id) else {
                continue;
            };
            check_endpoint_request(&n.rec, q)?;
        }
        let links = st.resolve_links(&req.links)?;
        let rec = ContainerRecord {
            id: new_id(),
            name,
            created_ns: now_ns(),
            config: ContainerConfig {
                cmd: req.cmd,
                env: req.env,
                hostname: req.hostname.filter(|h| !h.is_empty()),
                domainname: req.domainname,
                working_dir: req.working_dir,
                labels: req.labels,
                network_mode_text: mode_text,
                mode,
                networks,
                dns: req.dns,
                dns_search: req.dns_search,
                dns_options: req.dns_options,
                extra_hosts: req.extra_hosts,
                auto_remove: req.auto_remove,
                links,
                ports: req.ports,
                exposed_ports: req.exposed_ports,
            },
            process: ProcessState {
                state: RunState::Created,
                pid: 0,
                shim_pid: 0,
                exit_code: 0,
                error: String::new(),
                started_ns: 0,
                finished_ns: 0,
            },
            sandbox: None,
        };
        self.store.put(Kind::Container, &rec.id, &rec)?;
        let id = rec.id.clone();
        tracing::info!(container = %id, name = %rec.name, "container created");
        self.emit("container", "create", &id, &[("name", &rec.name)]);
        st.containers.insert(id.clone(), rec);
        Ok(id)
    }

    /// Build the sandbox of a created or exited container. The process is started by the caller, which
    /// then reports `set_running` or `start_failed`.
    pub async fn prepare_start(&self, reference: &str) -> Result<StartedSandbox> {
        let mut phases = Phases::start();
        let mut st = self.state.lock().await;
        phases.lap("lock");
        let id = st.resolve_container(reference)?;
        let mut ctr = st
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| CoreError::container_not_found(reference))?;
        if ctr.is_running() || ctr.sandbox.is_some() {
            return Err(CoreError::NotModified("container already started".into()));
        }
        st.check_links_running(&ctr)?;
        let sandbox_id = new_id();
        let key = match ctr.config.mode {
            NetworkMode::Host => self.cfg.netns_dir().join("default"),
            _ => self.cfg.netns_dir().join(short(&sandbox_id)),
        };
        let mut sb = SandboxRecord {
            id: sandbox_id,
            key: key.display().to_string(),
            endpoints: Vec::new(),
            next_iface: 0,
            gw4_endpoint: None,
            gw6_endpoint: None,
            ports: Default::default(),
        };
        let mut ready = None;
        if ctr.config.mode != NetworkMode::Host {
            ready = self.take_ready(&st, &ctr, &key);
            if ready.is_none() {
                self.os
                    .create(&key)
                    .await
                    .map_err(|e| CoreError::Driver(e.0))?;
            }
        }
        phases.lap(if ready.is_some() { "ready" } else { "netns" });
        // Read once for the container's resolv.conf and its resolver's upstreams.
        let mut host_rc = Some(self.host_resolv_conf());
        let mut res = self
            .build_sandbox(&mut st, &mut ctr, &mut sb, ready, &host_rc, &mut phases)
            .await;
        if res.is_ok() {
            res = self.ensure_resolver(&st, &sb).await;
            phases.lap("dns");
        }
        if res.is_ok() {
            res = self.sync_ports(&st, &ctr, &mut sb).await;
            phases.lap("ports");
        }
        if let Err(e) = res {
            self.drop_ports(&ctr.id, &mut sb).await;
            self.dns.stop(&sb.id);
            self.teardown_endpoints(&mut st, &mut sb, true).await;
            if ctr.config.mode != NetworkMode::Host {
                let _ = self.os.destroy(&key);
            }
            return Err(e);
        }
        ctr.sandbox = Some(sb.clone());
        let mut batch = Batch::new();
        batch.put(Kind::Container, &ctr.id, &ctr)?;
        for e in &sb.endpoints {
            if let Some(ep) = st.endpoints.get(e) {
                batch.put(Kind::Endpoint, e, ep)?;
            }
        }
        if let Err(e) = self.store.commit(batch) {
            self.drop_ports(&ctr.id, &mut sb).await;
            self.dns.stop(&sb.id);
            self.teardown_endpoints(&mut st, &mut sb, true).await;
            if ctr.config.mode != NetworkMode::Host {
                let _ = self.os.destroy(&key);
            }
            return Err(e.into());
        }
        phases.lap("store");
        if ctr.config.mode != NetworkMode::Host {
            self.os.replenish();
            self.replenish_ready(&st, &ctr);
        }
        let dir = self.cfg.files_dir(&ctr.id);
        let started = StartedSandbox {
            id: ctr.id.clone(),
            netns: (ctr.config.mode != NetworkMode::Host).then(|| key.clone()),
            hostname: self.hostname_of(&ctr),
            hosts_path: dir.join("hosts"),
            resolv_path: dir.join("resolv.conf"),
            hostname_path: dir.join("hostname"),
            cmd: ctr.config.cmd.clone(),
            env: ctr.config.env.clone(),
            working_dir: ctr.config.working_dir.clone(),
            phases: Phases::default(),
        };
        for e in &sb.endpoints {
            if let Some(ep) = st.endpoints.get(e) {
                if let Some(n) = st.networks.get(&ep.network_id) {
                    self.emit_network("connect", &n.rec, &ctr.id);
                }
            }
        }
        let id = ctr.id.clone();
        st.containers.insert(id.clone(), ctr);
        self.publish_dns_with(&st, &id, &mut host_rc);
        self.rewrite_linkers(&st, &id);
        phases.lap("names");
        Ok(StartedSandbox { phases, ..started })
    }

    fn remove_container_dirs(&self, id: &str) {
        let _ = std::fs::remove_dir_all(self.cfg.files_dir(id));
        let _ = std::fs::remove_dir_all(self.cfg.data_dir(id));
    }

    /// Where a container's /etc files are (for inspect's `HostsPath` and friends).
    pub fn files_dir(&self, id: &str) -> PathBuf {
        self.cfg.files_dir(id)
    }

    fn hostname_of(&self, ctr: &ContainerRecord) -> String {
        match (ctr.config.mode, &ctr.config.hostname) {
            (_, Some(h)) => h.clone(),
            (NetworkMode::Host, None) => nix_hostname(),
            _ => short(&ctr.id).to_string(),
        }
    }

    /// The network a new sandbox's first interface (`eth0`) is on, when the driver may have made that
    /// interface ahead of time: not with a requested MAC, which the ready one would not have.
    fn first_network<'a>(st: &'a State, ctr: &ContainerRecord) -> Option<&'a NetworkRecord> {
        let (net_id, req) = ctr.config.networks.first()?;
        if req.mac.is_some() {
            return None;
        }
        st.networks.get(net_id).map(|n| &n.rec)
    }

    /// A namespace with the first endpoint's interface already in it, bound at `key`, if the driver has
    /// one ready.
    fn take_ready(&self, st: &State, ctr: &ContainerRecord, key: &Path) -> Option<ReadyEndpoint> {
        let net = Self::first_network(st, ctr)?;
        self.driver(&net.driver).ok()?.take_ready(net, key)
    }

    /// Let the first network's driver make the next sandbox's interface ahead of time.
    fn replenish_ready(&self, st: &State, ctr: &ContainerRecord) {
        if let Some(net) = Self::first_network(st, ctr) {
            if let Ok(d) = self.driver(&net.driver) {
                d.replenish(net);
            }
        }
    }

    async fn build_sandbox(
        &self,
        st: &mut State,
        ctr: &mut ContainerRecord,
        sb: &mut SandboxRecord,
        mut ready: Option<ReadyEndpoint>,
        host_rc: &Option<ResolvConf>,
        phases: &mut Phases,
    ) -> Result<()> {
        let nets = ctr.config.networks.clone();
        let prepared = ready.as_ref().map(|r| r.endpoint_id.clone());
        let mut joined = Vec::new();
        for (net_id, req) in &nets {
            joined.push(self.attach(st, ctr, sb, net_id, req, ready.take()).await?);
            phases.lap("join");
        }
        let joined: Vec<&EndpointRecord> = joined.iter().collect();
        self.apply_sandbox(st, sb, &joined, prepared.as_deref(), false)
            .await?;
        phases.lap("configure");
        self.write_files_with(st, ctr, sb, host_rc)?;
        phases.lap("files");
        Ok(())
    }

    /// Write hosts, resolv.conf and hostname for a container (also after connect/disconnect).
    pub(crate) fn write_files(
        &self,
        st: &State,
        ctr: &ContainerRecord,
        sb: &SandboxRecord,
    ) -> Result<()> {
        self.write_files_with(st, ctr, sb, &None)
    }

    /// `write_files` with the host's resolver configuration already read (None: read it here).
    fn write_files_with(
        &self,
        st: &State,
        ctr: &ContainerRecord,
        sb: &SandboxRecord,
        host_rc: &Option<ResolvConf>,
    ) -> Result<()> {
        let dir = self.cfg.files_dir(&ctr.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CoreError::Internal(format!("create {}: {e}", dir.display())))?;
        let hostname = self.hostname_of(ctr);
        let eps: Vec<(&EndpointRecord, &NetworkRecord)> = sb
            .endpoints
            .iter()
            .filter_map(|e| st.endpoints.get(e))
            .filter_map(|ep| st.networks.get(&ep.network_id).map(|n| (ep, &n.rec)))
            .collect();
        let hosts = if ctr.config.mode == NetworkMode::Host {
            let host = std::fs::read_to_string(&self.cfg.host_hosts).unwrap_or_default();
            render_host_mode_hosts(&host, &ctr.config.extra_hosts)
        } else {
            let own: Vec<IpAddr> = eps
                .iter()
                .flat_map(|(ep, _)| [ep.ipv4, ep.ipv6])
                .flatten()
                .map(|n| n.addr())
                .collect();
            let mut extra = ctr.config.extra_hosts.clone();
            extra.extend(st.link_hosts(ctr, sb));
            render_hosts(&extra, &own, &hostname, &ctr.config.domainname)
        };
        let host_rc = match host_rc {
            Some(rc) => std::borrow::Cow::Borrowed(rc),
            None => std::borrow::Cow::Owned(self.host_resolv_conf()),
        };
        let dns = DnsSettings {
            container_dns: &ctr.config.dns,
            container_search: &ctr.config.dns_search,
            container_options: &ctr.config.dns_options,
            daemon_dns: &self.cfg.daemon_dns,
        };
        let internal_resolver = eps.iter().any(|(_, n)| n.is_user_defined());
        let resolv = if internal_resolver {
            render_resolv_internal(&host_rc, &dns)
        } else {
            render_resolv_legacy(&host_rc, &dns, ctr.config.mode == NetworkMode::Host)
        };
        write_in_place(&dir.join("hosts"), &hosts)?;
        write_in_place(&dir.join("resolv.conf"), &resolv)?;
        write_in_place(&dir.join("hostname"), &format!("{hostname}\n"))?;
        Ok(())
    }

    /// The host's resolver configuration: systemd-resolved's real upstream file when the stub is all the
    /// main file names.
    pub fn host_resolv_conf(&self) -> ResolvConf {
        let read = |p: &Path| ResolvConf::parse(&std::fs::read_to_string(p).unwrap_or_default());
        let main = read(&self.cfg.host_resolv_conf);
        let stub = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 53));
        if main.nameservers == [stub] {
            let real = &self.cfg.systemd_resolv_conf;
            if real.exists() {
                return read(real);
            }
        }
        main
    }

    pub(crate) async fn teardown_endpoints(
        &self,
        st: &mut State,
        sb: &mut SandboxRecord,
        going: bool,
    ) {
        let eps: Vec<EndpointRecord> = sb
            .endpoints
            .iter()
            .filter_map(|e| st.endpoints.get(e).cloned())
            .collect();
        for ep in eps.iter().rev() {
            self.detach(st, ep, Path::new(&sb.key), going).await;
            if let Some(n) = st.networks.get(&ep.network_id) {
                self.emit_network("disconnect", &n.rec, &ep.container_id);
            }
        }
        sb.endpoints.clear();
    }

    /// The process of a prepared container is running.
    pub async fn set_running(&self, id: &str, pid: u32, shim_pid: u32) -> Result<()> {
        let mut st = self.state.lock().await;
        let ctr = st
            .containers
            .get_mut(id)
            .ok_or_else(|| CoreError::container_not_found(id))?;
        ctr.process = ProcessState {
            state: RunState::Running,
            pid,
            shim_pid,
            exit_code: 0,
            error: String::new(),
            started_ns: now_ns(),
            finished_ns: 0,
        };
        self.store.put(Kind::Container, id, &*ctr)?;
        self.emit("container", "start", id, &[("name", &ctr.name)]);
        Ok(())
    }

    /// The process could not be started: undo the sandbox and remember why.
    pub async fn start_failed(&self, id: &str, error: &str, exit_code: i32) -> Result<()> {
        self.finish(id, exit_code, error, RunState::Created)
            .await
            .map(|_| ())
    }

    /// The process exited (seen by the supervisor). Returns true when the container was auto-removed.
    pub async fn container_exited(&self, id: &str, exit_code: i32) -> Result<bool> {
        self.finish(id, exit_code, "", RunState::Exited).await
    }

    async fn finish(&self, id: &str, exit_code: i32, error: &str, state: RunState) -> Result<bool> {
        let mut st = self.state.lock().await;
        let Some(mut ctr) = st.containers.get(id).cloned() else {
            return Ok(false);
        };
        let dropped = self.drop_sandbox(&mut st, &mut ctr).await;
        ctr.process.state = state;
        ctr.process.pid = 0;
        ctr.process.shim_pid = 0;
        ctr.process.exit_code = exit_code;
        ctr.process.error = error.to_string();
        ctr.process.finished_ns = now_ns();
        let mut batch = Batch::new();
        for e in &dropped {
            batch.delete(Kind::Endpoint, e);
        }
        let removed = ctr.config.auto_remove && state == RunState::Exited;
        if removed {
            batch.delete(Kind::Container, id);
        } else {
            batch.put(Kind::Container, id, &ctr)?;
        }
        self.store.commit(batch)?;
        if state == RunState::Exited {
            self.emit(
                "container",
                "die",
                id,
                &[("name", &ctr.name), ("exitCode", &exit_code.to_string())],
            );
        }
        if removed {
            st.containers.remove(id);
            self.remove_container_dirs(id);
            self.emit("container", "destroy", id, &[("name", &ctr.name)]);
        } else {
            st.containers.insert(id.to_string(), ctr);
        }
        self.publish_dns(&st, id);
        self.rewrite_linkers(&st, id);
        Ok(removed)
    }

    /// Leave every endpoint and drop the namespace; returns the removed endpoint ids.
    async fn drop_sandbox(&self, st: &mut State, ctr: &mut ContainerRecord) -> Vec<String> {
        let Some(mut sb) = ctr.sandbox.take() else {
            return Vec::new();
        };
        let ids = sb.endpoints.clone();
        self.drop_ports(&ctr.id, &mut sb).await;
        self.dns.stop(&sb.id);
        self.teardown_endpoints(st, &mut sb, true).await;
        if ctr.config.mode != NetworkMode::Host {
            if let Err(e) = self.os.destroy(Path::new(&sb.key)) {
                tracing::warn!(container = %ctr.id, error = %e, "removing the sandbox namespace failed");
            }
        }
        ids
    }

    /// Remove a container. A running one needs `force` (the daemon kills its process first).
    pub async fn remove_container(&self, reference: &str, force: bool) -> Result<()> {
        let mut st = self.state.lock().await;
        let id = st.resolve_container(reference)?;
        let Some(mut ctr) = st.containers.get(&id).cloned() else {
            return Err(CoreError::container_not_found(reference));
        };
        if ctr.is_running() && !force {
            return Err(CoreError::Conflict(format!(
                "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                ctr.name
            )));
        }
        let dropped = self.drop_sandbox(&mut st, &mut ctr).await;
        let mut batch = Batch::new();
        for e in &dropped {
            batch.delete(Kind::Endpoint, e);
        }
        batch.delete(Kind::Container, &id);
        self.store.commit(batch)?;
        st.containers.remove(&id);
        self.publish_dns(&st, &id);
        self.rewrite_linkers(&st, &id);
        self.remove_container_dirs(&id);
        tracing::info!(container = %id, "container removed");
        self.emit("container", "destroy", &id, &[("name", &ctr.name)]);
        Ok(())
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect(&self, net_ref: &str, ctr_ref: &str, req: EndpointRequest) -> Result<()> {
        let mut st = self.state.lock().await;
        let net_id = st.resolve_network(net_ref)?;
        let id = st.resolve_container(ctr_ref)?;
        let mut ctr = st
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| CoreError::container_not_found(ctr_ref))?;
        let net = st
            .networks
            .get(&net_id)
            .map(|n| n.rec.clone())
            .ok_or_else(|| CoreError::network_not_found(net_ref))?;
        if net.driver == "host" || ctr.config.mode == NetworkMode::Host {
            return Err(CoreError::BadRequest(if net.driver == "host" {
                "container cannot be disconnected from host network or connected to host network"
                    .into()
            } else {
                "container sharing network namespace with another container or host cannot be connected to any other network".into()
            }));
        }
        if net.driver == "null" || ctr.config.mode == NetworkMode::None {
            return Err(CoreError::BadRequest(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode".into(),
            ));
        }
        check_endpoint_request(&net, &req)?;
        if ctr.config.networks.iter().any(|(n, _)| *n == net_id) {
            return Err(CoreError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                ctr.name, net.name
            )));
        }
        ctr.config.networks.push((net_id.clone(), req.clone()));
        let mut batch = Batch::new();
        if let Some(mut sb) = ctr.sandbox.clone() {
            let ep = self
                .attach(&mut st, &ctr, &mut sb, &net_id, &req, None)
                .await?;
            let mut applied = self.apply_sandbox(&st, &mut sb, &[&ep], None, false).await;
            if applied.is_ok() {
                applied = self.ensure_resolver(&st, &sb).await;
            }
            if applied.is_ok() {
                applied = self.sync_ports(&st, &ctr, &mut sb).await;
            }
            let res = applied.and_then(|()| {
                ctr.sandbox = Some(sb.clone());
                self.write_files(&st, &ctr, &sb)?;
                batch.put(Kind::Endpoint, &ep.id, &ep)?;
                Ok(())
            });
            if let Err(e) = res {
                sb.endpoints.retain(|x| *x != ep.id);
                self.detach(&mut st, &ep, Path::new(&sb.key), false).await;
                let _ = self.apply_sandbox(&st, &mut sb, &[], None, false).await;
                return Err(e);
            }
        }
        batch.put(Kind::Container, &ctr.id, &ctr)?;
        self.store.commit(batch)?;
        self.emit_network("connect", &net, &ctr.id);
        let id = ctr.id.clone();
        st.containers.insert(id.clone(), ctr);
        self.publish_dns(&st, &id);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect(&self, net_ref: &str, ctr_ref: &str, force: bool) -> Result<()> {
        let mut st = self.state.lock().await;
        let net_id = st.resolve_network(net_ref)?;
        let net = st
            .networks
            .get(&net_id)
            .map(|n| n.rec.clone())
            .ok_or_else(|| CoreError::network_not_found(net_ref))?;
        let id = match st.resolve_container(ctr_ref) {
            Ok(id) => id,
            Err(e) => {
                // A forced disconnect of an unknown container cleans a dangling endpoint by name.
                if force {
                    let stale: Vec<EndpointRecord> = st
                        .endpoints
                        .values()
                        .filter(|e| e.network_id == net_id && e.name == ctr_ref)
                        .cloned()
                        .collect();
                    if !stale.is_empty() {
                        let mut batch = Batch::new();
                        for ep in &stale {
                            st.release_addresses(ep);
                            st.endpoints.remove(&ep.id);
                            batch.delete(Kind::Endpoint, &ep.id);
                        }
                        self.store.commit(batch)?;
                        return Ok(());
                    }
                }
                return Err(e);
            }
        };
        let mut ctr = st
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| CoreError::container_not_found(ctr_ref))?;
        // moby refuses only a host-mode container; any other is "not connected" to host (below).
        if net.driver == "host" && ctr.config.mode == NetworkMode::Host {
            return Err(CoreError::BadRequest(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            ));
        }
        if !ctr.config.networks.iter().any(|(n, _)| *n == net_id) {
            return Err(CoreError::Internal(format!(
                "container {} is not connected to network {}",
                ctr.id, net.name
            )));
        }
        let mut batch = Batch::new();
        if let Some(mut sb) = ctr.sandbox.clone() {
            let ep = sb
                .endpoints
                .iter()
                .filter_map(|e| st.endpoints.get(e))
                .find(|e| e.network_id == net_id)
                .cloned();
            if let Some(ep) = ep {
                self.detach(&mut st, &ep, Path::new(&sb.key), false).await;
                sb.endpoints.retain(|x| *x != ep.id);
                batch.delete(Kind::Endpoint, &ep.id);
            }
            if let Err(e) = self.apply_sandbox(&st, &mut sb, &[], None, false).await {
                tracing::warn!(container = %ctr.id, error = %e, "re-selecting the gateway failed");
            }
            if let Err(e) = self.sync_ports(&st, &ctr, &mut sb).await {
                tracing::warn!(container = %ctr.id, error = %e, "moving the published ports failed");
            }
            ctr.config.networks.retain(|(n, _)| *n != net_id);
            ctr.sandbox = Some(sb.clone());
            self.write_files(&st, &ctr, &sb)?;
        } else {
            ctr.config.networks.retain(|(n, _)| *n != net_id);
        }
        batch.put(Kind::Container, &ctr.id, &ctr)?;
        self.store.commit(batch)?;
        self.emit_network("disconnect", &net, &ctr.id);
        let id = ctr.id.clone();
        st.containers.insert(id.clone(), ctr);
        self.publish_dns(&st, &id);
        self.rewrite_linkers(&st, &id);
        Ok(())
    }

    /// Directories a container's mount namespace drops (see `SandboxOs::private_dirs`).
    pub fn private_dirs(&self) -> Vec<PathBuf> {
        self.os.private_dirs()
    }

    /// A container with its endpoints (and their networks).
    pub async fn container(&self, reference: &str) -> Result<(ContainerRecord, Vec<Attachment>)> {
        let st = self.state.lock().await;
        let id = st.resolve_container(reference)?;
        let ctr = st
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| CoreError::container_not_found(reference))?;
        let att = attachments(&st, &ctr);
        Ok((ctr, att))
    }

    pub async fn containers(&self) -> Vec<(ContainerRecord, Vec<Attachment>)> {
        let st = self.state.lock().await;
        st.containers
            .values()
            .map(|c| (c.clone(), attachments(&st, c)))
            .collect()
    }
}

/// Docker's checks of what an endpoint asks for against its network (create and connect).
fn check_endpoint_request(net: &NetworkRecord, req: &EndpointRequest) -> Result<()> {
    if (req.ipv4.is_some() || req.ipv6.is_some()) && !net.has_user_subnet() {
        return Err(CoreError::BadRequest(if net.predefined {
            "user specified IP address is supported on user defined networks only".into()
        } else {
            "user specified IP address is supported only when connecting to networks with user configured subnets"
                .into()
        }));
    }
    if !req.aliases.is_empty() && net.predefined {
        return Err(CoreError::BadRequest(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    Ok(())
}

/// A container's configured networks in connect order, each with its endpoint while the container runs.
fn attachments(st: &State, ctr: &ContainerRecord) -> Vec<Attachment> {
    let eps: Vec<&EndpointRecord> = ctr
        .sandbox
        .as_ref()
        .map(|sb| {
            sb.endpoints
                .iter()
                .filter_map(|e| st.endpoints.get(e))
                .collect()
        })
        .unwrap_or_default();
    ctr.config
        .networks
        .iter()
        .filter_map(|(net_id, _)| {
            let network = st.networks.get(net_id)?.rec.clone();
            let endpoint = eps
                .iter()
                .find(|e| e.network_id == *net_id)
                .map(|e| (*e).clone());
            Some(Attachment { network, endpoint })
        })
        .collect()
}

fn nix_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Replace a file's content in place. Running containers see the file through a bind mount of that very
/// inode, which a rename would leave behind; a file made for a container that has not started yet is
/// read by nobody until it is complete, and a start after a crash writes it again.
fn write_in_place(path: &Path, content: &str) -> Result<()> {
    std::fs::write(path, content)
        .map_err(|e| CoreError::Internal(format!("write {}: {e}", path.display())))
}
