//! Bad input gets Docker's message and status, and leaves nothing behind.

mod common;

use common::World;

#[test]
fn network_errors_match_docker() {
    let w = World::new();
    let cases: &[(&str, u16, &str)] = &[
        (r#"{"Name":"bridge"}"#, 403, "operation is not permitted on predefined bridge network "),
        (r#"{"Name":"host"}"#, 403, "operation is not permitted on predefined host network "),
        (r#"{}"#, 500, "invalid name: "),
        (r#"{"Name":"x1","Driver":"nosuchdriver"}"#, 404, "plugin \"nosuchdriver\" not found"),
        (r#"{"Name":"x2","Driver":"host"}"#, 403, "only one instance of \"host\" network is allowed"),
        (r#"{"Name":"x3","Driver":"null"}"#, 403, "only one instance of \"null\" network is allowed"),
        (r#"{"Name":"x4","IPAM":{"Config":[{"Subnet":"10.97.0.0/33"}]}}"#, 500, "Invalid subnet 10.97.0.0/33 : invalid CIDR address: 10.97.0.0/33"),
        (r#"{"Name":"x5","IPAM":{"Config":[{"Subnet":"foo"}]}}"#, 500, "Invalid subnet foo : invalid CIDR address: foo"),
        (r#"{"Name":"x6","IPAM":{"Config":[{"Subnet":"10.5.0.0/24","Gateway":"10.6.0.1"}]}}"#, 400, "invalid network config:\ninvalid gateway 10.6.0.1: parent subnet 10.5.0.0/24 doesn't contain this address"),
        (r#"{"Name":"x7","Driver":"overlay"}"#, 500, "This node is not a swarm manager."),
        (r#"{"Name":"#, 400, "unexpected EOF"),
    ];
    for (body, status, msg) in cases {
        let (st, resp) = w.http("POST", "/v1.41/networks/create", Some(body));
        assert_eq!(st, *status, "{body}: {resp}");
        let m: serde_json::Value = serde_json::from_str(&resp).expect("json error body");
        assert!(
            m["message"].as_str().expect("message").starts_with(msg),
            "{body}: {resp}"
        );
    }
    // Overlap and duplicate name.
    w.cnm(&["network", "create", "--subnet", "10.99.0.0/24", "sub"])
        .ok();
    let ov = w.cnm(&["network", "create", "--subnet", "10.99.0.0/25", "sub2"]);
    assert_eq!(ov.code, 1);
    assert!(
        ov.stderr
            .contains("Pool overlaps with other one on this address space"),
        "{}",
        ov.stderr
    );
    let dup = w.cnm(&["network", "create", "sub"]);
    assert!(
        dup.stderr.contains("network with name sub already exists"),
        "{}",
        dup.stderr
    );
    let (st, _) = w.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name":"sub","CheckDuplicate":true}"#),
    );
    assert_eq!(st, 409);
    // Predefined networks cannot be removed.
    for n in ["bridge", "host", "none"] {
        let (st, resp) = w.http("DELETE", &format!("/networks/{n}"), None);
        assert_eq!(st, 403);
        assert!(resp.contains(&format!(
            "{n} is a pre-defined network and cannot be removed"
        )));
    }
    // In use.
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--network",
        "sub",
        "--",
        "sleep",
        "100",
    ])
    .ok();
    let rm = w.cnm(&["network", "rm", "sub"]);
    assert!(rm.stderr.contains("has active endpoints"), "{}", rm.stderr);
    // Static IP rules.
    let e = w.cnm(&["network", "connect", "--ip", "10.99.0.1", "sub", "c1"]);
    assert!(e.code != 0);
    w.cnm(&["network", "create", "auto"]).ok();
    let e = w.cnm(&["network", "connect", "--ip", "172.19.0.50", "auto", "c1"]);
    assert!(e.stderr.contains("user specified IP address is supported only when connecting to networks with user configured subnets"), "{}", e.stderr);
    w.cnm(&["network", "create", "--subnet", "10.77.0.0/24", "s2"])
        .ok();
    let e = w.cnm(&["network", "connect", "--ip", "10.1.2.3", "s2", "c1"]);
    assert!(
        e.stderr.contains(
            "Invalid address 10.1.2.3: It does not belong to any of this network's subnets"
        ),
        "{}",
        e.stderr
    );
    w.cnm(&[
        "run",
        "-d",
        "--name",
        "c2",
        "--network",
        "s2",
        "--ip",
        "10.77.0.9",
        "--",
        "sleep",
        "100",
    ])
    .ok();
    let e = w.cnm(&["network", "connect", "--ip", "10.77.0.9", "s2", "c1"]);
    assert!(e.stderr.contains("Address already in use"), "{}", e.stderr);
    // Unknown container / network, ambiguity.
    let e = w.cnm(&["network", "connect", "s2", "nope"]);
    assert!(e.stderr.contains("No such container: nope"), "{}", e.stderr);
    let e = w.cnm(&["network", "connect", "nonet", "c1"]);
    assert!(e.stderr.contains("network nonet not found"), "{}", e.stderr);
    w.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name":"dup","CheckDuplicate":false}"#),
    );
    let (st, resp) = w.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name":"dup","CheckDuplicate":false}"#),
    );
    assert_eq!(st, 201);
    assert!(resp.contains("already exists"), "{resp}");
    let (st, resp) = w.http("GET", "/networks/dup", None);
    assert_eq!(st, 400, "{resp}");
    assert!(
        resp.contains("2 matches found based on name: network dup is ambiguous"),
        "{resp}"
    );
    // Oversized bodies and unknown routes.
    let big = format!(r#"{{"Name":"{}"}}"#, "a".repeat(2 * 1024 * 1024));
    let (st, _) = w.http("POST", "/networks/create", Some(&big));
    assert_eq!(st, 413);
    let (st, _) = w.http("GET", "/nothing/here", None);
    assert_eq!(st, 404);
    // Nothing half-created: only the networks that succeeded exist.
    let names = w
        .cnm(&["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .stdout;
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        vec!["auto", "bridge", "dup", "dup", "host", "none", "s2", "sub"]
    );
}

#[test]
fn run_usage_errors_exit_125() {
    let w = World::new();
    let e = w.cnm(&["run", "--network", "nonet", "--", "true"]);
    assert_eq!(e.code, 125);
    assert!(e.stderr.contains("network nonet not found"), "{}", e.stderr);
    let e = w.cnm(&["run", "--ip", "172.17.0.9", "--", "true"]);
    assert_eq!(e.code, 125);
    assert!(
        e.stderr
            .contains("user specified IP address is supported on user defined networks only"),
        "{}",
        e.stderr
    );
    w.cnm(&["run", "-d", "--name", "same", "--", "sleep", "100"])
        .ok();
    let e = w.cnm(&["run", "--name", "same", "--", "true"]);
    assert_eq!(e.code, 125);
    assert!(
        e.stderr.contains("is already in use by container"),
        "{}",
        e.stderr
    );
}
