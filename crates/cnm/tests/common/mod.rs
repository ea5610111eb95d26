//! End-to-end harness: every test gets its own world — a holder process in a fresh network namespace and
//! a private mount namespace (so namespace bind mounts vanish with it) — runs `cnm daemon` inside it with
//! temporary dirs, and drives it through the real CLI. Nothing touches the machine's own namespaces.
//! A test that fails prints the tail of its daemon's log; `CNM_TEST_KEEP_LOGS=DIR` keeps the whole log.
#![allow(dead_code)]

pub mod http;

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const CNM: &str = env!("CARGO_BIN_EXE_cnm");

pub struct World {
    pub dir: tempfile::TempDir,
    holder: Child,
    daemon: Option<Child>,
    /// A cgroup (v2) of this world's own that its daemons start in, so that whatever they leave
    /// running (shims, containers, what those started) is found and ended with the world.
    cgroup: Option<PathBuf>,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(o: Output) -> Self {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed: stdout={:?} stderr={:?}",
            self.stdout, self.stderr
        );
        self
    }

    /// The command failed with exit code `code` and `message` on stderr.
    #[track_caller]
    pub fn fails(self, code: i32, message: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stdout={:?} stderr={:?}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "expected {message:?} in stderr {:?}",
            self.stderr
        );
        self
    }
}

impl World {
    pub fn new() -> Self {
        Self::build(false)
    }

    /// A world whose exec-root is a tmpfs, as `/run/cnm` is on a real host (benchmarks: the runtime
    /// files then cost what they cost in production, not an inode on the test machine's disk). The
    /// tmpfs exists only in the world's mount namespace, so read it through `/proc/<holder>/root`.
    pub fn new_with_tmpfs_run() -> Self {
        Self::build(true)
    }

    fn build(tmpfs_run: bool) -> Self {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "end-to-end tests need root (they create network namespaces); run them as root"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let holder = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                "sleep",
                "100000",
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn namespace holder");
        let me = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let start = Instant::now();
        loop {
            let theirs = std::fs::read_link(format!("/proc/{}/ns/net", holder.id()));
            if matches!(&theirs, Ok(t) if *t != me) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "namespace holder did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut w = World {
            dir,
            holder,
            daemon: None,
            cgroup: world_cgroup(),
        };
        w.sh("ip link set lo up").ok();
        if tmpfs_run {
            let exec = w.path("exec");
            std::fs::create_dir_all(&exec).expect("exec-root");
            w.sh(&format!(
                "mount -t tmpfs -o mode=0755 cnm-run {}",
                exec.display()
            ))
            .ok();
        }
        // The daemon's "host" resolv.conf belongs to the world: a forwarded name goes to the world's own
        // loopback (where nothing listens unless a test starts a server), never to the machine's resolver.
        std::fs::write(w.path("resolv.conf"), "nameserver 127.0.0.1\n").expect("resolv.conf");
        w.start_daemon(&[]);
        w
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn sock(&self) -> String {
        format!("unix://{}", self.path("cnm.sock").display())
    }

    /// A command that runs inside this world's network and mount namespaces.
    pub fn command(&self, prog: &str) -> Command {
        let pid = self.holder.id();
        let net = File::open(format!("/proc/{pid}/ns/net")).expect("holder netns");
        let mnt = File::open(format!("/proc/{pid}/ns/mnt")).expect("holder mntns");
        let mut c = Command::new(prog);
        c.env("CNM_HOST", self.sock());
        // SAFETY: only setns on descriptors opened before the fork.
        unsafe {
            c.pre_exec(move || {
                nix::sched::setns(net.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)?;
                nix::sched::setns(mnt.as_fd(), nix::sched::CloneFlags::CLONE_NEWNS)
                    .map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        c
    }

    pub fn start_daemon(&mut self, extra: &[&str]) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.path("daemon.log"))
            .expect("log");
        let mut c = self.command(CNM);
        c.arg("daemon")
            .arg("-H")
            .arg(self.sock())
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("exec"))
            .arg("--log-level")
            .arg("debug")
            .args(extra);
        if !extra.contains(&"--resolv-conf") {
            c.arg("--resolv-conf").arg(self.path("resolv.conf"));
        }
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        if let Some(procs) = self.cgroup.as_ref().and_then(|cg| {
            File::options()
                .write(true)
                .open(cg.join("cgroup.procs"))
                .ok()
        }) {
            // SAFETY: one write(2) to a descriptor opened before the fork.
            unsafe {
                c.pre_exec(move || {
                    use std::io::Write;
                    (&procs).write_all(b"0")
                });
            }
        }
        let child = c.spawn().expect("spawn daemon");
        self.daemon = Some(child);
        let start = Instant::now();
        loop {
            if self.cnm(&["network", "ls", "-q"]).code == 0 {
                return;
            }
            if let Some(d) = self.daemon.as_mut() {
                if let Ok(Some(st)) = d.try_wait() {
                    panic!("daemon exited at start ({st}); log:\n{}", self.log());
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "daemon did not come up; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    /// A process inside this world's namespaces (for joining them).
    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().map(|d| d.id()).unwrap_or(0)
    }

    /// SIGTERM (or SIGKILL) the daemon and wait for it.
    pub fn stop_daemon(&mut self, sig: nix::sys::signal::Signal) {
        if let Some(mut d) = self.daemon.take() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.id() as i32), sig);
            let _ = d.wait();
        }
    }

    pub fn cnm(&self, args: &[&str]) -> Out {
        Out::from(
            self.command(CNM)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("run cnm"),
        )
    }

    /// The daemon's socket file.
    pub fn socket(&self) -> PathBuf {
        self.path("cnm.sock")
    }

    /// The docker CLI on PATH, talking to this world's daemon (`DOCKER_HOST`), with its own empty
    /// config dir. A machine without the docker CLI fails the test: CI installs one (.ci/run).
    pub fn docker(&self, args: &[&str]) -> Out {
        self.docker_env(&[], args)
    }

    /// [`World::docker`] with extra environment (e.g. `DOCKER_API_VERSION`). `CNM_TEST_DOCKER`
    /// names another docker CLI to test with (e.g. Debian's 20.10 one).
    pub fn docker_env(&self, env: &[(&str, &str)], args: &[&str]) -> Out {
        let bin = std::env::var("CNM_TEST_DOCKER").unwrap_or_else(|_| "docker".into());
        let mut c = self.command(&bin);
        c.env("DOCKER_HOST", self.sock())
            .env("DOCKER_CONFIG", self.path("docker-config"))
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_CONTEXT")
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null());
        match c.output() {
            Ok(o) => Out::from(o),
            Err(e) => panic!(
                "cannot run the docker CLI {bin:?} ({e}): these tests need `docker` on PATH \
                 (scripts/install-docker-cli.sh installs Debian's, as .ci/run does)"
            ),
        }
    }

    pub fn sh(&self, script: &str) -> Out {
        Out::from(
            self.command("sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .output()
                .expect("run sh"),
        )
    }

    /// Raw HTTP request to the daemon; returns (status, body).
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let (status, _, body) = self.http_full(method, path, body);
        (status, body)
    }

    /// Raw HTTP request to the daemon; returns (status, header block, body).
    pub fn http_full(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String, String) {
        use std::io::{Read, Write};
        let mut s =
            std::os::unix::net::UnixStream::connect(self.path("cnm.sock")).expect("connect");
        let b = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        );
        // The daemon may answer (413) and close before a huge body is fully sent.
        let _ = s.write_all(req.as_bytes());
        let mut resp = Vec::new();
        let _ = s.read_to_end(&mut resp);
        let text = String::from_utf8_lossy(&resp).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .map(|(h, b)| (h.to_string(), b.to_string()))
            .unwrap_or_default();
        let body = if text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(&body)
        } else {
            body
        };
        (status, head, body)
    }

    /// `cnm run -d --name NAME [opts…] -- CMD…`; returns the container id.
    pub fn run_bg(&self, name: &str, opts: &[&str], cmd: &[&str]) -> String {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(opts);
        args.push("--");
        args.extend_from_slice(cmd);
        self.cnm(&args).ok().stdout.trim().to_string()
    }

    /// A container NAME on NETWORK serving `body` at `/` with busybox httpd; returns its address there.
    pub fn web(&self, name: &str, network: &str, body: &str) -> String {
        let www = self.path(&format!("www-{name}"));
        std::fs::create_dir_all(&www).expect("www");
        std::fs::write(www.join("index.html"), body).expect("index");
        let root = www.to_str().expect("path").to_string();
        self.run_bg(
            name,
            &["--network", network],
            &["busybox", "httpd", "-f", "-p", "80", "-h", &root],
        );
        self.ip(name, network)
    }

    /// A container's IPv4 address on one network, from inspect.
    pub fn ip(&self, ctr: &str, network: &str) -> String {
        let c = self.inspect("container", ctr);
        c["NetworkSettings"]["Networks"][network]["IPAddress"]
            .as_str()
            .expect("ip")
            .to_string()
    }

    /// Number of namespace files under the exec-root (each is a live sandbox).
    /// Host-side veths in this world: (containers' interfaces, interfaces the daemon keeps ready for
    /// the next container, which carry its alias). `master`: only those on that bridge.
    pub fn veths(&self, master: Option<&str>) -> (Vec<String>, Vec<String>) {
        let filter = match master {
            Some(br) => format!("master {br}"),
            None => "type veth".to_string(),
        };
        let out = self.sh(&format!("ip -o link show {filter}")).ok().stdout;
        let mut containers = Vec::new();
        let mut ready = Vec::new();
        for line in out.lines() {
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name).to_string();
            if line.contains("alias cnm: ready for the next container") {
                ready.push(name);
            } else {
                containers.push(name);
            }
        }
        (containers, ready)
    }

    pub fn sandboxes(&self) -> usize {
        std::fs::read_dir(self.path("exec/netns"))
            .expect("netns dir")
            .count()
    }

    pub fn inspect(&self, what: &str, name: &str) -> serde_json::Value {
        let out = if what == "network" {
            self.cnm(&["network", "inspect", name])
        } else {
            self.cnm(&["inspect", name])
        };
        let out = out.ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("inspect json");
        v[0].clone()
    }
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for World {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            let ids = self.cnm(&["ps", "-aq"]).stdout;
            for id in ids.lines().filter(|l| !l.is_empty()) {
                let _ = self.cnm(&["rm", "-f", id]);
            }
            self.stop_daemon(nix::sys::signal::Signal::SIGTERM);
        }
        if std::thread::panicking() {
            self.keep_log();
        }
        self.kill_leftovers();
        if let Some(cg) = &self.cgroup {
            end_cgroup(cg);
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// This process's cgroup v2 directory (on the cgroup2 mount) and the mount itself.
fn own_cgroup_dir(pid: &str) -> Option<PathBuf> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = table.lines().find_map(|l| {
        let (m, fs) = l.split_once(" - ")?;
        (fs.split_whitespace().next()? == "cgroup2").then(|| m.split_whitespace().nth(4))?
    })?;
    Some(PathBuf::from(mount).join(path.trim_start_matches('/')))
}

/// A new cgroup for one world under the test process's own (not named `cnm-…`, which is a container's).
fn world_cgroup() -> Option<PathBuf> {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = own_cgroup_dir("self")?.join(format!("cnmtest-{}-{n}", std::process::id()));
    std::fs::create_dir(&dir).ok()?;
    Some(dir)
}

/// SIGKILL everything in a world's cgroup and its children (cgroup.kill covers the subtree), then
/// remove the children and the cgroup itself once they are empty.
fn end_cgroup(dir: &std::path::Path) {
    let _ = std::fs::write(dir.join("cgroup.kill"), b"1");
    let start = Instant::now();
    while std::fs::read_to_string(dir.join("cgroup.events"))
        .is_ok_and(|e| e.lines().any(|l| l.trim() == "populated 1"))
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    remove_cgroup_tree(dir);
}

fn remove_cgroup_tree(dir: &std::path::Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl World {
    /// A failed test's daemon log would vanish with its temporary dir: print its tail (nextest shows a
    /// failed test's output), and copy the whole of it into `CNM_TEST_KEEP_LOGS` when that names a
    /// directory, so an intermittent failure leaves its evidence behind.
    fn keep_log(&self) {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(150)..];
        eprintln!(
            "---- daemon log (last {} of {} lines) ----\n{}\n---- end of daemon log ----",
            tail.len(),
            lines.len(),
            tail.join("\n")
        );
        let Some(dir) = std::env::var_os("CNM_TEST_KEEP_LOGS") else {
            return;
        };
        let test = std::thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", "-");
        let dir = PathBuf::from(dir);
        let to = dir.join(format!("{test}-{}.log", std::process::id()));
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&to, &log)) {
            Ok(()) => eprintln!("daemon log kept at {}", to.display()),
            Err(e) => eprintln!("could not keep the daemon log at {}: {e}", to.display()),
        }
    }

    /// Kill whatever this world's daemon started that is still alive (a test that failed with the daemon
    /// down leaves its shims and container processes): every process in the world's network namespace
    /// or in one of its sandbox namespaces, found by namespace identity, killed by PID.
    fn kill_leftovers(&self) {
        use std::os::unix::fs::MetadataExt;
        let ns_id = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let mut ours: Vec<(u64, u64)> = Vec::new();
        ours.extend(ns_id(std::path::Path::new(&format!(
            "/proc/{}/ns/net",
            self.holder.id()
        ))));
        // The namespace files are bind mounts in the world's mount namespace: look through its root.
        let netns = format!(
            "/proc/{}/root{}",
            self.holder.id(),
            self.path("exec/netns").display()
        );
        if let Ok(rd) = std::fs::read_dir(netns) {
            for e in rd.flatten() {
                ours.extend(ns_id(&e.path()));
            }
        }
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for e in procs.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me || pid == self.holder.id() {
                continue;
            }
            if ns_id(&e.path().join("ns/net")).is_some_and(|id| ours.contains(&id)) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// The cgroup a container process's shim made for it (`cnm-<id>` on the cgroup v2 mount), if it is in one.
/// (Containers' cgroups sit inside their world's, which `end_cgroup` ends and removes with them.)
pub fn container_cgroup(pid: u32) -> Option<PathBuf> {
    let dir = own_cgroup_dir(&pid.to_string())?;
    dir.file_name()?
        .to_str()?
        .starts_with("cnm-")
        .then_some(dir)
}
