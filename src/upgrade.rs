//! The opening handshake for HTTP server frameworks (feature `http`): an upgrade request
//! given as an [`http::Request`] (or its [`request::Parts`](::http::request::Parts)) is
//! validated by the same parser and [`ServerPolicy`] as a [`Connection`]'s own, the 101
//! comes back as an [`http::Response<()>`](::http::Response) for the framework to send (a
//! refusal as a response with its body), and the machine then runs on the upgraded I/O with
//! [`upgraded`], given the bytes the framework read past the request.
//!
//! ```
//! use wsmachine::handshake::{Accept, ServerPolicy};
//! use wsmachine::{Config, Role, State, upgrade};
//!
//! let request = http::Request::get("/chat")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Version", "13")
//!     .body(())
//!     .unwrap();
//! let policy = ServerPolicy::default();
//! let config = Config::default();
//! let valid = match upgrade::validate(&request, &config, &policy) {
//!     Ok(valid) => valid,
//!     Err(e) => panic!("answer with {:?}", upgrade::error_response(&e)),
//! };
//! let (response, _negotiated) = upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! // ... the framework sends the 101 and hands over the upgraded I/O ...
//! let conn = upgrade::upgraded(Role::Server, config, &[]);
//! assert_eq!(conn.state(), State::Open);
//! ```
//!
//! What this path does not do: permessage-deflate (a connection from [`upgraded`] starts with
//! no extension; [`Config::deflate`](crate::Config) is not negotiated here), and HTTP/2's
//! extended CONNECT (RFC 8441): a request must be an HTTP/1.1 `GET`.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use ::http::{HeaderName, HeaderValue, StatusCode};

use crate::config::Config;
use crate::connection::{Connection, Role};
use crate::error::UsageError;
use crate::handshake::{
    Accept, HandshakeError, HandshakeRequest, Negotiated, RequestError, RequestParser,
    RequestProgress, Response, ServerPolicy, prepare_accept,
};

/// Validate an upgrade request as a [`Connection`] would (§4.2.1, with `config`'s head limits,
/// then `policy`'s origin check). The error's [`error_response`] is the answer to send.
pub fn validate<B>(
    request: &::http::Request<B>,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<HandshakeRequest, HandshakeError> {
    validate_head(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
        config,
        policy,
    )
}

/// [`validate`] for a request already split into its parts.
pub fn validate_parts(
    parts: &::http::request::Parts,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<HandshakeRequest, HandshakeError> {
    validate_head(
        &parts.method,
        &parts.uri,
        parts.version,
        &parts.headers,
        config,
        policy,
    )
}

/// The request head written back as HTTP/1.x text and read by the crate's own parser, so that
/// every check (and every limit) is the one a [`Connection`] applies.
fn validate_head(
    method: &::http::Method,
    uri: &::http::Uri,
    version: ::http::Version,
    headers: &::http::HeaderMap,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<HandshakeRequest, HandshakeError> {
    let version = match version {
        ::http::Version::HTTP_09 | ::http::Version::HTTP_10 => {
            return Err(RequestError::HttpVersionTooLow.into());
        }
        ::http::Version::HTTP_11 => "HTTP/1.1",
        // HTTP/2 and 3 upgrade with an extended CONNECT (RFC 8441, 9220), not supported here.
        _ => {
            return Err(RequestError::Malformed(
                "WebSocket over HTTP/2 or HTTP/3 (extended CONNECT) is not supported",
            )
            .into());
        }
    };
    let target = match uri.path_and_query() {
        // An origin-form target as sent; an absolute-form one whole.
        Some(pq) if uri.scheme().is_none() => pq.as_str().to_owned(),
        _ => uri.to_string(),
    };
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.push(b' ');
    head.extend_from_slice(version.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let mut parser = RequestParser::new(config);
    let request = match parser.receive(&head) {
        RequestProgress::Complete { request, .. } => request,
        RequestProgress::Failed(e) => return Err(e),
        // A head ends with its empty line, written above; plain requests are not enabled.
        RequestProgress::Partial | RequestProgress::Plain { .. } => {
            return Err(RequestError::Malformed("incomplete request head").into());
        }
    };
    policy.check_origin(&request)?;
    Ok(request)
}

/// The 101 accepting `request` (validated by [`validate`]), with the subprotocol of `accept`
/// or `policy` and `accept`'s extra headers, and what it settles. The framework sends it, then
/// hands over the upgraded I/O.
pub fn accept_response(
    request: &HandshakeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
) -> Result<(::http::Response<()>, Negotiated), UsageError> {
    let prepared = prepare_accept(request, accept, policy)?;
    let mut response = ::http::Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in prepared.header_fields(accept) {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| UsageError::InvalidHeader(name.to_owned()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| UsageError::InvalidHeader(format!("{name}: {value}")))?;
        response.headers_mut().append(name, value);
    }
    Ok((response, prepared.into_negotiated()))
}

/// The answer to a request [`validate`] refused: its status (400, 403, 405, 426, 431) with the
/// headers the status calls for (`Allow`, `Sec-WebSocket-Version`) and a short body. A
/// client-side error (not produced by [`validate`]) gets 400.
pub fn error_response(error: &HandshakeError) -> ::http::Response<Vec<u8>> {
    response(&error.response().unwrap_or_else(|| Response::new(400)))
}

/// Any [`Response`] (a refusal the application chose: 401, a redirect) as an
/// [`http::Response`]. Headers that are not valid HTTP are left out.
pub fn response(response: &Response) -> ::http::Response<Vec<u8>> {
    let mut out = ::http::Response::new(response.body_bytes().to_vec());
    *out.status_mut() =
        StatusCode::from_u16(response.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out
}

/// The machine for a connection upgraded by the framework: open, in `role`, with the bytes
/// the framework read past the request (or response) head already received.
pub fn upgraded(role: Role, config: Config, leftover: &[u8]) -> Connection {
    let mut conn = Connection::from_upgraded(role, config);
    conn.receive(leftover);
    conn
}
