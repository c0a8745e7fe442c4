//! Why an opening handshake failed: a request the server refused ([`RequestError`], with the
//! HTTP status it answers), a response the client refused ([`ResponseError`]), and
//! [`HandshakeError`], which holds either and the failures that belong to neither side's peer.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

use super::response::Response;
use crate::error::UsageError;
use crate::http::{HeadError, HeadKind};

/// Why an opening handshake failed.
///
/// What went wrong is described by the type of the side that noticed it:
///
/// * [`Request`](Self::Request): a **server** refused the client's request (or its origin, or
///   the request did not arrive in time). It has an HTTP [`status`](Self::status), and
///   [`write_response`](Self::write_response) produces the answer.
/// * [`Response`](Self::Response): a **client** refused the server's response. It has no
///   status: the client simply closes the connection (§4.1: "_Fail the WebSocket
///   Connection_").
///
/// The other two variants are not the peer's doing: the client's own request was invalid, or a
/// finished handshake was fed again.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// Server side: the client's request is refused, with an HTTP status.
    Request(RequestError),
    /// Client side: the server's response is refused.
    Response(ResponseError),
    /// Client side: the [`ClientRequest`](super::ClientRequest) itself is invalid (bad host,
    /// path or header); nothing was sent.
    InvalidClientRequest(UsageError),
    /// Either side: the parser was fed again after the handshake had completed.
    AlreadyComplete,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with: that of a [`RequestError`], `None`
    /// for the others.
    pub fn status(&self) -> Option<u16> {
        match self {
            HandshakeError::Request(e) => Some(e.status()),
            _ => None,
        }
    }

    /// The response a server sends for this error ([`RequestError::response`]), or `None` for
    /// the others.
    pub fn response(&self) -> Option<Response> {
        match self {
            HandshakeError::Request(e) => Some(e.response()),
            _ => None,
        }
    }

    /// Append the complete HTTP/1.1 response a server sends for this error
    /// ([`RequestError::write_response`]). Appends nothing for the others.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        if let HandshakeError::Request(e) = self {
            e.write_response(out);
        }
    }
}

/// The error for a head the parser refused, reported by the side that was reading it: a server
/// reads a request ([`HeadKind::Request`]), a client a response. `max_header_bytes` and
/// `max_headers` are the limits the parser was given.
pub(super) fn head_error(
    e: HeadError,
    kind: HeadKind,
    max_header_bytes: usize,
    max_headers: usize,
) -> HandshakeError {
    match kind {
        HeadKind::Request => HandshakeError::Request(match e {
            HeadError::TooLarge => RequestError::TooLarge {
                limit: max_header_bytes,
            },
            HeadError::TooManyHeaders => RequestError::TooManyHeaders { limit: max_headers },
            HeadError::Malformed(r) => RequestError::Malformed(r),
        }),
        HeadKind::Response => HandshakeError::Response(match e {
            HeadError::TooLarge => ResponseError::TooLarge {
                limit: max_header_bytes,
            },
            HeadError::TooManyHeaders => ResponseError::TooManyHeaders { limit: max_headers },
            HeadError::Malformed(r) => ResponseError::Malformed(r),
        }),
    }
}

impl From<RequestError> for HandshakeError {
    fn from(e: RequestError) -> Self {
        HandshakeError::Request(e)
    }
}

impl From<ResponseError> for HandshakeError {
    fn from(e: ResponseError) -> Self {
        HandshakeError::Response(e)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Request(e) => fmt::Display::fmt(e, f),
            HandshakeError::Response(e) => fmt::Display::fmt(e, f),
            HandshakeError::InvalidClientRequest(e) => write!(f, "invalid client request: {e}"),
            HandshakeError::AlreadyComplete => f.write_str("the handshake was already complete"),
        }
    }
}

impl core::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            HandshakeError::InvalidClientRequest(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a server refused a client's opening handshake request (§4.2.1). Each has the HTTP
/// [`status`](Self::status) the server answers with, and
/// [`write_response`](Self::write_response) produces that answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    // ---- the head as HTTP ----
    /// The request head is larger than `max_header_bytes` (431).
    TooLarge {
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
    Malformed(&'static str),

    // ---- the request line ----
    /// The request is HTTP/1.0; §4.1 requires HTTP/1.1 or later (400).
    HttpVersionTooLow,
    /// The method is not GET (405, with `Allow: GET`).
    MethodNotAllowed(String),
    /// The request-target is neither origin-form nor absolute-form (400).
    InvalidTarget,

    // ---- the header fields ----
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

    // ---- the body of a plain HTTP request ----
    /// A plain HTTP request announces a body without `Content-Length` (`Transfer-Encoding`),
    /// or with a `Content-Length` that is not one decimal number (411).
    LengthRequired,
    /// A plain HTTP request's body is longer than the configured `max_request_body` (413).
    BodyTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },

    // ---- the server's policy ----
    /// The server's policy refused the `Origin` (403). Holds the origin, if one was sent.
    OriginRefused(Option<String>),

    // ---- time ----
    /// The request did not complete before the handshake deadline (408).
    Timeout,
}

impl RequestError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        use RequestError::*;
        match self {
            TooLarge { .. } | TooManyHeaders { .. } => 431,
            Malformed(_)
            | HttpVersionTooLow
            | InvalidTarget
            | MissingHost
            | InvalidHost
            | MissingUpgrade
            | MissingConnectionUpgrade
            | InvalidKey
            | InvalidProtocols
            | InvalidExtensions(_) => 400,
            MethodNotAllowed(_) => 405,
            LengthRequired => 411,
            BodyTooLarge { .. } => 413,
            UnsupportedVersion => 426,
            OriginRefused(_) => 403,
            Timeout => 408,
        }
    }

    /// The response a server sends for this error.
    ///
    /// It carries `Content-Type: text/plain; charset=utf-8`, the error's text as body, `Allow:
    /// GET` for 405 and `Sec-WebSocket-Version: 13` for 426; [`Response::write`] adds
    /// `Content-Length` and `Connection: close`.
    pub fn response(&self) -> Response {
        let status = self.status();
        let mut r = Response::new(status).header("Content-Type", "text/plain; charset=utf-8");
        match status {
            405 => r = r.header("Allow", "GET"),
            426 => r = r.header("Sec-WebSocket-Version", "13"),
            _ => {}
        }
        r.body(format!("{self}\n"))
    }

    /// Append the complete HTTP/1.1 response a server sends for this error (see
    /// [`response`](Self::response)).
    pub fn write_response(&self, out: &mut Vec<u8>) {
        self.response().write(out);
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RequestError::*;
        match self {
            TooLarge { limit } => write!(f, "request head larger than {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "more than {limit} request header fields"),
            Malformed(r) => write!(f, "malformed request: {r}"),
            HttpVersionTooLow => f.write_str("HTTP/1.1 or later required"),
            MethodNotAllowed(m) => write!(f, "method {m} not allowed; use GET"),
            LengthRequired => f.write_str("a request body needs one Content-Length"),
            BodyTooLarge { limit } => write!(f, "request body larger than {limit} bytes"),
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
            Timeout => f.write_str("request not complete before the handshake deadline"),
        }
    }
}

impl core::error::Error for RequestError {}

/// Why a client refused the server's answer to its opening handshake (§4.1). There is no
/// status to answer with: the client closes the connection.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    // ---- the head as HTTP ----
    /// The response head is larger than `max_header_bytes`.
    TooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The response has more header fields than `max_headers`.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The response breaks the HTTP/1.1 syntax (bad status line, bad header, bad
    /// Content-Length, a 101 that is not HTTP/1.1); the text says where.
    Malformed(&'static str),

    // ---- the 101 ----
    /// The 101 has no `Upgrade` header listing `websocket`.
    MissingUpgrade,
    /// The 101 has no `Connection` header listing `Upgrade`.
    MissingConnectionUpgrade,
    /// The 101 has no `Sec-WebSocket-Accept`.
    MissingAccept,
    /// The 101's `Sec-WebSocket-Accept` does not match the key sent (or is repeated).
    WrongAccept,
    /// The 101 selects a subprotocol the client did not offer.
    ProtocolNotOffered(String),
    /// The 101 lists more than one subprotocol.
    MultipleProtocols,
    /// The 101 uses an extension the client did not offer.
    ExtensionNotOffered(String),
    /// The 101's `Sec-WebSocket-Extensions` breaks the §9.1 grammar.
    InvalidExtensions(&'static str),
    /// The 101 accepts an offered extension with parameters the client cannot take (a
    /// parameter not offered, repeated, or out of range; RFC 7692 §7.1 for
    /// permessage-deflate); the text says which.
    ExtensionParams(String),

    // ---- time ----
    /// The server's response did not complete before the handshake deadline.
    Timeout,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseError::*;
        match self {
            TooLarge { limit } => write!(f, "response head larger than {limit} bytes"),
            TooManyHeaders { limit } => write!(f, "more than {limit} response header fields"),
            Malformed(r) => write!(f, "malformed response: {r}"),
            MissingUpgrade => f.write_str("101 response without Upgrade: websocket"),
            MissingConnectionUpgrade => f.write_str("101 response without Connection: Upgrade"),
            MissingAccept => f.write_str("101 response without Sec-WebSocket-Accept"),
            WrongAccept => f.write_str("Sec-WebSocket-Accept does not match the key sent"),
            ProtocolNotOffered(p) => write!(f, "server selected subprotocol {p:?}, not offered"),
            MultipleProtocols => f.write_str("server selected more than one subprotocol"),
            ExtensionNotOffered(e) => write!(f, "server used extension {e:?}, not offered"),
            InvalidExtensions(r) => {
                write!(f, "invalid Sec-WebSocket-Extensions in response: {r}")
            }
            ExtensionParams(r) => write!(f, "extension parameters refused: {r}"),
            Timeout => f.write_str("response not complete before the handshake deadline"),
        }
    }
}

impl core::error::Error for ResponseError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head the parser refused is the reading side's error, with the limit it broke.
    #[test]
    fn head_errors_belong_to_the_side_reading_the_head() {
        let server = |e| head_error(e, HeadKind::Request, 100, 5);
        let client = |e| head_error(e, HeadKind::Response, 100, 5);
        assert_eq!(
            server(HeadError::TooLarge),
            RequestError::TooLarge { limit: 100 }.into()
        );
        assert_eq!(
            server(HeadError::TooManyHeaders),
            RequestError::TooManyHeaders { limit: 5 }.into()
        );
        assert_eq!(
            server(HeadError::Malformed("x")),
            RequestError::Malformed("x").into()
        );
        assert_eq!(
            client(HeadError::TooLarge),
            ResponseError::TooLarge { limit: 100 }.into()
        );
        assert_eq!(
            client(HeadError::TooManyHeaders),
            ResponseError::TooManyHeaders { limit: 5 }.into()
        );
        assert_eq!(
            client(HeadError::Malformed("x")),
            ResponseError::Malformed("x").into()
        );
    }
}
