//! Batched UDP: up to `BATCH` queries read with one `recvmmsg(2)` and their answers sent with one
//! `sendmmsg(2)`. Under load the socket holds several queries at once (a client such as dnsperf keeps
//! up to 100 in flight), and the two system calls per query were most of the resolver's cost once
//! answering itself got cheap (see docs/performance.md, Embedded DNS).
//!
//! The buffers are per worker thread (`with_batch`), not per sandbox: a batch is received, answered
//! and sent without an await in between, so one set serves every sandbox's socket on that thread and
//! a resolver costs no buffer memory of its own.

use std::cell::RefCell;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Queries read per system call.
pub const BATCH: usize = 16;
/// Largest query read (EDNS clients may send big ones; DNS queries are small).
pub const SLOT: usize = 4096;

pub struct Batch {
    bufs: Box<[[u8; SLOT]]>,
    names: [libc::sockaddr_storage; BATCH],
    name_lens: [libc::socklen_t; BATCH],
    lens: [usize; BATCH],
    hdrs: [libc::mmsghdr; BATCH],
    iovs: [libc::iovec; BATCH],
    /// The answer to each received query (empty: none to send from here).
    pub replies: [Vec<u8>; BATCH],
    got: usize,
}

thread_local! {
    static BATCH_BUFFERS: RefCell<Option<Box<Batch>>> = const { RefCell::new(None) };
}

/// Run `f` with this thread's batch buffers (made on first use).
pub fn with_batch<R>(f: impl FnOnce(&mut Batch) -> R) -> R {
    BATCH_BUFFERS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let b = slot.get_or_insert_with(|| Box::new(Batch::new()));
        f(b)
    })
}

fn to_socket_addr(ss: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    match ss.ss_family as libc::c_int {
        libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and it is large enough.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

impl Batch {
    fn new() -> Self {
        // SAFETY: sockaddr_storage, mmsghdr and iovec are plain C structs for which all-zero bytes
        // are valid values (null pointers, zero lengths).
        let (names, hdrs, iovs) = unsafe { (zeroed(), zeroed(), zeroed()) };
        Batch {
            bufs: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
            names,
            name_lens: [0; BATCH],
            lens: [0; BATCH],
            hdrs,
            iovs,
            replies: Default::default(),
            got: 0,
        }
    }

    /// Read up to `BATCH` datagrams without blocking; how many (WouldBlock when there are none).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        for i in 0..BATCH {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            // SAFETY: all-zero is a valid msghdr; the pointers set below live in `self`, which
            // is not moved during the call.
            let mut h: libc::msghdr = unsafe { zeroed() };
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: `hdrs` holds BATCH initialised headers whose buffers and names are valid for
        // writes of the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.got = 0;
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            self.lens[i] = (self.hdrs[i].msg_len as usize).min(SLOT);
            self.name_lens[i] = self.hdrs[i].msg_hdr.msg_namelen;
            self.replies[i].clear();
        }
        self.got = n;
        Ok(n)
    }

    /// The `i`-th datagram of the last `recv`.
    pub fn packet(&self, i: usize) -> &[u8] {
        if i >= self.got {
            return &[];
        }
        &self.bufs[i][..self.lens[i]]
    }

    /// Where the `i`-th datagram came from.
    pub fn peer(&self, i: usize) -> Option<SocketAddr> {
        if i >= self.got {
            return None;
        }
        to_socket_addr(&self.names[i], self.name_lens[i])
    }

    /// The query and its reply buffer, borrowed together.
    pub fn split(&mut self, i: usize) -> (&[u8], &mut Vec<u8>) {
        let len = if i < self.got { self.lens[i] } else { 0 };
        (&self.bufs[i][..len], &mut self.replies[i])
    }

    /// Send the non-empty replies to their peers without blocking. The ones the socket did not
    /// take (its buffer full) are returned, for the caller to send when it can.
    pub fn send(&mut self, fd: RawFd) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut order = [0usize; BATCH];
        let mut count = 0;
        for i in 0..self.got {
            if self.replies[i].is_empty() {
                continue;
            }
            self.iovs[count] = libc::iovec {
                iov_base: self.replies[i].as_mut_ptr().cast(),
                iov_len: self.replies[i].len(),
            };
            // SAFETY: all-zero is a valid msghdr; the pointers set below live in `self`.
            let mut h: libc::msghdr = unsafe { zeroed() };
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.name_lens[i];
            h.msg_iov = &mut self.iovs[count];
            h.msg_iovlen = 1;
            self.hdrs[count] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
            order[count] = i;
            count += 1;
        }
        let mut sent = 0usize;
        while sent < count {
            // SAFETY: headers `sent..count` are initialised and point at live buffers in `self`.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs[sent..].as_mut_ptr(),
                    (count - sent) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n <= 0 {
                let e = io::Error::last_os_error();
                if n == 0 || e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
                continue;
            }
            sent += n as usize;
        }
        order[sent..count]
            .iter()
            .filter_map(|&i| Some((std::mem::take(&mut self.replies[i]), self.peer(i)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_is_read_and_answered_in_one_go() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        client
            .connect(server.local_addr().expect("addr"))
            .expect("connect");
        for i in 0..20u8 {
            client.send(&[i; 3]).expect("send");
        }
        let fd = server.as_raw_fd();
        let mut total = 0;
        while total < 20 {
            let n = with_batch(|b| {
                let n = b.recv(fd).expect("recv");
                for i in 0..n {
                    assert_eq!(b.peer(i), client.local_addr().ok());
                    let (q, r) = b.split(i);
                    r.extend_from_slice(q);
                    r.push(0xaa);
                }
                assert!(b.send(fd).is_empty());
                n
            });
            assert!(n <= BATCH);
            total += n;
        }
        let mut buf = [0u8; 16];
        for i in 0..20u8 {
            let n = client.recv(&mut buf).expect("reply");
            assert_eq!(&buf[..n], &[i, i, i, 0xaa]);
        }
        let err = with_batch(|b| b.recv(fd)).expect_err("nothing left");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
