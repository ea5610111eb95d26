//! The Engine API at the HTTP level, for what the docker CLI hides: version negotiation headers and
//! paths, Docker's messages for malformed bodies, the body limit, unknown routes, the event stream,
//! and 100 clients at once.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier};

use common::http::{self, Stream};
use common::World;
use serde_json::Value;

fn get(w: &World, target: &str) -> http::Response {
    http::request(&w.socket(), "GET", target, &[], b"")
}

fn post(w: &World, target: &str, body: &str) -> http::Response {
    http::request(
        &w.socket(),
        "POST",
        target,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The response head exactly as sent (status line and headers), for checks of case and order.
fn raw_head(w: &World, request: &str) -> String {
    let mut s = UnixStream::connect(w.socket()).expect("connect");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ping_and_version_negotiation() {
    let w = World::new();
    // HEAD /_ping is the docker CLI's first request: Docker's headers, in Docker's order and case.
    let head = raw_head(
        &w,
        "HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let names: Vec<&str> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .filter(|k| *k != "Date" && *k != "Connection")
        .collect();
    assert_eq!(
        names,
        [
            "Api-Version",
            "Cache-Control",
            "Content-Length",
            "Content-Type",
            "Docker-Experimental",
            "Ostype",
            "Pragma",
            "Server"
        ],
        "{head}"
    );
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Api-Version: 1.50\r\n"), "{head}");
    assert!(head.contains("Content-Length: 0\r\n"), "{head}");
    let ping = get(&w, "/_ping");
    assert_eq!((ping.status, ping.text().as_str()), (200, "OK"));
    assert_eq!(
        ping.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // Versioned and unversioned paths; the header always names the claimed version.
    for target in [
        "/version",
        "/v1.24/version",
        "/v1.41/version",
        "/v1.50/version",
        "/v1.41/_ping",
    ] {
        let r = get(&w, target);
        assert_eq!(r.status, 200, "{target}: {}", r.text());
        assert_eq!(r.header("api-version"), Some("1.50"), "{target}");
    }
    let v = get(&w, "/v1.41/version").json();
    assert_eq!(
        (v["ApiVersion"].as_str(), v["MinAPIVersion"].as_str()),
        (Some("1.50"), Some("1.24"))
    );
    let old = get(&w, "/v1.23/networks");
    assert_eq!(old.status, 400);
    assert_eq!(
        old.message(),
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    let new = get(&w, "/v1.51/networks");
    assert_eq!(new.status, 400);
    assert_eq!(
        new.message(),
        "client version 1.51 is too new. Maximum supported API version is 1.50"
    );
    // Each version gets its Docker's shape: EnableIPv4 exists from API 1.48 on.
    let legacy = get(&w, "/v1.41/networks/bridge").json();
    let current = get(&w, "/v1.50/networks/bridge").json();
    let unversioned = get(&w, "/networks/bridge").json();
    assert!(legacy.get("EnableIPv4").is_none());
    assert_eq!(current["EnableIPv4"], true);
    assert_eq!(unversioned, current);
    assert_eq!(legacy["Id"], current["Id"]);
}

#[test]
fn malformed_bodies_get_dockers_messages() {
    let w = World::new();
    let cases = [
        (r#"{"Name":"#, "unexpected EOF"),
        (
            "{invalid json",
            "invalid character 'i' looking for beginning of object key string",
        ),
        (
            r#"{"Name":"x",}"#,
            "invalid character '}' looking for beginning of object key string",
        ),
        (r#"{"Name" "x"}"#, "invalid character '\"' after object key"),
        (
            "nope",
            "invalid character 'o' in literal null (expecting 'u')",
        ),
    ];
    for (body, message) in cases {
        let r = post(&w, "/v1.50/networks/create", body);
        assert_eq!(r.status, 400, "{body:?}: {}", r.text());
        assert_eq!(r.message(), message, "{body:?}");
    }
    // Connect and disconnect bodies go through the same decoder.
    for route in ["connect", "disconnect"] {
        let r = post(
            &w,
            &format!("/v1.50/networks/bridge/{route}"),
            "{\"Container\":",
        );
        assert_eq!((r.status, r.message().as_str()), (400, "unexpected EOF"));
    }
    // A wrong type for a known field is a 400 too, and nothing was created by any of it.
    let r = post(&w, "/v1.50/networks/create", r#"{"Name":1}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    let list = get(&w, "/v1.50/networks").json();
    assert_eq!(list.as_array().map(Vec::len), Some(3));
}

#[test]
fn body_limit_and_unknown_routes() {
    let w = World::new();
    // Just under the 1 MiB limit is served (whitespace padding is valid JSON)…
    let body = r#"{"Name":"big"}"#;
    let padded = format!("{body}{}", " ".repeat(1024 * 1024 - body.len()));
    let r = post(&w, "/networks/create", &padded);
    assert_eq!(r.status, 201, "{}", r.text());
    // …one byte more is not, and creates nothing.
    let over = format!(r#"{{"Name":"big2"}}{}"#, " ".repeat(1024 * 1024));
    let r = post(&w, "/networks/create", &over);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(get(&w, "/networks/big2").status, 404);
    for (method, target) in [
        ("GET", "/nothing/here"),
        ("GET", "/v1.50/nothing"),
        ("GET", "/vx/networks"),
        ("PUT", "/networks/create"),
        ("GET", "/images/json"),
    ] {
        let r = http::request(&w.socket(), method, target, &[], b"");
        assert_eq!(r.status, 404, "{method} {target}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), "{\"message\":\"page not found\"}\n");
    }
}

#[test]
fn event_stream_filters_and_window() {
    let w = World::new();
    let mut live = Stream::open(
        &w.socket(),
        "/v1.50/events?filters=%7B%22type%22%3A%5B%22network%22%5D%7D",
    );
    assert_eq!(live.status, 200);
    let r = post(&w, "/networks/create", r#"{"Name":"e1"}"#);
    assert_eq!(r.status, 201);
    let id = r.json()["Id"].as_str().expect("id").to_string();
    let r = http::request(&w.socket(), "DELETE", "/networks/e1", &[], b"");
    assert_eq!(r.status, 204);
    let create: Value = serde_json::from_str(&live.next_line().expect("create")).expect("json");
    let destroy: Value = serde_json::from_str(&live.next_line().expect("destroy")).expect("json");
    assert_eq!(
        (create["Action"].as_str(), create["Actor"]["ID"].as_str()),
        (Some("create"), Some(id.as_str()))
    );
    assert_eq!(create["Actor"]["Attributes"]["name"], "e1");
    assert_eq!(destroy["Action"], "destroy");
    assert!(create["timeNano"].as_i64() <= destroy["timeNano"].as_i64());

    // A past window ends the stream by itself and holds what happened in it.
    let t0 = create["time"].as_i64().expect("time");
    let r = get(
        &w,
        &format!(
            "/events?since={t0}&until={}",
            destroy["time"].as_i64().expect("t") + 1
        ),
    );
    assert_eq!(r.status, 200);
    let actions: Vec<String> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("line")["Action"].to_string())
        .collect();
    assert_eq!(actions, ["\"create\"", "\"destroy\""]);
    let bad = get(&w, "/events?since=10&until=5");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.message(),
        "`since` time (10) cannot be after `until` time (5)"
    );
}

#[test]
fn hundred_concurrent_clients() {
    let w = World::new();
    let n = 100;
    let barrier = Arc::new(Barrier::new(n));
    let sock = w.socket();
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, sock) = (barrier.clone(), sock.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let name = format!("cc{i}");
                barrier.wait();
                let r = http::request(
                    &sock,
                    "POST",
                    "/networks/create",
                    &[("Content-Type", "application/json")],
                    // The default pools hold 31 networks: give each its own subnet.
                    format!(
                        r#"{{"Name":"{name}","IPAM":{{"Config":[{{"Subnet":"10.100.{i}.0/24"}}]}}}}"#
                    )
                    .as_bytes(),
                );
                if r.status != 201 {
                    return Err(format!("create {name}: {} {}", r.status, r.text()));
                }
                let id = r.json()["Id"].as_str().unwrap_or_default().to_string();
                let r = http::request(&sock, "GET", &format!("/networks/{name}"), &[], b"");
                if r.status != 200 || r.json()["Id"] != id.as_str() {
                    return Err(format!("inspect {name}: {} {}", r.status, r.text()));
                }
                let filter = format!("%7B%22id%22%3A%7B%22{id}%22%3Atrue%7D%7D");
                let r = http::request(
                    &sock,
                    "GET",
                    &format!("/networks?filters={filter}"),
                    &[],
                    b"",
                );
                let listed = r.json();
                if listed.as_array().map(Vec::len) != Some(1) || listed[0]["Name"] != name.as_str()
                {
                    return Err(format!("list {name}: {}", r.text()));
                }
                let r = http::request(&sock, "DELETE", &format!("/networks/{id}"), &[], b"");
                if r.status != 204 {
                    return Err(format!("rm {name}: {} {}", r.status, r.text()));
                }
                Ok(())
            })
        })
        .collect();
    let errors: Vec<String> = threads
        .into_iter()
        .filter_map(|t| t.join().expect("thread").err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} clients failed: {errors:#?}",
        errors.len()
    );
    let list = get(&w, "/networks").json();
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
    // Every bridge went with its network.
    let bridges = w.sh("ip -o link show type bridge").ok().stdout;
    assert_eq!(
        bridges.lines().count(),
        1,
        "only docker0 is left: {bridges}"
    );
}
