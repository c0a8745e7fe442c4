//! The server's side of the request (RFC 6455 §4.2.1): [`RequestParser`] reads the client's
//! opening handshake as it arrives and validates it into a [`HandshakeRequest`].

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

use super::error::{HandshakeError, RequestError, head_error};
use super::key::valid_key;
use super::url::{valid_host_header, valid_target};
use crate::config::Config;
use crate::extension::{ExtensionError, ExtensionOffer, check_extensions, parse_extensions};
use crate::http::{
    Field, Fields, Head, HeadKind, HeadParser, HeadProgress, Span, StartLine, eq_lower, is_token,
    list_has, list_items, text, trim_ows_bytes,
};
use crate::utf8::expect_text;

/// A client's opening handshake, valid per §4.2.1.
///
/// It keeps the request head's bytes once; every accessor returns a slice of them. The header
/// fields are read back from those bytes when asked for ([`headers`](Self::headers),
/// [`header`](Self::header)), the subprotocol list is built only when the client offered some,
/// and the extension offers only when first asked for.
#[derive(Clone)]
pub struct HandshakeRequest {
    /// The head's bytes, which every span below refers to.
    head: Vec<u8>,
    /// Where the header lines start in `head`.
    fields_start: usize,
    /// How many header fields there are.
    field_count: usize,
    method: Span,
    target: Span,
    http_minor: u8,
    host: Span,
    origin: Option<Span>,
    key: Span,
    protocols: Vec<String>,
    /// How many extensions the `Sec-WebSocket-Extensions` headers list (already checked).
    extension_count: usize,
    /// Those extensions, parsed on first use (with `std`; without it, when the request is
    /// made).
    extensions: Offers,
    /// A plain HTTP request's body, as the connection read it after the head.
    pub(crate) body: Vec<u8>,
    /// The body's length as `Content-Length` announced it.
    pub(crate) body_len: usize,
}

/// The offered extensions: parsed on first use where std's `OnceLock` can cache them in a
/// request shared between threads, and parsed with the request otherwise.
#[cfg(feature = "std")]
type Offers = std::sync::OnceLock<Vec<ExtensionOffer>>;
#[cfg(not(feature = "std"))]
type Offers = Vec<ExtensionOffer>;

impl PartialEq for HandshakeRequest {
    fn eq(&self, other: &Self) -> bool {
        // Everything else is derived from the head's bytes and the fields found in them.
        self.head == other.head && self.key == other.key
    }
}

impl Eq for HandshakeRequest {}

impl fmt::Debug for HandshakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandshakeRequest")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("http_version", &self.http_version())
            .field("host", &self.host())
            .field("origin", &self.origin())
            .field("protocols", &self.protocols)
            .field("key", &self.key())
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

impl HandshakeRequest {
    fn text(&self, span: Span) -> &str {
        text(&self.head, span)
    }

    /// The method: `GET` in a valid upgrade request, `CONNECT` in an HTTP/2 or HTTP/3
    /// extended CONNECT (RFC 8441, validated by `upgrade::validate_connect`).
    pub fn method(&self) -> &str {
        self.text(self.method)
    }

    /// The request-target as sent: `/path?query` (or an absolute URI).
    pub fn target(&self) -> &str {
        self.text(self.target)
    }

    /// The HTTP version as `(major, minor)`: `(1, 1)` or a later 1.x. An extended CONNECT
    /// is read back as HTTP/1.1 text and says `(1, 1)` too; `upgrade::UpgradeRequest`
    /// keeps the version it arrived with.
    pub fn http_version(&self) -> (u8, u8) {
        (1, self.http_minor)
    }

    /// The `Host` header value (`host[:port]`).
    pub fn host(&self) -> &str {
        self.text(self.host)
    }

    /// The `Origin` header value (first one), if the client sent one; browsers always do.
    pub fn origin(&self) -> Option<&str> {
        self.origin.map(|o| self.text(o))
    }

    /// The subprotocols offered, in the client's order: every `Sec-WebSocket-Protocol` header's
    /// comma list, items trimmed, empty items dropped.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered, in order, from every `Sec-WebSocket-Extensions` header.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        #[cfg(feature = "std")]
        return self.extensions.get_or_init(|| self.parse_offers());
        #[cfg(not(feature = "std"))]
        return &self.extensions;
    }

    /// The extensions of every `Sec-WebSocket-Extensions` header, parsed.
    fn parse_offers(&self) -> Vec<ExtensionOffer> {
        if self.extension_count == 0 {
            return Vec::new();
        }
        let mut list = Vec::with_capacity(self.extension_count);
        for v in self.header_values("sec-websocket-extensions") {
            // Checked when the request was parsed.
            list.extend(parse_extensions(v).unwrap_or_default());
        }
        list
    }

    /// Whether the client offered any extension.
    pub(super) fn offers_extensions(&self) -> bool {
        self.extension_count > 0
    }

    /// The `Sec-WebSocket-Key` value's bytes.
    pub(super) fn key_bytes(&self) -> &[u8] {
        &self.head[self.key.range()]
    }

    /// The buffer holding the head's bytes, for reuse once the request is no longer needed.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.head
    }

    /// The `Sec-WebSocket-Key` value (base64 of 16 bytes); empty for an HTTP/2 or HTTP/3
    /// extended CONNECT (RFC 8441), which has no key.
    pub fn key(&self) -> &str {
        self.text(self.key)
    }

    /// The `Sec-WebSocket-Version`; always 13 in a valid request.
    pub fn version(&self) -> u8 {
        13
    }

    /// Every header field in order, as `(name, value)`: name as sent and value trimmed of
    /// surrounding whitespace (cookies, authorization, …).
    pub fn headers(
        &self,
    ) -> impl ExactSizeIterator<Item = (&str, &str)> + DoubleEndedIterator + Clone + '_ {
        // The header lines, each ending in LF, without the empty line that ends the head.
        let lines = &self.head[self.fields_start.min(self.head.len())..];
        let lines = lines.strip_suffix(b"\n").unwrap_or(lines);
        let lines = lines.strip_suffix(b"\r").unwrap_or(lines);
        HeaderLines {
            rest: lines,
            left: self.field_count,
        }
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body of a plain HTTP request (a `POST`), once the connection has read it: empty for
    /// an upgrade request, and until [`crate::Event::HttpRequest`] reports the request.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The length of the body the request announced with `Content-Length` (0 without one).
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// Every header named `name` (ASCII case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// The header fields of a validated request head, read from its lines on demand: each line is
/// `name ":" OWS value OWS` and ends in LF (after a CR, most often).
#[derive(Clone)]
struct HeaderLines<'a> {
    /// The lines not yet read.
    rest: &'a [u8],
    /// How many lines `rest` holds.
    left: usize,
}

/// The name and trimmed value of one validated header line (without its LF).
fn split_field(line: &[u8]) -> (&str, &str) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A name is a token, so the first colon ends it.
    let colon = memchr::memchr(b':', line).unwrap_or(line.len());
    let value = line.get(colon + 1..).unwrap_or_default();
    (
        expect_text(&line[..colon]),
        expect_text(trim_ows_bytes(value)),
    )
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let end = memchr::memchr(b'\n', self.rest).unwrap_or(self.rest.len());
        let line = &self.rest[..end];
        self.rest = self.rest.get(end + 1..).unwrap_or_default();
        self.left -= 1;
        Some(split_field(line))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for HeaderLines<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let body = self.rest.strip_suffix(b"\n").unwrap_or(self.rest);
        let start = memchr::memrchr(b'\n', body).map_or(0, |i| i + 1);
        let line = &body[start..];
        self.rest = &self.rest[..start];
        self.left -= 1;
        Some(split_field(line))
    }
}

impl ExactSizeIterator for HeaderLines<'_> {}

/// Check the request line alone: version, then method (`GET`, or any method when plain HTTP is
/// served: the application answers those requests, and an upgrade is held to `GET` once the
/// head shows one; `CONNECT` for an RFC 8441 extended CONNECT). Done as soon as the line
/// arrives.
fn check_request_line(
    method: &[u8],
    target: &[u8],
    minor: u8,
    mode: Mode,
) -> Result<(), RequestError> {
    if minor < 1 {
        return Err(RequestError::HttpVersionTooLow);
    }
    if method != mode.upgrade_method() && !mode.plain_http {
        // A token: ASCII.
        let method = String::from_utf8_lossy(method).into_owned();
        return Err(RequestError::MethodNotAllowed(method));
    }
    if !valid_target(target) {
        return Err(RequestError::InvalidTarget);
    }
    Ok(())
}

/// The header fields the server's validation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Host,
    Origin,
    Upgrade,
    Connection,
    Key,
    Version,
    Protocol,
    Extensions,
    ContentLength,
    TransferEncoding,
    Other,
}

/// Which of the [`Known`] fields `name` is (ASCII case-insensitive): a length test first, so
/// most names are told apart without a comparison.
#[inline]
fn classify(name: &[u8]) -> Known {
    let is = |known: &str| eq_lower(name, known.as_bytes());
    match name.len() {
        4 if is("host") => Known::Host,
        6 if is("origin") => Known::Origin,
        7 if is("upgrade") => Known::Upgrade,
        10 if is("connection") => Known::Connection,
        14 if is("content-length") => Known::ContentLength,
        17 if is("sec-websocket-key") => Known::Key,
        17 if is("transfer-encoding") => Known::TransferEncoding,
        21 if is("sec-websocket-version") => Known::Version,
        22 if is("sec-websocket-protocol") => Known::Protocol,
        24 if is("sec-websocket-extensions") => Known::Extensions,
        _ => Known::Other,
    }
}

/// The first occurrence and the number of occurrences of a header field.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// The first value; meaningless while `count` is 0.
    value: Span,
    count: u32,
}

impl Seen {
    #[inline]
    fn add(&mut self, value: Span) {
        if self.count == 0 {
            self.value = value;
        }
        // Only 0, 1 and more matter.
        self.count = self.count.saturating_add(1);
    }

    /// The first value, if any.
    fn first(self) -> Option<Span> {
        (self.count > 0).then_some(self.value)
    }
}

/// What the server's validation needs from the request's header fields, recorded as the head
/// parser validates each field: no list of every field is built.
#[derive(Debug)]
struct RequestFields {
    count: usize,
    host: Seen,
    origin: Seen,
    version: Seen,
    key: Seen,
    upgrade: bool,
    connection: bool,
    content_length: Seen,
    /// `Transfer-Encoding` is present.
    chunked: bool,
    protocols: Vec<String>,
    /// The extensions listed, or the first list's error: reported after the checks before it.
    extensions: Result<usize, ExtensionError>,
}

impl Default for RequestFields {
    fn default() -> Self {
        RequestFields {
            count: 0,
            host: Seen::default(),
            origin: Seen::default(),
            version: Seen::default(),
            key: Seen::default(),
            upgrade: false,
            connection: false,
            content_length: Seen::default(),
            chunked: false,
            protocols: Vec::new(),
            extensions: Ok(0),
        }
    }
}

impl Fields for RequestFields {
    #[inline]
    fn add(&mut self, field: Field, name: &[u8], value: &[u8]) {
        self.count += 1;
        match classify(name) {
            Known::Host => self.host.add(field.value),
            Known::Origin => self.origin.add(field.value),
            Known::Upgrade => self.upgrade = self.upgrade || list_has(value, b"websocket"),
            Known::Connection => {
                self.connection = self.connection || list_has(value, b"upgrade");
            }
            Known::Key => self.key.add(field.value),
            Known::Version => self.version.add(field.value),
            Known::Protocol => self
                .protocols
                .extend(list_items(expect_text(value)).map(str::to_owned)),
            Known::Extensions => {
                if let Ok(n) = self.extensions {
                    self.extensions = check_extensions(value).map(|m| n + m);
                }
            }
            Known::ContentLength => self.content_length.add(field.value),
            Known::TransferEncoding => self.chunked = true,
            Known::Other => {}
        }
    }
}

/// Validate a complete request head per §4.2.1.
///
/// The fields that matter were found as the head was parsed; the checks run in a fixed order,
/// so that a request with several faults always gets the same answer.
///
/// The request is stored in `slot`, where its owner keeps it, rather than moved there; the
/// outcome reports `consumed` as the bytes of the head.
fn validate_request(
    head: Head<RequestFields>,
    mode: Mode,
    max_body: usize,
    slot: &mut Option<HandshakeRequest>,
    consumed: usize,
) -> Result<RequestProgress<()>, RequestError> {
    // The head taken apart by value: its fields record is moved out, not swapped for a
    // default (a copy and a write of the record on every handshake).
    let Head {
        buf,
        start,
        minor_version,
        fields_start,
        fields,
    } = head;
    let bytes = |span: Span| &buf[span.range()];
    let StartLine::Request { method, target } = start else {
        return Err(RequestError::Malformed("not a request"));
    };
    check_request_line(bytes(method), bytes(target), minor_version, mode)?;

    let RequestFields {
        count,
        host,
        origin,
        version,
        key,
        upgrade,
        connection,
        content_length,
        chunked,
        protocols,
        extensions,
    } = fields;

    let host = match host.first() {
        None => return Err(RequestError::MissingHost),
        Some(h) if host.count == 1 && valid_host_header(bytes(h)) => h,
        Some(_) => return Err(RequestError::InvalidHost),
    };
    // The body's length: one Content-Length of decimal digits; a chunked body is not read.
    let body_len = match content_length.first() {
        _ if chunked => None,
        None => Some(0),
        Some(_) if content_length.count > 1 => None,
        Some(v) => crate::http::content_length(bytes(v)),
    };
    let request = |key: Span,
                   protocols: Vec<String>,
                   extension_count: usize,
                   body_len: usize,
                   head: Vec<u8>| {
        #[cfg_attr(feature = "std", expect(unused_mut))]
        let mut request = HandshakeRequest {
            method,
            target,
            http_minor: minor_version,
            host,
            origin: origin.first(),
            key,
            protocols,
            extension_count,
            extensions: Offers::default(),
            fields_start,
            field_count: count,
            head,
            body: Vec::new(),
            body_len,
        };
        #[cfg(not(feature = "std"))]
        {
            request.extensions = request.parse_offers();
        }
        request
    };
    if !upgrade && mode.plain_http && key.count == 0 {
        // An ordinary HTTP request may carry a body the connection reads after the head.
        let body_len = body_len.ok_or(RequestError::LengthRequired)?;
        if body_len > max_body {
            return Err(RequestError::BodyTooLarge { limit: max_body });
        }
        *slot = Some(request(Span::default(), Vec::new(), 0, body_len, buf));
        return Ok(RequestProgress::Plain {
            request: (),
            consumed,
        });
    }
    if bytes(method) != mode.upgrade_method() {
        // Another method reaches here only when plain HTTP is served: an upgrade needs GET.
        let method = String::from_utf8_lossy(bytes(method)).into_owned();
        return Err(RequestError::MethodNotAllowed(method));
    }
    // Bytes after the head are frames: a body would be misread as frames (or, behind a proxy,
    // smuggled), so a request announcing one is refused.
    if chunked || body_len != Some(0) {
        return Err(RequestError::Malformed("a handshake request has no body"));
    }
    // RFC 8441 §4: in an extended CONNECT, the method and `:protocol` (checked by the
    // caller) say what `Upgrade`, `Connection` and the key say in HTTP/1.1, and there is no
    // key to answer; the version is required all the same.
    if !upgrade && !mode.extended_connect {
        // An ordinary HTTP request (no upgrade attempted at all) is served by the application
        // only when it opted in (above); a broken upgrade attempt is always a 400.
        return Err(RequestError::MissingUpgrade);
    }
    if !connection && !mode.extended_connect {
        return Err(RequestError::MissingConnectionUpgrade);
    }
    if version.count != 1 || bytes(version.value) != b"13" {
        return Err(RequestError::UnsupportedVersion);
    }
    let key = match key.first() {
        _ if mode.extended_connect => Span::default(),
        Some(k) if key.count == 1 && valid_key(bytes(k)) => k,
        _ => return Err(RequestError::InvalidKey),
    };
    if !protocols.iter().all(|p| is_token(p)) {
        return Err(RequestError::InvalidProtocols);
    }
    let extension_count = extensions.map_err(|e| RequestError::InvalidExtensions(e.reason()))?;
    *slot = Some(request(key, protocols, extension_count, 0, buf));
    Ok(RequestProgress::Complete {
        request: (),
        consumed,
    })
}

/// The outcome of feeding bytes to a [`RequestParser`].
///
/// `R` is how a complete request is handed over: [`RequestParser::receive`] returns the
/// [`HandshakeRequest`] itself (the default). A [`Connection`](crate::Connection) has the
/// parser store the request where the connection keeps it, and gets `()` here instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestProgress<R = HandshakeRequest> {
    /// All the bytes given were consumed; the head is not complete yet.
    Partial,
    /// The head is complete and valid per §4.2.1.
    Complete {
        /// The request.
        request: R,
        /// How many bytes of the last call's data belonged to the head. The bytes after them
        /// are the client's first frames: keep them.
        consumed: usize,
    },
    /// A well-formed request, of any method, that attempts no upgrade at all (no `Upgrade:
    /// websocket`, no `Sec-WebSocket-Key`), reported only when
    /// [`RequestParser::allow_plain_http`] is on, so that the application can serve it (a page,
    /// a health check, an Engine.IO poll). Its key, subprotocols and extensions are empty; a
    /// body it announces ([`HandshakeRequest::body_len`]) follows the head.
    Plain {
        /// The request.
        request: R,
        /// How many bytes of the last call's data belonged to the head.
        consumed: usize,
    },
    /// The request is invalid; answer with [`HandshakeError::write_response`] and close.
    Failed(HandshakeError),
}

/// Which requests a parser takes.
#[derive(Debug, Clone, Copy, Default)]
struct Mode {
    /// Requests that attempt no upgrade are reported (`allow_plain_http`).
    plain_http: bool,
    /// The head is an RFC 8441 extended CONNECT written back as HTTP/1.1 text: method
    /// `CONNECT`, no `Upgrade`, `Connection` or key (`extended_connect`).
    extended_connect: bool,
}

impl Mode {
    /// The method an upgrade request has.
    fn upgrade_method(self) -> &'static [u8] {
        if self.extended_connect {
            b"CONNECT"
        } else {
            b"GET"
        }
    }
}

enum ParseState {
    Reading { line_checked: bool },
    Complete,
    Failed(HandshakeError),
}

/// The server's incremental request parser.
///
/// Feed it bytes as they arrive, in any chunking; it keeps its place between calls, so the work
/// is linear in the input, and it enforces `max_header_bytes` and `max_headers` as bytes arrive
/// (431). The request line is checked as soon as it is complete (HTTP version, then method,
/// then target), so a non-GET request fails without waiting for its headers.
///
/// After `Complete` or `Failed` the parser is finished: fed again, it returns the same
/// `Failed` error after a failure, and `Failed(HandshakeError::AlreadyComplete)` (no status)
/// after a success.
pub struct RequestParser {
    head: HeadParser<RequestFields>,
    /// The configured limits, as errors report them.
    max_header_bytes: usize,
    max_headers: usize,
    /// The largest plain HTTP request body.
    max_body: usize,
    state: ParseState,
    mode: Mode,
}

impl fmt::Debug for RequestParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParser").finish_non_exhaustive()
    }
}

impl RequestParser {
    /// A parser using the head limits of `config`.
    pub fn new(config: &Config) -> Self {
        RequestParser {
            head: HeadParser::with_fields(
                HeadKind::Request,
                config.max_header_bytes,
                config.max_headers,
            ),
            max_header_bytes: config.max_header_bytes,
            max_headers: config.max_headers,
            max_body: config.max_request_body,
            state: ParseState::Reading {
                line_checked: false,
            },
            mode: Mode::default(),
        }
    }

    /// Report well-formed requests that attempt no upgrade, whatever their method, as
    /// [`RequestProgress::Plain`] instead of failing them with 400 (405 for a method other
    /// than `GET`); an upgrade attempt still needs `GET` (405). A body
    /// needs one `Content-Length` (411 otherwise) of at most `Config::max_request_body`
    /// (413); the parser stops at the end of the head, and the caller reads the body
    /// ([`HandshakeRequest::body_len`]). Off by default.
    pub fn allow_plain_http(&mut self, on: bool) {
        self.mode.plain_http = on;
    }

    /// Read an RFC 8441 extended CONNECT, given as HTTP/1.1 text (`CONNECT target HTTP/1.1`
    /// with a `Host`), whose `:protocol` the caller checked: `Sec-WebSocket-Version: 13` is
    /// required, `Upgrade`, `Connection` and `Sec-WebSocket-Key` are not, and the request's
    /// [`key`](HandshakeRequest::key) is empty.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn extended_connect(&mut self) {
        self.mode.extended_connect = true;
    }

    /// Feed the next received bytes.
    pub fn receive(&mut self, data: &[u8]) -> RequestProgress {
        let mut slot = None;
        match (self.receive_into(data, &mut slot), slot) {
            (RequestProgress::Partial, _) => RequestProgress::Partial,
            (RequestProgress::Complete { consumed, .. }, Some(request)) => {
                RequestProgress::Complete { request, consumed }
            }
            (RequestProgress::Plain { consumed, .. }, Some(request)) => {
                RequestProgress::Plain { request, consumed }
            }
            (RequestProgress::Failed(e), _) => RequestProgress::Failed(e),
            // `receive_into` fills the slot whenever it completes; kept total without a panic.
            (RequestProgress::Complete { .. } | RequestProgress::Plain { .. }, None) => {
                RequestProgress::Failed(HandshakeError::AlreadyComplete)
            }
        }
    }

    /// [`receive`](Self::receive), storing a completed request in `slot` rather than
    /// returning it.
    pub(crate) fn receive_into(
        &mut self,
        data: &[u8],
        slot: &mut Option<HandshakeRequest>,
    ) -> RequestProgress<()> {
        let line_checked = match &self.state {
            ParseState::Reading { line_checked } => *line_checked,
            ParseState::Complete => {
                return RequestProgress::Failed(HandshakeError::AlreadyComplete);
            }
            ParseState::Failed(e) => return RequestProgress::Failed(e.clone()),
        };
        let result =
            match self.head.receive(data) {
                HeadProgress::Partial => {
                    if !line_checked {
                        match self.head.request_line().map(|(m, t, v)| {
                            check_request_line(m.as_bytes(), t.as_bytes(), v, self.mode)
                        }) {
                            None => {}
                            Some(Ok(())) => {
                                self.state = ParseState::Reading { line_checked: true };
                            }
                            Some(Err(e)) => return self.fail(e),
                        }
                    }
                    return RequestProgress::Partial;
                }
                HeadProgress::Complete { head, consumed } => {
                    validate_request(head, self.mode, self.max_body, slot, consumed)
                        .map_err(HandshakeError::Request)
                }
                HeadProgress::Failed(e) => {
                    // A request line already received decides first (405 before a later 400 or
                    // 431), so that the outcome does not depend on how the bytes were split.
                    match self.head.request_line().map(|(m, t, v)| {
                        check_request_line(m.as_bytes(), t.as_bytes(), v, self.mode)
                    }) {
                        Some(Err(line_error)) => Err(line_error.into()),
                        _ => Err(head_error(
                            e,
                            HeadKind::Request,
                            self.max_header_bytes,
                            self.max_headers,
                        )),
                    }
                }
            };
        match result {
            Ok(done) => {
                self.state = ParseState::Complete;
                done
            }
            Err(e) => self.fail(e),
        }
    }

    fn fail(&mut self, e: impl Into<HandshakeError>) -> RequestProgress<()> {
        let e = e.into();
        self.state = ParseState::Failed(e.clone());
        RequestProgress::Failed(e)
    }
}
