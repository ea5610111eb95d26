//! Docker's multiplexed stream (`application/vnd.docker.multiplexed-stream`) used by logs, attach
//! and exec output when there is no TTY.
//!
//! Each frame: 8-byte header `[stream, 0, 0, 0, len_be32…]` then `len` payload bytes.

use thiserror::Error;

/// The stream a frame belongs to (header byte 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// 0.
    Stdin,
    /// 1.
    Stdout,
    /// 2.
    Stderr,
    /// 3: an error message from the daemon (moby's `Systemerr`).
    Systemerr,
}

impl StreamKind {
    /// The header byte.
    pub fn byte(self) -> u8 {
        match self {
            StreamKind::Stdin => 0,
            StreamKind::Stdout => 1,
            StreamKind::Stderr => 2,
            StreamKind::Systemerr => 3,
        }
    }

    /// From a header byte.
    pub fn from_byte(b: u8) -> Option<StreamKind> {
        match b {
            0 => Some(StreamKind::Stdin),
            1 => Some(StreamKind::Stdout),
            2 => Some(StreamKind::Stderr),
            3 => Some(StreamKind::Systemerr),
            _ => None,
        }
    }
}

/// Length of a frame header.
pub const HEADER_LEN: usize = 8;

/// Frames `data` for `stream`. Empty data gives no bytes (Docker never writes empty frames); data
/// longer than `u32::MAX` is split into several frames.
pub fn frame(stream: StreamKind, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + HEADER_LEN);
    for chunk in data.chunks(u32::MAX as usize) {
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
        out.push(stream.byte());
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Error of [`Demuxer`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DemuxError {
    /// The header's stream byte is not 0–3 (the stream is probably a raw TTY stream).
    #[error("unrecognized stream type {0} in multiplexed stream header")]
    BadStream(u8),
}

/// Incremental decoder of the multiplexed stream: feed byte chunks of any size, take whole frames.
#[derive(Debug, Default, Clone)]
pub struct Demuxer {
    buf: Vec<u8>,
    pos: usize,
}

impl Demuxer {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<(StreamKind, Vec<u8>)>, DemuxError> {
        let avail = &self.buf[self.pos..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind = StreamKind::from_byte(avail[0]).ok_or(DemuxError::BadStream(avail[0]))?;
        let len = u32::from_be_bytes([avail[4], avail[5], avail[6], avail[7]]) as usize;
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.pos += HEADER_LEN + len;
        if self.pos > 64 * 1024 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        Ok(Some((kind, payload)))
    }

    /// Pushes `chunk` and returns every frame completed by it.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<(StreamKind, Vec<u8>)>, DemuxError> {
        self.push(chunk);
        let mut frames = Vec::new();
        while let Some(f) = self.next_frame()? {
            frames.push(f);
        }
        Ok(frames)
    }

    /// Bytes received but not yet part of a complete frame (non-zero at end of stream means the
    /// stream was cut).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        assert_eq!(
            frame(StreamKind::Stdout, b"hi\n"),
            vec![1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        assert_eq!(frame(StreamKind::Stderr, b""), Vec::<u8>::new());
        let big = vec![7u8; 300];
        let f = frame(StreamKind::Stdin, &big);
        assert_eq!(&f[..8], &[0, 0, 0, 0, 0, 0, 1, 44]);
    }

    #[test]
    fn split_at_every_position() {
        let frames: Vec<(StreamKind, Vec<u8>)> = vec![
            (StreamKind::Stdout, b"hello\n".to_vec()),
            (StreamKind::Stderr, b"oops".to_vec()),
            (StreamKind::Stdout, vec![0u8, 1, 2, 255]),
            (StreamKind::Systemerr, b"x".to_vec()),
        ];
        let mut wire = Vec::new();
        for (k, d) in &frames {
            wire.extend(frame(*k, d));
        }
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                let mut d = Demuxer::new();
                let mut got = d.feed(&wire[..i]).expect("a");
                got.extend(d.feed(&wire[i..j]).expect("b"));
                got.extend(d.feed(&wire[j..]).expect("c"));
                assert_eq!(got, frames, "split at {i},{j}");
                assert_eq!(d.pending(), 0);
            }
        }
        // byte by byte
        let mut d = Demuxer::new();
        let mut got = Vec::new();
        for b in &wire {
            got.extend(d.feed(std::slice::from_ref(b)).expect("byte"));
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn bad_stream_byte() {
        let mut d = Demuxer::new();
        assert_eq!(
            d.feed(b"hello world").expect_err("raw"),
            DemuxError::BadStream(b'h')
        );
        let mut d = Demuxer::new();
        d.push(&[1, 0, 0, 0, 0, 0, 0, 5, b'a']);
        assert_eq!(d.next_frame().expect("partial"), None);
        assert_eq!(d.pending(), 9);
    }
}
