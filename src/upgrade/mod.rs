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
//! let (response, negotiated) = upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! // ... the framework sends the 101 and hands over the upgraded I/O ...
//! let conn = upgrade::upgraded(Role::Server, config, negotiated, &[]);
//! assert_eq!(conn.state(), State::Open);
//! ```
//!
//! **permessage-deflate** is negotiated when `config` enables it
//! ([`Config::deflate`](crate::Config)): the response carries the extension and the
//! connection from [`upgraded`] compresses.
//!
//! **HTTP/2 and HTTP/3** (RFC 8441, RFC 9220): a WebSocket is opened by an extended CONNECT
//! with `:protocol websocket`, validated by [`validate_connect`] (in `connect.rs`, with what
//! differs from HTTP/1.1) and answered with 200; the stream then carries the frames, with no
//! handshake on it. The [`Form`] of an [`UpgradeRequest`] says which answer it gets.
//!
//! The same code serves both forms:
//!
//! ```
//! # use wsmachine::handshake::{Accept, ServerPolicy};
//! # use wsmachine::{Config, upgrade};
//! # let policy = ServerPolicy::default();
//! # let config = Config::default();
//! // hyper puts `:protocol` in the request's extensions: `hyper::ext::Protocol`.
//! let protocol: Option<&str> = Some("websocket");
//! let request = http::Request::connect("https://example.com/chat")
//!     .version(http::Version::HTTP_2)
//!     .header("Sec-WebSocket-Version", "13")
//!     .body(())
//!     .unwrap();
//! let valid = if request.method() == http::Method::CONNECT {
//!     upgrade::validate_connect(&request, protocol, &config, &policy)
//! } else {
//!     upgrade::validate(&request, &config, &policy)
//! }
//! .unwrap();
//! assert_eq!(valid.form(), upgrade::Form::ExtendedConnect);
//! let (response, _negotiated) = upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().get("sec-websocket-accept").is_none());
//! ```

mod connect;

pub use connect::{validate_connect, validate_connect_parts};

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ops::Deref;

use ::http::{HeaderName, HeaderValue, StatusCode};

use crate::config::Config;
use crate::connection::{Connection, Role};
#[cfg(feature = "deflate")]
use crate::deflate::DeflateConfig;
use crate::error::UsageError;
use crate::handshake::{
    Accept, HandshakeError, HandshakeRequest, Negotiated, RequestError, RequestParser,
    RequestProgress, Response, ServerPolicy, prepare_accept,
};

/// The form an upgrade request took, which decides the form of its answer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// An HTTP/1.1 `GET` with `Upgrade: websocket` and a key (RFC 6455 §4.1), answered with
    /// 101 Switching Protocols and `Sec-WebSocket-Accept`; the connection then carries the
    /// frames.
    Upgrade,
    /// An extended CONNECT with `:protocol websocket` on an HTTP/2 (RFC 8441) or HTTP/3
    /// (RFC 9220) stream, answered with 200 and no accept key; the stream then carries the
    /// frames.
    ExtendedConnect,
}

/// A request [`validate`] or [`validate_connect`] found valid, with what its answer needs:
/// the [`Form`] it took and the permessage-deflate settings of the `Config` it was validated
/// with. It dereferences to the [`HandshakeRequest`] (target, origin, subprotocols,
/// extensions, headers).
#[derive(Debug, Clone)]
pub struct UpgradeRequest {
    request: HandshakeRequest,
    form: Form,
    version: ::http::Version,
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
}

impl UpgradeRequest {
    fn new(
        request: HandshakeRequest,
        form: Form,
        version: ::http::Version,
        config: &Config,
    ) -> Self {
        #[cfg(not(feature = "deflate"))]
        let _ = config;
        UpgradeRequest {
            request,
            form,
            version,
            #[cfg(feature = "deflate")]
            deflate: config.deflate,
        }
    }

    /// The request as the handshake sees it.
    pub fn request(&self) -> &HandshakeRequest {
        &self.request
    }

    /// The request, given up.
    pub fn into_request(self) -> HandshakeRequest {
        self.request
    }

    /// HTTP/1.1 upgrade or extended CONNECT.
    pub fn form(&self) -> Form {
        self.form
    }

    /// The HTTP version the request arrived with (HTTP/1.1, HTTP/2 or HTTP/3).
    pub fn version(&self) -> ::http::Version {
        self.version
    }
}

impl Deref for UpgradeRequest {
    type Target = HandshakeRequest;

    fn deref(&self) -> &HandshakeRequest {
        &self.request
    }
}

/// Validate an HTTP/1.1 upgrade request as a [`Connection`] would (§4.2.1, with `config`'s
/// head limits, then `policy`'s origin check). The error's [`error_response`] is the answer to
/// send. An HTTP/2 or HTTP/3 request is refused (400): those open a WebSocket with an
/// extended CONNECT, for [`validate_connect`].
pub fn validate<B>(
    request: &::http::Request<B>,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<UpgradeRequest, HandshakeError> {
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
) -> Result<UpgradeRequest, HandshakeError> {
    validate_head(
        &parts.method,
        &parts.uri,
        parts.version,
        &parts.headers,
        config,
        policy,
    )
}

fn validate_head(
    method: &::http::Method,
    uri: &::http::Uri,
    version: ::http::Version,
    headers: &::http::HeaderMap,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<UpgradeRequest, HandshakeError> {
    match version {
        ::http::Version::HTTP_09 | ::http::Version::HTTP_10 => {
            return Err(RequestError::HttpVersionTooLow.into());
        }
        ::http::Version::HTTP_11 => {}
        _ => {
            return Err(RequestError::Malformed(
                "over HTTP/2 and HTTP/3 a WebSocket opens with an extended CONNECT",
            )
            .into());
        }
    }
    let head = write_head(method.as_str(), &target(uri), None, headers);
    let request = parse_head(&head, RequestParser::new(config))?;
    policy.check_origin(&request)?;
    Ok(UpgradeRequest::new(request, Form::Upgrade, version, config))
}

/// The request-target of `uri`: an origin-form target as sent, an absolute-form one whole.
fn target(uri: &::http::Uri) -> String {
    match uri.path_and_query() {
        Some(pq) if uri.scheme().is_none() => pq.as_str().to_owned(),
        _ => uri.to_string(),
    }
}

/// A request head written back as HTTP/1.1 text for the crate's own parser, so that every
/// check (and every limit) is the one a [`Connection`] applies; `host` first when the head
/// must carry one its headers lack.
fn write_head(
    method: &str,
    target: &str,
    host: Option<&str>,
    headers: &::http::HeaderMap,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    let fields = host
        .map(|h| ("host", h.as_bytes()))
        .into_iter()
        .chain(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    for (name, value) in fields {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Run `parser` over a whole head.
fn parse_head(head: &[u8], mut parser: RequestParser) -> Result<HandshakeRequest, HandshakeError> {
    match parser.receive(head) {
        RequestProgress::Complete { request, .. } => Ok(request),
        RequestProgress::Failed(e) => Err(e),
        // A head ends with its empty line, written above; plain requests are not enabled.
        RequestProgress::Partial | RequestProgress::Plain { .. } => {
            Err(RequestError::Malformed("incomplete request head").into())
        }
    }
}

/// The answer accepting `request` (validated by [`validate`] or [`validate_connect`]) and what
/// it settles: the subprotocol of `accept` or `policy`, the extensions of `policy`'s hook, then
/// permessage-deflate when the `Config` the request was validated with enables it and the
/// client offered it, and `accept`'s extra headers. The framework sends it, then hands over
/// the upgraded I/O to [`upgraded`] with the [`Negotiated`].
///
/// For [`Form::Upgrade`] a 101 with `Upgrade`, `Connection` and `Sec-WebSocket-Accept`; for
/// [`Form::ExtendedConnect`] a 200 without them (RFC 8441 §5: the stream is not upgraded and
/// has no key to answer).
pub fn accept_response(
    request: &UpgradeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
) -> Result<(::http::Response<()>, Negotiated), UsageError> {
    #[allow(unused_mut)] // permessage-deflate adds to it
    let mut prepared = prepare_accept(&request.request, accept, policy)?;
    #[cfg(feature = "deflate")]
    if let Some(config) = &request.deflate
        && let Some((accepted, _)) = crate::deflate::accept_offers(config, request.extensions())
    {
        // Refused only when the policy's hook took the name or RSV1 already.
        prepared.add_extension(accepted);
    }
    let mut response = ::http::Response::new(());
    let (status, skip): (_, &[&str]) = match request.form {
        Form::Upgrade => (StatusCode::SWITCHING_PROTOCOLS, &[]),
        Form::ExtendedConnect => (
            StatusCode::OK,
            &["upgrade", "connection", "sec-websocket-accept"],
        ),
    };
    *response.status_mut() = status;
    for (name, value) in prepared.header_fields(accept) {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| UsageError::InvalidHeader(name.to_owned()))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| UsageError::InvalidHeader(format!("{name}: {value}")))?;
        response.headers_mut().append(name, value);
    }
    Ok((response, prepared.into_negotiated()))
}

/// The answer to a request [`validate`] or [`validate_connect`] refused: its status (400,
/// 403, 405, 426, 431) with the headers the status calls for (`Allow`,
/// `Sec-WebSocket-Version`) and a short body. A client-side error (not produced by either)
/// gets 400.
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

/// The machine for a connection (or an HTTP/2 or HTTP/3 stream) upgraded by the framework:
/// open, in `role`, with the extensions `negotiated` settled (permessage-deflate's stage when
/// `config` enables it, as it did for [`accept_response`]), and with the bytes the framework
/// read past the request (or response) head already received. A connection whose handshake
/// settled nothing takes `Negotiated::default()`.
pub fn upgraded(role: Role, config: Config, negotiated: Negotiated, leftover: &[u8]) -> Connection {
    let mut conn = Connection::from_negotiated(role, config, negotiated);
    conn.receive(leftover);
    conn
}
