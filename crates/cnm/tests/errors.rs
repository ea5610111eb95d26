//! Bad input gets Docker's message and status, and leaves nothing behind.

mod common;

use common::World;

#[track_caller]
fn assert_api_error(
    w: &World,
    method: &str,
    path: &str,
    body: Option<&str>,
    status: u16,
    message: &str,
) {
    let (st, resp) = w.http(method, path, body);
    assert_eq!(st, status, "{method} {path} {body:?}: {resp}");
    let m: serde_json::Value = serde_json::from_str(&resp).expect("json error body");
    assert!(
        m["message"].as_str().expect("message").starts_with(message),
        "{method} {path} {body:?}: {resp}"
    );
}

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
        (
            r#"{"Name":"x4","IPAM":{"Config":[{"Subnet":"10.97.0.0/33"}]}}"#,
            500,
            "Invalid subnet 10.97.0.0/33 : invalid CIDR address: 10.97.0.0/33",
        ),
        (r#"{"Name":"x5","IPAM":{"Config":[{"Subnet":"foo"}]}}"#, 500, "Invalid subnet foo : invalid CIDR address: foo"),
        (
            r#"{"Name":"x6","IPAM":{"Config":[{"Subnet":"10.5.0.0/24","Gateway":"10.6.0.1"}]}}"#,
            400,
            "invalid network config:\ninvalid gateway 10.6.0.1: parent subnet 10.5.0.0/24 doesn't contain this address",
        ),
        (r#"{"Name":"x7","Driver":"overlay"}"#, 500, "This node is not a swarm manager."),
        (r#"{"Name":"#, 400, "unexpected EOF"),
    ];
    for (body, status, msg) in cases {
        assert_api_error(
            &w,
            "POST",
            "/v1.41/networks/create",
            Some(body),
            *status,
            msg,
        );
    }
    // Overlap and duplicate name.
    w.cnm(&["network", "create", "--subnet", "10.99.0.0/24", "sub"])
        .ok();
    w.cnm(&["network", "create", "--subnet", "10.99.0.0/25", "sub2"])
        .fails(1, "Pool overlaps with other one on this address space");
    w.cnm(&["network", "create", "sub"])
        .fails(1, "network with name sub already exists");
    let (st, _) = w.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name":"sub","CheckDuplicate":true}"#),
    );
    assert_eq!(st, 409);
    // Predefined networks cannot be removed.
    for n in ["bridge", "host", "none"] {
        assert_api_error(
            &w,
            "DELETE",
            &format!("/networks/{n}"),
            None,
            403,
            &format!("{n} is a pre-defined network and cannot be removed"),
        );
    }
    // In use.
    w.run_bg("c1", &["--network", "sub"], &["sleep", "100"]);
    w.cnm(&["network", "rm", "sub"])
        .fails(1, "has active endpoints");
    // Static IP rules.
    assert_ne!(
        w.cnm(&["network", "connect", "--ip", "10.99.0.1", "sub", "c1"])
            .code,
        0
    );
    w.cnm(&["network", "create", "auto"]).ok();
    w.cnm(&["network", "connect", "--ip", "172.19.0.50", "auto", "c1"]).fails(
        1,
        "user specified IP address is supported only when connecting to networks with user configured subnets",
    );
    w.cnm(&["network", "create", "--subnet", "10.77.0.0/24", "s2"])
        .ok();
    w.cnm(&["network", "connect", "--ip", "10.1.2.3", "s2", "c1"])
        .fails(
            1,
            "Invalid address 10.1.2.3: It does not belong to any of this network's subnets",
        );
    w.run_bg(
        "c2",
        &["--network", "s2", "--ip", "10.77.0.9"],
        &["sleep", "100"],
    );
    w.cnm(&["network", "connect", "--ip", "10.77.0.9", "s2", "c1"])
        .fails(1, "Address already in use");
    // Unknown container / network, ambiguity.
    w.cnm(&["network", "connect", "s2", "nope"])
        .fails(1, "No such container: nope");
    w.cnm(&["network", "connect", "nonet", "c1"])
        .fails(1, "network nonet not found");
    // Only clients below API 1.44 may skip the duplicate check (it is deprecated since).
    let dup = r#"{"Name":"dup","CheckDuplicate":false}"#;
    w.http("POST", "/v1.41/networks/create", Some(dup));
    let (st, _) = w.http("POST", "/networks/create", Some(dup));
    assert_eq!(st, 409, "API 1.50 always checks names");
    let (st, resp) = w.http("POST", "/v1.41/networks/create", Some(dup));
    assert_eq!(st, 201);
    assert!(resp.contains("already exists"), "{resp}");
    assert_api_error(
        &w,
        "GET",
        "/networks/dup",
        None,
        400,
        "2 matches found based on name: network dup is ambiguous",
    );
    // Oversized bodies and unknown routes.
    let big = format!(r#"{{"Name":"{}"}}"#, "a".repeat(2 * 1024 * 1024));
    assert_eq!(w.http("POST", "/networks/create", Some(&big)).0, 413);
    assert_eq!(w.http("GET", "/nothing/here", None).0, 404);
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
    w.cnm(&["run", "--network", "nonet", "--", "true"])
        .fails(125, "network nonet not found");
    w.cnm(&["run", "--ip", "172.17.0.9", "--", "true"]).fails(
        125,
        "user specified IP address is supported on user defined networks only",
    );
    w.run_bg("same", &[], &["sleep", "100"]);
    w.cnm(&["run", "--name", "same", "--", "true"])
        .fails(125, "is already in use by container");
}
