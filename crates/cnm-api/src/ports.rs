//! `HostConfig.PortBindings` and `Config.ExposedPorts` of a create request, kept as runs of ports.
//!
//! The docker CLI sends one key per port of a `-p 10000-19999:10000-19999` range (10,000 keys, each
//! with its own `[{"HostIp":"","HostPort":"…"}]`). These types fold consecutive keys into runs while
//! the body streams by (see `go_decode.rs`): a run costs one entry whatever its length, and nothing is
//! kept per port. Anything that is not a plain run (a random port, a host range, a key spelled other
//! than Docker's `80/tcp`, a zero-padded host port) stays one entry with its strings as sent, so the
//! controller reports Docker's errors for it. On the way out (the CLI's request, inspect's echo) the
//! runs are expanded again into Docker's per-port map.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::container::{Empty, PortBinding, PortMap};
use crate::go_decode::Key;

/// The protocol of a port key as Docker spells it (`80/tcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortProto {
    Tcp,
    Udp,
    Sctp,
}

impl PortProto {
    pub fn as_str(self) -> &'static str {
        match self {
            PortProto::Tcp => "tcp",
            PortProto::Udp => "udp",
            PortProto::Sctp => "sctp",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PortProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port number as Go's `strconv.Itoa` writes it: digits only, no leading zero, not 0.
fn plain_number(s: &str) -> Option<u16> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `80/tcp` exactly as Docker writes a port key (other spellings are kept as sent).
pub fn canonical_key(key: &str) -> Option<(PortProto, u16)> {
    let (port, proto) = key.split_once('/')?;
    let proto = match proto {
        "tcp" => PortProto::Tcp,
        "udp" => PortProto::Udp,
        "sctp" => PortProto::Sctp,
        _ => return None,
    };
    Some((proto, plain_number(port)?))
}

/// The container-port side of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingKey {
    /// Keys `port/proto`, `port+1/proto`, … (Docker's spelling).
    Port(PortProto, u16),
    /// One key as sent (`80`, `80/TCP`, `x/tcp`): the controller parses it and reports its errors.
    Raw(String),
}

/// `count` consecutive keys' entries at position `pos` of each key's list, bound to `host_ip` and to
/// consecutive host ports from `host_port` (a plain number when `count > 1`). A single entry
/// (`count == 1`) keeps its strings exactly as sent, `""` for a missing or `null` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRun {
    pub key: BindingKey,
    pub pos: u32,
    pub count: u16,
    pub host_ip: String,
    pub host_port: String,
}

/// `HostConfig.PortBindings` as runs (module docs). A key with `null` or `[]` is one entry with
/// empty strings (a random host port), as Docker treats it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortBindings {
    runs: Vec<BindingRun>,
}

impl PortBindings {
    /// Runs as they are (inspect's echo of the controller's requests, each already a run).
    pub fn from_runs(runs: Vec<BindingRun>) -> Self {
        PortBindings { runs }
    }

    pub fn runs(&self) -> &[BindingRun] {
        &self.runs
    }

    pub fn into_runs(self) -> Vec<BindingRun> {
        self.runs
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Docker's per-port map, entries of a key in their order.
    pub fn to_map(&self) -> PortMap {
        let mut order: Vec<&BindingRun> = self.runs.iter().collect();
        // An entry's position is its index in the key's list.
        order.sort_by_key(|r| r.pos);
        let mut out = PortMap::new();
        for r in order {
            let first_host = plain_number(&r.host_port);
            for i in 0..r.count {
                let key = match &r.key {
                    BindingKey::Port(proto, p) => format!("{}/{proto}", p + i),
                    BindingKey::Raw(k) => k.clone(),
                };
                let host_port = match first_host {
                    Some(h) if r.count > 1 => (h + i).to_string(),
                    _ => r.host_port.clone(),
                };
                out.entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding {
                        host_ip: r.host_ip.clone(),
                        host_port,
                    });
            }
        }
        out
    }
}

impl From<PortMap> for PortBindings {
    fn from(m: PortMap) -> Self {
        let mut f = Folder::default();
        for (k, entries) in m {
            let kind = f.begin_key(&k);
            match entries.filter(|e| !e.is_empty()) {
                None => f.add(&kind, 0, "", ""),
                Some(es) => {
                    for (pos, e) in es.iter().enumerate() {
                        f.add(&kind, pos, &e.host_ip, &e.host_port);
                    }
                }
            }
        }
        f.finish()
    }
}

impl Serialize for PortBindings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

/// The key being read: a canonical one, or one kept as sent.
enum KeyKind {
    Port(PortProto, u16),
    Raw(String),
}

/// Folds entries into runs as they arrive.
#[derive(Default)]
struct Folder {
    runs: Vec<BindingRun>,
    /// First host port of each run when it is a plain number (a run only grows from those).
    fixed: Vec<Option<u16>>,
    /// Per entry position, the run the next key's entry at that position may extend.
    open: Vec<Option<usize>>,
    /// Canonical keys seen so far, a bit per port and protocol: a repeated key replaces the earlier one.
    seen: [Vec<u64>; 3],
    raw_seen: HashSet<String>,
}

impl Folder {
    fn begin_key(&mut self, key: &str) -> KeyKind {
        match canonical_key(key) {
            Some((proto, p)) => {
                let bits = &mut self.seen[proto.index()];
                if bits.is_empty() {
                    bits.resize(1024, 0);
                }
                let (w, b) = (usize::from(p) / 64, 1u64 << (p % 64));
                let repeated = bits[w] & b != 0;
                bits[w] |= b;
                if repeated {
                    self.forget_port(proto, p);
                }
                KeyKind::Port(proto, p)
            }
            None => {
                if !self.raw_seen.insert(key.to_string()) {
                    self.forget_raw(key);
                }
                KeyKind::Raw(key.to_string())
            }
        }
    }

    /// Go's decoder keeps the last of two equal keys: drop what the earlier one added.
    fn forget_port(&mut self, proto: PortProto, p: u16) {
        let runs = std::mem::take(&mut self.runs);
        let fixed = std::mem::take(&mut self.fixed);
        for (r, h) in runs.into_iter().zip(fixed) {
            let c = match r.key {
                BindingKey::Port(pr, c) if pr == proto && c <= p && p - c < r.count => c,
                _ => {
                    self.runs.push(r);
                    self.fixed.push(h);
                    continue;
                }
            };
            // Only plain runs are longer than one; split around `p`.
            let (Some(h0), true) = (h, r.count > 1) else {
                continue;
            };
            let before = p - c;
            let after = r.count - before - 1;
            if before > 0 {
                self.runs.push(BindingRun {
                    count: before,
                    ..r.clone()
                });
                self.fixed.push(Some(h0));
            }
            if after > 0 {
                let h1 = h0 + before + 1;
                self.runs.push(BindingRun {
                    key: BindingKey::Port(proto, p + 1),
                    count: after,
                    host_port: h1.to_string(),
                    ..r
                });
                self.fixed.push(Some(h1));
            }
        }
        self.open.clear();
    }

    fn forget_raw(&mut self, key: &str) {
        let mut i = 0;
        while i < self.runs.len() {
            if matches!(&self.runs[i].key, BindingKey::Raw(k) if k == key) {
                self.runs.remove(i);
                self.fixed.remove(i);
            } else {
                i += 1;
            }
        }
        self.open.clear();
    }

    fn add(&mut self, kind: &KeyKind, pos: usize, host_ip: &str, host_port: &str) {
        if self.open.len() <= pos {
            self.open.resize(pos + 1, None);
        }
        let KeyKind::Port(proto, p) = *kind else {
            let KeyKind::Raw(k) = kind else { return };
            self.push(BindingKey::Raw(k.clone()), pos, host_ip, host_port, None);
            self.open[pos] = None;
            return;
        };
        let fixed = plain_number(host_port);
        if let (Some(h), Some(i)) = (fixed, self.open[pos]) {
            let r = &mut self.runs[i];
            let follows = matches!(r.key, BindingKey::Port(pr, c)
                    if pr == proto && u32::from(c) + u32::from(r.count) == u32::from(p))
                && matches!(self.fixed[i], Some(h0) if u32::from(h0) + u32::from(r.count) == u32::from(h))
                && r.count < u16::MAX
                // Mostly both empty: skip the byte compare.
                && r.host_ip.len() == host_ip.len()
                && (host_ip.is_empty() || r.host_ip == host_ip);
            if follows {
                r.count += 1;
                return;
            }
        }
        let i = self.push(BindingKey::Port(proto, p), pos, host_ip, host_port, fixed);
        self.open[pos] = fixed.map(|_| i);
    }

    fn push(
        &mut self,
        key: BindingKey,
        pos: usize,
        host_ip: &str,
        host_port: &str,
        fixed: Option<u16>,
    ) -> usize {
        self.runs.push(BindingRun {
            key,
            pos: u32::try_from(pos).unwrap_or(u32::MAX),
            count: 1,
            host_ip: host_ip.to_string(),
            host_port: host_port.to_string(),
        });
        self.fixed.push(fixed);
        self.runs.len() - 1
    }

    fn finish(self) -> PortBindings {
        PortBindings { runs: self.runs }
    }
}

impl<'de> Deserialize<'de> for PortBindings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Map;
        impl<'de> Visitor<'de> for Map {
            type Value = PortBindings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<PortBindings, A::Error> {
                let mut f = Folder::default();
                while let Some(Key(k)) = m.next_key()? {
                    let kind = f.begin_key(&k);
                    m.next_value_seed(Entries {
                        folder: &mut f,
                        kind: &kind,
                    })?;
                }
                Ok(f.finish())
            }
        }
        d.deserialize_map(Map)
    }
}

/// One key's list of bindings (`null` and `[]` are one entry without host address or port).
struct Entries<'f> {
    folder: &'f mut Folder,
    kind: &'f KeyKind,
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.folder.add(self.kind, 0, "", "");
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut pos = 0;
        while s
            .next_element_seed(Entry {
                folder: &mut *self.folder,
                kind: self.kind,
                pos,
            })?
            .is_some()
        {
            pos += 1;
        }
        if pos == 0 {
            self.folder.add(self.kind, 0, "", "");
        }
        Ok(())
    }
}

/// One `{"HostIp":…,"HostPort":…}`, with Go's rules: field names in any case, `null` = absent, the
/// last of two equal fields wins, other fields ignored; `null` for the whole entry = empty strings.
struct Entry<'f> {
    folder: &'f mut Folder,
    kind: &'f KeyKind,
    pos: usize,
}

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.folder.add(self.kind, self.pos, "", "");
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let mut ip: Option<Cow<'de, str>> = None;
        let mut port: Option<Cow<'de, str>> = None;
        while let Some(Key(k)) = m.next_key()? {
            let slot = if k.eq_ignore_ascii_case("HostIp") {
                &mut ip
            } else if k.eq_ignore_ascii_case("HostPort") {
                &mut port
            } else {
                m.next_value::<IgnoredAny>()?;
                continue;
            };
            if let Some(Key(v)) = m.next_value::<Option<Key<'de>>>()? {
                *slot = Some(v);
            }
        }
        self.folder.add(
            self.kind,
            self.pos,
            ip.as_deref().unwrap_or(""),
            port.as_deref().unwrap_or(""),
        );
        Ok(())
    }
}

/// `Config.ExposedPorts` as runs of Docker-spelled keys (`(proto, first, last)`) plus the keys
/// spelled otherwise, as sent. Runs are folded in arrival order (the docker CLI sends keys sorted);
/// the controller sorts and merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExposedPorts {
    pub runs: Vec<(PortProto, u16, u16)>,
    pub other: Vec<String>,
}

impl ExposedPorts {
    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> Self {
        let mut e = ExposedPorts::default();
        for k in keys {
            e.add(Cow::Owned(k));
        }
        e
    }

    fn add(&mut self, k: Cow<'_, str>) {
        match canonical_key(&k) {
            Some((proto, p)) => match self.runs.last_mut() {
                Some((pr, _, last)) if *pr == proto && u32::from(*last) + 1 == u32::from(p) => {
                    *last = p;
                }
                _ => self.runs.push((proto, p, p)),
            },
            None => self.other.push(k.into_owned()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.other.is_empty()
    }

    /// Every key, one per port.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        self.runs
            .iter()
            .flat_map(|&(proto, a, b)| (a..=b).map(move |p| format!("{p}/{proto}")))
            .chain(self.other.iter().cloned())
    }
}

impl Serialize for ExposedPorts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m: BTreeMap<String, Empty> = self.keys().map(|k| (k, Empty::default())).collect();
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ExposedPorts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Map;
        impl<'de> Visitor<'de> for Map {
            type Value = ExposedPorts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ExposedPorts, A::Error> {
                let mut e = ExposedPorts::default();
                while let Some(Key(k)) = m.next_key()? {
                    m.next_value::<Empty>()?;
                    e.add(k);
                }
                Ok(e)
            }
        }
        d.deserialize_map(Map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The docker CLI's body for `-p 10000-19999:10000-19999` (keys sorted, as Go writes them).
    fn cli_body(n: u16) -> String {
        let mut keys: Vec<u16> = (10000..10000 + n).collect();
        keys.sort_by_key(|p| p.to_string());
        let exposed: Vec<String> = keys.iter().map(|p| format!(r#""{p}/tcp":{{}}"#)).collect();
        let bound: Vec<String> = keys
            .iter()
            .map(|p| format!(r#""{p}/tcp":[{{"HostIp":"","HostPort":"{p}"}}]"#))
            .collect();
        format!(
            r#"{{"Cmd":["sleep","1"],"ExposedPorts":{{{}}},"HostConfig":{{"NetworkMode":"n","PortBindings":{{{}}}}}}}"#,
            exposed.join(","),
            bound.join(",")
        )
    }

    #[test]
    fn a_cli_range_decodes_to_one_run_each() {
        let r: crate::ContainerCreateRequest =
            crate::decode_json_body(cli_body(10000).as_bytes()).expect("decode");
        assert_eq!(
            r.host_config.port_bindings.runs(),
            &[BindingRun {
                key: BindingKey::Port(PortProto::Tcp, 10000),
                pos: 0,
                count: 10000,
                host_ip: String::new(),
                host_port: "10000".into(),
            }]
        );
        let e = r.exposed_ports.expect("exposed");
        assert_eq!(e.runs, vec![(PortProto::Tcp, 10000, 19999)]);
        assert_eq!(r.host_config.port_bindings.to_map().len(), 10000);
    }

    #[test]
    fn odd_entries_stay_as_sent_and_round_trip() {
        let body = r#"{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"},{"HostPort":""}],
            "81/tcp":[{"HostIp":"127.0.0.1","HostPort":"8081"},{"HostPort":"08081"}],
            "82/udp":null,"83":[],"84/TCP":[{"HostPort":"1-5"}]}"#;
        let b: PortBindings = serde_json::from_str(body).expect("decode");
        let shape: Vec<(BindingKey, u32, u16, &str)> = b
            .runs()
            .iter()
            .map(|r| (r.key.clone(), r.pos, r.count, r.host_port.as_str()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (BindingKey::Port(PortProto::Tcp, 80), 0, 2, "8080"),
                (BindingKey::Port(PortProto::Tcp, 80), 1, 1, ""),
                (BindingKey::Port(PortProto::Tcp, 81), 1, 1, "08081"),
                (BindingKey::Port(PortProto::Udp, 82), 0, 1, ""),
                (BindingKey::Raw("83".into()), 0, 1, ""),
                (BindingKey::Raw("84/TCP".into()), 0, 1, "1-5"),
            ]
        );
        let again: PortBindings =
            serde_json::from_str(&serde_json::to_string(&b).expect("encode")).expect("decode");
        assert_eq!(again.to_map(), b.to_map());
        assert_eq!(
            b.to_map()["81/tcp"],
            Some(vec![
                PortBinding {
                    host_ip: "127.0.0.1".into(),
                    host_port: "8081".into()
                },
                PortBinding {
                    host_ip: String::new(),
                    host_port: "08081".into()
                }
            ])
        );
    }

    /// `cargo test -p cnm-api --release --lib ports::tests::decode_timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, not a check"]
    fn decode_timing() {
        let body = cli_body(10000);
        let time = |f: &dyn Fn()| {
            let mut v: Vec<f64> = (0..15)
                .map(|_| {
                    let t = std::time::Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            v.sort_by(f64::total_cmp);
            (v[0], v[7])
        };
        let (lo, mid) = time(&|| {
            let r: crate::ContainerCreateRequest =
                crate::decode_json_body(body.as_bytes()).expect("decode");
            assert_eq!(r.host_config.port_bindings.runs().len(), 1);
        });
        println!(
            "{} bytes, streaming: median {mid:.2} ms (min {lo:.2})",
            body.len()
        );
        if std::env::var_os("CNM_DECODE_STREAM_ONLY").is_some() {
            return;
        }
        let (lo, mid) = time(&|| {
            let v: serde_json::Value = serde_json::from_str(&body).expect("tree");
            let r: crate::ContainerCreateRequest = crate::from_value_go(v).expect("decode");
            assert_eq!(r.host_config.port_bindings.runs().len(), 1);
        });
        println!(
            "{} bytes, Value tree first: median {mid:.2} ms (min {lo:.2})",
            body.len()
        );
    }
}
