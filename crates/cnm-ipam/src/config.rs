//! Validation of a network's IPAM configuration (`IPAM.Config[]` of a create request), with Docker's texts.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::family::net_bounds;
use crate::{Family, IpamError};

/// One `IPAM.Config[]` entry as received (strings; an empty string counts as absent, as in Docker's API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamConfigInput {
    /// `Subnet` / `--subnet`.
    pub subnet: Option<String>,
    /// `IPRange` / `--ip-range`.
    pub ip_range: Option<String>,
    /// `Gateway` / `--gateway`.
    pub gateway: Option<String>,
    /// `AuxiliaryAddresses` / `--aux-address name=IP`.
    pub aux_addresses: BTreeMap<String, String>,
}

/// A validated `IPAM.Config[]` entry. When `subnet` is `None`, everything else is empty too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatedConfig {
    /// The subnet (canonical: no host bits).
    pub subnet: Option<IpNet>,
    /// The ip-range (canonical, inside the subnet).
    pub ip_range: Option<IpNet>,
    /// The gateway (inside the subnet).
    pub gateway: Option<IpAddr>,
    /// The auxiliary addresses (inside the subnet).
    pub aux_addresses: BTreeMap<String, IpAddr>,
}

fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|s| !s.is_empty())
}

/// Checks one IPAM config entry, Docker's way.
///
/// - A subnet that is not CIDR → [`IpamError::InvalidSubnet`] (Docker 20.10's `Invalid subnet foo : invalid CIDR
///   address: foo`, status 500).
/// - Everything else is collected, in Docker's order (subnet, ip-range, gateway, aux addresses by name), into one
///   [`IpamError::InvalidConfig`] (`invalid network config:\n…`, status 400); several problems are listed as
///   `* a\n* b` like Docker's multi-error.
/// - ip-range, gateway or aux addresses without a subnet → `InvalidConfig("ip-range/gateway/aux-address require a
///   subnet")`.
pub fn validate_config(input: &IpamConfigInput) -> Result<ValidatedConfig, IpamError> {
    let range_text = present(&input.ip_range);
    let gateway_text = present(&input.gateway);
    let Some(subnet_text) = present(&input.subnet) else {
        if range_text.is_some() || gateway_text.is_some() || !input.aux_addresses.is_empty() {
            return Err(IpamError::InvalidConfig(
                "ip-range/gateway/aux-address require a subnet".into(),
            ));
        }
        return Ok(ValidatedConfig::default());
    };
    let subnet: IpNet = subnet_text
        .parse()
        .map_err(|_| IpamError::InvalidSubnet(subnet_text.to_string()))?;
    let family = Family::of_net(&subnet);
    let mut errs: Vec<String> = Vec::new();

    if subnet != subnet.trunc() {
        errs.push(format!(
            "invalid subnet {subnet}: it should be {}",
            subnet.trunc()
        ));
    }

    let ip_range = range_text.and_then(|text| check_range(text, &subnet, family, &mut errs));

    let gateway = gateway_text.and_then(|text| match check_address(text, &subnet, family) {
        Ok(addr) => Some(addr),
        Err(why) => {
            errs.push(format!("invalid gateway {text}: {why}"));
            None
        }
    });

    let mut aux_addresses = BTreeMap::new();
    for (name, text) in &input.aux_addresses {
        match check_address(text, &subnet, family) {
            Ok(addr) => {
                aux_addresses.insert(name.clone(), addr);
            }
            Err(why) => errs.push(format!("invalid auxiliary address {name}: {why}")),
        }
    }

    if !errs.is_empty() {
        return Err(IpamError::InvalidConfig(join_errors(&errs)));
    }
    Ok(ValidatedConfig {
        subnet: Some(subnet),
        ip_range,
        gateway,
        aux_addresses,
    })
}

/// Docker's `validateIPRange`: pushes every problem found and returns the range when there is none.
fn check_range(
    text: &str,
    subnet: &IpNet,
    family: Family,
    errs: &mut Vec<String>,
) -> Option<IpNet> {
    let Ok(range) = text.parse::<IpNet>() else {
        errs.push(format!(
            "invalid ip-range {text}: invalid CIDR block notation"
        ));
        return None;
    };
    if Family::of_net(&range) != family {
        errs.push(format!(
            "invalid ip-range {text}: parent subnet is an {family} block"
        ));
        return None;
    }
    let before = errs.len();
    if range.prefix_len() < subnet.prefix_len() {
        errs.push(format!(
            "invalid ip-range {text}: CIDR block is bigger than its parent subnet {subnet}"
        ));
    }
    if range != range.trunc() {
        errs.push(format!(
            "invalid ip-range {range}: it should be {}",
            range.trunc()
        ));
    }
    let (s_first, s_last) = net_bounds(subnet);
    let (r_first, r_last) = net_bounds(&range);
    if r_first > s_last || r_last < s_first {
        errs.push(format!(
            "invalid ip-range {text}: parent subnet {subnet} doesn't contain ip-range"
        ));
    }
    (errs.len() == before).then_some(range)
}

/// Docker's `validateAddress`: the reason after `invalid gateway X: ` when the address is not acceptable.
fn check_address(text: &str, subnet: &IpNet, family: Family) -> Result<IpAddr, String> {
    let addr: IpAddr = text.parse().map_err(|_| "invalid address".to_string())?;
    if Family::of_addr(&addr) != family {
        return Err(format!("parent subnet is an {family} block"));
    }
    if !subnet.contains(&addr) {
        return Err(format!(
            "parent subnet {subnet} doesn't contain this address"
        ));
    }
    Ok(addr)
}

/// Docker's `multierror.Join` text: one error alone, or `* a\n* b` (continuation lines indented with a tab).
fn join_errors(errs: &[String]) -> String {
    match errs {
        [one] => one.trim().to_string(),
        many => {
            let items: Vec<String> = many.iter().map(|e| e.replace('\n', "\n\t")).collect();
            format!("* {}", items.join("\n* "))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn input(subnet: &str, range: &str, gateway: &str, aux: &[(&str, &str)]) -> IpamConfigInput {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        IpamConfigInput {
            subnet: opt(subnet),
            ip_range: opt(range),
            gateway: opt(gateway),
            aux_addresses: aux
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn err_text(i: &IpamConfigInput) -> (String, u16) {
        let e = validate_config(i).unwrap_err();
        (e.to_string(), e.http_status())
    }

    #[test]
    fn valid_configs() {
        let v = validate_config(&input(
            "10.98.0.0/16",
            "10.98.5.0/24",
            "10.98.0.254",
            &[("host1", "10.98.1.5")],
        ))
        .unwrap();
        assert_eq!(v.subnet, Some("10.98.0.0/16".parse().unwrap()));
        assert_eq!(v.ip_range, Some("10.98.5.0/24".parse().unwrap()));
        assert_eq!(v.gateway, Some("10.98.0.254".parse().unwrap()));
        assert_eq!(
            v.aux_addresses.get("host1"),
            Some(&"10.98.1.5".parse().unwrap())
        );
        let v6 =
            validate_config(&input("fd00:1::/64", "fd00:1::100/120", "fd00:1::1", &[])).unwrap();
        assert_eq!(v6.gateway, Some("fd00:1::1".parse().unwrap()));
        assert_eq!(
            validate_config(&IpamConfigInput::default()).unwrap(),
            ValidatedConfig::default()
        );
        // Empty strings count as absent.
        let empty = IpamConfigInput {
            subnet: Some(String::new()),
            ip_range: Some(String::new()),
            gateway: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(validate_config(&empty).unwrap(), ValidatedConfig::default());
    }

    #[test]
    fn unparsable_subnets_are_docker_500s() {
        for s in ["foo", "10.97.0.0/33", "10.97.0.0", "fd00::/129"] {
            let (text, status) = err_text(&input(s, "", "", &[]));
            assert_eq!(
                text,
                format!("Invalid subnet {s} : invalid CIDR address: {s}")
            );
            assert_eq!(status, 500);
        }
        assert_eq!(
            err_text(&input("foo", "", "", &[])).0,
            "Invalid subnet foo : invalid CIDR address: foo"
        );
        assert_eq!(
            err_text(&input("10.97.0.0/33", "", "", &[])).0,
            "Invalid subnet 10.97.0.0/33 : invalid CIDR address: 10.97.0.0/33"
        );
    }

    #[test]
    fn non_canonical_subnet() {
        assert_eq!(
            err_text(&input("10.1.2.3/16", "", "", &[])),
            (
                "invalid network config:\ninvalid subnet 10.1.2.3/16: it should be 10.1.0.0/16"
                    .into(),
                400
            )
        );
    }

    #[test]
    fn ip_range_errors() {
        let cases = [
            ("10.2.0.0/24", "invalid ip-range 10.2.0.0/24: parent subnet 10.1.0.0/16 doesn't contain ip-range"),
            ("10.0.0.0/8", "invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.1.0.0/16"),
            ("10.1.5.3/24", "invalid ip-range 10.1.5.3/24: it should be 10.1.5.0/24"),
            ("bar", "invalid ip-range bar: invalid CIDR block notation"),
            ("fd00::/64", "invalid ip-range fd00::/64: parent subnet is an IPv4 block"),
        ];
        for (range, want) in cases {
            assert_eq!(
                err_text(&input("10.1.0.0/16", range, "", &[])),
                (format!("invalid network config:\n{want}"), 400),
                "{range}"
            );
        }
        // Bigger and disjoint: both problems, Docker's multi-error layout.
        assert_eq!(
            err_text(&input("10.1.0.0/16", "11.0.0.0/8", "", &[])).0,
            "invalid network config:\n* invalid ip-range 11.0.0.0/8: CIDR block is bigger than its parent subnet \
             10.1.0.0/16\n* invalid ip-range 11.0.0.0/8: parent subnet 10.1.0.0/16 doesn't contain ip-range"
        );
    }

    #[test]
    fn gateway_and_aux_errors() {
        assert_eq!(
            err_text(&input("10.1.0.0/16", "", "10.2.0.1", &[])),
            (
                "invalid network config:\ninvalid gateway 10.2.0.1: parent subnet 10.1.0.0/16 doesn't contain this \
                 address"
                    .into(),
                400
            )
        );
        assert_eq!(
            err_text(&input("10.1.0.0/16", "", "fd00::1", &[])).0,
            "invalid network config:\ninvalid gateway fd00::1: parent subnet is an IPv4 block"
        );
        assert_eq!(
            err_text(&input("fd00::/64", "", "10.1.0.1", &[])).0,
            "invalid network config:\ninvalid gateway 10.1.0.1: parent subnet is an IPv6 block"
        );
        assert_eq!(
            err_text(&input("10.1.0.0/16", "", "nope", &[])).0,
            "invalid network config:\ninvalid gateway nope: invalid address"
        );
        assert_eq!(
            err_text(&input("10.1.0.0/16", "", "", &[("db", "10.9.0.1")])).0,
            "invalid network config:\ninvalid auxiliary address db: parent subnet 10.1.0.0/16 doesn't contain this \
             address"
        );
        // Several problems at once, in Docker's order; aux addresses by name.
        assert_eq!(
            err_text(&input(
                "10.1.2.3/16",
                "10.2.0.0/24",
                "10.3.0.1",
                &[("b", "x"), ("a", "10.1.0.9")]
            ))
            .0,
            "invalid network config:\n\
             * invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16\n\
             * invalid ip-range 10.2.0.0/24: parent subnet 10.1.2.3/16 doesn't contain ip-range\n\
             * invalid gateway 10.3.0.1: parent subnet 10.1.2.3/16 doesn't contain this address\n\
             * invalid auxiliary address b: invalid address"
        );
    }

    #[test]
    fn settings_without_subnet() {
        let want = (
            "invalid network config:\nip-range/gateway/aux-address require a subnet".to_string(),
            400,
        );
        assert_eq!(err_text(&input("", "10.1.0.0/24", "", &[])), want);
        assert_eq!(err_text(&input("", "", "10.1.0.1", &[])), want);
        assert_eq!(err_text(&input("", "", "", &[("a", "10.1.0.1")])), want);
    }
}
