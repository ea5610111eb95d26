//! Sandboxes on Linux: one network namespace per sandbox, bound under `<exec-root>/netns`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use cnm_core::driver::{DriverError, DriverResult, Gateways, IfaceConfig, SandboxOs};
use cnm_linux::{netns, sysctl, Netlink};

pub struct LinuxSandboxOs {
    dir: PathBuf,
}

impl LinuxSandboxOs {
    pub fn new(netns_dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&netns_dir)?;
        Ok(LinuxSandboxOs { dir: netns_dir })
    }
}

fn err<E: std::fmt::Display>(e: E) -> DriverError {
    DriverError(e.to_string())
}

#[async_trait]
impl SandboxOs for LinuxSandboxOs {
    async fn create(&self, key: &Path) -> DriverResult<()> {
        netns::create(key).await.map_err(err)
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
        iface: Option<&IfaceConfig>,
        gateways: &Gateways,
    ) -> DriverResult<()> {
        let no_v6 = iface.filter(|i| i.no_ipv6).map(|i| i.ifname.clone());
        let nl = Netlink::in_netns(key, move || {
            // Interfaces with only IPv4 get no IPv6 at all (CVE-2024-32473: no SLAAC/link-local surprises).
            if let Some(ifname) = &no_v6 {
                sysctl::write_iface("ipv6", ifname, "disable_ipv6", "1")?;
            }
            Ok(())
        })
        .await
        .map_err(err)?;
        if let Some(lo) = nl.link_by_name("lo").await.map_err(err)? {
            if !lo.up {
                nl.set_up(lo.index).await.map_err(err)?;
            }
        }
        if let Some(i) = iface {
            let link = nl
                .link_by_name(&i.ifname)
                .await
                .map_err(err)?
                .ok_or_else(|| DriverError(format!("interface {} missing in sandbox", i.ifname)))?;
            for a in &i.addresses {
                nl.add_address(link.index, *a).await.map_err(err)?;
            }
            if !link.up {
                nl.set_up(link.index).await.map_err(err)?;
            }
            return Ok(());
        }
        // Routes only when asked (iface == None): the caller passes the complete wanted set.
        let current = nl.default_routes().await.map_err(err)?;
        for (want, v6) in [(&gateways.v4, false), (&gateways.v6, true)] {
            match want {
                Some((gw, ifname)) => {
                    let link = nl.link_by_name(ifname).await.map_err(err)?.ok_or_else(|| {
                        DriverError(format!("interface {ifname} missing in sandbox"))
                    })?;
                    if !current
                        .iter()
                        .any(|(g, o)| *g == Some(*gw) && *o == Some(link.index))
                    {
                        nl.replace_default_route(*gw, link.index)
                            .await
                            .map_err(err)?;
                    }
                }
                None => {
                    if current
                        .iter()
                        .any(|(g, _)| g.map(|g| g.is_ipv6()) == Some(v6))
                    {
                        nl.delete_default_route(v6).await.map_err(err)?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn remove_iface(&self, key: &Path, ifname: &str) -> DriverResult<()> {
        let nl = Netlink::in_netns(key, || Ok(())).await.map_err(err)?;
        if let Some(l) = nl.link_by_name(ifname).await.map_err(err)? {
            nl.delete_link(l.index).await.map_err(err)?;
        }
        Ok(())
    }
}
