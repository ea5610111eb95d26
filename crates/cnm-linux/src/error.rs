use std::io;

/// Errors from kernel operations. The errno is kept typed so callers can tell
/// "already exists" or "no such device" apart from real failures.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },
    #[error("{op}: {errno}")]
    Errno {
        op: String,
        errno: nix::errno::Errno,
    },
    #[error("{op}: {message}")]
    Netlink {
        op: String,
        message: String,
        errno: Option<nix::errno::Errno>,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("namespace thread failed: {0}")]
    Thread(String),
}

impl LinuxError {
    pub fn io(op: impl Into<String>, source: io::Error) -> Self {
        LinuxError::Io {
            op: op.into(),
            source,
        }
    }

    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            LinuxError::Io { source, .. } => source.raw_os_error().map(nix::errno::Errno::from_raw),
            LinuxError::Errno { errno, .. } => Some(*errno),
            LinuxError::Netlink { errno, .. } => *errno,
            LinuxError::NotFound(_) => Some(nix::errno::Errno::ENODEV),
            LinuxError::Thread(_) => None,
        }
    }

    /// EXFULL: a bridge refusing another port (it holds at most 1023).
    pub fn is_full(&self) -> bool {
        self.errno() == Some(nix::errno::Errno::EXFULL)
    }

    pub fn is_exists(&self) -> bool {
        self.errno() == Some(nix::errno::Errno::EEXIST)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(nix::errno::Errno::ENODEV)
                | Some(nix::errno::Errno::ENOENT)
                | Some(nix::errno::Errno::ESRCH)
        )
    }

    pub(crate) fn netlink(op: impl Into<String>, err: rtnetlink::Error) -> Self {
        let errno = match &err {
            rtnetlink::Error::NetlinkError(m) => {
                m.code.map(|c| nix::errno::Errno::from_raw(-c.get()))
            }
            _ => None,
        };
        let message = match errno {
            Some(e) => e.desc().to_string(),
            None => err.to_string(),
        };
        LinuxError::Netlink {
            op: op.into(),
            message,
            errno,
        }
    }
}

pub type Result<T> = std::result::Result<T, LinuxError>;
