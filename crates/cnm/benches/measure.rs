//! What every benchmark reads off a run: percentiles, the daemon's RSS, the machine's load, and the
//! daemon's own timings from the `Server-Timing` header of a start.
#![allow(dead_code)]

use std::time::Duration;

/// A sample in milliseconds.
pub trait Ms {
    fn ms(&self) -> f64;
}

impl Ms for Duration {
    fn ms(&self) -> f64 {
        self.as_secs_f64() * 1000.0
    }
}

impl Ms for f64 {
    fn ms(&self) -> f64 {
        *self
    }
}

/// Percentile (nearest rank) in milliseconds.
pub fn pct<T: Ms>(v: &[T], p: f64) -> f64 {
    let mut s: Vec<f64> = v.iter().map(Ms::ms).collect();
    assert!(!s.is_empty(), "no samples");
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

/// Resident set size of a process in kB (0 when it is gone).
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One entry (`sandbox`, `process`) of the `Server-Timing` header in a response's header block.
pub fn server_timing(head: &str, entry: &str) -> Duration {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("server-timing:"))
        .and_then(|l| {
            l.split([':', ','])
                .map(str::trim)
                .find(|p| p.starts_with(&format!("{entry};")))
                .and_then(|p| p.split("dur=").nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .unwrap_or_else(|| panic!("no Server-Timing {entry} entry in {head:?}"))
}

/// The machine's steal time so far, in ms, over all CPUs: time a vCPU had work but the hypervisor
/// ran something else (`/proc/stat`). Read before and after a measurement, it says how much of it
/// the VM itself was not running.
pub fn steal_ms() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("cpu "))?.to_string();
            line.split_whitespace().nth(8)?.parse::<f64>().ok()
        })
        .map_or(0.0, |ticks| ticks * 1000.0 / hz)
}
