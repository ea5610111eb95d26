//! The HTTP/1.1 server on the unix socket: version prefix, body limit, Docker's response headers, and
//! one tracing span per request. Routing itself is in `routes`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use cnm_api::{ApiError, ApiVersion};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tracing::Instrument;

use super::Daemon;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// Requests with larger bodies are refused with 413.
pub const MAX_BODY: usize = 1024 * 1024;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The `Server` header (Docker sends `Docker/<version> (linux)`).
pub fn server_header() -> String {
    format!("cnm/{} (linux)", env!("CARGO_PKG_VERSION"))
}

/// Docker's response headers, in Docker's order. `Api-Version` is always the version the daemon
/// claims, whatever prefix the request used: that is what clients negotiate down from (moby's version
/// middleware does the same). The client's version (`_version` of the callers) only shapes bodies.
fn base(status: u16, content_type: Option<&str>) -> hyper::http::response::Builder {
    let b = Response::builder()
        .status(status)
        .header("Api-Version", ApiVersion::CURRENT.to_string());
    let b = match content_type {
        Some(ct) => b.header("Content-Type", ct),
        None => b,
    };
    b.header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header("Server", server_header())
}

pub fn json(status: u16, _version: ApiVersion, body: String) -> Response<Body> {
    base(status, Some("application/json"))
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

pub fn empty(status: u16, _version: ApiVersion) -> Response<Body> {
    let b = base(status, None);
    let b = if status == 204 || status == 304 {
        b
    } else {
        b.header("Content-Length", "0")
    };
    b.body(full("")).unwrap_or_else(|_| Response::new(full("")))
}

pub fn text(status: u16, _version: ApiVersion, content_type: &str, body: Body) -> Response<Body> {
    base(status, Some(content_type))
        .body(body)
        .unwrap_or_else(|_| Response::new(full("")))
}

pub fn error(e: &ApiError, version: ApiVersion) -> Response<Body> {
    json(e.status, version, e.body())
}

/// A parsed request, handed to the router.
pub struct Req {
    pub method: hyper::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub version: ApiVersion,
}

impl Req {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.query(key),
            Some("1") | Some("true") | Some("True") | Some("yes")
        )
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_path(s: &str) -> String {
    // '+' is literal in paths; only %XX is decoded.
    percent_decode(&s.replace('+', "%2B"))
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

async fn handle(daemon: Arc<Daemon>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_string();
    let (version, rest) = cnm_api::strip_version_prefix(&raw_path);
    let version = match ApiVersion::negotiate(version) {
        Ok(v) => v,
        Err(e) => return Ok(error(&e, ApiVersion::CURRENT)),
    };
    let path = decode_path(rest);
    let query = parse_query(req.uri().query());
    let span = tracing::info_span!("request", method = %method, path = %path);
    async move {
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let too_large = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                let err = if too_large {
                    ApiError::new(
                        413,
                        format!("request body too large (limit {MAX_BODY} bytes)"),
                    )
                } else {
                    ApiError::bad_request(format!("reading request body: {e}"))
                };
                return Ok(error(&err, version));
            }
        };
        let r = Req {
            method,
            path,
            query,
            body,
            version,
        };
        let resp = super::routes::dispatch(&daemon, r).await;
        tracing::debug!(status = resp.status().as_u16(), "done");
        Ok(resp)
    }
    .instrument(span)
    .await
}

pub async fn serve(
    listener: tokio::net::UnixListener,
    daemon: Arc<Daemon>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let d = daemon.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(d.clone(), req));
                    // Docker's (Go's) canonical header case: `Api-Version`, `Content-Type`.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades();
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with error");
                    }
                });
            }
        }
    }
}
