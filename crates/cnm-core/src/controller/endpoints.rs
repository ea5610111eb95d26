//! Endpoints: IPAM address → driver join (interface created inside the sandbox) → addresses and routes →
//! gateway selection. Leave reverses it. Each helper undoes its own work when a later step fails.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::{Controller, State};
use crate::driver::{Gateways, IfaceConfig, ReadyEndpoint, RouteUpdate};
use crate::error::{CoreError, Result};
use crate::ids::{new_id, random_mac, veth_name};
use crate::model::{
    ContainerRecord, EndpointRecord, EndpointRequest, NetworkRecord, SandboxRecord,
};

fn prefix_net(ip: IpAddr, subnet: &IpNet) -> IpNet {
    IpNet::new(ip, subnet.prefix_len()).unwrap_or(*subnet)
}

impl State {
    /// Take the endpoint's addresses from IPAM (static ones if asked for; requests were checked against
    /// the network when the container was created or connected).
    pub(crate) fn allocate_addresses(
        &mut self,
        net_id: &str,
        req: &EndpointRequest,
    ) -> Result<(Option<IpNet>, Option<IpNet>)> {
        let net = self
            .networks
            .get_mut(net_id)
            .ok_or_else(|| CoreError::network_not_found(net_id))?;
        let mut taken: Vec<(usize, IpAddr)> = Vec::new();
        let mut out = (None, None);
        let res = (|| -> Result<()> {
            for (want, v6) in [(req.ipv4, false), (req.ipv6, true)] {
                let idxs: Vec<usize> = net
                    .rec
                    .subnets
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.subnet.addr().is_ipv6() == v6)
                    .map(|(i, _)| i)
                    .collect();
                if idxs.is_empty() {
                    if let Some(ip) = want {
                        return Err(CoreError::Internal(format!(
                            "Invalid address {ip}: It does not belong to any of this network's subnets"
                        )));
                    }
                    continue;
                }
                let got = match want {
                    Some(ip) => {
                        let Some(&i) = idxs
                            .iter()
                            .find(|&&i| net.rec.subnets[i].subnet.contains(&ip))
                        else {
                            return Err(CoreError::Internal(format!(
                                "Invalid address {ip}: It does not belong to any of this network's subnets"
                            )));
                        };
                        net.pools[i].reserve(ip)?;
                        (i, ip)
                    }
                    None => {
                        let mut last = None;
                        let mut found = None;
                        for &i in &idxs {
                            match net.pools[i].allocate() {
                                Ok(ip) => {
                                    found = Some((i, ip));
                                    break;
                                }
                                Err(e) => last = Some(e),
                            }
                        }
                        match (found, last) {
                            (Some(f), _) => f,
                            (None, Some(e)) => {
                                return Err(CoreError::Internal(format!(
                                    "{e}: {} ({})",
                                    net.rec.name, net.rec.id
                                )))
                            }
                            (None, None) => continue,
                        }
                    }
                };
                taken.push(got);
                let n = prefix_net(got.1, &net.rec.subnets[got.0].subnet);
                if v6 {
                    out.1 = Some(n);
                } else {
                    out.0 = Some(n);
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            for (i, ip) in taken {
                net.pools[i].release(ip);
            }
            return Err(e);
        }
        Ok(out)
    }

    pub(crate) fn release_addresses(&mut self, ep: &EndpointRecord) {
        let Some(net) = self.networks.get_mut(&ep.network_id) else {
            return;
        };
        for addr in [ep.ipv4, ep.ipv6].into_iter().flatten() {
            for (i, s) in net.rec.subnets.iter().enumerate() {
                if s.subnet.contains(&addr.addr()) {
                    net.pools[i].release(addr.addr());
                }
            }
        }
    }

    /// The default routes the sandbox has now, from the gateway endpoints it recorded; an endpoint that
    /// is gone took its route with its interface.
    pub(crate) fn gateways_in_place(&self, sandbox: &SandboxRecord) -> Gateways {
        let route = |ep: &Option<String>, v6: bool| {
            let ep = self.endpoints.get(ep.as_deref()?)?;
            let net = &self.networks.get(&ep.network_id)?.rec;
            let gw = if v6 { net.gateway6() } else { net.gateway4() }?;
            Some((gw, ep.ifname.clone()))
        };
        Gateways {
            v4: route(&sandbox.gw4_endpoint, false),
            v6: route(&sandbox.gw6_endpoint, true),
        }
    }

    /// Docker's rule for the default route: highest gw-priority, then network name, among endpoints of
    /// non-internal networks that have a gateway of that family.
    pub(crate) fn select_gateways(
        &self,
        sandbox: &SandboxRecord,
    ) -> (Gateways, Option<String>, Option<String>) {
        let mut cands: Vec<(&EndpointRecord, &NetworkRecord)> = sandbox
            .endpoints
            .iter()
            .filter_map(|id| self.endpoints.get(id))
            .filter_map(|ep| self.networks.get(&ep.network_id).map(|n| (ep, &n.rec)))
            .filter(|(ep, n)| !n.internal && !ep.ifname.is_empty())
            .collect();
        cands.sort_by(|a, b| {
            b.0.gw_priority
                .cmp(&a.0.gw_priority)
                .then_with(|| a.1.name.cmp(&b.1.name))
        });
        let mut gws = Gateways::default();
        let (mut e4, mut e6) = (None, None);
        for (ep, n) in &cands {
            if gws.v4.is_none() && ep.ipv4.is_some() {
                if let Some(gw) = n.gateway4() {
                    gws.v4 = Some((gw, ep.ifname.clone()));
                    e4 = Some(ep.id.clone());
                }
            }
            if gws.v6.is_none() && ep.ipv6.is_some() {
                if let Some(gw) = n.gateway6() {
                    gws.v6 = Some((gw, ep.ifname.clone()));
                    e6 = Some(ep.id.clone());
                }
            }
        }
        (gws, e4, e6)
    }
}

impl Controller {
    /// Attach a started container's sandbox to one network. On error nothing of the attach remains.
    /// `ready`: the sandbox namespace came with this endpoint's interface in it (`take_ready`).
    pub(crate) async fn attach(
        &self,
        st: &mut State,
        ctr: &ContainerRecord,
        sandbox: &mut SandboxRecord,
        net_id: &str,
        req: &EndpointRequest,
        ready: Option<ReadyEndpoint>,
    ) -> Result<EndpointRecord> {
        let net = st
            .networks
            .get(net_id)
            .ok_or_else(|| CoreError::network_not_found(net_id))?
            .rec
            .clone();
        if sandbox
            .endpoints
            .iter()
            .filter_map(|e| st.endpoints.get(e))
            .any(|e| e.network_id == net.id)
        {
            return Err(CoreError::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                ctr.name, net.name
            )));
        }
        let driver = self.driver(&net.driver)?;
        let (ipv4, ipv6) = st.allocate_addresses(&net.id, req)?;
        let with_iface = driver.needs_sandbox_iface();
        let (id, made_mac) = match ready {
            Some(r) => (r.endpoint_id, Some(r.mac)),
            None => (new_id(), None),
        };
        let from_ready = made_mac.is_some();
        let prefix = driver.iface_prefix(&net);
        let ep = EndpointRecord {
            id: id.clone(),
            network_id: net.id.clone(),
            container_id: ctr.id.clone(),
            name: ctr.name.clone(),
            ifname: if with_iface {
                format!("{prefix}{}", sandbox.next_iface)
            } else {
                String::new()
            },
            host_ifname: if with_iface {
                Some(veth_name(&id))
            } else {
                None
            },
            mac: if with_iface {
                Some(req.mac.or(made_mac).unwrap_or_else(random_mac))
            } else {
                None
            },
            ipv4,
            ipv6,
            static_ipv4: req.ipv4,
            static_ipv6: req.ipv6,
            requested_mac: req.mac,
            aliases: req.aliases.clone(),
            links: req.links.clone(),
            gw_priority: req.gw_priority,
            ipam_config: req.ipam_config.clone(),
            driver_opts: req.driver_opts.clone(),
            via_connect: req.via_connect,
        };
        if with_iface {
            let joined = if from_ready {
                driver.join_ready(&net, &ep).await
            } else {
                driver.join(&net, &ep, Path::new(&sandbox.key)).await
            };
            if let Err(e) = joined {
                st.release_addresses(&ep);
                return Err(CoreError::Driver(e.0));
            }
            sandbox.next_iface += 1;
        }
        sandbox.endpoints.push(ep.id.clone());
        st.endpoints.insert(ep.id.clone(), ep.clone());
        Ok(ep)
    }

    /// Detach an endpoint: remove its interface unless the whole sandbox goes, free its addresses.
    pub(crate) async fn detach(
        &self,
        st: &mut State,
        ep: &EndpointRecord,
        key: &Path,
        sandbox_going: bool,
    ) {
        if let Some(net) = st.networks.get(&ep.network_id).map(|n| n.rec.clone()) {
            if let Ok(driver) = self.driver(&net.driver) {
                if let Err(e) = driver.leave(&net, ep, key, sandbox_going).await {
                    tracing::warn!(endpoint = %ep.id, error = %e, "leave failed");
                }
            }
        }
        st.release_addresses(ep);
        st.endpoints.remove(&ep.id);
    }

    /// The endpoint network's gateways with the MAC its driver keeps them behind (none when the driver
    /// does not keep it fixed).
    fn gateway_neighbours(&self, st: &State, ep: &EndpointRecord) -> Vec<(IpAddr, [u8; 6])> {
        let Some(net) = st.networks.get(&ep.network_id) else {
            return Vec::new();
        };
        let Some(mac) = self
            .driver(&net.rec.driver)
            .ok()
            .and_then(|d| d.gateway_mac(&net.rec))
        else {
            return Vec::new();
        };
        let families = [ep.ipv4.is_some(), ep.ipv6.is_some()];
        net.rec
            .subnets
            .iter()
            .filter(|s| families[usize::from(s.subnet.addr().is_ipv6())])
            .filter_map(|s| s.gateway)
            .map(|g| (g, mac))
            .collect()
    }

    /// One visit to the sandbox's namespace: addresses for the interfaces just joined, then the default
    /// routes moved to the gateway endpoints Docker's rule selects now. `prepared`: the endpoint whose
    /// interface came ready (named, up, sysctls written). `force_routes` reinstalls the routes whatever
    /// the record says is in place (restore).
    pub(crate) async fn apply_sandbox(
        &self,
        st: &State,
        sandbox: &mut SandboxRecord,
        joined: &[&EndpointRecord],
        prepared: Option<&str>,
        force_routes: bool,
    ) -> Result<()> {
        let (wanted, e4, e6) = st.select_gateways(sandbox);
        if sandbox.key.ends_with("/default") {
            return Ok(());
        }
        let ifaces: Vec<IfaceConfig> = joined
            .iter()
            .filter(|ep| !ep.ifname.is_empty())
            .map(|ep| IfaceConfig {
                ifname: ep.ifname.clone(),
                staged_name: crate::ids::staging_ifname(&ep.id),
                addresses: [ep.ipv4, ep.ipv6].into_iter().flatten().collect(),
                no_ipv6: ep.ipv6.is_none(),
                prepared: prepared == Some(ep.id.as_str()),
                neighbours: self.gateway_neighbours(st, ep),
            })
            .collect();
        let routes = if force_routes {
            RouteUpdate::force(&wanted)
        } else {
            RouteUpdate::between(&st.gateways_in_place(sandbox), &wanted)
        };
        self.os
            .configure(Path::new(&sandbox.key), &ifaces, &routes)
            .await
            .map_err(|e| CoreError::Driver(e.0))?;
        sandbox.gw4_endpoint = e4;
        sandbox.gw6_endpoint = e6;
        Ok(())
    }
}
