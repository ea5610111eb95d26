//! rtnetlink operations on one network namespace. A `Netlink` owns a socket opened inside the namespace
//! it talks to; sockets stay bound to their namespace, so a handle for a container namespace is made on
//! a thread that entered it and then used from async code anywhere.

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::Path;

use futures::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::link::{
    InfoBridgePort, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags,
    LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::NeighbourAttribute;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::AddressFamily;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_REQUEST};
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use crate::error::{LinuxError, Result};
use crate::netns::NsThread;

/// A link as seen by `list_links`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    pub master: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: bool,
}

/// A veth pair whose container end is created straight inside another namespace (no move).
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub peer_name: &'a str,
    pub peer_netns: &'a Path,
    pub peer_mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub master: Option<u32>,
    /// Keep IPv6 off on the host end. A bridge port needs no address of its own, and every IPv6-enabled
    /// port adds link-local, prefix and multicast routes that the kernel walks on each later link change,
    /// so attaches would slow down with the number of containers.
    pub host_ipv6_off: bool,
    /// Hairpin mode on the bridge port: a frame may leave by the port it came in. A container reaching
    /// its own published port is translated back to itself while still inside the bridge (br_netfilter),
    /// and the bridge would drop that frame otherwise.
    pub hairpin: bool,
    /// An alias on the host end (`ip link` shows it), set with the bridge-port mode.
    pub host_alias: Option<&'a str>,
}

#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl Netlink {
    /// A socket in the calling thread's namespace (the daemon's host namespace).
    pub fn current() -> Result<Self> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| LinuxError::io("open netlink socket", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// A socket inside the namespace bound at `path`. Blocking setup that must run inside the namespace
    /// (sysctls) can be passed as `prepare`; it runs on the same thread before the socket is opened.
    pub async fn in_netns<F>(path: &Path, prepare: F) -> Result<Self>
    where
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let rt = tokio::runtime::Handle::current();
        let (conn, handle) = NsThread::run(Some(path), move || {
            prepare()?;
            let _guard = rt.enter();
            let (conn, handle, _) = rtnetlink::new_connection()
                .map_err(|e| LinuxError::io("open netlink socket", e))?;
            Ok((conn, handle))
        })
        .await?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn link_by_name(&self, name: &str) -> Result<Option<LinkInfo>> {
        let mut stream = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match stream.try_next().await {
            Ok(Some(msg)) => Ok(Some(link_info(&msg))),
            Ok(None) => Ok(None),
            Err(e) => {
                let err = LinuxError::netlink(format!("get link {name}"), e);
                if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn list_links(&self) -> Result<Vec<LinkInfo>> {
        let msgs: Vec<LinkMessage> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|e| LinuxError::netlink("list links", e))?;
        Ok(msgs.iter().map(link_info).collect())
    }

    /// Create a bridge (down); returns its index. EEXIST is reported as an error with that errno.
    pub async fn create_bridge(&self, name: &str, mac: [u8; 6], mtu: Option<u32>) -> Result<u32> {
        self.create_bridge_with(name, mac, mtu, true).await
    }

    /// `create_bridge`, choosing IGMP/MLD snooping (the kernel's default is on).
    pub async fn create_bridge_with(
        &self,
        name: &str,
        mac: [u8; 6],
        mtu: Option<u32>,
        mcast_snooping: bool,
    ) -> Result<u32> {
        let mut b = LinkBridge::new(name).address(mac.to_vec());
        if let Some(m) = mtu {
            b = b.mtu(m);
        }
        let mut msg = b.build();
        if !mcast_snooping {
            for attr in msg.attributes.iter_mut() {
                if let LinkAttribute::LinkInfo(infos) = attr {
                    infos.push(NlLinkInfo::Data(
                        netlink_packet_route::link::InfoData::Bridge(vec![
                            netlink_packet_route::link::InfoBridge::MulticastSnooping(false),
                        ]),
                    ));
                }
            }
        }
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("create bridge {name}"), e))?;
        self.link_by_name(name)
            .await?
            .map(|l| l.index)
            .ok_or_else(|| LinuxError::NotFound(name.to_string()))
    }

    /// Create a veth pair with the peer placed directly in another namespace, the host end optionally
    /// enslaved to a bridge and up. The peer stays down: the kernel refuses IFF_UP in the peer's header,
    /// so the sandbox side brings it up with its addresses.
    pub async fn create_veth(&self, spec: &VethSpec<'_>) -> Result<()> {
        let ns = std::fs::File::open(spec.peer_netns)
            .map_err(|e| LinuxError::io(format!("open {}", spec.peer_netns.display()), e))?;
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(spec.peer_name.to_string())
            .setns_by_fd(ns.as_raw_fd());
        if let Some(mac) = spec.peer_mac {
            peer = peer.address(mac.to_vec());
        }
        if let Some(mtu) = spec.mtu {
            peer = peer.mtu(mtu);
        }
        let mut host = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(spec.host_name.to_string())
            .set_info_data(netlink_packet_route::link::InfoData::Veth(InfoVeth::Peer(
                peer.build(),
            )));
        if !spec.host_ipv6_off {
            host = host.up();
        }
        if let Some(mtu) = spec.mtu {
            host = host.mtu(mtu);
        }
        // A link with an alias joins the bridge in the message that sets the alias, so no port of the
        // bridge is ever seen without it.
        let late_master = spec.host_alias.is_some();
        if let Some(master) = spec.master.filter(|_| !late_master) {
            host = host.controller(master);
        }
        let res = self.handle.link().add(host.build()).execute().await;
        drop(ns);
        res.map_err(|e| LinuxError::netlink(format!("create veth {}", spec.host_name), e))?;
        if spec.host_ipv6_off {
            // Before the link comes up, so the kernel never configures IPv6 on it.
            crate::sysctl::write_iface("ipv6", spec.host_name, "disable_ipv6", "1")?;
        }
        let hairpin = spec.hairpin && spec.master.is_some();
        if spec.host_ipv6_off || hairpin || late_master {
            // One message: up (when still down), the alias and the bridge (late) or the bridge-port mode.
            let mut msg = LinkUnspec::new_with_name(spec.host_name).up().build();
            if let Some(alias) = spec.host_alias {
                msg.attributes
                    .push(LinkAttribute::IfAlias(alias.to_string()));
            }
            if let Some(master) = spec.master.filter(|_| late_master) {
                msg.attributes.push(LinkAttribute::Controller(master));
            }
            if hairpin && !late_master {
                msg.attributes.push(hairpin_attr());
            }
            self.set_existing(msg, &format!("set {} up", spec.host_name))
                .await?;
        }
        if hairpin && late_master {
            // Bridge-port data applies to a link that is a port already.
            let mut msg = LinkUnspec::new_with_name(spec.host_name).build();
            msg.attributes.push(hairpin_attr());
            self.set_existing(msg, &format!("set hairpin on {}", spec.host_name))
                .await?;
        }
        Ok(())
    }

    /// RTM_NEWLINK on an existing link (no create flags): only that path applies bridge-port data.
    async fn set_existing(&self, msg: LinkMessage, what: &str) -> Result<()> {
        self.handle
            .link()
            .add(msg)
            .set_flags(NLM_F_REQUEST | NLM_F_ACK)
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(what.to_string(), e))
    }

    /// Rename a link that is down and bring it up, in one message (the kernel renames before it applies
    /// the flags).
    pub async fn rename_up(&self, index: u32, name: &str) -> Result<()> {
        self.handle
            .link()
            .set(
                LinkUnspec::new_with_index(index)
                    .name(name.to_string())
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("rename link {index} to {name}"), e))
    }

    /// Drop the alias of the link named `name` (an empty alias removes it).
    pub async fn clear_alias(&self, name: &str) -> Result<()> {
        let mut msg = LinkUnspec::new_with_name(name).build();
        msg.attributes.push(LinkAttribute::IfAlias(String::new()));
        self.set_existing(msg, &format!("clear the alias of {name}"))
            .await
    }

    pub async fn set_up(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("set link {index} up"), e))
    }

    pub async fn delete_link(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("delete link {index}"), e))
    }

    /// Forget the neighbour entry of `ip` on link `index`, if any. A new container may take the address
    /// of one just removed with another (random) MAC; the host would otherwise keep sending to the old
    /// MAC until its entry times out. Nothing to forget is not an error.
    pub async fn forget_neighbour(&self, index: u32, ip: IpAddr) {
        let mut msg = netlink_packet_route::neighbour::NeighbourMessage::default();
        msg.header.family = if ip.is_ipv6() {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        msg.header.ifindex = index;
        msg.attributes
            .push(NeighbourAttribute::Destination(ip.into()));
        let _ = self.handle.neighbours().del(msg).execute().await;
    }

    /// Pin `ip` to `mac` on link `index`: a permanent neighbour entry, made or replaced. The host then
    /// never asks for that address, so it sends no broadcast that a bridge would copy to every port.
    pub async fn pin_neighbour(&self, index: u32, ip: IpAddr, mac: [u8; 6]) -> Result<()> {
        self.handle
            .neighbours()
            .add(index, ip)
            .link_layer_address(&mac)
            .replace()
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("pin neighbour {ip} on link {index}"), e))
    }

    /// Tell the bridge that `mac` is behind its port `port` for good: a static FDB entry, which does
    /// not age out as a learned one does after 300 s of silence. Frames to that MAC are then never
    /// flooded to every port. The entry goes with the port.
    pub async fn pin_port_mac(&self, port: u32, mac: [u8; 6]) -> Result<()> {
        use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourState};
        self.handle
            .neighbours()
            .add_bridge(port, &mac)
            .state(NeighbourState::Noarp)
            .flags(NeighbourFlags::Controller)
            .replace()
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("pin MAC on bridge port {port}"), e))
    }

    /// The addresses with a permanent neighbour entry on link `index`.
    pub async fn pinned_neighbours(&self, index: u32) -> Result<Vec<IpAddr>> {
        use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourState};
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut dump = self
                .handle
                .neighbours()
                .get()
                .set_address_family(family)
                .execute();
            while let Some(msg) = dump
                .try_next()
                .await
                .map_err(|e| LinuxError::netlink("dump neighbours", e))?
            {
                if msg.header.ifindex != index || msg.header.state != NeighbourState::Permanent {
                    continue;
                }
                for a in &msg.attributes {
                    match a {
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                            out.push(IpAddr::V4(*v4))
                        }
                        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                            out.push(IpAddr::V6(*v6))
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }

    /// Add an address; an address that is already there is not an error.
    /// IPv6 addresses skip duplicate address detection (as libnetwork's): addresses come from IPAM, and
    /// DAD would leave a new container's address unusable ("tentative") for its first second or two.
    pub async fn add_address(&self, index: u32, addr: IpNet) -> Result<()> {
        let mut req = self
            .handle
            .address()
            .add(index, addr.addr(), addr.prefix_len());
        if addr.addr().is_ipv6() {
            req.message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        let res = req.execute().await;
        match res {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = LinuxError::netlink(format!("add address {addr}"), e);
                if err.is_exists() {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    pub async fn addresses(&self, index: u32) -> Result<Vec<IpNet>> {
        let msgs: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| LinuxError::netlink("list addresses", e))?;
        let mut out = Vec::new();
        for m in msgs {
            if m.header.index != index {
                continue;
            }
            let addr = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let addr = addr.or_else(|| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            if let Some(ip) = addr {
                if let Ok(net) = IpNet::new(ip, m.header.prefix_len) {
                    out.push(net);
                }
            }
        }
        Ok(out)
    }

    /// Remove one address from an interface; an address that is not there is not an error.
    pub async fn delete_address(&self, index: u32, addr: IpNet) -> Result<()> {
        let msgs: Vec<_> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .set_address_filter(addr.addr())
            .set_prefix_length_filter(addr.prefix_len())
            .execute()
            .try_collect()
            .await
            .map_err(|e| LinuxError::netlink("list addresses", e))?;
        for m in msgs.into_iter().filter(|m| m.header.index == index) {
            self.handle
                .address()
                .del(m)
                .execute()
                .await
                .map_err(|e| LinuxError::netlink(format!("delete address {addr}"), e))?;
        }
        Ok(())
    }

    /// Add (or replace) the default route of one family through `gateway` on interface `oif`.
    pub async fn replace_default_route(&self, gateway: IpAddr, oif: u32) -> Result<()> {
        let msg = default_route(gateway, Some(oif));
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| LinuxError::netlink(format!("default route via {gateway}"), e))
    }

    /// Remove the default route of `gateway`'s family; absent is fine.
    pub async fn delete_default_route(&self, v6: bool) -> Result<()> {
        let msg = if v6 {
            RouteMessageBuilder::<std::net::Ipv6Addr>::new().build()
        } else {
            RouteMessageBuilder::<std::net::Ipv4Addr>::new().build()
        };
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) => {
                let err = LinuxError::netlink("delete default route", e);
                if matches!(
                    err.errno(),
                    Some(nix::errno::Errno::ESRCH) | Some(nix::errno::Errno::ENOENT)
                ) {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

fn default_route(gateway: IpAddr, oif: Option<u32>) -> RouteMessage {
    match gateway {
        IpAddr::V4(gw) => {
            let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new().gateway(gw);
            if let Some(i) = oif {
                b = b.output_interface(i);
            }
            b.build()
        }
        IpAddr::V6(gw) => {
            let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new();
            if let Some(i) = oif {
                b = b.output_interface(i);
            }
            let mut m = b.build();
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet6(gw)));
            m.header.address_family = AddressFamily::Inet6;
            m
        }
    }
}

fn link_info(msg: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        master: None,
        mac: None,
        mtu: None,
        up: msg.header.flags.contains(LinkFlags::Up),
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Controller(m) => info.master = Some(*m),
            LinkAttribute::Mtu(m) => info.mtu = Some(*m),
            LinkAttribute::Address(a) if a.len() == 6 => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(a);
                info.mac = Some(mac);
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let NlLinkInfo::Kind(k) = i {
                        info.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// Hairpin mode on a bridge port.
fn hairpin_attr() -> LinkAttribute {
    LinkAttribute::LinkInfo(vec![
        NlLinkInfo::PortKind(InfoPortKind::Bridge),
        NlLinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ])
}
