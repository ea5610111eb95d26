//! # cnm-api — Docker Engine API wire types for cnm
//!
//! The JSON bodies of the Engine API routes cnm serves (networks, containers, exec, `/version`,
//! `/info`) as serde types, plus the pure helpers both sides of the socket need. The daemon (axum)
//! and the CLI (a hand-written HTTP client) share this crate; it has no HTTP dependency.
//!
//! ## Byte-exact JSON
//!
//! Docker writes compact JSON with struct fields in declaration order, map keys sorted bytewise, and
//! one `"\n"` at the end. The types here declare their fields in Docker's key order and use
//! `BTreeMap` for maps, so [`to_json_body`] reproduces Docker's bytes (the tests compare against the
//! captured fixtures in the repository's `fixtures/docker-api/`). `null` versus `{}`/`[]` is kept with `Option`
//! wherever Docker distinguishes them.
//!
//! ## API versions
//!
//! The daemon claims API [`ApiVersion::CURRENT`] (1.50, Docker 28.2) and serves clients down to
//! [`ApiVersion::MIN`] (1.24). Clients below 1.44 get the layout captured from Docker 20.10 (API 1.41)
//! byte for byte, clients from 1.44 on get Docker 28.2's layout ([`Shape`]). Types whose JSON depends
//! on the version have a `for_api(v)`/`set_api(v)` method (or take the version in their constructor):
//! call it before serializing. Version facts found in moby's source are documented on [`Shape`],
//! [`Network`], [`EndpointSettings`] and [`SystemInfo`].
//!
//! ## Requests
//!
//! Decode request bodies with [`decode_json_body`], which applies Go's `encoding/json` rules
//! (case-insensitive field names, `null` = absent, unknown fields ignored) and Docker's error texts
//! (`unexpected EOF`). Query `filters` go through [`Filters`].
//!
//! ## Other helpers
//!
//! * [`ApiError`]: status + message, body `{"message":"…"}\n`;
//! * [`format_go_time`], [`GoTime`], [`parse_go_time`], [`ZERO_TIME`]: Go's time formats;
//! * [`human_duration`], [`docker_status_string`]: `docker ps` status texts;
//! * [`frame`], [`Demuxer`]: the multiplexed stdout/stderr stream of logs and exec;
//! * [`EventMessage`], [`parse_event_timestamp`]: `GET /events` lines, their filters and times;
//! * [`go_syntax::go_syntax_error`]: Go's wording of malformed JSON.

pub mod container;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod exec;
pub mod filters;
mod go_decode;
pub mod go_syntax;
pub mod json;
pub mod network;
pub mod ports;
pub mod stream;
pub mod system;
pub mod time;
pub mod version;

pub use container::{
    docker_status_string, Address, ContainerConfig, ContainerCreateRequest,
    ContainerCreateResponse, ContainerInspect, ContainerState, ContainerSummary,
    ContainerWaitResponse, Empty, GraphDriver, HostConfig, LogConfig, MountPoint, NetworkSettings,
    NetworkingConfig, Port, PortBinding, PortMap, RestartPolicy, SummaryHostConfig,
    SummaryNetworkSettings, WaitExitError,
};
pub use endpoint::{api_aliases, EndpointIpamConfig, EndpointSettings};
pub use error::{reason_phrase, ApiError};
pub use events::{parse_event_timestamp, since_after_until, EventActor, EventMessage};
pub use exec::{
    ExecCreateRequest, ExecCreateResponse, ExecInspect, ExecProcessConfig, ExecStartRequest,
};
pub use filters::{Filters, NetworkType};
pub use json::{decode_json_body, decode_json_body_opt, from_value_go, to_json_body};
pub use network::{
    ConfigReference, Ipam, IpamConfig, Network, NetworkConnectRequest, NetworkContainer,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse,
    NETWORK_LIST_FILTERS, NETWORK_PRUNE_FILTERS, PREDEFINED_NETWORKS,
};
pub use ports::{canonical_key, BindingKey, BindingRun, ExposedPorts, PortBindings, PortProto};
pub use stream::{frame, DemuxError, Demuxer, StreamKind};
pub use system::{
    go_arch, Commit, ComponentVersion, ContainerCounts, FirewallInfo, IndexInfo, InfoInput,
    Platform, PluginsInfo, RegistryConfig, Runtime, SwarmInfo, SystemInfo, SystemVersion,
    VersionInput,
};
pub use time::{
    format_go_time, format_go_time_string, human_duration, parse_go_duration, parse_go_time,
    GoTime, TimeParseError, ZERO_TIME,
};
pub use version::{strip_version_prefix, ApiVersion, ParseVersionError, Shape};
