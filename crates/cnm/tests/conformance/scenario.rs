//! The capture sequence of `fixtures/docker-api/`, in order, with what happened between the
//! captured exchanges (containers the reference run started with `docker run`, which the API
//! fixtures do not hold) and every place where cnm answers differently, with the reason.
//!
//! Keep the differences honest and small: each one is checked to occur (an unused one fails the
//! test), and docs/compatibility.md explains them.

use super::compare::{diff, Diff, Want::*};

/// A container the reference run started between exchanges.
pub struct Ctr {
    pub name: &'static str,
    /// `HostConfig.NetworkMode` as `docker run` sent it.
    pub mode: &'static str,
    pub cmd: &'static [&'static str],
}

pub enum Step {
    /// Replay one fixture file (by its name without `.json`) and compare.
    Replay(&'static str, &'static [&'static [Diff]]),
    /// Replay, but cnm refuses where Docker did something cnm does not have (yet, or on purpose).
    /// In `message`, `<id>` stands for any 64-hex ID.
    Refused {
        file: &'static str,
        status: u16,
        message: &'static str,
        reason: &'static str,
    },
    /// Replay, but cnm succeeds where Docker 20.10 refused (newer Docker succeeds too): cnm's
    /// answer has this status and a JSON object body with exactly these keys.
    Accepted {
        file: &'static str,
        status: u16,
        keys: &'static [&'static str],
        reason: &'static str,
    },
    /// Set-up: `docker run -d` of a container.
    Run(Ctr),
    /// Set-up: `docker rm -f`.
    Remove(&'static str),
    /// Set-up: `network create NAME` (a command of the reference run without an API fixture), with
    /// the ID Docker gave that network, so later requests by ID or ID prefix can be translated.
    CreateNetwork {
        name: &'static str,
        fixture_id: &'static str,
    },
}

use Step::*;

const SLEEP: &[&str] = &["sleep", "100000"];
/// The reference run's web servers came from the busybox image; cnm has no images and runs busybox
/// from the host. The network behaviour does not depend on the command.
const HTTPD: &[&str] = &["busybox", "httpd", "-f", "-p", "80", "-h", "/"];

const NO_IMAGES: &str = "cnm has no images or storage driver: a container is a host process";
const NO_PORTS: &str = "published ports arrive with the firewall issue; cnm has none yet";
const NO_MACVLAN: &str = "the macvlan driver is not implemented yet";
const NO_IPVLAN: &str = "the ipvlan driver is not implemented yet";
const BUSYBOX_FROM_HOST: &str = "the web server is busybox from the host, not an image's httpd";
const RUNTIME_FILES: &str =
    "cnm keeps a container's hosts, resolv.conf and hostname in the exec-root \
    (tmpfs, rewritten at every start), not in the data-root (docs/differences.md)";
const MACHINE: &str = "depends on the machine and the run";
const OWN_BUILD: &str = "cnm reports its own version, commit and toolchain";
const CLAIMS_1_50: &str =
    "cnm claims Docker 28's API version 1.50 and serves clients down to 1.24, as Docker 28 does";
const NO_BUILD_TIME: &str = "cnm binaries carry no build time";
const NO_RUNTIME: &str =
    "cnm starts container processes itself (its shim): no containerd, runc or docker-init";
const LIVE_RESTORE: &str = "cnm's containers always keep running when the daemon stops";
const NO_SECURITY_PROFILES: &str = "cnm applies no seccomp or AppArmor profile";
const NO_CGROUPS: &str = "cnm puts container processes in no cgroup of their own";
const NO_LOG_PLUGINS: &str = "cnm keeps one log file per container and has no log plugins";
const DRIVERS: &str = "cnm has the bridge, host and null drivers (no macvlan, ipvlan, overlay yet)";
const BRIDGE_GATEWAY: &str =
    "cnm always shows the default bridge's gateway; Docker omits it on its \
    first start on a host and shows it once docker0 exists at start (restart) or with --bip";
const ULA_DEFAULT: &str =
    "like Docker >= 27, cnm gives an --ipv6 network without a subnet a ULA /64 \
    from its default IPv6 pool; Docker 20.10 had no default IPv6 pool";
const POOL_CURSOR: &str =
    "Docker's failed create 056 (bridge name taken) had already taken a default \
    pool and moved its round-robin cursor; cnm checks the bridge name before it takes a pool";
const DOCKER0_QUIRK: &str = "cnm refuses a bridge name another network uses, docker0 included; \
    Docker takes docker0 over and breaks the default bridge (reference 3.7, 'do not copy')";

/// Docker's storage and image fields of a container inspect that cnm leaves at their zero values.
const IMAGE_FIELDS: &[Diff] = &[
    diff("Image", Exactly(r#""""#), NO_IMAGES),
    diff("LogPath", Any, NO_IMAGES),
    diff("HostsPath", Any, RUNTIME_FILES),
    diff("ResolvConfPath", Any, RUNTIME_FILES),
    diff("HostnamePath", Any, RUNTIME_FILES),
    diff("Driver", Exactly(r#""""#), NO_IMAGES),
    diff("GraphDriver", Absent, NO_IMAGES),
    diff("Config/Image", Exactly(r#""""#), NO_IMAGES),
    diff("HostConfig/LogConfig/Type", Exactly(r#""""#), NO_IMAGES),
    diff("HostConfig/CgroupnsMode", Exactly(r#""""#), NO_IMAGES),
    diff("HostConfig/IpcMode", Exactly(r#""""#), NO_IMAGES),
    diff("HostConfig/ShmSize", Exactly("0"), NO_IMAGES),
    diff("HostConfig/Runtime", Exactly(r#""""#), NO_IMAGES),
    diff("HostConfig/BlkioWeightDevice", Exactly("null"), NO_IMAGES),
    diff("HostConfig/BlkioDeviceReadBps", Exactly("null"), NO_IMAGES),
    diff("HostConfig/BlkioDeviceWriteBps", Exactly("null"), NO_IMAGES),
    diff("HostConfig/BlkioDeviceReadIOps", Exactly("null"), NO_IMAGES),
    diff(
        "HostConfig/BlkioDeviceWriteIOps",
        Exactly("null"),
        NO_IMAGES,
    ),
    diff("HostConfig/Devices", Exactly("null"), NO_IMAGES),
    diff("HostConfig/OomKillDisable", Exactly("null"), NO_IMAGES),
    diff("HostConfig/Ulimits", Exactly("null"), NO_IMAGES),
    diff("HostConfig/MaskedPaths", Exactly("null"), NO_IMAGES),
    diff("HostConfig/ReadonlyPaths", Exactly("null"), NO_IMAGES),
    diff("State/Pid", Any, MACHINE),
];

const CTR_INSPECT: &[&[Diff]] = &[IMAGE_FIELDS];

const VERSION: &[Diff] = &[
    diff("Components/0/Version", Any, OWN_BUILD),
    diff(
        "Components/0/Details/ApiVersion",
        Exactly(r#""1.50""#),
        CLAIMS_1_50,
    ),
    diff(
        "Components/0/Details/BuildTime",
        Exactly(r#""""#),
        NO_BUILD_TIME,
    ),
    diff("Components/0/Details/GitCommit", Any, OWN_BUILD),
    diff("Components/0/Details/GoVersion", Any, OWN_BUILD),
    diff("Components/0/Details/KernelVersion", Any, MACHINE),
    diff(
        "Components/0/Details/MinAPIVersion",
        Exactly(r#""1.24""#),
        CLAIMS_1_50,
    ),
    diff("Components/1", Absent, NO_RUNTIME),
    diff("Components/2", Absent, NO_RUNTIME),
    diff("Components/3", Absent, NO_RUNTIME),
    diff("Version", Any, OWN_BUILD),
    diff("ApiVersion", Exactly(r#""1.50""#), CLAIMS_1_50),
    diff("MinAPIVersion", Exactly(r#""1.24""#), CLAIMS_1_50),
    diff("GitCommit", Any, OWN_BUILD),
    diff("GoVersion", Any, OWN_BUILD),
    diff("KernelVersion", Any, MACHINE),
    diff("BuildTime", Absent, NO_BUILD_TIME),
];

const INFO: &[Diff] = &[
    diff("ID", Any, MACHINE),
    diff("Images", Exactly("0"), NO_IMAGES),
    diff("Driver", Exactly(r#""none""#), NO_IMAGES),
    diff("DriverStatus", Exactly("[]"), NO_IMAGES),
    diff(
        "Plugins/Network",
        Exactly(r#"["bridge","host","null"]"#),
        DRIVERS,
    ),
    diff(
        "Plugins/Log",
        Exactly(r#"["json-file","local"]"#),
        NO_LOG_PLUGINS,
    ),
    diff("BridgeNfIptables", Any, MACHINE),
    diff("BridgeNfIp6tables", Any, MACHINE),
    diff("NFd", Any, MACHINE),
    diff("NGoroutines", Any, MACHINE),
    diff("CgroupDriver", Exactly(r#""none""#), NO_CGROUPS),
    diff("CgroupVersion", Any, MACHINE),
    diff("KernelVersion", Any, MACHINE),
    diff("OperatingSystem", Any, MACHINE),
    diff("OSVersion", Any, MACHINE),
    diff("NCPU", Any, MACHINE),
    diff("MemTotal", Any, MACHINE),
    diff("Name", Any, MACHINE),
    diff("ServerVersion", Any, OWN_BUILD),
    diff("Runtimes", Any, NO_RUNTIME),
    diff("DefaultRuntime", Exactly(r#""cnm-shim""#), NO_RUNTIME),
    diff("LiveRestoreEnabled", Exactly("true"), LIVE_RESTORE),
    diff("InitBinary", Exactly(r#""""#), NO_RUNTIME),
    diff(
        "ContainerdCommit",
        Exactly(r#"{"ID":"","Expected":""}"#),
        NO_RUNTIME,
    ),
    diff(
        "RuncCommit",
        Exactly(r#"{"ID":"","Expected":""}"#),
        NO_RUNTIME,
    ),
    diff("SecurityOptions", Exactly("[]"), NO_SECURITY_PROFILES),
];

/// The default bridge's gateway, in an inspect body or as the first (by name) of a list.
const BRIDGE_GW: &[Diff] = &[diff(
    "IPAM/Config/0/Gateway",
    Added(r#""172.17.0.1""#),
    BRIDGE_GATEWAY,
)];
const LIST_BRIDGE_GW: &[Diff] = &[diff(
    "0/IPAM/Config/0/Gateway",
    Added(r#""172.17.0.1""#),
    BRIDGE_GATEWAY,
)];

const WEB_INSPECT: &[&[Diff]] = &[
    IMAGE_FIELDS,
    &[
        diff("Path", Exactly(r#""busybox""#), BUSYBOX_FROM_HOST),
        diff("Args", Any, BUSYBOX_FROM_HOST),
        diff("Config/Cmd", Any, BUSYBOX_FROM_HOST),
        diff("HostConfig/PortBindings", Exactly("{}"), NO_PORTS),
        diff("NetworkSettings/Ports", Exactly("{}"), NO_PORTS),
        diff("Config/ExposedPorts", Absent, NO_PORTS),
    ],
];

const HOST_CTR_INSPECT: &[&[Diff]] = &[
    IMAGE_FIELDS,
    &[diff(
        "Config/Hostname",
        Any,
        "a host-mode container has the machine's hostname",
    )],
];

pub const FIRST_ENGINE: &[Step] = &[
    Replay("001-version-01-head-_ping", &[]),
    Replay("001-version-02-get-version", &[VERSION]),
    Replay("002-info-02-get-info", &[INFO]),
    Replay("003-ls-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("004-ls-notrunc-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("005-ls-filter-driver-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("006-ls-quiet-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("007-inspect-bridge-02-get-networks-bridge", &[BRIDGE_GW]),
    Replay("008-inspect-host-none-02-get-networks-host", &[]),
    Replay("008-inspect-host-none-03-get-networks-none", &[]),
    Replay("009-inspect-missing-02-get-networks-rsx-nope", &[]),
    Replay("014-create-net1-02-post-networks-create", &[]),
    Replay("015-inspect-net1-02-get-networks-rsx-net1", &[]),
    Replay("019-create-net2-02-post-networks-create", &[]),
    Replay("020-create-subnet-02-post-networks-create", &[]),
    Replay("021-inspect-subnet-02-get-networks-rsx-net-sub", &[]),
    Replay("022-create-full-02-post-networks-create", &[]),
    Replay("023-inspect-full-02-get-networks-rsx-net-full", &[]),
    Replay("024-create-v6-02-post-networks-create", &[]),
    Replay("025-inspect-v6-02-get-networks-rsx-net-v6", &[]),
    Replay("026-create-noicc-02-post-networks-create", &[]),
    Replay("027-create-noipmasq-02-post-networks-create", &[]),
    Replay("028-create-internal-02-post-networks-create", &[]),
    Replay("029-inspect-internal-02-get-networks-rsx-int", &[]),
    Replay("033-ls-after-creates-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("034-ls-filter-label-02-get-networks", &[]),
    Replay("035-ls-format-json-02-get-networks", &[LIST_BRIDGE_GW]),
    Replay("036-err-duplicate-name-02-post-networks-create", &[]),
    Replay("037-err-overlap-subnet-02-post-networks-create", &[]),
    Replay("038-err-invalid-subnet-prefix-02-post-networks-create", &[]),
    Replay("039-err-invalid-subnet-text-02-post-networks-create", &[]),
    Replay("042-err-bad-driver-02-post-networks-create", &[]),
    Replay("043-err-overlay-no-swarm-02-post-networks-create", &[]),
    Refused {
        file: "044-create-ipvlan-accepted-02-post-networks-create",
        status: 404,
        message: "plugin \"ipvlan\" not found",
        reason: NO_IPVLAN,
    },
    Refused {
        file: "046-rm-ipvl-02-get-networks-rsx-ipvl",
        status: 404,
        message: "network rsx-ipvl not found",
        reason: NO_IPVLAN,
    },
    Refused {
        file: "046-rm-ipvl-03-delete-networks-rsx-ipvl",
        status: 404,
        message: "network rsx-ipvl not found",
        reason: NO_IPVLAN,
    },
    Refused {
        file: "047-err-macvlan-bad-parent-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Replay("048-err-rm-bridge-02-get-networks-bridge", &[BRIDGE_GW]),
    Replay("048-err-rm-bridge-03-delete-networks-bridge", &[]),
    Replay("049-err-rm-host-02-get-networks-host", &[]),
    Replay("049-err-rm-host-03-delete-networks-host", &[]),
    Replay("050-err-rm-none-02-get-networks-none", &[]),
    Replay("050-err-rm-none-03-delete-networks-none", &[]),
    Replay("051-err-rm-missing-02-get-networks-rsx-nope", &[]),
    Replay("051-err-rm-missing-03-delete-networks-rsx-nope", &[]),
    Replay("052-err-create-bridge-name-02-post-networks-create", &[]),
    Replay("053-err-create-host-name-02-post-networks-create", &[]),
    Replay("054-create-odd-name-02-post-networks-create", &[]),
    Replay("055-rm-odd-name-02-get-networks-rsx_20odd-name", &[]),
    Replay("055-rm-odd-name-03-delete-networks-rsx_20odd-name", &[]),
    Replay("056-err-bridge-name-taken-02-post-networks-create", &[]),
    Replay("057-err-host-driver-twice-02-post-networks-create", &[]),
    Replay("058-err-null-driver-twice-02-post-networks-create", &[]),
    Accepted {
        file: "059-err-ipv6-no-subnet-02-post-networks-create",
        status: 201,
        keys: &["Id", "Warning"],
        reason: ULA_DEFAULT,
    },
    Replay("060-api-create-dup-1-01-post-networks-create", &[]),
    Replay("061-api-create-dup-2-01-post-networks-create", &[]),
    Replay("062-api-create-dup-checked-01-post-networks-create", &[]),
    Replay("063-err-inspect-ambiguous-02-get-networks-rsx-dup", &[]),
    Replay("064-err-rm-ambiguous-02-get-networks-rsx-dup", &[]),
    Replay("064-err-rm-ambiguous-03-delete-networks-rsx-dup", &[]),
    Replay("065-api-inspect-by-prefix-01-get-networks-rsx-du", &[]),
    Replay("066-api-bad-json-01-post-networks-create", &[]),
    Replay("067-api-no-name-01-post-networks-create", &[]),
    Replay("068-api-inspect-missing-01-get-networks-rsx-nope", &[]),
    Replay("069-api-create-unknown-field-01-post-networks-create", &[]),
    Replay("070-api-rm-uf-01-delete-networks-rsx-uf", &[]),
    Replay(
        "071-rm-dup-by-id-02-get-networks-ID",
        &[&[
            diff("IPAM/Config/0/Subnet", Exactly(r#""172.26.0.0/16""#), POOL_CURSOR),
            diff("IPAM/Config/0/Gateway", Exactly(r#""172.26.0.1""#), POOL_CURSOR),
        ]],
    ),
    Replay("071-rm-dup-by-id-03-delete-networks-ID", &[]),
    Replay(
        "072-rm-dup-by-id-02-get-networks-ID",
        &[&[
            diff("IPAM/Config/0/Subnet", Exactly(r#""172.27.0.0/16""#), POOL_CURSOR),
            diff("IPAM/Config/0/Gateway", Exactly(r#""172.27.0.1""#), POOL_CURSOR),
        ]],
    ),
    Replay("072-rm-dup-by-id-03-delete-networks-ID", &[]),
    Run(Ctr {
        name: "rsx-a",
        mode: "rsx-net1",
        cmd: SLEEP,
    }),
    Run(Ctr {
        name: "rsx-b",
        mode: "rsx-net1",
        cmd: SLEEP,
    }),
    Replay("097-inspect-net1-with-ctrs-02-get-networks-rsx-net1", &[]),
    Replay("098-inspect-net1-verbose-02-get-networks-rsx-net1", &[]),
    Replay("099-container-inspect-a-02-get-containers-rsx-a-json", CTR_INSPECT),
    Run(Ctr {
        name: "rsx-c",
        mode: "default",
        cmd: SLEEP,
    }),
    Run(Ctr {
        name: "rsx-d",
        mode: "default",
        cmd: SLEEP,
    }),
    Replay("110-container-inspect-c-02-get-containers-rsx-c-json", CTR_INSPECT),
    Replay("111-inspect-bridge-with-ctrs-02-get-networks-bridge", &[BRIDGE_GW]),
    Replay("113-connect-a-net2-02-post-networks-rsx-net2-connect", &[]),
    Replay("118-err-connect-twice-02-post-networks-rsx-net2-connect", &[]),
    Replay("119-connect-b-static-ip-02-post-networks-rsx-net-sub-connect", &[]),
    Replay(
        "120-err-connect-static-ip-no-user-subnet-02-post-networks-rsx-net2-connect",
        &[],
    ),
    Replay(
        "121-err-connect-ip-outside-subnet-02-post-networks-rsx-net-sub-connect",
        &[],
    ),
    Replay("122-err-connect-ip-in-use-02-post-networks-rsx-net-sub-connect", &[]),
    Replay("123-err-connect-host-02-post-networks-host-connect", &[]),
    Replay("124-err-connect-missing-ctr-02-post-networks-rsx-net2-connect", &[]),
    Replay("125-err-connect-missing-net-02-post-networks-rsx-nonet-connect", &[]),
    Replay("126-connect-c-net2-link-02-post-networks-rsx-net2-connect", &[]),
    Replay("129-inspect-net2-after-connect-02-get-networks-rsx-net2", &[]),
    Replay("130-container-inspect-a-2nets-02-get-containers-rsx-a-json", CTR_INSPECT),
    Replay("132-err-rm-in-use-02-get-networks-rsx-net1", &[]),
    Replay("132-err-rm-in-use-03-delete-networks-rsx-net1", &[]),
    Replay("133-disconnect-a-net2-02-post-networks-rsx-net2-disconnect", &[]),
    Replay("134-err-disconnect-again-02-post-networks-rsx-net2-disconnect", &[]),
    Replay("135-disconnect-c-bridge-02-post-networks-bridge-disconnect", &[]),
    Replay("137-err-disconnect-host-none-ctr-02-post-networks-host-disconnect", &[]),
    Run(Ctr {
        name: "rsx-web",
        mode: "default",
        cmd: HTTPD,
    }),
    Run(Ctr {
        name: "rsx-web2",
        mode: "default",
        cmd: HTTPD,
    }),
    Run(Ctr {
        name: "rsx-web3",
        mode: "rsx-net1",
        cmd: HTTPD,
    }),
    Replay("157-container-inspect-web-02-get-containers-rsx-web-json", WEB_INSPECT),
    Replay("158-container-inspect-web3-02-get-containers-rsx-web3-json", WEB_INSPECT),
    Run(Ctr {
        name: "rsx-i1",
        mode: "rsx-int",
        cmd: SLEEP,
    }),
    Run(Ctr {
        name: "rsx-i2",
        mode: "rsx-int",
        cmd: SLEEP,
    }),
    Replay("170-inspect-int-with-ctrs-02-get-networks-rsx-int", &[]),
    Run(Ctr {
        name: "rsx-none",
        mode: "none",
        cmd: SLEEP,
    }),
    Run(Ctr {
        name: "rsx-hostctr",
        mode: "host",
        cmd: SLEEP,
    }),
    Replay("181-err-connect-none-ctr-02-post-networks-rsx-net1-connect", &[]),
    Replay("183-err-connect-host-ctr-02-post-networks-rsx-net1-connect", &[]),
    Replay("190-container-inspect-none-02-get-containers-rsx-none-json", CTR_INSPECT),
    Replay(
        "191-container-inspect-hostctr-02-get-containers-rsx-hostctr-json",
        HOST_CTR_INSPECT,
    ),
    Replay("192-inspect-host-with-ctr-02-get-networks-host", &[]),
    Refused {
        file: "194-create-macvlan-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Refused {
        file: "195-inspect-macvlan-02-get-networks-rsx-mac",
        status: 404,
        message: "network rsx-mac not found",
        reason: NO_MACVLAN,
    },
    Refused {
        file: "204-err-macvlan-parent-in-use-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Refused {
        file: "205-create-macvlan-vlan-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Refused {
        file: "207-create-macvlan-noparent-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Replay("208-inspect-macvlan-noparent-02-get-networks-rsx-mac-dummy", &[]),
    Refused {
        file: "210-err-macvlan-no-subnet-bridge-mode-02-post-networks-create",
        status: 404,
        message: "plugin \"macvlan\" not found",
        reason: NO_MACVLAN,
    },
    Replay("219-rm-multi-with-missing-02-get-networks-rsx-mac-vlan", &[]),
    Replay("219-rm-multi-with-missing-03-delete-networks-rsx-mac-vlan", &[]),
    Replay("219-rm-multi-with-missing-04-get-networks-rsx-nope", &[]),
    Replay("219-rm-multi-with-missing-05-delete-networks-rsx-nope", &[]),
    Replay("219-rm-multi-with-missing-06-get-networks-rsx-mac-dummy", &[]),
    Replay("219-rm-multi-with-missing-07-delete-networks-rsx-mac-dummy", &[]),
    Replay("220-rm-net-full-02-get-networks-rsx-net-full", &[]),
    Replay("220-rm-net-full-03-delete-networks-rsx-net-full", &[]),
    Replay("221-prune-filter-label-02-post-networks-prune", &[]),
    Remove("rsx-i1"),
    Remove("rsx-i2"),
    Remove("rsx-none"),
    Remove("rsx-hostctr"),
    Replay(
        "222-prune-all-02-post-networks-prune",
        &[&[diff(
            "NetworksDeleted",
            Exactly(r#"["rsx-int","rsx-net-v6","rsx-noicc","rsx-nomasq","rsx-v6nosub"]"#),
            "no rsx-mac: the macvlan driver is not implemented yet; rsx-v6nosub exists: see 059",
        )]],
    ),
    Replay("223-ls-after-prune-02-get-networks", &[LIST_BRIDGE_GW]),
    Remove("rsx-a"),
    Remove("rsx-b"),
    Remove("rsx-c"),
    Remove("rsx-d"),
    Remove("rsx-web"),
    Remove("rsx-web2"),
    Remove("rsx-web3"),
    Replay("224-prune-after-ctrs-gone-02-post-networks-prune", &[]),
    Replay("225-ls-final-02-get-networks", &[LIST_BRIDGE_GW]),
    Refused {
        file: "231-quirk-create-bridge-name-docker0-02-post-networks-create",
        status: 403,
        message: "cannot create network <id> (docker0): conflicts with network <id> (docker0): networks have same bridge name",
        reason: DOCKER0_QUIRK,
    },
    Refused {
        file: "233-quirk-rm-docker0-net-02-get-networks-rsx-q0",
        status: 404,
        message: "network rsx-q0 not found",
        reason: DOCKER0_QUIRK,
    },
    Refused {
        file: "233-quirk-rm-docker0-net-03-delete-networks-rsx-q0",
        status: 404,
        message: "network rsx-q0 not found",
        reason: DOCKER0_QUIRK,
    },
];

/// A later engine on a fresh data-root (fixtures 241–249).
pub const SECOND_ENGINE: &[Step] = &[
    CreateNetwork {
        name: "rsx-pfx-lookup",
        fixture_id: "9c6a61de84c0f277b3b14bcb62f377d6c7b2011b9042af9c4532d20dad5508cc",
    },
    Replay("241-api-inspect-by-id-prefix-01-get-networks-9c6a6", &[]),
    Replay("242-inspect-by-id-prefix-02-get-networks-9c6a6", &[]),
    Replay("243-ls-filter-name-pfx-look-02-get-networks", &[]),
    Replay("244-ls-filter-type-custom-02-get-networks", &[]),
    Replay("245-ls-filter-type-builtin-02-get-networks", &[]),
    Replay("246-ls-filter-dangling-true-02-get-networks", &[]),
    Replay("247-ls-filter-scope-02-get-networks", &[]),
    Replay("248-err-ls-filter-bad-02-get-networks", &[]),
    Replay("249-rm-pfx-lookup-02-get-networks-rsx-pfx-lookup", &[]),
    Replay("249-rm-pfx-lookup-03-delete-networks-rsx-pfx-lookup", &[]),
];
