//! A container's own cgroup (v2), so that the end of a container ends everything it started.
//!
//! The process group alone is not enough: a daemon inside the container (`busybox httpd` without `-f`,
//! anything that calls `setsid`) leaves the group and would outlive `stop` and `rm -f`. Docker gets this
//! from the PID namespace (the end of PID 1 kills the namespace); a cgroup gives the same with
//! `cgroup.kill`, without changing what PIDs and signals mean inside the container. It holds no
//! controllers: it only groups, so it can sit under the shim's own cgroup whatever that one enables.
//!
//! Where cgroup v2 is missing (no `cgroup2` mount, a kernel without `cgroup.kill`, no permission), the
//! shim says nothing and the process group is all there is, as before.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the shim waits for a killed cgroup to empty before giving up on removing it.
const EMPTY_WITHIN: Duration = Duration::from_secs(2);

pub struct Cgroup {
    dir: PathBuf,
}

/// The prefix of a container cgroup's name (the test harness looks for it).
const PREFIX: &str = "cnm-";

/// Where containers' cgroups go: the calling process's own cgroup v2 directory. The daemon reads it
/// once at start (its shims are its descendants, in the same cgroup) and hands it to every shim, so a
/// start reads no mount table (the daemon's holds a line per sandbox).
pub fn parent_of_self() -> Option<PathBuf> {
    let mount = cgroup2_mount()?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(mount.join(path.trim_start_matches('/')))
}

impl Cgroup {
    /// Make `cnm-<id>` under `parent`. None when that cannot be done.
    pub fn create(parent: &Path, id: &str) -> Option<Cgroup> {
        let dir = parent.join(format!("{PREFIX}{id}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // A shim of the same container killed before it could clean up.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(_) => return None,
        }
        // The root cgroup has no `cgroup.kill`, a kernel before 5.14 none anywhere: ask the new one.
        if !dir.join("cgroup.kill").exists() {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(Cgroup { dir })
    }

    /// Container `id`'s cgroup under `parent`, when its shim made one (a `cnm exec` joins it).
    pub fn of_container(parent: &Path, id: &str) -> Option<Cgroup> {
        let dir = parent.join(format!("{PREFIX}{id}"));
        dir.is_dir().then_some(Cgroup { dir })
    }

    /// `cgroup.procs`, open for writing: a process forked later moves itself in by writing `0` to it,
    /// one write(2) between fork and exec.
    pub fn procs_file(&self) -> Option<std::fs::File> {
        std::fs::File::options()
            .write(true)
            .open(self.dir.join("cgroup.procs"))
            .ok()
    }

    /// Move the calling process in (the container's process, before exec: all it starts inherits it).
    pub fn enter(&self) -> bool {
        std::fs::write(self.dir.join("cgroup.procs"), b"0").is_ok()
    }

    /// SIGKILL every process in the cgroup, whatever group or session it moved to.
    pub fn kill(&self) {
        let _ = std::fs::write(self.dir.join("cgroup.kill"), b"1");
    }

    /// Wait until the cgroup is empty, then remove it.
    pub fn remove(&self) {
        let start = Instant::now();
        while populated(&self.dir) && start.elapsed() < EMPTY_WITHIN {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Whether any process is still in the cgroup (`populated 1` in `cgroup.events`).
fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|e| e.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a hybrid
/// host), from this process's mount table.
fn cgroup2_mount() -> Option<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        (fs.split_whitespace().next()? == "cgroup2")
            .then(|| mount.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kills and removes the test's cgroup however the test ends.
    struct Cleanup<'a>(&'a Cgroup);

    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            self.0.kill();
            self.0.remove();
        }
    }

    #[test]
    fn a_cgroup_is_made_entered_killed_and_removed() {
        let cg = parent_of_self()
            .and_then(|p| Cgroup::create(&p, &format!("unit-{}", std::process::id())));
        let Some(cg) = cg else {
            panic!("cgroup v2 with cgroup.kill is needed (root, kernel ≥ 5.14, a cgroup2 mount)");
        };
        let _cleanup = Cleanup(&cg);
        // A shell that enters the cgroup, then starts a child in a session of its own.
        let dir = cg.dir.clone();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo 0 > {}/cgroup.procs; setsid sleep 1000 & wait",
                dir.display()
            ))
            .spawn()
            .expect("sh");
        let start = Instant::now();
        while std::fs::read_to_string(dir.join("cgroup.procs"))
            .map(|p| p.lines().count() < 2)
            .unwrap_or(true)
        {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the shell and its child did not enter"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(populated(&dir));
        cg.kill();
        let _ = child.wait();
        cg.remove();
        assert!(!dir.exists(), "removed once empty");
    }
}
