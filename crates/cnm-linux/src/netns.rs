//! Network namespaces bound to files under the exec-root.
//!
//! A namespace is created by a dedicated OS thread that unshares its network namespace and bind-mounts
//! `/proc/thread-self/ns/net` onto the target file; the thread then exits, so no tokio worker ever changes
//! namespace. Work inside a namespace likewise runs on a short-lived thread that `setns`es first.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{LinuxError, Result};

/// Runs a blocking closure on a fresh OS thread, optionally inside a namespace, and awaits its result.
pub struct NsThread;

impl NsThread {
    /// Run `f` on a new thread that entered the network namespace at `path` (or stays in the caller's
    /// namespace when `path` is None). The thread ends with `f`, so the namespace switch cannot leak.
    pub async fn run<T, F>(path: Option<&Path>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let path = path.map(Path::to_path_buf);
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("cnm-netns".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                let res = (|| {
                    if let Some(p) = &path {
                        enter(p)?;
                    }
                    f()
                })();
                let _ = tx.send(res);
            })
            .map_err(|e| LinuxError::io("spawn namespace thread", e))?;
        rx.await
            .map_err(|_| LinuxError::Thread("namespace thread panicked".into()))?
    }
}

/// Move the calling thread into the network namespace bound at `path`.
/// Only call this on a thread that will end afterwards (see `NsThread`).
pub fn enter(path: &Path) -> Result<()> {
    let f = File::open(path).map_err(|e| LinuxError::io(format!("open {}", path.display()), e))?;
    setns(f.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|errno| LinuxError::Errno {
        op: format!("setns {}", path.display()),
        errno,
    })
}

/// Bring `lo` of the calling thread's namespace up with one ioctl: cheaper than opening a netlink socket.
fn loopback_up() -> Result<()> {
    // SAFETY: a plain datagram socket and the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls on a zeroed ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(LinuxError::io(
                "socket for lo",
                std::io::Error::last_os_error(),
            ));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut res = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req);
        if res == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            res = libc::ioctl(fd, libc::SIOCSIFFLAGS, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if res != 0 {
            return Err(LinuxError::io("set lo up", err));
        }
    }
    Ok(())
}

/// Create a new network namespace, with `lo` up, and bind it at `path` (the parent directory must exist).
pub async fn create(path: &Path) -> Result<()> {
    let target = path.to_path_buf();
    NsThread::run(None, move || {
        File::create(&target)
            .map_err(|e| LinuxError::io(format!("create {}", target.display()), e))?;
        let res = (|| {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|errno| LinuxError::Errno {
                op: "unshare(CLONE_NEWNET)".into(),
                errno,
            })?;
            loopback_up()?;
            mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|errno| LinuxError::Errno {
                op: format!("bind-mount netns on {}", target.display()),
                errno,
            })
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(&target);
        }
        res
    })
    .await
}

/// Bind the namespace held at `spare` at `key` instead, and drop `spare`: a namespace made ahead of time
/// becomes a sandbox's in a few syscalls, where making one costs an `unshare` (~0.3–1 ms).
pub fn adopt(spare: &Path, key: &Path) -> Result<()> {
    File::create(key).map_err(|e| LinuxError::io(format!("create {}", key.display()), e))?;
    if let Err(errno) = mount(
        Some(spare),
        key,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    ) {
        let _ = std::fs::remove_file(key);
        return Err(LinuxError::Errno {
            op: format!("bind {} on {}", spare.display(), key.display()),
            errno,
        });
    }
    remove(spare)
}

/// Unbind and remove a namespace file. The kernel frees the namespace (and the interfaces in it)
/// asynchronously once nothing else holds it. Missing files are not an error.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(errno) => {
            return Err(LinuxError::Errno {
                op: format!("umount {}", path.display()),
                errno,
            })
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LinuxError::io(format!("remove {}", path.display()), e)),
    }
}

/// Whether `path` is a mounted namespace file (nsfs), not just a leftover empty file.
pub fn is_bound(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    match nix::sys::statfs::statfs(path) {
        Ok(st) => st.filesystem_type().0 == NSFS_MAGIC,
        Err(_) => false,
    }
}

/// Whether `path` is the root of a mount.
fn is_mount_root(path: &Path) -> Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| LinuxError::NotFound(path.display().to_string()))?;
    // SAFETY: statx(2) into a zeroed struct we own, with a NUL-terminated path.
    let (res, stx) = unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        let res = libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS,
            &mut stx,
        );
        (res, stx)
    };
    if res != 0 {
        return Err(LinuxError::io(
            format!("statx {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(
        stx.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0
            && stx.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0,
    )
}

/// Make the namespace directory a private mount of its own. Private: namespace files bound under it
/// never propagate into other mount namespaces (each copy would keep a namespace alive and make every
/// later unbind walk them). A mount of its own: a container's mount namespace drops the whole directory
/// with one lazy unmount (see `detach_dir`).
pub fn prepare_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| LinuxError::io(format!("create {}", dir.display()), e))?;
    if !is_mount_root(dir)? {
        mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|errno| {
            LinuxError::Errno {
                op: format!("bind-mount {} on itself", dir.display()),
                errno,
            }
        })?;
    }
    mount(
        None::<&str>,
        dir,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|errno| LinuxError::Errno {
        op: format!("make {} private", dir.display()),
        errno,
    })
}

/// In a freshly unshared mount namespace: drop the namespace directory and every namespace file bound
/// under it, so the copy holds no other sandbox's namespace.
pub fn detach_dir(dir: &Path) -> Result<()> {
    match umount2(dir, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(errno) => Err(LinuxError::Errno {
            op: format!("detach {}", dir.display()),
            errno,
        }),
    }
}

/// Names of the files in a namespace directory.
pub fn list(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}
