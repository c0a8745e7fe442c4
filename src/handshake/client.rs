//! The client's side (RFC 6455 §4.1): [`ClientRequest`] says what to ask for,
//! [`ClientHandshake`] writes the request and validates the server's answer.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::error::{HandshakeError, ResponseError, head_error};
use super::headers::{check_header, write_header};
use super::key::accept_key;
use super::negotiated::Negotiated;
use super::response::Response;
use super::url::{UrlError, WsUrl, valid_host_name};
use crate::config::Config;
use crate::error::UsageError;
use crate::extension::{AcceptedExtension, ExtensionOffer, parse_extensions};
use crate::http::{
    Head, HeadKind, HeadParser, HeadProgress, StartLine, is_field_value, is_token, list_has,
    list_items, trim_ows,
};
use crate::rng::MaskSource;

/// Whether some header named `name` lists `token` (comma list, ASCII case-insensitive).
fn has_token(head: &Head, name: &str, token: &str) -> bool {
    head.values(name)
        .any(|v| list_has(v.as_bytes(), token.as_bytes()))
}

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

/// What a client asks for: where, which subprotocols and extensions, extra headers.
///
/// Builder methods never fail; the first invalid input is remembered, reported by
/// [`validate`](Self::validate), and makes [`ClientHandshake::with_mask_source`] (and `new`) write nothing and fail with
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
/// `Rejected` comes with the head. As for [`RequestParser`](super::RequestParser), once finished
/// the handshake answers every further call with `Failed` (the same error, or
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
    /// Start the handshake: draw the key from ChaCha12 keyed by the operating system's CSPRNG
    /// (unless the request sets one) and append the GET request to `out`. If the request is
    /// invalid (see [`ClientRequest::validate`]), nothing is written and the handshake has
    /// already failed.
    /// Feature `getrandom`; without it, [`with_mask_source`](Self::with_mask_source).
    #[cfg(feature = "getrandom")]
    pub fn new(request: &ClientRequest, config: &Config, out: &mut Vec<u8>) -> ClientHandshake {
        Self::with_mask_source(request, config, out, &mut crate::rng::OsRandom::new())
    }

    /// As `new`, the key (unless the request sets one) drawn as four keys from
    /// `source`, which must be unpredictable (see [`MaskSource`]).
    pub fn with_mask_source(
        request: &ClientRequest,
        config: &Config,
        out: &mut Vec<u8>,
        source: &mut dyn MaskSource,
    ) -> ClientHandshake {
        let key = request.key.unwrap_or_else(|| crate::rng::key_nonce(source));
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
        match core::mem::replace(&mut self.state, ClientState::Done) {
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

    fn fail(&mut self, e: impl Into<HandshakeError>) -> ResponseProgress {
        let e = e.into();
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
                return self.fail(head_error(
                    e,
                    HeadKind::Response,
                    self.config.max_header_bytes,
                    self.config.max_headers,
                ));
            }
        };
        let StartLine::Response { status, reason } = head.start else {
            return self.fail(ResponseError::Malformed("not a response"));
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
            match (crate::http::content_length(v.as_bytes()), length) {
                (None, _) => {
                    return self.fail(ResponseError::Malformed("invalid Content-Length"));
                }
                (Some(n), Some(l)) if n != l => {
                    return self.fail(ResponseError::Malformed("invalid Content-Length"));
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

    fn validate_101(&self, head: &Head) -> Result<Negotiated, ResponseError> {
        if head.minor_version < 1 {
            return Err(ResponseError::Malformed("101 response is not HTTP/1.1"));
        }
        if !has_token(head, "upgrade", "websocket") {
            return Err(ResponseError::MissingUpgrade);
        }
        if !has_token(head, "connection", "upgrade") {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        let mut accepts = head.values("sec-websocket-accept");
        let accept = accepts.next().ok_or(ResponseError::MissingAccept)?;
        if accepts.next().is_some() || accept != self.expected_accept {
            return Err(ResponseError::WrongAccept);
        }
        let mut selected = head.values("sec-websocket-protocol").flat_map(list_items);
        let protocol = selected.next();
        if selected.next().is_some() {
            return Err(ResponseError::MultipleProtocols);
        }
        if let Some(p) = protocol
            && !self.protocols.iter().any(|o| o == p)
        {
            return Err(ResponseError::ProtocolNotOffered(p.to_owned()));
        }
        let mut extensions = Vec::new();
        for v in head.values("sec-websocket-extensions") {
            let list = parse_extensions(trim_ows(v))
                .map_err(|e| ResponseError::InvalidExtensions(e.reason()))?;
            for e in list {
                if !self.extensions.contains(&e.name) {
                    return Err(ResponseError::ExtensionNotOffered(e.name));
                }
                extensions.push(AcceptedExtension {
                    name: e.name,
                    params: e.params,
                    rsv_bits: 0,
                });
            }
        }
        Ok(Negotiated::new(protocol.map(str::to_owned), extensions))
    }
}
