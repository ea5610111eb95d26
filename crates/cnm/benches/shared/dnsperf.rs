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
use std::time::Duration;

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

/// The monotonic clock in ns: the sender's schedule.
fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime only writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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

/// How the paced client's sending thread is scheduled (its receiving thread is always a normal one,
/// like a program in a container). `RealTime` (SCHED_FIFO 1, the resolver's own class) keeps the
/// offered load at its schedule on a busy machine instead of a late sender catching up in bursts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Normal,
    RealTime,
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
pub fn paced(
    ns: File,
    server: SocketAddrV4,
    names: &[String],
    qps: u32,
    total: usize,
    client: Client,
) -> Paced {
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
    // With CNM_DNS_PACED_TRACE=<file>, one line per query (realtime ns: due, sent, answer queued,
    // answer read) for lining delayed queries up against a `perf` trace taken with `-k realtime`.
    let trace_file = std::env::var_os("CNM_DNS_PACED_TRACE");
    let stamps: Arc<Vec<[AtomicU64; 3]>> = Arc::new(
        (0..if trace_file.is_some() { total } else { 0 })
            .map(|_| Default::default())
            .collect(),
    );
    let stamps_rx = stamps.clone();
    let receiver = std::thread::Builder::new()
        .name("paced-rx".into())
        .spawn(move || {
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
                        if let Some(s) = stamps_rx.get(id) {
                            s[1].store(kts, Ordering::Relaxed);
                            s[2].store(now, Ordering::Relaxed);
                        }
                        seen.push(now.saturating_sub(t0) as f64 / 1e6);
                        at_socket.push(kts.saturating_sub(t0) as f64 / 1e6);
                    }
                }
            }
            (seen, at_socket)
        })
        .expect("receiver thread");
    let interval = Duration::from_secs(1) / qps;
    let epoch_realtime = realtime_ns();
    let tx = sock.try_clone().expect("clone");
    let stamps_tx = stamps.clone();
    let sender = std::thread::Builder::new()
        .name("paced-tx".into())
        .spawn(move || {
            // The sender wakes at its due time, not up to the default 50 µs of timer slack later, and
            // sleeps to an absolute deadline (a relative sleep adds the time spent computing it).
            // SAFETY: prctl with integer arguments on the calling thread.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
            if client == Client::RealTime {
                let param = libc::sched_param { sched_priority: 1 };
                // SAFETY: pid 0 is this thread; `param` is a valid sched_param.
                let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
                assert_eq!(rc, 0, "paced sender: SCHED_FIFO");
            }
            let mut send_lag = Vec::with_capacity(total);
            let epoch = monotonic_ns();
            for i in 0..total {
                let due = epoch + (interval * i as u32).as_nanos() as u64;
                if monotonic_ns() < due {
                    let ts = libc::timespec {
                        tv_sec: (due / 1_000_000_000) as libc::time_t,
                        tv_nsec: (due % 1_000_000_000) as libc::c_long,
                    };
                    // SAFETY: an absolute sleep on a valid timespec; an interruption only shortens
                    // it, and the lag below shows any lateness.
                    unsafe {
                        libc::clock_nanosleep(
                            libc::CLOCK_MONOTONIC,
                            libc::TIMER_ABSTIME,
                            &ts,
                            std::ptr::null_mut(),
                        )
                    };
                }
                let mut q = queries[i % queries.len()].clone();
                q[..2].copy_from_slice(&(i as u16).to_be_bytes());
                send_lag.push(monotonic_ns().saturating_sub(due) as f64 / 1e6);
                let t0 = realtime_ns();
                if let Some(s) = stamps_tx.get(i) {
                    s[0].store(t0, Ordering::Relaxed);
                }
                sent[i].store(t0, Ordering::Release);
                let _ = tx.send(&q);
            }
            send_lag
        })
        .expect("sender thread");
    let send_lag = sender.join().expect("sender");
    let (seen, at_socket) = receiver.join().expect("receiver");
    if let Some(path) = trace_file {
        // SAFETY: clock_gettime only writes the timespec it is given.
        let mut mono: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut mono) };
        let offset =
            realtime_ns() as i128 - (mono.tv_sec as i128 * 1_000_000_000 + mono.tv_nsec as i128);
        let mut out = format!(
            "# due_ns sent_ns queued_ns read_ns (realtime; 0 = no answer); realtime - monotonic = {offset}\n"
        );
        for (i, s) in stamps.iter().enumerate() {
            let due = epoch_realtime + (interval * i as u32).as_nanos() as u64;
            let [a, b, c] = s.each_ref().map(|v| v.load(Ordering::Relaxed));
            out.push_str(&format!("{due} {a} {b} {c}\n"));
        }
        std::fs::write(&path, out).expect("paced trace file");
    }
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

/// A reference responder for the machine's floor: the least a UDP DNS server can do. One thread,
/// in the network namespace `ns`, bound to `addr`, at the same scheduling as cnm's UDP thread
/// (SCHED_FIFO 1, when permitted), answers every datagram that looks like a query with its own
/// header turned into a reply (QR set, NOERROR, no records) and the question as sent, reading and
/// writing up to 16 at a time (`recvmmsg`/`sendmmsg`). What it costs per query is the kernel's
/// loopback path and the wake-ups, which any resolver pays too; against it, `dnsperf` and the
/// paced client show what this machine can do at all. Stops when the returned flag is set.
pub struct Reference {
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Reference {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn reference_responder(ns: File, addr: SocketAddrV4) -> Reference {
    const N: usize = 16;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("reference-dns".into())
        .spawn(move || {
            nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let sock = UdpSocket::bind(addr).expect("bind reference responder");
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .expect("timeout");
            let param = libc::sched_param { sched_priority: 1 };
            // CNM_DNS_REFERENCE_CLASS=normal leaves it in the normal class (for comparison).
            let normal = std::env::var("CNM_DNS_REFERENCE_CLASS").is_ok_and(|v| v == "normal");
            // SAFETY: pid 0 is this thread; `param` is a valid sched_param.
            let rt =
                !normal && unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0;
            ready_tx.send(rt).expect("ready");
            let fd = sock.as_raw_fd();
            let mut bufs = vec![[0u8; 512]; N];
            // SAFETY: all-zero sockaddr_storage, iovec and mmsghdr are valid; pointers set below.
            let mut names: [libc::sockaddr_storage; N] = unsafe { std::mem::zeroed() };
            let mut iovs: [libc::iovec; N] = unsafe { std::mem::zeroed() };
            let mut hdrs: [libc::mmsghdr; N] = unsafe { std::mem::zeroed() };
            while !flag.load(Ordering::Relaxed) {
                for i in 0..N {
                    iovs[i] = libc::iovec {
                        iov_base: bufs[i].as_mut_ptr().cast(),
                        iov_len: bufs[i].len(),
                    };
                    hdrs[i].msg_hdr.msg_name =
                        (&mut names[i] as *mut libc::sockaddr_storage).cast();
                    hdrs[i].msg_hdr.msg_namelen =
                        std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                    hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
                    hdrs[i].msg_hdr.msg_iovlen = 1;
                }
                // SAFETY: N headers pointing at live buffers; blocks until one datagram (or the
                // socket's timeout), then takes what else is queued.
                let n = unsafe {
                    libc::recvmmsg(
                        fd,
                        hdrs.as_mut_ptr(),
                        N as libc::c_uint,
                        libc::MSG_WAITFORONE,
                        std::ptr::null_mut(),
                    )
                };
                if n <= 0 {
                    continue;
                }
                let mut out = 0;
                for i in 0..n as usize {
                    let len = hdrs[i].msg_len as usize;
                    // A query: at least a header, QR clear. Anything else is dropped.
                    if len < 12 || bufs[i][2] & 0x80 != 0 {
                        continue;
                    }
                    let b = &mut bufs[i];
                    b[2] = 0x80 | (b[2] & 0x79); // QR, opcode and RD kept, AA/TC clear
                    b[3] = 0x80; // RA, NOERROR
                    b[6..12].fill(0); // no answer, authority or additional records
                                      // Keep only the header and the question (skip its name, then type and class).
                    let mut p = 12;
                    while p < len && b[p] != 0 && b[p] & 0xC0 == 0 {
                        p += 1 + b[p] as usize;
                    }
                    let end = (p + 5).min(len);
                    iovs[out] = libc::iovec {
                        iov_base: b.as_mut_ptr().cast(),
                        iov_len: end,
                    };
                    hdrs[out].msg_hdr.msg_name =
                        (&mut names[i] as *mut libc::sockaddr_storage).cast();
                    hdrs[out].msg_hdr.msg_namelen = hdrs[i].msg_hdr.msg_namelen;
                    hdrs[out].msg_hdr.msg_iov = &mut iovs[out];
                    out += 1;
                }
                // SAFETY: the first `out` headers point at live buffers and addresses.
                unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), out as libc::c_uint, 0) };
            }
        })
        .expect("reference responder thread");
    let rt = ready_rx.recv().expect("reference responder started");
    if !rt {
        println!("(reference responder: SCHED_FIFO not permitted, normal priority)");
    }
    Reference {
        stop,
        thread: Some(thread),
    }
}
