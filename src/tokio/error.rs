//! The adapter's error: the transport's, the application's misuse and the peer's violations
//! kept apart, as in the machine.

use alloc::boxed::Box;

use core::fmt;

use crate::handshake::{HandshakeError, Response, UrlError};
use crate::{ProtocolError, UsageError};

/// What went wrong on a connection driven by the adapter.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The transport failed (read, write, connect, shutdown).
    Io(std::io::Error),
    /// The application's own misuse: sending before the handshake or after Close, a Ping
    /// payload over 125 bytes, a close code that may not be sent, … Nothing was sent.
    Usage(UsageError),
    /// The peer broke the protocol. The machine has queued the Close with the error's close
    /// code; the stream ends after it.
    Protocol(ProtocolError),
    /// The opening handshake failed: an invalid request (a server has answered it with the
    /// error's HTTP status), an invalid 101, or the handshake deadline passed.
    Handshake(HandshakeError),
    /// The opening handshake ended with an answer other than 101: the server's response
    /// (client), or the application's refusal (server), already sent.
    Rejected(Box<Response>),
    /// The connection ended without a closing handshake (close code 1006): the transport
    /// ended, the peer did not answer a keep-alive Ping in time, or the closing handshake
    /// did not complete before its deadline.
    AbnormalClosure,
    /// `connect` was given a URL it cannot parse.
    Url(UrlError),
    /// `connect` was given a `wss://` URL: open the TLS stream yourself and call
    /// `connect_with` on it.
    TlsRequired,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport error: {e}"),
            Error::Usage(e) => write!(f, "{e}"),
            Error::Protocol(e) => write!(f, "the peer broke the protocol: {e}"),
            Error::Handshake(e) => write!(f, "opening handshake failed: {e}"),
            Error::Rejected(r) => write!(f, "handshake answered with {}", r.status()),
            Error::AbnormalClosure => {
                f.write_str("the connection ended without a closing handshake (1006)")
            }
            Error::Url(e) => write!(f, "invalid WebSocket URL: {}", e.reason()),
            Error::TlsRequired => {
                f.write_str("wss:// needs a TLS stream: connect it and call connect_with")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}
