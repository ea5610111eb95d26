//! Driver options parsed once, at the edge, into typed structs.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::error::{CoreError, Result};

pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const OPT_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const OPT_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const OPT_HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";
pub const OPT_DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";
pub const OPT_IFACE_PREFIX: &str = "com.docker.network.container_iface_prefix";
pub const OPT_HOST_IPV4: &str = "com.docker.network.host_ipv4";
pub const OPT_ENABLE_IPV4: &str = "com.docker.network.enable_ipv4";
pub const OPT_ENABLE_IPV6: &str = "com.docker.network.enable_ipv6";
/// cnm's own: IGMP/MLD snooping on the bridge (off by default, see `BridgeOptions::mcast_snooping`).
pub const OPT_MCAST_SNOOPING: &str = "cnm.bridge.mcast_snooping";

/// The bridge driver's options for one network.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeOptions {
    pub bridge_name: Option<String>,
    pub enable_icc: bool,
    pub enable_ip_masquerade: bool,
    pub host_binding_ipv4: Ipv4Addr,
    pub mtu: Option<u32>,
    pub iface_prefix: String,
    pub default_bridge: bool,
    pub host_ipv4: Option<Ipv4Addr>,
    /// Off unless asked for. With snooping on, every port that comes up makes the kernel re-enable
    /// multicast on every other port of the bridge (`br_port_state_selection`), so each start costs more
    /// the more containers the bridge has; and with no multicast querier on a container bridge, snooping
    /// only risks dropping multicast (IPv6 neighbour discovery included) once group entries time out.
    pub mcast_snooping: bool,
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(CoreError::BadRequest(format!(
            "invalid value for option {key}: {v:?} is not a valid bool"
        ))),
    }
}

/// Linux interface names: 1–15 bytes, no '/', no whitespace, not "." or "..".
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

impl BridgeOptions {
    pub fn parse(opts: &BTreeMap<String, String>, daemon_mtu: Option<u32>) -> Result<Self> {
        let mut o = BridgeOptions {
            bridge_name: None,
            enable_icc: true,
            enable_ip_masquerade: true,
            host_binding_ipv4: Ipv4Addr::UNSPECIFIED,
            mtu: daemon_mtu,
            iface_prefix: "eth".into(),
            default_bridge: false,
            host_ipv4: None,
            mcast_snooping: false,
        };
        for (k, v) in opts {
            match k.as_str() {
                OPT_BRIDGE_NAME => {
                    if !valid_ifname(v) {
                        return Err(CoreError::BadRequest(format!("invalid bridge name {v:?}")));
                    }
                    o.bridge_name = Some(v.clone())
                }
                OPT_ICC => o.enable_icc = parse_bool(k, v)?,
                OPT_MASQUERADE => o.enable_ip_masquerade = parse_bool(k, v)?,
                OPT_DEFAULT_BRIDGE => o.default_bridge = parse_bool(k, v)?,
                OPT_MCAST_SNOOPING => o.mcast_snooping = parse_bool(k, v)?,
                OPT_HOST_BINDING => {
                    o.host_binding_ipv4 = v.parse().map_err(|_| {
                        CoreError::BadRequest(format!(
                            "invalid value for option {k}: {v:?} is not an IPv4 address"
                        ))
                    })?
                }
                OPT_HOST_IPV4 => {
                    o.host_ipv4 = Some(v.parse().map_err(|_| {
                        CoreError::BadRequest(format!(
                            "invalid value for option {k}: {v:?} is not an IPv4 address"
                        ))
                    })?)
                }
                OPT_MTU => {
                    let mtu: u32 = v.parse().map_err(|_| {
                        CoreError::BadRequest(format!(
                            "invalid value for option {k}: {v:?} is not a number"
                        ))
                    })?;
                    if !(68..=65535).contains(&mtu) {
                        return Err(CoreError::BadRequest(format!(
                            "invalid MTU number: {mtu} (must be between 68 and 65535)"
                        )));
                    }
                    o.mtu = Some(mtu);
                }
                OPT_IFACE_PREFIX => {
                    if v.is_empty() || v.len() > 10 || !valid_ifname(v) {
                        return Err(CoreError::BadRequest(format!(
                            "invalid interface prefix {v:?}"
                        )));
                    }
                    o.iface_prefix = v.clone();
                }
                // Accepted and echoed; their effect belongs to the firewall or is given by API fields.
                _ => {}
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let o = BridgeOptions::parse(&m(&[]), None).expect("parse");
        assert!(o.enable_icc && o.enable_ip_masquerade);
        assert_eq!(o.iface_prefix, "eth");
        assert_eq!(o.mtu, None);
    }

    #[test]
    fn typed_values_and_errors() {
        let o = BridgeOptions::parse(
            &m(&[
                (OPT_ICC, "false"),
                (OPT_MTU, "1400"),
                (OPT_BRIDGE_NAME, "mybr"),
                (OPT_IFACE_PREFIX, "net"),
            ]),
            Some(1500),
        )
        .expect("parse");
        assert!(!o.enable_icc);
        assert_eq!(o.mtu, Some(1400));
        assert_eq!(o.bridge_name.as_deref(), Some("mybr"));
        assert_eq!(o.iface_prefix, "net");
        assert!(BridgeOptions::parse(&m(&[(OPT_ICC, "maybe")]), None).is_err());
        assert!(BridgeOptions::parse(&m(&[(OPT_MTU, "12")]), None).is_err());
        assert!(
            BridgeOptions::parse(&m(&[(OPT_BRIDGE_NAME, "a-very-long-bridge-name")]), None)
                .is_err()
        );
    }
}
