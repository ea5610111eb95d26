//! Network namespaces made ahead of time. Making a namespace (`unshare` plus the kernel's per-namespace
//! setup) is the largest single cost of an attach; a few spare namespaces, made in the background after
//! each attach, let the next one take a ready namespace in a few syscalls instead. When attaches come
//! faster than spares are made, they make their own, as without the pool.
//!
//! Spares live in a directory of their own (a private mount, like the sandbox directory), never in the
//! sandbox directory, so nothing that lists sandboxes sees them. A daemon start drops the spares of the
//! previous run and makes new ones.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cnm_linux::netns;

/// Spare namespaces kept ready: enough for a short burst of starts, a few hundred KB of kernel memory.
pub const SPARES: usize = 4;

pub struct SparePool {
    dir: PathBuf,
    ready: Mutex<Vec<PathBuf>>,
    filling: AtomicBool,
    seq: AtomicU64,
    target: usize,
}

impl SparePool {
    /// A pool at `dir`, emptied of a previous run's spares; it fills on the first `replenish`.
    pub fn new(dir: PathBuf, target: usize) -> Result<Arc<Self>, cnm_linux::LinuxError> {
        netns::prepare_dir(&dir)?;
        for name in netns::list(&dir) {
            if let Err(e) = netns::remove(&dir.join(&name)) {
                tracing::warn!(spare = %name, error = %e, "could not drop an old spare namespace");
            }
        }
        Ok(Arc::new(SparePool {
            dir,
            ready: Mutex::new(Vec::new()),
            filling: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            target,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bind a ready namespace at `key`. False when none is ready (the caller makes one).
    pub fn take_into(&self, key: &Path) -> bool {
        let Some(spare) = self.ready().pop() else {
            return false;
        };
        match netns::adopt(&spare, key) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(spare = %spare.display(), error = %e, "spare namespace unusable");
                let _ = netns::remove(&spare);
                false
            }
        }
    }

    /// Drop every ready spare (clean shutdown; a killed daemon's spares go at the next start).
    pub fn drain(&self) {
        for spare in std::mem::take(&mut *self.ready()) {
            if let Err(e) = netns::remove(&spare) {
                tracing::warn!(spare = %spare.display(), error = %e, "could not drop a spare namespace");
            }
        }
    }

    /// Make spares until the pool is full, in the background; at most one filler runs at a time.
    pub fn replenish(self: &Arc<Self>) {
        if self.target == 0 || self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            while pool.ready().len() < pool.target {
                let n = pool.seq.fetch_add(1, Ordering::Relaxed);
                let path = pool.dir.join(format!("spare-{}-{n}", std::process::id()));
                match netns::create(&path).await {
                    Ok(()) => pool.ready().push(path),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not make a spare namespace");
                        break;
                    }
                }
            }
            pool.filling.store(false, Ordering::Release);
        });
    }
}
