//! Reading netlink: the messages of a receive buffer and the attributes of a message, for the
//! nf_tables dumps and notifications (`nftdump`, `nftmon`). Nothing here trusts a length: a message or
//! attribute that does not fit ends the walk instead of panicking, since the bytes come from the
//! kernel but a parser bug must not take the daemon down. And writing: building nfnetlink messages and
//! sending them.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{LinuxError, Result};

pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
/// A dump whose data changed while it ran (nf_tables: another transaction committed): start over.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// One message: header fields and what follows the 16-byte `nlmsghdr`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

impl<'a> Msg<'a> {
    /// For nfnetlink messages: the `nfgenmsg` family and the attributes after it.
    pub fn nfgen(&self) -> Option<(u8, &'a [u8])> {
        if self.body.len() < 4 {
            return None;
        }
        Some((self.body[0], &self.body[4..]))
    }

    /// The errno of an `NLMSG_ERROR` (0: an ack).
    pub fn error(&self) -> Option<i32> {
        if self.kind != NLMSG_ERROR || self.body.len() < 4 {
            return None;
        }
        let b = self.body;
        Some(-i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The messages of a receive buffer.
pub(crate) fn messages(mut b: &[u8]) -> impl Iterator<Item = Msg<'_>> {
    std::iter::from_fn(move || {
        if b.len() < 16 {
            return None;
        }
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < 16 || len > b.len() {
            return None;
        }
        let m = Msg {
            kind: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            body: &b[16..len],
        };
        b = &b[align4(len).min(b.len())..];
        Some(m)
    })
}

/// Attributes of a payload as `(type without flags, value)`.
pub(crate) fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let kind = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            return None;
        }
        let value = &b[4..len];
        b = &b[align4(len).min(b.len())..];
        Some((kind, value))
    })
}

pub(crate) fn attr(b: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(b).find(|(k, _)| *k == kind).map(|(_, v)| v)
}

/// A nul-terminated string attribute.
pub(crate) fn attr_str(b: &[u8], kind: u16) -> Option<String> {
    let v = attr(b, kind)?;
    let v = v.split(|c| *c == 0).next().unwrap_or(v);
    Some(String::from_utf8_lossy(v).into_owned())
}

/// A big-endian u32 attribute (nf_tables integers are big-endian).
pub(crate) fn attr_be32(b: &[u8], kind: u16) -> Option<u32> {
    let v = attr(b, kind)?;
    Some(u32::from_be_bytes([
        *v.first()?,
        *v.get(1)?,
        *v.get(2)?,
        *v.get(3)?,
    ]))
}

/// Append an attribute (4-byte aligned).
pub(crate) fn push_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(out.len()), 0);
}

/// One nfnetlink message: header, `nfgenmsg` (family, version 0, resource id), payload.
pub(crate) fn nfnl_message(
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(20 + payload.len());
    let len = u32::try_from(20 + payload.len()).unwrap_or(u32::MAX);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.push(family);
    m.push(0);
    m.extend_from_slice(&res_id.to_be_bytes());
    m.extend_from_slice(payload);
    m.resize(align4(m.len()), 0);
    m
}

/// Send one buffer of netlink messages to the kernel on `sock`; `what` names it in the error.
pub(crate) fn send(sock: &OwnedFd, buf: &[u8], what: &str) -> Result<()> {
    // SAFETY: zeroed sockaddr_nl addresses the kernel (pid 0).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: sendto with a valid buffer and address.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(LinuxError::io(what, std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_attributes_round_trip() {
        let mut p = Vec::new();
        push_attr(&mut p, 1, b"cnm\0");
        push_attr(&mut p, 2, &7u32.to_be_bytes());
        push_attr(&mut p, 3 | 0x8000, &[]);
        let mut buf = nfnl_message(0x0a00, 0, 5, 2, 0, &p);
        buf.extend(nfnl_message(NLMSG_DONE, 0, 6, 0, 0, &[]));
        let msgs: Vec<Msg> = messages(&buf).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!((msgs[0].kind, msgs[0].seq), (0x0a00, 5));
        let (family, a) = msgs[0].nfgen().expect("nfgen");
        assert_eq!(family, 2);
        assert_eq!(attr_str(a, 1).as_deref(), Some("cnm"));
        assert_eq!(attr_be32(a, 2), Some(7));
        assert_eq!(attr(a, 3), Some(&[][..]), "the nested flag is masked off");
        assert_eq!(msgs[1].kind, NLMSG_DONE);
    }

    #[test]
    fn truncated_input_ends_the_walk() {
        let mut p = Vec::new();
        push_attr(&mut p, 1, b"cnm\0");
        let buf = nfnl_message(0x0a00, 0, 5, 2, 0, &p);
        for cut in 0..buf.len() {
            // Never panics; a cut message is not returned.
            assert_eq!(messages(&buf[..cut]).count(), 0, "cut at {cut}");
        }
        // An attribute claiming more than there is.
        let bad = [200u8, 0, 1, 0, b'x'];
        assert_eq!(attrs(&bad).count(), 0);
        assert_eq!(attr_be32(&[8, 0, 1, 0, 0, 0], 1), None);
    }
}
