//! The per-container supervisor ("shim"): the cnm binary re-executed, like containerd's shim. It owns the
//! container's process, its log and its exit code, so containers outlive daemon restarts.
//!
//! Protocol with the daemon: the daemon runs `cnm shim SPEC.json` with stdout on a pipe. The first process
//! forks the real shim into a new session and exits at once (so the daemon never has to reap the shim).
//! The shim forks the container process, which enters the sandbox's network namespace, a new UTS and a
//! private mount namespace with hosts/resolv.conf/hostname bound over /etc, then execs. The shim reports
//! `ok <shim pid> <container pid>` or `err <exit code> <message>` on the pipe, then copies the
//! container's stdout/stderr into the log in Docker's multiplexed stream framing, and finally writes the
//! exit code file.
//!
//! The container process leads a process group of its own and sits in a cgroup of its own (`cgroup`).
//! When it ends (on its own, on SIGTERM or on SIGKILL), the shim kills what is left of both with SIGKILL
//! before it records the exit, the way the end of PID 1 ends a Docker container's PID namespace: no
//! child or grandchild outlives the container, not even one that made a session of its own, and none
//! keeps the log pipes (and with them the shim) alive.

pub(crate) mod cgroup;

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use serde::{Deserialize, Serialize};

/// Everything the shim needs, written by the daemon next to the container's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimSpec {
    pub id: String,
    pub netns: Option<PathBuf>,
    pub hostname: String,
    pub bind_files: Vec<(PathBuf, PathBuf)>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub log_path: PathBuf,
    pub exit_path: PathBuf,
    /// Mounts the container's mount namespace drops (the sandbox namespace directory).
    #[serde(default)]
    pub detach: Vec<PathBuf>,
    /// Where the container's own cgroup goes (`cgroup::parent_of_self`, read once by the daemon);
    /// None: no cgroup, the process group only.
    #[serde(default)]
    pub cgroup_parent: Option<PathBuf>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) fn report(out: &mut File, line: &str) {
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Entry point of `cnm shim SPEC`. Never returns.
pub fn main(spec_path: &str) -> ! {
    // SAFETY: fd 1 is the report pipe the daemon gave us; we take ownership of it once, here.
    let mut out = unsafe { File::from_raw_fd(1) };
    let spec: ShimSpec = match std::fs::read(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            report(&mut out, &format!("err 125 bad shim spec: {e}"));
            std::process::exit(1);
        }
    };
    launch(spec, out, None)
}

/// Fork the shim proper into a session of its own and exit, so that whoever started us (the daemon or
/// the spawner) reaps this process at once and never becomes the shim's parent. `netns` is the
/// sandbox's namespace when the caller opened it already (the spawner cannot see the path).
pub fn launch(spec: ShimSpec, mut out: File, netns: Option<File>) -> ! {
    // SAFETY: single-threaded at this point (nothing spawned threads yet).
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
        Ok(ForkResult::Child) => {}
        Err(e) => {
            report(&mut out, &format!("err 125 fork: {e}"));
            std::process::exit(1);
        }
    }
    let _ = nix::unistd::setsid();
    run_shim(spec, out, netns)
}

fn pipe_cloexec() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
}

fn run_shim(spec: ShimSpec, mut out: File, netns: Option<File>) -> ! {
    let fail = |out: &mut File, code: i32, msg: String| -> ! {
        report(out, &format!("err {code} {msg}"));
        std::process::exit(1)
    };
    let mut log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
    {
        Ok(f) => f,
        Err(e) => fail(&mut out, 125, format!("open log: {e}")),
    };
    let netns = match (netns, &spec.netns) {
        (Some(f), _) => Some(f),
        (None, Some(p)) => match File::open(p) {
            Ok(f) => Some(f),
            Err(e) => fail(&mut out, 125, format!("open {}: {e}", p.display())),
        },
        (None, None) => None,
    };
    // The daemon recognises its shims after a restart by name and working directory (the container's
    // state directory): a forked shim's command line is the spawner's.
    let _ = nix::sys::prctl::set_name(c"cnm-shim");
    if let Some(state_dir) = spec.exit_path.parent() {
        let _ = std::env::set_current_dir(state_dir);
    }
    let (Ok((out_r, out_w)), Ok((err_r, err_w)), Ok((exec_r, exec_w))) =
        (pipe_cloexec(), pipe_cloexec(), pipe_cloexec())
    else {
        fail(&mut out, 125, "pipe failed".into())
    };
    let argv: Vec<CString> = spec
        .cmd
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let mut env: Vec<String> = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={}", spec.hostname));
    }
    let envp: Vec<CString> = env
        .iter()
        .filter_map(|e| CString::new(e.as_bytes()).ok())
        .collect();
    let path_var = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/bin:/bin")
        .to_string();
    if argv.is_empty() {
        fail(&mut out, 125, "no command".into());
    }

    let cgroup = spec
        .cgroup_parent
        .as_deref()
        .and_then(|parent| cgroup::Cgroup::create(parent, &spec.id));
    // SAFETY: the shim is single-threaded; the child only calls async-signal-safe-ish syscalls before exec.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(out_r);
            drop(err_r);
            drop(exec_r);
            if let Some(cg) = &cgroup {
                cg.enter();
            }
            // Our own process group, so that the shim can end all of the container at once.
            let _ =
                nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
            let res = enter_container(&spec, netns.as_ref(), out_w.as_raw_fd(), err_w.as_raw_fd());
            let msg = match res {
                Ok(()) => exec_command(&argv, &envp, &path_var),
                Err(m) => (125, m),
            };
            let mut w = File::from(exec_w);
            let _ = w.write_all(format!("{} {}", msg.0, msg.1).as_bytes());
            unsafe { libc::_exit(msg.0) }
        }
        Ok(ForkResult::Parent { child }) => {
            // Both sides set the group, so it is in place whichever runs first.
            let _ = nix::unistd::setpgid(child, child);
            child
        }
        Err(e) => fail(&mut out, 125, format!("fork: {e}")),
    };
    // Opened before the child can exit unseen: the log pump watches it (a zombie still counts).
    let child_fd = pidfd_open(child.as_raw());
    drop(out_w);
    drop(err_w);
    drop(exec_w);
    drop(netns);
    let mut exec_err = String::new();
    let _ = File::from(exec_r).read_to_string(&mut exec_err);
    if !exec_err.is_empty() {
        let _ = waitpid(child, None);
        let (code, msg) = exec_err
            .split_once(' ')
            .unwrap_or(("125", exec_err.as_str()));
        fail(&mut out, code.parse().unwrap_or(125), msg.to_string());
    }
    report(
        &mut out,
        &format!("ok {} {}", std::process::id(), child.as_raw()),
    );
    drop(out);
    // Detach from the daemon's stdout/stderr for good.
    if let Ok(devnull) = File::options().read(true).write(true).open("/dev/null") {
        // SAFETY: replacing our own stdio descriptors with /dev/null.
        unsafe {
            libc::dup2(devnull.as_raw_fd(), 1);
            libc::dup2(devnull.as_raw_fd(), 2);
        }
    }
    let early = pump_logs(
        &mut log,
        File::from(out_r),
        File::from(err_r),
        child_fd.ok(),
        (child, cgroup.as_ref()),
    );
    // Make sure the main process has ended (it stays a zombie until reaped, so its group id cannot
    // be reused yet), then whatever it left behind in its group and its cgroup goes with it.
    let status = early.or_else(|| exit_status(child));
    kill_group(child, cgroup.as_ref());
    let code = loop {
        if let Some(code) = status {
            let _ = waitpid(child, None);
            break code;
        }
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    };
    if let Some(cg) = &cgroup {
        cg.remove();
    }
    let tmp = spec.exit_path.with_extension("tmp");
    if std::fs::write(&tmp, format!("{code}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, &spec.exit_path);
    }
    std::process::exit(0)
}

/// In the forked child: namespaces, mounts, hostname, stdio. Returns an error message on failure.
fn enter_container(
    spec: &ShimSpec,
    netns: Option<&File>,
    out_fd: RawFd,
    err_fd: RawFd,
) -> Result<(), String> {
    if let Some(ns) = netns {
        setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)
        .map_err(|e| format!("unshare: {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / private: {e}"))?;
    for dir in &spec.detach {
        cnm_linux::netns::detach_dir(dir).map_err(|e| e.to_string())?;
    }
    for (src, dst) in &spec.bind_files {
        if !dst.exists() {
            continue;
        }
        mount(
            Some(src.as_path()),
            dst.as_path(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("bind {} on {}: {e}", src.display(), dst.display()))?;
    }
    nix::unistd::sethostname(&spec.hostname).map_err(|e| format!("sethostname: {e}"))?;
    // Docker's default working directory is `/`.
    let dir = if spec.working_dir.is_empty() {
        "/"
    } else {
        spec.working_dir.as_str()
    };
    std::env::set_current_dir(dir).map_err(|e| format!("chdir {dir}: {e}"))?;
    // SAFETY: plain fd juggling in the single-threaded child before exec.
    unsafe {
        let devnull = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if devnull >= 0 {
            libc::dup2(devnull, 0);
        }
        libc::dup2(out_fd, 1);
        libc::dup2(err_fd, 2);
    }
    Ok(())
}

/// execvpe with Docker's exit codes: 127 not found, 126 not executable. Returns only on failure.
fn exec_command(argv: &[CString], envp: &[CString], path_var: &str) -> (i32, String) {
    let prog = argv[0].to_string_lossy().to_string();
    let candidates: Vec<PathBuf> = if prog.contains('/') {
        vec![PathBuf::from(&prog)]
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d).join(&prog))
            .collect()
    };
    let mut last = nix::errno::Errno::ENOENT;
    for c in candidates {
        let Ok(cpath) = CString::new(c.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        let Err(e) = nix::unistd::execve(&cpath, argv, envp);
        if e != nix::errno::Errno::ENOENT || last == nix::errno::Errno::ENOENT {
            last = e;
        }
    }
    match last {
        nix::errno::Errno::ENOENT => (
            127,
            format!("exec: \"{prog}\": executable file not found in $PATH"),
        ),
        nix::errno::Errno::EACCES => (126, format!("exec: \"{prog}\": permission denied")),
        e => (126, format!("exec: \"{prog}\": {e}")),
    }
}

fn pidfd_open(pid: libc::pid_t) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new descriptor that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Wait until `child` has ended and return its exit code without reaping it.
fn exit_status(child: nix::unistd::Pid) -> Option<i32> {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    loop {
        match waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(WaitStatus::Exited(_, c)) => return Some(c),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(128 + sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// SIGKILL to every process of the container's group (led by `leader`) and of its cgroup, only once
/// the leader has ended (see [`exit_status`]), so that the kill cannot change the container's exit code.
fn kill_group(leader: nix::unistd::Pid, cgroup: Option<&cgroup::Cgroup>) {
    let _ = nix::sys::signal::killpg(leader, nix::sys::signal::Signal::SIGKILL);
    if let Some(cg) = cgroup {
        cg.kill();
    }
}

/// Copy both pipes into the log until both reach EOF, framing each chunk as Docker's stream format.
/// When the container's main process (`child`, watched through `child_fd`) ends first, the rest of
/// its group is killed, so that a surviving descendant cannot hold the pipes open.
fn pump_logs(
    log: &mut File,
    out: File,
    err: File,
    child_fd: Option<OwnedFd>,
    (child, cgroup): (nix::unistd::Pid, Option<&cgroup::Cgroup>),
) -> Option<i32> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut open = [Some(out), Some(err)];
    let mut child_fd = child_fd;
    let mut status = None;
    let mut buf = [0u8; 32 * 1024];
    while open.iter().any(Option::is_some) {
        let mut fds = Vec::new();
        let mut which = Vec::new();
        for (i, f) in open.iter().enumerate() {
            if let Some(f) = f {
                fds.push(PollFd::new(std::os::fd::AsFd::as_fd(f), PollFlags::POLLIN));
                which.push(i);
            }
        }
        if let Some(p) = &child_fd {
            fds.push(PollFd::new(std::os::fd::AsFd::as_fd(p), PollFlags::POLLIN));
            which.push(usize::MAX);
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(p, _)| p.revents().map(|r| !r.is_empty()).unwrap_or(false))
            .map(|(_, i)| *i)
            .collect();
        drop(fds);
        for i in ready {
            if i == usize::MAX {
                // The main process is gone: end the rest, then drain the pipes to EOF.
                status = exit_status(child);
                kill_group(child, cgroup);
                child_fd = None;
                continue;
            }
            let n = match open[i].as_mut().map(|f| f.read(&mut buf)) {
                Some(Ok(n)) => n,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                _ => 0,
            };
            if n == 0 {
                open[i] = None;
                continue;
            }
            let stream = if i == 0 { 1u8 } else { 2u8 };
            let mut frame = Vec::with_capacity(8 + n);
            frame.extend_from_slice(&[stream, 0, 0, 0]);
            frame.extend_from_slice(&(n as u32).to_be_bytes());
            frame.extend_from_slice(&buf[..n]);
            let _ = log.write_all(&frame);
        }
    }
    status
}
