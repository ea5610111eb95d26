//! `GET /events`: the event message, its filters, and the `since`/`until` timestamps.
//!
//! Facts from moby (daemon/events, api/types/events, api/server/router/system):
//! * every message carries `Type`, `Action`, `Actor{ID,Attributes}`, `scope` (`local`), `time` (unix
//!   seconds) and `timeNano`; container (and image) events also carry the deprecated `status`, `id`,
//!   `from` (the image) first — until API 1.52, which is above what cnm claims;
//! * network events: `create`/`destroy` with attributes `name`, `type` (the driver); `connect`/
//!   `disconnect` add `container` (full container ID); `prune` has only `reclaimed`;
//! * filters are not validated; `type` and `event` match exactly, `scope` exactly, object keys
//!   (`container`, `network`, …) match the actor's ID or `name` attribute exactly or by prefix, and
//!   `label` is the key/value list match over the attributes;
//! * `since`/`until` are unix seconds with an optional fraction (`1700000000.123456789`); the CLI
//!   converts `--since 10m` and dates to that form before sending.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::filters::Filters;

/// The object of an event: its ID and attributes (sorted by key on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventActor {
    /// Full ID of the object (network or container).
    #[serde(rename = "ID")]
    pub id: String,
    /// `name`, `type`, `container`, … (moby writes `{}` when there are none).
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One line of the `GET /events` stream (moby's `events.Message`), in its key order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventMessage {
    /// Deprecated copy of `Action` (container and image events only).
    #[serde(rename = "status", skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Deprecated copy of `Actor.ID` (container and image events only).
    #[serde(rename = "id", skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Deprecated image of a container event (empty for cnm, which has no images).
    #[serde(rename = "from", skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `network`, `container`, …
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `connect`, `disconnect`, `destroy`, `start`, `die`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// The object.
    #[serde(rename = "Actor")]
    pub actor: EventActor,
    /// `local` for everything a single engine reports.
    #[serde(rename = "scope", skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Unix seconds.
    #[serde(rename = "time", skip_serializing_if = "is_zero")]
    pub time: i64,
    /// Unix nanoseconds.
    #[serde(rename = "timeNano", skip_serializing_if = "is_zero")]
    pub time_nano: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl EventMessage {
    /// A local event as moby's event service logs it, with the deprecated fields filled for
    /// container events.
    pub fn new(
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
        time_nano: i64,
    ) -> Self {
        let legacy = kind == "container" || kind == "image";
        EventMessage {
            status: if legacy {
                action.to_string()
            } else {
                String::new()
            },
            id: if legacy {
                id.to_string()
            } else {
                String::new()
            },
            from: if kind == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            kind: kind.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }

    /// Whether the event passes `filters` (moby's `events.Filter.Include`).
    pub fn matches(&self, f: &Filters) -> bool {
        let name = self.actor.attributes.get("name").map(String::as_str);
        // An object filter (`network=…`) holds when absent, or when it names this actor by ID or
        // name, exactly or by prefix; it does not look at the event's type.
        let object = |key: &str| {
            f.prefix_match(key, &self.actor.id) || name.is_some_and(|n| f.prefix_match(key, n))
        };
        // moby matches these few actions by prefix (`exec_create: sh -c …`, `health_status: …`).
        let fuzzy_action = ["health_status", "exec_create", "exec_start"]
            .iter()
            .any(|a| f.get("event").contains(a));
        let action = if fuzzy_action {
            f.prefix_match("event", &self.action)
        } else {
            f.exact_match("event", &self.action)
        };
        action
            && f.exact_match("type", &self.kind)
            && f.exact_match("scope", &self.scope)
            && [
                "daemon",
                "container",
                "plugin",
                "volume",
                "network",
                "image",
                "node",
                "service",
                "secret",
                "config",
            ]
            .iter()
            .all(|k| object(k))
            && f.match_labels("label", &self.actor.attributes)
    }
}

/// A `since`/`until` query value as unix nanoseconds; `None` for an empty value. A malformed value
/// is moby's unclassified error (500) with Go's `strconv` wording.
pub fn parse_event_timestamp(value: &str) -> Result<Option<i128>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    let syntax = |s: &str| {
        ApiError::internal(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(s)
        ))
    };
    let (secs, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let secs: i64 = parse_go_int(secs).ok_or_else(|| syntax(secs))?;
    let nanos: i128 = match frac {
        None => 0,
        Some(f) => {
            let n: i64 = parse_go_int(f).ok_or_else(|| syntax(f))?;
            // moby scales the fraction by its length ("5" = 0.5 s); more than nine digits shrink.
            let scaled = n as f64 * 10f64.powi(9 - f.len() as i32);
            scaled as i128
        }
    };
    Ok(Some(i128::from(secs) * 1_000_000_000 + nanos))
}

/// `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, no spaces.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.Quote` for the ASCII cases that occur in timestamps.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// moby's 400 when `until` is before `since`, quoting both query values as sent.
pub fn since_after_until(since: &str, until: &str) -> ApiError {
    ApiError::bad_request(format!(
        "`since` time ({since}) cannot be after `until` time ({until})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn network_event_wire_shape() {
        let m = EventMessage::new(
            "network",
            "connect",
            "ab12",
            attrs(&[("type", "bridge"), ("name", "n1"), ("container", "cc")]),
            1_700_000_000_123_456_789,
        );
        assert_eq!(
            crate::to_json_body(&m),
            "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"ab12\",\"Attributes\":{\"container\":\"cc\",\"name\":\"n1\",\"type\":\"bridge\"}},\"scope\":\"local\",\"time\":1700000000,\"timeNano\":1700000000123456789}\n"
        );
    }

    #[test]
    fn container_event_has_legacy_fields() {
        let m = EventMessage::new(
            "container",
            "start",
            "cid",
            attrs(&[("image", ""), ("name", "web")]),
            2_000_000_000,
        );
        let body = crate::to_json_body(&m);
        assert!(
            body.starts_with("{\"status\":\"start\",\"id\":\"cid\",\"Type\":\"container\""),
            "{body}"
        );
        assert!(!body.contains("\"from\""), "empty image is omitted: {body}");
    }

    #[test]
    fn filters() {
        let m = EventMessage::new(
            "network",
            "create",
            "9c6a61de84c0aa",
            attrs(&[("name", "rsx-net1"), ("type", "bridge"), ("k", "v")]),
            1,
        );
        let yes = |q: &str| assert!(m.matches(&Filters::parse(q).expect("parse")), "{q}");
        let no = |q: &str| assert!(!m.matches(&Filters::parse(q).expect("parse")), "{q}");
        yes("");
        yes(r#"{"type":{"network":true}}"#);
        no(r#"{"type":{"container":true}}"#);
        yes(r#"{"event":{"create":true,"destroy":true}}"#);
        no(r#"{"event":{"connect":true}}"#);
        yes(r#"{"network":{"rsx-net1":true}}"#);
        yes(r#"{"network":{"9c6a6":true}}"#);
        yes(r#"{"network":{"rsx-net":true}}"#);
        no(r#"{"network":{"other":true}}"#);
        no(r#"{"container":{"web":true}}"#);
        yes(r#"{"scope":{"local":true}}"#);
        no(r#"{"scope":{"swarm":true}}"#);
        yes(r#"{"label":{"k=v":true}}"#);
        no(r#"{"label":{"k=w":true}}"#);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_event_timestamp("").expect("empty"), None);
        assert_eq!(
            parse_event_timestamp("1700000000").expect("secs"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_event_timestamp("1700000000.5").expect("frac"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(
            parse_event_timestamp("1700000000.000000001").expect("nanos"),
            Some(1_700_000_000_000_000_001)
        );
        let e = parse_event_timestamp("10m").expect_err("duration is converted by the CLI");
        assert_eq!(
            (e.status, e.message.as_str()),
            (500, "strconv.ParseInt: parsing \"10m\": invalid syntax")
        );
        assert_eq!(
            since_after_until("5", "4").message,
            "`since` time (5) cannot be after `until` time (4)"
        );
    }
}
