//! The Engine API's error body `{"message":"…"}` with its HTTP status.

use serde::{Deserialize, Serialize};

/// An error answer of the Engine API: HTTP status plus the message of the body `{"message":"…"}`.
///
/// `Display` prints the bare message (the docker CLI prints `Error response from daemon: <message>`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code (400, 403, 404, 409, 500, …).
    pub status: u16,
    /// The message, exactly as Docker words it.
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request (moby's `InvalidParameter`).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 403 Forbidden (moby's `Forbidden`).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// 404 Not Found (moby's `NotFound`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 409 Conflict (moby's `Conflict`).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// 500 Internal Server Error (any error moby does not classify).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }

    /// 404 `network <name> not found`.
    pub fn network_not_found(name: &str) -> Self {
        Self::not_found(format!("network {name} not found"))
    }

    /// 404 `No such container: <name>`.
    pub fn no_such_container(name: &str) -> Self {
        Self::not_found(format!("No such container: {name}"))
    }

    /// The response body: compact `{"message":"…"}` plus `"\n"`, with JSON escaping.
    pub fn body(&self) -> String {
        crate::json::to_json_body(&ErrorBody {
            message: std::borrow::Cow::Borrowed(&self.message),
        })
    }

    /// Rebuilds an error from a status and a response body, as a client does. A body that is not
    /// `{"message":…}` JSON becomes the message as text (trimmed); an empty body gets the reason phrase.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        if let Ok(b) = serde_json::from_slice::<ErrorBody<'_>>(body) {
            return Self::new(status, b.message.into_owned());
        }
        let text = String::from_utf8_lossy(body).trim().to_string();
        if text.is_empty() {
            return Self::new(status, reason_phrase(status));
        }
        Self::new(status, text)
    }

    /// The reason phrase of this error's status (`Not Found`, …).
    pub fn reason(&self) -> &'static str {
        reason_phrase(self.status)
    }
}

/// The reason phrase Go's `net/http` uses for the statuses the Engine API answers with.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_bytes() {
        let e = ApiError::network_not_found("rsx-nope");
        let body = e.body();
        assert_eq!(body, "{\"message\":\"network rsx-nope not found\"}\n");
        assert_eq!(body.len(), 41);
        assert_eq!(e.to_string(), "network rsx-nope not found");
        assert_eq!(e.reason(), "Not Found");
    }

    #[test]
    fn escaping_and_parse_back() {
        let e = ApiError::forbidden("operation is not permitted on predefined bridge network ");
        let back = ApiError::from_response(403, e.body().as_bytes());
        assert_eq!(back, e);
        let e = ApiError::internal("a \"quoted\"\nline\\");
        assert_eq!(e.body(), "{\"message\":\"a \\\"quoted\\\"\\nline\\\\\"}\n");
        assert_eq!(ApiError::from_response(500, e.body().as_bytes()), e);
        assert_eq!(
            ApiError::from_response(404, b"page not found\n").message,
            "page not found"
        );
        assert_eq!(ApiError::from_response(404, b"").message, "Not Found");
    }
}
