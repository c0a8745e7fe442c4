//! WebSocket over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): the extended CONNECT.
//!
//! What differs from the HTTP/1.1 upgrade of RFC 6455 §4:
//!
//! | HTTP/1.1 | HTTP/2, HTTP/3 |
//! |---|---|
//! | `GET` | `:method CONNECT` |
//! | `Upgrade: websocket`, `Connection: Upgrade` | `:protocol websocket` (a pseudo-header: not among the headers) |
//! | `Host` | `:authority` (the URI's authority) |
//! | `Sec-WebSocket-Key` | none |
//! | 101 with `Sec-WebSocket-Accept` | 200, no accept key |
//! | the TCP connection carries the frames | the stream carries the frames |
//!
//! `Sec-WebSocket-Version: 13`, `Origin`, `Sec-WebSocket-Protocol` and
//! `Sec-WebSocket-Extensions` mean the same and are checked the same way, and the head limits
//! of the `Config` apply. The server must have announced `SETTINGS_ENABLE_CONNECT_PROTOCOL`
//! (hyper: `http2().enable_connect_protocol()`), or clients do not send the request.
//!
//! The `:protocol` value is not part of an [`http::Request`]: each HTTP/2 implementation keeps
//! it its own way (hyper and h2 in the request's extensions, as `hyper::ext::Protocol` and
//! `h2::ext::Protocol`), so the caller passes it to [`validate_connect`].

use super::{Form, UpgradeRequest, parse_head, write_head};
use crate::config::Config;
use crate::handshake::{HandshakeError, RequestError, RequestParser, ServerPolicy};

/// Validate an extended CONNECT opening a WebSocket on an HTTP/2 or HTTP/3 stream (RFC 8441
/// §4, RFC 9220), whose `:protocol` pseudo-header is `protocol` (`None` when the request had
/// none). Checked in this order, each refusal with its status: the method is `CONNECT` and
/// `:protocol` is `websocket` (400), the version is HTTP/2 or later (400), the head's limits
/// (431), an authority (400), `Sec-WebSocket-Version: 13` (426), the subprotocol and
/// extension lists (400), then `policy`'s origin check (403). The answer to a refusal is
/// [`error_response`](super::error_response), to an acceptance
/// [`accept_response`](super::accept_response) (200).
pub fn validate_connect<B>(
    request: &::http::Request<B>,
    protocol: Option<&str>,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<UpgradeRequest, HandshakeError> {
    validate_stream(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
        protocol,
        config,
        policy,
    )
}

/// [`validate_connect`] for a request already split into its parts.
pub fn validate_connect_parts(
    parts: &::http::request::Parts,
    protocol: Option<&str>,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<UpgradeRequest, HandshakeError> {
    validate_stream(
        &parts.method,
        &parts.uri,
        parts.version,
        &parts.headers,
        protocol,
        config,
        policy,
    )
}

fn validate_stream(
    method: &::http::Method,
    uri: &::http::Uri,
    version: ::http::Version,
    headers: &::http::HeaderMap,
    protocol: Option<&str>,
    config: &Config,
    policy: &ServerPolicy,
) -> Result<UpgradeRequest, HandshakeError> {
    if method != ::http::Method::CONNECT {
        return Err(RequestError::Malformed(
            "a WebSocket over HTTP/2 or HTTP/3 opens with an extended CONNECT",
        )
        .into());
    }
    match protocol {
        // RFC 8441 §4 registers the token in lower case; tokens compare case-insensitively.
        Some(p) if p.eq_ignore_ascii_case("websocket") => {}
        Some(_) => {
            return Err(
                RequestError::Malformed("the :protocol of the CONNECT is not websocket").into(),
            );
        }
        None => {
            return Err(RequestError::Malformed("a CONNECT without :protocol websocket").into());
        }
    }
    if version < ::http::Version::HTTP_2 {
        // RFC 8441 defines the extended CONNECT for HTTP/2 only (RFC 9220 for HTTP/3).
        return Err(RequestError::Malformed("an extended CONNECT needs HTTP/2 or HTTP/3").into());
    }
    // `:authority` is the URI's; a `Host` header, which HTTP/2 allows beside it, is read as
    // sent (the parser refuses two).
    let authority = uri.authority().map(|a| a.as_str());
    let host = if headers.contains_key(::http::header::HOST) {
        None
    } else {
        Some(authority.ok_or(RequestError::MissingHost)?)
    };
    // `:path`, which RFC 8441 §4 requires; the URI type gives "/" for an empty one.
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let head = write_head("CONNECT", path, host, headers);
    let mut parser = RequestParser::new(config);
    parser.extended_connect();
    let request = parse_head(&head, parser)?;
    policy.check_origin(&request)?;
    Ok(UpgradeRequest::new(
        request,
        Form::ExtendedConnect,
        version,
        config,
    ))
}
