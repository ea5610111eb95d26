//! Published ports of a sandbox: held on the host when the sandbox is built, programmed on its gateway
//! endpoint, moved when the gateway endpoint changes, let go when the sandbox goes.

use std::net::IpAddr;

use super::{Controller, State};
use crate::error::{CoreError, Result};
use crate::firewall::{mappings, NetFirewall};
use crate::model::{ContainerRecord, NetworkMode, SandboxRecord};
use crate::options;
use crate::ports::PortRequest;

impl Controller {
    /// The requests with the gateway network's default host address (`host_binding_ipv4`) applied.
    fn effective_requests(
        &self,
        st: &State,
        ctr: &ContainerRecord,
        sb: &SandboxRecord,
    ) -> Vec<PortRequest> {
        let binding: Option<IpAddr> = sb
            .gw4_endpoint
            .as_ref()
            .and_then(|e| st.endpoints.get(e))
            .and_then(|ep| st.networks.get(&ep.network_id))
            .and_then(|n| options::BridgeOptions::parse(&n.rec.options, None).ok())
            .map(|o| IpAddr::V4(o.host_binding_ipv4))
            .filter(|ip| !ip.is_unspecified());
        ctr.config
            .ports
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.host_ip.is_none() {
                    r.host_ip = binding;
                }
                r
            })
            .collect()
    }

    /// Hold the host ports (once per sandbox) and program them on the current gateway endpoint.
    /// On failure nothing stays held or programmed.
    pub(crate) async fn sync_ports(
        &self,
        st: &State,
        ctr: &ContainerRecord,
        sb: &mut SandboxRecord,
    ) -> Result<()> {
        if ctr.config.ports.is_empty() || ctr.config.mode != NetworkMode::Networks {
            return Ok(());
        }
        let gw = sb.gw4_endpoint.clone().or_else(|| sb.gw6_endpoint.clone());
        let wrap = |e: String| {
            let (name, ep) = (ctr.name.as_str(), gw.as_deref().unwrap_or(""));
            CoreError::Internal(format!(
                "driver failed programming external connectivity on endpoint {name} ({ep}): {e}"
            ))
        };
        let reqs = self.effective_requests(st, ctr, sb);
        let fresh = sb.ports.host_ports.is_empty();
        if fresh {
            sb.ports.host_ports = self
                .firewall
                .reserve(&ctr.id, &reqs, &[])
                .map_err(|e| wrap(e.to_string()))?;
        }
        let addr = |e: &Option<String>, v6: bool| -> Option<IpAddr> {
            let ep = st.endpoints.get(e.as_ref()?)?;
            let net = if v6 { ep.ipv6 } else { ep.ipv4 }?;
            Some(net.addr())
        };
        let maps = mappings(
            &reqs,
            &sb.ports.host_ports,
            addr(&sb.gw4_endpoint, false),
            addr(&sb.gw6_endpoint, true),
        );
        if maps == sb.ports.mappings {
            return Ok(());
        }
        if let Err(e) = self.firewall.publish(&ctr.id, &maps).await {
            if fresh {
                self.firewall.release(&ctr.id);
                sb.ports.host_ports.clear();
            }
            return Err(wrap(e.0));
        }
        sb.ports.mappings = maps;
        Ok(())
    }

    /// Take a sandbox's ports off the firewall and let the host ports go.
    pub(crate) async fn drop_ports(&self, ctr_id: &str, sb: &mut SandboxRecord) {
        if sb.ports.host_ports.is_empty() && sb.ports.mappings.is_empty() {
            return;
        }
        if let Err(e) = self.firewall.unpublish(ctr_id).await {
            tracing::warn!(container = %ctr_id, error = %e, "removing published ports failed");
        }
        self.firewall.release(ctr_id);
        sb.ports = Default::default();
    }

    /// A restarted daemon holds the recorded host ports again and hands the firewall the whole state.
    pub(crate) async fn restore_firewall(&self, st: &State) {
        let nets: Vec<NetFirewall> = st
            .networks
            .values()
            .filter_map(|n| NetFirewall::of(&n.rec))
            .collect();
        let mut ports = Vec::new();
        for ctr in st.containers.values() {
            let Some(sb) = ctr
                .sandbox
                .as_ref()
                .filter(|sb| !sb.ports.host_ports.is_empty())
            else {
                continue;
            };
            let reqs = self.effective_requests(st, ctr, sb);
            if let Err(e) = self.firewall.reserve(&ctr.id, &reqs, &sb.ports.host_ports) {
                tracing::error!(container = %ctr.id, error = %e, "cannot hold the published ports again");
            }
            ports.push((ctr.id.clone(), sb.ports.mappings.clone()));
        }
        if let Err(e) = self.firewall.restore(&nets, &ports).await {
            tracing::error!(error = %e, "programming the firewall failed");
        }
    }
}
