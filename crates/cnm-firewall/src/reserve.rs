//! Host-port reservation: for every published port the daemon holds a bound socket (not listening), so
//! no host process can take the port while a container owns it, and a conflict is found by the kernel
//! rather than guessed. Traffic never reaches these sockets: DNAT happens before local delivery.
//!
//! File descriptors: one per (port, protocol) — a request for every address binds a single dual-stack
//! `[::]` socket that covers IPv4 and IPv6. A run of ports (`-p 10000-19999:10000-19999`) is one record
//! with its descriptors in one vector (4 bytes per port), checked against the other reservations as a
//! range, and bound on one thread per CPU when it is large: `socket(2)` is ~3 µs of kernel work here
//! (allocating the socket, its inode and its file), so 10,000 ports are ~40 ms on one core. The daemon raises its soft open-file limit to the hard one
//! at start and refuses, with a clear error, a publish that would leave fewer than `FD_HEADROOM`
//! descriptors for everything else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Mutex;

use cnm_core::firewall::PortError;
use cnm_core::ports::{PortRequest, Proto};

/// Descriptors kept free for sockets, namespaces, pipes and the store.
const FD_HEADROOM: u64 = 2048;

struct Held {
    proto: Proto,
    /// None: every address of both families.
    ip: Option<IpAddr>,
    /// Inclusive port range held (one port: `first == last`).
    first: u16,
    last: u16,
    /// One bound socket per port; empty when the kernel lacks the protocol (nothing to hold).
    _socks: Vec<OwnedFd>,
}

impl Held {
    fn ports(&self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    fn hits(&self, proto: Proto, ip: Option<IpAddr>, first: u16, last: u16) -> bool {
        self.proto == proto && self.first <= last && first <= self.last && overlaps(self.ip, ip)
    }
}

/// Ports a binding thread gets at least: below this a thread's start (≈ 30 µs) is not worth it.
const PORTS_PER_THREAD: usize = 512;

/// Threads for binding `n` ports: one per CPU the daemon may use, each with at least
/// [`PORTS_PER_THREAD`] ports. The work is the kernel's socket allocation and scales with cores.
fn bind_threads(n: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |t| t.get());
    cpus.min(n / PORTS_PER_THREAD).max(1)
}

/// Whether a `[::]` socket in this namespace covers IPv4 by itself (`net.ipv6.bindv6only` = 0, the
/// kernel's default), so that `IPV6_V6ONLY` need not be cleared on each of them: one system call per
/// port less. Read at every reservation (it is per namespace and can change); unreadable = set it.
fn dual_stack_by_default() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "0")
}

fn overlaps(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(x), Some(y)) => {
            x == y
                || (x.is_unspecified() && x.is_ipv4() == y.is_ipv4())
                || (y.is_unspecified() && x.is_ipv4() == y.is_ipv4())
        }
    }
}

fn shown(ip: Option<IpAddr>) -> String {
    match ip {
        None => "0.0.0.0".into(),
        Some(IpAddr::V6(v6)) => format!("[{v6}]"),
        Some(ip) => ip.to_string(),
    }
}

pub struct Reservations {
    inner: Mutex<Inner>,
    ephemeral: (u16, u16),
    reserved: BTreeSet<u16>,
    fd_limit: u64,
}

struct Inner {
    by_container: BTreeMap<String, Vec<Held>>,
    /// Ports held (not records): the descriptor budget.
    count: u64,
    /// Next port to try for random allocations (Docker walks the range in order).
    cursor: BTreeMap<Proto, u16>,
}

/// The daemon's (host) namespace values of `ip_local_port_range` and `ip_local_reserved_ports`.
fn read_port_range() -> (u16, u16) {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = s.split_whitespace().filter_map(|x| x.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(a), Some(b)) if a <= b => (a, b),
        _ => (32768, 60999),
    }
}

fn read_reserved_ports() -> BTreeSet<u16> {
    let s =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap_or_default();
    let mut out = BTreeSet::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        if let Ok((a, b)) = cnm_core::ports::parse_range(part.trim(), "port") {
            out.extend(a..=b);
        }
    }
    out
}

/// Raise the soft open-file limit to the hard one; returns the limit in force.
fn raise_nofile() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 1024;
        }
        if rl.rlim_cur < rl.rlim_max {
            let want = libc::rlimit {
                rlim_cur: rl.rlim_max,
                rlim_max: rl.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                return want.rlim_cur;
            }
        }
    }
    rl.rlim_cur
}

/// Bind a socket that holds `port` for `proto` on `ip` (None: every address, both families).
/// `Ok(None)`: the protocol is not available in this kernel (nothing to hold, nothing to conflict).
///
/// No `SO_REUSEADDR`: with it on a bound, non-listening socket, any other socket with
/// `SO_REUSEADDR` (most servers set it, Rust's and Go's listeners included) may bind the same port
/// and listen on it, so the port would not be held at all. The price: a host server's recent
/// connections in TIME_WAIT on the port (up to 60 s after it closed them) make the reservation fail
/// with "address already in use". cnm's own held sockets never connect, and published traffic is
/// DNATed before any host socket sees it, so cnm never leaves TIME_WAIT on a port it publishes.
/// `dual` ([`dual_stack_by_default`]): `[::]` covers IPv4 without clearing `IPV6_V6ONLY`.
fn bind(
    proto: Proto,
    ip: Option<IpAddr>,
    port: u16,
    dual: bool,
) -> std::io::Result<Option<OwnedFd>> {
    let (ty, p) = match proto {
        Proto::Tcp => (libc::SOCK_STREAM, libc::IPPROTO_TCP),
        Proto::Udp => (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
        Proto::Sctp => (libc::SOCK_STREAM, libc::IPPROTO_SCTP),
    };
    let try_bind = |addr: SocketAddr, v6only: Option<bool>| -> std::io::Result<OwnedFd> {
        let domain = if addr.is_ipv6() {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        // SAFETY: plain socket(2); the descriptor is owned at once.
        let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, p) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Some(only) = v6only {
            let v: libc::c_int = i32::from(only);
            // SAFETY: setsockopt with a pointer to a local int of the stated size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_V6ONLY,
                    (&v as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        let rc = match addr {
            SocketAddr::V4(a) => {
                let sa = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: bind with a properly sized sockaddr_in.
                unsafe {
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            SocketAddr::V6(a) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: 0,
                };
                // SAFETY: bind with a properly sized sockaddr_in6.
                unsafe {
                    libc::bind(
                        fd,
                        (&sa as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(owned)
    };
    let res = match ip {
        None => match try_bind(
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            (!dual).then_some(false),
        ) {
            // No IPv6 in this namespace: IPv4 only.
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                try_bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), None)
            }
            r => r,
        },
        Some(ip @ IpAddr::V4(_)) => try_bind(SocketAddr::new(ip, port), None),
        Some(ip @ IpAddr::V6(_)) => try_bind(SocketAddr::new(ip, port), Some(true)),
    };
    match res {
        Ok(fd) => Ok(Some(fd)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPROTONOSUPPORT) | Some(libc::ESOCKTNOSUPPORT)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Bind every port of `first..=last`; on a failure, the first port (in order) that failed and why, with
/// nothing left bound. Large runs are split over a few threads: the work is all in the kernel
/// (socket allocation), which scales with cores, and the caller waits for all of them, so a conflict is
/// still reported before anything is programmed.
fn bind_run(
    proto: Proto,
    ip: Option<IpAddr>,
    first: u16,
    last: u16,
) -> Result<Vec<OwnedFd>, (u16, std::io::Error)> {
    let n = usize::from(last - first) + 1;
    bind_run_on(proto, ip, first, last, bind_threads(n))
}

/// [`bind_run`] on `threads` threads (the caller's one included).
fn bind_run_on(
    proto: Proto,
    ip: Option<IpAddr>,
    first: u16,
    last: u16,
    threads: usize,
) -> Result<Vec<OwnedFd>, (u16, std::io::Error)> {
    let dual = ip.is_none() && dual_stack_by_default();
    let chunk = |a: u16, b: u16| -> Result<Vec<OwnedFd>, (u16, std::io::Error)> {
        let mut v = Vec::with_capacity(usize::from(b - a) + 1);
        for p in a..=b {
            match bind(proto, ip, p, dual) {
                Ok(Some(fd)) => v.push(fd),
                // The kernel lacks the protocol: nothing to hold for any port of the run.
                Ok(None) => return Ok(Vec::new()),
                Err(e) => return Err((p, e)),
            }
        }
        Ok(v)
    };
    let n = usize::from(last - first) + 1;
    if threads < 2 {
        return chunk(first, last);
    }
    let per = n.div_ceil(threads);
    let bounds: Vec<(u16, u16)> = (0..threads)
        .filter_map(|t| {
            let a = u32::from(first) + (t * per) as u32;
            let b = (a + per as u32 - 1).min(u32::from(last));
            (a <= b).then_some((a as u16, b as u16))
        })
        .collect();
    let results: Vec<Result<Vec<OwnedFd>, (u16, std::io::Error)>> = std::thread::scope(|s| {
        let handles: Vec<_> = bounds[1..]
            .iter()
            .map(|&(a, b)| s.spawn(move || chunk(a, b)))
            .collect();
        let mut out = vec![chunk(bounds[0].0, bounds[0].1)];
        for h in handles {
            out.push(h.join().unwrap_or_else(|_| {
                Err((first, std::io::Error::other("port binding thread panicked")))
            }));
        }
        out
    });
    let mut all = Vec::with_capacity(n);
    let mut unsupported = false;
    for r in results {
        // Chunks are in port order, so the first error is the lowest failing port.
        let v = r?;
        unsupported |= v.is_empty();
        all.extend(v);
    }
    if unsupported {
        all.clear();
    }
    Ok(all)
}

impl Reservations {
    pub fn new() -> Self {
        let ephemeral = read_port_range();
        Reservations {
            inner: Mutex::new(Inner {
                by_container: BTreeMap::new(),
                count: 0,
                cursor: BTreeMap::new(),
            }),
            ephemeral,
            reserved: read_reserved_ports(),
            fd_limit: raise_nofile(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve every request of a container at once; on any failure nothing stays held.
    pub fn reserve(
        &self,
        container: &str,
        reqs: &[PortRequest],
        previous: &[u16],
    ) -> Result<Vec<u16>, PortError> {
        let mut inner = self.inner();
        let budget = self.fd_limit.saturating_sub(FD_HEADROOM);
        let wanted: u64 = reqs.iter().map(|r| u64::from(r.count.max(1))).sum();
        if inner.count + wanted > budget {
            return Err(PortError::Other(format!(
                "cannot hold {wanted} more host ports: {} are held and the daemon's open-file limit is {} (raise it with ulimit -n / LimitNOFILE)",
                inner.count,
                self.fd_limit
            )));
        }
        let mut got: Vec<Held> = Vec::with_capacity(reqs.len());
        let mut ports = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let held = match previous.get(i).copied().filter(|p| *p != 0) {
                Some(p) => self.take_exact(&inner, &got, r, p),
                None => match r.host_ports {
                    Some((a, b)) if a == b || r.count > 1 => self.take_exact(&inner, &got, r, a),
                    Some((a, b)) => self.take_first(&inner, &got, r, a, b),
                    None => self.take_random(&mut inner, &got, r),
                },
            };
            // On an error, dropping `got` closes what this call bound.
            let h = held?;
            ports.push(h.first);
            got.push(h);
        }
        inner.count += got.iter().map(Held::ports).sum::<u64>();
        inner
            .by_container
            .entry(container.to_string())
            .or_default()
            .extend(got);
        Ok(ports)
    }

    fn held_elsewhere(
        inner: &Inner,
        pending: &[Held],
        proto: Proto,
        ip: Option<IpAddr>,
        (first, last): (u16, u16),
    ) -> Option<u16> {
        pending
            .iter()
            .chain(inner.by_container.values().flatten())
            .filter(|h| h.hits(proto, ip, first, last))
            .map(|h| h.first.max(first))
            .min()
    }

    /// Hold the request's ports from `port` on (`count` of them).
    fn take_exact(
        &self,
        inner: &Inner,
        pending: &[Held],
        r: &PortRequest,
        port: u16,
    ) -> Result<Held, PortError> {
        let n = r.count.max(1);
        let last = u16::try_from(u32::from(port) + u32::from(n) - 1).map_err(|_| {
            PortError::Other(format!("invalid host port range from {port}: {n} ports"))
        })?;
        if let Some(p) = Self::held_elsewhere(inner, pending, r.proto, r.host_ip, (port, last)) {
            return Err(PortError::Allocated {
                ip: shown(r.host_ip),
                port: p,
            });
        }
        let socks = bind_run(r.proto, r.host_ip, port, last).map_err(|(p, e)| {
            if e.raw_os_error() == Some(libc::EADDRINUSE) {
                PortError::InUse {
                    ip: shown(r.host_ip),
                    port: p,
                    proto: r.proto.as_str(),
                }
            } else {
                PortError::Other(format!(
                    "failed to bind host port {}:{p}/{}: {e}",
                    shown(r.host_ip),
                    r.proto
                ))
            }
        })?;
        Ok(Held {
            proto: r.proto,
            ip: r.host_ip,
            first: port,
            last,
            _socks: socks,
        })
    }

    fn take_first(
        &self,
        inner: &Inner,
        pending: &[Held],
        r: &PortRequest,
        first: u16,
        last: u16,
    ) -> Result<Held, PortError> {
        for p in first..=last {
            match self.take_exact(inner, pending, r, p) {
                Ok(h) => return Ok(h),
                Err(PortError::Allocated { .. }) | Err(PortError::InUse { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Exhausted {
            first,
            last,
            proto: r.proto.as_str(),
        })
    }

    fn take_random(
        &self,
        inner: &mut Inner,
        pending: &[Held],
        r: &PortRequest,
    ) -> Result<Held, PortError> {
        let (lo, hi) = self.ephemeral;
        let span = u32::from(hi - lo) + 1;
        let start = inner
            .cursor
            .get(&r.proto)
            .copied()
            .unwrap_or(lo)
            .clamp(lo, hi);
        for i in 0..span {
            let p = (u32::from(start - lo) + i) % span + u32::from(lo);
            let p = p as u16;
            if self.reserved.contains(&p) {
                continue;
            }
            match self.take_exact(inner, pending, r, p) {
                Ok(h) => {
                    let next = if p == hi { lo } else { p + 1 };
                    inner.cursor.insert(r.proto, next);
                    return Ok(h);
                }
                Err(PortError::Allocated { .. }) | Err(PortError::InUse { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Exhausted {
            first: lo,
            last: hi,
            proto: r.proto.as_str(),
        })
    }

    pub fn release(&self, container: &str) {
        let mut inner = self.inner();
        if let Some(v) = inner.by_container.remove(container) {
            let n: u64 = v.iter().map(Held::ports).sum();
            inner.count = inner.count.saturating_sub(n);
        }
    }

    /// How many ports are held (for tests and the RSS benchmark).
    pub fn held(&self) -> u64 {
        self.inner().count
    }
}

impl Default for Reservations {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(port: Option<(u16, u16)>, ip: Option<&str>) -> PortRequest {
        PortRequest {
            proto: Proto::Tcp,
            ctr_port: 80,
            count: 1,
            host_ip: ip.map(|i| i.parse().expect("ip")),
            host_ports: port,
            echo_host_ip: String::new(),
            echo_host_port: String::new(),
        }
    }

    #[test]
    fn overlapping_addresses() {
        let l: IpAddr = "127.0.0.1".parse().expect("ip");
        let any4: IpAddr = "0.0.0.0".parse().expect("ip");
        let v6: IpAddr = "::1".parse().expect("ip");
        assert!(overlaps(None, Some(l)));
        assert!(overlaps(Some(any4), Some(l)));
        assert!(!overlaps(Some(any4), Some(v6)));
        assert!(!overlaps(Some(l), Some("10.0.0.1".parse().expect("ip"))));
    }

    /// Move this test's thread into a network namespace of its own with `lo` up (needs root).
    fn own_netns() {
        // SAFETY: unshare of the calling thread's network namespace only.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "these tests need root (unshare CLONE_NEWNET)");
        let st = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip");
        assert!(st.success());
    }

    #[test]
    fn a_second_container_cannot_take_a_held_port_and_release_frees_it() {
        own_netns();
        let r = Reservations::new();
        let first = r
            .reserve("a", &[req(None, Some("127.0.0.1"))], &[])
            .expect("random port");
        let p = first[0];
        let again = r.reserve("b", &[req(Some((p, p)), Some("127.0.0.1"))], &[]);
        assert_eq!(
            again,
            Err(PortError::Allocated {
                ip: "127.0.0.1".into(),
                port: p
            })
        );
        // The kernel refuses other binders too.
        let other = std::net::TcpListener::bind(("127.0.0.1", p));
        assert!(other.is_err(), "a host process could bind a held port");
        r.release("a");
        assert_eq!(r.held(), 0);
        let ok = r
            .reserve("b", &[req(Some((p, p)), Some("127.0.0.1"))], &[])
            .expect("free again");
        assert_eq!(ok, vec![p]);
    }

    #[test]
    fn a_failed_request_leaves_nothing_held() {
        own_netns();
        let r = Reservations::new();
        let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("listener");
        let busy = taken.local_addr().expect("addr").port();
        let res = r.reserve(
            "a",
            &[
                req(None, Some("127.0.0.1")),
                req(Some((busy, busy)), Some("127.0.0.1")),
            ],
            &[],
        );
        assert!(matches!(res, Err(PortError::InUse { .. })), "{res:?}");
        assert_eq!(r.held(), 0);
    }

    fn run_req(first: u16, count: u16) -> PortRequest {
        PortRequest {
            count,
            host_ports: Some((first, first + count - 1)),
            ctr_port: first,
            ..req(None, None)
        }
    }

    #[test]
    fn a_run_is_one_record_bound_in_parallel_and_conflicts_name_the_first_shared_port() {
        own_netns();
        let r = Reservations::new();
        // Large enough for the threaded path.
        let got = r.reserve("a", &[run_req(20000, 3000)], &[]).expect("run");
        assert_eq!(got, vec![20000]);
        assert_eq!(r.held(), 3000);
        assert_eq!(r.inner().by_container["a"].len(), 1, "one record per run");
        assert!(std::net::TcpListener::bind(("0.0.0.0", 22999)).is_err());
        let clash = r.reserve("b", &[run_req(22990, 20)], &[]);
        assert_eq!(
            clash,
            Err(PortError::Allocated {
                ip: "0.0.0.0".into(),
                port: 22990
            })
        );
        r.release("a");
        assert_eq!(r.held(), 0);
        assert!(std::net::TcpListener::bind(("0.0.0.0", 22999)).is_ok());
    }

    #[test]
    fn a_held_port_stays_held_for_ipv4_whatever_bindv6only_says() {
        own_netns();
        for v6only in ["0", "1"] {
            // Per namespace: this test's own.
            std::fs::write("/proc/sys/net/ipv6/bindv6only", v6only).expect("bindv6only");
            let r = Reservations::new();
            r.reserve("a", &[run_req(25000, 600)], &[]).expect("run");
            // Rust's listener sets SO_REUSEADDR, as most servers do: still refused.
            for addr in ["0.0.0.0", "127.0.0.1", "::"] {
                assert!(
                    std::net::TcpListener::bind((addr, 25300)).is_err(),
                    "{addr} could take a held port with bindv6only={v6only}"
                );
            }
            r.release("a");
            assert!(std::net::TcpListener::bind(("0.0.0.0", 25300)).is_ok());
        }
    }

    /// `cargo test -p cnm-firewall --release --lib reserve::tests::bind_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, not a check"]
    fn bind_timing() {
        own_netns();
        // bindv6only=1: every socket also clears IPV6_V6ONLY (the cost of one setsockopt per port).
        for (threads, v6only) in [
            (1, "0"),
            (1, "1"),
            (2, "0"),
            (2, "1"),
            (1, "0"),
            (2, "0"),
            (4, "0"),
        ] {
            std::fs::write("/proc/sys/net/ipv6/bindv6only", v6only).expect("bindv6only");
            let mut took = Vec::new();
            for _ in 0..5 {
                let t = std::time::Instant::now();
                let v = bind_run_on(Proto::Tcp, None, 10000, 19999, threads).expect("bind");
                took.push(t.elapsed().as_secs_f64() * 1e3);
                let t = std::time::Instant::now();
                drop(v);
                took.push(-t.elapsed().as_secs_f64() * 1e3);
            }
            let mut bind: Vec<f64> = took.iter().copied().filter(|x| *x > 0.0).collect();
            let mut close: Vec<f64> = took.iter().filter(|x| **x < 0.0).map(|x| -x).collect();
            bind.sort_by(f64::total_cmp);
            close.sort_by(f64::total_cmp);
            println!(
                "10,000 ports on {threads} thread(s), bindv6only={v6only}: bind median {:.1} ms (min {:.1}), close median {:.1} ms",
                bind[2], bind[0], close[2]
            );
        }
    }

    #[test]
    fn a_host_process_inside_a_run_fails_it_and_leaves_nothing_held() {
        own_netns();
        let r = Reservations::new();
        let _taken = std::net::TcpListener::bind(("0.0.0.0", 31500)).expect("listener");
        let res = r.reserve("a", &[run_req(30000, 2000)], &[]);
        assert_eq!(
            res,
            Err(PortError::InUse {
                ip: "0.0.0.0".into(),
                port: 31500,
                proto: "tcp"
            })
        );
        assert_eq!(r.held(), 0);
        // Nothing of the run stays bound.
        assert!(std::net::TcpListener::bind(("0.0.0.0", 30000)).is_ok());
        assert!(std::net::TcpListener::bind(("0.0.0.0", 31999)).is_ok());
    }
}
