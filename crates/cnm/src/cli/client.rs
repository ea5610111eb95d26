//! A small synchronous HTTP/1.1 client over the daemon's unix socket. The CLI runs one request at a time,
//! so no async runtime is needed (and start-up stays fast).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use cnm_api::ApiError;

pub struct Client {
    socket: PathBuf,
}

#[derive(Debug)]
pub enum ClientError {
    Connect(PathBuf, std::io::Error),
    Io(std::io::Error),
    Api(ApiError),
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect(p, e) => write!(
                f,
                "Cannot connect to the cnm daemon at unix://{}. Is the cnm daemon running? ({e})",
                p.display()
            ),
            ClientError::Io(e) => write!(f, "error talking to the daemon: {e}"),
            ClientError::Api(e) => {
                write!(f, "Error response from daemon: {}", e.message.trim_end())
            }
            ClientError::Protocol(m) => write!(f, "bad response from daemon: {m}"),
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e)
    }
}

pub struct Response {
    pub status: u16,
    reader: BufReader<UnixStream>,
    chunked: bool,
    remaining: Option<usize>,
    done: bool,
}

impl Response {
    /// Next piece of the body, or None at its end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        if self.done {
            return Ok(None);
        }
        if self.chunked {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| ClientError::Protocol(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                let mut trailer = String::new();
                let _ = self.reader.read_line(&mut trailer);
                self.done = true;
                return Ok(None);
            }
            let mut buf = vec![0u8; size];
            self.reader.read_exact(&mut buf)?;
            let mut crlf = [0u8; 2];
            self.reader.read_exact(&mut crlf)?;
            return Ok(Some(buf));
        }
        match self.remaining {
            Some(0) => {
                self.done = true;
                Ok(None)
            }
            Some(n) => {
                let mut buf = vec![0u8; n.min(64 * 1024)];
                let got = self.reader.read(&mut buf)?;
                if got == 0 {
                    self.done = true;
                    return Ok(None);
                }
                buf.truncate(got);
                self.remaining = Some(n - got);
                Ok(Some(buf))
            }
            None => {
                let mut buf = vec![0u8; 64 * 1024];
                let got = self.reader.read(&mut buf)?;
                if got == 0 {
                    self.done = true;
                    return Ok(None);
                }
                buf.truncate(got);
                Ok(Some(buf))
            }
        }
    }

    pub fn body(mut self) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        while let Some(c) = self.next_chunk()? {
            out.extend(c);
        }
        Ok(out)
    }

    /// The body, or the daemon's error for a non-2xx status.
    pub fn ok_body(self) -> Result<Vec<u8>, ClientError> {
        let status = self.status;
        let body = self.body()?;
        if status >= 400 {
            return Err(ClientError::Api(ApiError::from_response(status, &body)));
        }
        Ok(body)
    }
}

impl Client {
    pub fn new(host: &str) -> Result<Self, String> {
        match host.strip_prefix("unix://") {
            Some(p) if !p.is_empty() => Ok(Client {
                socket: PathBuf::from(p),
            }),
            _ => Err(format!(
                "unsupported host {host:?}: use unix:///path/to/cnm.sock"
            )),
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| ClientError::Connect(self.socket.clone(), e))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: cnm\r\nUser-Agent: cnm-cli/{}\r\n",
            env!("CARGO_PKG_VERSION")
        );
        match body {
            Some(b) => head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            )),
            None if method == "POST" => head.push_str("Content-Length: 0\r\n"),
            None => {}
        }
        head.push_str("Connection: close\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        if let Some(b) = body {
            stream.write_all(b)?;
        }
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ClientError::Protocol(format!("bad status line {status_line:?}")))?;
        let mut chunked = false;
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim();
                if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
                if k == "content-length" {
                    length = v.parse().ok();
                }
            }
        }
        let no_body = method == "HEAD" || status == 204 || status == 304;
        Ok(Response {
            status,
            reader,
            chunked,
            remaining: if no_body { Some(0) } else { length },
            done: false,
        })
    }

    pub fn get(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.request("GET", path, None)?.ok_body()
    }

    pub fn post(&self, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>, ClientError> {
        self.request("POST", path, body)?.ok_body()
    }

    pub fn delete(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        self.request("DELETE", path, None)?.ok_body()
    }
}

/// Percent-encode one path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
