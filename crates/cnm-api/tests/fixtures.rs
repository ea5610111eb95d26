//! Byte-for-byte checks against the HTTP exchanges captured from Docker 20.10 (API 1.41) in
//! `fixtures/docker-api/` (copied into the repository from the shared capture set).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cnm_api::*;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/docker-api")
}

fn load(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn all_fixtures() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() > 100, "fixtures missing");
    names.into_iter().map(|n| (n.clone(), load(&n))).collect()
}

/// The wire bytes of a captured body: compact JSON (keys in captured order) plus "\n".
fn wire(body: &Value) -> String {
    let mut s = serde_json::to_string(body).expect("json");
    s.push('\n');
    s
}

fn response_body(fx: &Value) -> &Value {
    &fx["response"]["body"]
}

fn request_body_bytes(fx: &Value) -> Vec<u8> {
    match &fx["request"]["body"] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Null => Vec::new(),
        v => serde_json::to_vec(v).expect("json"),
    }
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn user_net(name: &str, id: &str, created: &str, subnet: &str, gateway: &str) -> Network {
    Network {
        name: name.into(),
        id: id.into(),
        created: created.into(),
        scope: "local".into(),
        driver: "bridge".into(),
        ipam: Ipam {
            driver: "default".into(),
            options: Some(BTreeMap::new()),
            config: vec![IpamConfig {
                subnet: subnet.into(),
                gateway: gateway.into(),
                ..Default::default()
            }],
        },
        ..Default::default()
    }
}

fn assert_wire<T: serde::Serialize>(value: &T, fixture: &str) {
    let fx = load(fixture);
    assert_eq!(to_json_body(value), wire(response_body(&fx)), "{fixture}");
}

// ---------------------------------------------------------------------------------------------
// Networks built by hand

#[test]
fn inspect_net1_with_containers_097() {
    let mut n = user_net(
        "rsx-net1",
        "ca0681a15d293654f032d912d66e4e8c1a06b8d847162393ab6576a0589c2f74",
        "2026-11-22T20:04:10.118755963Z",
        "172.18.0.0/16",
        "172.18.0.1",
    );
    n.containers.insert(
        "7115a8bd52af8fbef4e30dae5b439c30bcb8eb5422d791e62ff2449fde6dd2ef".into(),
        NetworkContainer {
            name: "rsx-b".into(),
            endpoint_id: "195cb1ae42717ca12c5882cd2fb58b2d5e4bc7428dd9c0962be0032edf53ceab".into(),
            mac_address: "02:42:ac:12:00:03".into(),
            ipv4_address: "172.18.0.3/16".into(),
            ipv6_address: String::new(),
        },
    );
    n.containers.insert(
        "067b2780dbd90d43257594cf5435641640a2d9084888df850185f1b60fbb729c".into(),
        NetworkContainer {
            name: "rsx-a".into(),
            endpoint_id: "01e1102cfae3b6d92dafe067b14d22ea828d477929771477f8ced2a6fadc675a".into(),
            mac_address: "02:42:ac:12:00:02".into(),
            ipv4_address: "172.18.0.2/16".into(),
            ipv6_address: String::new(),
        },
    );
    let n = n.for_api(ApiVersion::V1_41);
    assert_wire(
        &n,
        "097-inspect-net1-with-ctrs-02-get-networks-rsx-net1.json",
    );
    // list entries carry the same object with "Containers":{}
    let listed = to_json_body(&n.list_entry());
    assert!(listed.contains(r#""ConfigOnly":false,"Containers":{},"Options":{}"#));

    // API >= 1.44: EnableIPv4 right before EnableIPv6, nothing else moves
    let current = to_json_body(&n.clone().for_api(ApiVersion::CURRENT));
    let expected = wire(response_body(&load(
        "097-inspect-net1-with-ctrs-02-get-networks-rsx-net1.json",
    )))
    .replace(
        r#""Driver":"bridge","EnableIPv6""#,
        r#""Driver":"bridge","EnableIPv4":true,"EnableIPv6""#,
    );
    assert_eq!(current, expected);
    let at_144 = to_json_body(&n.for_api(ApiVersion::V1_44));
    assert_eq!(at_144, expected);
}

#[test]
fn inspect_subnet_only_021() {
    let n = user_net(
        "rsx-net-sub",
        "525f63c9c500dfc73eed2a61e7cc22cf663b9f601ba89db2d0f5afe8525ad2f2",
        "2026-11-22T20:04:12.265858435Z",
        "10.99.0.0/24",
        "",
    );
    assert_wire(
        &n.for_api(ApiVersion::V1_41),
        "021-inspect-subnet-02-get-networks-rsx-net-sub.json",
    );
}

#[test]
fn inspect_full_023() {
    let mut n = user_net(
        "rsx-net-full",
        "c4308b75596579209ab3f2b59b4ef9f323630dfda5da6948d67e219a163cf1b1",
        "2026-11-22T20:04:13.605604555Z",
        "10.98.0.0/16",
        "10.98.0.254",
    );
    n.ipam.config[0].ip_range = "10.98.5.0/24".into();
    n.attachable = true;
    n.options = map(&[
        ("com.docker.network.driver.mtu", "1400"),
        ("com.docker.network.bridge.name", "rsx-brcustom"),
    ]);
    n.labels = map(&[("rsx.label", "yes")]);
    assert_wire(
        &n.for_api(ApiVersion::V1_41),
        "023-inspect-full-02-get-networks-rsx-net-full.json",
    );
}

#[test]
fn inspect_v6_025() {
    let mut n = user_net(
        "rsx-net-v6",
        "e98f37723aaf24180aec5dd94744586794588f64db6934a6e0c4c7d83d0b2297",
        "2026-11-22T20:04:14.867159562Z",
        "172.20.0.0/16",
        "172.20.0.1",
    );
    n.enable_ipv6 = true;
    n.ipam.config.push(IpamConfig {
        subnet: "fd00:dead:beef::/64".into(),
        ..Default::default()
    });
    assert_wire(
        &n.for_api(ApiVersion::V1_41),
        "025-inspect-v6-02-get-networks-rsx-net-v6.json",
    );
}

#[test]
fn inspect_internal_029() {
    let mut n = user_net(
        "rsx-int",
        "19a82576233c1936c605a85a6ebf724f1562ff366417957eb00d20bcfe85a30a",
        "2026-11-22T20:04:17.485694657Z",
        "172.23.0.0/16",
        "172.23.0.1",
    );
    n.internal = true;
    assert_wire(
        &n.for_api(ApiVersion::V1_41),
        "029-inspect-internal-02-get-networks-rsx-int.json",
    );
}

#[test]
fn inspect_default_bridge_007() {
    let n = Network {
        name: "bridge".into(),
        id: "8d7f682eb998c624e2a58f46748ff8f537369d39dcf81c3774851d49529b5ef5".into(),
        created: "2026-11-22T20:04:03.578599719Z".into(),
        scope: "local".into(),
        driver: "bridge".into(),
        ipam: Ipam {
            driver: "default".into(),
            options: None,
            config: vec![IpamConfig {
                subnet: "172.17.0.0/16".into(),
                ..Default::default()
            }],
        },
        options: map(&[
            ("com.docker.network.bridge.default_bridge", "true"),
            ("com.docker.network.bridge.enable_icc", "true"),
            ("com.docker.network.bridge.enable_ip_masquerade", "true"),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
            ("com.docker.network.bridge.name", "docker0"),
            ("com.docker.network.driver.mtu", "1500"),
        ]),
        ..Default::default()
    };
    assert_wire(
        &n.for_api(ApiVersion::V1_41),
        "007-inspect-bridge-02-get-networks-bridge.json",
    );
}

// ---------------------------------------------------------------------------------------------
// Requests

#[test]
fn create_requests_decode() {
    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "014-create-net1-02-post-networks-create.json",
    )))
    .expect("014");
    assert_eq!(r.name, "rsx-net1");
    assert_eq!(r.driver, "bridge");
    assert_eq!(r.check_duplicate, Some(true));
    assert_eq!(r.enable_ipv6, None);
    assert_eq!(r.config_from, None);
    let ipam = r.ipam.as_ref().expect("ipam");
    assert_eq!(
        (
            ipam.driver.as_str(),
            ipam.options.clone(),
            ipam.config.len()
        ),
        ("default", Some(BTreeMap::new()), 0)
    );

    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "020-create-subnet-02-post-networks-create.json",
    )))
    .expect("020");
    assert_eq!(
        r.ipam.expect("ipam").config,
        vec![IpamConfig {
            subnet: "10.99.0.0/24".into(),
            ..Default::default()
        }]
    );

    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "022-create-full-02-post-networks-create.json",
    )))
    .expect("022");
    assert!(r.attachable);
    assert_eq!(r.labels, map(&[("rsx.label", "yes")]));
    assert_eq!(
        r.options
            .get("com.docker.network.driver.mtu")
            .map(String::as_str),
        Some("1400")
    );
    let c = &r.ipam.expect("ipam").config[0];
    assert_eq!(
        (c.subnet.as_str(), c.ip_range.as_str(), c.gateway.as_str()),
        ("10.98.0.0/16", "10.98.5.0/24", "10.98.0.254")
    );

    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "024-create-v6-02-post-networks-create.json",
    )))
    .expect("024");
    assert_eq!(r.enable_ipv6, Some(true));
    assert_eq!(
        r.ipam.expect("ipam").config[0].subnet,
        "fd00:dead:beef::/64"
    );

    // the CLI's bodies re-serialize to the same bytes (same key order)
    for f in [
        "014-create-net1-02-post-networks-create.json",
        "020-create-subnet-02-post-networks-create.json",
        "022-create-full-02-post-networks-create.json",
        "024-create-v6-02-post-networks-create.json",
        "194-create-macvlan-02-post-networks-create.json",
    ] {
        let fx = load(f);
        let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&fx)).expect(f);
        assert_eq!(to_json_body(&r), wire(&fx["request"]["body"]), "{f}");
    }
}

#[test]
fn raw_create_requests() {
    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "069-api-create-unknown-field-01-post-networks-create.json",
    )))
    .expect("unknown fields are ignored");
    assert_eq!(r.name, "rsx-uf");
    assert_eq!(r.ipam, None);
    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "060-api-create-dup-1-01-post-networks-create.json",
    )))
    .expect("060");
    assert_eq!(r.check_duplicate, Some(false));
    let r: NetworkCreateRequest = decode_json_body(&request_body_bytes(&load(
        "067-api-no-name-01-post-networks-create.json",
    )))
    .expect("067");
    assert_eq!(r, NetworkCreateRequest::default());
    let fx = load("066-api-bad-json-01-post-networks-create.json");
    let e =
        decode_json_body::<NetworkCreateRequest>(&request_body_bytes(&fx)).expect_err("truncated");
    assert_eq!(e.body(), wire(response_body(&fx)));
    assert_eq!(
        e.status,
        fx["response"]["status"].as_u64().expect("status") as u16
    );
}

#[test]
fn connect_requests_decode() {
    let fx = load("113-connect-a-net2-02-post-networks-rsx-net2-connect.json");
    let r: NetworkConnectRequest = decode_json_body(&request_body_bytes(&fx)).expect("113");
    assert_eq!(r.container, "rsx-a");
    let ep = r.endpoint_config.as_ref().expect("endpoint config");
    assert_eq!(ep.ipam_config, Some(EndpointIpamConfig::default()));
    assert_eq!(ep.links, None);
    assert_eq!(ep.aliases, Some(vec![]));
    assert_eq!(ep.driver_opts, Some(BTreeMap::new()));
    assert_eq!(ep.dns_names, None);
    // the 28.2 CLI's body is the Shape::Current layout
    assert_eq!(to_json_body(&r), wire(&fx["request"]["body"]));

    let fx = load("119-connect-b-static-ip-02-post-networks-rsx-net-sub-connect.json");
    let r: NetworkConnectRequest = decode_json_body(&request_body_bytes(&fx)).expect("119");
    assert_eq!(r.container, "rsx-b");
    let ep = r.endpoint_config.as_ref().expect("endpoint config");
    assert_eq!(
        ep.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()),
        Some("10.99.0.50")
    );
    assert_eq!(ep.aliases, Some(vec!["bstatic".to_string()]));
    assert_eq!(to_json_body(&r), wire(&fx["request"]["body"]));

    let fx = load("126-connect-c-net2-link-02-post-networks-rsx-net2-connect.json");
    let r: NetworkConnectRequest = decode_json_body(&request_body_bytes(&fx)).expect("126");
    assert_eq!(
        r.endpoint_config.as_ref().and_then(|e| e.links.clone()),
        Some(vec!["rsx-a:aay".to_string()])
    );
    assert_eq!(to_json_body(&r), wire(&fx["request"]["body"]));

    let fx = load("133-disconnect-a-net2-02-post-networks-rsx-net2-disconnect.json");
    let r: NetworkDisconnectRequest = decode_json_body(&request_body_bytes(&fx)).expect("133");
    assert_eq!(
        r,
        NetworkDisconnectRequest {
            container: "rsx-a".into(),
            force: false
        }
    );
    assert_eq!(to_json_body(&r), wire(&fx["request"]["body"]));
}

// ---------------------------------------------------------------------------------------------
// Container inspect

#[test]
fn container_inspect_network_settings_099() {
    let fx = load("099-container-inspect-a-02-get-containers-rsx-a-json.json");
    let ep = EndpointSettings {
        aliases: Some(vec!["067b2780dbd9".into()]),
        network_id: "ca0681a15d293654f032d912d66e4e8c1a06b8d847162393ab6576a0589c2f74".into(),
        endpoint_id: "01e1102cfae3b6d92dafe067b14d22ea828d477929771477f8ced2a6fadc675a".into(),
        gateway: "172.18.0.1".into(),
        ip_address: "172.18.0.2".into(),
        ip_prefix_len: 16,
        mac_address: "02:42:ac:12:00:02".into(),
        ..Default::default()
    };
    let mut ns = NetworkSettings {
        sandbox_id: "ea44e4087809c0da9db28f19d6f2c8e45dd18fbecaaf752bd75283738d792670".into(),
        ports: Some(PortMap::new()),
        sandbox_key: "${RSX_DIR}/exec/netns/ea44e4087809".into(),
        networks: [("rsx-net1".to_string(), ep)].into(),
        ..Default::default()
    };
    ns.set_api(ApiVersion::V1_41);
    assert_eq!(
        to_json_body(&ns),
        wire(&response_body(&fx)["NetworkSettings"])
    );

    // API >= 1.44: Docker 28.2's order with GwPriority and DNSNames
    ns.set_api(ApiVersion::CURRENT);
    if let Some(ep) = ns.networks.get_mut("rsx-net1") {
        ep.dns_names = Some(vec!["rsx-a".into(), "067b2780dbd9".into()]);
    }
    let current = to_json_body(&ns);
    assert!(current.starts_with(
        r#"{"Bridge":"","SandboxID":"ea44e4087809c0da9db28f19d6f2c8e45dd18fbecaaf752bd75283738d792670","SandboxKey":"${RSX_DIR}/exec/netns/ea44e4087809","Ports":{},"HairpinMode":false,"LinkLocalIPv6Address":"","LinkLocalIPv6PrefixLen":0,"SecondaryIPAddresses":null"#
    ));
    assert!(current.contains(
        r#""Networks":{"rsx-net1":{"IPAMConfig":null,"Links":null,"Aliases":["067b2780dbd9"],"MacAddress":"02:42:ac:12:00:02","DriverOpts":null,"GwPriority":0,"NetworkID":"ca0681a15d293654f032d912d66e4e8c1a06b8d847162393ab6576a0589c2f74","#
    ));
    assert!(current
        .ends_with("\"GlobalIPv6PrefixLen\":0,\"DNSNames\":[\"rsx-a\",\"067b2780dbd9\"]}}}\n"));
}

#[test]
fn container_inspect_full_099() {
    let fx = load("099-container-inspect-a-02-get-containers-rsx-a-json.json");
    let body = response_body(&fx);
    let mut host_config = HostConfig {
        network_mode: "rsx-net1".into(),
        console_size: [0, 0],
        masked_paths: Some(
            [
                "/proc/asound",
                "/proc/acpi",
                "/proc/kcore",
                "/proc/keys",
                "/proc/latency_stats",
                "/proc/timer_list",
                "/proc/timer_stats",
                "/proc/sched_debug",
                "/proc/scsi",
                "/sys/firmware",
            ]
            .map(String::from)
            .to_vec(),
        ),
        readonly_paths: Some(
            [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ]
            .map(String::from)
            .to_vec(),
        ),
        ..Default::default()
    };
    host_config.normalize();
    let id = "067b2780dbd90d43257594cf5435641640a2d9084888df850185f1b60fbb729c";
    let dir = format!("${{RSX_DIR}}/data/containers/{id}");
    let parsed: ContainerInspect = serde_json::from_value(body.clone()).expect("decode 099");
    let built = ContainerInspect {
        id: id.into(),
        created: "2026-11-22T20:04:58.728576227Z".into(),
        path: "sleep".into(),
        args: vec!["100000".into()],
        state: ContainerState {
            status: "running".into(),
            running: true,
            pid: 28131,
            started_at: "2026-11-22T20:04:59.063144069Z".into(),
            finished_at: ZERO_TIME.into(),
            ..Default::default()
        },
        image: "sha256:a0b9ba64b1ef6459630e690a9736ec4f1c6efa3be0642ae2f63ff17d1477932c".into(),
        resolv_conf_path: format!("{dir}/resolv.conf"),
        hostname_path: format!("{dir}/hostname"),
        hosts_path: format!("{dir}/hosts"),
        log_path: format!("{dir}/{id}-json.log"),
        name: "/rsx-a".into(),
        driver: "overlay2".into(),
        platform: "linux".into(),
        host_config,
        graph_driver: parsed.graph_driver.clone(),
        config: ContainerConfig {
            hostname: "067b2780dbd9".into(),
            cmd: Some(vec!["sleep".into(), "100000".into()]),
            image: "busybox:local".into(),
            ..Default::default()
        },
        network_settings: parsed.network_settings.clone(),
        ..Default::default()
    }
    .for_api(ApiVersion::V1_41);
    assert_eq!(to_json_body(&built), wire(body));
}

#[test]
fn container_inspects_round_trip() {
    let mut seen = 0;
    for (name, fx) in all_fixtures() {
        if !(fx["request"]["path"]
            .as_str()
            .unwrap_or("")
            .starts_with("/v1.41/containers/")
            && fx["response"]["status"] == 200)
        {
            continue;
        }
        let body = response_body(&fx);
        let c: ContainerInspect = serde_json::from_value(body.clone()).expect(&name);
        assert_eq!(
            to_json_body(&c.clone().for_api(ApiVersion::V1_41)),
            wire(body),
            "{name}"
        );
        // the Go-rules decoder reads the same value
        let go: ContainerInspect = from_value_go(body.clone()).expect(&name);
        assert_eq!(
            to_json_body(&go.for_api(ApiVersion::V1_41)),
            wire(body),
            "{name}"
        );
        seen += 1;
    }
    assert_eq!(seen, 7);
}

// ---------------------------------------------------------------------------------------------
// Every captured network body, error body and list request

#[test]
fn every_network_body_round_trips() {
    let mut seen = 0;
    for (name, fx) in all_fixtures() {
        let path = fx["request"]["path"].as_str().unwrap_or("").to_string();
        let method = fx["request"]["method"].as_str().unwrap_or("").to_string();
        let status = fx["response"]["status"].as_u64().unwrap_or(0);
        let body = response_body(&fx);
        if method != "GET" || !path.starts_with("/v1.41/networks") || status != 200 {
            continue;
        }
        seen += 1;
        if path == "/v1.41/networks" {
            let list: Vec<Network> = serde_json::from_value(body.clone()).expect(&name);
            let list: Vec<Network> = list
                .into_iter()
                .map(|n| n.list_entry().for_api(ApiVersion::V1_41))
                .collect();
            assert_eq!(to_json_body(&list), wire(body), "{name}");
        } else {
            let n: Network = serde_json::from_value(body.clone()).expect(&name);
            assert_eq!(
                to_json_body(&n.for_api(ApiVersion::V1_41)),
                wire(body),
                "{name}"
            );
        }
    }
    assert!(seen > 30, "only {seen} network bodies");
}

#[test]
fn every_error_body_matches() {
    let mut seen = 0;
    for (name, fx) in all_fixtures() {
        let status = fx["response"]["status"].as_u64().unwrap_or(0) as u16;
        if status < 400 {
            continue;
        }
        seen += 1;
        let body = wire(response_body(&fx));
        let e = ApiError::from_response(status, body.as_bytes());
        assert_eq!(e.body(), body, "{name}");
        assert_eq!(
            e.reason(),
            fx["response"]["reason"].as_str().unwrap_or(""),
            "{name}"
        );
        if let Some(len) = fx["response"]["headers"]["Content-Length"].as_str() {
            assert_eq!(e.body().len().to_string(), len, "{name}");
        }
    }
    assert!(seen > 40);
    assert_eq!(ApiError::network_not_found("rsx-nope").body().len(), 41);
}

#[test]
fn create_and_prune_replies() {
    for (name, fx) in all_fixtures() {
        let path = fx["request"]["path"].as_str().unwrap_or("");
        let status = fx["response"]["status"].as_u64().unwrap_or(0);
        let body = response_body(&fx);
        if path == "/v1.41/networks/create" && status == 201 {
            let r: NetworkCreateResponse = serde_json::from_value(body.clone()).expect(&name);
            assert_eq!(to_json_body(&r), wire(body), "{name}");
        }
        if path == "/v1.41/networks/prune" {
            let r: NetworkPruneResponse = serde_json::from_value(body.clone()).expect(&name);
            let rebuilt =
                NetworkPruneResponse::from_names(r.networks_deleted.clone().unwrap_or_default());
            assert_eq!(to_json_body(&rebuilt), wire(body), "{name}");
        }
    }
}

#[test]
fn list_filters_from_queries() {
    let mut seen = 0;
    for (name, fx) in all_fixtures() {
        if fx["request"]["path"] != "/v1.41/networks"
            && fx["request"]["path"] != "/v1.41/networks/prune"
        {
            continue;
        }
        let Some(q) = fx["request"]["query"]["filters"].as_str() else {
            continue;
        };
        let f = Filters::parse(q).expect(&name);
        let allowed = if fx["request"]["path"] == "/v1.41/networks" {
            NETWORK_LIST_FILTERS
        } else {
            NETWORK_PRUNE_FILTERS
        };
        match f.validate(allowed) {
            Ok(()) => assert_eq!(fx["response"]["status"], 200, "{name}"),
            Err(e) => assert_eq!(e.body(), wire(response_body(&fx)), "{name}"),
        }
        // the client re-encodes the same query value
        assert_eq!(f.to_json(), q, "{name}");
        seen += 1;
    }
    assert!(seen >= 8, "{seen}");
}

// ---------------------------------------------------------------------------------------------
// /version and /info

#[test]
fn version_001() {
    let fx = load("001-version-02-get-version.json");
    let component = |name: &str, version: &str, commit: &str| ComponentVersion {
        name: name.into(),
        version: version.into(),
        details: [("GitCommit".to_string(), commit.to_string())].into(),
    };
    let v = SystemVersion::new(&VersionInput {
        version: "20.10.24+dfsg1".into(),
        api_version: ApiVersion::V1_41,
        min_api_version: ApiVersion::new(1, 12),
        git_commit: "5d6db84".into(),
        go_version: "go1.19.8".into(),
        os: "linux".into(),
        arch: go_arch("x86_64").into(),
        kernel_version: "6.18.44-fc-v657".into(),
        build_time: "2026-05-07T21:09:36.000000000+00:00".into(),
        experimental: false,
        extra_components: vec![
            component("containerd", "1.6.20~ds1", "1.6.20~ds1-1+deb12u3"),
            component("runc", "1.1.5+ds1", "1.1.5+ds1-1+deb12u1"),
            component("docker-init", "0.19.0", ""),
        ],
    });
    assert_wire(&v, "001-version-02-get-version.json");
    assert_eq!(
        to_json_body(&v).len().to_string(),
        fx["response"]["headers"]["Content-Length"]
            .as_str()
            .unwrap_or("")
    );
    let back: SystemVersion = serde_json::from_value(response_body(&fx).clone()).expect("decode");
    assert_eq!(back, v);
}

fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            let p = format!("{prefix}/{k}");
            out.push(p.clone());
            // maps keyed by data (runtimes, index configs) are compared by their own key sets
            key_paths(child, &p, out);
        }
    }
}

#[test]
fn info_002() {
    let fx = load("002-info-02-get-info.json");
    let body = response_body(&fx);
    // round trip of the captured body
    let parsed: SystemInfo = serde_json::from_value(body.clone()).expect("decode");
    assert_eq!(to_json_body(&parsed), wire(body));

    // a body built from the small input has the captured key set and order
    let input = InfoInput {
        id: "7OO3:HVVY:ALZF:UUN5:PMKA:5DZH:IHTT:KAFM:RCWC:JBWR:HHQ3:73IJ".into(),
        server_version: "0.1.0".into(),
        kernel_version: "6.18.44-fc-v657".into(),
        operating_system: "Debian GNU/Linux 12 (bookworm)".into(),
        os_version: "12".into(),
        os_type: "linux".into(),
        architecture: "x86_64".into(),
        hostname: "vm".into(),
        ncpu: 2,
        mem_total: 25_276_510_208,
        data_root: "${RSX_DIR}/data".into(),
        driver: "overlay2".into(),
        network_plugins: ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"]
            .map(String::from)
            .to_vec(),
        system_time: "2026-11-22T20:04:05.014774595Z".into(),
        ipv4_forwarding: true,
        bridge_nf_iptables: true,
        bridge_nf_ip6tables: true,
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: "1".into(),
        n_fd: 28,
        n_goroutines: 41,
        firewall_backend: Some("iptables".into()),
        ..Default::default()
    };
    let built: Value =
        serde_json::from_str(&to_json_body(&SystemInfo::new(&input, ApiVersion::V1_41)))
            .expect("json");
    let (mut want, mut got) = (Vec::new(), Vec::new());
    key_paths(body, "", &mut want);
    key_paths(&built, "", &mut got);
    let strip = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|p| !p.starts_with("/Runtimes/"))
            .collect()
    };
    assert_eq!(strip(got), strip(want));
    for k in [
        "Containers",
        "Name",
        "ServerVersion",
        "Plugins",
        "IPv4Forwarding",
        "BridgeNfIptables",
        "Swarm",
        "Warnings",
    ] {
        assert!(built.get(k).is_some(), "{k}");
    }
    assert_eq!(built["Plugins"]["Network"], body["Plugins"]["Network"]);
    assert_eq!(built["RegistryConfig"], body["RegistryConfig"]);
}

// ---------------------------------------------------------------------------------------------
// Times in the fixtures

#[test]
fn fixture_timestamps_round_trip() {
    for (name, fx) in all_fixtures() {
        let body = response_body(&fx);
        let mut stamps = Vec::new();
        collect_times(body, &mut stamps);
        for s in stamps {
            let t = GoTime::parse_rfc3339(&s).expect(&name);
            assert_eq!(t.to_rfc3339_nano(), s, "{name}");
            let st = t.to_system_time().expect("system time");
            assert_eq!(format_go_time(st), s, "{name}");
        }
    }
    // docker network ls --format json shows CreatedAt in Go's String() form
    let fx = load("035-ls-format-json-02-get-networks.json");
    let stdout = fx["cli"]["stdout"].as_str().expect("stdout");
    let list: Vec<Network> = serde_json::from_value(response_body(&fx).clone()).expect("list");
    for n in &list {
        let t = GoTime::parse_rfc3339(&n.created).expect("created");
        assert!(
            stdout.contains(&format!("\"CreatedAt\":\"{}\"", t.to_go_string())),
            "{}",
            n.name
        );
    }
}

fn collect_times(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if matches!(
                    k.as_str(),
                    "Created" | "StartedAt" | "FinishedAt" | "SystemTime"
                ) {
                    if let Some(s) = child.as_str() {
                        out.push(s.to_string());
                    }
                }
                collect_times(child, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_times(c, out)),
        _ => {}
    }
}
