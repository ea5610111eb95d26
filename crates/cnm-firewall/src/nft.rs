//! Running nft: one `nft -f -` per transaction, fed the script on stdin. A spawn costs a few ms, so the
//! attach path never calls this (an attach without ports changes no rule); network create, publish and
//! unpublish do, once each.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::render::{Family, TABLE};
use crate::FirewallError;

pub async fn apply(script: &str) -> Result<(), FirewallError> {
    if script.is_empty() {
        return Ok(());
    }
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FirewallError::Spawn(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| FirewallError::Spawn(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| FirewallError::Spawn(e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    tracing::debug!(script = %script, "nft refused a transaction");
    Err(FirewallError::Nft(err))
}

/// Chains of cnm's table of one family as the kernel has them (start-up and healing only: the hot path
/// never reads the ruleset back). An absent table has none.
pub async fn chains(f: Family) -> Vec<String> {
    let out = tokio::process::Command::new("nft")
        .args(["-j", "list", "table", f.nft(), TABLE])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let Ok(out) = out else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    let v: serde_json::Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(_) => return Vec::new(),
    };
    v.get("nftables")
        .and_then(|a| a.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("chain"))
                .filter_map(|c| c.get("name").and_then(|n| n.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether cnm's tables are all there (the healing check).
pub async fn tables_present() -> bool {
    let out = tokio::process::Command::new("nft")
        .args(["list", "tables"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await;
    let Ok(out) = out else {
        return true;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    ["ip", "ip6"].iter().all(|f| {
        text.lines()
            .any(|l| l.trim() == format!("table {f} {TABLE}"))
    })
}
