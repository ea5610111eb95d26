//! The shim spawner: one small process per daemon (the cnm binary re-executed once, at daemon start) that
//! forks container shims on request. Forking a small single-threaded process costs a fraction of an
//! `exec` of the cnm binary, and the daemon itself, being multi-threaded, must not fork anything that
//! runs Rust code.
//!
//! The spawner runs in a mount namespace of its own, a slave of the daemon's (so host mounts still show
//! up) without the sandbox namespace directories: shims forked from it, and the containers they unshare
//! from it, copy a mount table that does not grow with the number of sandboxes. The sandbox's namespace
//! is therefore handed over as a descriptor, not a path.
//!
//! Protocol: a SOCK_SEQPACKET socket pair, the spawner's end on its stdin. One message per shim: the
//! shim spec as JSON, with the write end of the report pipe and, for a sandbox, the namespace descriptor
//! as SCM_RIGHTS. The spawner forks; the child forks the shim (into its own session) and exits, so shims
//! are never the spawner's or the daemon's children. The shim reports on the pipe exactly as when it is
//! exec'd (`shim::main`). The spawner exits when the daemon's end closes (the daemon stopped or died).

use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

use crate::shim::{self, ShimSpec};

/// Largest spec sent inline; a larger one makes the daemon fall back to exec'ing a shim.
const MAX_SPEC: usize = 64 * 1024;

/// Entry point of `cnm spawner DIR…` (the directories to drop from its mount namespace). Never returns.
pub fn main(detach: &[String]) -> ! {
    // SAFETY: fd 0 is the control socket the daemon gave us; we own it from here on.
    let control = unsafe { OwnedFd::from_raw_fd(0) };
    if let Err(e) = private_mounts(detach) {
        eprintln!("cnm spawner: {e}");
        std::process::exit(1);
    }
    let mut buf = vec![0u8; MAX_SPEC];
    loop {
        let (len, fds) = match receive(&control, &mut buf) {
            Ok(Some(m)) => m,
            Ok(None) => std::process::exit(0),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                eprintln!("cnm spawner: receive: {e}");
                std::process::exit(1);
            }
        };
        let mut fds = fds.into_iter();
        let (Some(report), netns) = (fds.next(), fds.next()) else {
            continue;
        };
        let spec: Result<ShimSpec, _> = serde_json::from_slice(&buf[..len]);
        let mut out = File::from(report);
        let spec = match spec {
            Ok(s) => s,
            Err(e) => {
                shim::report(&mut out, &format!("err 125 bad shim spec: {e}"));
                continue;
            }
        };
        // SAFETY: the spawner is single-threaded.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                drop(control);
                shim::launch(spec, out, netns.map(File::from))
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(out);
                drop(netns);
                // The child only forks the shim and exits.
                let _ = nix::sys::wait::waitpid(child, None);
            }
            Err(e) => shim::report(&mut out, &format!("err 125 fork: {e}")),
        }
    }
}

/// A mount namespace of our own: a slave of the daemon's, without the sandbox namespace directories.
fn private_mounts(detach: &[String]) -> Result<(), String> {
    use nix::mount::{mount, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare mount namespace: {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| format!("make / a slave: {e}"))?;
    for d in detach {
        cnm_linux::netns::detach_dir(std::path::Path::new(d)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn receive(control: &OwnedFd, buf: &mut [u8]) -> nix::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut cmsg = nix::cmsg_space!([RawFd; 2]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        control.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = c {
            // SAFETY: descriptors just received with SCM_RIGHTS belong to us.
            fds.extend(
                received
                    .into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    Ok(Some((msg.bytes, fds)))
}

/// The daemon's side: the spawner process and its control socket.
pub struct Spawner {
    control: OwnedFd,
    child: Mutex<Child>,
}

impl Spawner {
    /// Start `cnm spawner`, dropping `detach` from its mount namespace.
    pub fn start(detach: &[PathBuf]) -> std::io::Result<Spawner> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        let exe = std::env::current_exe()?;
        let child = Command::new(exe)
            .arg("spawner")
            .args(detach)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(Spawner {
            control: ours,
            child: Mutex::new(child),
        })
    }

    /// Ask for a shim; returns the read end of its report pipe.
    pub fn spawn(&self, spec: &ShimSpec, netns: Option<&File>) -> std::io::Result<File> {
        let json = serde_json::to_vec(spec).map_err(std::io::Error::other)?;
        if json.len() > MAX_SPEC {
            return Err(std::io::Error::other("shim spec too large for the spawner"));
        }
        let (report_r, report_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
        let mut fds = vec![report_w.as_raw_fd()];
        if let Some(ns) = netns {
            fds.push(ns.as_fd().as_raw_fd());
        }
        let cmsg = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(
            self.control.as_raw_fd(),
            &[IoSlice::new(&json)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(std::io::Error::from)?;
        drop(report_w);
        Ok(File::from(report_r))
    }

    /// Whether the spawner process is still there.
    pub fn alive(&self) -> bool {
        let mut c = self.child.lock().unwrap_or_else(|p| p.into_inner());
        matches!(c.try_wait(), Ok(None))
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        let mut c = self.child.lock().unwrap_or_else(|p| p.into_inner());
        // Closing the control socket (after this) makes it exit; reap it if it already has.
        let _ = c.try_wait();
    }
}
