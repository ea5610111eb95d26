//! Comparing a cnm answer with Docker's captured answer: same status, same headers (by name), same
//! body shape and key order, same values — after the normalisations the fixtures' README asks for:
//!
//! * IDs (64 hex, and their 12-hex short forms in bridge names, hostnames, aliases, sandbox keys) are
//!   compared as a bijection: the first time a fixture ID meets a cnm ID they are bound, and every
//!   later meeting must agree (so "the same ID" relations are checked, not just the shape);
//! * timestamps must be timestamps (the zero time must stay the zero time), MAC addresses must be
//!   MAC addresses (cnm's are random, like Docker ≥ 28);
//! * `${RSX_DIR}` stands for the world's directory (data-root `data/`, exec-root `exec/`);
//! * lists of networks are compared sorted by `Name`; maps keyed by container ID are paired through
//!   the bound IDs or the entries' `Name`;
//! * `Date`, `Content-Length`/`Transfer-Encoding` are not compared, `Api-Version` and `Server` only by
//!   presence.
//!
//! Anything else that differs must be listed for that exchange as a [`Diff`] with its reason.

use std::collections::HashMap;

use serde_json::Value;

/// What cnm answers instead of Docker's value at one path of one exchange.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// Exactly this JSON (compact text).
    Exactly(&'static str),
    /// The key is absent in cnm's body.
    Absent,
    /// Any value of any shape: only for values that depend on the machine or the run.
    Any,
    /// A key Docker's body lacks, which cnm has with exactly this JSON value.
    Added(&'static str),
}

/// A known difference at a `/`-separated path of the body (list indices are numbers; maps keyed by
/// container ID use the fixture's key).
#[derive(Debug, Clone, Copy)]
pub struct Diff {
    pub path: &'static str,
    pub want: Want,
    pub reason: &'static str,
}

pub const fn diff(path: &'static str, want: Want, reason: &'static str) -> Diff {
    Diff { path, want, reason }
}

/// The fixture ↔ cnm ID bijection of one engine run.
#[derive(Default)]
pub struct Ids {
    to_cnm: HashMap<String, String>,
    to_fixture: HashMap<String, String>,
    short_to_cnm: HashMap<String, String>,
    short_to_fixture: HashMap<String, String>,
}

impl Ids {
    /// Binds a full fixture ID to a full cnm ID, or checks an existing binding.
    pub fn bind(&mut self, fixture: &str, cnm: &str) -> Result<(), String> {
        match (self.to_cnm.get(fixture), self.to_fixture.get(cnm)) {
            (Some(c), _) if c != cnm => {
                return Err(format!(
                    "fixture ID {fixture} was cnm's {c}, now meets {cnm}"
                ))
            }
            (_, Some(f)) if f != fixture => {
                return Err(format!(
                    "cnm ID {cnm} was fixture's {f}, now meets {fixture}"
                ))
            }
            _ => {}
        }
        self.bind_short(&fixture[..12], &cnm[..12])?;
        self.to_cnm.insert(fixture.into(), cnm.into());
        self.to_fixture.insert(cnm.into(), fixture.into());
        Ok(())
    }

    fn bind_short(&mut self, fixture: &str, cnm: &str) -> Result<(), String> {
        match (
            self.short_to_cnm.get(fixture),
            self.short_to_fixture.get(cnm),
        ) {
            (Some(c), _) if c != cnm => Err(format!(
                "short fixture ID {fixture} was cnm's {c}, now meets {cnm}"
            )),
            (_, Some(f)) if f != fixture => Err(format!(
                "short cnm ID {cnm} was fixture's {f}, now meets {fixture}"
            )),
            _ => {
                self.short_to_cnm.insert(fixture.into(), cnm.into());
                self.short_to_fixture.insert(cnm.into(), fixture.into());
                Ok(())
            }
        }
    }

    pub fn cnm_of(&self, fixture: &str) -> Option<&str> {
        self.to_cnm.get(fixture).map(String::as_str)
    }

    /// A request target or body in cnm's terms: bound full IDs replaced, and a path segment that is
    /// a prefix of exactly one bound fixture ID replaced by the same-length prefix of its cnm ID.
    pub fn translate(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (f, c) in &self.to_cnm {
            out = out.replace(f.as_str(), c.as_str());
        }
        let segments: Vec<String> = out
            .split('/')
            .map(|seg| {
                let (path, query) = match seg.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (seg, None),
                };
                let is_prefix = !path.is_empty()
                    && path.len() < 64
                    && path.bytes().all(|b| b.is_ascii_hexdigit());
                let mapped = if is_prefix {
                    let hits: Vec<&String> =
                        self.to_cnm.keys().filter(|f| f.starts_with(path)).collect();
                    match hits.as_slice() {
                        [f] => self.to_cnm[*f][..path.len()].to_string(),
                        _ => path.to_string(),
                    }
                } else {
                    path.to_string()
                };
                match query {
                    Some(q) => format!("{mapped}?{q}"),
                    None => mapped,
                }
            })
            .collect();
        segments.join("/")
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Text(&'a str),
    Full(&'a str),
    Short(&'a str),
}

/// Splits a string into literal text and hex runs of ID length (64 or 12, bounded by non-hex).
fn tokens(s: &str) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
    let mut out = Vec::new();
    let (mut i, mut lit) = (0, 0);
    while i < b.len() {
        if hex(b[i]) && (i == 0 || !hex(b[i - 1])) {
            let mut j = i;
            while j < b.len() && hex(b[j]) {
                j += 1;
            }
            let run = j - i;
            if run == 64 || run == 12 {
                if lit < i {
                    out.push(Token::Text(&s[lit..i]));
                }
                out.push(if run == 64 {
                    Token::Full(&s[i..j])
                } else {
                    Token::Short(&s[i..j])
                });
                lit = j;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    if lit < s.len() {
        out.push(Token::Text(&s[lit..]));
    }
    out
}

/// The path of a child: `a/b`, and `b` at the top.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
        && s[..4].bytes().all(|c| c.is_ascii_digit())
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|c| c.is_ascii_hexdigit()))
}

fn is_id_keyed(m: &serde_json::Map<String, Value>) -> bool {
    !m.is_empty()
        && m.keys()
            .all(|k| k.len() == 64 && k.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// One body comparison: accumulates every mismatch (with its path) instead of stopping at the first.
pub struct Comparison<'a> {
    pub ids: &'a mut Ids,
    pub diffs: &'a [Diff],
    pub errors: Vec<String>,
    /// Which diffs were used: each listed difference must actually occur.
    pub used: Vec<bool>,
}

impl<'a> Comparison<'a> {
    pub fn new(ids: &'a mut Ids, diffs: &'a [Diff]) -> Self {
        Comparison {
            ids,
            diffs,
            errors: Vec::new(),
            used: vec![false; diffs.len()],
        }
    }

    fn diff_at(&mut self, path: &str) -> Option<(Want, &'static str)> {
        let i = self.diffs.iter().position(|d| d.path == path)?;
        self.used[i] = true;
        Some((self.diffs[i].want, self.diffs[i].reason))
    }

    fn fail(&mut self, path: &str, msg: String) {
        self.errors.push(format!(
            "at {}: {msg}",
            if path.is_empty() { "/" } else { path }
        ));
    }

    /// Compares `cnm` against `fixture` at `path`.
    pub fn value(&mut self, path: &str, fixture: &Value, cnm: Option<&Value>) {
        if let Some((want, reason)) = self.diff_at(path) {
            match (want, cnm) {
                (Want::Any, _) => {}
                (Want::Absent, None) => {}
                (Want::Absent, Some(v)) => self.fail(
                    path,
                    format!("expected no key (listed difference: {reason}), got {v}"),
                ),
                (Want::Exactly(text) | Want::Added(text), got) => {
                    let want: Value = serde_json::from_str(text).expect("diff JSON");
                    if got != Some(&want) {
                        let got = got.map_or("nothing".to_string(), Value::to_string);
                        self.fail(
                            path,
                            format!("expected {text} (listed difference: {reason}), got {got}"),
                        );
                    }
                }
            }
            return;
        }
        let Some(cnm) = cnm else {
            self.fail(path, format!("missing in cnm (Docker: {fixture})"));
            return;
        };
        match (fixture, cnm) {
            (Value::Object(f), Value::Object(c)) => self.object(path, f, c),
            (Value::Array(f), Value::Array(c)) => {
                // Elements listed as absent (trailing ones cnm does not have) are not expected.
                let expected = (0..f.len())
                    .filter(|i| {
                        !matches!(self.peek(&join(path, &i.to_string())), Some(Want::Absent))
                    })
                    .count();
                if expected != c.len() {
                    self.fail(
                        path,
                        format!("{} elements, expected {expected}: {cnm}", c.len()),
                    );
                }
                for (i, fv) in f.iter().enumerate() {
                    self.value(&join(path, &i.to_string()), fv, c.get(i));
                }
            }
            (Value::String(f), Value::String(c)) => self.string(path, f, c),
            (f, c) if f == c => {}
            (f, c) => self.fail(path, format!("cnm {c}, Docker {f}")),
        }
    }

    fn object(
        &mut self,
        path: &str,
        f: &serde_json::Map<String, Value>,
        c: &serde_json::Map<String, Value>,
    ) {
        if is_id_keyed(f) || is_id_keyed(c) {
            return self.id_keyed(path, f, c);
        }
        let f_keys: Vec<&String> = f.keys().collect();
        let absent: Vec<&String> = f_keys
            .iter()
            .copied()
            .filter(|k| matches!(self.peek(&join(path, k)), Some(Want::Absent)))
            .collect();
        let expected: Vec<&String> = f_keys
            .iter()
            .copied()
            .filter(|k| !absent.contains(k))
            .collect();
        // Keys cnm adds where Docker has none, listed as `Added` at `path/<key>`.
        let added: Vec<(usize, String, &'static str)> = self
            .diffs
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d.want {
                Want::Added(text) => {
                    let key = d.path.strip_prefix(path)?;
                    let key = if path.is_empty() {
                        key
                    } else {
                        key.strip_prefix('/')?
                    };
                    (!key.contains('/') && !f.contains_key(key)).then(|| (i, key.to_string(), text))
                }
                _ => None,
            })
            .collect();
        for (i, key, text) in &added {
            self.used[*i] = true;
            let want: Value = serde_json::from_str(text).expect("diff JSON");
            if c.get(key) != Some(&want) {
                let got = c.get(key).map_or("nothing".to_string(), Value::to_string);
                let reason = self.diffs[*i].reason;
                self.fail(
                    &join(path, key),
                    format!("expected {text} (listed difference: {reason}), got {got}"),
                );
            }
        }
        let got: Vec<&String> = c
            .keys()
            .filter(|k| !added.iter().any(|(_, a, _)| a == *k))
            .collect();
        if expected != got {
            self.fail(path, format!("keys {got:?}, Docker {expected:?}"));
        }
        for (k, fv) in f {
            self.value(&join(path, k), fv, c.get(k));
        }
    }

    fn peek(&self, path: &str) -> Option<Want> {
        self.diffs.iter().find(|d| d.path == path).map(|d| d.want)
    }

    /// Maps keyed by container ID: pair entries through bound IDs or their `Name`, bind the keys.
    fn id_keyed(
        &mut self,
        path: &str,
        f: &serde_json::Map<String, Value>,
        c: &serde_json::Map<String, Value>,
    ) {
        let c_keys: Vec<&String> = c.keys().collect();
        let mut sorted = c_keys.clone();
        sorted.sort();
        if c_keys != sorted {
            self.fail(path, "keys are not sorted".into());
        }
        if f.len() != c.len() {
            self.fail(path, format!("{} entries, Docker has {}", c.len(), f.len()));
        }
        for (fk, fv) in f {
            let by_id = self.ids.cnm_of(fk).map(str::to_string);
            let by_name = || {
                c.iter()
                    .find(|(_, cv)| cv.get("Name").is_some() && cv.get("Name") == fv.get("Name"))
                    .map(|(ck, _)| ck.clone())
            };
            let Some(ck) = by_id.or_else(by_name) else {
                self.fail(
                    path,
                    format!("no entry for Docker's {fk} ({:?})", fv.get("Name")),
                );
                continue;
            };
            if let Err(e) = self.ids.bind(fk, &ck) {
                self.fail(path, e);
            }
            self.value(&join(path, fk), fv, c.get(&ck));
        }
    }

    fn string(&mut self, path: &str, f: &str, c: &str) {
        if is_timestamp(f) {
            let zero = "0001-01-01T00:00:00Z";
            if (f == zero) != (c == zero) || !is_timestamp(c) {
                self.fail(path, format!("cnm {c:?} for Docker's time {f:?}"));
            }
            return;
        }
        if is_mac(f) {
            if !is_mac(c) {
                self.fail(path, format!("cnm {c:?} is not a MAC address"));
            }
            return;
        }
        let (ft, ct) = (tokens(f), tokens(c));
        let same_shape = ft.len() == ct.len()
            && ft.iter().zip(&ct).all(|(a, b)| match (a, b) {
                (Token::Text(x), Token::Text(y)) => x == y,
                (Token::Full(_), Token::Full(_)) | (Token::Short(_), Token::Short(_)) => true,
                _ => false,
            });
        if !same_shape {
            self.fail(path, format!("cnm {c:?}, Docker {f:?}"));
            return;
        }
        for (a, b) in ft.iter().zip(&ct) {
            let r = match (a, b) {
                (Token::Full(x), Token::Full(y)) => self.ids.bind(x, y),
                (Token::Short(x), Token::Short(y)) => self.ids.bind_short(x, y),
                _ => Ok(()),
            };
            if let Err(e) = r {
                self.fail(path, e);
            }
        }
    }

    /// Listed differences that did not occur: the list must stay true.
    pub fn unused(&self) -> Vec<&'static str> {
        self.diffs
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(d, _)| d.path)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_ids() {
        let full = "a".repeat(64);
        let s = format!("network x id {full} has br-0123456789ab");
        assert_eq!(
            tokens(&s),
            vec![
                Token::Text("network x id "),
                Token::Full(&full),
                Token::Text(" has br-"),
                Token::Short("0123456789ab"),
            ]
        );
        assert_eq!(tokens("2026-11-22"), vec![Token::Text("2026-11-22")]);
    }
}
