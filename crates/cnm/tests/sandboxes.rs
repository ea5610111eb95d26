//! End-to-end tests of sandbox lifetimes and addressing options, each in its own world (see `common`).

mod common;

use std::time::{Duration, Instant};

use common::World;

/// Host-side veth names on a bridge.
fn ports(w: &World, bridge: &str) -> Vec<String> {
    w.sh(&format!("ip -o link show master {bridge}"))
        .ok()
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

fn bridge_of(w: &World, network: &str) -> String {
    let id = w.inspect("network", network)["Id"]
        .as_str()
        .expect("id")
        .to_string();
    format!("br-{}", &id[..12])
}

#[track_caller]
fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn removing_a_container_frees_its_interface_while_others_keep_running() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    let br = bridge_of(&w, "app");
    w.run_bg("ca", &["--network", "app"], &["sleep", "1000"]);
    w.run_bg("cb", &["--network", "app"], &["sleep", "1000"]);
    assert_eq!(ports(&w, &br).len(), 2);
    // The later container's mount namespace must not keep the earlier one's network namespace alive.
    w.cnm(&["rm", "-f", "ca"]).ok();
    wait_until("a's veth to go with its namespace", || {
        ports(&w, &br).len() == 1
    });
    w.run_bg("cc", &["--network", "app"], &["sleep", "1000"]);
    w.cnm(&["rm", "-f", "cb"]).ok();
    wait_until("b's veth to go", || ports(&w, &br).len() == 1);
}

#[test]
fn container_mount_namespace_does_not_see_other_sandboxes() {
    let w = World::new();
    w.cnm(&["network", "create", "app"]).ok();
    w.run_bg("ca", &["--network", "app"], &["sleep", "1000"]);
    w.run_bg("cb", &["--network", "app"], &["sleep", "1000"]);
    let netns_dir = w.path("exec/netns");
    let mounts = w
        .cnm(&["exec", "cb", "--", "cat", "/proc/self/mountinfo"])
        .ok()
        .stdout;
    let dir = netns_dir.to_str().expect("path");
    assert!(
        !mounts.lines().any(|l| l.contains(dir)),
        "sandbox namespace files visible inside a container:\n{mounts}"
    );
}
