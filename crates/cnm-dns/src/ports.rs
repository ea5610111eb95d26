//! The ports each running resolver listens on, one tiny file per sandbox (`UDP TCP`), so that a
//! restarted daemon can bind the same ports again and keep the redirect already in the namespace:
//! replacing nf_tables rules makes the kernel wait ~10 ms per sandbox, creating them costs ~0.2 ms.

use std::path::{Path, PathBuf};

pub fn read(path: &Path) -> Option<(u16, u16)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u16>().ok());
    match (it.next()??, it.next()??) {
        (0, _) | (_, 0) => None,
        ports => Some(ports),
    }
}

pub fn write(path: &Path, (udp, tcp): (u16, u16)) -> std::io::Result<()> {
    std::fs::write(path, format!("{udp} {tcp}\n"))
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Sandbox ids with a record.
pub fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Where the records live under the daemon's exec-root.
pub fn dir(exec_root: &Path) -> PathBuf {
    exec_root.join("dns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_ignored() {
        let d = tempfile::tempdir().expect("dir");
        let p = d.path().join("sb1");
        assert_eq!(read(&p), None);
        write(&p, (40000, 40001)).expect("write");
        assert_eq!(read(&p), Some((40000, 40001)));
        assert_eq!(list(d.path()), ["sb1"]);
        for bad in ["", "1", "0 5", "x y", "70000 1"] {
            std::fs::write(&p, bad).expect("write");
            assert_eq!(read(&p), None, "{bad:?}");
        }
        remove(&p);
        assert!(list(d.path()).is_empty());
    }
}
