//! A long-lived OS thread that runs short jobs inside other network namespaces: each job names the
//! namespace (an open namespace file, or the thread's home namespace) and the thread `setns`es into it
//! first. Sockets keep the namespace they were created in, so a job typically makes a socket and hands
//! it back. This avoids spawning a thread per job (`NsThread`) on hot paths: a resolver start at
//! attach, or an upstream socket inside a container's namespace per forwarded query.

use std::fs::File;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::sync::Arc;

use nix::sched::{setns, CloneFlags};

use crate::error::{LinuxError, Result};

type Job = Box<dyn FnOnce(&File) + Send>;

/// Handle to the worker thread; cheap to clone.
#[derive(Clone)]
pub struct NsWorker {
    tx: mpsc::Sender<Job>,
}

impl NsWorker {
    /// Start the worker. Its home namespace is the caller's at this moment.
    pub fn spawn(name: &str) -> Result<Self> {
        let home = File::open("/proc/thread-self/ns/net")
            .map_err(|e| LinuxError::io("open own network namespace", e))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.into())
            .stack_size(256 * 1024)
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    // A panicking job must not take the worker down with it.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&home)));
                    // Go home again: a thread inside a namespace keeps it alive, and a sandbox's
                    // namespace must die (taking its interfaces along) as soon as it is dropped.
                    if let Err(errno) = setns(home.as_fd(), CloneFlags::CLONE_NEWNET) {
                        tracing::error!(%errno, "namespace worker cannot return home");
                    }
                }
            })
            .map_err(|e| LinuxError::io("spawn namespace worker", e))?;
        Ok(NsWorker { tx })
    }

    /// Run `f` inside the namespace `ns` (None: the worker's home namespace) and await its result.
    pub async fn run<T, F>(&self, ns: Option<Arc<File>>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |home: &File| {
            let target: &File = ns.as_deref().unwrap_or(home);
            let res = setns(target.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|errno| LinuxError::Errno {
                    op: "setns (namespace worker)".into(),
                    errno,
                })
                .and_then(|()| f());
            let _ = tx.send(res);
        });
        self.tx
            .send(job)
            .map_err(|_| LinuxError::Thread("namespace worker is gone".into()))?;
        rx.await
            .map_err(|_| LinuxError::Thread("namespace worker job panicked".into()))?
    }
}
