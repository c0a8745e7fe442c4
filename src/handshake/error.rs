//! Why an opening handshake failed, and the HTTP answer a server gives.

use core::fmt;

use super::response::Response;
use crate::error::UsageError;

/// Why an opening handshake failed.
///
/// Server-side variants (the peer's request is invalid) have an HTTP [`status`](Self::status)
/// and [`write_response`](Self::write_response) produces the answer. Client-side variants (the
/// server's response is invalid) have no status: the client simply closes the connection
/// (§4.1: "_Fail the WebSocket Connection_").
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    // ---- server side ----
    /// The request head is larger than `max_header_bytes` (431).
    RequestTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The request has more header fields than `max_headers` (431).
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The request breaks the HTTP/1.1 syntax, or announces a body (`Transfer-Encoding`, or a
    /// `Content-Length` other than 0), which a handshake request may not have (400). The text
    /// says what is wrong.
    MalformedRequest(&'static str),
    /// The request is HTTP/1.0; §4.1 requires HTTP/1.1 or later (400).
    HttpVersionTooLow,
    /// The method is not GET (405, with `Allow: GET`).
    MethodNotAllowed(String),
    /// The request-target is neither origin-form nor absolute-form (400).
    InvalidTarget,
    /// No `Host` header (400).
    MissingHost,
    /// More than one `Host` header, or a value that is not `host[:port]` (400).
    InvalidHost,
    /// No `Upgrade` header listing the token `websocket` (400).
    MissingUpgrade,
    /// No `Connection` header listing the token `Upgrade` (400).
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or not the base64 of exactly 16 bytes (400).
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not `13` (426, with `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// `Sec-WebSocket-Protocol` lists an item that is not a token (400).
    InvalidProtocols,
    /// `Sec-WebSocket-Extensions` breaks the §9.1 grammar (400); the text says where.
    InvalidExtensions(&'static str),
    /// The server's policy refused the `Origin` (403). Holds the origin, if one was sent.
    OriginRefused(Option<String>),

    // ---- client side ----
    /// The response head is larger than `max_header_bytes`.
    ResponseTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The response has more header fields than `max_headers`.
    TooManyResponseHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The response breaks the HTTP/1.1 syntax (bad status line, bad header, bad
    /// Content-Length, a 101 that is not HTTP/1.1); the text says where.
    MalformedResponse(&'static str),
    /// The 101 has no `Sec-WebSocket-Accept`.
    MissingAccept,
    /// The 101's `Sec-WebSocket-Accept` does not match the key sent (or is repeated).
    WrongAccept,
    /// The 101 has no `Upgrade` header listing `websocket`.
    ResponseMissingUpgrade,
    /// The 101 has no `Connection` header listing `Upgrade`.
    ResponseMissingConnection,
    /// The 101 selects a subprotocol the client did not offer.
    ProtocolNotOffered(String),
    /// The 101 lists more than one subprotocol.
    MultipleProtocols,
    /// The 101 uses an extension the client did not offer.
    ExtensionNotOffered(String),
    /// The 101's `Sec-WebSocket-Extensions` breaks the §9.1 grammar.
    InvalidResponseExtensions(&'static str),
    /// The [`ClientRequest`](super::ClientRequest) itself is invalid (bad host, path or header); nothing was sent.
    InvalidClientRequest(UsageError),

    /// The server's response did not complete before the handshake deadline.
    ResponseTimeout,

    // ---- either side ----
    /// The parser was fed again after the handshake had completed.
    AlreadyComplete,
    /// The request did not complete before the handshake deadline (408).
    RequestTimeout,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with; `None` for client-side errors.
    pub fn status(&self) -> Option<u16> {
        use HandshakeError::*;
        match self {
            RequestTooLarge { .. } | TooManyHeaders { .. } => Some(431),
            MalformedRequest(_)
            | HttpVersionTooLow
            | InvalidTarget
            | MissingHost
            | InvalidHost
            | MissingUpgrade
            | MissingConnectionUpgrade
            | InvalidKey
            | InvalidProtocols
            | InvalidExtensions(_) => Some(400),
            MethodNotAllowed(_) => Some(405),
            UnsupportedVersion => Some(426),
            OriginRefused(_) => Some(403),
            RequestTimeout => Some(408),
            ResponseTooLarge { .. }
            | TooManyResponseHeaders { .. }
            | MalformedResponse(_)
            | MissingAccept
            | WrongAccept
            | ResponseMissingUpgrade
            | ResponseMissingConnection
            | ProtocolNotOffered(_)
            | MultipleProtocols
            | ExtensionNotOffered(_)
            | InvalidResponseExtensions(_)
            | InvalidClientRequest(_)
            | ResponseTimeout
            | AlreadyComplete => None,
        }
    }

    /// The response a server sends for this error, or `None` for client-side errors.
    ///
    /// It carries `Content-Type: text/plain; charset=utf-8`, the error's text as body, `Allow:
    /// GET` for 405 and `Sec-WebSocket-Version: 13` for 426; [`Response::write`] adds
    /// `Content-Length` and `Connection: close`.
    pub fn response(&self) -> Option<Response> {
        let status = self.status()?;
        let mut r = Response::new(status).header("Content-Type", "text/plain; charset=utf-8");
        match status {
            405 => r = r.header("Allow", "GET"),
            426 => r = r.header("Sec-WebSocket-Version", "13"),
            _ => {}
        }
        Some(r.body(format!("{self}\n")))
    }

    /// Append the complete HTTP/1.1 response a server sends for this error (see
    /// [`response`](Self::response)). Appends nothing for client-side errors.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        if let Some(r) = self.response() {
            r.write(out);
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HandshakeError::*;
        match self {
            RequestTooLarge { limit } => {
                write!(f, "request head larger than {limit} bytes")
            }
            TooManyHeaders { limit } => write!(f, "more than {limit} request header fields"),
            MalformedRequest(r) => write!(f, "malformed request: {r}"),
            HttpVersionTooLow => f.write_str("HTTP/1.1 or later required"),
            MethodNotAllowed(m) => write!(f, "method {m} not allowed; use GET"),
            InvalidTarget => f.write_str("invalid request target"),
            MissingHost => f.write_str("missing Host header"),
            InvalidHost => f.write_str("invalid Host header"),
            MissingUpgrade => f.write_str("Upgrade header must list websocket"),
            MissingConnectionUpgrade => f.write_str("Connection header must list Upgrade"),
            InvalidKey => f.write_str("Sec-WebSocket-Key must be the base64 of exactly 16 bytes"),
            UnsupportedVersion => f.write_str("Sec-WebSocket-Version 13 required"),
            InvalidProtocols => f.write_str("invalid Sec-WebSocket-Protocol header"),
            InvalidExtensions(r) => write!(f, "invalid Sec-WebSocket-Extensions header: {r}"),
            OriginRefused(_) => f.write_str("origin not allowed"),
            ResponseTooLarge { limit } => {
                write!(f, "response head larger than {limit} bytes")
            }
            TooManyResponseHeaders { limit } => {
                write!(f, "more than {limit} response header fields")
            }
            MalformedResponse(r) => write!(f, "malformed response: {r}"),
            MissingAccept => f.write_str("101 response without Sec-WebSocket-Accept"),
            WrongAccept => f.write_str("Sec-WebSocket-Accept does not match the key sent"),
            ResponseMissingUpgrade => f.write_str("101 response without Upgrade: websocket"),
            ResponseMissingConnection => f.write_str("101 response without Connection: Upgrade"),
            ProtocolNotOffered(p) => write!(f, "server selected subprotocol {p:?}, not offered"),
            MultipleProtocols => f.write_str("server selected more than one subprotocol"),
            ExtensionNotOffered(e) => write!(f, "server used extension {e:?}, not offered"),
            InvalidResponseExtensions(r) => {
                write!(f, "invalid Sec-WebSocket-Extensions in response: {r}")
            }
            InvalidClientRequest(e) => write!(f, "invalid client request: {e}"),
            AlreadyComplete => f.write_str("the handshake was already complete"),
            RequestTimeout => f.write_str("request not complete before the handshake deadline"),
            ResponseTimeout => f.write_str("response not complete before the handshake deadline"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::InvalidClientRequest(e) => Some(e),
            _ => None,
        }
    }
}
