//! Self-healing: put cnm's ruleset back when someone else changes it (`nft flush ruleset`,
//! `nft delete table ip cnm`, `nft flush chain ip cnm nat-PREROUTING`, a firewall manager reloading).
//!
//! Event-driven and in-process. The kernel announces every committed nf_tables transaction on a
//! netlink multicast group (`cnm_linux::nftmon`); a transaction that touched `table ip cnm` or
//! `table ip6 cnm` and was not sent by one of cnm's own nft processes wakes the checker, which waits
//! for the burst to end, takes the apply lock (so it never looks at the kernel in the middle of cnm's
//! own transaction) and compares the kernel with the desired state over netlink dumps
//! (`cnm_linux::nftdump`, `expect.rs`). Only a difference makes it replace the whole state. Nothing
//! is spawned unless there is something to restore. A slow poll runs the same check in case the
//! socket stops delivering; without a socket at all, the poll runs at the old healer's pace.

use std::sync::Arc;
use std::time::Duration;

use cnm_linux::nftmon::{Monitor, Notification, Received, Subscription};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::expect::{self, Missing};
use crate::render::{Family, TABLE};
use crate::{nft, NftFirewall};

/// A burst (`nft flush ruleset` then `nft -f rules.nft`, a firewall manager's reload) is checked once,
/// this long after its last transaction.
const QUIET: Duration = Duration::from_millis(30);
/// A stream of changes that never pauses is still checked this often.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// The check without any notification: in case the socket stops delivering without an error.
const SAFETY_POLL: Duration = Duration::from_secs(20);
/// Without notifications at all (no socket): the pace of the old healer.
const FALLBACK_POLL: Duration = Duration::from_millis(300);

/// What wakes the checker.
#[derive(Debug)]
pub(crate) enum Wake {
    /// A transaction of someone else's touched cnm's tables; who sent it.
    Foreign(String),
    /// Notifications were lost: anything may have changed.
    Lost,
    /// The subscription was paused for one of cnm's own transactions (see [`Pauser`]): whatever
    /// someone else did meanwhile went unannounced. False: it could not be resumed.
    Resumed(bool),
    /// The socket failed: no more notifications.
    Broken,
}

/// Why a check runs (logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Start,
    Change,
    Resumed,
    Poll,
}

/// Lets cnm's own big transactions go unannounced: with a subscriber, the kernel builds a
/// notification per map element inside the committing transaction (≈ 3–4 µs each, +30–40 ms for a
/// 10,000-port translated range), only for the healer to skip them as cnm's own. Paused around such a
/// transaction, resumed after it, and a check follows at once (it waits for the apply lock, so it
/// looks after the transaction), which sees whatever someone else changed during the pause.
pub(crate) struct Pauser {
    sub: Subscription,
    wake: mpsc::Sender<Wake>,
}

impl Pauser {
    /// Whether it is paused now (a failure only costs the notifications' price).
    pub(crate) fn pause(&self) -> bool {
        match self.sub.pause() {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "cannot pause nf_tables notifications");
                false
            }
        }
    }

    pub(crate) fn resume(&self) {
        let ok = match self.sub.resume() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot resume nf_tables notifications");
                false
            }
        };
        // A full channel already holds a wake-up, and every wake-up is followed by a check.
        let _ = self.wake.try_send(Wake::Resumed(ok));
    }
}

/// What the checker remembers between checks.
#[derive(Default)]
struct State {
    /// What a full replacement could not put right (the kernel refuses part of the state): not tried
    /// again until the difference changes, or the healer would replace the ruleset in a loop.
    stuck: Option<Vec<Missing>>,
    /// The kernel could not be read; logged once until it can again.
    unreadable: bool,
}

fn families() -> [u8; 2] {
    Family::ALL.map(Family::nfproto)
}

impl NftFirewall {
    /// Start watching for changes to cnm's tables made by others and restoring them.
    pub fn spawn_healer(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = Arc::clone(self);
        tokio::spawn(async move { me.heal().await })
    }

    async fn heal(self: Arc<Self>) {
        let (tx, mut rx) = mpsc::channel(64);
        // Opened on a runtime thread, which is in the daemon's namespace (no thread of the pool ever
        // enters another one).
        let mut watching = match Monitor::open() {
            Ok(mon) => {
                match mon.subscription() {
                    Ok(sub) => {
                        let _ = self.pauser.set(Pauser {
                            sub,
                            wake: tx.clone(),
                        });
                    }
                    Err(e) => tracing::debug!(error = %e, "big transactions will be announced"),
                }
                tokio::spawn(watch(mon, tx));
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot subscribe to nf_tables notifications; checking cnm's nftables tables every 300 ms instead");
                false
            }
        };
        let mut st = State::default();
        // What changed between the start-up replacement and the subscription.
        self.check(&mut st, Why::Start, None, None).await;
        let mut poll = poller(if watching { SAFETY_POLL } else { FALLBACK_POLL });
        let mut due: Option<Instant> = None;
        let mut first: Option<Instant> = None;
        let mut by: Option<String> = None;
        let mut why = Why::Change;
        loop {
            tokio::select! {
                w = rx.recv(), if watching => {
                    let now = Instant::now();
                    let start = *first.get_or_insert(now);
                    match w {
                        Some(Wake::Foreign(who)) => {
                            tracing::debug!(by = %who, "cnm's nftables tables changed; checking once it settles");
                            by = Some(who);
                            why = Why::Change;
                            due = Some((now + QUIET).min(start + MAX_WAIT));
                        }
                        Some(Wake::Lost) => due = Some(now),
                        Some(Wake::Resumed(true)) => {
                            if by.is_none() {
                                why = Why::Resumed;
                            }
                            due = Some(now);
                        }
                        Some(Wake::Resumed(false)) | Some(Wake::Broken) | None => {
                            tracing::warn!("nf_tables notifications stopped; checking cnm's nftables tables every 300 ms instead");
                            watching = false;
                            poll = poller(FALLBACK_POLL);
                            due = Some(now);
                        }
                    }
                }
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    due = None;
                    let since = first.take();
                    let w = std::mem::replace(&mut why, Why::Change);
                    self.check(&mut st, w, by.take(), since).await;
                }
                _ = poll.tick() => self.check(&mut st, Why::Poll, None, None).await,
            }
        }
    }

    /// Compare the kernel with the desired state and, if something is missing, replace the whole
    /// state. Under the apply lock: cnm's own transactions are never half-seen, and the state checked
    /// against is the one the kernel was last given. `since`: when the change was first heard of.
    async fn check(&self, st: &mut State, why: Why, by: Option<String>, since: Option<Instant>) {
        let _g = self.apply.lock().await;
        let inv = match crate::inventory().await {
            Ok(inv) => {
                if std::mem::take(&mut st.unreadable) {
                    tracing::info!("cnm's nftables tables can be read again");
                }
                inv
            }
            Err(e) => {
                if !std::mem::replace(&mut st.unreadable, true) {
                    tracing::warn!(error = %e, "cannot read cnm's nftables tables; will try again");
                }
                return;
            }
        };
        let want = expect::expected(&self.desired_nets());
        let missing = want.missing(&inv);
        if missing.is_empty() {
            st.stuck = None;
            if why == Why::Poll {
                tracing::trace!("cnm's nftables ruleset is intact");
            } else {
                tracing::debug!(check = ?why, "cnm's nftables ruleset is intact");
            }
            return;
        }
        if st.stuck.as_ref() == Some(&missing) {
            tracing::debug!(missing = %expect::summary(&missing), "still as the last replacement left it");
            return;
        }
        let what = expect::summary(&missing);
        let by = by.unwrap_or_else(|| "unknown".into());
        if let Err(e) = self.apply_full_locked_with(Some(&inv)).await {
            tracing::error!(error = %e, missing = %what, "restoring cnm's nftables ruleset failed");
            return;
        }
        let left = match crate::inventory().await {
            Ok(inv) => want.missing(&inv),
            Err(_) => Vec::new(),
        };
        if left.is_empty() {
            st.stuck = None;
            // How long after the change was heard of (the kernel announces a transaction as it commits).
            let after_ms = since.map(|t| t.elapsed().as_millis());
            tracing::warn!(missing = %what, by = %by, after_ms, "cnm's nftables ruleset was changed by someone else; restored it");
        } else {
            tracing::error!(
                missing = %what,
                left = %expect::summary(&left),
                "replacing cnm's nftables ruleset did not bring everything back; not trying again until it changes"
            );
            st.stuck = Some(left);
        }
    }
}

fn poller(period: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval_at(Instant::now() + period, period);
    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    i
}

/// Read notifications and wake the checker at the end of every transaction of someone else's that
/// touched cnm's tables. Returns, after telling the checker, when the socket fails.
async fn watch(mut mon: Monitor, tx: mpsc::Sender<Wake>) {
    let fams = families();
    // Whether the transaction being announced has touched cnm's tables so far; its generation
    // message, last, names the sender.
    let mut touched = false;
    loop {
        match mon.recv().await {
            Ok(Received::Notifications(ns)) => {
                for n in ns {
                    match n {
                        Notification::Change(c) => touched |= c.touches(TABLE, &fams),
                        Notification::Generation(g) => {
                            if std::mem::take(&mut touched) && !nft::is_own(g.pid) {
                                let who = format!(
                                    "{} (pid {})",
                                    g.proc_name.as_deref().unwrap_or("?"),
                                    g.pid
                                );
                                // A full channel already holds a wake-up: nothing is lost.
                                let _ = tx.try_send(Wake::Foreign(who));
                            }
                        }
                    }
                }
            }
            Ok(Received::Lost) => {
                touched = false;
                tracing::debug!("nf_tables notifications lost; checking at once");
                let _ = tx.try_send(Wake::Lost);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading nf_tables notifications failed");
                // The checker's channel stays open (the pauser holds a sender too): say so.
                let _ = tx.send(Wake::Broken).await;
                return;
            }
        }
    }
}
