//! The server's decision (RFC 6455 §4.2.2): what it accepts ([`ServerPolicy`]), the application's
//! choice for one request ([`Accept`]), and the 101 that says so.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use alloc::sync::Arc;
use core::fmt;

use super::error::{HandshakeError, RequestError};
use super::headers::{check_header, write_header};
use super::key::accept_key_bytes;
use super::negotiated::Negotiated;
use super::server::HandshakeRequest;
use crate::error::UsageError;
use crate::extension::{AcceptedExtension, ExtensionOffer};

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

    /// Let ordinary HTTP requests (no upgrade attempted, any method) through to the
    /// application as [`crate::Event::HttpRequest`], to be answered with
    /// [`crate::Connection::respond`]; a body (`Content-Length`, at most
    /// `Config::max_request_body`) is read first and found in
    /// [`HandshakeRequest::body`](crate::handshake::HandshakeRequest::body). Otherwise they get
    /// 400 (405 for a method other than `GET`). Off by default.
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
    /// Refusal is a [`HandshakeError::Request`] holding [`RequestError::OriginRefused`] (403).
    pub fn check_origin(&self, req: &HandshakeRequest) -> Result<(), HandshakeError> {
        if self.origins.is_empty() && self.origin_predicate.is_none() {
            return Ok(());
        }
        let origin = req.origin();
        let listed = origin.is_some_and(|o| self.origins.iter().any(|a| a.eq_ignore_ascii_case(o)));
        if listed || self.origin_predicate.as_ref().is_some_and(|p| p(origin)) {
            Ok(())
        } else {
            Err(RequestError::OriginRefused(origin.map(str::to_owned)).into())
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
        negotiated: Negotiated::new(protocol, extensions),
        extension_list,
    })
}

impl PreparedAccept {
    /// Add an extension the machine itself negotiated (permessage-deflate) after those of the
    /// policy's hook; refused (false) when one of those has its name or one of its RSV bits.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) fn add_extension(&mut self, ext: AcceptedExtension) -> bool {
        let taken = self
            .negotiated
            .extensions()
            .iter()
            .any(|e| e.name.eq_ignore_ascii_case(&ext.name) || e.rsv_bits & ext.rsv_bits != 0);
        if taken {
            return false;
        }
        let item = ext.to_string();
        self.extension_list = Some(match self.extension_list.take() {
            Some(list) => format!("{list}, {item}"),
            None => item,
        });
        self.negotiated.push_extension(ext);
        true
    }

    /// The 101's header fields, in the order [`write`](Self::write) writes them, for a
    /// framework's response type: the handshake's own, then the extra ones of `accept`
    /// (already checked).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn header_fields<'a>(
        &'a self,
        accept: &'a Accept,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        let key = crate::utf8::expect_text(&self.key);
        [
            Some(("Upgrade", "websocket")),
            Some(("Connection", "Upgrade")),
            Some(("Sec-WebSocket-Accept", key)),
            self.negotiated
                .protocol()
                .map(|p| ("Sec-WebSocket-Protocol", p)),
            self.extension_list
                .as_deref()
                .map(|e| ("Sec-WebSocket-Extensions", e)),
        ]
        .into_iter()
        .flatten()
        .chain(accept.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// What the 101 settles, when the response is sent by other means than
    /// [`write`](Self::write).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn into_negotiated(self) -> Negotiated {
        self.negotiated
    }

    /// Append the 101, with the extra headers of `accept` (already checked), and return what
    /// was negotiated.
    pub(crate) fn write(self, accept: &Accept, out: &mut Vec<u8>) -> Negotiated {
        // The fixed part, then the optional headers: sized first so that `out` grows at most
        // once.
        const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: ";
        let header_len = |name: &str, value: &str| name.len() + value.len() + 4;
        let protocol = self.negotiated.protocol();
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
