//! Conformance with Docker's own answers: every HTTP exchange captured from the reference Docker
//! engine (`fixtures/docker-api/`, 134 files) is replayed, in capture order, against a cnm daemon in
//! a test world, and cnm's answer is compared with Docker's: status, response headers (names in
//! order, and the values that do not depend on the build), body shape, key order and values, with
//! IDs, timestamps and MAC addresses normalised (see `conformance/compare.rs`).
//!
//! Where cnm answers differently on purpose or lacks a feature yet, the difference is listed in
//! `conformance/scenario.rs` with its reason (and in docs/compatibility.md); each listed difference
//! must occur, and every fixture file must be part of the scenario.

mod common;
#[path = "conformance/compare.rs"]
mod compare;
#[path = "conformance/scenario.rs"]
mod scenario;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::http;
use common::World;
use compare::{Comparison, Diff, Ids};
use scenario::Step;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/docker-api")
}

/// A fixture file with `${RSX_DIR}` standing for this world's directory.
fn load(name: &str, w: &World) -> Value {
    let path = fixture_dir().join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let text = text.replace("${RSX_DIR}", &w.dir.path().display().to_string());
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {name}: {e}"))
}

/// Response headers that depend on the moment or on the body size, not on the API.
const VOLATILE_HEADERS: &[&str] = &["date", "content-length", "transfer-encoding"];
/// Headers that answer how the test's client connects (it asks for `Connection: close`).
const CLIENT_HEADERS: &[&str] = &["connection"];
/// Headers whose value names the build (`Server`) or the claimed version, checked by presence.
const PRESENCE_HEADERS: &[&str] = &["api-version", "server"];

struct Replayer<'w> {
    w: &'w World,
    ids: Ids,
    failures: Vec<String>,
}

impl<'w> Replayer<'w> {
    fn new(w: &'w World) -> Self {
        Replayer {
            w,
            ids: Ids::default(),
            failures: Vec::new(),
        }
    }

    /// Sends the fixture's request (IDs translated to cnm's) and returns cnm's answer.
    fn send(&self, fx: &Value) -> http::Response {
        let req = &fx["request"];
        let method = req["method"].as_str().expect("method");
        let target = self.ids.translate(req["target"].as_str().expect("target"));
        let headers: Vec<(String, String)> = req["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = match &req["body"] {
            Value::Null => String::new(),
            // The one body that was not JSON (066: truncated on purpose).
            Value::String(s) => s.clone(),
            v => self.ids.translate(&serde_json::to_string(v).expect("body")),
        };
        http::request(&self.w.socket(), method, &target, &headers, body.as_bytes())
    }

    fn replay(&mut self, name: &str, diffs: &[&[Diff]]) {
        let fx = load(name, self.w);
        let resp = self.send(&fx);
        let mut errors = Vec::new();
        let want_status = fx["response"]["status"].as_u64().expect("status") as u16;
        if resp.status != want_status {
            errors.push(format!(
                "status {} (Docker {want_status}); body {}",
                resp.status,
                resp.text()
            ));
        }
        errors.extend(compare_headers(&fx["response"]["headers"], &resp));
        let diffs: Vec<Diff> = diffs.iter().flat_map(|d| d.iter().copied()).collect();
        match &fx["response"]["body"] {
            Value::Null => {
                if !resp.body.is_empty() {
                    errors.push(format!("body {:?}, Docker sent none", resp.text()));
                }
            }
            want => match wire_json(&resp) {
                Err(e) => errors.push(e),
                Ok(got) => {
                    let (want, got) = (sorted_by_name(want), sorted_by_name(&got));
                    let mut cmp = Comparison::new(&mut self.ids, &diffs);
                    cmp.value("", &want, Some(&got));
                    for unused in cmp.unused() {
                        cmp.errors.push(format!(
                            "listed difference at {unused} did not occur: update the scenario"
                        ));
                    }
                    errors.extend(cmp.errors);
                }
            },
        }
        self.record(name, errors);
    }

    fn accepted(&mut self, name: &str, status: u16, keys: &[&str], reason: &str) {
        let fx = load(name, self.w);
        assert!(
            fx["response"]["status"].as_u64().unwrap_or(0) >= 400,
            "{name}: Docker accepted this; make it a Replay"
        );
        let resp = self.send(&fx);
        let mut errors = Vec::new();
        if resp.status != status {
            errors.push(format!(
                "status {} (listed {status}: {reason}): {}",
                resp.status,
                resp.text()
            ));
        }
        match wire_json(&resp) {
            Ok(Value::Object(m)) => {
                let got: Vec<&str> = m.keys().map(String::as_str).collect();
                if got != keys {
                    errors.push(format!("keys {got:?} (listed {keys:?})"));
                }
            }
            Ok(v) => errors.push(format!("body {v} is not an object")),
            Err(e) => errors.push(e),
        }
        self.record(name, errors);
    }

    fn refused(&mut self, name: &str, status: u16, message: &str, reason: &str) {
        let fx = load(name, self.w);
        let docker = (
            fx["response"]["status"].as_u64().unwrap_or(0) as u16,
            fx["response"]["body"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        assert_ne!(
            (status, message.to_string()),
            docker,
            "{name}: the listed refusal is what Docker answers; make it a Replay"
        );
        let resp = self.send(&fx);
        let mut errors = Vec::new();
        if resp.status != status {
            errors.push(format!(
                "status {} (listed refusal {status}: {reason}): {}",
                resp.status,
                resp.text()
            ));
        } else {
            match wire_json(&resp) {
                Ok(v)
                    if v["message"].as_str().map(ids_as_placeholders).as_deref()
                        == Some(message) => {}
                Ok(v) => errors.push(format!("message {} (listed {message:?})", v["message"])),
                Err(e) => errors.push(e),
            }
        }
        self.record(name, errors);
    }

    fn record(&mut self, name: &str, errors: Vec<String>) {
        if !errors.is_empty() {
            self.failures
                .push(format!("{name}:\n    {}", errors.join("\n    ")));
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Replay(name, diffs) => self.replay(name, diffs),
            Step::Refused {
                file,
                status,
                message,
                reason,
            } => self.refused(file, *status, message, reason),
            Step::Accepted {
                file,
                status,
                keys,
                reason,
            } => self.accepted(file, *status, keys, reason),
            Step::Run(c) => {
                let mut args = vec!["run", "-d", "--name", c.name];
                if c.mode != "default" {
                    args.extend(["--network", c.mode]);
                }
                args.push("--");
                args.extend_from_slice(c.cmd);
                self.w.cnm(&args).ok();
            }
            Step::Remove(name) => {
                self.w.cnm(&["rm", "-f", name]).ok();
            }
            Step::CreateNetwork { name, fixture_id } => {
                let id = self.w.cnm(&["network", "create", name]).ok().stdout;
                if let Err(e) = self.ids.bind(fixture_id, id.trim()) {
                    self.failures.push(format!("create {name}: {e}"));
                }
            }
        }
    }

    fn run(mut self, steps: &[Step]) {
        for s in steps {
            self.step(s);
        }
        assert!(
            self.failures.is_empty(),
            "{} of the replayed exchanges differ from Docker's:\n{}\ndaemon log tail:\n{}",
            self.failures.len(),
            self.failures.join("\n"),
            tail(&self.w.log(), 40)
        );
    }
}

/// A message with every 64-hex ID written `<id>`.
fn ids_as_placeholders(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let (mut out, mut i) = (String::new(), 0);
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| hex(**c)).count();
        if run == 64 {
            out.push_str("<id>");
            i += 64;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().expect("char");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// cnm's body as JSON, checked to be on the wire as Docker writes it: compact, one `\n` at the end.
fn wire_json(resp: &http::Response) -> Result<Value, String> {
    let text = resp.text();
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("body is not JSON ({e}): {text:?}"))?;
    let compact = format!("{}\n", serde_json::to_string(&v).expect("to_string"));
    if compact != text {
        return Err(format!(
            "body is not compact JSON plus one newline: {text:?}"
        ));
    }
    Ok(v)
}

/// Docker returns network lists in no stable order: compare lists of named objects by name.
fn sorted_by_name(v: &Value) -> Value {
    match v {
        Value::Array(items) if items.iter().all(|i| i.get("Name").is_some()) => {
            let mut items = items.clone();
            items.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
            Value::Array(items)
        }
        v => v.clone(),
    }
}

fn compare_headers(fixture: &Value, resp: &http::Response) -> Vec<String> {
    let want: Vec<(String, &str)> = fixture
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default()))
        .filter(|(k, _)| !VOLATILE_HEADERS.contains(&k.as_str()))
        .collect();
    let got: Vec<&(String, String)> = resp
        .headers
        .iter()
        .filter(|(k, _)| {
            !VOLATILE_HEADERS.contains(&k.as_str()) && !CLIENT_HEADERS.contains(&k.as_str())
        })
        .collect();
    let mut errors = Vec::new();
    let want_names: Vec<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
    let got_names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    if want_names != got_names {
        errors.push(format!("headers {got_names:?}, Docker {want_names:?}"));
    }
    for (k, v) in &want {
        if PRESENCE_HEADERS.contains(&k.as_str()) {
            continue;
        }
        if let Some((_, g)) = got.iter().find(|(gk, _)| gk == k) {
            if g != v {
                errors.push(format!("header {k}: {g:?}, Docker {v:?}"));
            }
        }
    }
    // Docker's explicit `Content-Length: 0` (empty 200s, HEAD /_ping) is part of what clients see.
    if fixture.get("Content-Length").and_then(Value::as_str) == Some("0")
        && resp.header("content-length") != Some("0")
    {
        errors.push("no Content-Length: 0 (Docker sends it)".into());
    }
    errors
}

fn files_of(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Replay(f, _) | Step::Refused { file: f, .. } | Step::Accepted { file: f, .. } => {
                Some(*f)
            }
            _ => None,
        })
        .collect()
}

/// Every captured exchange is in the scenario exactly once: nothing is skipped silently.
#[test]
fn every_fixture_is_replayed() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    assert_eq!(on_disk.len(), 134, "the capture set has 134 exchanges");
    let mut listed: Vec<&str> = files_of(scenario::FIRST_ENGINE);
    listed.extend(files_of(scenario::SECOND_ENGINE));
    let unique: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
    assert_eq!(unique.len(), listed.len(), "a fixture is listed twice");
    let missing: Vec<&String> = on_disk.difference(&unique).collect();
    let extra: Vec<&String> = unique.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not replayed: {missing:?}; listed but absent: {extra:?}"
    );
    // The listed steps are in capture order.
    for steps in [scenario::FIRST_ENGINE, scenario::SECOND_ENGINE] {
        let files = files_of(steps);
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted, "scenario out of capture order");
    }
}

/// Every listed difference says why (docs/compatibility.md has the same list in prose).
#[test]
fn every_difference_has_a_reason() {
    for steps in [scenario::FIRST_ENGINE, scenario::SECOND_ENGINE] {
        for s in steps {
            let reasons: Vec<&str> = match s {
                Step::Replay(_, diffs) => diffs
                    .iter()
                    .flat_map(|d| d.iter().map(|d| d.reason))
                    .collect(),
                Step::Refused { reason, .. } | Step::Accepted { reason, .. } => vec![*reason],
                _ => Vec::new(),
            };
            for r in reasons {
                assert!(
                    r.split_whitespace().count() >= 3,
                    "too short a reason: {r:?}"
                );
            }
        }
    }
}

/// Files 001–235: the first engine run.
#[test]
fn first_engine_matches_docker() {
    let w = World::new();
    Replayer::new(&w).run(scenario::FIRST_ENGINE);
}

/// Files 241–249: a later engine on a fresh data-root.
#[test]
fn second_engine_matches_docker() {
    let w = World::new();
    Replayer::new(&w).run(scenario::SECOND_ENGINE);
}
