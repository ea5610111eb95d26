//! Running nft: one `nft -f -` per transaction, fed the script on stdin. A spawn costs a few ms, so the
//! attach path never calls this (an attach without ports changes no rule); network create, publish and
//! unpublish do, once each.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::io::AsyncWriteExt;

use crate::FirewallError;

/// Pids of the last nft processes cnm ran. The kernel names the sender of every transaction in its
/// notifications, so the healer can skip cnm's own (applies are serialized: one is in flight at a
/// time, and a few are plenty to remember).
static OWN: Mutex<VecDeque<u32>> = Mutex::new(VecDeque::new());
const OWN_KEPT: usize = 8;

fn remember(pid: u32) {
    let mut own = OWN.lock().unwrap_or_else(|p| p.into_inner());
    if own.len() == OWN_KEPT {
        own.pop_front();
    }
    own.push_back(pid);
}

/// Whether `pid` is one of the nft processes cnm ran lately.
pub fn is_own(pid: u32) -> bool {
    OWN.lock().unwrap_or_else(|p| p.into_inner()).contains(&pid)
}

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
    // Known before nft can commit anything (it reads the script first).
    if let Some(pid) = child.id() {
        remember(pid);
    }
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
