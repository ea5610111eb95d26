//! Sandboxes on Linux: one network namespace per sandbox, bound under `<exec-root>/netns`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use cnm_core::driver::{
    DriverError, DriverResult, IfaceConfig, RouteChange, RouteUpdate, SandboxOs,
};
use cnm_linux::{netns, sysctl, Netlink};

use crate::spares::SparePool;

pub struct LinuxSandboxOs {
    dir: PathBuf,
    spares: Arc<SparePool>,
    /// Other directories of namespace files (ready endpoints).
    more_private: Vec<PathBuf>,
}

impl LinuxSandboxOs {
    /// Sandboxes bound under `netns_dir`, with `spares` namespaces made ahead of time in `spare_dir`.
    pub fn new(netns_dir: PathBuf, spare_dir: PathBuf, spares: usize) -> DriverResult<Self> {
        netns::prepare_dir(&netns_dir).map_err(err)?;
        let spares = SparePool::new(spare_dir, spares).map_err(err)?;
        Ok(LinuxSandboxOs {
            dir: netns_dir,
            spares,
            more_private: Vec::new(),
        })
    }

    /// Another directory of namespace files that container mount namespaces must drop.
    pub fn with_private_dir(mut self, dir: PathBuf) -> Self {
        self.more_private.push(dir);
        self
    }

    /// Drop the spare namespaces (daemon shutdown).
    pub fn drop_spares(&self) {
        self.spares.drain();
    }
}

fn err<E: std::fmt::Display>(e: E) -> DriverError {
    DriverError(e.to_string())
}

#[async_trait]
impl SandboxOs for LinuxSandboxOs {
    async fn create(&self, key: &Path) -> DriverResult<()> {
        if self.spares.take_into(key) {
            return Ok(());
        }
        netns::create(key).await.map_err(err)
    }

    fn replenish(&self) {
        self.spares.replenish();
    }

    fn private_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.dir.clone(), self.spares.dir().to_path_buf()];
        dirs.extend(self.more_private.iter().cloned());
        dirs
    }

    fn destroy(&self, key: &Path) -> DriverResult<()> {
        netns::remove(key).map_err(err)
    }

    fn exists(&self, key: &Path) -> bool {
        netns::is_bound(key)
    }

    fn list(&self) -> Vec<String> {
        netns::list(&self.dir)
            .into_iter()
            .filter(|n| n != "default")
            .collect()
    }

    async fn configure(
        &self,
        key: &Path,
        ifaces: &[IfaceConfig],
        routes: &RouteUpdate,
    ) -> DriverResult<()> {
        if ifaces.is_empty() && *routes == RouteUpdate::NONE {
            return Ok(());
        }
        let no_v6: Vec<(String, String)> = ifaces
            .iter()
            .filter(|i| i.no_ipv6 && !i.prepared)
            .map(|i| (i.staged_name.clone(), i.ifname.clone()))
            .collect();
        let nl = Netlink::in_netns(key, move || {
            // Interfaces with only IPv4 get no IPv6 at all (CVE-2024-32473: no SLAAC/link-local surprises).
            // Written before the interface comes up, under its staging name; an interface that already
            // has its final name (restore) had this done when it was made.
            for (staged, ifname) in &no_v6 {
                match sysctl::write_iface("ipv6", staged, "disable_ipv6", "1") {
                    Err(e) if e.is_not_found() => {
                        sysctl::write_iface("ipv6", ifname, "disable_ipv6", "1")?
                    }
                    other => other?,
                }
            }
            Ok(())
        })
        .await
        .map_err(err)?;
        let mut index: HashMap<String, u32> = HashMap::new();
        for i in ifaces {
            let staged_link = if i.prepared {
                None
            } else {
                nl.link_by_name(&i.staged_name).await.map_err(err)?
            };
            let (link, staged) = match staged_link {
                Some(l) => (l, true),
                None => (
                    nl.link_by_name(&i.ifname)
                        .await
                        .map_err(err)?
                        .ok_or_else(|| {
                            DriverError(format!("interface {} missing in sandbox", i.ifname))
                        })?,
                    false,
                ),
            };
            for a in &i.addresses {
                nl.add_address(link.index, *a).await.map_err(err)?;
            }
            // A container's first packet out would otherwise be an ARP broadcast for its gateway, copied
            // to every port of the bridge; pinned, it never asks. Best effort: it can still ask.
            for (ip, mac) in &i.neighbours {
                if let Err(e) = nl.pin_neighbour(link.index, *ip, *mac).await {
                    tracing::warn!(gateway = %ip, error = %e, "could not pin the gateway's neighbour entry");
                }
            }
            if staged {
                nl.rename_up(link.index, &i.ifname).await.map_err(err)?;
            } else if !link.up {
                nl.set_up(link.index).await.map_err(err)?;
            }
            index.insert(i.ifname.clone(), link.index);
        }
        for (change, v6) in [(&routes.v4, false), (&routes.v6, true)] {
            match change {
                RouteChange::Unchanged => {}
                RouteChange::Remove => nl.delete_default_route(v6).await.map_err(err)?,
                RouteChange::Set(gw, ifname) => {
                    let idx = match index.get(ifname) {
                        Some(i) => *i,
                        None => {
                            nl.link_by_name(ifname)
                                .await
                                .map_err(err)?
                                .ok_or_else(|| {
                                    DriverError(format!("interface {ifname} missing in sandbox"))
                                })?
                                .index
                        }
                    };
                    nl.replace_default_route(*gw, idx).await.map_err(err)?;
                }
            }
        }
        Ok(())
    }
}
