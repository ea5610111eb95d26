//! The resolvers of all sandboxes, served by the daemon. Per sandbox: one UDP socket and one TCP
//! listener bound at 127.0.0.11:<random> inside its namespace (by the namespace worker, in the same
//! visit that programs the redirect of port 53). Every UDP socket is served by the one dedicated UDP
//! thread (`udp_thread`, raised priority); TCP by a task on the runtime per sandbox. Every query is
//! answered from the shared table; only forwarded queries go to a task.

use std::collections::HashMap;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use cnm_core::dns::{DnsContainer, SandboxDns};
use cnm_core::driver::{DriverError, DriverResult};
use cnm_linux::nftnl::{self, Redirect};
use cnm_linux::{LinuxError, NsWorker};
use hickory_proto::op::ResponseCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::answer::{error_reply, handle, Reply, Transport};
use crate::batch::Batch;
use crate::fast;
use crate::forward::{Dialer, BUDGET};
use crate::ports;
use crate::table::Table;
use crate::udp_thread::{Registration, Serve, UdpThread};
use crate::{DnsError, LISTEN_ADDR};

/// Docker caps concurrent forwards per resolver at 1024; past that, REFUSED.
const MAX_FORWARDS: usize = 1024;
/// Concurrent TCP clients per sandbox.
const MAX_TCP_CLIENTS: usize = 64;
/// An idle TCP client is dropped after this long.
const TCP_IDLE: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One sandbox's resolver, shared by its tasks.
struct Sandbox {
    id: String,
    dialer: Dialer,
    forwards: AtomicUsize,
    tcp_clients: AtomicUsize,
}

struct Running {
    /// Dropping it takes the UDP socket out of the UDP thread's set.
    _udp: Registration<UdpServe>,
    tcp: JoinHandle<()>,
    ports: (u16, u16),
}

impl Drop for Running {
    fn drop(&mut self) {
        self.tcp.abort();
    }
}

/// One sandbox's UDP socket as the UDP thread serves it.
struct UdpServe {
    inner: Arc<Inner>,
    sb: Arc<Sandbox>,
}

impl Serve for UdpServe {
    type Pending = Pending;

    fn answer(&self, b: &mut Batch, n: usize) -> Vec<Pending> {
        answer_batch(&self.inner, &self.sb, b, n)
    }

    async fn forward(self: Arc<Self>, p: Pending) -> Option<(Vec<u8>, SocketAddr)> {
        let reply = forwarded(
            &self.inner,
            &self.sb,
            &p.query,
            &p.upstreams,
            Transport::Udp,
        )
        .await;
        reply.map(|r| (r, p.peer))
    }

    fn name(&self) -> &str {
        &self.sb.id
    }
}

struct Inner {
    table: RwLock<Arc<Table>>,
    running: Mutex<HashMap<String, Running>>,
    worker: NsWorker,
    udp: UdpThread<UdpServe>,
    /// nfnetlink sequence numbers (any increasing value works; unique ones make traces readable).
    seq: AtomicU32,
    /// Upstream port (53; tests may point it elsewhere).
    upstream_port: u16,
    /// One small file per running resolver with its ports, for the next daemon (see `ports`).
    state_dir: PathBuf,
}

/// All resolvers of this daemon.
#[derive(Clone)]
pub struct Resolvers {
    inner: Arc<Inner>,
}

impl Resolvers {
    /// Resolvers recording their ports under `state_dir` (in the exec-root: it must not outlive the
    /// namespaces, which vanish on reboot). Called inside the tokio runtime, which runs the TCP side
    /// and forwarding.
    pub fn new(state_dir: PathBuf) -> Result<Self, DnsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DnsError::NoRuntime)?;
        std::fs::create_dir_all(&state_dir).map_err(|e| DnsError::Io {
            op: "create the resolver state directory",
            source: e,
        })?;
        Ok(Resolvers {
            inner: Arc::new(Inner {
                table: RwLock::new(Arc::new(Table::default())),
                running: Mutex::new(HashMap::new()),
                worker: NsWorker::spawn("cnm-dns-ns")?,
                udp: UdpThread::spawn(runtime).map_err(|e| DnsError::Io {
                    op: "start the DNS UDP thread",
                    source: e,
                })?,
                seq: AtomicU32::new(1),
                upstream_port: 53,
                state_dir,
            }),
        })
    }

    /// The ports (UDP, TCP) a sandbox's resolver listens on inside its namespace.
    pub fn ports(&self, sandbox_id: &str) -> Option<(u16, u16)> {
        lock(&self.inner.running).get(sandbox_id).map(|r| r.ports)
    }

    async fn start_sandbox(&self, id: &str, key: &Path) -> Result<(), DnsError> {
        let ns = Arc::new(File::open(key).map_err(|e| DnsError::Io {
            op: "open sandbox namespace",
            source: e,
        })?);
        let record = self.inner.state_dir.join(id);
        let previous = ports::read(&record);
        let seq = self.inner.seq.fetch_add(100, Ordering::Relaxed);
        let (udp, tcp) = self
            .inner
            .worker
            .run(Some(ns.clone()), move || bind_and_redirect(previous, seq))
            .await?;
        let io = |op: &'static str| move |e| DnsError::Io { op, source: e };
        let ports = (
            udp.local_addr().map_err(io("udp address"))?.port(),
            tcp.local_addr().map_err(io("tcp address"))?.port(),
        );
        let tcp = TcpListener::from_std(tcp).map_err(io("register tcp"))?;
        let sb = Arc::new(Sandbox {
            id: id.to_string(),
            dialer: Dialer {
                worker: self.inner.worker.clone(),
                netns: ns,
            },
            forwards: AtomicUsize::new(0),
            tcp_clients: AtomicUsize::new(0),
        });
        let udp_serve = Arc::new(UdpServe {
            inner: self.inner.clone(),
            sb: sb.clone(),
        });
        let udp = self
            .inner
            .udp
            .register(udp, udp_serve)
            .map_err(io("register udp"))?;
        let running = Running {
            _udp: udp,
            tcp: tokio::spawn(serve_tcp(self.inner.clone(), sb, tcp)),
            ports,
        };
        // Replacing an entry aborts the old tasks (their sockets close with them).
        lock(&self.inner.running).insert(id.to_string(), running);
        if previous != Some(ports) {
            if let Err(e) = ports::write(&record, ports) {
                // A stale record would make the next daemon trust rules that point elsewhere; with
                // none it only takes the slower replacing path.
                ports::remove(&record);
                tracing::warn!(sandbox = %id, error = %e, "could not record the resolver's ports");
            }
        }
        tracing::debug!(sandbox = %id, udp = ports.0, tcp = ports.1, "resolver started");
        Ok(())
    }
}

/// Inside the sandbox namespace: bind the resolver's sockets and redirect port 53 to them. A daemon
/// that restarts asks for the ports its predecessor had; when it gets them, the redirect left in the
/// namespace is still right and only has to be there (creating it again is refused, cheaply). Else the
/// rules are replaced in one transaction, so there is never a moment without a redirect.
fn bind_and_redirect(
    previous: Option<(u16, u16)>,
    seq: u32,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), LinuxError> {
    let io = |op: &'static str| move |e| LinuxError::io(op, e);
    let bind = |(u, t): (u16, u16)| -> std::io::Result<_> {
        let udp = std::net::UdpSocket::bind((LISTEN_ADDR, u))?;
        let tcp = std::net::TcpListener::bind((LISTEN_ADDR, t))?;
        Ok((udp, tcp))
    };
    let (udp, tcp, reused) = match previous.map(bind) {
        Some(Ok((u, t))) => (u, t, true),
        _ => {
            let (u, t) = bind((0, 0)).map_err(io("bind resolver sockets"))?;
            (u, t, false)
        }
    };
    udp.set_nonblocking(true).map_err(io("nonblocking"))?;
    tcp.set_nonblocking(true).map_err(io("nonblocking"))?;
    let up = udp.local_addr().map_err(io("udp address"))?.port();
    let tp = tcp.local_addr().map_err(io("tcp address"))?.port();
    let (batch, acks) = nftnl::dns_redirect_batch(seq, Redirect::Create, LISTEN_ADDR, up, tp);
    match nftnl::apply(&batch, acks) {
        Ok(()) => {}
        Err(e) if e.is_exists() && reused => {}
        Err(e) if e.is_exists() => {
            let (batch, acks) =
                nftnl::dns_redirect_batch(seq + 50, Redirect::Replace, LISTEN_ADDR, up, tp);
            nftnl::apply(&batch, acks)?;
        }
        Err(e) => return Err(e),
    }
    Ok((udp, tcp))
}

impl Inner {
    fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn upstream_addrs(&self, ips: &[IpAddr]) -> Vec<SocketAddr> {
        ips.iter()
            .map(|ip| SocketAddr::new(*ip, self.upstream_port))
            .collect()
    }
}

/// Forward a query; the reply (or SERVFAIL/REFUSED) is handed to `send`.
async fn forwarded(
    inner: &Inner,
    sb: &Sandbox,
    query: &[u8],
    upstreams: &[IpAddr],
    transport: Transport,
) -> Option<Vec<u8>> {
    if sb.forwards.fetch_add(1, Ordering::AcqRel) >= MAX_FORWARDS {
        sb.forwards.fetch_sub(1, Ordering::AcqRel);
        return error_reply(query, ResponseCode::Refused);
    }
    let ups = inner.upstream_addrs(upstreams);
    let resp = sb.dialer.forward(query, &ups, transport, BUDGET).await;
    sb.forwards.fetch_sub(1, Ordering::AcqRel);
    match resp {
        Some(r) => Some(r),
        None => {
            tracing::debug!(sandbox = %sb.id, "no upstream answered");
            error_reply(query, ResponseCode::ServFail)
        }
    }
}

/// A query that is not local, to be forwarded by a task of its own.
pub(crate) struct Pending {
    query: Vec<u8>,
    peer: SocketAddr,
    upstreams: Vec<IpAddr>,
}

/// Answer every query of one received batch (fast path first, then the general one); the answers
/// are left in the batch's reply buffers, the queries to forward are returned.
fn answer_batch(inner: &Inner, sb: &Sandbox, b: &mut Batch, n: usize) -> Vec<Pending> {
    let mut pending = Vec::new();
    let table = inner.table.read().unwrap_or_else(|p| p.into_inner());
    for i in 0..n {
        let (query, out) = b.split(i);
        if fast::answer(&table, &sb.id, query, Transport::Udp, out) {
            continue;
        }
        match handle(&table, &sb.id, query, Transport::Udp) {
            Reply::Answer(bytes) => *out = bytes,
            Reply::Forward(upstreams) => {
                let query = query.to_vec();
                if let Some(peer) = b.peer(i) {
                    pending.push(Pending {
                        query,
                        peer,
                        upstreams,
                    });
                }
            }
            Reply::Drop => {}
        }
    }
    pending
}

async fn serve_tcp(inner: Arc<Inner>, sb: Arc<Sandbox>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!(sandbox = %sb.id, error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if sb.tcp_clients.fetch_add(1, Ordering::AcqRel) >= MAX_TCP_CLIENTS {
            sb.tcp_clients.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (inner, sb) = (inner.clone(), sb.clone());
        tokio::spawn(async move {
            let _ = tcp_client(&inner, &sb, stream).await;
            sb.tcp_clients.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// One TCP client: length-prefixed queries, answered in order, until it goes quiet.
async fn tcp_client(inner: &Inner, sb: &Sandbox, mut s: TcpStream) -> std::io::Result<()> {
    let mut fast_out = Vec::new();
    let mut framed = Vec::new();
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, s.read_u16()).await {
            Ok(r) => r? as usize,
            Err(_) => return Ok(()),
        };
        let mut q = vec![0u8; len];
        tokio::time::timeout(TCP_IDLE, s.read_exact(&mut q))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let reply = {
            let table = inner.table();
            if fast::answer(&table, &sb.id, &q, Transport::Tcp, &mut fast_out) {
                None
            } else {
                Some(handle(&table, &sb.id, &q, Transport::Tcp))
            }
        };
        let slow_out;
        let out: &[u8] = match reply {
            None => &fast_out,
            Some(Reply::Answer(b)) => {
                slow_out = b;
                &slow_out
            }
            Some(Reply::Forward(ups)) => {
                match forwarded(inner, sb, &q, &ups, Transport::Tcp).await {
                    Some(b) => {
                        slow_out = b;
                        &slow_out
                    }
                    None => return Ok(()),
                }
            }
            Some(Reply::Drop) => return Ok(()),
        };
        let Ok(n) = u16::try_from(out.len()) else {
            return Ok(());
        };
        framed.clear();
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(out);
        s.write_all(&framed).await?;
    }
}

fn driver_error(e: DnsError) -> DriverError {
    DriverError(e.to_string())
}

#[async_trait]
impl SandboxDns for Resolvers {
    async fn start(&self, sandbox_id: &str, key: &Path) -> DriverResult<()> {
        self.start_sandbox(sandbox_id, key)
            .await
            .map_err(driver_error)
    }

    fn running(&self, sandbox_id: &str) -> bool {
        lock(&self.inner.running).contains_key(sandbox_id)
    }

    fn stop(&self, sandbox_id: &str) {
        if lock(&self.inner.running).remove(sandbox_id).is_some() {
            ports::remove(&self.inner.state_dir.join(sandbox_id));
            tracing::debug!(sandbox = %sandbox_id, "resolver stopped");
        }
    }

    fn prune(&self, keep: &[String]) {
        for stale in ports::list(&self.inner.state_dir)
            .into_iter()
            .filter(|id| !keep.contains(id))
        {
            ports::remove(&self.inner.state_dir.join(&stale));
            tracing::debug!(sandbox = %stale, "stale resolver record removed");
        }
    }

    fn publish(&self, containers: Vec<(String, DnsContainer)>) {
        let mut guard = self.inner.table.write().unwrap_or_else(|p| p.into_inner());
        // In place unless a TCP answer still holds the previous table; then that one is copied once.
        let table = Arc::make_mut(&mut guard);
        for (id, part) in &containers {
            table.publish(id, part);
        }
        let (names, sandboxes) = table.size();
        tracing::trace!(names, sandboxes, "DNS names published");
    }
}
