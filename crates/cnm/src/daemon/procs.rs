//! Container processes: starting shims, watching them exit (pidfd, also across daemon restarts),
//! stop/kill, exec in a running container, and logs.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cnm_api::ApiError;
use cnm_core::controller::StartedSandbox;
use cnm_core::model::ContainerRecord;
use cnm_core::ControllerConfig;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncReadExt;

use super::convert::api_error;
use super::http::Body;
use super::Daemon;
use crate::shim::ShimSpec;
use crate::spawner::Spawner;

pub struct ExecState {
    pub container_id: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: u32,
}

pub struct Supervisor {
    /// Where a container's state and log live (the controller's layout, one place for both).
    layout: ControllerConfig,
    /// Forks shims; without it (it could not start, or died) shims are exec'd.
    spawner: Option<Spawner>,
    /// Exit codes of containers removed right after exiting (`--rm`), so a late `wait` still answers.
    tombstones: Mutex<HashMap<String, i32>>,
    pub execs: Mutex<HashMap<String, ExecState>>,
    /// Where containers' cgroups go (the daemon's own cgroup v2 directory, read once); None without
    /// cgroup v2.
    cgroup_parent: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn pidfd_open(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Supervisor {
    pub fn new(layout: ControllerConfig, spawner: Option<Spawner>) -> Self {
        Supervisor {
            layout,
            spawner,
            tombstones: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            cgroup_parent: crate::shim::cgroup::parent_of_self(),
        }
    }

    /// The shim's working directory and exit file: the container's runtime directory, where its
    /// /etc files are too.
    fn state_dir(&self, id: &str) -> PathBuf {
        self.layout.files_dir(id)
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.layout.log_path(id)
    }

    /// Whether a container recorded as running still has its shim: the pid runs in the container's state
    /// directory (forked shims), or has the container in its command line (exec'd shims).
    pub fn is_alive(&self, c: &ContainerRecord) -> bool {
        if c.process.shim_pid == 0 {
            return false;
        }
        let proc_dir = PathBuf::from(format!("/proc/{}", c.process.shim_pid));
        if std::fs::read_link(proc_dir.join("cwd")).ok() == Some(self.state_dir(&c.id)) {
            return true;
        }
        let cmdline = std::fs::read(proc_dir.join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline);
        text.contains("shim") && text.contains(&c.id)
    }

    pub fn exit_code_of(&self, id: &str) -> Option<i32> {
        lock(&self.tombstones).get(id).copied()
    }

    /// Start the process of a prepared sandbox; reports the outcome to the controller.
    pub async fn start(&self, daemon: &Arc<Daemon>, sb: StartedSandbox) -> Result<(), ApiError> {
        let dir = self.state_dir(&sb.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ApiError::internal(format!("create {}: {e}", dir.display())))?;
        let exit_path = dir.join("exit");
        let _ = std::fs::remove_file(&exit_path);
        let log_path = self.log_path(&sb.id);
        if let Some(log_dir) = log_path.parent() {
            std::fs::create_dir_all(log_dir)
                .map_err(|e| ApiError::internal(format!("create {}: {e}", log_dir.display())))?;
        }
        let spec = ShimSpec {
            id: sb.id.clone(),
            netns: sb.netns.clone(),
            hostname: sb.hostname.clone(),
            bind_files: vec![
                (sb.hosts_path.clone(), PathBuf::from("/etc/hosts")),
                (sb.resolv_path.clone(), PathBuf::from("/etc/resolv.conf")),
                (sb.hostname_path.clone(), PathBuf::from("/etc/hostname")),
            ],
            cmd: sb.cmd.clone(),
            env: sb.env.clone(),
            working_dir: sb.working_dir.clone(),
            log_path,
            exit_path,
            detach: daemon.ctl.private_dirs(),
            cgroup_parent: self.cgroup_parent.clone(),
        };
        let outcome = match self.spawn_forked(&spec) {
            Some(report) => tokio::task::spawn_blocking(move || -> Result<String, String> {
                let mut text = String::new();
                let mut report = report;
                let _ = report.read_to_string(&mut text);
                Ok(text)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?,
            None => self.spawn_exec(&dir, &spec).await?,
        };
        self.started(daemon, &sb.id, outcome).await
    }

    /// Hand the spec to the spawner; None when there is none or it failed (the caller execs a shim).
    fn spawn_forked(&self, spec: &ShimSpec) -> Option<File> {
        let spawner = self.spawner.as_ref()?;
        let netns = match &spec.netns {
            Some(p) => Some(File::open(p).ok()?),
            None => None,
        };
        match spawner.spawn(spec, netns.as_ref()) {
            Ok(report) => Some(report),
            Err(e) => {
                tracing::warn!(error = %e, alive = spawner.alive(), "spawner failed; exec'ing the shim");
                None
            }
        }
    }

    /// Exec `cnm shim SPEC` (the spec written next to the container's state).
    async fn spawn_exec(
        &self,
        dir: &Path,
        spec: &ShimSpec,
    ) -> Result<Result<String, String>, ApiError> {
        let spec_path = dir.join("shim.json");
        let bytes = serde_json::to_vec(spec).map_err(|e| ApiError::internal(e.to_string()))?;
        std::fs::write(&spec_path, bytes)
            .map_err(|e| ApiError::internal(format!("write shim spec: {e}")))?;
        let exe = std::env::current_exe()
            .map_err(|e| ApiError::internal(format!("own executable: {e}")))?;
        tokio::task::spawn_blocking(move || -> Result<String, String> {
            let mut child = Command::new(exe)
                .arg("shim")
                .arg(&spec_path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("spawn shim: {e}"))?;
            let mut report = String::new();
            if let Some(mut out) = child.stdout.take() {
                let _ = out.read_to_string(&mut report);
            }
            let _ = child.wait();
            Ok(report)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Act on a shim's report: running, or the start failed.
    async fn started(
        &self,
        daemon: &Arc<Daemon>,
        id: &str,
        outcome: Result<String, String>,
    ) -> Result<(), ApiError> {
        let report = match outcome {
            Ok(r) => r,
            Err(e) => {
                let _ = daemon.ctl.start_failed(id, &e, 125).await;
                return Err(ApiError::internal(e));
            }
        };
        let line = report
            .lines()
            .next()
            .unwrap_or("err 125 shim gave no report")
            .to_string();
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("ok"), Some(shim), Some(pid)) => {
                let shim_pid: u32 = shim.parse().unwrap_or(0);
                let pid: u32 = pid.parse().unwrap_or(0);
                daemon
                    .ctl
                    .set_running(id, pid, shim_pid)
                    .await
                    .map_err(api_error)?;
                self.watch(daemon.clone(), id.to_string(), shim_pid);
                Ok(())
            }
            (_, code, msg) => {
                let code: i32 = code.and_then(|c| c.parse().ok()).unwrap_or(125);
                let msg = msg.unwrap_or("failed to start").to_string();
                let _ = daemon.ctl.start_failed(id, &msg, code).await;
                // The CLI maps these statuses to Docker's exit codes 127 / 126.
                let status = match code {
                    127 => 404,
                    126 => 403,
                    _ => 500,
                };
                Err(ApiError::new(
                    status,
                    format!("failed to create task for container: {msg}"),
                ))
            }
        }
    }

    /// Watch every container the controller believes is running (after a restart).
    pub async fn watch_running(&self, daemon: Arc<Daemon>) {
        for (c, _) in daemon.ctl.containers().await {
            if c.is_running() {
                self.watch(daemon.clone(), c.id.clone(), c.process.shim_pid);
            }
        }
    }

    fn watch(&self, daemon: Arc<Daemon>, id: String, shim_pid: u32) {
        let exit_path = self.state_dir(&id).join("exit");
        tokio::spawn(async move {
            if let Ok(fd) = pidfd_open(shim_pid) {
                // SAFETY: the pidfd is owned by the AsyncFd for as long as it is registered.
                if let Ok(afd) =
                    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                {
                    let _ = afd.readable().await;
                }
            }
            let code = std::fs::read_to_string(&exit_path)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .unwrap_or(255);
            lock(&daemon.procs.tombstones).insert(id.clone(), code);
            match daemon.ctl.container_exited(&id, code).await {
                Ok(removed) => tracing::info!(container = %id, code, removed, "container exited"),
                Err(e) => tracing::warn!(container = %id, error = %e, "recording exit failed"),
            }
        });
    }

    /// Signal a container's main process, as Docker does. The shim kills the rest of the
    /// container's process group once the main process has ended (see `shim`).
    pub fn signal(pid: u32, sig: nix::sys::signal::Signal) -> Result<(), ApiError> {
        if pid == 0 {
            return Ok(());
        }
        let target = nix::unistd::Pid::from_raw(pid as i32);
        match nix::sys::signal::kill(target, sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(ApiError::internal(format!("signal {sig}: {e}"))),
        }
    }

    /// Wait until the container is no longer running (or `timeout` passes); returns whether it stopped.
    pub async fn wait_stopped(daemon: &Arc<Daemon>, id: &str, timeout: Option<Duration>) -> bool {
        let mut events = daemon.ctl.subscribe();
        let running = |d: &Arc<Daemon>| {
            let d = d.clone();
            let id = id.to_string();
            async move {
                d.ctl
                    .container(&id)
                    .await
                    .map(|(c, _)| c.is_running())
                    .unwrap_or(false)
            }
        };
        if !running(daemon).await {
            return true;
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            let next = async {
                loop {
                    match events.recv().await {
                        Ok(e) if e.id == id && (e.action == "die" || e.action == "destroy") => {
                            return
                        }
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(_) => return,
                    }
                }
            };
            match deadline {
                Some(d) => {
                    if tokio::time::timeout_at(d, next).await.is_err() {
                        return !running(daemon).await;
                    }
                }
                None => next.await,
            }
            if !running(daemon).await {
                return true;
            }
        }
    }

    /// Run a command inside a running container's namespaces, streaming its output as framed chunks.
    pub fn exec_start(
        &self,
        daemon: Arc<Daemon>,
        exec_id: String,
        target_pid: u32,
    ) -> Result<Body, ApiError> {
        let (container_id, cmd, env) = {
            let mut execs = lock(&self.execs);
            let st = execs
                .get_mut(&exec_id)
                .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {exec_id}")))?;
            st.running = true;
            (st.container_id.clone(), st.cmd.clone(), st.env.clone())
        };
        let ns_files: Vec<(std::fs::File, nix::sched::CloneFlags)> = [
            ("net", nix::sched::CloneFlags::CLONE_NEWNET),
            ("uts", nix::sched::CloneFlags::CLONE_NEWUTS),
            ("mnt", nix::sched::CloneFlags::CLONE_NEWNS),
        ]
        .into_iter()
        .map(|(n, f)| {
            std::fs::File::open(format!("/proc/{target_pid}/ns/{n}")).map(|file| (file, f))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::conflict(format!("container is not running: {e}")))?;
        let Some((prog, args)) = cmd.split_first() else {
            return Err(ApiError::bad_request("No exec command specified"));
        };
        let mut command = tokio::process::Command::new(prog);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.env_clear();
        command.env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        );
        for e in &env {
            if let Some((k, v)) = e.split_once('=') {
                command.env(k, v);
            }
        }
        // Into the container's cgroup too, so that the container's end ends what the exec started, as
        // Docker's exec processes go with their container.
        let cgroup_procs = self
            .cgroup_parent
            .as_deref()
            .and_then(|parent| crate::shim::cgroup::Cgroup::of_container(parent, &container_id))
            .and_then(|cg| cg.procs_file());
        // SAFETY: only a write, setns and chdir between fork and exec, on fds opened before the fork.
        unsafe {
            command.pre_exec(move || {
                if let Some(procs) = &cgroup_procs {
                    use std::io::Write;
                    // Best effort: without it the exec runs as before, outside the container's cgroup.
                    let _ = (&*procs).write_all(b"0");
                }
                for (f, flag) in &ns_files {
                    nix::sched::setns(f, *flag).map_err(std::io::Error::from)?;
                }
                std::env::set_current_dir("/")?;
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                404
            } else {
                500
            };
            ApiError::new(code, format!("exec: \"{prog}\": {e}"))
        })?;
        if let Some(p) = child.id() {
            if let Some(st) = lock(&self.execs).get_mut(&exec_id) {
                st.pid = p;
            }
        }
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::io::Error>>(16);
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        tokio::spawn(async move {
            let mut ob = vec![0u8; 16384];
            let mut eb = vec![0u8; 16384];
            while out.is_some() || err.is_some() {
                tokio::select! {
                    n = async { match out.as_mut() { Some(o) => o.read(&mut ob).await, None => std::future::pending().await } } => {
                        match n { Ok(n) if n > 0 => { let _ = tx.send(Ok(hyper::body::Frame::data(Bytes::from(cnm_api::frame(cnm_api::StreamKind::Stdout, &ob[..n]))))).await; } _ => out = None }
                    }
                    n = async { match err.as_mut() { Some(e) => e.read(&mut eb).await, None => std::future::pending().await } } => {
                        match n { Ok(n) if n > 0 => { let _ = tx.send(Ok(hyper::body::Frame::data(Bytes::from(cnm_api::frame(cnm_api::StreamKind::Stderr, &eb[..n]))))).await; } _ => err = None }
                    }
                }
            }
            let code = match child.wait().await {
                Ok(s) => s.code().unwrap_or_else(|| {
                    128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)
                }),
                Err(_) => 255,
            };
            if let Some(st) = lock(&daemon.procs.execs).get_mut(&exec_id) {
                st.running = false;
                st.exit_code = Some(code);
            }
            drop(tx);
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(StreamBody::new(stream).boxed())
    }

    /// Stream a container's log (framed), optionally following until the container stops.
    pub fn logs(
        daemon: Arc<Daemon>,
        id: String,
        path: PathBuf,
        follow: bool,
        stdout: bool,
        stderr: bool,
    ) -> Body {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::io::Error>>(16);
        tokio::spawn(async move {
            // Opened once, up front: the descriptor keeps the log readable even if `--rm` removes the
            // container (and its files) the moment it exits.
            let mut file = tokio::fs::File::open(&path).await.ok();
            let mut pending: Vec<u8> = Vec::new();
            let mut buf = vec![0u8; 32 * 1024];
            let mut last_round = false;
            loop {
                let mut progressed = false;
                if file.is_none() {
                    file = tokio::fs::File::open(&path).await.ok();
                }
                if let Some(f) = file.as_mut() {
                    loop {
                        let n = f.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        progressed = true;
                        pending.extend_from_slice(&buf[..n]);
                        // Forward whole frames of the wanted streams.
                        let mut out = Vec::new();
                        let mut i = 0;
                        while pending.len() - i >= 8 {
                            let len = u32::from_be_bytes([
                                pending[i + 4],
                                pending[i + 5],
                                pending[i + 6],
                                pending[i + 7],
                            ]) as usize;
                            if pending.len() - i < 8 + len {
                                break;
                            }
                            let kind = pending[i];
                            if (kind == 1 && stdout) || (kind == 2 && stderr) {
                                out.extend_from_slice(&pending[i..i + 8 + len]);
                            }
                            i += 8 + len;
                        }
                        pending.drain(..i);
                        if !out.is_empty()
                            && tx
                                .send(Ok(hyper::body::Frame::data(Bytes::from(out))))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                }
                if !follow || last_round {
                    return;
                }
                if !progressed {
                    use cnm_core::model::RunState;
                    // A created container has not run yet (the client follows before it starts it),
                    // unless starting it failed.
                    let done = match daemon.ctl.container(&id).await {
                        Err(_) => true,
                        Ok((c, _)) => match c.process.state {
                            RunState::Exited => true,
                            RunState::Created => !c.process.error.is_empty(),
                            RunState::Running => false,
                        },
                    };
                    if done {
                        // One more pass picks up what the shim wrote just before exiting.
                        last_round = true;
                        continue;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        });
        StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed()
    }
}
