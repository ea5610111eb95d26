//! The real docker CLI (the one on PATH, or `CNM_TEST_DOCKER`) manages cnm: every command of the
//! Engine API subset cnm serves, with `DOCKER_HOST` pointing at a world's daemon, checked on what
//! the CLI prints and on what the kernel then holds. A machine without a docker CLI fails these
//! tests (scripts/install-docker-cli.sh installs Debian's).
//!
//! The suite passes with the 28.2 CLI (API 1.50, Docker 28 shapes) and with Debian 12's 20.10 CLI
//! (which negotiates API 1.41 and gets the 20.10 shapes); the few places where their output
//! differs are branched on [`cli_major`].

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Out, World};
use serde_json::Value;

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Major version of the docker CLI under test (20 for Debian's, 28 for the current one).
fn cli_major(w: &World) -> u32 {
    let v = w
        .docker(&["version", "--format", "{{.Client.Version}}"])
        .ok()
        .stdout;
    v.trim()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("client version {v:?}"))
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// The first column of each table row (after the header).
fn column(out: &str, i: usize) -> Vec<String> {
    out.lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(i).unwrap_or_default().to_string())
        .collect()
}

fn names(w: &World, args: &[&str]) -> Vec<String> {
    let mut a = vec!["network", "ls", "--format", "{{.Name}}"];
    a.extend_from_slice(args);
    w.docker(&a)
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

fn net_id(w: &World, name: &str) -> String {
    w.docker(&["network", "inspect", "-f", "{{.Id}}", name])
        .ok()
        .stdout
        .trim()
        .to_string()
}

fn ctr_id(w: &World, name: &str) -> String {
    w.docker(&["inspect", "-f", "{{.Id}}", name])
        .ok()
        .stdout
        .trim()
        .to_string()
}

/// `ip -o addr` inside a container, through cnm's exec.
fn addrs_in(w: &World, ctr: &str) -> String {
    w.cnm(&["exec", ctr, "--", "ip", "-o", "addr", "show"])
        .ok()
        .stdout
}

/// How the CLI reports a missing network: the 28 CLI prints the daemon's 404 message, the 20.10
/// one its own.
fn not_found(w: &World, name: &str) -> String {
    if cli_major(w) >= 23 {
        format!("Error response from daemon: network {name} not found")
    } else {
        format!("Error: No such network: {name}")
    }
}

#[track_caller]
fn fails_with(o: Out, message: &str) {
    assert_eq!(o.code, 1, "stdout={:?} stderr={:?}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains(message),
        "expected {message:?} in {:?}",
        o.stderr
    );
}

#[test]
fn version_and_info() {
    let w = World::new();
    let major = cli_major(&w);
    let v = w.docker(&["version"]).ok().stdout;
    assert!(v.contains("Server:"), "{v}");
    assert!(
        v.contains("API version:      1.50 (minimum version 1.24)"),
        "{v}"
    );
    let server = w
        .docker(&[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}",
        ])
        .ok()
        .stdout;
    assert_eq!(
        server.trim(),
        format!("{} 1.50 1.24 linux", env!("CARGO_PKG_VERSION"))
    );
    // The client negotiates down to what both speak: 1.50 for the 28.2 CLI, 1.41 for 20.10's.
    let client = w
        .docker(&["version", "--format", "{{.Client.APIVersion}}"])
        .ok()
        .stdout;
    let want = if major >= 28 { "1.50" } else { "1.41" };
    assert_eq!(client.trim(), want);

    w.cnm(&["run", "-d", "--name", "i1", "--", "sleep", "1000"])
        .ok();
    let info: Value =
        serde_json::from_str(&w.docker(&["info", "--format", "{{json .}}"]).ok().stdout)
            .expect("info json");
    assert_eq!(info["ServerVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["Containers"], 1);
    assert_eq!(info["ContainersRunning"], 1);
    assert_eq!(
        info["Plugins"]["Network"],
        serde_json::json!(["bridge", "host", "null"])
    );
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(info["OSType"], "linux");
    assert_eq!(
        info["DockerRootDir"],
        w.path("data").display().to_string().as_str()
    );
    let plain = w.docker(&["info"]).ok().stdout;
    assert!(
        plain.contains(&format!("Server Version: {}", env!("CARGO_PKG_VERSION"))),
        "{plain}"
    );
    assert!(plain.contains(" Running: 1"), "{plain}");
}

#[test]
fn network_create_with_every_flag() {
    let w = World::new();
    let out = w
        .docker(&[
            "network",
            "create",
            "-d",
            "bridge",
            "--subnet",
            "10.50.0.0/16",
            "--gateway",
            "10.50.0.254",
            "--ip-range",
            "10.50.5.0/24",
            "--aux-address",
            "host1=10.50.0.10",
            "--internal",
            "--attachable",
            "-o",
            "com.docker.network.bridge.name=brfull",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "--label",
            "a=b",
            "--label",
            "c",
            "--ipam-driver",
            "default",
            "--ipam-opt",
            "foo=bar",
            "full",
        ])
        .ok()
        .stdout;
    let id = out.trim();
    assert!(is_hex(id, 64), "create prints the ID: {out:?}");
    assert_eq!(net_id(&w, "full"), id);
    let ipam = w
        .docker(&["network", "inspect", "-f", "{{json .IPAM}}", "full"])
        .ok()
        .stdout;
    assert_eq!(
        ipam.trim(),
        r#"{"Driver":"default","Options":{"foo":"bar"},"Config":[{"Subnet":"10.50.0.0/16","IPRange":"10.50.5.0/24","Gateway":"10.50.0.254","AuxiliaryAddresses":{"host1":"10.50.0.10"}}]}"#
    );
    let rest = w
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.EnableIPv6}} {{json .Options}} {{json .Labels}}",
            "full",
        ])
        .ok()
        .stdout;
    assert_eq!(
        rest.trim(),
        r#"bridge local true true false {"com.docker.network.bridge.name":"brfull","com.docker.network.driver.mtu":"1400"} {"a":"b","c":""}"#
    );
    // What a user checks on the host: the bridge with its name and the gateway address.
    let a = w.sh("ip -o -4 addr show dev brfull").ok().stdout;
    assert!(a.contains("inet 10.50.0.254/16"), "{a}");
    // The address range: the first container gets the range's first address.
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "r1",
        "--network",
        "full",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    assert!(addrs_in(&w, "r1").contains("inet 10.50.5.0/16"));

    // IPv6 with a user subnet: both families on the bridge and in the inspect body.
    w.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:50::/64",
        "v6",
    ])
    .ok();
    let v6 = w
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}",
            "v6",
        ])
        .ok()
        .stdout;
    assert!(v6.starts_with("true "), "{v6}");
    assert!(v6.contains("fd00:50::/64"), "{v6}");
    let bridge = format!("br-{}", &net_id(&w, "v6")[..12]);
    let a6 = w
        .sh(&format!("ip -o -6 addr show dev {bridge}"))
        .ok()
        .stdout;
    assert!(a6.contains("fd00:50::1/64"), "{a6}");

    // Docker's refusals, as the CLI prints them.
    fails_with(
        w.docker(&["network", "create", "v6"]),
        "Error response from daemon: network with name v6 already exists",
    );
    fails_with(
        w.docker(&["network", "create", "-d", "nosuchdriver", "x"]),
        "Error response from daemon: plugin \"nosuchdriver\" not found",
    );
    fails_with(
        w.docker(&["network", "create", "--subnet", "10.50.0.0/24", "x"]),
        "Error response from daemon: Pool overlaps with other one on this address space",
    );
    fails_with(
        w.docker(&["network", "create", "-d", "null", "x"]),
        "Error response from daemon: only one instance of \"null\" network is allowed",
    );
    assert!(!names(&w, &[]).contains(&"x".to_string()));
}

#[test]
fn network_ls_filters_and_formats() {
    let w = World::new();
    w.docker(&["network", "create", "--label", "env=prod", "n1"])
        .ok();
    w.docker(&[
        "network", "create", "--label", "env=dev", "--label", "team", "n2",
    ])
    .ok();
    w.docker(&["network", "create", "other"]).ok();
    let all = ["bridge", "host", "n1", "n2", "none", "other"];

    let table = w.docker(&["network", "ls"]).ok().stdout;
    assert_eq!(lines(&table)[0], "NETWORK ID     NAME      DRIVER    SCOPE");
    assert_eq!(column(&table, 1), all);
    assert_eq!(
        column(&table, 2),
        ["bridge", "host", "bridge", "bridge", "null", "bridge"]
    );
    assert!(column(&table, 3).iter().all(|s| s == "local"));
    let ids = column(&table, 0);
    for (id, name) in ids.iter().zip(all) {
        assert!(is_hex(id, 12), "{id}");
        assert_eq!(*id, net_id(&w, name)[..12]);
    }
    let full = w.docker(&["network", "ls", "--no-trunc"]).ok().stdout;
    for (id, name) in column(&full, 0).iter().zip(all) {
        assert_eq!(*id, net_id(&w, name));
    }
    let quiet = w.docker(&["network", "ls", "-q"]).ok().stdout;
    assert_eq!(lines(&quiet), ids);
    let fmt = w
        .docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}}",
        ])
        .ok()
        .stdout;
    assert!(lines(&fmt).contains(&"n1 bridge env=prod"), "{fmt}");
    let tfmt = w
        .docker(&["network", "ls", "--format", "table {{.Name}}"])
        .ok()
        .stdout;
    assert_eq!(lines(&tfmt)[0], "NAME");
    let json = w
        .docker(&["network", "ls", "--format", "{{json .}}"])
        .ok()
        .stdout;
    let objs: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(objs.len(), 6);
    assert_eq!(objs[2]["Name"], "n1");
    assert_eq!(objs[2]["Labels"], "env=prod");

    // Filters: the daemon applies them; several values of one key are alternatives.
    assert_eq!(
        names(&w, &["-f", "driver=bridge"]),
        ["bridge", "n1", "n2", "other"]
    );
    assert_eq!(names(&w, &["-f", "driver=null"]), ["none"]);
    assert_eq!(names(&w, &["-f", "name=n"]), ["n1", "n2", "none"]);
    assert_eq!(
        names(&w, &["-f", "name=n1", "-f", "name=other"]),
        ["n1", "other"]
    );
    let n1 = net_id(&w, "n1");
    assert_eq!(names(&w, &["-f", &format!("id={}", &n1[..12])]), ["n1"]);
    assert_eq!(names(&w, &["-f", "label=env"]), ["n1", "n2"]);
    assert_eq!(names(&w, &["-f", "label=env=prod"]), ["n1"]);
    assert_eq!(names(&w, &["-f", "label=team"]), ["n2"]);
    assert_eq!(names(&w, &["-f", "scope=local"]), all);
    assert!(names(&w, &["-f", "scope=swarm"]).is_empty());
    assert_eq!(names(&w, &["-f", "type=custom"]), ["n1", "n2", "other"]);
    assert_eq!(
        names(&w, &["-f", "type=builtin"]),
        ["bridge", "host", "none"]
    );
    assert_eq!(names(&w, &["-f", "dangling=true"]), ["n1", "n2", "other"]);
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "n1",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    assert_eq!(names(&w, &["-f", "dangling=true"]), ["n2", "other"]);
    assert_eq!(
        names(&w, &["-f", "dangling=false"]),
        ["bridge", "host", "n1", "none"]
    );
    assert_eq!(
        names(&w, &["-f", "driver=bridge", "-f", "label=env"]),
        ["n1", "n2"]
    );
    fails_with(
        w.docker(&["network", "ls", "--filter", "bogus=1"]),
        "Error response from daemon: Invalid filter 'bogus'",
    );
    fails_with(
        w.docker(&["network", "ls", "--filter", "type=odd"]),
        "Error response from daemon: invalid filter: 'type'='odd'",
    );
}

#[test]
fn network_inspect_templates_verbose_and_lookup() {
    let w = World::new();
    w.docker(&["network", "create", "--subnet", "10.61.0.0/24", "n1"])
        .ok();
    w.docker(&["network", "create", "n2"]).ok();
    let both: Value =
        serde_json::from_str(&w.docker(&["network", "inspect", "n1", "n2"]).ok().stdout)
            .expect("json");
    assert_eq!(both[0]["Name"], "n1");
    assert_eq!(both[1]["Name"], "n2");
    assert_eq!(both[0]["IPAM"]["Config"][0]["Subnet"], "10.61.0.0/24");
    let f = w
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Name}}={{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "n1",
            "n2",
        ])
        .ok()
        .stdout;
    assert_eq!(lines(&f), ["n1=10.61.0.0/24", "n2=172.18.0.0/16"]);
    let verbose = w.docker(&["network", "inspect", "-v", "n1"]).ok().stdout;
    let plain = w.docker(&["network", "inspect", "n1"]).ok().stdout;
    assert_eq!(verbose, plain, "-v shows the same for local networks");

    // Lookup: full ID, unique ID prefix, exact name; a name prefix is not a match.
    let id = net_id(&w, "n1");
    for r in [id.as_str(), &id[..12], &id[..5]] {
        let n = w
            .docker(&["network", "inspect", "-f", "{{.Name}}", r])
            .ok()
            .stdout;
        assert_eq!(n.trim(), "n1", "by {r}");
    }
    let o = w.docker(&["network", "inspect", "nope"]);
    assert_eq!(o.stdout, "[]\n");
    fails_with(o, &not_found(&w, "nope"));
    fails_with(w.docker(&["network", "inspect", "n"]), &not_found(&w, "n"));
    // Containers show up in the network, keyed by ID.
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "n1",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let c1 = ctr_id(&w, "c1");
    let ctrs = w
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{range $k, $v := .Containers}}{{$k}} {{$v.Name}} {{$v.IPv4Address}}{{end}}",
            "n1",
        ])
        .ok()
        .stdout;
    assert_eq!(ctrs.trim(), format!("{c1} c1 10.61.0.2/24"));
}

/// Networks whose IDs share a first hex digit (there are 16 digits, so 17 networks always do).
fn two_networks_sharing_a_prefix(w: &World) -> char {
    let mut seen = std::collections::HashMap::new();
    for i in 0..17 {
        let name = format!("p{i}");
        let id = w.docker(&["network", "create", &name]).ok().stdout;
        let c = id.chars().next().expect("id");
        if seen.insert(c, name).is_some() {
            return c;
        }
    }
    unreachable!("17 IDs over 16 digits always collide")
}

#[test]
fn network_rm_several_ambiguity_and_prune() {
    let w = World::new();
    for n in ["a", "b", "c"] {
        w.docker(&["network", "create", n]).ok();
    }
    let c_id = net_id(&w, "c");
    let o = w.docker(&["network", "rm", "a", "nope", &c_id[..12]]);
    assert_eq!(o.stdout, format!("a\n{}\n", &c_id[..12]));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains(&not_found(&w, "nope")), "{}", o.stderr);
    assert_eq!(names(&w, &[]), ["b", "bridge", "host", "none"]);
    let o = w.docker(&["network", "rm", "bridge"]);
    fails_with(
        o,
        "Error response from daemon: bridge is a pre-defined network and cannot be removed",
    );
    // A network with a container stays.
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "b",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let b = net_id(&w, "b");
    fails_with(
        w.docker(&["network", "rm", "b"]),
        &format!("Error response from daemon: error while removing network: network b id {b} has active endpoints"),
    );
    w.cnm(&["rm", "-f", "c1"]).ok();
    w.docker(&["network", "rm", "b"]).ok();

    // An ambiguous ID prefix.
    let p = two_networks_sharing_a_prefix(&w).to_string();
    fails_with(
        w.docker(&["network", "rm", &p]),
        &format!("Error response from daemon: network {p} is ambiguous"),
    );
    for i in 0..17 {
        let _ = w.docker(&["network", "rm", &format!("p{i}")]);
    }

    // Prune: by label, by age, everything unused; networks in use stay.
    w.docker(&["network", "create", "--label", "tmp", "l1"])
        .ok();
    w.docker(&["network", "create", "--label", "tmp=x", "l2"])
        .ok();
    w.docker(&["network", "create", "keep"]).ok();
    w.docker(&["network", "create", "used"]).ok();
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "u1",
        "--network",
        "used",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let o = w
        .docker(&["network", "prune", "-f", "--filter", "label=tmp=x"])
        .ok();
    assert_eq!(o.stdout, "Deleted Networks:\nl2\n\n");
    let o = w
        .docker(&[
            "network",
            "prune",
            "-f",
            "--filter",
            "until=2000-01-01T00:00:00Z",
        ])
        .ok();
    assert_eq!(o.stdout, "", "nothing is that old");
    let o = w
        .docker(&["network", "prune", "-f", "--filter", "label!=tmp"])
        .ok();
    assert_eq!(o.stdout, "Deleted Networks:\nkeep\n\n");
    // `until` is a duration back from now, rounded down to a whole second (moby's `GetTimestamp`
    // keeps only the seconds): l1 goes once `⌊now − 1 s⌋` is at or after its creation, which takes
    // up to two seconds (1.5 s failed whenever l1 was made in the first 0.2 s of a second).
    std::thread::sleep(Duration::from_secs(2));
    let o = w
        .docker(&["network", "prune", "-f", "--filter", "until=1s"])
        .ok();
    assert_eq!(o.stdout, "Deleted Networks:\nl1\n\n");
    assert_eq!(w.docker(&["network", "prune", "-f"]).ok().stdout, "");
    assert_eq!(names(&w, &[]), ["bridge", "host", "none", "used"]);
}

#[test]
fn network_connect_and_disconnect_flags() {
    let w = World::new();
    w.docker(&[
        "network",
        "create",
        "--subnet",
        "10.62.0.0/24",
        "--ipv6",
        "--subnet",
        "fd00:62::/64",
        "sub",
    ])
    .ok();
    w.docker(&["network", "create", "plain"]).ok();
    w.cnm(&["run", "-d", "--name", "c1", "--", "sleep", "1000"])
        .ok();
    w.docker(&[
        "network",
        "connect",
        "--ip",
        "10.62.0.50",
        "--ip6",
        "fd00:62::50",
        "--alias",
        "web",
        "--alias",
        "www",
        "--driver-opt",
        "com.example.opt=1",
        "sub",
        "c1",
    ])
    .ok();
    let ep: Value = serde_json::from_str(
        &w.docker(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks.sub}}",
            "c1",
        ])
        .ok()
        .stdout,
    )
    .expect("endpoint json");
    assert_eq!(
        ep["IPAMConfig"],
        serde_json::json!({"IPv4Address":"10.62.0.50","IPv6Address":"fd00:62::50"})
    );
    assert_eq!(ep["IPAddress"], "10.62.0.50");
    assert_eq!(ep["GlobalIPv6Address"], "fd00:62::50");
    assert_eq!(ep["DriverOpts"], serde_json::json!({"com.example.opt":"1"}));
    let aliases: Vec<&str> = ep["Aliases"]
        .as_array()
        .expect("aliases")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        aliases.starts_with(&["web", "www"]),
        "user aliases first: {aliases:?}"
    );
    // In the container: a second interface with both addresses.
    let a = addrs_in(&w, "c1");
    assert!(
        a.contains("eth1") && a.contains("inet 10.62.0.50/24"),
        "{a}"
    );
    assert!(a.contains("inet6 fd00:62::50/64"), "{a}");

    fails_with(
        w.docker(&["network", "connect", "sub", "c1"]),
        "Error response from daemon: endpoint with name c1 already exists in network sub",
    );
    fails_with(
        w.docker(&["network", "connect", "--ip", "172.18.0.50", "plain", "c1"]),
        "Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets",
    );
    fails_with(
        w.docker(&["network", "connect", "sub", "nope"]),
        "Error response from daemon: No such container: nope",
    );
    fails_with(
        w.docker(&["network", "connect", "nonet", "c1"]),
        "Error response from daemon: network nonet not found",
    );

    w.docker(&["network", "disconnect", "sub", "c1"]).ok();
    assert!(!addrs_in(&w, "c1").contains("10.62.0.50"));
    let c1 = ctr_id(&w, "c1");
    fails_with(
        w.docker(&["network", "disconnect", "sub", "c1"]),
        &format!("Error response from daemon: container {c1} is not connected to network sub"),
    );
    // -f on a connected container, then on a stopped one.
    w.docker(&["network", "connect", "sub", "c1"]).ok();
    w.docker(&["network", "disconnect", "-f", "sub", "c1"]).ok();
    w.docker(&["network", "connect", "sub", "c1"]).ok();
    w.docker(&["stop", "-t", "1", "c1"]).ok();
    w.docker(&["network", "disconnect", "--force", "sub", "c1"])
        .ok();
    let nets = w
        .docker(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            "c1",
        ])
        .ok()
        .stdout;
    assert_eq!(nets.trim(), "bridge");
    // The network is free again: it can go.
    w.docker(&["network", "rm", "sub"]).ok();
}

#[test]
fn containers_ps_inspect_port_stop_rm() {
    let w = World::new();
    let major = cli_major(&w);
    w.docker(&["network", "create", "n1"]).ok();
    w.cnm(&["run", "-d", "--name", "c1", "--", "sleep", "1000"])
        .ok();
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "n1",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let c1 = ctr_id(&w, "c1");
    let c2 = ctr_id(&w, "c2");

    let ps = w.docker(&["ps"]).ok().stdout;
    let head = lines(&ps)[0];
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(head.contains(col), "{head}");
    }
    // Newest first.
    assert_eq!(column(&ps, 0), [c2[..12].to_string(), c1[..12].to_string()]);
    assert!(ps.lines().nth(1).expect("row").ends_with("c2"));
    assert!(ps.contains("\"sleep 1000\""), "{ps}");
    assert!(ps.contains("Up "), "{ps}");
    let q = w.docker(&["ps", "-q"]).ok().stdout;
    assert_eq!(lines(&q), [&c2[..12], &c1[..12]]);
    let nt = w.docker(&["ps", "-q", "--no-trunc"]).ok().stdout;
    assert_eq!(lines(&nt), [c2.as_str(), c1.as_str()]);
    let f = w
        .docker(&["ps", "--format", "{{.Names}} {{.Networks}} {{.State}}"])
        .ok()
        .stdout;
    assert_eq!(lines(&f), ["c2 n1 running", "c1 bridge running"]);

    // inspect: by name, full ID, ID prefix.
    for r in [c1.as_str(), &c1[..12], "c1"] {
        let v: Value =
            serde_json::from_str(&w.docker(&["inspect", r]).ok().stdout).expect("inspect");
        assert_eq!(v[0]["Id"], c1.as_str());
        assert_eq!(v[0]["Name"], "/c1");
        assert_eq!(v[0]["State"]["Status"], "running");
        assert_eq!(v[0]["HostConfig"]["NetworkMode"], "default");
    }
    let ip = w
        .docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Networks.bridge.Gateway}}",
            "c1",
        ])
        .ok()
        .stdout;
    assert_eq!(ip.trim(), "172.17.0.2 172.17.0.1");
    assert!(addrs_in(&w, "c1").contains("inet 172.17.0.2/16"));
    let o = w.docker(&["inspect", "nope"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("No such object: nope"), "{}", o.stderr);

    // port: no published ports yet (the firewall issue adds them).
    let p = w.docker(&["port", "c1"]).ok();
    assert_eq!(p.stdout, "");
    let o = w.docker(&["port", "c1", "80"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("No public port '80") && o.stderr.contains("published for c1"),
        "{}",
        o.stderr
    );

    // stop: the process ends, ps -a shows it exited, its namespace stays until rm.
    let o = w.docker(&["stop", "-t", "2", "c1"]).ok();
    assert_eq!(o.stdout, "c1\n");
    let running = w.docker(&["ps", "--format", "{{.Names}}"]).ok().stdout;
    assert_eq!(lines(&running), ["c2"]);
    let all = w
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"])
        .ok()
        .stdout;
    assert!(all.contains("c1 exited Exited ("), "{all}");
    let st = w
        .docker(&["inspect", "-f", "{{.State.Running}} {{.State.Pid}}", "c1"])
        .ok()
        .stdout;
    assert_eq!(st.trim(), "false 0");
    // A second stop is not an error (304 to the CLI).
    w.docker(&["stop", "c1"]).ok();

    // rm -f: running or not, several at once; a missing one is reported.
    let sandboxes = w.sandboxes();
    let o = w.docker(&["rm", "-f", "c1", &c2[..12], "nope"]);
    assert!(o.stdout.contains("c1\n"), "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!("{}\n", &c2[..12])),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("No such container: nope"), "{}", o.stderr);
    if major >= 28 {
        assert_eq!(o.code, 0, "the 28 CLI ignores missing containers with -f");
    }
    assert_eq!(w.docker(&["ps", "-aq"]).ok().stdout, "");
    assert!(w.sandboxes() < sandboxes, "the sandboxes went with them");
    assert_eq!(names(&w, &["-f", "dangling=true"]), ["n1"]);
}

#[test]
fn container_lookup_ambiguity() {
    let w = World::new();
    let mut seen = std::collections::HashMap::new();
    let mut prefix = None;
    for i in 0..17 {
        let name = format!("c{i}");
        let id = w
            .cnm(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "none",
                "--",
                "sleep",
                "1000",
            ])
            .ok()
            .stdout;
        let c = id.chars().next().expect("id");
        if seen.insert(c, name).is_some() {
            prefix = Some(c.to_string());
            break;
        }
    }
    let p = prefix.expect("17 IDs over 16 digits collide");
    fails_with(
        w.docker(&["stop", &p]),
        &format!("Error response from daemon: multiple IDs found with provided prefix: {p}"),
    );
    fails_with(
        w.docker(&["stop", "nope"]),
        "Error response from daemon: No such container: nope",
    );
    // An exact name wins over an ID prefix.
    let first = seen.values().next().expect("one").clone();
    w.docker(&["stop", "-t", "1", &first]).ok();
}

/// Reads `docker events` lines until `n` arrived (or a timeout).
fn read_events(child: &mut std::process::Child, n: usize) -> Vec<String> {
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => got.push(l),
            Err(_) => break,
        }
    }
    got
}

#[test]
fn events_show_the_network_lifecycle() {
    let w = World::new();
    let bin = std::env::var("CNM_TEST_DOCKER").unwrap_or_else(|_| "docker".into());
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut ev = w
        .command(&bin)
        .env("DOCKER_HOST", w.sock())
        .env("DOCKER_CONFIG", w.path("docker-config"))
        .args([
            "events",
            "--filter",
            "type=network",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}} {{.Actor.Attributes.container}}",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker events");
    // The subscription is in place once the CLI's request reached the daemon.
    std::thread::sleep(Duration::from_millis(500));
    w.docker(&["network", "create", "evn"]).ok();
    w.cnm(&["run", "-d", "--name", "e1", "--", "sleep", "1000"])
        .ok();
    let e1 = ctr_id(&w, "e1");
    w.docker(&["network", "connect", "evn", "e1"]).ok();
    w.docker(&["network", "disconnect", "evn", "e1"]).ok();
    w.docker(&["network", "rm", "evn"]).ok();
    let got = read_events(&mut ev, 5);
    let _ = ev.kill();
    let _ = ev.wait();
    assert_eq!(
        got,
        [
            "network create evn bridge <no value>".to_string(),
            // `run` connects the container to the default bridge.
            format!("network connect bridge bridge {e1}"),
            format!("network connect evn bridge {e1}"),
            format!("network disconnect evn bridge {e1}"),
            "network destroy evn bridge <no value>".to_string(),
        ]
    );

    // Past events with --since/--until, filtered by event and by network.
    // `until` in the past ends the stream at once (a future one would keep it open till then).
    std::thread::sleep(Duration::from_millis(1100));
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs())
    .to_string();
    let since = since.to_string();
    let past = w
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "event=create",
            "--filter",
            "event=destroy",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
        .ok()
        .stdout;
    assert_eq!(
        lines(&past),
        [
            "network create evn",
            "container create e1",
            "network destroy evn"
        ]
    );
    let by_net = w
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "network=evn",
            "--format",
            "{{.Action}}",
        ])
        .ok()
        .stdout;
    assert_eq!(
        lines(&by_net),
        ["create", "connect", "disconnect", "destroy"]
    );
    let json = w
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "type=network",
            "--filter",
            "event=create",
            "--format",
            "{{json .}}",
        ])
        .ok()
        .stdout;
    let v: Value = serde_json::from_str(json.trim()).expect("event json");
    assert_eq!(v["Type"], "network");
    assert_eq!(v["Action"], "create");
    assert_eq!(v["scope"], "local");
    assert!(is_hex(v["Actor"]["ID"].as_str().expect("id"), 64));
    fails_with(
        w.docker(&["events", "--since", "100", "--until", "50"]),
        "cannot be after `until` time",
    );
}

/// Clients at older API versions get the older shapes (what Docker of that version sent).
#[test]
fn older_api_versions_are_served() {
    let w = World::new();
    w.docker(&["network", "create", "n1"]).ok();
    let old = w
        .docker_env(
            &[("DOCKER_API_VERSION", "1.41")],
            &["version", "--format", "{{.Client.APIVersion}}"],
        )
        .ok()
        .stdout;
    assert_eq!(old.trim(), "1.41");
    let ls = w
        .docker_env(&[("DOCKER_API_VERSION", "1.41")], &["network", "ls", "-q"])
        .ok()
        .stdout;
    assert_eq!(lines(&ls).len(), 4);
    let o = w.docker_env(&[("DOCKER_API_VERSION", "1.23")], &["network", "ls"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("client version 1.23 is too old. Minimum supported API version is 1.24"),
        "{}",
        o.stderr
    );
    // Both shapes are consistent for the same network.
    let a: BTreeSet<String> = ["1.41", "1.50"]
        .iter()
        .map(|v| {
            w.docker_env(
                &[("DOCKER_API_VERSION", v)],
                &["network", "inspect", "-f", "{{.Id}} {{.Name}}", "n1"],
            )
            .ok()
            .stdout
        })
        .collect();
    assert_eq!(a.len(), 1);
}

#[test]
fn docker_port_ps_and_inspect_show_published_ports() {
    let w = World::new();
    w.docker(&["network", "create", "pn"]).ok();
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "pub",
        "--network",
        "pn",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1:5353:53/udp",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
    let port = w.docker(&["port", "pub"]).ok().stdout;
    assert!(port.contains("80/tcp -> 0.0.0.0:8080"), "{port}");
    assert!(port.contains("53/udp -> 127.0.0.1:5353"), "{port}");
    let one = w.docker(&["port", "pub", "80"]).ok().stdout;
    assert_eq!(one.trim(), "0.0.0.0:8080");
    let ps = w.docker(&["ps", "--format", "{{.Ports}}"]).ok().stdout;
    assert!(ps.contains("0.0.0.0:8080->80/tcp"), "{ps}");
    assert!(ps.contains("127.0.0.1:5353->53/udp"), "{ps}");
    let f = w
        .docker(&["inspect", "-f", "{{json .NetworkSettings.Ports}}", "pub"])
        .ok()
        .stdout;
    let v: serde_json::Value = serde_json::from_str(f.trim()).expect("json");
    assert_eq!(v["80/tcp"][0]["HostPort"], "8080");
    assert_eq!(v["53/udp"][0]["HostIp"], "127.0.0.1");
    w.docker(&["rm", "-f", "pub"]).ok();
    // The port is free again: another container can take it.
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "again",
        "--network",
        "pn",
        "-p",
        "8080:80",
        "--",
        "sleep",
        "1000",
    ])
    .ok();
}
