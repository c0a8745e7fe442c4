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

use core::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::config::Config;
use crate::error::UsageError;
use crate::extension::parse_extensions;
pub use crate::extension::{AcceptedExtension, ExtensionOffer};
use crate::http::{
    Head, HeadError, HeadKind, HeadParser, HeadProgress, StartLine, is_field_value, is_token,
    list_has, list_items, trim_ows,
};

mod error;
mod headers;
mod key;
mod response;
mod server;
mod url;

pub use error::HandshakeError;
use headers::{check_header, write_header};
pub use key::accept_key;
use key::accept_key_bytes;
pub use response::{Response, reason_phrase};
pub use server::{HandshakeRequest, RequestParser, RequestProgress};
pub(crate) use server::{Received, Validated};
pub use url::UrlError;
use url::{WsUrl, valid_host_name};

/// Whether some header named `name` lists `token` (comma list, ASCII case-insensitive).
fn has_token(head: &Head, name: &str, token: &str) -> bool {
    head.values(name)
        .any(|v| list_has(v.as_bytes(), token.as_bytes()))
}

/// Header names the handshake writes itself; the application may not add them.
const RESERVED_RESPONSE_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Header names a [`ClientRequest`] writes itself.
const RESERVED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
    "content-length",
    "transfer-encoding",
];

// ---------------------------------------------------------------------------------------------
// Server: policy and acceptance
// ---------------------------------------------------------------------------------------------

type OriginPredicate = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;
type ProtocolSelector = Arc<dyn Fn(&[String]) -> Option<String> + Send + Sync>;
type ExtensionHook = Arc<dyn Fn(&[ExtensionOffer]) -> Vec<AcceptedExtension> + Send + Sync>;

/// What a server accepts: origins, subprotocols, extensions. Shared between connections (the
/// callbacks are stored behind `Arc`, so cloning is cheap).
///
/// The default accepts any origin (or none), selects no subprotocol and no extension.
///
/// **Origins.** With neither [`allow_origin`](Self::allow_origin) nor
/// [`origin_predicate`](Self::origin_predicate) set, every request passes. Once either is set,
/// a request passes when its `Origin` is on the allowlist (exact match, ASCII case-insensitive)
/// or the predicate returns `true`. A request **without** `Origin` (typical of non-browser
/// clients) never matches the allowlist; the predicate receives `None` and decides. So an
/// allowlist alone refuses requests without `Origin`.
///
/// **Subprotocols.** [`protocols`](Self::protocols) gives the server's preference order: the
/// first one the client offered is selected. [`protocol_selector`](Self::protocol_selector)
/// replaces it by a callback. An explicit [`Accept::protocol`] overrides both.
#[derive(Clone, Default)]
pub struct ServerPolicy {
    origins: Vec<String>,
    origin_predicate: Option<OriginPredicate>,
    protocols: Vec<String>,
    protocol_selector: Option<ProtocolSelector>,
    extension_hook: Option<ExtensionHook>,
    plain_http: bool,
}

impl fmt::Debug for ServerPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerPolicy")
            .field("origins", &self.origins)
            .field("origin_predicate", &self.origin_predicate.is_some())
            .field("protocols", &self.protocols)
            .field("protocol_selector", &self.protocol_selector.is_some())
            .field("extension_hook", &self.extension_hook.is_some())
            .field("plain_http", &self.plain_http)
            .finish()
    }
}

impl ServerPolicy {
    /// The default policy: any origin, no subprotocol, no extension.
    pub fn new() -> Self {
        Self::default()
    }

    /// Let ordinary HTTP `GET` requests (no upgrade attempted) through to the application as
    /// [`crate::Event::HttpRequest`], to be answered with [`crate::Connection::respond`];
    /// otherwise they get 400. Off by default.
    pub fn plain_http(mut self, on: bool) -> Self {
        self.plain_http = on;
        self
    }

    /// Whether ordinary HTTP requests are passed to the application.
    pub fn serves_plain_http(&self) -> bool {
        self.plain_http
    }

    /// Add a serialized origin (`https://example.com`) to the allowlist. Repeatable.
    pub fn allow_origin(mut self, origin: &str) -> Self {
        self.origins.push(origin.to_owned());
        self
    }

    /// Decide origins with a callback, given the `Origin` value or `None` when absent.
    pub fn origin_predicate(
        mut self,
        predicate: impl Fn(Option<&str>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.origin_predicate = Some(Arc::new(predicate));
        self
    }

    /// The subprotocols this server speaks, most preferred first.
    pub fn protocols(mut self, protocols: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Select the subprotocol with a callback, given the client's offers in order. It must
    /// return one of them, or `None`.
    pub fn protocol_selector(
        mut self,
        selector: impl Fn(&[String]) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.protocol_selector = Some(Arc::new(selector));
        self
    }

    /// Accept extensions with a callback, given the client's offers in order (called only when
    /// there are some). Each accepted extension must be one offered, its name and parameters
    /// tokens, and no two may claim the same RSV bit.
    pub fn extension_hook(
        mut self,
        hook: impl Fn(&[ExtensionOffer]) -> Vec<AcceptedExtension> + Send + Sync + 'static,
    ) -> Self {
        self.extension_hook = Some(Arc::new(hook));
        self
    }

    /// Check the request's `Origin` against the policy (see the type's documentation).
    /// Refusal is [`HandshakeError::OriginRefused`] (403).
    pub fn check_origin(&self, req: &HandshakeRequest) -> Result<(), HandshakeError> {
        if self.origins.is_empty() && self.origin_predicate.is_none() {
            return Ok(());
        }
        let origin = req.origin();
        let listed = origin.is_some_and(|o| self.origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if listed || self.origin_predicate.as_ref().is_some_and(|p| p(origin)) {
            Ok(())
        } else {
            Err(HandshakeError::OriginRefused(origin.map(str::to_owned)))
        }
    }

    /// The subprotocol this policy selects for `offered`, if any.
    fn select_protocol(&self, offered: &[String]) -> Option<String> {
        if let Some(select) = &self.protocol_selector {
            return select(offered);
        }
        self.protocols
            .iter()
            .find(|p| offered.iter().any(|o| o == *p))
            .cloned()
    }
}

/// The application's decision to accept a handshake: an explicit subprotocol and extra headers.
///
/// ```
/// let accept = wsmachine::handshake::Accept::new().protocol("chat").header("Set-Cookie", "id=1");
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    protocol: Option<String>,
    headers: Vec<(String, String)>,
}

impl Accept {
    /// Accept with the policy's subprotocol choice and no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Select this subprotocol; it must be one the client offered
    /// ([`UsageError::SubprotocolNotOffered`] otherwise).
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocol = Some(name.into());
        self
    }

    /// Add a header to the 101 (e.g. `Set-Cookie`). The name must be a token and the value free
    /// of CR, LF, NUL and other controls; the headers the handshake writes itself (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`, `Content-Length`, `Transfer-Encoding`) are refused.
    /// Checked by [`write_accept`] ([`UsageError::InvalidHeader`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the handshake settled: the subprotocol and the extensions in use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    protocol: Option<String>,
    extensions: Vec<AcceptedExtension>,
}

impl Negotiated {
    /// The selected subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions in use, in the order of the 101's `Sec-WebSocket-Extensions`.
    pub fn extensions(&self) -> &[AcceptedExtension] {
        &self.extensions
    }

    /// The RSV bits given a meaning by the extensions (union of their `rsv_bits`); frames with
    /// any other RSV bit set are a protocol error (§5.2).
    pub fn rsv_bits(&self) -> u8 {
        self.extensions.iter().fold(0, |acc, e| acc | e.rsv_bits)
    }
}

/// Check the extensions the hook accepted.
fn check_accepted(
    offers: &[ExtensionOffer],
    accepted: &[AcceptedExtension],
) -> Result<(), UsageError> {
    let mut bits = 0u8;
    for (i, e) in accepted.iter().enumerate() {
        let as_offer = ExtensionOffer {
            name: e.name.clone(),
            params: e.params.clone(),
        };
        if !as_offer.is_valid() {
            return Err(UsageError::InvalidHeader(format!(
                "Sec-WebSocket-Extensions: {as_offer} is not made of tokens"
            )));
        }
        if !offers.iter().any(|o| o.name == e.name) {
            return Err(UsageError::InvalidHeader(format!(
                "Sec-WebSocket-Extensions: {} was not offered",
                e.name
            )));
        }
        if accepted[..i].iter().any(|p| p.name == e.name) {
            return Err(UsageError::InvalidHeader(format!(
                "Sec-WebSocket-Extensions: {} accepted twice",
                e.name
            )));
        }
        if e.rsv_bits & !0b111 != 0 || bits & e.rsv_bits != 0 {
            return Err(UsageError::InvalidHeader(format!(
                "Sec-WebSocket-Extensions: {} claims an RSV bit that is invalid or taken",
                e.name
            )));
        }
        bits |= e.rsv_bits;
    }
    Ok(())
}

/// Append the 101 response accepting `request`, and return what was negotiated.
///
/// Writes `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`, then one
/// `Sec-WebSocket-Protocol` only if a subprotocol was selected (the explicit
/// [`Accept::protocol`], else the policy's selector or preference list, else none), then
/// `Sec-WebSocket-Extensions` if the policy's hook accepted any, then the extra headers.
///
/// On error nothing is written. The origin is not checked here: call
/// [`ServerPolicy::check_origin`] first.
pub fn write_accept(
    request: &HandshakeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
    out: &mut Vec<u8>,
) -> Result<Negotiated, UsageError> {
    let prepared = prepare_accept(request, accept, policy)?;
    Ok(prepared.write(accept, out))
}

/// Everything the 101 needs from the request, decided and checked: writing it can no longer
/// fail, and no longer needs the request.
pub(crate) struct PreparedAccept {
    key: [u8; 28],
    negotiated: Negotiated,
    extension_list: Option<String>,
}

/// Check the application's decision and settle the 101's contents (see [`write_accept`]).
pub(crate) fn prepare_accept(
    request: &HandshakeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
) -> Result<PreparedAccept, UsageError> {
    for (n, v) in &accept.headers {
        check_header(n, v, RESERVED_RESPONSE_HEADERS)?;
    }
    let protocol = match &accept.protocol {
        Some(p) => Some(p.clone()),
        None => policy.select_protocol(request.protocols()),
    };
    if let Some(p) = &protocol
        && !request.protocols().iter().any(|o| o == p)
    {
        return Err(UsageError::SubprotocolNotOffered(p.clone()));
    }
    let extensions = match &policy.extension_hook {
        Some(hook) if request.offers_extensions() => {
            let accepted = hook(request.extensions());
            check_accepted(request.extensions(), &accepted)?;
            accepted
        }
        _ => Vec::new(),
    };
    let extension_list = (!extensions.is_empty()).then(|| {
        let list: Vec<String> = extensions.iter().map(ToString::to_string).collect();
        list.join(", ")
    });
    Ok(PreparedAccept {
        key: accept_key_bytes(request.key_bytes()),
        negotiated: Negotiated {
            protocol,
            extensions,
        },
        extension_list,
    })
}

impl PreparedAccept {
    /// Append the 101, with the extra headers of `accept` (already checked), and return what
    /// was negotiated.
    pub(crate) fn write(self, accept: &Accept, out: &mut Vec<u8>) -> Negotiated {
        // The fixed part, then the optional headers: sized first so that `out` grows at most
        // once.
        const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: ";
        let header_len = |name: &str, value: &str| name.len() + value.len() + 4;
        let protocol = self.negotiated.protocol.as_deref();
        let len = HEAD.len()
            + 28
            + 4
            + protocol.map_or(0, |p| header_len("Sec-WebSocket-Protocol", p))
            + self
                .extension_list
                .as_deref()
                .map_or(0, |e| header_len("Sec-WebSocket-Extensions", e))
            + accept
                .headers
                .iter()
                .map(|(n, v)| header_len(n, v))
                .sum::<usize>();
        if out.capacity() == 0 {
            // A first allocation, straight from the allocator.
            *out = Vec::with_capacity(len);
        } else {
            out.reserve(len);
        }
        out.extend_from_slice(HEAD);
        out.extend_from_slice(&self.key);
        out.extend_from_slice(b"\r\n");
        if let Some(p) = protocol {
            write_header(out, "Sec-WebSocket-Protocol", p);
        }
        if let Some(list) = &self.extension_list {
            write_header(out, "Sec-WebSocket-Extensions", list);
        }
        for (n, v) in &accept.headers {
            write_header(out, n, v);
        }
        out.extend_from_slice(b"\r\n");
        self.negotiated
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// What a client asks for: where, which subprotocols and extensions, extra headers.
///
/// Builder methods never fail; the first invalid input is remembered, reported by
/// [`validate`](Self::validate), and makes [`ClientHandshake::new`] write nothing and fail with
/// [`HandshakeError::InvalidClientRequest`].
///
/// ```
/// use wsmachine::handshake::ClientRequest;
/// let req = ClientRequest::from_url("ws://example.com:9001/chat?room=1")?
///     .origin("http://example.com")
///     .protocol("chat.v2")
///     .protocol("chat.v1")
///     .header("Cookie", "id=1");
/// assert_eq!((req.host(), req.effective_port(), req.path()), ("example.com", 9001, "/chat?room=1"));
/// assert!(req.validate().is_ok());
/// # Ok::<(), wsmachine::handshake::UrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    port: Option<u16>,
    secure: bool,
    path: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<(String, String)>,
    key: Option<[u8; 16]>,
    error: Option<UsageError>,
}

impl ClientRequest {
    /// A request for `path` (`/chat?x=1`; empty means `/`) on `host` (a name, an IPv4 address,
    /// or an IPv6 address with or without brackets), port 80.
    pub fn new(host: &str, path: &str) -> Self {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let path = if path.is_empty() { "/" } else { path };
        let mut r = ClientRequest {
            host: host.to_owned(),
            port: None,
            secure: false,
            path: path.to_owned(),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            key: None,
            error: None,
        };
        if !valid_host_name(host) {
            r.fail(format!("host {host:?} is not a valid host name or address"));
        }
        if !path.starts_with('/') || !path.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            r.fail(format!(
                "path {path:?} must start with / and be visible ASCII"
            ));
        }
        r
    }

    /// Parse `ws://host[:port]/path?query` or `wss://…`. A fragment or user info is refused
    /// (§3). For `wss` the caller provides TLS; the request only records the default port 443.
    pub fn from_url(url: &str) -> Result<ClientRequest, UrlError> {
        let url = WsUrl::parse(url)?;
        let mut req = ClientRequest::new(url.host, &url.path);
        if req.error.is_some() {
            return Err(UrlError::new("invalid path"));
        }
        req.secure = url.secure;
        req.port = url.port;
        Ok(req)
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(UsageError::InvalidHeader(message));
        }
    }

    /// Set the port; the `Host` header includes it unless it is the scheme's default (80 for
    /// `ws`, 443 for `wss`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Send an `Origin` header (the serialized origin of the page, for browser-like clients).
    pub fn origin(mut self, origin: &str) -> Self {
        if !is_field_value(origin) {
            self.fail(format!("origin {origin:?} contains control characters"));
        }
        self.origin = Some(origin.to_owned());
        self
    }

    /// Offer a subprotocol (a token); repeat in order of preference.
    pub fn protocol(mut self, name: &str) -> Self {
        if !is_token(name) {
            self.fail(format!("subprotocol {name:?} is not a token"));
        }
        self.protocols.push(name.to_owned());
        self
    }

    /// Offer an extension; its name, parameter names and values must be tokens.
    pub fn extension(mut self, offer: ExtensionOffer) -> Self {
        if !offer.is_valid() {
            self.fail(format!("extension offer {offer} is not made of tokens"));
        }
        self.extensions.push(offer);
        self
    }

    /// Add a header (`Cookie`, `Authorization`, …). The name must be a token, the value free of
    /// CR, LF, NUL and other controls; the headers the handshake writes itself are refused.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Err(UsageError::InvalidHeader(m)) =
            check_header(name, value, RESERVED_REQUEST_HEADERS)
        {
            self.fail(m);
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Use this key nonce instead of 16 random bytes (for tests and reproducible transcripts;
    /// §4.1 requires a fresh random key per connection).
    pub fn key(mut self, key: [u8; 16]) -> Self {
        self.key = Some(key);
        self
    }

    /// The first invalid input given to the builder, if any.
    pub fn validate(&self) -> Result<(), UsageError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The host to connect to (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to: the one set, else 443 for `wss` and 80 for `ws`.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 443 } else { 80 })
    }

    /// Whether the URL was `wss://` (the caller provides TLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The request-target: path and query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Host` header value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        match self.port {
            Some(p) if p != default => format!("{host}:{p}"),
            _ => host,
        }
    }

    /// Append the request with this key (base64 text).
    fn write(&self, key: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("GET {} HTTP/1.1\r\n", self.path).as_bytes());
        write_header(out, "Host", &self.host_header());
        write_header(out, "Upgrade", "websocket");
        write_header(out, "Connection", "Upgrade");
        write_header(out, "Sec-WebSocket-Key", key);
        if let Some(o) = &self.origin {
            write_header(out, "Origin", o);
        }
        if !self.protocols.is_empty() {
            write_header(out, "Sec-WebSocket-Protocol", &self.protocols.join(", "));
        }
        write_header(out, "Sec-WebSocket-Version", "13");
        if !self.extensions.is_empty() {
            let list = crate::extension::format_extensions(&self.extensions);
            write_header(out, "Sec-WebSocket-Extensions", &list);
        }
        for (n, v) in &self.headers {
            write_header(out, n, v);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The outcome of feeding bytes to a [`ClientHandshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseProgress {
    /// All the bytes given were consumed; the response is not complete yet.
    Partial,
    /// A valid 101: the connection is open.
    Accepted {
        /// The subprotocol and extensions in use.
        negotiated: Negotiated,
        /// How many bytes of the last call's data belonged to the head; the rest are frames.
        consumed: usize,
    },
    /// The server answered with another status; the connection is not open. Redirects and
    /// authentication are the application's decision.
    Rejected {
        /// Status, headers and body.
        response: Response,
        /// How many bytes of the last call's data belonged to the head and body.
        consumed: usize,
    },
    /// The response is malformed, or the 101 is invalid (§4.1).
    Failed(HandshakeError),
}

enum ClientState {
    Head,
    Body {
        response: Response,
        remaining: usize,
    },
    Done,
    Failed(HandshakeError),
}

/// The client side of the opening handshake.
///
/// A non-101 response is returned as [`ResponseProgress::Rejected`] with its body: the
/// `Content-Length` bytes, of which at most `max_response_body` are kept (reading stops there;
/// the header still tells the full length). Without `Content-Length` the body is empty and
/// `Rejected` comes with the head. As for [`RequestParser`], once finished the handshake
/// answers every further call with `Failed` (the same error, or
/// [`HandshakeError::AlreadyComplete`]).
pub struct ClientHandshake {
    head: HeadParser,
    config: Config,
    expected_accept: String,
    protocols: Vec<String>,
    extensions: Vec<String>,
    state: ClientState,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake").finish_non_exhaustive()
    }
}

impl ClientHandshake {
    /// Start the handshake: draw the key (unless the request sets one) and append the GET
    /// request to `out`. If the request is invalid (see [`ClientRequest::validate`]), nothing is
    /// written and the handshake has already failed.
    pub fn new(request: &ClientRequest, config: &Config, out: &mut Vec<u8>) -> ClientHandshake {
        let key = request.key.unwrap_or_else(|| {
            let mut k = [0u8; 16];
            crate::rng::fill_random(&mut k);
            k
        });
        let key = BASE64.encode(key);
        let state = match request.validate() {
            Ok(()) => {
                request.write(&key, out);
                ClientState::Head
            }
            Err(e) => ClientState::Failed(HandshakeError::InvalidClientRequest(e)),
        };
        ClientHandshake {
            head: HeadParser::new(
                HeadKind::Response,
                config.max_header_bytes,
                config.max_headers,
            ),
            config: *config,
            expected_accept: accept_key(key.as_bytes()),
            protocols: request.protocols.clone(),
            extensions: request.extensions.iter().map(|e| e.name.clone()).collect(),
            state,
        }
    }

    /// The failure, if the handshake has failed (including an invalid request at the start).
    pub fn failure(&self) -> Option<&HandshakeError> {
        match &self.state {
            ClientState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Feed the next bytes received from the server.
    pub fn receive(&mut self, data: &[u8]) -> ResponseProgress {
        match std::mem::replace(&mut self.state, ClientState::Done) {
            ClientState::Head => self.receive_head(data),
            ClientState::Body {
                mut response,
                remaining,
            } => {
                let take = remaining.min(data.len());
                response.extend_body(&data[..take]);
                self.finish_body(response, remaining - take, take)
            }
            ClientState::Done => ResponseProgress::Failed(HandshakeError::AlreadyComplete),
            ClientState::Failed(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: HandshakeError) -> ResponseProgress {
        self.state = ClientState::Failed(e.clone());
        ResponseProgress::Failed(e)
    }

    fn finish_body(
        &mut self,
        response: Response,
        remaining: usize,
        consumed: usize,
    ) -> ResponseProgress {
        if remaining == 0 {
            self.state = ClientState::Done;
            ResponseProgress::Rejected { response, consumed }
        } else {
            self.state = ClientState::Body {
                response,
                remaining,
            };
            ResponseProgress::Partial
        }
    }

    fn receive_head(&mut self, data: &[u8]) -> ResponseProgress {
        let (head, consumed) = match self.head.receive(data) {
            HeadProgress::Partial => {
                self.state = ClientState::Head;
                return ResponseProgress::Partial;
            }
            HeadProgress::Complete { head, consumed } => (head, consumed),
            HeadProgress::Failed(e) => {
                let e = match e {
                    HeadError::TooLarge => HandshakeError::ResponseTooLarge {
                        limit: self.config.max_header_bytes,
                    },
                    HeadError::TooManyHeaders => HandshakeError::TooManyResponseHeaders {
                        limit: self.config.max_headers,
                    },
                    HeadError::Malformed(r) => HandshakeError::MalformedResponse(r),
                };
                return self.fail(e);
            }
        };
        let StartLine::Response { status, reason } = head.start else {
            return self.fail(HandshakeError::MalformedResponse("not a response"));
        };
        if status == 101 {
            return match self.validate_101(&head) {
                Ok(negotiated) => ResponseProgress::Accepted {
                    negotiated,
                    consumed,
                },
                Err(e) => self.fail(e),
            };
        }
        let mut length: Option<usize> = None;
        for v in head.values("content-length") {
            let n = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                v.parse::<usize>().ok()
            } else {
                None
            };
            match (n, length) {
                (None, _) => {
                    return self.fail(HandshakeError::MalformedResponse("invalid Content-Length"));
                }
                (Some(n), Some(l)) if n != l => {
                    return self.fail(HandshakeError::MalformedResponse("invalid Content-Length"));
                }
                (Some(n), _) => length = Some(n),
            }
        }
        let remaining = length.unwrap_or(0).min(self.config.max_response_body);
        let rest = &data[consumed..];
        let take = remaining.min(rest.len());
        let response = Response::received(
            status,
            String::from_utf8_lossy(head.bytes(reason)).into_owned(),
            head.fields()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            rest[..take].to_vec(),
        );
        self.finish_body(response, remaining - take, consumed + take)
    }

    fn validate_101(&self, head: &Head) -> Result<Negotiated, HandshakeError> {
        if head.minor_version < 1 {
            return Err(HandshakeError::MalformedResponse(
                "101 response is not HTTP/1.1",
            ));
        }
        if !has_token(head, "upgrade", "websocket") {
            return Err(HandshakeError::ResponseMissingUpgrade);
        }
        if !has_token(head, "connection", "upgrade") {
            return Err(HandshakeError::ResponseMissingConnection);
        }
        let mut accepts = head.values("sec-websocket-accept");
        let accept = accepts.next().ok_or(HandshakeError::MissingAccept)?;
        if accepts.next().is_some() || accept != self.expected_accept {
            return Err(HandshakeError::WrongAccept);
        }
        let mut selected = head.values("sec-websocket-protocol").flat_map(list_items);
        let protocol = selected.next();
        if selected.next().is_some() {
            return Err(HandshakeError::MultipleProtocols);
        }
        if let Some(p) = protocol
            && !self.protocols.iter().any(|o| o == p)
        {
            return Err(HandshakeError::ProtocolNotOffered(p.to_owned()));
        }
        let mut extensions = Vec::new();
        for v in head.values("sec-websocket-extensions") {
            let list = parse_extensions(trim_ows(v))
                .map_err(|e| HandshakeError::InvalidResponseExtensions(e.reason()))?;
            for e in list {
                if !self.extensions.contains(&e.name) {
                    return Err(HandshakeError::ExtensionNotOffered(e.name));
                }
                extensions.push(AcceptedExtension {
                    name: e.name,
                    params: e.params,
                    rsv_bits: 0,
                });
            }
        }
        Ok(Negotiated {
            protocol: protocol.map(str::to_owned),
            extensions,
        })
    }
}
