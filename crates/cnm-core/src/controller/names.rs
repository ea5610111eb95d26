//! Names: the snapshot the embedded resolvers answer from, the resolvers' life cycle, container rename,
//! and legacy links (`--link`, /etc/hosts entries on the default bridge).

use std::net::IpAddr;
use std::path::Path;

use cnm_store::{Batch, Kind};

use super::containers::valid_container_name;
use super::{Controller, State};
use crate::dns::{resolves_names, DnsContainer, DnsEndpoint, DnsMembership, DnsSandbox};
use crate::error::{CoreError, Result};
use crate::files::{resolver_upstreams, DnsSettings, ResolvConf};
use crate::model::{ContainerRecord, LinkRecord, NetworkRecord, SandboxRecord};

impl State {
    fn sandbox_networks<'a>(
        &'a self,
        sb: &'a SandboxRecord,
    ) -> impl Iterator<Item = &'a NetworkRecord> + 'a {
        sb.endpoints
            .iter()
            .filter_map(|e| self.endpoints.get(e))
            .filter_map(|ep| self.networks.get(&ep.network_id))
            .map(|n| &n.rec)
    }

    /// A sandbox gets the embedded resolver once it is on a network with name resolution.
    pub(crate) fn needs_resolver(&self, sb: &SandboxRecord) -> bool {
        self.sandbox_networks(sb).any(resolves_names)
    }

    fn is_default_bridge(net: &NetworkRecord) -> bool {
        net.predefined && net.driver == "bridge"
    }

    /// The address a sandbox has on the default bridge.
    fn default_bridge_ip(&self, sb: &SandboxRecord) -> Option<IpAddr> {
        sb.endpoints
            .iter()
            .filter_map(|e| self.endpoints.get(e))
            .find(|ep| {
                self.networks
                    .get(&ep.network_id)
                    .is_some_and(|n| Self::is_default_bridge(&n.rec))
            })
            .and_then(|ep| ep.ipv4)
            .map(|n| n.addr())
    }

    /// /etc/hosts lines for the links of a container with sandbox `sb`: `IP  alias hostname name` (the
    /// name only when it is not the alias), for targets that run on the default bridge, as Docker
    /// writes them. Links mean nothing off the default bridge.
    pub(crate) fn link_hosts(
        &self,
        ctr: &ContainerRecord,
        sb: &SandboxRecord,
    ) -> Vec<(String, IpAddr)> {
        if ctr.config.links.is_empty() || self.default_bridge_ip(sb).is_none() {
            return Vec::new();
        }
        ctr.config
            .links
            .iter()
            .filter_map(|l| {
                let target = self.containers.get(&l.target)?;
                let ip = self.default_bridge_ip(target.sandbox.as_ref()?)?;
                let mut names = format!("{} {}", l.alias, target.hostname());
                if l.alias != target.name {
                    names.push(' ');
                    names.push_str(&target.name);
                }
                Some((names, ip))
            })
            .collect()
    }

    /// `NAME[:ALIAS]` references to the containers they name, checked at create.
    pub(crate) fn resolve_links(&self, links: &[String]) -> Result<Vec<LinkRecord>> {
        links
            .iter()
            .map(|l| {
                let (name, alias) = l.split_once(':').unwrap_or((l.as_str(), l.as_str()));
                let name = name.trim_start_matches('/');
                let alias = alias.trim_start_matches('/');
                if name.is_empty() || alias.is_empty() {
                    return Err(CoreError::BadRequest(format!("invalid link: {l}")));
                }
                // Docker answers 400 (not 404, moby#39823) with the lookup's own message appended.
                let target = self.resolve_container(name).map_err(|e| {
                    CoreError::BadRequest(format!("could not get container for {name}: {e}"))
                })?;
                Ok(LinkRecord {
                    target,
                    alias: alias.to_string(),
                })
            })
            .collect()
    }

    /// Docker refuses to start a container whose link target does not run.
    pub(crate) fn check_links_running(&self, ctr: &ContainerRecord) -> Result<()> {
        for l in &ctr.config.links {
            let target = self.containers.get(&l.target);
            if target.is_none_or(|t| t.sandbox.is_none()) {
                let name = target.map(|t| t.name.as_str()).unwrap_or(&l.target);
                // A plain error in Docker, hence 500.
                return Err(CoreError::Internal(format!(
                    "Cannot link to a non running container: /{name} AS /{}/{}",
                    ctr.name, l.alias
                )));
            }
        }
        Ok(())
    }
}

impl Controller {
    /// One container's part of the names: its endpoints on resolving networks and, when its sandbox
    /// resolves names, that resolver's settings. Empty when it has no sandbox.
    fn dns_part(
        &self,
        st: &State,
        ctr: &ContainerRecord,
        host: &mut Option<ResolvConf>,
    ) -> DnsContainer {
        let mut part = DnsContainer::default();
        let Some(sb) = &ctr.sandbox else {
            return part;
        };
        let mut networks = Vec::new();
        for ep in sb.endpoints.iter().filter_map(|e| st.endpoints.get(e)) {
            let Some(net) = st.networks.get(&ep.network_id).map(|n| &n.rec) else {
                continue;
            };
            if !resolves_names(net) {
                continue;
            }
            networks.push(net.id.clone());
            part.endpoints.push(DnsMembership {
                network_id: net.id.clone(),
                network_name: net.name.clone(),
                endpoint: DnsEndpoint::new(ctr, ep),
            });
        }
        if networks.is_empty() {
            return part;
        }
        let host = host.get_or_insert_with(|| self.host_resolv_conf());
        let settings = DnsSettings {
            container_dns: &ctr.config.dns,
            container_search: &ctr.config.dns_search,
            container_options: &ctr.config.dns_options,
            daemon_dns: &self.cfg.daemon_dns,
        };
        part.sandbox = Some((
            sb.id.clone(),
            DnsSandbox {
                networks,
                upstreams: resolver_upstreams(host, &settings),
                forward: st.sandbox_networks(sb).any(|n| !n.internal),
            },
        ));
        part
    }

    /// Publish the current part of one container (after it started, stopped, was renamed, connected
    /// or disconnected; a removed one withdraws everything it had).
    pub(crate) fn publish_dns(&self, st: &State, container_id: &str) {
        self.publish_dns_with(st, container_id, &mut None)
    }

    /// `publish_dns` with the host's resolver configuration, if already read.
    pub(crate) fn publish_dns_with(
        &self,
        st: &State,
        container_id: &str,
        host: &mut Option<ResolvConf>,
    ) {
        let part = match st.containers.get(container_id) {
            Some(ctr) => self.dns_part(st, ctr, host),
            None => DnsContainer::default(),
        };
        self.dns.publish(vec![(container_id.to_string(), part)]);
    }

    /// Publish every container (after a restart), in one step.
    pub(crate) fn publish_all_dns(&self, st: &State) {
        let mut host = None;
        let parts = st
            .containers
            .values()
            .map(|c| (c.id.clone(), self.dns_part(st, c, &mut host)))
            .collect();
        self.dns.publish(parts);
    }

    /// Start the sandbox's resolver if it needs one and has none yet.
    pub(crate) async fn ensure_resolver(&self, st: &State, sb: &SandboxRecord) -> Result<()> {
        if st.needs_resolver(sb) && !self.dns.running(&sb.id) {
            self.dns
                .start(&sb.id, Path::new(&sb.key))
                .await
                .map_err(|e| CoreError::Driver(format!("embedded DNS: {}", e.0)))?;
        }
        Ok(())
    }

    /// After a restart: the sockets of the old process are gone; bind new ones for every running
    /// sandbox that resolves names (the redirect of port 53 is replaced in the same step).
    pub(crate) async fn restart_resolvers(&self, st: &State) {
        let mut live = Vec::new();
        for ctr in st.containers.values() {
            let Some(sb) = &ctr.sandbox else { continue };
            live.push(sb.id.clone());
            if let Err(e) = self.ensure_resolver(st, sb).await {
                tracing::error!(container = %ctr.id, error = %e, "could not restart the resolver");
            }
        }
        self.dns.prune(&live);
    }

    /// Rewrite /etc/hosts of the running containers that link to `target`.
    pub(crate) fn rewrite_linkers(&self, st: &State, target: &str) {
        for c in st.containers.values() {
            // Most containers have no links: test that before comparing ids.
            if c.config.links.is_empty()
                || c.id == target
                || !c.config.links.iter().any(|l| l.target == target)
            {
                continue;
            }
            if let Some(sb) = &c.sandbox {
                if let Err(e) = self.write_files(st, c, sb) {
                    tracing::warn!(container = %c.id, error = %e, "rewriting /etc/hosts failed");
                }
            }
        }
    }

    /// `POST /containers/{id}/rename?name=NEW`: the new name is answered by DNS at once, the old one
    /// no longer; links to the container follow it.
    pub async fn rename_container(&self, reference: &str, new_name: &str) -> Result<()> {
        let mut st = self.state.lock().await;
        let id = st.resolve_container(reference)?;
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name).to_string();
        if new_name.is_empty() {
            return Err(CoreError::BadRequest(
                "Neither old nor new names may be empty".into(),
            ));
        }
        if !valid_container_name(&new_name) {
            return Err(CoreError::BadRequest(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let mut ctr = st
            .containers
            .get(&id)
            .cloned()
            .ok_or_else(|| CoreError::container_not_found(reference))?;
        let old = ctr.name.clone();
        if old == new_name {
            return Err(CoreError::BadRequest(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = st.containers.values().find(|c| c.name == new_name) {
            return Err(CoreError::Conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        ctr.name = new_name.clone();
        let mut batch = Batch::new();
        batch.put(Kind::Container, &id, &ctr)?;
        let mut eps = Vec::new();
        for ep in st.endpoints.values().filter(|e| e.container_id == id) {
            let mut ep = ep.clone();
            ep.name = new_name.clone();
            batch.put(Kind::Endpoint, &ep.id, &ep)?;
            eps.push(ep);
        }
        self.store.commit(batch)?;
        for ep in eps {
            st.endpoints.insert(ep.id.clone(), ep);
        }
        st.containers.insert(id.clone(), ctr);
        self.publish_dns(&st, &id);
        self.rewrite_linkers(&st, &id);
        tracing::info!(container = %id, old = %old, new = %new_name, "container renamed");
        self.emit(
            "container",
            "rename",
            &id,
            &[("name", &new_name), ("oldName", &format!("/{old}"))],
        );
        Ok(())
    }
}
