//! `GET /version` and `GET /info`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::{ApiVersion, Shape};

/// `Platform` of `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    /// Product name (`""` for the captured engine).
    #[serde(rename = "Name")]
    pub name: String,
}

/// One `Components` entry of `/version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComponentVersion {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Version")]
    pub version: String,
    /// Details, keys sorted (a map in Docker); omitted when empty.
    #[serde(rename = "Details", skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// Body of `GET /version`, key order as fixture 001-version-02:
/// `Platform, Components, Version, ApiVersion, MinAPIVersion, GitCommit, GoVersion, Os, Arch,
/// KernelVersion, [Experimental], BuildTime`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemVersion {
    #[serde(rename = "Platform")]
    pub platform: Platform,
    #[serde(rename = "Components")]
    pub components: Vec<ComponentVersion>,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "ApiVersion")]
    pub api_version: String,
    #[serde(rename = "MinAPIVersion", skip_serializing_if = "String::is_empty")]
    pub min_api_version: String,
    #[serde(rename = "GitCommit")]
    pub git_commit: String,
    #[serde(rename = "GoVersion")]
    pub go_version: String,
    #[serde(rename = "Os")]
    pub os: String,
    #[serde(rename = "Arch")]
    pub arch: String,
    #[serde(rename = "KernelVersion", skip_serializing_if = "String::is_empty")]
    pub kernel_version: String,
    #[serde(rename = "Experimental", skip_serializing_if = "std::ops::Not::not")]
    pub experimental: bool,
    #[serde(rename = "BuildTime", skip_serializing_if = "String::is_empty")]
    pub build_time: String,
}

/// What [`SystemVersion::new`] needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionInput {
    /// Engine version (`Version`, `Components[Engine].Version`).
    pub version: String,
    /// Highest API version served ([`ApiVersion::CURRENT`]).
    pub api_version: ApiVersion,
    /// Lowest API version served ([`ApiVersion::MIN`]).
    pub min_api_version: ApiVersion,
    /// Source revision.
    pub git_commit: String,
    /// Toolchain (Docker reports `go1.19.8`; cnm may report its Rust toolchain).
    pub go_version: String,
    /// `linux`.
    pub os: String,
    /// Go-style architecture (`amd64`), see [`go_arch`].
    pub arch: String,
    /// `uname -r`.
    pub kernel_version: String,
    /// Build time text.
    pub build_time: String,
    /// Experimental features on.
    pub experimental: bool,
    /// Further components after `Engine` (containerd, runc, … for Docker).
    pub extra_components: Vec<ComponentVersion>,
}

impl SystemVersion {
    /// Builds the body: an `Engine` component with the details Docker gives it, then the extra
    /// components, then the top-level copies.
    pub fn new(input: &VersionInput) -> SystemVersion {
        let details: BTreeMap<String, String> = [
            ("ApiVersion", input.api_version.to_string()),
            ("Arch", input.arch.clone()),
            ("BuildTime", input.build_time.clone()),
            ("Experimental", input.experimental.to_string()),
            ("GitCommit", input.git_commit.clone()),
            ("GoVersion", input.go_version.clone()),
            ("KernelVersion", input.kernel_version.clone()),
            ("MinAPIVersion", input.min_api_version.to_string()),
            ("Os", input.os.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut components = vec![ComponentVersion {
            name: "Engine".into(),
            version: input.version.clone(),
            details,
        }];
        components.extend(input.extra_components.iter().cloned());
        SystemVersion {
            platform: Platform::default(),
            components,
            version: input.version.clone(),
            api_version: input.api_version.to_string(),
            min_api_version: input.min_api_version.to_string(),
            git_commit: input.git_commit.clone(),
            go_version: input.go_version.clone(),
            os: input.os.clone(),
            arch: input.arch.clone(),
            kernel_version: input.kernel_version.clone(),
            experimental: input.experimental,
            build_time: input.build_time.clone(),
        }
    }
}

/// Go's name of a Rust `std::env::consts::ARCH` (`x86_64` → `amd64`, `aarch64` → `arm64`, …).
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    }
}

/// `Plugins` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginsInfo {
    #[serde(rename = "Volume")]
    pub volume: Vec<String>,
    #[serde(rename = "Network")]
    pub network: Vec<String>,
    #[serde(rename = "Authorization")]
    pub authorization: Option<Vec<String>>,
    #[serde(rename = "Log")]
    pub log: Vec<String>,
}

/// `RegistryConfig.IndexConfigs[…]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexInfo {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Mirrors")]
    pub mirrors: Vec<String>,
    #[serde(rename = "Secure")]
    pub secure: bool,
    #[serde(rename = "Official")]
    pub official: bool,
}

/// `RegistryConfig` of `/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryConfig {
    /// `[]` for API < 1.44 (20.10); omitted for newer clients.
    #[serde(
        rename = "AllowNondistributableArtifactsCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_nondistributable_artifacts_cidrs: Option<Vec<String>>,
    /// Same as above.
    #[serde(
        rename = "AllowNondistributableArtifactsHostnames",
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_nondistributable_artifacts_hostnames: Option<Vec<String>>,
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    #[serde(rename = "IndexConfigs")]
    pub index_configs: BTreeMap<String, IndexInfo>,
    #[serde(rename = "Mirrors")]
    pub mirrors: Vec<String>,
}

/// A runtime of `Runtimes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    pub path: String,
}

/// `Swarm` of `/info` (always inactive for cnm).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SwarmInfo {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "NodeAddr")]
    pub node_addr: String,
    #[serde(rename = "LocalNodeState")]
    pub local_node_state: String,
    #[serde(rename = "ControlAvailable")]
    pub control_available: bool,
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "RemoteManagers")]
    pub remote_managers: Option<Vec<Value>>,
}

/// `ContainerdCommit`, `RuncCommit`, `InitCommit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Commit {
    #[serde(rename = "ID")]
    pub id: String,
    /// Equal to `ID` for API < 1.49; omitted from 1.49 on.
    #[serde(rename = "Expected", skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// `FirewallBackend` of `/info` (API ≥ 1.49).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallInfo {
    /// `iptables`, `nftables`, `iptables+firewalld`.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// Extra information pairs.
    #[serde(rename = "Info", skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<[String; 2]>,
}

/// Body of `GET /info`.
///
/// For API < 1.44 the key set and order are exactly those of fixture 002 (Docker 20.10). For API
/// ≥ 1.44 the body follows Docker 28.2 at API 1.50: `KernelMemory`, `BridgeNfIptables`,
/// `BridgeNfIp6tables`, the `Expected` commits and `AllowNondistributableArtifacts…` are left out,
/// `FirewallBackend` (when known) and `CDISpecDirs` are added. (Docker 28.2 still sends some of
/// those removed keys to 1.44–1.48 clients; cnm answers all ≥ 1.44 clients with the 1.50 layout.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Containers")]
    pub containers: u64,
    #[serde(rename = "ContainersRunning")]
    pub containers_running: u64,
    #[serde(rename = "ContainersPaused")]
    pub containers_paused: u64,
    #[serde(rename = "ContainersStopped")]
    pub containers_stopped: u64,
    #[serde(rename = "Images")]
    pub images: u64,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "DriverStatus")]
    pub driver_status: Vec<[String; 2]>,
    #[serde(rename = "Plugins")]
    pub plugins: PluginsInfo,
    #[serde(rename = "MemoryLimit")]
    pub memory_limit: bool,
    #[serde(rename = "SwapLimit")]
    pub swap_limit: bool,
    #[serde(rename = "KernelMemory", skip_serializing_if = "Option::is_none")]
    pub kernel_memory: Option<bool>,
    #[serde(rename = "KernelMemoryTCP", skip_serializing_if = "Option::is_none")]
    pub kernel_memory_tcp: Option<bool>,
    #[serde(rename = "CpuCfsPeriod")]
    pub cpu_cfs_period: bool,
    #[serde(rename = "CpuCfsQuota")]
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    #[serde(rename = "PidsLimit")]
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    #[serde(rename = "BridgeNfIptables", skip_serializing_if = "Option::is_none")]
    pub bridge_nf_iptables: Option<bool>,
    #[serde(rename = "BridgeNfIp6tables", skip_serializing_if = "Option::is_none")]
    pub bridge_nf_ip6tables: Option<bool>,
    #[serde(rename = "Debug")]
    pub debug: bool,
    #[serde(rename = "NFd")]
    pub n_fd: u64,
    #[serde(rename = "OomKillDisable")]
    pub oom_kill_disable: bool,
    #[serde(rename = "NGoroutines")]
    pub n_goroutines: u64,
    #[serde(rename = "SystemTime")]
    pub system_time: String,
    #[serde(rename = "LoggingDriver")]
    pub logging_driver: String,
    #[serde(rename = "CgroupDriver")]
    pub cgroup_driver: String,
    #[serde(rename = "CgroupVersion", skip_serializing_if = "String::is_empty")]
    pub cgroup_version: String,
    #[serde(rename = "NEventsListener")]
    pub n_events_listener: u64,
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    #[serde(rename = "OperatingSystem")]
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "IndexServerAddress")]
    pub index_server_address: String,
    #[serde(rename = "RegistryConfig")]
    pub registry_config: RegistryConfig,
    #[serde(rename = "NCPU")]
    pub ncpu: u64,
    #[serde(rename = "MemTotal")]
    pub mem_total: u64,
    #[serde(rename = "GenericResources")]
    pub generic_resources: Option<Vec<Value>>,
    #[serde(rename = "DockerRootDir")]
    pub docker_root_dir: String,
    #[serde(rename = "HttpProxy")]
    pub http_proxy: String,
    #[serde(rename = "HttpsProxy")]
    pub https_proxy: String,
    #[serde(rename = "NoProxy")]
    pub no_proxy: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: Vec<String>,
    #[serde(rename = "ExperimentalBuild")]
    pub experimental_build: bool,
    #[serde(rename = "ServerVersion")]
    pub server_version: String,
    #[serde(rename = "Runtimes")]
    pub runtimes: BTreeMap<String, Runtime>,
    #[serde(rename = "DefaultRuntime")]
    pub default_runtime: String,
    #[serde(rename = "Swarm")]
    pub swarm: SwarmInfo,
    #[serde(rename = "LiveRestoreEnabled")]
    pub live_restore_enabled: bool,
    #[serde(rename = "Isolation")]
    pub isolation: String,
    #[serde(rename = "InitBinary")]
    pub init_binary: String,
    #[serde(rename = "ContainerdCommit")]
    pub containerd_commit: Commit,
    #[serde(rename = "RuncCommit")]
    pub runc_commit: Commit,
    #[serde(rename = "InitCommit")]
    pub init_commit: Commit,
    #[serde(rename = "SecurityOptions")]
    pub security_options: Vec<String>,
    #[serde(rename = "FirewallBackend", skip_serializing_if = "Option::is_none")]
    pub firewall_backend: Option<FirewallInfo>,
    #[serde(rename = "CDISpecDirs", skip_serializing_if = "Option::is_none")]
    pub cdi_spec_dirs: Option<Vec<String>>,
    #[serde(rename = "Warnings")]
    pub warnings: Option<Vec<String>>,
}

/// Container counts for `/info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    pub running: u64,
    pub paused: u64,
    pub stopped: u64,
}

/// What [`SystemInfo::new`] needs; everything else gets fixed, sensible values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoInput {
    /// Daemon identity (Docker 20.10: a `XXXX:XXXX:…` key ID; Docker ≥ 23: a UUID).
    pub id: String,
    /// Engine version (`ServerVersion`).
    pub server_version: String,
    /// `uname -r`.
    pub kernel_version: String,
    /// `PRETTY_NAME` of os-release.
    pub operating_system: String,
    /// `VERSION_ID` of os-release.
    pub os_version: String,
    /// `linux`.
    pub os_type: String,
    /// `uname -m` (`x86_64`).
    pub architecture: String,
    /// Host name (`Name`).
    pub hostname: String,
    /// CPUs.
    pub ncpu: u64,
    /// Memory in bytes.
    pub mem_total: u64,
    /// Data root (`DockerRootDir`).
    pub data_root: String,
    /// Container counts.
    pub containers: ContainerCounts,
    /// Images (cnm has none: 0).
    pub images: u64,
    /// Storage driver name (`Driver`).
    pub driver: String,
    /// Network drivers (`Plugins.Network`), e.g. `["bridge","host","ipvlan","macvlan","null"]`.
    pub network_plugins: Vec<String>,
    /// `SystemTime`, RFC 3339 nano (see [`crate::format_go_time`]).
    pub system_time: String,
    /// `net.ipv4.ip_forward`.
    pub ipv4_forwarding: bool,
    /// `net.bridge.bridge-nf-call-iptables` (reported for API < 1.44 only).
    pub bridge_nf_iptables: bool,
    /// `net.bridge.bridge-nf-call-ip6tables` (reported for API < 1.44 only).
    pub bridge_nf_ip6tables: bool,
    /// `cgroupfs` or `systemd`.
    pub cgroup_driver: String,
    /// `1` or `2`.
    pub cgroup_version: String,
    /// Open file descriptors of the daemon.
    pub n_fd: u64,
    /// Threads/tasks of the daemon (Docker: goroutines).
    pub n_goroutines: u64,
    /// Debug mode.
    pub debug: bool,
    /// Firewall backend (`iptables`, `nftables`), reported for API ≥ 1.49.
    pub firewall_backend: Option<String>,
    /// Daemon labels.
    pub labels: Vec<String>,
    /// Warnings (`None` → `null`).
    pub warnings: Option<Vec<String>>,
    /// The one runtime (`Runtimes`, `DefaultRuntime`): name and executable.
    pub runtime: (String, String),
    /// Containers keep running when the daemon stops (`LiveRestoreEnabled`).
    pub live_restore: bool,
}

impl SystemInfo {
    /// Builds `/info` for a client of version `v` (see the type's docs for the layouts).
    pub fn new(input: &InfoInput, v: ApiVersion) -> SystemInfo {
        let legacy = v.shape() == Shape::Legacy;
        let commit = |id: &str| Commit {
            id: id.to_string(),
            expected: (v < ApiVersion::V1_49).then(|| id.to_string()),
        };
        let c = input.containers;
        let index = IndexInfo {
            name: "docker.io".into(),
            mirrors: vec![],
            secure: true,
            official: true,
        };
        SystemInfo {
            id: input.id.clone(),
            containers: c.running + c.paused + c.stopped,
            containers_running: c.running,
            containers_paused: c.paused,
            containers_stopped: c.stopped,
            images: input.images,
            driver: input.driver.clone(),
            driver_status: vec![],
            plugins: PluginsInfo {
                volume: vec!["local".into()],
                network: input.network_plugins.clone(),
                authorization: None,
                log: vec!["json-file".into(), "local".into()],
            },
            memory_limit: true,
            swap_limit: true,
            kernel_memory: legacy.then_some(true),
            kernel_memory_tcp: Some(true),
            cpu_cfs_period: true,
            cpu_cfs_quota: true,
            cpu_shares: true,
            cpu_set: true,
            pids_limit: true,
            ipv4_forwarding: input.ipv4_forwarding,
            bridge_nf_iptables: legacy.then_some(input.bridge_nf_iptables),
            bridge_nf_ip6tables: legacy.then_some(input.bridge_nf_ip6tables),
            debug: input.debug,
            n_fd: input.n_fd,
            oom_kill_disable: true,
            n_goroutines: input.n_goroutines,
            system_time: input.system_time.clone(),
            logging_driver: "json-file".into(),
            cgroup_driver: input.cgroup_driver.clone(),
            cgroup_version: input.cgroup_version.clone(),
            n_events_listener: 0,
            kernel_version: input.kernel_version.clone(),
            operating_system: input.operating_system.clone(),
            os_version: input.os_version.clone(),
            os_type: input.os_type.clone(),
            architecture: input.architecture.clone(),
            index_server_address: "https://index.docker.io/v1/".into(),
            registry_config: RegistryConfig {
                allow_nondistributable_artifacts_cidrs: legacy.then(Vec::new),
                allow_nondistributable_artifacts_hostnames: legacy.then(Vec::new),
                insecure_registry_cidrs: vec!["127.0.0.0/8".into()],
                index_configs: [("docker.io".to_string(), index)].into(),
                mirrors: vec![],
            },
            ncpu: input.ncpu,
            mem_total: input.mem_total,
            generic_resources: None,
            docker_root_dir: input.data_root.clone(),
            http_proxy: String::new(),
            https_proxy: String::new(),
            no_proxy: String::new(),
            name: input.hostname.clone(),
            labels: input.labels.clone(),
            experimental_build: false,
            server_version: input.server_version.clone(),
            runtimes: [(
                input.runtime.0.clone(),
                Runtime {
                    path: input.runtime.1.clone(),
                },
            )]
            .into(),
            default_runtime: input.runtime.0.clone(),
            swarm: SwarmInfo {
                local_node_state: "inactive".into(),
                ..Default::default()
            },
            live_restore_enabled: input.live_restore,
            isolation: String::new(),
            init_binary: String::new(),
            containerd_commit: commit(""),
            runc_commit: commit(""),
            init_commit: commit(""),
            security_options: vec![],
            firewall_backend: if v >= ApiVersion::V1_49 {
                input.firewall_backend.as_ref().map(|d| FirewallInfo {
                    driver: d.clone(),
                    info: vec![],
                })
            } else {
                None
            },
            cdi_spec_dirs: (!legacy).then(Vec::new),
            warnings: input.warnings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_arch_names() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("mips"), "mips");
    }

    #[test]
    fn info_current_shape() {
        let input = InfoInput {
            firewall_backend: Some("iptables".into()),
            ..Default::default()
        };
        let body = crate::to_json_body(&SystemInfo::new(&input, ApiVersion::CURRENT));
        assert!(!body.contains("BridgeNfIptables"));
        assert!(!body.contains("\"KernelMemory\":"));
        assert!(!body.contains("Expected"));
        assert!(!body.contains("AllowNondistributable"));
        assert!(body.contains(
            r#""FirewallBackend":{"Driver":"iptables"},"CDISpecDirs":[],"Warnings":null}"#
        ));
        let body = crate::to_json_body(&SystemInfo::new(&input, ApiVersion::new(1, 48)));
        assert!(body.contains(r#""ContainerdCommit":{"ID":"","Expected":""}"#));
        assert!(!body.contains("FirewallBackend"));
    }
}
