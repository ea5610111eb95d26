//! Network routes: create, inspect/list, connect, disconnect, prune.
//!
//! Version facts (moby source, Docker 28.2 = API 1.50, and `docs/api/version-history.md`):
//! * `GET /networks` and `GET /networks/{id}` use the same type in Docker 28 (`network.Summary` is an
//!   alias of `network.Inspect`); list entries carry `"Containers":{}` (never filled for API ≥ 1.28),
//!   exactly as 20.10 did. Only the API 1.52 types (Docker 29) split `Summary` (no `Containers`) from
//!   `Inspect` (where `Containers` then follows `Peers`, after `Labels`) and add `Status`; cnm claims
//!   1.50 and does not produce that layout.
//! * `EnableIPv4` was added to create and inspect in API 1.48 ("EnableIPv4 was introduced in API
//!   1.48", network_routes.go: the daemon ignores it in create requests of older clients). Docker 28
//!   prints it in every inspect; cnm prints it for API ≥ 1.44 ([`Shape::Current`]) and leaves it out
//!   below, matching the 20.10 captures.
//! * `CheckDuplicate` is deprecated since 1.44 (duplicate names always fail), still accepted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::endpoint::EndpointSettings;
use crate::version::{ApiVersion, Shape};

/// IP address management of a network (`IPAM`), in create requests and in inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ipam {
    /// IPAM driver (`default`).
    #[serde(rename = "Driver", alias = "driver")]
    pub driver: String,
    /// IPAM driver options: `null` (predefined networks, raw requests without `IPAM`) or the map the
    /// create request carried (`{}` from the CLI).
    #[serde(rename = "Options", alias = "options")]
    pub options: Option<BTreeMap<String, String>>,
    /// Address configurations.
    #[serde(rename = "Config", alias = "config")]
    pub config: Vec<IpamConfig>,
}

/// One `IPAM.Config` entry; absent values are omitted (`{"Subnet":"10.99.0.0/24"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    /// Subnet in CIDR form.
    #[serde(
        rename = "Subnet",
        alias = "subnet",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    /// Sub-range to allocate from, CIDR.
    #[serde(
        rename = "IPRange",
        alias = "iprange",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    /// Gateway address.
    #[serde(
        rename = "Gateway",
        alias = "gateway",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    /// Reserved auxiliary addresses, name → address (`--aux-address`).
    #[serde(
        rename = "AuxiliaryAddresses",
        alias = "auxiliaryaddresses",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub auxiliary_addresses: BTreeMap<String, String>,
}

/// `ConfigFrom` of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigReference {
    /// Name of the config-only network.
    #[serde(rename = "Network", alias = "network")]
    pub network: String,
}

/// Body of `POST /networks/create`.
///
/// Every field is optional; unknown fields are ignored; decode with [`crate::decode_json_body`] to get
/// Go's case-insensitive field matching. Serializes in the key order of the 28.2 CLI's body
/// (`Driver, Scope, [EnableIPv4], [EnableIPv6], IPAM, Internal, Attachable, Ingress, ConfigOnly,
/// ConfigFrom, Options, Labels, Name, [CheckDuplicate]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreateRequest {
    /// Driver name; empty means the default (`bridge`).
    #[serde(rename = "Driver", alias = "driver")]
    pub driver: String,
    /// Requested scope (`local`, `swarm`, `global`, or empty).
    #[serde(rename = "Scope", alias = "scope")]
    pub scope: String,
    /// Enable IPv4 (API ≥ 1.48; ignore for older clients).
    #[serde(
        rename = "EnableIPv4",
        alias = "enableipv4",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv4: Option<bool>,
    /// Enable IPv6.
    #[serde(
        rename = "EnableIPv6",
        alias = "enableipv6",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    /// IPAM configuration; `None` when the request had none (inspect then shows `"Options":null`).
    #[serde(rename = "IPAM", alias = "ipam")]
    pub ipam: Option<Ipam>,
    /// Internal network (no outside access).
    #[serde(rename = "Internal", alias = "internal")]
    pub internal: bool,
    /// Attachable (swarm).
    #[serde(rename = "Attachable", alias = "attachable")]
    pub attachable: bool,
    /// Ingress (swarm).
    #[serde(rename = "Ingress", alias = "ingress")]
    pub ingress: bool,
    /// Config-only network.
    #[serde(rename = "ConfigOnly", alias = "configonly")]
    pub config_only: bool,
    /// Take the configuration from a config-only network.
    #[serde(rename = "ConfigFrom", alias = "configfrom")]
    pub config_from: Option<ConfigReference>,
    /// Driver options (`-o k=v`).
    #[serde(rename = "Options", alias = "options")]
    pub options: BTreeMap<String, String>,
    /// Labels.
    #[serde(rename = "Labels", alias = "labels")]
    pub labels: BTreeMap<String, String>,
    /// Network name (required by the daemon: empty gives `500 invalid name: `).
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    /// Deprecated duplicate check; the 28.2 CLI always sends `true`.
    #[serde(
        rename = "CheckDuplicate",
        alias = "checkduplicate",
        skip_serializing_if = "Option::is_none"
    )]
    pub check_duplicate: Option<bool>,
}

/// Reply of `POST /networks/create` (201): `{"Id":"<64 hex>","Warning":""}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreateResponse {
    /// Full ID of the new network.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warning, e.g. `Network with name rsx-dup (id : <id>) already exists`; empty when none.
    #[serde(rename = "Warning")]
    pub warning: String,
}

/// One entry of a network's `Containers` map (keyed by full container ID).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkContainer {
    /// Container name without the leading slash.
    #[serde(rename = "Name")]
    pub name: String,
    /// Full endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// MAC address (empty for host-mode containers).
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// IPv4 address in CIDR form (`172.18.0.2/16`), or empty.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// IPv6 address in CIDR form, or empty.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A network as `GET /networks/{id}` and `GET /networks` return it.
///
/// Key order: `Name, Id, Created, Scope, Driver, [EnableIPv4], EnableIPv6, IPAM, Internal,
/// Attachable, Ingress, ConfigFrom, ConfigOnly, Containers, Options, Labels`. `EnableIPv4` is written
/// only when `Some` — call [`Network::for_api`] before serializing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Full 64-hex ID.
    #[serde(rename = "Id")]
    pub id: String,
    /// Creation time, RFC 3339 with trimmed nanoseconds (see [`crate::format_go_time`]).
    #[serde(rename = "Created")]
    pub created: String,
    /// `local`, `global` or `swarm`.
    #[serde(rename = "Scope")]
    pub scope: String,
    /// Driver name.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// IPv4 enabled (API ≥ 1.44 output only).
    #[serde(rename = "EnableIPv4", skip_serializing_if = "Option::is_none")]
    pub enable_ipv4: Option<bool>,
    /// IPv6 enabled.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// IPAM.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// Internal.
    #[serde(rename = "Internal")]
    pub internal: bool,
    /// Attachable.
    #[serde(rename = "Attachable")]
    pub attachable: bool,
    /// Ingress.
    #[serde(rename = "Ingress")]
    pub ingress: bool,
    /// Config source (`{"Network":""}` when none).
    #[serde(rename = "ConfigFrom")]
    pub config_from: ConfigReference,
    /// Config-only.
    #[serde(rename = "ConfigOnly")]
    pub config_only: bool,
    /// Attached containers by full container ID (always `{}` in list entries).
    #[serde(rename = "Containers")]
    pub containers: BTreeMap<String, NetworkContainer>,
    /// Driver options as given at create time.
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
}

impl Network {
    /// Adjusts the version-dependent fields for a client of version `v`: below 1.44 `EnableIPv4` is
    /// removed; from 1.44 on it is written (`true` when it was not set).
    pub fn for_api(mut self, v: ApiVersion) -> Self {
        self.set_api(v);
        self
    }

    /// In-place form of [`Network::for_api`].
    pub fn set_api(&mut self, v: ApiVersion) {
        match v.shape() {
            Shape::Legacy => self.enable_ipv4 = None,
            Shape::Current => self.enable_ipv4 = Some(self.enable_ipv4.unwrap_or(true)),
        }
    }

    /// The entry `GET /networks` returns for this network: the same object with `"Containers":{}`.
    pub fn list_entry(&self) -> Network {
        Network {
            containers: BTreeMap::new(),
            ..self.clone()
        }
    }
}

/// Body of `POST /networks/{id}/connect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConnectRequest {
    /// Container name or ID.
    #[serde(rename = "Container", alias = "container")]
    pub container: String,
    /// Endpoint configuration (omitted when `None`).
    #[serde(
        rename = "EndpointConfig",
        alias = "endpointconfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint_config: Option<EndpointSettings>,
}

/// Body of `POST /networks/{id}/disconnect`: `{"Container":"rsx-a","Force":false}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkDisconnectRequest {
    /// Container name or ID.
    #[serde(rename = "Container", alias = "container")]
    pub container: String,
    /// Force the disconnection.
    #[serde(rename = "Force", alias = "force")]
    pub force: bool,
}

/// Reply of `POST /networks/prune`: `{"NetworksDeleted":[…]}`, `null` when nothing was deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPruneResponse {
    /// Names of the removed networks, in bytewise name order.
    #[serde(rename = "NetworksDeleted")]
    pub networks_deleted: Option<Vec<String>>,
}

impl NetworkPruneResponse {
    /// Builds the reply from the removed names: sorted bytewise, `null` when empty.
    pub fn from_names(mut names: Vec<String>) -> Self {
        if names.is_empty() {
            return NetworkPruneResponse {
                networks_deleted: None,
            };
        }
        names.sort();
        NetworkPruneResponse {
            networks_deleted: Some(names),
        }
    }
}

/// Filters accepted by `GET /networks`.
pub const NETWORK_LIST_FILTERS: &[&str] =
    &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// Filters accepted by `POST /networks/prune` (moby: `label`, `label!`, `until`).
pub const NETWORK_PRUNE_FILTERS: &[&str] = &["label", "label!", "until"];

/// Names of the predefined networks, which cannot be removed or re-created.
pub const PREDEFINED_NETWORKS: &[&str] = &["bridge", "host", "none"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enable_ipv4_by_version() {
        let n = Network {
            name: "x".into(),
            ..Default::default()
        };
        let legacy = serde_json::to_string(&n.clone().for_api(ApiVersion::V1_41)).expect("json");
        assert!(!legacy.contains("EnableIPv4"));
        let current = serde_json::to_string(&n.for_api(ApiVersion::CURRENT)).expect("json");
        assert!(current.contains(r#""Driver":"","EnableIPv4":true,"EnableIPv6":false,"IPAM""#));
    }

    #[test]
    fn prune_response() {
        assert_eq!(
            crate::to_json_body(&NetworkPruneResponse::from_names(vec![])),
            "{\"NetworksDeleted\":null}\n"
        );
        assert_eq!(
            crate::to_json_body(&NetworkPruneResponse::from_names(vec![
                "rsx-net1".into(),
                "rsx-net-sub".into()
            ])),
            "{\"NetworksDeleted\":[\"rsx-net-sub\",\"rsx-net1\"]}\n"
        );
    }

    #[test]
    fn create_request_case_insensitive() {
        let r: NetworkCreateRequest = crate::decode_json_body(
            br#"{"name":"n","DRIVER":"macvlan","ipam":{"config":[{"subnet":"10.0.0.0/24","AuxiliaryADDRESSES":{"a":"10.0.0.5"}}]},"options":{"Parent":"eth0"},"enableipv6":true}"#,
        )
        .expect("decode");
        assert_eq!(r.name, "n");
        assert_eq!(r.driver, "macvlan");
        assert_eq!(r.enable_ipv6, Some(true));
        let ipam = r.ipam.expect("ipam");
        assert_eq!(ipam.options, None);
        assert_eq!(ipam.config[0].subnet, "10.0.0.0/24");
        assert_eq!(
            ipam.config[0]
                .auxiliary_addresses
                .get("a")
                .map(String::as_str),
            Some("10.0.0.5")
        );
        assert_eq!(r.options.get("Parent").map(String::as_str), Some("eth0"));
        // plain serde_json understands the lowercase aliases too
        let r: NetworkCreateRequest = serde_json::from_str(
            r#"{"name":"n","checkduplicate":true,"configfrom":{"network":"c"}}"#,
        )
        .expect("serde");
        assert_eq!(r.check_duplicate, Some(true));
        assert_eq!(r.config_from.expect("cf").network, "c");
    }
}
