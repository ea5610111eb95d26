//! `GET /version` and `GET /info`: what the daemon reports about itself and the machine, read
//! where Docker reads it (uname, os-release, /proc) so `docker version`/`docker info` show true
//! values rather than constants.

use std::sync::Arc;

use cnm_api::ApiVersion;

use super::Daemon;

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn version() -> cnm_api::SystemVersion {
    cnm_api::SystemVersion::new(&cnm_api::VersionInput {
        version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: ApiVersion::CURRENT,
        min_api_version: ApiVersion::MIN,
        git_commit: "cnm".into(),
        go_version: "rust".into(),
        os: "linux".into(),
        arch: cnm_api::go_arch(std::env::consts::ARCH).to_string(),
        kernel_version: kernel_version(),
        build_time: String::new(),
        experimental: false,
        extra_components: Vec::new(),
    })
}

/// One `KEY=value` of os-release (values may be quoted).
fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
    })
}

/// `(OperatingSystem, OSVersion)` the way moby reads them: os-release's `PRETTY_NAME` and
/// `VERSION_ID`, `Linux` when there is no os-release.
fn operating_system() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    (
        os_release_value(&text, "PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
        os_release_value(&text, "VERSION_ID").unwrap_or_default(),
    )
}

/// `MemTotal` of /proc/meminfo in bytes.
fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Threads of the daemon (what Docker's `NGoroutines` stands for here).
fn threads() -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The engine ID as Docker ≥ 23 writes it (a UUID), derived from the data-root's host ID so it
/// is stable for the life of the data-root.
fn engine_id(host_id: &str) -> String {
    let h: Vec<char> = host_id.chars().filter(char::is_ascii_hexdigit).collect();
    if h.len() < 32 {
        return host_id.to_string();
    }
    let part = |a: usize, b: usize| h[a..b].iter().collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

fn sysctl_on(path: &str) -> bool {
    read_trimmed(path) == "1"
}

pub async fn info(d: &Arc<Daemon>, v: ApiVersion) -> cnm_api::SystemInfo {
    let ctrs = d.ctl.containers().await;
    let running = ctrs.iter().filter(|(c, _)| c.is_running()).count() as u64;
    let (operating_system, os_version) = operating_system();
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    let shim = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "cnm".into());
    cnm_api::SystemInfo::new(
        &cnm_api::InfoInput {
            id: engine_id(&read_trimmed(
                &d.args.data_root.join("host-id").display().to_string(),
            )),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            kernel_version: kernel_version(),
            operating_system,
            os_version,
            os_type: "linux".into(),
            architecture: nix::sys::utsname::uname()
                .map(|u| u.machine().to_string_lossy().into_owned())
                .unwrap_or_default(),
            hostname: read_trimmed("/proc/sys/kernel/hostname"),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
            mem_total: mem_total(),
            data_root: d.args.data_root.display().to_string(),
            containers: cnm_api::ContainerCounts {
                running,
                paused: 0,
                stopped: ctrs.len() as u64 - running,
            },
            images: 0,
            driver: "none".into(),
            network_plugins: d.ctl.driver_names().iter().map(|s| s.to_string()).collect(),
            system_time: cnm_api::format_go_time(std::time::SystemTime::now()),
            ipv4_forwarding: sysctl_on("/proc/sys/net/ipv4/ip_forward"),
            bridge_nf_iptables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            bridge_nf_ip6tables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
            // cnm puts containers in no cgroup of their own.
            cgroup_driver: "none".into(),
            cgroup_version: cgroup_version.into(),
            n_fd: std::fs::read_dir("/proc/self/fd")
                .map(|r| r.count() as u64)
                .unwrap_or(0),
            n_goroutines: threads(),
            debug: false,
            firewall_backend: Some("nftables".into()),
            labels: Vec::new(),
            warnings: None,
            runtime: ("cnm-shim".into(), shim),
            live_restore: true,
        },
        v,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_lines() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release_value(text, "PRETTY_NAME").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_release_value(text, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_value(text, "ID"), None);
    }

    #[test]
    fn engine_id_is_a_uuid() {
        let id = engine_id(&"0123456789abcdef".repeat(4));
        assert_eq!(id, "01234567-89ab-cdef-0123-456789abcdef");
    }
}
