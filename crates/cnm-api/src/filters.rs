//! The `filters` query parameter (moby's `api/types/filters`).
//!
//! Wire form: URL-decoded JSON `{"driver":{"bridge":true}}` (one object for all filters, several
//! values per key), or the legacy form `{"driver":["bridge"]}`. As in moby, a value counts whatever
//! its boolean is.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ApiError;

/// Parsed filters: key → set of values (sorted, so iteration and JSON output are stable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    /// No filters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the decoded `filters` query value; an empty string means no filters. Anything that is
    /// neither form is `400 invalid filter` (moby ≥ 23 wording).
    pub fn parse(value: &str) -> Result<Filters, ApiError> {
        if value.trim().is_empty() {
            return Ok(Filters::new());
        }
        if let Ok(m) = serde_json::from_str::<BTreeMap<String, BTreeMap<String, bool>>>(value) {
            let fields = m
                .into_iter()
                .map(|(k, v)| (k, v.into_keys().collect()))
                .collect();
            return Ok(Filters { fields });
        }
        if let Ok(m) = serde_json::from_str::<BTreeMap<String, Vec<String>>>(value) {
            let fields = m
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect();
            return Ok(Filters { fields });
        }
        Err(ApiError::bad_request("invalid filter"))
    }

    /// Parses an optional query value (`None` = no filters).
    pub fn parse_opt(value: Option<&str>) -> Result<Filters, ApiError> {
        value.map_or_else(|| Ok(Filters::new()), Filters::parse)
    }

    /// The query value for a client: `{"driver":{"bridge":true}}` (keys sorted), empty string when
    /// there are no filters (then leave the parameter out).
    pub fn to_json(&self) -> String {
        if self.fields.is_empty() {
            return String::new();
        }
        let m: BTreeMap<&str, BTreeMap<&str, bool>> = self
            .fields
            .iter()
            .map(|(k, vs)| (k.as_str(), vs.iter().map(|v| (v.as_str(), true)).collect()))
            .collect();
        serde_json::to_string(&m).unwrap_or_default()
    }

    /// Adds one value (`--filter key=value` on the CLI side).
    pub fn add(&mut self, key: &str, value: &str) {
        self.fields
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
    }

    /// Builder form of [`Filters::add`].
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.add(key, value);
        self
    }

    /// Whether there are no filters.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// Whether `key` was given (even with no values).
    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// The values of `key`, sorted (empty when absent).
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|vs| vs.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `400 Invalid filter '<key>'` for the first key (in sorted order) not in `allowed`; the
    /// wording is Docker 20.10's as captured (fixture 248).
    pub fn validate(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request(format!("Invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// moby `ExactMatch`: true when `key` is absent or has no values, or `source` is one of them.
    pub fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(vs) if vs.is_empty() => true,
            Some(vs) => vs.contains(source),
        }
    }

    /// moby `Match` for `name`/`id`: true when `key` is absent or has no values, or `source` equals a
    /// value or contains it. moby treats the value as an unanchored regular expression; cnm matches
    /// it as plain text (the same result for names without regex metacharacters, as captured:
    /// `name=pfx-look` finds `rsx-pfx-lookup`).
    pub fn substring_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(vs) if vs.is_empty() => true,
            Some(vs) => vs.iter().any(|v| source.contains(v.as_str())),
        }
    }

    /// moby `FuzzyMatch`: absent/empty key, exact value, or a value that is a prefix of `source`.
    pub fn prefix_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(vs) if vs.is_empty() => true,
            Some(vs) => vs.iter().any(|v| source.starts_with(v.as_str())),
        }
    }

    /// moby `MatchKVList` for `label`: true when `key` is absent or empty; otherwise every value must
    /// hold: `k` → the label `k` exists, `k=v` → it exists with value `v`.
    pub fn match_labels(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let Some(vs) = self.fields.get(key) else {
            return true;
        };
        if vs.is_empty() {
            return true;
        }
        if labels.is_empty() {
            return false;
        }
        vs.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
            None => labels.contains_key(v.as_str()),
        })
    }

    /// moby's prune label rule: `label` must match and, when `label!` is given, must not match.
    pub fn match_prune_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        if !self.match_labels("label", labels) {
            return false;
        }
        !(self.contains("label!") && self.match_labels("label!", labels))
    }

    /// The `dangling` filter of `GET /networks` (and similar): `None` when absent, else the boolean.
    /// Errors (400) as moby: `got more than one value for filter key "dangling"`, and
    /// `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`.
    pub fn dangling(&self) -> Result<Option<bool>, ApiError> {
        let values = self.get("dangling");
        if values.is_empty() {
            return Ok(None);
        }
        if values.len() > 1 {
            return Err(ApiError::bad_request(
                r#"got more than one value for filter key "dangling""#,
            ));
        }
        match values[0] {
            "0" | "false" => Ok(Some(false)),
            "1" | "true" => Ok(Some(true)),
            _ => Err(ApiError::bad_request(
                r#"invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"#,
            )),
        }
    }

    /// moby `GetBoolOrDefault`: `default` when absent; `1`/`true` or `0`/`false` otherwise. Both or
    /// neither, or no value at all, is `400 Invalid filter '<key>=[v1 v2]'` (moby's format of the
    /// values, with 20.10's capital `I`).
    pub fn get_bool_or_default(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        let Some(vs) = self.fields.get(key) else {
            return Ok(default);
        };
        if vs.is_empty() {
            return Err(ApiError::bad_request(format!("Invalid filter '{key}'")));
        }
        let is_false = vs.contains("0") || vs.contains("false");
        let is_true = vs.contains("1") || vs.contains("true");
        if is_false == is_true {
            let list: Vec<&str> = vs.iter().map(String::as_str).collect();
            return Err(ApiError::bad_request(format!(
                "Invalid filter '{key}=[{}]'",
                list.join(" ")
            )));
        }
        Ok(is_true)
    }

    /// The `type` filter of `GET /networks`: the requested kinds, each `builtin` or `custom`.
    /// Any other value is moby's plain error `invalid filter: 'type'='<value>'` (HTTP 500: moby does
    /// not classify it).
    pub fn network_types(&self) -> Result<Vec<NetworkType>, ApiError> {
        self.get("type")
            .into_iter()
            .map(|t| match t {
                "builtin" => Ok(NetworkType::Builtin),
                "custom" => Ok(NetworkType::Custom),
                other => Err(ApiError::internal(format!(
                    "invalid filter: 'type'='{other}'"
                ))),
            })
            .collect()
    }
}

/// Value of the network `type` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkType {
    /// `bridge`, `host`, `none`.
    Builtin,
    /// Every other network.
    Custom,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::NETWORK_LIST_FILTERS;

    #[test]
    fn both_forms() {
        let f = Filters::parse(r#"{"driver":{"bridge":true},"scope":{"local":true}}"#)
            .expect("map form");
        assert_eq!(f.get("driver"), vec!["bridge"]);
        assert!(f.contains("scope"));
        assert!(!f.contains("name"));
        assert_eq!(f.get("name"), Vec::<&str>::new());
        let g = Filters::parse(r#"{"driver":["bridge"],"scope":["local"]}"#).expect("legacy form");
        assert_eq!(f, g);
        assert_eq!(
            f.to_json(),
            r#"{"driver":{"bridge":true},"scope":{"local":true}}"#
        );
        assert_eq!(Filters::parse("").expect("empty"), Filters::new());
        assert_eq!(Filters::new().to_json(), "");
        let e = Filters::parse("{nope").expect_err("bad");
        assert_eq!((e.status, e.message.as_str()), (400, "invalid filter"));
        let built = Filters::new().with("label", "a=b").with("label", "c");
        assert_eq!(built.get("label"), vec!["a=b", "c"]);
    }

    #[test]
    fn validation() {
        let f = Filters::parse(r#"{"bogus":{"1":true}}"#).expect("parse");
        let e = f.validate(NETWORK_LIST_FILTERS).expect_err("invalid");
        assert_eq!(e.status, 400);
        assert_eq!(e.message, "Invalid filter 'bogus'");
        assert_eq!(e.body(), "{\"message\":\"Invalid filter 'bogus'\"}\n");
        let ok =
            Filters::parse(r#"{"driver":{"null":true},"scope":{"local":true}}"#).expect("parse");
        assert!(ok.validate(NETWORK_LIST_FILTERS).is_ok());
    }

    #[test]
    fn labels() {
        let labels: BTreeMap<String, String> =
            [("rsx.label".to_string(), "yes".to_string())].into();
        let empty = BTreeMap::new();
        let f = Filters::parse(r#"{"label":{"rsx.label=yes":true}}"#).expect("parse");
        assert!(f.match_labels("label", &labels));
        assert!(!f.match_labels("label", &empty));
        let f = Filters::parse(r#"{"label":{"rsx.label":true}}"#).expect("parse");
        assert!(f.match_labels("label", &labels));
        let f = Filters::parse(r#"{"label":{"rsx.label=no":true}}"#).expect("parse");
        assert!(!f.match_labels("label", &labels));
        let f = Filters::parse(r#"{"label":{"rsx.label":true,"other":true}}"#).expect("parse");
        assert!(!f.match_labels("label", &labels));
        assert!(Filters::new().match_labels("label", &empty));
        let f = Filters::parse(r#"{"label!":{"rsx.label":true}}"#).expect("parse");
        assert!(!f.match_prune_labels(&labels));
        assert!(f.match_prune_labels(&empty));
    }

    #[test]
    fn matching() {
        let f = Filters::parse(
            r#"{"name":{"pfx-look":true},"driver":{"bridge":true},"id":{"9c6a":true}}"#,
        )
        .expect("parse");
        assert!(f.substring_match("name", "rsx-pfx-lookup"));
        assert!(!f.substring_match("name", "rsx-net1"));
        assert!(f.exact_match("driver", "bridge"));
        assert!(!f.exact_match("driver", "macvlan"));
        assert!(f.exact_match("scope", "anything"));
        assert!(f.prefix_match("id", "9c6a61de84c0"));
        assert!(!f.prefix_match("id", "19c6a"));
    }

    #[test]
    fn booleans_and_types() {
        let f = Filters::parse(r#"{"dangling":{"true":true}}"#).expect("parse");
        assert_eq!(f.dangling().expect("ok"), Some(true));
        assert_eq!(Filters::new().dangling().expect("ok"), None);
        let f = Filters::parse(r#"{"dangling":{"0":true}}"#).expect("parse");
        assert_eq!(f.dangling().expect("ok"), Some(false));
        let f = Filters::parse(r#"{"dangling":{"maybe":true}}"#).expect("parse");
        assert_eq!(
            f.dangling().expect_err("bad").message,
            r#"invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")"#
        );
        let f = Filters::parse(r#"{"dangling":{"true":true,"false":true}}"#).expect("parse");
        assert_eq!(
            f.dangling().expect_err("bad").message,
            r#"got more than one value for filter key "dangling""#
        );
        assert!(f.get_bool_or_default("dangling", false).is_err());
        let f = Filters::parse(r#"{"x":{"maybe":true,"y":true}}"#).expect("parse");
        assert_eq!(
            f.get_bool_or_default("x", false).expect_err("bad").message,
            "Invalid filter 'x=[maybe y]'"
        );
        assert!(Filters::new()
            .get_bool_or_default("x", true)
            .expect("default"));

        let f = Filters::parse(r#"{"type":{"custom":true}}"#).expect("parse");
        assert_eq!(f.network_types().expect("ok"), vec![NetworkType::Custom]);
        let f = Filters::parse(r#"{"type":{"x":true}}"#).expect("parse");
        let e = f.network_types().expect_err("bad");
        assert_eq!(
            (e.status, e.message.as_str()),
            (500, "invalid filter: 'type'='x'")
        );
    }
}
