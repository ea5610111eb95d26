//! Sysctls under /proc/sys. Network sysctls are per namespace: they apply to the namespace of the
//! thread that opens the file, so call these on a thread inside the wanted namespace (see `NsThread`).

use crate::error::{LinuxError, Result};

fn path_of(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

/// Write `value` to sysctl `key` (dotted form, e.g. `net.ipv4.ip_forward`). Interface names containing dots
/// are not supported in this form; use `write_path` for those.
pub fn write(key: &str, value: &str) -> Result<()> {
    write_path(&path_of(key), value)
}

pub fn write_path(path: &str, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| LinuxError::io(format!("write {path}"), e))
}

pub fn read(key: &str) -> Result<String> {
    let path = path_of(key);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|e| LinuxError::io(format!("read {path}"), e))
}

/// Write only when the value differs; returns whether it changed.
pub fn ensure(key: &str, value: &str) -> Result<bool> {
    if read(key)? == value {
        return Ok(false);
    }
    write(key, value)?;
    Ok(true)
}

/// Sysctl of one interface (`net.ipv6.conf.<ifname>.disable_ipv6`), safe for names with dots.
pub fn write_iface(family: &str, ifname: &str, leaf: &str, value: &str) -> Result<()> {
    write_path(
        &format!("/proc/sys/net/{family}/conf/{ifname}/{leaf}"),
        value,
    )
}
