//! What the machine reports to the application.

use crate::error::ProtocolError;
use crate::handshake::{HandshakeError, HandshakeRequest, Negotiated, Response};

/// Something that happened on the connection, returned by [`crate::Connection::poll_event`].
///
/// Payloads borrow from the connection's buffers: use (or copy) them before the next call on
/// the connection. Call `poll_event` until it returns `None` after every input.
#[non_exhaustive]
#[derive(Debug)]
#[must_use]
pub enum Event<'a> {
    /// Server: a valid upgrade request arrived. Answer it with [`crate::Connection::accept`]
    /// or [`crate::Connection::reject`]. Origin policy has already been applied.
    HandshakeRequest(&'a HandshakeRequest),
    /// Server, with [`crate::handshake::ServerPolicy::plain_http`]: an ordinary HTTP `GET`
    /// that attempts no upgrade. Answer it with [`crate::Connection::respond`].
    HttpRequest(&'a HandshakeRequest),
    /// The opening handshake failed. A server has queued the HTTP error response (400, 403, 405,
    /// 426, 431); a client received an invalid 101. The transport should be closed once the
    /// pending output is written.
    HandshakeFailed(HandshakeError),
    /// Client: the server answered with a status other than 101 (status, headers and body are
    /// in the response; following a redirect is the application's call).
    Rejected(&'a Response),
    /// The opening handshake completed, in either role: messages may flow.
    Open(&'a Negotiated),
    /// A complete text message ([`crate::Delivery::Whole`]).
    Text(&'a str),
    /// A complete binary message ([`crate::Delivery::Whole`]).
    Binary(&'a [u8]),
    /// A piece of a data message ([`crate::Delivery::Streaming`]). For text, `data` is the
    /// message's UTF-8 bytes so far validated; a code point may be split between two pieces.
    ///
    /// Pieces depend on how the input was read, what they carry does not: concatenated, they
    /// are the same bytes however the input was split. When text turns out invalid, the bytes
    /// before the one that revealed it are still handed out (as they would have been had the
    /// read ended there), then [`Event::ProtocolError`] with
    /// [`crate::ProtocolError::InvalidUtf8`] follows. An application that must never act on
    /// part of a bad message buffers text pieces until `message_finished`.
    Data {
        /// The payload bytes, unmasked.
        data: &'a [u8],
        /// Whether the message is a text message.
        text: bool,
        /// Whether this piece ends the message.
        message_finished: bool,
    },
    /// A Ping arrived. With `auto_pong` (the default) the Pong is already queued.
    Ping(&'a [u8]),
    /// A Pong arrived.
    Pong(&'a [u8]),
    /// The connection's closing: the peer's Close frame arrived (code 1005 when it carried no
    /// code; the echo is already queued if this side had not sent Close), or the transport
    /// ended without one (code 1006).
    Close {
        /// The status code (§7.4): the peer's, 1005 for none, or 1006 for a transport EOF.
        code: u16,
        /// The reason text the peer sent.
        reason: &'a str,
    },
    /// The peer broke the protocol. A Close frame with [`ProtocolError::close_code`] is queued
    /// and the transport should be closed once the pending output is written.
    ProtocolError(ProtocolError),
}
