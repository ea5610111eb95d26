//! Forwarding names that are not local: the query goes, unchanged and over the client's transport, to
//! up to three upstream servers in order. Loopback upstreams (a resolver on the host's 127.0.0.x, such
//! as systemd-resolved) are dialled from the daemon's namespace, where they live; any other from
//! inside the container's namespace, so it takes the container's route and source address. The whole
//! query gets one time budget shorter than glibc's 5 s retry, split over the servers still to try; a
//! server answering SERVFAIL or REFUSED is skipped; when none answers, the caller replies SERVFAIL.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use cnm_linux::NsWorker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use crate::answer::Transport;

/// Time for the whole forwarded query: glibc retries after 5 s.
pub const BUDGET: Duration = Duration::from_millis(4500);

/// Where sockets for non-loopback upstreams are made: the container's namespace.
pub struct Dialer {
    pub worker: NsWorker,
    pub netns: Arc<File>,
}

fn unspecified(ip: IpAddr) -> SocketAddr {
    match ip {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

impl Dialer {
    async fn udp_socket(&self, to: SocketAddr) -> io::Result<std::net::UdpSocket> {
        let local = unspecified(to.ip());
        let bind = move || {
            let s = std::net::UdpSocket::bind(local)?;
            s.set_nonblocking(true)?;
            Ok(s)
        };
        if to.ip().is_loopback() {
            return bind();
        }
        self.worker
            .run(Some(self.netns.clone()), move || {
                bind().map_err(|e| cnm_linux::LinuxError::io("upstream socket", e))
            })
            .await
            .map_err(io::Error::other)
    }

    async fn tcp_socket(&self, to: SocketAddr) -> io::Result<tokio::net::TcpSocket> {
        let v4 = to.is_ipv4();
        let make = move || {
            if v4 {
                tokio::net::TcpSocket::new_v4()
            } else {
                tokio::net::TcpSocket::new_v6()
            }
        };
        if to.ip().is_loopback() {
            return make();
        }
        self.worker
            .run(Some(self.netns.clone()), move || {
                make().map_err(|e| cnm_linux::LinuxError::io("upstream socket", e))
            })
            .await
            .map_err(io::Error::other)
    }

    async fn udp(&self, to: SocketAddr, query: &[u8], deadline: Instant) -> io::Result<Vec<u8>> {
        let std_sock = self.udp_socket(to).await?;
        let sock = tokio::net::UdpSocket::from_std(std_sock)?;
        sock.connect(to).await?;
        sock.send(query).await?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = timeout_at(deadline, sock.recv(&mut buf))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
            // Only the reply to this query (same id, a response) counts.
            if n >= 12 && buf[..2] == query[..2] && buf[2] & 0x80 != 0 {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }

    async fn tcp(&self, to: SocketAddr, query: &[u8], deadline: Instant) -> io::Result<Vec<u8>> {
        let len = u16::try_from(query.len()).map_err(|_| io::Error::other("query too long"))?;
        let sock = self.tcp_socket(to).await?;
        let exchange = async {
            let mut s = sock.connect(to).await?;
            let mut framed = Vec::with_capacity(query.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(query);
            s.write_all(&framed).await?;
            loop {
                let n = s.read_u16().await? as usize;
                let mut buf = vec![0u8; n];
                s.read_exact(&mut buf).await?;
                if n >= 12 && buf[..2] == query[..2] && buf[2] & 0x80 != 0 {
                    return Ok(buf);
                }
            }
        };
        timeout_at(deadline, exchange)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    }

    /// The first usable upstream answer within `budget`, or None (the caller answers SERVFAIL).
    pub async fn forward(
        &self,
        query: &[u8],
        upstreams: &[SocketAddr],
        transport: Transport,
        budget: Duration,
    ) -> Option<Vec<u8>> {
        let end = Instant::now() + budget;
        for (i, up) in upstreams.iter().enumerate() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            // Leave the servers after this one their share of the time.
            let share = (end - now) / (upstreams.len() - i) as u32;
            let deadline = now + share;
            let res = match transport {
                Transport::Udp => self.udp(*up, query, deadline).await,
                Transport::Tcp => self.tcp(*up, query, deadline).await,
            };
            match res {
                Ok(resp) => {
                    let rcode = resp[3] & 0x0f;
                    // SERVFAIL (2) and REFUSED (5): try the next server.
                    if rcode != 2 && rcode != 5 {
                        return Some(resp);
                    }
                    tracing::debug!(upstream = %up, rcode, "upstream refused; trying the next");
                }
                Err(e) => tracing::debug!(upstream = %up, error = %e, "upstream failed"),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16) -> Vec<u8> {
        // id, RD, one question: "x." A IN
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'x', 0, 0, 1, 0, 1]);
        q
    }

    /// A loopback UDP server that answers every query with `rcode` (and, first, a stray reply).
    fn udp_server(rcode: u8) -> SocketAddr {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = s.local_addr().expect("addr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let mut stray = buf[..n].to_vec();
                stray[0] ^= 0xff;
                stray[2] |= 0x80;
                let _ = s.send_to(&stray, from);
                let mut r = buf[..n].to_vec();
                r[2] |= 0x80;
                r[3] = 0x80 | rcode;
                let _ = s.send_to(&r, from);
            }
        });
        addr
    }

    /// Move the test thread into a fresh network namespace with `lo` up, so the test's servers and
    /// queries never touch the machine's own loopback. Threads spawned afterwards inherit it.
    fn isolate() {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "forwarding tests need root (they create a network namespace)"
        );
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare netns");
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip");
        assert!(up.success());
    }

    fn dialer() -> Dialer {
        Dialer {
            worker: NsWorker::spawn("test-ns").expect("worker"),
            netns: Arc::new(File::open("/proc/thread-self/ns/net").expect("ns")),
        }
    }

    #[tokio::test]
    async fn skips_dead_and_refusing_servers_and_takes_the_first_answer() {
        isolate();
        let dead = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            s.local_addr().expect("addr")
        }; // closed again: ICMP port unreachable
        let refusing = udp_server(5);
        let good = udp_server(0);
        let d = dialer();
        let q = query(0x1234);
        let r = d
            .forward(&q, &[dead, refusing, good], Transport::Udp, BUDGET)
            .await
            .expect("an answer");
        assert_eq!(
            &r[..2],
            &[0x12, 0x34],
            "the stray reply with another id is ignored"
        );
        assert_eq!(r[3] & 0x0f, 0);
        assert!(d
            .forward(&q, &[dead, refusing], Transport::Udp, BUDGET)
            .await
            .is_none());
    }

    #[tokio::test]
    async fn a_silent_server_costs_only_its_share_of_the_budget() {
        isolate();
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let good = udp_server(0);
        let d = dialer();
        let t = Instant::now();
        let r = d
            .forward(
                &query(7),
                &[silent.local_addr().expect("a"), good],
                Transport::Udp,
                Duration::from_millis(600),
            )
            .await;
        assert!(r.is_some());
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_millis(600),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn tcp_forwarding_frames_the_query() {
        isolate();
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = l.accept() {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).expect("len");
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut q).expect("q");
                q[2] |= 0x80;
                let mut out = len.to_vec();
                out.extend_from_slice(&q);
                s.write_all(&out).expect("write");
            }
        });
        let r = dialer()
            .forward(&query(9), &[addr], Transport::Tcp, BUDGET)
            .await
            .expect("answer");
        assert_eq!(&r[..2], &9u16.to_be_bytes());
    }
}
