//! nf_tables change notifications, in-process: what `nft monitor` prints, read from a netfilter netlink
//! socket subscribed to the `NFNLGRP_NFTABLES` multicast group of the calling thread's namespace.
//!
//! Every committed transaction is announced as one notification per object it created or deleted
//! (`NFT_MSG_NEWTABLE`, `DELCHAIN`, `DELRULE`, `NEWSETELEM`, … carrying the table, and the chain or set,
//! by name) followed by one `NFT_MSG_NEWGEN` with the new generation id and the pid and name of the
//! process that sent the batch. A rejected transaction announces nothing. Notifications that did not
//! fit into the socket's receive buffer are lost, and the next read says so with `ENOBUFS`
//! ([`Received::Lost`]); the reader must then assume anything changed. The kernel says so once per
//! overflow and drops everything until the queue has been read empty, so a loss is reported only
//! after the queue was drained: whatever the reader checks then, later changes are heard again.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::error::{LinuxError, Result};
use crate::nlmsg;

const NETLINK_NETFILTER: libc::c_int = 12;
const NFNLGRP_NFTABLES: u32 = 7;
pub(crate) const NFNL_SUBSYS_NFTABLES: u16 = 10;

pub(crate) const NFT_MSG_NEWTABLE: u16 = 0;
pub(crate) const NFT_MSG_DELTABLE: u16 = 2;
pub(crate) const NFT_MSG_NEWCHAIN: u16 = 3;
pub(crate) const NFT_MSG_DELCHAIN: u16 = 5;
pub(crate) const NFT_MSG_NEWRULE: u16 = 6;
pub(crate) const NFT_MSG_DELRULE: u16 = 8;
const NFT_MSG_NEWSET: u16 = 9;
const NFT_MSG_DELSET: u16 = 11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
pub(crate) const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_NEWOBJ: u16 = 18;
const NFT_MSG_DELOBJ: u16 = 20;
const NFT_MSG_NEWFLOWTABLE: u16 = 22;
const NFT_MSG_DELFLOWTABLE: u16 = 24;
// `destroy` (delete if present, nft ≥ 1.0.7) has its own message types; kernels announce what it
// removed as deletions, but a parser that knows them cannot be caught out by one that does not.
const NFT_MSG_DESTROYTABLE: u16 = 26;
const NFT_MSG_DESTROYCHAIN: u16 = 27;
const NFT_MSG_DESTROYRULE: u16 = 28;
const NFT_MSG_DESTROYSET: u16 = 29;
const NFT_MSG_DESTROYSETELEM: u16 = 30;
const NFT_MSG_DESTROYOBJ: u16 = 31;
const NFT_MSG_DESTROYFLOWTABLE: u16 = 32;

/// Every object's table name is its attribute 1 (`NFTA_TABLE_NAME`, `NFTA_CHAIN_TABLE`,
/// `NFTA_RULE_TABLE`, `NFTA_SET_TABLE`, `NFTA_SET_ELEM_LIST_TABLE`, `NFTA_OBJ_TABLE`,
/// `NFTA_FLOWTABLE_TABLE`).
const ATTR_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_CHAIN: u16 = 2;
/// `NFTA_SET_NAME`, `NFTA_SET_ELEM_LIST_SET`, `NFTA_OBJ_NAME`, `NFTA_FLOWTABLE_NAME`.
const ATTR_NAME_2: u16 = 2;
const NFTA_GEN_ID: u16 = 1;
const NFTA_GEN_PROC_PID: u16 = 2;
const NFTA_GEN_PROC_NAME: u16 = 3;

pub const NFPROTO_IPV4: u8 = 2;
pub const NFPROTO_IPV6: u8 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    New,
    Del,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Table,
    Chain,
    Rule,
    Set,
    SetElem,
    Obj,
    Flowtable,
}

/// One object a transaction created or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub op: Op,
    pub object: Object,
    /// `NFPROTO_*` of the table.
    pub family: u8,
    pub table: String,
    /// The chain (of a chain or rule) or set (of a set or its elements) or object's name.
    pub name: Option<String>,
}

impl Change {
    /// Whether this touches the table `table` of one of `families`.
    pub fn touches(&self, table: &str, families: &[u8]) -> bool {
        self.table == table && families.contains(&self.family)
    }
}

/// The end of a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub id: u32,
    /// The process that sent the batch (the thread id, as the kernel reports it).
    pub pid: u32,
    pub proc_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Change(Change),
    Generation(Generation),
}

fn classify(msg: u16) -> Option<(Op, Object)> {
    use Object::*;
    use Op::*;
    Some(match msg {
        NFT_MSG_NEWTABLE => (New, Table),
        NFT_MSG_DELTABLE | NFT_MSG_DESTROYTABLE => (Del, Table),
        NFT_MSG_NEWCHAIN => (New, Chain),
        NFT_MSG_DELCHAIN | NFT_MSG_DESTROYCHAIN => (Del, Chain),
        NFT_MSG_NEWRULE => (New, Rule),
        NFT_MSG_DELRULE | NFT_MSG_DESTROYRULE => (Del, Rule),
        NFT_MSG_NEWSET => (New, Set),
        NFT_MSG_DELSET | NFT_MSG_DESTROYSET => (Del, Set),
        NFT_MSG_NEWSETELEM => (New, SetElem),
        NFT_MSG_DELSETELEM | NFT_MSG_DESTROYSETELEM => (Del, SetElem),
        NFT_MSG_NEWOBJ => (New, Obj),
        NFT_MSG_DELOBJ | NFT_MSG_DESTROYOBJ => (Del, Obj),
        NFT_MSG_NEWFLOWTABLE => (New, Flowtable),
        NFT_MSG_DELFLOWTABLE | NFT_MSG_DESTROYFLOWTABLE => (Del, Flowtable),
        _ => return None,
    })
}

/// The nf_tables notifications in a receive buffer, in order; anything else (other subsystems,
/// unknown message types, malformed messages) is skipped.
pub fn parse(buf: &[u8]) -> Vec<Notification> {
    let mut out = Vec::new();
    for m in nlmsg::messages(buf) {
        if m.kind >> 8 != NFNL_SUBSYS_NFTABLES {
            continue;
        }
        let msg = m.kind & 0xff;
        let Some((family, a)) = m.nfgen() else {
            continue;
        };
        if msg == NFT_MSG_NEWGEN {
            let Some(id) = nlmsg::attr_be32(a, NFTA_GEN_ID) else {
                continue;
            };
            out.push(Notification::Generation(Generation {
                id,
                pid: nlmsg::attr_be32(a, NFTA_GEN_PROC_PID).unwrap_or(0),
                proc_name: nlmsg::attr_str(a, NFTA_GEN_PROC_NAME),
            }));
            continue;
        }
        let Some((op, object)) = classify(msg) else {
            continue;
        };
        let Some(table) = nlmsg::attr_str(a, ATTR_TABLE) else {
            continue;
        };
        let name = match object {
            Object::Table => None,
            Object::Chain => nlmsg::attr_str(a, NFTA_CHAIN_NAME),
            Object::Rule => nlmsg::attr_str(a, NFTA_RULE_CHAIN),
            _ => nlmsg::attr_str(a, ATTR_NAME_2),
        };
        out.push(Notification::Change(Change {
            op,
            object,
            family,
            table,
            name,
        }));
    }
    out
}

/// What one read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Notifications(Vec<Notification>),
    /// The kernel dropped notifications (the receive buffer was full): anything may have changed.
    /// What was still queued has been thrown away, so notifications flow again from here on.
    Lost,
}

/// A subscription to nf_tables notifications of the namespace the socket was opened in.
pub struct Monitor {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
}

/// Big enough that one large transaction (a 10,000-port range is thousands of element notifications,
/// batched by the kernel into page-sized messages) does not overflow it while the reader is busy;
/// an overflow is not fatal, only costs an extra check.
const RCVBUF: libc::c_int = 4 << 20;

fn setsockopt_int(fd: &OwnedFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> bool {
    // SAFETY: setsockopt with a properly sized int.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

impl Monitor {
    /// Subscribe in the calling thread's network namespace. Needs CAP_NET_ADMIN and a tokio runtime
    /// (the socket is registered with its reactor).
    pub fn open() -> Result<Monitor> {
        // SAFETY: plain socket(2); the descriptor is owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_NETFILTER,
            )
        };
        if raw < 0 {
            return Err(LinuxError::io(
                "nf_tables monitor socket",
                std::io::Error::last_os_error(),
            ));
        }
        // SAFETY: raw is a fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // RCVBUFFORCE goes past net.core.rmem_max (root only); plain RCVBUF is capped by it.
        if !setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF) {
            setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF);
        }
        // SAFETY: zeroed sockaddr_nl; the kernel picks our port id.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = 1 << (NFNLGRP_NFTABLES - 1);
        // SAFETY: bind with a valid sockaddr_nl.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(LinuxError::io(
                "nf_tables monitor subscription",
                std::io::Error::last_os_error(),
            ));
        }
        // Registering outside a runtime would panic: say so instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(LinuxError::Thread(
                "nf_tables monitor opened outside a tokio runtime".into(),
            ));
        }
        // SAFETY: the AsyncFd owns the descriptor for its whole life.
        let fd =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE | Interest::ERROR) }
                .map_err(|e| LinuxError::io("nf_tables monitor registration", e.into()))?;
        Ok(Monitor {
            fd,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// The next batch of notifications (one datagram), or word that some were lost.
    pub async fn recv(&mut self) -> Result<Received> {
        loop {
            let mut guard = self
                .fd
                .ready(Interest::READABLE | Interest::ERROR)
                .await
                .map_err(|e| LinuxError::io("nf_tables monitor", e))?;
            let buf = &mut self.buf;
            let res = guard.try_io(|fd| recv_from_kernel(fd.get_ref(), buf));
            match res {
                Ok(Ok(Some(n))) => return Ok(Received::Notifications(parse(&self.buf[..n]))),
                // A datagram bigger than the buffer lost its tail.
                Ok(Ok(None)) => return Ok(Received::Lost),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.drain();
                    return Ok(Received::Lost);
                }
                Ok(Err(e)) => return Err(LinuxError::io("nf_tables monitor", e)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Throw away what is queued. After an overflow the kernel drops every notification, without
    /// saying so again, until the queue has been read empty; so the caller's check must come after
    /// this, or a change made meanwhile would go unseen.
    fn drain(&mut self) {
        // Bounded: a queue that refills as fast as it is read must not keep the reader here.
        for _ in 0..100_000 {
            match recv_from_kernel(self.fd.get_ref(), &mut self.buf) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(_) => return,
            }
        }
    }
}

/// Leaves and rejoins the notification group of a [`Monitor`]'s socket (a second descriptor of the
/// same socket, usable from any thread). While no socket of a namespace is in the group, the kernel
/// builds no notifications at all; with one, it builds one per object of every transaction, in the
/// committing process (≈ 3–4 µs per map element here: +30–40 ms for a batch of 10,000).
pub struct Subscription {
    fd: OwnedFd,
}

impl Monitor {
    /// A handle to pause this subscription with.
    pub fn subscription(&self) -> Result<Subscription> {
        let fd = self
            .fd
            .get_ref()
            .try_clone()
            .map_err(|e| LinuxError::io("nf_tables monitor descriptor", e))?;
        Ok(Subscription { fd })
    }
}

impl Subscription {
    fn membership(&self, opt: libc::c_int, what: &str) -> Result<()> {
        let group = NFNLGRP_NFTABLES as libc::c_int;
        if setsockopt_int(&self.fd, libc::SOL_NETLINK, opt, group) {
            return Ok(());
        }
        Err(LinuxError::io(what, std::io::Error::last_os_error()))
    }

    /// Stop receiving (what happens meanwhile is never announced to this socket).
    pub fn pause(&self) -> Result<()> {
        self.membership(libc::NETLINK_DROP_MEMBERSHIP, "nf_tables monitor pause")
    }

    pub fn resume(&self) -> Result<()> {
        self.membership(libc::NETLINK_ADD_MEMBERSHIP, "nf_tables monitor resume")
    }
}

/// One datagram from the kernel: its length, or None when it was truncated. Datagrams from anyone
/// but the kernel (port id 0) are skipped (length 0).
fn recv_from_kernel(fd: &OwnedFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    // SAFETY: zeroed sockaddr_nl to receive the sender into.
    let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: recvfrom into our buffer and address. MSG_TRUNC makes netlink return the datagram's
    // real length, so a truncation is seen.
    let n = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_TRUNC,
            (&mut from as *mut libc::sockaddr_nl).cast(),
            &mut from_len,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let n = n as usize;
    if n > buf.len() {
        return Ok(None);
    }
    if from.nl_pid != 0 {
        return Ok(Some(0));
    }
    Ok(Some(n))
}

#[cfg(test)]
mod tests;
