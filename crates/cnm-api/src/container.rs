//! Container routes: create, inspect, list, wait, and the `docker ps` status text.
//!
//! cnm's "containers" are plain host processes in their own network namespace (no images, no
//! storage driver), so these types keep Docker's keys and order but the values describing images,
//! storage and cgroups are whatever the daemon chooses to report.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::endpoint::EndpointSettings;
use crate::ports::{ExposedPorts, PortBindings};
use crate::time::human_duration;
use crate::version::{ApiVersion, Shape};

/// An empty JSON object `{}` (the value type of `ExposedPorts` and `Volumes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// One host binding of a container port (`{"HostIp":"0.0.0.0","HostPort":"8080"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortBinding {
    /// Host address (`""` in requests means all addresses).
    #[serde(rename = "HostIp", alias = "hostip")]
    pub host_ip: String,
    /// Host port as text (`""` in requests means an ephemeral port).
    #[serde(rename = "HostPort", alias = "hostport")]
    pub host_port: String,
}

/// Port map keyed by `<port>/<proto>` (`80/tcp`); a `null` value is an exposed port without binding.
pub type PortMap = BTreeMap<String, Option<Vec<PortBinding>>>;

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestartPolicy {
    /// `no`, `always`, `on-failure`, `unless-stopped` (empty in requests = `no`).
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    /// Retries for `on-failure`.
    #[serde(rename = "MaximumRetryCount", alias = "maximumretrycount")]
    pub maximum_retry_count: i64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// Log driver (`json-file`).
    #[serde(rename = "Type", alias = "type")]
    pub kind: String,
    /// Driver options.
    #[serde(rename = "Config", alias = "config")]
    pub config: BTreeMap<String, String>,
}

/// `HostConfig`: the create request's host configuration, echoed by container inspect.
///
/// The keys and their order are those of the 20.10 inspect capture (fixture 099). cnm only acts on
/// the networking subset (`NetworkMode`, `PortBindings`, `PublishAllPorts`, `Dns*`, `ExtraHosts`,
/// `Links`, `AutoRemove`); the other fields are carried so that the body keeps Docker's shape.
/// Lists are `Option`s so that inspect echoes `null` vs `[]` as the request had it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostConfig {
    #[serde(rename = "Binds", alias = "binds")]
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile", alias = "containeridfile")]
    pub container_id_file: String,
    #[serde(rename = "LogConfig", alias = "logconfig")]
    pub log_config: LogConfig,
    /// `default`, `bridge`, `host`, `none`, `container:<id>` or a network name.
    #[serde(rename = "NetworkMode", alias = "networkmode")]
    pub network_mode: String,
    /// Requested port bindings (`-p`), echoed as given (`{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`);
    /// held as runs of ports, not one entry per key (crate::ports).
    #[serde(rename = "PortBindings", alias = "portbindings")]
    pub port_bindings: PortBindings,
    #[serde(rename = "RestartPolicy", alias = "restartpolicy")]
    pub restart_policy: RestartPolicy,
    /// `--rm`.
    #[serde(rename = "AutoRemove", alias = "autoremove")]
    pub auto_remove: bool,
    #[serde(rename = "VolumeDriver", alias = "volumedriver")]
    pub volume_driver: String,
    #[serde(rename = "VolumesFrom", alias = "volumesfrom")]
    pub volumes_from: Option<Vec<String>>,
    #[serde(rename = "CapAdd", alias = "capadd")]
    pub cap_add: Option<Vec<String>>,
    #[serde(rename = "CapDrop", alias = "capdrop")]
    pub cap_drop: Option<Vec<String>>,
    #[serde(rename = "CgroupnsMode", alias = "cgroupnsmode")]
    pub cgroupns_mode: String,
    /// `--dns`.
    #[serde(rename = "Dns", alias = "dns")]
    pub dns: Option<Vec<String>>,
    /// `--dns-option`.
    #[serde(rename = "DnsOptions", alias = "dnsoptions")]
    pub dns_options: Option<Vec<String>>,
    /// `--dns-search`.
    #[serde(rename = "DnsSearch", alias = "dnssearch")]
    pub dns_search: Option<Vec<String>>,
    /// `--add-host` entries `name:ip`.
    #[serde(rename = "ExtraHosts", alias = "extrahosts")]
    pub extra_hosts: Option<Vec<String>>,
    #[serde(rename = "GroupAdd", alias = "groupadd")]
    pub group_add: Option<Vec<String>>,
    #[serde(rename = "IpcMode", alias = "ipcmode")]
    pub ipc_mode: String,
    #[serde(rename = "Cgroup", alias = "cgroup")]
    pub cgroup: String,
    /// `--link name:alias` (default bridge).
    #[serde(rename = "Links", alias = "links")]
    pub links: Option<Vec<String>>,
    #[serde(rename = "OomScoreAdj", alias = "oomscoreadj")]
    pub oom_score_adj: i64,
    #[serde(rename = "PidMode", alias = "pidmode")]
    pub pid_mode: String,
    #[serde(rename = "Privileged", alias = "privileged")]
    pub privileged: bool,
    /// `-P`.
    #[serde(rename = "PublishAllPorts", alias = "publishallports")]
    pub publish_all_ports: bool,
    #[serde(rename = "ReadonlyRootfs", alias = "readonlyrootfs")]
    pub readonly_rootfs: bool,
    #[serde(rename = "SecurityOpt", alias = "securityopt")]
    pub security_opt: Option<Vec<String>>,
    #[serde(rename = "UTSMode", alias = "utsmode")]
    pub uts_mode: String,
    #[serde(rename = "UsernsMode", alias = "usernsmode")]
    pub userns_mode: String,
    #[serde(rename = "ShmSize", alias = "shmsize")]
    pub shm_size: i64,
    #[serde(rename = "Runtime", alias = "runtime")]
    pub runtime: String,
    #[serde(rename = "ConsoleSize", alias = "consolesize")]
    pub console_size: [u64; 2],
    #[serde(rename = "Isolation", alias = "isolation")]
    pub isolation: String,
    #[serde(rename = "CpuShares", alias = "cpushares")]
    pub cpu_shares: i64,
    #[serde(rename = "Memory", alias = "memory")]
    pub memory: i64,
    #[serde(rename = "NanoCpus", alias = "nanocpus")]
    pub nano_cpus: i64,
    #[serde(rename = "CgroupParent", alias = "cgroupparent")]
    pub cgroup_parent: String,
    #[serde(rename = "BlkioWeight", alias = "blkioweight")]
    pub blkio_weight: u16,
    #[serde(rename = "BlkioWeightDevice", alias = "blkioweightdevice")]
    pub blkio_weight_device: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceReadBps", alias = "blkiodevicereadbps")]
    pub blkio_device_read_bps: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceWriteBps", alias = "blkiodevicewritebps")]
    pub blkio_device_write_bps: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceReadIOps", alias = "blkiodevicereadiops")]
    pub blkio_device_read_iops: Option<Vec<Value>>,
    #[serde(rename = "BlkioDeviceWriteIOps", alias = "blkiodevicewriteiops")]
    pub blkio_device_write_iops: Option<Vec<Value>>,
    #[serde(rename = "CpuPeriod", alias = "cpuperiod")]
    pub cpu_period: i64,
    #[serde(rename = "CpuQuota", alias = "cpuquota")]
    pub cpu_quota: i64,
    #[serde(rename = "CpuRealtimePeriod", alias = "cpurealtimeperiod")]
    pub cpu_realtime_period: i64,
    #[serde(rename = "CpuRealtimeRuntime", alias = "cpurealtimeruntime")]
    pub cpu_realtime_runtime: i64,
    #[serde(rename = "CpusetCpus", alias = "cpusetcpus")]
    pub cpuset_cpus: String,
    #[serde(rename = "CpusetMems", alias = "cpusetmems")]
    pub cpuset_mems: String,
    #[serde(rename = "Devices", alias = "devices")]
    pub devices: Option<Vec<Value>>,
    #[serde(rename = "DeviceCgroupRules", alias = "devicecgrouprules")]
    pub device_cgroup_rules: Option<Vec<String>>,
    #[serde(rename = "DeviceRequests", alias = "devicerequests")]
    pub device_requests: Option<Vec<Value>>,
    #[serde(rename = "KernelMemory", alias = "kernelmemory")]
    pub kernel_memory: i64,
    #[serde(rename = "KernelMemoryTCP", alias = "kernelmemorytcp")]
    pub kernel_memory_tcp: i64,
    #[serde(rename = "MemoryReservation", alias = "memoryreservation")]
    pub memory_reservation: i64,
    #[serde(rename = "MemorySwap", alias = "memoryswap")]
    pub memory_swap: i64,
    #[serde(rename = "MemorySwappiness", alias = "memoryswappiness")]
    pub memory_swappiness: Option<i64>,
    #[serde(rename = "OomKillDisable", alias = "oomkilldisable")]
    pub oom_kill_disable: Option<bool>,
    #[serde(rename = "PidsLimit", alias = "pidslimit")]
    pub pids_limit: Option<i64>,
    #[serde(rename = "Ulimits", alias = "ulimits")]
    pub ulimits: Option<Vec<Value>>,
    #[serde(rename = "CpuCount", alias = "cpucount")]
    pub cpu_count: i64,
    #[serde(rename = "CpuPercent", alias = "cpupercent")]
    pub cpu_percent: i64,
    #[serde(rename = "IOMaximumIOps", alias = "iomaximumiops")]
    pub io_maximum_iops: u64,
    #[serde(rename = "IOMaximumBandwidth", alias = "iomaximumbandwidth")]
    pub io_maximum_bandwidth: u64,
    #[serde(rename = "MaskedPaths", alias = "maskedpaths")]
    pub masked_paths: Option<Vec<String>>,
    #[serde(rename = "ReadonlyPaths", alias = "readonlypaths")]
    pub readonly_paths: Option<Vec<String>>,
}

impl HostConfig {
    /// Fills the fields a 20.10 engine normalised for a container created by the 28.2 CLI without
    /// options (fixture 099), leaving the rest as they are: `LogConfig.Type` `json-file` when empty,
    /// `NetworkMode` `default` when empty, `Dns`/`DnsOptions`/`DnsSearch` `[]` and the blkio/device/
    /// ulimit lists `[]` when `null`, `OomKillDisable` `false`, `ShmSize` 64 MiB and `Runtime` `runc`
    /// when unset, `IpcMode` `private`, `CgroupnsMode` `host` when empty.
    pub fn normalize(&mut self) {
        fn fill<T>(v: &mut Option<Vec<T>>) {
            if v.is_none() {
                *v = Some(Vec::new());
            }
        }
        if self.log_config.kind.is_empty() {
            self.log_config.kind = "json-file".into();
        }
        if self.network_mode.is_empty() {
            self.network_mode = "default".into();
        }
        if self.restart_policy.name.is_empty() {
            self.restart_policy.name = "no".into();
        }
        if self.cgroupns_mode.is_empty() {
            self.cgroupns_mode = "host".into();
        }
        if self.ipc_mode.is_empty() {
            self.ipc_mode = "private".into();
        }
        if self.shm_size == 0 {
            self.shm_size = 64 * 1024 * 1024;
        }
        if self.runtime.is_empty() {
            self.runtime = "runc".into();
        }
        fill(&mut self.dns);
        fill(&mut self.dns_options);
        fill(&mut self.dns_search);
        fill(&mut self.blkio_weight_device);
        fill(&mut self.blkio_device_read_bps);
        fill(&mut self.blkio_device_write_bps);
        fill(&mut self.blkio_device_read_iops);
        fill(&mut self.blkio_device_write_iops);
        fill(&mut self.devices);
        fill(&mut self.ulimits);
        if self.oom_kill_disable.is_none() {
            self.oom_kill_disable = Some(false);
        }
    }
}

/// `NetworkingConfig` of a create request: endpoint settings per network name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkingConfig {
    /// Network name → endpoint settings.
    #[serde(rename = "EndpointsConfig", alias = "endpointsconfig")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

/// Body of `POST /containers/create` (the container name comes from `?name=`).
///
/// The subset of Docker's body cnm uses; everything else is ignored. `Cmd` and `Entrypoint` accept
/// a string or a list, like Go's `strslice.StrSlice`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerCreateRequest {
    #[serde(rename = "Hostname", alias = "hostname")]
    pub hostname: String,
    #[serde(rename = "Domainname", alias = "domainname")]
    pub domainname: String,
    #[serde(rename = "User", alias = "user")]
    pub user: String,
    #[serde(rename = "AttachStdin", alias = "attachstdin")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout", alias = "attachstdout")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr", alias = "attachstderr")]
    pub attach_stderr: bool,
    /// `{"80/tcp":{}}`, held as runs of ports (crate::ports).
    #[serde(
        rename = "ExposedPorts",
        alias = "exposedports",
        skip_serializing_if = "Option::is_none"
    )]
    pub exposed_ports: Option<ExposedPorts>,
    #[serde(rename = "Tty", alias = "tty")]
    pub tty: bool,
    #[serde(rename = "OpenStdin", alias = "openstdin")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce", alias = "stdinonce")]
    pub stdin_once: bool,
    /// `KEY=value` entries.
    #[serde(rename = "Env", alias = "env")]
    pub env: Option<Vec<String>>,
    #[serde(
        rename = "Cmd",
        alias = "cmd",
        deserialize_with = "crate::json::str_slice"
    )]
    pub cmd: Option<Vec<String>>,
    /// Docker's image reference; for cnm an informational label of the process.
    #[serde(rename = "Image", alias = "image")]
    pub image: String,
    #[serde(rename = "WorkingDir", alias = "workingdir")]
    pub working_dir: String,
    #[serde(
        rename = "Entrypoint",
        alias = "entrypoint",
        deserialize_with = "crate::json::str_slice"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Labels", alias = "labels")]
    pub labels: BTreeMap<String, String>,
    #[serde(
        rename = "StopSignal",
        alias = "stopsignal",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    #[serde(
        rename = "StopTimeout",
        alias = "stoptimeout",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_timeout: Option<i64>,
    #[serde(rename = "HostConfig", alias = "hostconfig")]
    pub host_config: HostConfig,
    #[serde(rename = "NetworkingConfig", alias = "networkingconfig")]
    pub networking_config: NetworkingConfig,
}

/// Reply of `POST /containers/create` (201): `{"Id":"…","Warnings":[]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerCreateResponse {
    /// Full container ID.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warnings (`[]` when none).
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// `State` of container inspect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Paused")]
    pub paused: bool,
    #[serde(rename = "Restarting")]
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    #[serde(rename = "Dead")]
    pub dead: bool,
    /// Host PID of the process (0 when not running).
    #[serde(rename = "Pid")]
    pub pid: i64,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Error")]
    pub error: String,
    /// RFC 3339 nano, or [`crate::ZERO_TIME`].
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    /// RFC 3339 nano, or [`crate::ZERO_TIME`] while never stopped.
    #[serde(rename = "FinishedAt")]
    pub finished_at: String,
}

/// `GraphDriver` of container inspect (may be left out by cnm).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphDriver {
    #[serde(rename = "Data")]
    pub data: BTreeMap<String, String>,
    #[serde(rename = "Name")]
    pub name: String,
}

/// One entry of `Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountPoint {
    /// `bind`, `volume`, `tmpfs`, …
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Name", skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Driver", skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(rename = "Mode")]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(rename = "Propagation")]
    pub propagation: String,
}

/// `Config` of container inspect (the subset with keys a process container can fill).
///
/// Order as fixture 099: `Hostname, Domainname, User, AttachStdin, AttachStdout, AttachStderr,
/// [ExposedPorts], Tty, OpenStdin, StdinOnce, Env, Cmd, Image, Volumes, WorkingDir, Entrypoint,
/// OnBuild, Labels, [StopSignal]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "Domainname")]
    pub domainname: String,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "AttachStdin")]
    pub attach_stdin: bool,
    #[serde(rename = "AttachStdout")]
    pub attach_stdout: bool,
    #[serde(rename = "AttachStderr")]
    pub attach_stderr: bool,
    /// Omitted when `None` or empty (Go `omitempty`).
    #[serde(rename = "ExposedPorts", skip_serializing_if = "is_none_or_empty")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(rename = "Tty")]
    pub tty: bool,
    #[serde(rename = "OpenStdin")]
    pub open_stdin: bool,
    #[serde(rename = "StdinOnce")]
    pub stdin_once: bool,
    #[serde(rename = "Env")]
    pub env: Option<Vec<String>>,
    #[serde(rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Volumes")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "OnBuild")]
    pub on_build: Option<Vec<String>>,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "StopSignal", skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
}

fn is_none_or_empty<K, V>(m: &Option<BTreeMap<K, V>>) -> bool {
    m.as_ref().is_none_or(BTreeMap::is_empty)
}

/// `{Addr, PrefixLen}` (element type of the never-filled `SecondaryIPAddresses`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    #[serde(rename = "Addr")]
    pub addr: String,
    #[serde(rename = "PrefixLen")]
    pub prefix_len: u8,
}

/// `NetworkSettings` of container inspect.
///
/// [`Shape::Legacy`] order (20.10, docker-behaviour.md 6.1): `Bridge, SandboxID, HairpinMode,
/// LinkLocalIPv6Address, LinkLocalIPv6PrefixLen, Ports, SandboxKey, SecondaryIPAddresses,
/// SecondaryIPv6Addresses, EndpointID, Gateway, GlobalIPv6Address, GlobalIPv6PrefixLen, IPAddress,
/// IPPrefixLen, IPv6Gateway, MacAddress, Networks`. [`Shape::Current`] (28.2's
/// `NetworkSettingsBase`) moves `SandboxKey` and `Ports` right after `SandboxID`. The top-level
/// `EndpointID … MacAddress` mirror the `bridge` entry only for containers on the default bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NetworkSettings {
    #[serde(rename = "Bridge")]
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    #[serde(rename = "HairpinMode")]
    pub hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    /// Published ports (`{}` without any; `None` → `null`).
    #[serde(rename = "Ports")]
    pub ports: Option<PortMap>,
    /// `<exec-root>/netns/<SandboxID[:12]>`.
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<Address>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<Address>>,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Gateway")]
    pub gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "MacAddress")]
    pub mac_address: String,
    /// Attachments by network name.
    #[serde(rename = "Networks")]
    pub networks: BTreeMap<String, EndpointSettings>,
    /// Output layout; not part of the JSON.
    #[serde(skip)]
    pub shape: Shape,
}

impl NetworkSettings {
    /// Sets the layout of this object and of every endpoint for a client of version `v`.
    pub fn set_api(&mut self, v: ApiVersion) {
        self.shape = v.shape();
        for ep in self.networks.values_mut() {
            ep.set_api(v);
        }
    }

    /// Copies an endpoint's addresses into the top-level fields (Docker does this for the default
    /// `bridge` network only).
    pub fn mirror_endpoint(&mut self, ep: &EndpointSettings) {
        self.endpoint_id = ep.endpoint_id.clone();
        self.gateway = ep.gateway.clone();
        self.global_ipv6_address = ep.global_ipv6_address.clone();
        self.global_ipv6_prefix_len = ep.global_ipv6_prefix_len;
        self.ip_address = ep.ip_address.clone();
        self.ip_prefix_len = ep.ip_prefix_len;
        self.ipv6_gateway = ep.ipv6_gateway.clone();
        self.mac_address = ep.mac_address.clone();
    }
}

impl Serialize for NetworkSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("NetworkSettings", 18)?;
        s.serialize_field("Bridge", &self.bridge)?;
        s.serialize_field("SandboxID", &self.sandbox_id)?;
        match self.shape {
            Shape::Legacy => {
                s.serialize_field("HairpinMode", &self.hairpin_mode)?;
                s.serialize_field("LinkLocalIPv6Address", &self.link_local_ipv6_address)?;
                s.serialize_field("LinkLocalIPv6PrefixLen", &self.link_local_ipv6_prefix_len)?;
                s.serialize_field("Ports", &self.ports)?;
                s.serialize_field("SandboxKey", &self.sandbox_key)?;
            }
            Shape::Current => {
                s.serialize_field("SandboxKey", &self.sandbox_key)?;
                s.serialize_field("Ports", &self.ports)?;
                s.serialize_field("HairpinMode", &self.hairpin_mode)?;
                s.serialize_field("LinkLocalIPv6Address", &self.link_local_ipv6_address)?;
                s.serialize_field("LinkLocalIPv6PrefixLen", &self.link_local_ipv6_prefix_len)?;
            }
        }
        s.serialize_field("SecondaryIPAddresses", &self.secondary_ip_addresses)?;
        s.serialize_field("SecondaryIPv6Addresses", &self.secondary_ipv6_addresses)?;
        s.serialize_field("EndpointID", &self.endpoint_id)?;
        s.serialize_field("Gateway", &self.gateway)?;
        s.serialize_field("GlobalIPv6Address", &self.global_ipv6_address)?;
        s.serialize_field("GlobalIPv6PrefixLen", &self.global_ipv6_prefix_len)?;
        s.serialize_field("IPAddress", &self.ip_address)?;
        s.serialize_field("IPPrefixLen", &self.ip_prefix_len)?;
        s.serialize_field("IPv6Gateway", &self.ipv6_gateway)?;
        s.serialize_field("MacAddress", &self.mac_address)?;
        s.serialize_field("Networks", &self.networks)?;
        s.end()
    }
}

/// Body of `GET /containers/{id}/json`, in fixture 099's key order (`GraphDriver` is left out when
/// `None`; `SizeRw`/`SizeRootFs` and `ImageManifestDescriptor` are never written).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerInspect {
    #[serde(rename = "Id")]
    pub id: String,
    /// RFC 3339 nano creation time.
    #[serde(rename = "Created")]
    pub created: String,
    /// Executable.
    #[serde(rename = "Path")]
    pub path: String,
    /// Arguments after the executable.
    #[serde(rename = "Args")]
    pub args: Vec<String>,
    #[serde(rename = "State")]
    pub state: ContainerState,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ResolvConfPath")]
    pub resolv_conf_path: String,
    #[serde(rename = "HostnamePath")]
    pub hostname_path: String,
    #[serde(rename = "HostsPath")]
    pub hosts_path: String,
    #[serde(rename = "LogPath")]
    pub log_path: String,
    /// Name with a leading slash (`/rsx-a`).
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "RestartCount")]
    pub restart_count: i64,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Platform")]
    pub platform: String,
    #[serde(rename = "MountLabel")]
    pub mount_label: String,
    #[serde(rename = "ProcessLabel")]
    pub process_label: String,
    #[serde(rename = "AppArmorProfile")]
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
    #[serde(rename = "GraphDriver", skip_serializing_if = "Option::is_none")]
    pub graph_driver: Option<GraphDriver>,
    #[serde(rename = "Mounts")]
    pub mounts: Vec<MountPoint>,
    #[serde(rename = "Config")]
    pub config: ContainerConfig,
    #[serde(rename = "NetworkSettings")]
    pub network_settings: NetworkSettings,
}

impl ContainerInspect {
    /// Sets the layout of the version-dependent parts for a client of version `v`.
    pub fn for_api(mut self, v: ApiVersion) -> Self {
        self.network_settings.set_api(v);
        self
    }
}

/// One `Ports` entry of `GET /containers/json`: `{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}`
/// (`IP` and `PublicPort` omitted for unpublished ports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Port {
    #[serde(rename = "IP", skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", skip_serializing_if = "is_zero_u16")]
    pub public_port: u16,
    /// `tcp`, `udp` or `sctp`.
    #[serde(rename = "Type")]
    pub kind: String,
}

fn is_zero_u16(v: &u16) -> bool {
    *v == 0
}

/// `HostConfig` of a list entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryHostConfig {
    #[serde(rename = "NetworkMode", skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
}

/// `NetworkSettings` of a list entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryNetworkSettings {
    #[serde(rename = "Networks")]
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSummary {
    #[serde(rename = "Id")]
    pub id: String,
    /// Names with a leading slash (`["/rsx-a"]`).
    #[serde(rename = "Names")]
    pub names: Vec<String>,
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Command line as one string (`sleep 100000`).
    #[serde(rename = "Command")]
    pub command: String,
    /// Creation time in unix seconds.
    #[serde(rename = "Created")]
    pub created: i64,
    #[serde(rename = "Ports")]
    pub ports: Vec<Port>,
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// `running`, `exited`, …
    #[serde(rename = "State")]
    pub state: String,
    /// Human text, see [`docker_status_string`].
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "HostConfig")]
    pub host_config: SummaryHostConfig,
    #[serde(rename = "NetworkSettings")]
    pub network_settings: SummaryNetworkSettings,
    #[serde(rename = "Mounts")]
    pub mounts: Vec<MountPoint>,
}

impl ContainerSummary {
    /// Sets the endpoint layout for a client of version `v`.
    pub fn for_api(mut self, v: ApiVersion) -> Self {
        for ep in self.network_settings.networks.values_mut() {
            ep.set_api(v);
        }
        self
    }
}

/// `Error` of a wait reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WaitExitError {
    #[serde(rename = "Message", skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Reply of `POST /containers/{id}/wait`.
///
/// 20.10 (API < 1.44) always writes `"Error":null` before `StatusCode`; 28.2 writes `Error` only when
/// there is one. Build it with [`ContainerWaitResponse::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerWaitResponse {
    /// `None`: key absent; `Some(None)`: `null`; `Some(Some(e))`: the error.
    #[serde(
        rename = "Error",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::json::double_option"
    )]
    pub error: Option<Option<WaitExitError>>,
    /// Exit code.
    #[serde(rename = "StatusCode", default)]
    pub status_code: i64,
}

impl ContainerWaitResponse {
    /// The reply for exit code `code` and an optional wait error, laid out for version `v`.
    pub fn new(code: i64, error: Option<String>, v: ApiVersion) -> Self {
        let error = match (error, v.shape()) {
            (Some(m), _) => Some(Some(WaitExitError { message: m })),
            (None, Shape::Legacy) => Some(None),
            (None, Shape::Current) => None,
        };
        ContainerWaitResponse {
            error,
            status_code: code,
        }
    }
}

/// The `Status` text of `docker ps`, following moby's `container.State.String()` with go-units'
/// `HumanDuration`.
///
/// `state` is Docker's state word (`created`, `running`, `paused`, `restarting`, `removing`, `exited`,
/// `dead`). `started`/`finished` are `None` for Go's zero time.
///
/// * running: `Up 5 seconds`; paused: `Up 5 seconds (Paused)`;
/// * restarting: `Restarting (1) 3 seconds ago` (from `finished`);
/// * removing: `Removal In Progress`; dead: `Dead`;
/// * never started: `Created`; started but no finish time: `""`;
/// * otherwise `Exited (0) 3 seconds ago`.
pub fn docker_status_string(
    state: &str,
    exit_code: i64,
    started: Option<SystemTime>,
    finished: Option<SystemTime>,
    now: SystemTime,
) -> String {
    let since = |t: Option<SystemTime>| {
        let d = t
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        human_duration(d)
    };
    match state {
        "running" => format!("Up {}", since(started)),
        "paused" => format!("Up {} (Paused)", since(started)),
        "restarting" => format!("Restarting ({exit_code}) {} ago", since(finished)),
        "removing" => "Removal In Progress".to_string(),
        "dead" => "Dead".to_string(),
        _ => {
            if started.is_none() {
                "Created".to_string()
            } else if finished.is_none() {
                String::new()
            } else {
                format!("Exited ({exit_code}) {} ago", since(finished))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn status_strings() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ago = |s: u64| Some(now - Duration::from_secs(s));
        assert_eq!(
            docker_status_string("running", 0, ago(5), None, now),
            "Up 5 seconds"
        );
        assert_eq!(
            docker_status_string("running", 0, ago(90), None, now),
            "Up About a minute"
        );
        assert_eq!(
            docker_status_string("running", 0, ago(2 * 3600), None, now),
            "Up 2 hours"
        );
        assert_eq!(
            docker_status_string("paused", 0, ago(1), None, now),
            "Up 1 second (Paused)"
        );
        assert_eq!(
            docker_status_string("exited", 0, ago(10), ago(3), now),
            "Exited (0) 3 seconds ago"
        );
        assert_eq!(
            docker_status_string("exited", 137, ago(10), ago(0), now),
            "Exited (137) Less than a second ago"
        );
        assert_eq!(
            docker_status_string("created", 0, None, None, now),
            "Created"
        );
        assert_eq!(
            docker_status_string("restarting", 1, ago(9), ago(4), now),
            "Restarting (1) 4 seconds ago"
        );
        assert_eq!(docker_status_string("dead", 0, ago(9), ago(4), now), "Dead");
        assert_eq!(
            docker_status_string("removing", 0, ago(9), ago(4), now),
            "Removal In Progress"
        );
    }

    #[test]
    fn wait_response_shapes() {
        assert_eq!(
            crate::to_json_body(&ContainerWaitResponse::new(0, None, ApiVersion::V1_41)),
            "{\"Error\":null,\"StatusCode\":0}\n"
        );
        assert_eq!(
            crate::to_json_body(&ContainerWaitResponse::new(0, None, ApiVersion::CURRENT)),
            "{\"StatusCode\":0}\n"
        );
        assert_eq!(
            crate::to_json_body(&ContainerWaitResponse::new(
                1,
                Some("boom".into()),
                ApiVersion::CURRENT
            )),
            "{\"Error\":{\"Message\":\"boom\"},\"StatusCode\":1}\n"
        );
        let back: ContainerWaitResponse =
            serde_json::from_str("{\"Error\":null,\"StatusCode\":3}").expect("json");
        assert_eq!(back.error, Some(None));
        assert_eq!(back.status_code, 3);
    }

    #[test]
    fn create_request() {
        let r: ContainerCreateRequest = crate::decode_json_body(
            br#"{"Hostname":"","Env":[],"Cmd":"sleep 1","Image":"busybox","Entrypoint":null,"ExposedPorts":{"80/tcp":{}},
                "HostConfig":{"NetworkMode":"rsx-net1","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"Dns":[],"ExtraHosts":null,"AutoRemove":true},
                "NetworkingConfig":{"EndpointsConfig":{"rsx-net1":{"Aliases":["web"],"IPAMConfig":{"IPv4Address":"172.18.0.9"}}}}}"#,
        )
        .expect("decode");
        assert_eq!(r.cmd, Some(vec!["sleep 1".to_string()]));
        assert_eq!(r.entrypoint, None);
        assert_eq!(r.env, Some(vec![]));
        assert!(r.host_config.auto_remove);
        assert_eq!(r.host_config.network_mode, "rsx-net1");
        assert_eq!(r.host_config.dns, Some(vec![]));
        assert_eq!(r.host_config.extra_hosts, None);
        let pb = r
            .host_config
            .port_bindings
            .to_map()
            .get("80/tcp")
            .cloned()
            .flatten()
            .expect("binding");
        assert_eq!(pb[0].host_port, "8080");
        let ep = r
            .networking_config
            .endpoints_config
            .get("rsx-net1")
            .expect("ep");
        assert_eq!(ep.aliases, Some(vec!["web".to_string()]));
        assert_eq!(
            ep.ipam_config.as_ref().map(|c| c.ipv4_address.as_str()),
            Some("172.18.0.9")
        );
        assert_eq!(
            r.exposed_ports.expect("exposed").keys().collect::<Vec<_>>(),
            vec!["80/tcp"]
        );
    }

    #[test]
    fn summary_port_omits() {
        let p = Port {
            private_port: 80,
            kind: "tcp".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"PrivatePort":80,"Type":"tcp"}"#
        );
        let p = Port {
            ip: "0.0.0.0".into(),
            private_port: 80,
            public_port: 8080,
            kind: "tcp".into(),
        };
        assert_eq!(
            serde_json::to_string(&p).expect("json"),
            r#"{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}"#
        );
    }
}
