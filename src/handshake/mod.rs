//! The opening handshake (RFC 6455 §4), for both roles, without I/O.
//!
//! **Server:** feed received bytes to a [`RequestParser`] until it returns
//! [`RequestProgress::Complete`] with a [`HandshakeRequest`] valid per §4.2.1, or
//! [`RequestProgress::Failed`] with a [`HandshakeError`] whose
//! [`write_response`](HandshakeError::write_response) produces the 400/403/405/426/431 answer.
//! Check the origin with [`ServerPolicy::check_origin`], then answer with [`write_accept`] (101)
//! or a [`Response`] (any rejection).
//!
//! **Client:** build a [`ClientRequest`], start a [`ClientHandshake`] (which writes the GET
//! request), and feed it the server's bytes until it returns
//! [`ResponseProgress::Accepted`], [`ResponseProgress::Rejected`] (a non-101 answer, surfaced
//! with status, headers and body) or [`ResponseProgress::Failed`] (an invalid 101 or a malformed
//! response).
//!
//! In both roles, bytes that follow the head in the same read (the first frames) are not part of
//! the handshake: `consumed` says where the head ended, and the caller keeps the rest.
//!
//! **Errors.** A failure is a [`HandshakeError`] holding the type of the side that saw it: a
//! [`RequestError`] when a server refuses a request (each with the HTTP status it answers), a
//! [`ResponseError`] when a client refuses a response (no status: the client just closes).
//!
//! ```
//! use wsmachine::Config;
//! use wsmachine::handshake::*;
//!
//! // Client side: write the request.
//! let request = ClientRequest::new("server.example.com", "/chat").protocol("chat");
//! let mut to_server = Vec::new();
//! let mut client = ClientHandshake::new(&request, &Config::default(), &mut to_server);
//!
//! // Server side: parse it and accept.
//! let mut parser = RequestParser::new(&Config::default());
//! let RequestProgress::Complete { request, consumed } = parser.receive(&to_server) else {
//!     panic!("request not complete");
//! };
//! assert_eq!(consumed, to_server.len());
//! let policy = ServerPolicy::default().protocols(["chat"]);
//! policy.check_origin(&request)?;
//! let mut to_client = Vec::new();
//! let negotiated = write_accept(&request, &Accept::new(), &policy, &mut to_client)?;
//! assert_eq!(negotiated.protocol(), Some("chat"));
//!
//! // Client side: validate the 101.
//! match client.receive(&to_client) {
//!     ResponseProgress::Accepted { negotiated, .. } => assert_eq!(negotiated.protocol(), Some("chat")),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// One file per responsibility; each uses only files listed after it (and, outside the
// handshake, only `http`, `extension`, `config`, `error`, `sha1`, `rng` and `utf8`):
//
// client.rs      ClientRequest, ClientHandshake: the request written, the response checked (§4.1)
// accept.rs      ServerPolicy, Accept: the server's decision and its 101 (§4.2.2)
// server.rs      RequestParser, HandshakeRequest: the request read and checked (§4.2.1)
// error.rs       HandshakeError, RequestError (with the status a server answers), ResponseError
// negotiated.rs  Negotiated: what both sides end with
// response.rs    Response and reason phrases: any answer other than 101
// headers.rs     the header lines the handshake writes
// key.rs         Sec-WebSocket-Key check, Sec-WebSocket-Accept value (§1.3, §4.2.2)
// url.rs         host and request-target grammar, ws:// and wss:// URLs (§3)
mod accept;
mod client;
mod error;
mod headers;
mod key;
mod negotiated;
mod response;
mod server;
mod url;

pub(crate) use accept::prepare_accept;
pub use accept::{Accept, ServerPolicy, write_accept};
pub use client::{ClientHandshake, ClientRequest, ResponseProgress};
pub use error::{HandshakeError, RequestError, ResponseError};
pub use key::accept_key;
pub use negotiated::Negotiated;
pub use response::{Response, reason_phrase};
pub use server::{HandshakeRequest, RequestParser, RequestProgress};
pub use url::UrlError;

pub use crate::extension::{AcceptedExtension, ExtensionOffer};
