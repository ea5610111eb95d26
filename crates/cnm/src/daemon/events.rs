//! `GET /events`: the daemon keeps the last events (for `since`) and streams new ones.
//!
//! moby keeps the last 256 events in memory and hands a subscriber that backlog and the live feed
//! under one lock, so nothing falls between the two; this does the same.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cnm_api::{ApiError, EventMessage, Filters};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::sync::broadcast;

use super::http::{text, Body, Req};
use super::Daemon;

/// How many past events `since` can reach back to (moby's `eventsLimit`).
const BACKLOG: usize = 256;

struct Inner {
    backlog: VecDeque<EventMessage>,
    live: broadcast::Sender<EventMessage>,
}

/// The daemon's event history and live feed.
pub struct EventLog {
    inner: Mutex<Inner>,
}

impl Default for EventLog {
    fn default() -> Self {
        let (live, _) = broadcast::channel(1024);
        EventLog {
            inner: Mutex::new(Inner {
                backlog: VecDeque::with_capacity(BACKLOG),
                live,
            }),
        }
    }
}

impl EventLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an event and hands it to every subscriber.
    pub fn publish(&self, msg: EventMessage) {
        let mut inner = self.lock();
        if inner.backlog.len() == BACKLOG {
            inner.backlog.pop_front();
        }
        inner.backlog.push_back(msg.clone());
        let _ = inner.live.send(msg);
    }

    /// An event the daemon itself reports (not the controller), e.g. `network prune`.
    pub fn publish_now(&self, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        let attributes = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.publish(EventMessage::new(kind, action, id, attributes, now_ns()));
    }

    /// The backlog and a receiver for what comes after it, taken atomically.
    fn subscribe(&self) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let inner = self.lock();
        (
            inner.backlog.iter().cloned().collect(),
            inner.live.subscribe(),
        )
    }

    /// Forwards the controller's events into the log for the daemon's lifetime.
    pub fn follow(daemon: &Arc<Daemon>) {
        let mut rx = daemon.ctl.subscribe();
        let d = Arc::downgrade(daemon);
        tokio::spawn(async move {
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "event log fell behind the controller");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(d) = d.upgrade() else { return };
                d.events.publish(from_controller(ev));
            }
        });
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// moby adds `image` (and the labels, which cnm's controller events do not carry) to every
/// container event; cnm has no images, so `image` is empty.
fn from_controller(ev: cnm_core::controller::Event) -> EventMessage {
    let mut attributes: BTreeMap<String, String> = ev.attributes;
    if ev.kind == "container" {
        attributes.entry("image".into()).or_default();
    }
    EventMessage::new(
        ev.kind,
        ev.action,
        &ev.id,
        attributes,
        ev.time_ns.min(i64::MAX as u128) as i64,
    )
}

/// The parsed query of `GET /events`.
struct Query {
    since: Option<i128>,
    until: Option<i128>,
    filters: Filters,
}

impl Query {
    fn parse(r: &Req) -> Result<Query, ApiError> {
        let since_text = r.query("since").unwrap_or("");
        let until_text = r.query("until").unwrap_or("");
        let since = cnm_api::parse_event_timestamp(since_text)?;
        let until = cnm_api::parse_event_timestamp(until_text)?;
        if let (Some(u), s) = (until, since.unwrap_or(0)) {
            if u < s {
                return Err(cnm_api::since_after_until(since_text, until_text));
            }
        }
        Ok(Query {
            since,
            until,
            filters: Filters::parse_opt(r.query("filters"))?,
        })
    }

    fn in_window(&self, m: &EventMessage) -> bool {
        let t = i128::from(m.time_nano);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

fn line(m: &EventMessage) -> Result<Frame<Bytes>, std::io::Error> {
    Ok(Frame::data(Bytes::from(cnm_api::to_json_body(m))))
}

/// `GET /events[?since=&until=&filters=]`: past events from `since` on (only when `since` is
/// given), then live ones until `until` or until the client goes away.
pub fn stream(d: &Arc<Daemon>, r: &Req) -> Result<hyper::Response<Body>, ApiError> {
    let q = Query::parse(r)?;
    let (backlog, mut live) = d.events.subscribe();
    let now = i128::from(now_ns());
    let only_past = q.until.is_some_and(|u| u < now);
    let deadline = q
        .until
        .filter(|_| !only_past)
        .map(|u| tokio::time::Instant::now() + Duration::from_nanos((u - now).max(0) as u64));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(64);
    tokio::spawn(async move {
        if q.since.is_some() {
            for m in backlog
                .iter()
                .filter(|m| q.in_window(m) && m.matches(&q.filters))
            {
                if tx.send(line(m)).await.is_err() {
                    return;
                }
            }
        }
        if only_past {
            return;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        loop {
            let m = tokio::select! {
                _ = &mut sleep => return,
                _ = tx.closed() => return,
                m = live.recv() => match m {
                    Ok(m) => m,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "events subscriber fell behind");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if q.in_window(&m) && m.matches(&q.filters) && tx.send(line(&m)).await.is_err() {
                return;
            }
        }
    });
    let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx)).boxed();
    Ok(text(200, r.version, "application/json", body))
}
