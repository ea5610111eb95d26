//! Where the time of one multi-step operation went. The daemon sends it in the `Server-Timing` header of
//! the response, so a benchmark (or a user with `curl -v`) can see which step grows, without a profiler.

use std::time::{Duration, Instant};

/// Laps of one operation, in the order they first happened; a step that repeats (one join per network)
/// adds to its lap.
#[derive(Debug, Clone)]
pub struct Phases {
    mark: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Default for Phases {
    fn default() -> Self {
        Self::start()
    }
}

impl Phases {
    pub fn start() -> Self {
        Self {
            mark: Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Close the running step under `name` and start the next one.
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        let took = now - self.mark;
        self.mark = now;
        match self.laps.iter_mut().find(|(n, _)| *n == name) {
            Some((_, d)) => *d += took,
            None => self.laps.push((name, took)),
        }
    }

    pub fn laps(&self) -> &[(&'static str, Duration)] {
        &self.laps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_step_adds_to_its_lap_and_keeps_its_place() {
        let mut p = Phases::start();
        std::thread::sleep(Duration::from_millis(2));
        p.lap("join");
        p.lap("configure");
        std::thread::sleep(Duration::from_millis(2));
        p.lap("join");
        let names: Vec<_> = p.laps().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["join", "configure"]);
        assert!(p.laps()[0].1 >= Duration::from_millis(4));
    }
}
