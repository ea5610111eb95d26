//! Sysctls under /proc/sys. Network sysctls are per namespace: they apply to the namespace of the
//! thread that opens the file, so call these on a thread inside the wanted namespace (see `NsThread`).

use crate::error::{LinuxError, Result};

pub fn write_path(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| LinuxError::io(format!("write {path}"), e))
}

/// Sysctl of one interface (`net.ipv6.conf.<ifname>.disable_ipv6`), safe for names with dots.
pub fn write_iface(family: &str, ifname: &str, leaf: &str, value: &str) -> Result<()> {
    write_path(
        &format!("/proc/sys/net/{family}/conf/{ifname}/{leaf}"),
        value,
    )
}
