//! Engine API versions: parsing the `/v1.41/…` path prefix, negotiation, and the choice of wire shape.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ApiError;

/// An Engine API version such as `1.41` (major.minor).
///
/// Ordering is numeric per component (`1.9 < 1.41`), like moby's `versions.LessThan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major component (always 1 for the Engine API so far).
    pub major: u16,
    /// Minor component.
    pub minor: u16,
}

/// Which Docker engine's JSON layout a response follows.
///
/// cnm serves API 1.24 … 1.50. Clients below 1.44 get exactly the layout captured from Docker 20.10
/// (API 1.41, see the fixtures); clients at 1.44 and above get the layout of Docker 28.2 (API 1.50),
/// which is what a real Docker 28 sends to them. The differences that matter for networking:
///
/// | item | [`Shape::Legacy`] (20.10) | [`Shape::Current`] (28.2) |
/// |---|---|---|
/// | network inspect/list | no `EnableIPv4` | `EnableIPv4` right before `EnableIPv6` |
/// | endpoint settings | `…, GlobalIPv6PrefixLen, MacAddress, DriverOpts` | `…, Aliases, MacAddress, DriverOpts, GwPriority, NetworkID, …, GlobalIPv6PrefixLen, DNSNames` |
/// | container `NetworkSettings` | `Bridge, SandboxID, HairpinMode, LinkLocalIPv6Address, LinkLocalIPv6PrefixLen, Ports, SandboxKey, …` | `Bridge, SandboxID, SandboxKey, Ports, HairpinMode, LinkLocalIPv6Address, LinkLocalIPv6PrefixLen, …` |
/// | container wait | `{"Error":null,"StatusCode":0}` | `{"StatusCode":0}` (`Error` only when set) |
/// | `/info` | `BridgeNfIptables`, `KernelMemory`, `…Commit.Expected`, `AllowNondistributableArtifacts…` | those omitted; `FirewallBackend`, `CDISpecDirs` added |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Shape {
    /// Docker 20.10's layout (API < 1.44), byte-compatible with the captured fixtures.
    Legacy,
    /// Docker 28.2's layout (API ≥ 1.44).
    #[default]
    Current,
}

impl ApiVersion {
    /// The version cnm's daemon claims (Docker 28.2's API).
    pub const CURRENT: ApiVersion = ApiVersion::new(1, 50);
    /// The oldest version cnm's daemon serves (moby's `MinSupportedAPIVersion`).
    pub const MIN: ApiVersion = ApiVersion::new(1, 24);
    /// The version of the captured reference engine (Docker 20.10).
    pub const V1_41: ApiVersion = ApiVersion::new(1, 41);
    /// First version answered with [`Shape::Current`].
    pub const V1_44: ApiVersion = ApiVersion::new(1, 44);
    /// From this version on, container inspect `Aliases` hold only the user's aliases (moby: API 1.45).
    pub const V1_45: ApiVersion = ApiVersion::new(1, 45);
    /// `EnableIPv4` in network create/inspect and `GwPriority` in endpoint settings were introduced here.
    pub const V1_48: ApiVersion = ApiVersion::new(1, 48);
    /// `/info` gains `FirewallBackend` and drops the `Expected` commits.
    pub const V1_49: ApiVersion = ApiVersion::new(1, 49);

    /// A version from its two components.
    pub const fn new(major: u16, minor: u16) -> Self {
        ApiVersion { major, minor }
    }

    /// The JSON layout used for clients of this version.
    pub fn shape(self) -> Shape {
        if self >= Self::V1_44 {
            Shape::Current
        } else {
            Shape::Legacy
        }
    }

    /// Whether container inspect must append the short container ID and the hostname to `Aliases`
    /// on user-defined networks (moby does so for API < 1.45).
    pub fn aliases_include_short_id(self) -> bool {
        self < Self::V1_45
    }

    /// Checks a requested version against [`ApiVersion::MIN`] … [`ApiVersion::CURRENT`]; no version
    /// (a path without `/vX.Y`) means [`ApiVersion::CURRENT`]. Errors are 400 with moby's wording.
    pub fn negotiate(requested: Option<ApiVersion>) -> Result<ApiVersion, ApiError> {
        let v = requested.unwrap_or(Self::CURRENT);
        if v < Self::MIN {
            return Err(ApiError::bad_request(format!(
                "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                Self::MIN
            )));
        }
        if v > Self::CURRENT {
            return Err(ApiError::bad_request(format!(
                "client version {v} is too new. Maximum supported API version is {}",
                Self::CURRENT
            )));
        }
        Ok(v)
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::CURRENT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Error of [`ApiVersion::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API version {0:?}")]
pub struct ParseVersionError(pub String);

impl FromStr for ApiVersion {
    type Err = ParseVersionError;

    /// Parses `1.41` (also `1` and `1.41.0`; a third component is ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_string());
        let mut parts = s.split('.');
        let parse = |p: &str| -> Option<u16> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = parts.next().and_then(parse).ok_or_else(err)?;
        let minor = match parts.next() {
            Some(p) => parse(p).ok_or_else(err)?,
            None => 0,
        };
        if let Some(p) = parts.next() {
            parse(p).ok_or_else(err)?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(ApiVersion { major, minor })
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Splits a `/vX.Y` prefix off a request path: `/v1.41/networks` → `(Some(1.41), "/networks")`.
///
/// A path without a valid version prefix (`/_ping`, `/version`, `/vfoo/x`) is returned unchanged with
/// `None`. `/v1.41` alone yields `"/"`.
pub fn strip_version_prefix(path: &str) -> (Option<ApiVersion>, &str) {
    let Some(rest) = path.strip_prefix("/v") else {
        return (None, path);
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let candidate = &rest[..end];
    if candidate.is_empty() || !candidate.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return (None, path);
    }
    match candidate.parse::<ApiVersion>() {
        Ok(v) => {
            let remainder = &rest[end..];
            (Some(v), if remainder.is_empty() { "/" } else { remainder })
        }
        Err(_) => (None, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let v: ApiVersion = "1.41".parse().expect("parse");
        assert_eq!(v, ApiVersion::new(1, 41));
        assert_eq!(v.to_string(), "1.41");
        assert_eq!(
            "1".parse::<ApiVersion>().expect("parse"),
            ApiVersion::new(1, 0)
        );
        assert_eq!(
            "1.44.0".parse::<ApiVersion>().expect("parse"),
            ApiVersion::new(1, 44)
        );
        assert!("1.x".parse::<ApiVersion>().is_err());
        assert!("".parse::<ApiVersion>().is_err());
        assert!("1..2".parse::<ApiVersion>().is_err());
        assert!(ApiVersion::new(1, 9) < ApiVersion::new(1, 41));
        assert_eq!(ApiVersion::CURRENT.to_string(), "1.50");
        assert_eq!(ApiVersion::MIN.to_string(), "1.24");
    }

    #[test]
    fn strip_prefix() {
        assert_eq!(
            strip_version_prefix("/v1.41/networks/rsx%20odd/name"),
            (Some(ApiVersion::new(1, 41)), "/networks/rsx%20odd/name")
        );
        assert_eq!(strip_version_prefix("/_ping"), (None, "/_ping"));
        assert_eq!(strip_version_prefix("/version"), (None, "/version"));
        assert_eq!(
            strip_version_prefix("/v1.50"),
            (Some(ApiVersion::CURRENT), "/")
        );
        assert_eq!(strip_version_prefix("/vfoo/x"), (None, "/vfoo/x"));
        assert_eq!(strip_version_prefix("/v/x"), (None, "/v/x"));
    }

    #[test]
    fn shapes_and_negotiation() {
        assert_eq!(ApiVersion::V1_41.shape(), Shape::Legacy);
        assert_eq!(ApiVersion::new(1, 43).shape(), Shape::Legacy);
        assert_eq!(ApiVersion::V1_44.shape(), Shape::Current);
        assert!(ApiVersion::V1_44.aliases_include_short_id());
        assert!(!ApiVersion::V1_45.aliases_include_short_id());
        assert_eq!(
            ApiVersion::negotiate(None).expect("ok"),
            ApiVersion::CURRENT
        );
        let e = ApiVersion::negotiate(Some(ApiVersion::new(1, 23))).expect_err("old");
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
        );
        let e = ApiVersion::negotiate(Some(ApiVersion::new(1, 51))).expect_err("new");
        assert_eq!(
            e.message,
            "client version 1.51 is too new. Maximum supported API version is 1.50"
        );
    }
}
