//! The UDP side of every sandbox's resolver, served by one dedicated thread outside the async
//! runtime: one epoll set holds every sandbox's UDP socket, and each ready socket is drained in
//! batches (`batch`), answered from the table and replied to without leaving the thread.
//!
//! Why not a task on the daemon's runtime: the runtime's two workers also run attach work, netlink
//! replies and the API, and a woken task waits for a worker that may be busy; and scheduling can only
//! be raised per thread (`priority`), which the runtime's workers must not get (they run everything).
//! Only what needs the runtime goes there: forwarding (async, with timeouts) and the rare reply the
//! socket would not take at once.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;

use crate::batch::{with_batch, BATCH};

/// Batches read from one socket before the others get their turn (the epoll set is level-triggered,
/// so what is left is reported again at once).
const TURNS: usize = 4;
/// Events taken per epoll_wait.
const EVENTS: usize = 64;
/// Tries to send a deferred reply, and the pause between them.
const RESEND_TRIES: u32 = 5;
const RESEND_PAUSE: Duration = Duration::from_millis(2);

/// What the thread does with one received batch: answers go back from the batch's reply buffers,
/// the queries it returns are to be forwarded (by the runtime).
pub trait Serve: Send + Sync + 'static {
    type Pending: Send + 'static;
    /// Answer the first `n` datagrams of the batch.
    fn answer(&self, b: &mut crate::batch::Batch, n: usize) -> Vec<Self::Pending>;
    /// Forward one query; the reply to send and where to, if any.
    fn forward(
        self: Arc<Self>,
        p: Self::Pending,
    ) -> impl std::future::Future<Output = Option<(Vec<u8>, SocketAddr)>> + Send;
    /// For logs.
    fn name(&self) -> &str;
}

struct Entry<S> {
    sock: Arc<UdpSocket>,
    serve: Arc<S>,
}

struct Shared<S> {
    epoll: OwnedFd,
    entries: Mutex<HashMap<u64, Entry<S>>>,
    next: AtomicU64,
    runtime: Handle,
}

/// The thread and its epoll set. Dropping the last handle leaves the thread waiting forever (it is
/// the daemon's lifetime in practice).
pub struct UdpThread<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for UdpThread<S> {
    fn clone(&self) -> Self {
        UdpThread {
            shared: self.shared.clone(),
        }
    }
}

/// One socket in the set; dropping it takes the socket out (and closes it once no batch holds it).
pub struct Registration<S> {
    shared: Arc<Shared<S>>,
    token: u64,
}

impl<S> Drop for Registration<S> {
    fn drop(&mut self) {
        let entry = self
            .shared
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.token);
        if let Some(e) = entry {
            // SAFETY: removing a descriptor that is open (the entry still owns it) from our epoll set.
            unsafe {
                libc::epoll_ctl(
                    self.shared.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    e.sock.as_raw_fd(),
                    std::ptr::null_mut(),
                );
            }
        }
    }
}

impl<S: Serve> UdpThread<S> {
    /// Start the thread; forwards run on `runtime`.
    pub fn spawn(runtime: Handle) -> io::Result<Self> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        let shared = Arc::new(Shared {
            epoll,
            entries: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            runtime,
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("cnm-dns-udp".into())
            .spawn(move || run(&s))?;
        Ok(UdpThread { shared })
    }

    /// Serve `sock` (non-blocking) with `serve`.
    pub fn register(&self, sock: UdpSocket, serve: Arc<S>) -> io::Result<Registration<S>> {
        let token = self.shared.next.fetch_add(1, Ordering::Relaxed);
        let fd = sock.as_raw_fd();
        self.shared
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                token,
                Entry {
                    sock: Arc::new(sock),
                    serve,
                },
            );
        let reg = Registration {
            shared: self.shared.clone(),
            token,
        };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `fd` is open (owned by the entry just inserted), `ev` a valid event.
        if unsafe {
            libc::epoll_ctl(
                self.shared.epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd,
                &mut ev,
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(reg)
    }
}

fn run<S: Serve>(shared: &Shared<S>) {
    let mut priority = crate::priority::Priority::raise();
    // SAFETY: all-zero is a valid epoll_event.
    let mut events: [libc::epoll_event; EVENTS] = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `events` has room for EVENTS entries.
        let n = unsafe {
            libc::epoll_wait(
                shared.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS as libc::c_int,
                -1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::warn!(error = %e, "DNS UDP thread: epoll_wait failed");
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        for ev in &events[..n as usize] {
            let token = ev.u64;
            let entry = {
                let map = shared.entries.lock().unwrap_or_else(|p| p.into_inner());
                map.get(&token).map(|e| (e.sock.clone(), e.serve.clone()))
            };
            // Gone since the event was queued: its registration is dropped, nothing to do.
            if let Some((sock, serve)) = entry {
                drain(shared, &sock, &serve);
            }
        }
        priority.check();
    }
}

/// Up to `TURNS` batches from one socket.
fn drain<S: Serve>(shared: &Shared<S>, sock: &Arc<UdpSocket>, serve: &Arc<S>) {
    let fd: RawFd = sock.as_raw_fd();
    for _ in 0..TURNS {
        let done = with_batch(|b| {
            let n = b.recv(fd)?;
            let pending = serve.answer(b, n);
            Ok::<_, io::Error>((n, pending, b.send(fd)))
        });
        let (n, pending, unsent) = match done {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // An ICMP error queued on the socket is reported once; anything else is logged.
                tracing::debug!(sandbox = %serve.name(), error = %e, "udp receive failed");
                return;
            }
        };
        if !unsent.is_empty() {
            let sock = sock.clone();
            shared.runtime.spawn(async move {
                for (bytes, peer) in unsent {
                    resend(&sock, &bytes, peer).await;
                }
            });
        }
        for p in pending {
            let (serve, sock) = (serve.clone(), sock.clone());
            shared.runtime.spawn(async move {
                if let Some((bytes, peer)) = serve.forward(p).await {
                    resend(&sock, &bytes, peer).await;
                }
            });
        }
        if n < BATCH {
            return;
        }
    }
}

/// Send one reply from the runtime, waiting a little when the socket's buffer is full (UDP: after
/// a few tries it is dropped, as the network would).
async fn resend(sock: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    for _ in 0..RESEND_TRIES {
        match sock.send_to(bytes, peer) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::time::sleep(RESEND_PAUSE).await;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Batch;

    /// Echoes datagrams starting with `a`, "forwards" the others (answered by the runtime with
    /// a `f` in front).
    struct Echo;

    impl Serve for Echo {
        type Pending = (Vec<u8>, SocketAddr);

        fn answer(&self, b: &mut Batch, n: usize) -> Vec<Self::Pending> {
            let mut pending = Vec::new();
            for i in 0..n {
                let peer = b.peer(i);
                let (q, out) = b.split(i);
                if q.first() == Some(&b'a') {
                    out.extend_from_slice(q);
                } else if let Some(peer) = peer {
                    pending.push((q.to_vec(), peer));
                }
            }
            pending
        }

        async fn forward(
            self: Arc<Self>,
            (q, peer): Self::Pending,
        ) -> Option<(Vec<u8>, SocketAddr)> {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mut r = b"f".to_vec();
            r.extend_from_slice(&q);
            Some((r, peer))
        }

        fn name(&self) -> &str {
            "echo"
        }
    }

    fn server() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_nonblocking(true).expect("nonblocking");
        s
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn sockets_are_answered_on_the_thread_and_forwards_on_the_runtime_until_removed() {
        let t = UdpThread::<Echo>::spawn(Handle::current()).expect("spawn");
        let (s1, s2) = (server(), server());
        let (a1, a2) = (s1.local_addr().expect("a"), s2.local_addr().expect("a"));
        let r1 = t.register(s1, Arc::new(Echo)).expect("register");
        let _r2 = t.register(s2, Arc::new(Echo)).expect("register");
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        // More than a batch at once on one socket, and the other socket too.
        for i in 0..40u8 {
            c.send_to(&[b'a', i], a1).expect("send");
        }
        c.send_to(b"a2", a2).expect("send");
        let mut got = Vec::new();
        for _ in 0..41 {
            let (n, from) = c.recv_from(&mut buf).expect("answer");
            got.push((buf[..n].to_vec(), from));
        }
        assert_eq!(got.iter().filter(|(_, f)| *f == a1).count(), 40);
        assert!(got.contains(&(b"a2".to_vec(), a2)));
        // A query the thread hands to the runtime.
        c.send_to(b"xyz", a2).expect("send");
        let (n, from) = c.recv_from(&mut buf).expect("forwarded answer");
        assert_eq!((&buf[..n], from), (&b"fxyz"[..], a2));
        // Removed: the socket is closed, nothing answers there any more.
        drop(r1);
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let _ = c.send_to(b"a1", a1);
        assert!(c.recv_from(&mut buf).is_err(), "no answer after removal");
        c.send_to(b"a3", a2).expect("send");
        let (n, _) = c.recv_from(&mut buf).expect("the other one still answers");
        assert_eq!(&buf[..n], b"a3");
    }
}
