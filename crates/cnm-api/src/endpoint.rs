//! Endpoint settings: one network attachment of a container (`NetworkSettings.Networks[<name>]`,
//! the `EndpointConfig` of a connect request, `NetworkingConfig.EndpointsConfig` of a create request).

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::version::{ApiVersion, Shape};

/// Static addresses asked for on one endpoint (`IPAMConfig` of [`EndpointSettings`]).
///
/// Every key is omitted when empty, so a CLI connect without `--ip` sends (and inspect echoes) `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    /// Requested IPv4 address (no prefix length).
    #[serde(
        rename = "IPv4Address",
        alias = "ipv4address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    /// Requested IPv6 address (no prefix length).
    #[serde(
        rename = "IPv6Address",
        alias = "ipv6address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    /// Extra link-local addresses.
    #[serde(
        rename = "LinkLocalIPs",
        alias = "linklocalips",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
}

/// One network attachment of a container.
///
/// Deserializes from both layouts. Serializes in the layout chosen by [`EndpointSettings::shape`]
/// (set it with [`EndpointSettings::for_api`]):
///
/// * [`Shape::Legacy`] (API < 1.44, Docker 20.10 as captured): `IPAMConfig, Links, Aliases, NetworkID,
///   EndpointID, Gateway, IPAddress, IPPrefixLen, IPv6Gateway, GlobalIPv6Address, GlobalIPv6PrefixLen,
///   MacAddress, DriverOpts` — no `GwPriority`, no `DNSNames`.
/// * [`Shape::Current`] (API ≥ 1.44, Docker 28.2's `api/types/network.EndpointSettings`): `IPAMConfig,
///   Links, Aliases, MacAddress, DriverOpts, GwPriority, NetworkID, EndpointID, Gateway, IPAddress,
///   IPPrefixLen, IPv6Gateway, GlobalIPv6Address, GlobalIPv6PrefixLen, DNSNames` (this is also the
///   order of the 28.2 CLI's connect body).
///
/// `null` vs `{}`/`[]` (docker-behaviour.md 6.2): `IPAMConfig`, `Aliases` and `DriverOpts` are `null`
/// for `run` attachments and echo the request (`{}`, `[]`, `{}`) for CLI `network connect`.
///
/// Version facts (moby `docs/api/version-history.md`): `DNSNames` appeared in 1.44; from 1.45 on
/// `Aliases` reflects exactly the user's aliases (before, container inspect appended the short
/// container ID and the hostname on user-defined networks, see [`api_aliases`]); `GwPriority` appeared
/// in 1.48. Docker 28.2 serializes all of them to every client of the [`Shape::Current`] range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    /// Requested static addresses; `None` → `null`.
    #[serde(rename = "IPAMConfig", alias = "ipamconfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    /// Legacy links `container:alias`; `None` → `null`.
    #[serde(rename = "Links", alias = "links")]
    pub links: Option<Vec<String>>,
    /// Network-scoped aliases; `None` → `null`.
    #[serde(rename = "Aliases", alias = "aliases")]
    pub aliases: Option<Vec<String>>,
    /// MAC address of the endpoint (requested, then operational).
    #[serde(rename = "MacAddress", alias = "macaddress")]
    pub mac_address: String,
    /// Driver options of the endpoint; `None` → `null`.
    #[serde(rename = "DriverOpts", alias = "driveropts")]
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Gateway priority (API ≥ 1.48).
    #[serde(rename = "GwPriority", alias = "gwpriority")]
    pub gw_priority: i64,
    /// Full ID of the network.
    #[serde(rename = "NetworkID", alias = "networkid")]
    pub network_id: String,
    /// Full ID of the endpoint.
    #[serde(rename = "EndpointID", alias = "endpointid")]
    pub endpoint_id: String,
    /// IPv4 gateway of the network.
    #[serde(rename = "Gateway", alias = "gateway")]
    pub gateway: String,
    /// IPv4 address (no prefix length).
    #[serde(rename = "IPAddress", alias = "ipaddress")]
    pub ip_address: String,
    /// IPv4 prefix length.
    #[serde(rename = "IPPrefixLen", alias = "ipprefixlen")]
    pub ip_prefix_len: u8,
    /// IPv6 gateway of the network.
    #[serde(rename = "IPv6Gateway", alias = "ipv6gateway")]
    pub ipv6_gateway: String,
    /// Global IPv6 address (no prefix length).
    #[serde(rename = "GlobalIPv6Address", alias = "globalipv6address")]
    pub global_ipv6_address: String,
    /// Global IPv6 prefix length.
    #[serde(rename = "GlobalIPv6PrefixLen", alias = "globalipv6prefixlen")]
    pub global_ipv6_prefix_len: u8,
    /// Non-qualified DNS names of the container on this network (API ≥ 1.44); `None` → `null`.
    #[serde(rename = "DNSNames", alias = "dnsnames")]
    pub dns_names: Option<Vec<String>>,
    /// Output layout; not part of the JSON.
    #[serde(skip)]
    pub shape: Shape,
}

impl EndpointSettings {
    /// Sets the output layout for a client of version `v`.
    pub fn for_api(mut self, v: ApiVersion) -> Self {
        self.shape = v.shape();
        self
    }

    /// Sets the output layout for a client of version `v`, in place.
    pub fn set_api(&mut self, v: ApiVersion) {
        self.shape = v.shape();
    }
}

impl Serialize for EndpointSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.shape {
            Shape::Legacy => {
                let mut s = serializer.serialize_struct("EndpointSettings", 13)?;
                s.serialize_field("IPAMConfig", &self.ipam_config)?;
                s.serialize_field("Links", &self.links)?;
                s.serialize_field("Aliases", &self.aliases)?;
                s.serialize_field("NetworkID", &self.network_id)?;
                s.serialize_field("EndpointID", &self.endpoint_id)?;
                s.serialize_field("Gateway", &self.gateway)?;
                s.serialize_field("IPAddress", &self.ip_address)?;
                s.serialize_field("IPPrefixLen", &self.ip_prefix_len)?;
                s.serialize_field("IPv6Gateway", &self.ipv6_gateway)?;
                s.serialize_field("GlobalIPv6Address", &self.global_ipv6_address)?;
                s.serialize_field("GlobalIPv6PrefixLen", &self.global_ipv6_prefix_len)?;
                s.serialize_field("MacAddress", &self.mac_address)?;
                s.serialize_field("DriverOpts", &self.driver_opts)?;
                s.end()
            }
            Shape::Current => {
                let mut s = serializer.serialize_struct("EndpointSettings", 15)?;
                s.serialize_field("IPAMConfig", &self.ipam_config)?;
                s.serialize_field("Links", &self.links)?;
                s.serialize_field("Aliases", &self.aliases)?;
                s.serialize_field("MacAddress", &self.mac_address)?;
                s.serialize_field("DriverOpts", &self.driver_opts)?;
                s.serialize_field("GwPriority", &self.gw_priority)?;
                s.serialize_field("NetworkID", &self.network_id)?;
                s.serialize_field("EndpointID", &self.endpoint_id)?;
                s.serialize_field("Gateway", &self.gateway)?;
                s.serialize_field("IPAddress", &self.ip_address)?;
                s.serialize_field("IPPrefixLen", &self.ip_prefix_len)?;
                s.serialize_field("IPv6Gateway", &self.ipv6_gateway)?;
                s.serialize_field("GlobalIPv6Address", &self.global_ipv6_address)?;
                s.serialize_field("GlobalIPv6PrefixLen", &self.global_ipv6_prefix_len)?;
                s.serialize_field("DNSNames", &self.dns_names)?;
                s.end()
            }
        }
    }
}

/// The `Aliases` value container inspect reports for one endpoint.
///
/// For API < 1.45 on a user-defined network moby appends the short container ID and the container's
/// hostname to the user's aliases, then removes duplicates keeping the first occurrence (captured in
/// 20.10: `["bee","a226f81f4856","bhost"]`, and `["067b2780dbd9"]` for a container without aliases
/// whose hostname is its short ID). For API ≥ 1.45, and on `bridge`/`host`/`none`, the user's
/// aliases are returned unchanged (`null` stays `null`).
pub fn api_aliases(
    user_aliases: Option<&[String]>,
    short_id: &str,
    hostname: &str,
    user_defined_network: bool,
    v: ApiVersion,
) -> Option<Vec<String>> {
    if !(user_defined_network && v.aliases_include_short_id()) {
        return user_aliases.map(<[String]>::to_vec);
    }
    let mut out: Vec<String> = Vec::new();
    let extra = [short_id.to_string(), hostname.to_string()];
    for a in user_aliases.unwrap_or(&[]).iter().chain(extra.iter()) {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EndpointSettings {
        EndpointSettings {
            aliases: Some(vec!["067b2780dbd9".into()]),
            network_id: "n".into(),
            endpoint_id: "e".into(),
            gateway: "172.18.0.1".into(),
            ip_address: "172.18.0.2".into(),
            ip_prefix_len: 16,
            mac_address: "02:42:ac:12:00:02".into(),
            ..Default::default()
        }
    }

    #[test]
    fn legacy_layout() {
        let ep = sample().for_api(ApiVersion::V1_41);
        assert_eq!(
            serde_json::to_string(&ep).expect("json"),
            r#"{"IPAMConfig":null,"Links":null,"Aliases":["067b2780dbd9"],"NetworkID":"n","EndpointID":"e","Gateway":"172.18.0.1","IPAddress":"172.18.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:12:00:02","DriverOpts":null}"#
        );
    }

    #[test]
    fn current_layout() {
        let mut ep = sample().for_api(ApiVersion::CURRENT);
        ep.dns_names = Some(vec!["rsx-a".into(), "067b2780dbd9".into()]);
        ep.gw_priority = 5;
        assert_eq!(
            serde_json::to_string(&ep).expect("json"),
            r#"{"IPAMConfig":null,"Links":null,"Aliases":["067b2780dbd9"],"MacAddress":"02:42:ac:12:00:02","DriverOpts":null,"GwPriority":5,"NetworkID":"n","EndpointID":"e","Gateway":"172.18.0.1","IPAddress":"172.18.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":["rsx-a","067b2780dbd9"]}"#
        );
    }

    #[test]
    fn ipam_config_omits_empty() {
        assert_eq!(
            serde_json::to_string(&EndpointIpamConfig::default()).expect("json"),
            "{}"
        );
        let c = EndpointIpamConfig {
            ipv4_address: "10.99.0.50".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&c).expect("json"),
            r#"{"IPv4Address":"10.99.0.50"}"#
        );
    }

    #[test]
    fn aliases_by_version() {
        let user = vec!["bee".to_string()];
        assert_eq!(
            api_aliases(
                Some(&user),
                "a226f81f4856",
                "bhost",
                true,
                ApiVersion::V1_41
            ),
            Some(vec!["bee".into(), "a226f81f4856".into(), "bhost".into()])
        );
        assert_eq!(
            api_aliases(
                None,
                "067b2780dbd9",
                "067b2780dbd9",
                true,
                ApiVersion::new(1, 44)
            ),
            Some(vec!["067b2780dbd9".into()])
        );
        assert_eq!(
            api_aliases(None, "067b2780dbd9", "h", false, ApiVersion::V1_41),
            None
        );
        assert_eq!(
            api_aliases(Some(&user), "x", "h", true, ApiVersion::V1_45),
            Some(user.clone())
        );
        assert_eq!(api_aliases(None, "x", "h", true, ApiVersion::CURRENT), None);
    }
}
