//! Stopping a container stops all of it: `cnm stop`, `cnm kill`, `cnm rm -f`, `docker stop` and
//! `docker rm -f` leave none of the container's processes (children and grandchildren included)
//! and no shim behind, like Docker, where the end of PID 1 ends its PID namespace.

mod common;

use std::time::{Duration, Instant};

use common::World;

/// The container's main process runs a shell whose child outlives a SIGTERM to the shell and holds
/// the container's stdout/stderr open.
const TREE: &[&str] = &["sh", "-c", "sleep 1000 & sleep 1000 & wait"];

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie is dead; its parent just has not reaped it yet.
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Field `n` of `/proc/PID/stat` counted after the command name (0: state, 1: ppid, 3: session).
fn stat_field(pid: u32, n: usize) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(") ").expect("stat shape");
    rest.split(' ')
        .nth(n)
        .and_then(|p| p.parse().ok())
        .expect("stat field")
}

fn ppid(pid: u32) -> u32 {
    stat_field(pid, 1)
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Start the tree in container NAME; returns (shim pid, every pid of the container).
fn start_tree(w: &World, name: &str) -> (u32, Vec<u32>) {
    w.run_bg(name, &[], TREE);
    let pid = w.inspect("container", name)["State"]["Pid"]
        .as_u64()
        .expect("pid") as u32;
    let start = Instant::now();
    let kids = loop {
        let kids = children(pid);
        if kids.len() == 2 {
            break kids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the container's shell did not start its two children: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut all = vec![pid];
    all.extend(kids);
    (ppid(pid), all)
}

fn assert_all_gone(w: &World, name: &str, shim: u32, pids: &[u32], how: &str) {
    let start = Instant::now();
    while (alive(shim) || pids.iter().any(|p| alive(*p)))
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        left.is_empty(),
        "{how}: container processes survive: {left:?}"
    );
    assert!(!alive(shim), "{how}: the shim {shim} survives");
    let _ = (w, name);
}

fn assert_exited(w: &World, name: &str, how: &str) {
    let c = w.inspect("container", name);
    assert_eq!(c["State"]["Status"], "exited", "{how}: {c}");
    assert_eq!(w.sandboxes(), 0, "{how}: the sandbox is left");
}

#[test]
fn cnm_stop_ends_the_whole_container() {
    let w = World::new();
    let (shim, pids) = start_tree(&w, "tree");
    let t0 = Instant::now();
    w.cnm(&["stop", "-t", "1", "tree"]).ok();
    // SIGTERM ends the shell at once; its children go with it, so stop does not wait for the grace.
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t0.elapsed()
    );
    assert_all_gone(&w, "tree", shim, &pids, "cnm stop");
    assert_exited(&w, "tree", "cnm stop");
    assert_eq!(w.inspect("container", "tree")["State"]["ExitCode"], 143);
}

#[test]
fn stop_after_the_grace_period_kills_a_process_that_ignores_sigterm() {
    let w = World::new();
    w.run_bg(
        "stubborn",
        &[],
        &["sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait"],
    );
    let pid = w.inspect("container", "stubborn")["State"]["Pid"]
        .as_u64()
        .expect("pid") as u32;
    let start = Instant::now();
    while children(pid).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "children did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut pids = vec![pid];
    pids.extend(children(pid));
    let shim = ppid(pid);
    let t0 = Instant::now();
    w.cnm(&["stop", "-t", "1", "stubborn"]).ok();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "stop -t 1 took {took:?}"
    );
    assert_all_gone(&w, "stubborn", shim, &pids, "stop after grace");
    assert_exited(&w, "stubborn", "stop after grace");
    assert_eq!(w.inspect("container", "stubborn")["State"]["ExitCode"], 137);
}

#[test]
fn cnm_kill_ends_the_whole_container() {
    let w = World::new();
    let (shim, pids) = start_tree(&w, "tree");
    w.cnm(&["kill", "tree"]).ok();
    assert_all_gone(&w, "tree", shim, &pids, "cnm kill");
    assert_exited(&w, "tree", "cnm kill");
    assert_eq!(w.inspect("container", "tree")["State"]["ExitCode"], 137);
}

#[test]
fn cnm_rm_force_leaves_nothing() {
    let w = World::new();
    let (shim, pids) = start_tree(&w, "tree");
    w.cnm(&["rm", "-f", "tree"]).ok();
    assert_all_gone(&w, "tree", shim, &pids, "cnm rm -f");
    assert_eq!(w.cnm(&["ps", "-aq"]).ok().stdout.trim(), "");
    assert_eq!(w.sandboxes(), 0);
}

#[test]
fn docker_stop_and_rm_force_end_the_whole_container() {
    let w = World::new();
    let (shim, pids) = start_tree(&w, "one");
    w.docker(&["stop", "-t", "1", "one"]).ok();
    assert_all_gone(&w, "one", shim, &pids, "docker stop");
    assert_exited(&w, "one", "docker stop");

    let (shim, pids) = start_tree(&w, "two");
    w.docker(&["rm", "-f", "two"]).ok();
    assert_all_gone(&w, "two", shim, &pids, "docker rm -f");
    let names = w
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .stdout;
    assert_eq!(
        names.trim(),
        "one",
        "docker rm -f left the container listed"
    );
}

/// Processes in the network namespace of `pid` (the container's sandbox), found by namespace identity.
fn in_netns_of(pid: u32) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: String| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let ours = id(format!("/proc/{pid}/ns/net")).expect("container netns");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| id(format!("/proc/{p}/ns/net")) == Some(ours) && alive(*p))
        .collect()
}

fn session_of(pid: u32) -> u32 {
    stat_field(pid, 3)
}

#[test]
fn processes_that_left_the_containers_group_and_session_go_with_it() {
    let w = World::new();
    let www = w.path("www");
    std::fs::create_dir_all(&www).expect("www");
    // httpd without -f daemonizes (a session of its own, reparented away); setsid does the same by hand.
    let script = format!(
        "busybox httpd -p 8000 -h {}; setsid sleep 1000 & exec sleep 1000",
        www.display()
    );
    w.run_bg("daemons", &[], &["sh", "-c", &script]);
    let pid = w.inspect("container", "daemons")["State"]["Pid"]
        .as_u64()
        .expect("pid") as u32;
    let start = Instant::now();
    let pids = loop {
        let pids = in_netns_of(pid);
        if pids.len() >= 3 {
            break pids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the container's daemons did not start: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    // A process a `cnm exec` left behind, in a session of its own, goes with the container too.
    w.cnm(&[
        "exec",
        "daemons",
        "--",
        "sh",
        "-c",
        "setsid sleep 1001 >/dev/null 2>&1 &",
    ])
    .ok();
    let start = Instant::now();
    let pids = loop {
        let now = in_netns_of(pid);
        if now.len() > pids.len() {
            break now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the exec's daemon did not start: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let escaped = pids
        .iter()
        .filter(|p| session_of(**p) != session_of(pid))
        .count();
    assert!(
        escaped >= 2,
        "the daemons left the container's session: {pids:?}"
    );
    let cgroup = common::container_cgroup(pid).expect("the container has a cgroup of its own");
    let shim = ppid(pid);
    w.cnm(&["rm", "-f", "daemons"]).ok();
    assert_all_gone(&w, "daemons", shim, &pids, "rm -f");
    assert!(!cgroup.exists(), "the container's cgroup is removed");
}
