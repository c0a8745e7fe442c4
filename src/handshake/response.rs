//! HTTP responses other than 101: the reason phrases, and [`Response`], a server's rejection or
//! the answer a client got instead of a 101.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::headers::{check_header, write_header};
use crate::error::UsageError;

/// The standard reason phrase of common statuses (RFC 9110 §15, RFC 6585); empty otherwise.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// An HTTP response other than 101: a server's rejection, or the answer a client got instead of
/// a 101.
///
/// Build with [`new`](Self::new), [`header`](Self::header) and [`body`](Self::body); read with
/// [`status`](Self::status), [`reason`](Self::reason), [`headers`](Self::headers),
/// [`header_value`](Self::header_value) and [`body_bytes`](Self::body_bytes).
///
/// ```
/// use wsmachine::handshake::Response;
/// let mut out = Vec::new();
/// Response::new(401).header("WWW-Authenticate", "Bearer").body("login first").write(&mut out);
/// assert_eq!(
///     out,
///     b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\
///       Content-Length: 11\r\nConnection: close\r\n\r\nlogin first"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            reason: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response as a client received it: the reason phrase as sent, the head's fields, and
    /// the body bytes that came with the head.
    pub(super) fn received(
        status: u16,
        reason: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Self {
        Response {
            status,
            reason: Some(reason),
            headers,
            body,
        }
    }

    /// Append body bytes that arrived after the head.
    pub(super) fn extend_body(&mut self, bytes: &[u8]) {
        self.body.extend_from_slice(bytes);
    }

    /// Add a header. See [`check`](Self::check) for what is allowed.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase: the one received, or the standard one for the status (empty for
    /// unknown statuses).
    pub fn reason(&self) -> &str {
        self.reason
            .as_deref()
            .unwrap_or_else(|| reason_phrase(self.status))
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The body. For a response a client received: the `Content-Length` bytes, cut at
    /// `max_response_body`; empty when there is no `Content-Length`.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Check that the response can be sent as a rejection: a final status (200–599, not 101),
    /// header names that are tokens, values free of CR, LF, NUL and other controls, and no
    /// `Content-Length`, `Connection` or `Transfer-Encoding` (which [`write`](Self::write)
    /// adds itself).
    pub fn check(&self) -> Result<(), UsageError> {
        if !(200..=599).contains(&self.status) {
            return Err(UsageError::InvalidHeader(format!(
                "status {} cannot reject a handshake",
                self.status
            )));
        }
        for (n, v) in &self.headers {
            check_header(n, v, &["content-length", "connection", "transfer-encoding"])?;
        }
        Ok(())
    }

    /// Append the response: status line, the headers, `Content-Length`, `Connection: close`,
    /// an empty line and the body.
    ///
    /// Headers that [`check`](Self::check) refuses are left out rather than written broken, and
    /// a status outside 100–999 is written as 500.
    pub fn write(&self, out: &mut Vec<u8>) {
        let status = if (100..=999).contains(&self.status) {
            self.status
        } else {
            500
        };
        let reason = match &self.reason {
            Some(r) if status == self.status && r.bytes().all(|b| b >= 0x20 && b != 0x7f) => {
                r.as_str()
            }
            _ => reason_phrase(status),
        };
        out.extend_from_slice(format!("HTTP/1.1 {status} {reason}\r\n").as_bytes());
        for (n, v) in &self.headers {
            if check_header(n, v, &["content-length", "connection", "transfer-encoding"]).is_ok() {
                write_header(out, n, v);
            }
        }
        write_header(out, "Content-Length", &self.body.len().to_string());
        write_header(out, "Connection", "close");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

/// The first header named `name` (ASCII case-insensitive).
fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
