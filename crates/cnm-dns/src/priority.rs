//! Scheduling of the resolver's UDP thread: a latency class while it is cheap, a fair share when it
//! is not.
//!
//! Why real-time and not only a negative nice: on a host with session autogroups (the kernel default
//! when `sched_autogroup_enabled` is 1) or with per-service CPU cgroups, a thread's nice value only
//! orders it against the threads of its own group; every other group (a build in another session, a
//! busy container) still gets its equal share first, and the woken resolver waits for the end of
//! their slices, a tick (4 ms at HZ=250) and more. Measured here with three other sessions building
//! on 2 cores: nice -10 on the daemon left p99 at 1.2-4.5 ms at 10k q/s, SCHED_FIFO brought it under
//! 0.3 ms (docs/performance.md, Embedded DNS). Only the real-time class is ordered above all groups.
//!
//! Why a budget: a real-time thread that a container can keep busy by flooding 127.0.0.11 would take
//! a whole CPU from the host. So the thread measures its own CPU time per window and goes back to the
//! normal class (keeping its negative nice) while it uses more than `DEMOTE_ABOVE` of a CPU, and
//! returns to real-time after a window under `PROMOTE_BELOW`. At 10k q/s it uses 10-15% on average
//! here (a wake-up, two system calls and the loopback delivery per query on a VM), with windows of
//! 100 ms reaching 28%. The budget is 90% of a CPU, two windows in a row: a demoted thread gets about
//! that share of a contended CPU anyway (nice -10 weighs 9.3 times nice 0), so real-time under it takes
//! nothing from the host that fair scheduling would not, and a busy moment does not demote a busy
//! resolver for the rest of its load. What leaves real-time is a stream that would use a whole CPU:
//! a flood, and also dnsperf at full rate, which then gets 105-127k q/s here in the normal class
//! against about 147k it would get real-time (measured with the budget lifted; docs/performance.md).
//! That third is the price of never letting a container's queries hold a CPU at real-time priority
//! (on a one-CPU host that would leave everything else the kernel's 5% real-time throttling margin).
//!
//! When the daemon may not change its scheduling (no CAP_SYS_NICE, a container without it, an
//! RT-group cgroup without runtime), it says so once and serves at the normal priority.

use std::time::{Duration, Instant};

/// Real-time priority of the UDP thread: the lowest, above every normal task and below every
/// real-time thread the host has (interrupt threads, watchdogs, audio).
const RT_PRIORITY: libc::c_int = 1;
/// Nice value of the thread in the normal class (and while demoted).
const NICE: libc::c_int = -10;
/// Length of one accounting window.
const WINDOW: Duration = Duration::from_millis(200);
/// Share of one CPU above which the thread gives up real-time for the next window.
const DEMOTE_ABOVE: f64 = 0.9;
/// Consecutive windows over the budget before the thread leaves real-time: a busy resolver near the
/// budget has single windows above it (a burst, a page fault), and once demoted it would stay so for
/// the rest of the load; a flood is over it in every window.
const DEMOTE_AFTER: u32 = 2;
/// Share of one CPU under which a demoted thread takes real-time again.
const PROMOTE_BELOW: f64 = 0.2;

/// What the thread runs at now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// SCHED_FIFO, `RT_PRIORITY`.
    RealTime,
    /// SCHED_OTHER (with `NICE` when permitted).
    Normal,
}

fn set_fifo(on: bool) -> std::io::Result<()> {
    let param = libc::sched_param {
        sched_priority: if on { RT_PRIORITY } else { 0 },
    };
    let policy = if on {
        libc::SCHED_FIFO
    } else {
        libc::SCHED_OTHER
    };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn set_nice(nice: libc::c_int) -> std::io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // On Linux PRIO_PROCESS with a thread id sets that thread's nice value only.
    // SAFETY: plain system call with integer arguments.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime only writes the timespec it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the clock id is valid on Linux.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The calling thread's scheduling, with its CPU budget. Made and used on the UDP thread only.
pub struct Priority {
    /// Whether real-time was granted at all (if not, never tried again).
    rt_allowed: bool,
    class: Class,
    window_start: Instant,
    cpu_at_start: Duration,
    demotions: u64,
    /// Consecutive windows over the budget so far.
    windows_over: u32,
}

impl Priority {
    /// Raise the calling thread: nice `NICE`, then SCHED_FIFO. Logs what it got.
    pub fn raise() -> Self {
        let nice = set_nice(NICE);
        let rt = set_fifo(true);
        match (&rt, &nice) {
            (Ok(()), _) => tracing::info!(
                rt_priority = RT_PRIORITY,
                nice = NICE,
                "DNS UDP thread: real-time scheduling (SCHED_FIFO) within a CPU budget"
            ),
            (Err(e), Ok(())) => tracing::warn!(
                error = %e,
                nice = NICE,
                "DNS UDP thread: real-time scheduling not permitted; normal class with a negative nice"
            ),
            (Err(e), Err(n)) => tracing::warn!(
                error = %e,
                nice_error = %n,
                "DNS UDP thread: raising its priority not permitted; normal priority"
            ),
        }
        Priority {
            rt_allowed: rt.is_ok(),
            class: if rt.is_ok() {
                Class::RealTime
            } else {
                Class::Normal
            },
            window_start: Instant::now(),
            cpu_at_start: thread_cpu(),
            demotions: 0,
            windows_over: 0,
        }
    }

    pub fn class(&self) -> Class {
        self.class
    }

    /// Called once per loop turn: at the end of each window, compare the CPU used with the budget
    /// and change class if needed. Cheap between windows (one clock read).
    pub fn check(&mut self) {
        if !self.rt_allowed {
            return;
        }
        let now = Instant::now();
        let wall = now.duration_since(self.window_start);
        if wall < WINDOW {
            return;
        }
        let cpu = thread_cpu();
        let share = cpu.saturating_sub(self.cpu_at_start).as_secs_f64() / wall.as_secs_f64();
        self.window_start = now;
        self.cpu_at_start = cpu;
        self.apply(share);
    }

    fn apply(&mut self, share: f64) {
        self.windows_over = if share > DEMOTE_ABOVE {
            self.windows_over + 1
        } else {
            0
        };
        match self.class {
            Class::RealTime if self.windows_over >= DEMOTE_AFTER => {
                if let Err(e) = set_fifo(false) {
                    tracing::warn!(error = %e, "DNS UDP thread: could not leave real-time");
                    return;
                }
                self.class = Class::Normal;
                self.demotions += 1;
                // The first time says why; a flood may flip it often, which is only worth a debug.
                if self.demotions == 1 {
                    tracing::info!(
                        cpu_percent = (share * 100.0).round(),
                        "DNS UDP thread over its real-time CPU budget: fair scheduling until the load drops"
                    );
                } else {
                    tracing::debug!(
                        cpu_percent = (share * 100.0).round(),
                        "DNS UDP thread demoted"
                    );
                }
            }
            Class::Normal if share < PROMOTE_BELOW && set_fifo(true).is_ok() => {
                self.class = Class::RealTime;
                tracing::debug!(
                    cpu_percent = (share * 100.0).round(),
                    "DNS UDP thread real-time again"
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_leaves_real_time_and_an_idle_one_returns() {
        // Runs on a thread of its own: the test harness's threads must keep their scheduling.
        std::thread::spawn(|| {
            let mut p = Priority::raise();
            if !p.rt_allowed {
                // Not root / no CAP_SYS_NICE: nothing to switch; the daemon logs the same.
                assert_eq!(p.class(), Class::Normal);
                return;
            }
            assert_eq!(p.class(), Class::RealTime);
            p.apply(0.05);
            assert_eq!(p.class(), Class::RealTime, "under budget: stays");
            p.apply(0.85);
            assert_eq!(
                p.class(),
                Class::RealTime,
                "a busy resolver, under budget: stays"
            );
            p.apply(0.99);
            assert_eq!(p.class(), Class::RealTime, "one window over budget: stays");
            p.apply(0.5);
            p.apply(0.99);
            assert_eq!(p.class(), Class::RealTime, "not two in a row: stays");
            p.apply(0.99);
            assert_eq!(p.class(), Class::Normal, "two windows over budget: demoted");
            // SAFETY: reading this thread's policy.
            assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
            p.apply(0.3);
            assert_eq!(
                p.class(),
                Class::Normal,
                "between the thresholds: no flapping"
            );
            p.apply(0.01);
            assert_eq!(p.class(), Class::RealTime, "idle again: promoted");
            // SAFETY: as above.
            assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_FIFO);
            // A busy loop that calls `check` every turn, as the UDP loop does, must leave real-time
            // within a few windows. Several windows, not one: on a VM, steal time advances the wall
            // clock without advancing the thread's CPU clock, so one window can read under budget.
            p.window_start = Instant::now();
            p.cpu_at_start = thread_cpu();
            let t0 = Instant::now();
            while p.class() == Class::RealTime && t0.elapsed() < WINDOW * 25 {
                std::hint::spin_loop();
                p.check();
            }
            assert_eq!(
                p.class(),
                Class::Normal,
                "a thread spinning for {:?} stayed real-time",
                t0.elapsed()
            );
        })
        .join()
        .expect("thread");
    }
}
