//! The error type of the crate, whose `Display` is the user-facing (Docker) text.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Family;

/// Everything that can go wrong in the IPAM.
///
/// `Display` is exactly the message Docker puts in the API body (`{"message": …}`); [`IpamError::http_status`] is the
/// status Docker answers with.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IpamError {
    /// A user-chosen subnet overlaps a subnet already in use in the address space (403).
    #[error("Pool overlaps with other one on this address space")]
    PoolOverlap,

    /// Every predefined pool of the family is in use or excluded (404).
    #[error(
        "could not find an available, non-overlapping {0} address pool among the defaults to assign to the network"
    )]
    NoPredefinedPool(Family),

    /// The requested address is already allocated or is a reserved address of the subnet (403).
    #[error("Address already in use")]
    AddressInUse,

    /// The requested address is not inside the network's subnet (500).
    #[error("Invalid address {addr}: It does not belong to any of this network's subnets")]
    OutOfSubnet {
        /// The address asked for.
        addr: IpAddr,
        /// The subnet it should have been in.
        subnet: IpNet,
    },

    /// No free address left in the ip-range (or subnet) (500). The caller appends `: <name> (<id>)`.
    #[error("no available {family} addresses on this network's address pools")]
    Exhausted {
        /// Family of the exhausted subnet.
        family: Family,
    },

    /// A subnet that is not CIDR notation at all (Docker 20.10's 500 error). Holds the text as given.
    #[error("Invalid subnet {0} : invalid CIDR address: {0}")]
    InvalidSubnet(String),

    /// A network's IPAM configuration is inconsistent (400). Holds the body after the
    /// `invalid network config:\n` prefix: one problem, or several as `* a\n* b` (Docker's multi-error format).
    #[error("invalid network config:\n{0}")]
    InvalidConfig(String),

    /// A `--default-address-pool` entry (or a pool list given to [`crate::AddressSpace::new`]) is invalid (400).
    #[error("{0}")]
    InvalidPoolSpec(String),
}

impl IpamError {
    /// The HTTP status Docker answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            IpamError::PoolOverlap | IpamError::AddressInUse => 403,
            IpamError::NoPredefinedPool(_) => 404,
            IpamError::OutOfSubnet { .. }
            | IpamError::Exhausted { .. }
            | IpamError::InvalidSubnet(_) => 500,
            IpamError::InvalidConfig(_) | IpamError::InvalidPoolSpec(_) => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_statuses() {
        let cases: Vec<(IpamError, &str, u16)> = vec![
            (IpamError::PoolOverlap, "Pool overlaps with other one on this address space", 403),
            (
                IpamError::NoPredefinedPool(Family::V4),
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                404,
            ),
            (
                IpamError::NoPredefinedPool(Family::V6),
                "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network",
                404,
            ),
            (IpamError::AddressInUse, "Address already in use", 403),
            (
                IpamError::OutOfSubnet {
                    addr: "10.1.2.3".parse().expect("addr"),
                    subnet: "10.99.0.0/24".parse().expect("net"),
                },
                "Invalid address 10.1.2.3: It does not belong to any of this network's subnets",
                500,
            ),
            (
                IpamError::Exhausted { family: Family::V4 },
                "no available IPv4 addresses on this network's address pools",
                500,
            ),
            (
                IpamError::Exhausted { family: Family::V6 },
                "no available IPv6 addresses on this network's address pools",
                500,
            ),
            (IpamError::InvalidSubnet("foo".into()), "Invalid subnet foo : invalid CIDR address: foo", 500),
            (
                IpamError::InvalidConfig("invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16".into()),
                "invalid network config:\ninvalid subnet 10.1.2.3/16: it should be 10.1.0.0/16",
                400,
            ),
            (IpamError::InvalidPoolSpec("bad".into()), "bad", 400),
        ];
        for (err, text, status) in cases {
            assert_eq!(err.to_string(), text);
            assert_eq!(err.http_status(), status, "{text}");
        }
    }
}
