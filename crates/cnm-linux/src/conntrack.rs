//! Deleting conntrack entries over ctnetlink, in the daemon's process: what `conntrack -D -p udp
//! --orig-port-dst P` does, for a whole set of ports at once.
//!
//! The kernel cannot delete by port (a delete without a tuple flushes the table, filtered by mark at
//! most), so this dumps the table once (`IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`, both families), picks
//! the entries whose original tuple is UDP to one of the ports, and sends one `IPCTNL_MSG_CT_DELETE`
//! per entry with that tuple (and zone), all in one buffer. One socket and a few system calls, where
//! a `conntrack` process per port cost 2–3 ms each (1000 processes for a 1000-port UDP range).
//!
//! Wire format (linux/netfilter/nfnetlink_conntrack.h): `nlmsghdr`, `nfgenmsg`, then attributes;
//! `CTA_TUPLE_ORIG` nests `CTA_TUPLE_IP` and `CTA_TUPLE_PROTO` (`CTA_PROTO_NUM`, the ports in network
//! byte order).

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{LinuxError, Result};
use crate::nlmsg::{self, attr, push_attr, NLMSG_DONE, NLMSG_ERROR};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;

const IPPROTO_UDP: u8 = 17;

/// The UDP destination port of an entry's original tuple.
fn udp_dst_port(orig: &[u8]) -> Option<u16> {
    let proto = attr(orig, CTA_TUPLE_PROTO)?;
    if attr(proto, CTA_PROTO_NUM)?.first() != Some(&IPPROTO_UDP) {
        return None;
    }
    let p = attr(proto, CTA_PROTO_DST_PORT)?;
    Some(u16::from_be_bytes([*p.first()?, *p.get(1)?]))
}

/// One ctnetlink message: header, `nfgenmsg` (family, version 0, resource id 0), payload.
fn message(kind: u16, flags: u16, seq: u32, family: u8, payload: &[u8]) -> Vec<u8> {
    nlmsg::nfnl_message(
        (NFNL_SUBSYS_CTNETLINK << 8) | kind,
        flags,
        seq,
        family,
        0,
        payload,
    )
}

fn recv(sock: &OwnedFd, buf: &mut [u8], what: &str) -> Result<usize> {
    // SAFETY: recv into our buffer.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(LinuxError::io(what, std::io::Error::last_os_error()));
    }
    Ok(n as usize)
}

/// Delete the conntrack entries, IPv4 and IPv6, whose original direction is UDP to one of `ports`
/// (in the calling thread's network namespace). Returns how many were deleted; an entry that went
/// away between the dump and its delete is not an error.
pub fn delete_udp_by_dst_port(ports: &BTreeSet<u16>) -> Result<usize> {
    if ports.is_empty() {
        return Ok(0);
    }
    let sock = crate::nftnl::netfilter_socket("ctnetlink socket")?;
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    nlmsg::send(
        &sock,
        &message(IPCTNL_MSG_CT_GET, flags, 1, libc::AF_UNSPEC as u8, &[]),
        "ctnetlink dump",
    )?;
    // The matching entries' delete messages, built while the dump streams in.
    let mut deletes: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    'dump: loop {
        let n = recv(&sock, &mut buf, "ctnetlink dump")?;
        let mut b = &buf[..n];
        if b.is_empty() {
            break;
        }
        while b.len() >= 16 {
            let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let kind = u16::from_ne_bytes([b[4], b[5]]);
            if len < 16 || len > b.len() {
                break;
            }
            let msg = &b[..len];
            b = &b[((len + 3) & !3).min(b.len())..];
            match kind {
                NLMSG_DONE => break 'dump,
                NLMSG_ERROR => {
                    let code = msg
                        .get(16..20)
                        .map_or(0, |c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
                    if code != 0 {
                        return Err(LinuxError::Errno {
                            op: "ctnetlink dump".into(),
                            errno: nix::errno::Errno::from_raw(-code),
                        });
                    }
                    break 'dump;
                }
                _ if msg.len() >= 20 => {
                    let family = msg[16];
                    let payload = &msg[20..];
                    let Some(orig) = attr(payload, CTA_TUPLE_ORIG) else {
                        continue;
                    };
                    if !udp_dst_port(orig).is_some_and(|p| ports.contains(&p)) {
                        continue;
                    }
                    let mut p = Vec::with_capacity(orig.len() + 16);
                    push_attr(&mut p, CTA_TUPLE_ORIG | NLA_F_NESTED, orig);
                    if let Some(zone) = attr(payload, CTA_ZONE) {
                        push_attr(&mut p, CTA_ZONE, zone);
                    }
                    count += 1;
                    let seq = u32::try_from(count + 1).unwrap_or(u32::MAX);
                    deletes.extend(message(
                        IPCTNL_MSG_CT_DELETE,
                        (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16,
                        seq,
                        family,
                        &p,
                    ));
                }
                _ => {}
            }
        }
    }
    if count == 0 {
        return Ok(0);
    }
    // Send in slices of whole messages the socket takes at once; each gets an ack (or ENOENT).
    let mut rest = &deletes[..];
    let mut acked = 0usize;
    let mut deleted = 0usize;
    while !rest.is_empty() {
        let mut cut = 0;
        while cut < rest.len() && cut < 32 * 1024 {
            let len = u32::from_ne_bytes([rest[cut], rest[cut + 1], rest[cut + 2], rest[cut + 3]]);
            cut += len as usize;
        }
        let in_slice = count_messages(&rest[..cut]);
        nlmsg::send(&sock, &rest[..cut], "ctnetlink delete")?;
        rest = &rest[cut..];
        let mut want = in_slice;
        while want > 0 {
            let n = recv(&sock, &mut buf, "ctnetlink delete ack")?;
            for code in acks(&buf[..n]) {
                want = want.saturating_sub(1);
                acked += 1;
                match code {
                    0 => deleted += 1,
                    // Gone already (expired, or deleted by someone else).
                    c if c == -libc::ENOENT => {}
                    c => {
                        return Err(LinuxError::Errno {
                            op: "ctnetlink delete".into(),
                            errno: nix::errno::Errno::from_raw(-c),
                        })
                    }
                }
            }
        }
    }
    debug_assert_eq!(acked, count);
    Ok(deleted)
}

fn count_messages(mut b: &[u8]) -> usize {
    let mut n = 0;
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < 16 || len > b.len() {
            break;
        }
        n += 1;
        b = &b[len..];
    }
    n
}

/// The error codes of the `NLMSG_ERROR`s (acks: 0) in a receive buffer.
fn acks(mut b: &[u8]) -> Vec<i32> {
    let mut out = Vec::new();
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let kind = u16::from_ne_bytes([b[4], b[5]]);
        if len < 16 || len > b.len() {
            break;
        }
        if kind == NLMSG_ERROR && len >= 20 {
            out.push(i32::from_ne_bytes([b[16], b[17], b[18], b[19]]));
        }
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_nest_and_pad() {
        let mut proto = Vec::new();
        push_attr(&mut proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
        push_attr(&mut proto, 2, &4000u16.to_be_bytes());
        push_attr(&mut proto, CTA_PROTO_DST_PORT, &5353u16.to_be_bytes());
        let mut orig = Vec::new();
        push_attr(&mut orig, 1 | NLA_F_NESTED, &[0; 12]);
        push_attr(&mut orig, CTA_TUPLE_PROTO | NLA_F_NESTED, &proto);
        assert_eq!(orig.len() % 4, 0);
        assert_eq!(udp_dst_port(&orig), Some(5353));
        let mut tcp = Vec::new();
        push_attr(&mut tcp, CTA_PROTO_NUM, &[6]);
        push_attr(&mut tcp, CTA_PROTO_DST_PORT, &5353u16.to_be_bytes());
        let mut orig_tcp = Vec::new();
        push_attr(&mut orig_tcp, CTA_TUPLE_PROTO | NLA_F_NESTED, &tcp);
        assert_eq!(udp_dst_port(&orig_tcp), None);
        let m = message(IPCTNL_MSG_CT_DELETE, 1, 7, 2, &orig);
        assert_eq!(count_messages(&m), 1);
        assert_eq!(m.len(), 20 + orig.len());
    }

    /// Real entries in a namespace of this test's own: UDP flows to two ports, one of which is
    /// flushed; the other, and a TCP-free table otherwise, stay (needs root and nf_conntrack).
    #[test]
    fn udp_entries_to_the_given_ports_go_and_others_stay() {
        // SAFETY: unshare of the calling thread's network namespace only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "this test needs root (unshare CLONE_NEWNET)");
        let st = std::process::Command::new("sh")
            .args([
                "-c",
                "ip link set lo up && nft add table ip t && \
                 nft 'add chain ip t c { type filter hook output priority 0; }' && \
                 nft add rule ip t c ct state new counter",
            ])
            .status()
            .expect("sh");
        assert!(st.success(), "cannot make conntrack track this namespace");
        let send_to = |port: u16| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
            s.send_to(b"x", ("127.0.0.1", port)).expect("send");
        };
        for p in [40001u16, 40002, 40003] {
            send_to(p);
        }
        let entries = || {
            let out = std::process::Command::new("conntrack")
                .args(["-L", "-p", "udp"])
                .output()
                .expect("conntrack");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let before = entries();
        assert!(
            before.contains("dport=40001") && before.contains("dport=40003"),
            "{before}"
        );
        let gone =
            delete_udp_by_dst_port(&[40001u16, 40003].into_iter().collect()).expect("delete");
        assert_eq!(gone, 2);
        let after = entries();
        assert!(!after.contains("dport=40001"), "{after}");
        assert!(!after.contains("dport=40003"), "{after}");
        assert!(after.contains("dport=40002"), "{after}");
        assert_eq!(
            delete_udp_by_dst_port(&[40001u16].into_iter().collect()).expect("none"),
            0
        );
    }
}
