//! Give freed heap back to the kernel. glibc keeps freed memory in its arenas, so after a burst (a
//! thousand starts, a 10,000-port publish) the daemon's RSS would stay at its high-water mark for good.
//! `malloc_trim` returns every free page, also from the middle of the heap; on a heap of a few tens of
//! megabytes it takes well under a millisecond, so doing it every few seconds costs nothing noticeable.

use std::time::Duration;

const EVERY: Duration = Duration::from_secs(5);

pub fn spawn_trimmer() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // SAFETY: malloc_trim only walks the allocator's own free lists.
            let released = unsafe { libc::malloc_trim(0) };
            if released != 0 {
                tracing::trace!("freed heap returned to the kernel");
            }
        }
    });
}
