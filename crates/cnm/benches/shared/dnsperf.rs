// Lives in a subdirectory so that cargo does not take it for a bench target of its own.
//! DNS load tools shared by the DNS benchmark and the peer suite: parsing `dnsperf`'s report, a paced UDP
//! client that measures per-query latency from inside a namespace, and starting aardvark-dns by hand the
//! way netavark configures it.
#![allow(dead_code)]

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::World;

/// What one `dnsperf` run reports.
pub struct Dnsperf {
    pub qps: f64,
    pub sent: u64,
    pub lost: u64,
    /// Share of the answers that were NOERROR, in percent (100 when every name resolved).
    pub noerror_pct: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

/// `dnsperf` arguments (after the program name): default client count and queries in flight.
pub fn dnsperf_args(server: &str, file: &str, secs: u32) -> Vec<String> {
    ["-s", server, "-d", file, "-l", &secs.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Parses dnsperf's summary (panics with the output when a field is missing).
pub fn parse_dnsperf(out: &str) -> Dnsperf {
    let field = |key: &str| -> String {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {key:?} in dnsperf output:\n{out}"))
    };
    let first_num = |s: String| -> u64 {
        s.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad number {s:?} in dnsperf output:\n{out}"))
    };
    let qps: f64 = field("Queries per second:").parse().expect("qps");
    let lost = first_num(field("Queries lost:"));
    // Optional fields (a run without answers has no response codes): absent reads as 0.
    let opt = |key: &str| -> Option<String> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let sent = opt("Queries sent:")
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    // "Response codes:       NOERROR 1234 (100.00%)" (other codes follow, comma separated).
    let noerror_pct = opt("Response codes:")
        .unwrap_or_default()
        .split(',')
        .find_map(|c| c.trim().strip_prefix("NOERROR "))
        .and_then(|c| c.split('(').nth(1))
        .and_then(|p| p.trim_end_matches([')', '%']).parse().ok())
        .unwrap_or(0.0);
    let lat = field("Average Latency (s):");
    let avg: f64 = lat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("avg");
    let max: f64 = lat
        .split("max ")
        .nth(1)
        .and_then(|v| v.trim_end_matches(')').parse().ok())
        .expect("max");
    Dnsperf {
        qps,
        sent,
        lost,
        noerror_pct,
        avg_ms: avg * 1000.0,
        max_ms: max * 1000.0,
    }
}

/// An A query for `name` with id 0 (the id is patched per send).
pub fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The realtime clock in ns: the clock the kernel's receive timestamps (SO_TIMESTAMPNS) are on.
fn realtime_ns() -> u64 {
    // SAFETY: clock_gettime only writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One datagram and the kernel's receive timestamp of it (ns, realtime).
fn recv_stamped(fd: i32, buf: &mut [u8]) -> Option<(usize, u64)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: all-zero is a valid msghdr; its pointers are set to live buffers below.
    let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
    h.msg_iov = &mut iov;
    h.msg_iovlen = 1;
    h.msg_control = control.as_mut_ptr().cast();
    h.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: the header points at `iov` and `control`, which outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut h, 0) };
    if n < 0 {
        return None;
    }
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, within msg_controllen.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(&h) };
    while !c.is_null() {
        let cm = unsafe { &*c };
        if cm.cmsg_level == libc::SOL_SOCKET && cm.cmsg_type == libc::SCM_TIMESTAMPNS {
            let ts =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>()) };
            return Some((
                n as usize,
                ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64,
            ));
        }
        c = unsafe { libc::CMSG_NXTHDR(&h, c) };
    }
    Some((n as usize, 0))
}

/// What the paced client saw, in ms per answered query.
pub struct Paced {
    /// Send until the client read the answer: what a program in the container waits.
    pub seen: Vec<f64>,
    /// Send until the answer was queued on the client's socket (kernel timestamp): the resolver
    /// and the kernel, without the client's own wake-up.
    pub at_socket: Vec<f64>,
    /// How late each query left against its schedule (the client's own sending lag).
    pub send_lag: Vec<f64>,
    pub lost: usize,
}

/// `total` queries (< 65536, so ids are unique) at `qps` to `server` from inside the network namespace `ns`.
/// A query counts as lost without an answer within a second. The send time is taken right before
/// `send`, so a late sender does not count against the resolver (its lag is reported apart).
pub fn paced(ns: File, server: SocketAddrV4, names: &[String], qps: u32, total: usize) -> Paced {
    assert!(total < 65536);
    // The socket is made on a thread of its own that entered the namespace; it keeps that namespace.
    let sock = std::thread::spawn(move || {
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
        s.connect(server).expect("connect");
        s
    })
    .join()
    .expect("socket thread");
    set_int_option(&sock, libc::SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
    // Room for 8 MB of answers: a client thread that the scheduler holds back for tens of ms on a loaded
    // machine must not drop answers in its own socket and count them against the resolver
    // (SO_RCVBUFFORCE: root may exceed rmem_max).
    set_int_option(&sock, libc::SO_RCVBUFFORCE, 8 << 20, "SO_RCVBUFFORCE");
    let queries: Vec<Vec<u8>> = names.iter().map(|n| query(n)).collect();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let rx = sock.try_clone().expect("clone");
    rx.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let sent_rx = sent.clone();
    let receiver = std::thread::spawn(move || {
        let (mut seen, mut at_socket) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let mut buf = [0u8; 1500];
        while seen.len() < total {
            let Some((n, kts)) = recv_stamped(rx.as_raw_fd(), &mut buf) else {
                break;
            };
            let now = realtime_ns();
            if n < 12 {
                continue;
            }
            let id = u16::from_be_bytes([buf[0], buf[1]]) as usize;
            if let Some(t) = sent_rx.get(id) {
                let t0 = t.swap(0, Ordering::AcqRel);
                if t0 != 0 {
                    seen.push(now.saturating_sub(t0) as f64 / 1e6);
                    at_socket.push(kts.saturating_sub(t0) as f64 / 1e6);
                }
            }
        }
        (seen, at_socket)
    });
    let interval = Duration::from_secs(1) / qps;
    let mut send_lag = Vec::with_capacity(total);
    let epoch = Instant::now();
    for i in 0..total {
        let due = interval * i as u32;
        let now = epoch.elapsed();
        if due > now {
            std::thread::sleep(due - now);
        }
        let mut q = queries[i % queries.len()].clone();
        q[..2].copy_from_slice(&(i as u16).to_be_bytes());
        send_lag.push(epoch.elapsed().saturating_sub(due).as_secs_f64() * 1e3);
        sent[i].store(realtime_ns(), Ordering::Release);
        let _ = sock.send(&q);
    }
    let (seen, at_socket) = receiver.join().expect("receiver");
    Paced {
        lost: total - seen.len(),
        seen,
        at_socket,
        send_lag,
    }
}

/// aardvark-dns serving `entries` (id, IPv4, names) from `gateway`, as netavark configures it (one file
/// per network: listen address, then `ID IPv4 IPv6 names` per container), started in the world's
/// namespace. Returns its pid (from its pid file; it daemonizes), or None when it is not installed.
pub fn start_aardvark(
    w: &World,
    gateway: &str,
    entries: &[(String, String, String)],
) -> Option<u32> {
    let bin = [
        "/usr/lib/podman/aardvark-dns",
        "/usr/libexec/podman/aardvark-dns",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())?;
    let dir = w.path("aardvark");
    std::fs::create_dir_all(&dir).expect("aardvark dir");
    let mut conf = format!("{gateway}\n");
    for (id, ip, names) in entries {
        conf.push_str(&format!("{id} {ip}  {names}\n"));
    }
    std::fs::write(dir.join("bench"), conf).expect("aardvark config");
    let status = w
        .command(bin)
        .args(["--config", dir.to_str().expect("dir"), "-p", "53", "run"])
        .status()
        .expect("start aardvark-dns");
    assert!(status.success(), "aardvark-dns did not start");
    let pid: u32 = std::fs::read_to_string(dir.join("aardvark.pid"))
        .expect("aardvark.pid")
        .trim()
        .parse()
        .expect("pid");
    Some(pid)
}

/// A `SOL_SOCKET` option with an int value; the bench cannot measure without it.
fn set_int_option(sock: &UdpSocket, option: libc::c_int, value: libc::c_int, what: &str) {
    // SAFETY: a valid socket and an int option value that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "{what}");
}
