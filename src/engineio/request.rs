//! What the endpoint reads from an HTTP request, and the errors it answers with.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::config::OriginPolicy;
use crate::handshake::{HandshakeRequest, Response};

/// The head of an HTTP request (or of a WebSocket handshake) for the endpoint.
///
/// The application parses the head with whatever it uses; the endpoint needs the method, the
/// request target with its query, and the `Origin` and `Host` headers.
///
/// ```
/// use wsmachine::engineio::Request;
///
/// let req = Request::new("GET", "/engine.io/?EIO=4&transport=polling")
///     .header("Host", "example.com");
/// assert_eq!(req.header_value("host"), Some("example.com"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target: path and query, e.g. `/engine.io/?EIO=4&transport=polling`.
    pub target: String,
    /// The header fields, names as sent.
    pub headers: Vec<(String, String)>,
}

/// A request target's path, without the query or fragment.
pub(crate) fn target_path(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or("")
}

/// The endpoint's view of a request the crate's [`Connection`](crate::Connection) read: an
/// `HttpRequest`'s or a `HandshakeRequest`'s method, target and headers.
impl From<&HandshakeRequest> for Request {
    fn from(hr: &HandshakeRequest) -> Self {
        Request {
            method: hr.method().to_owned(),
            target: hr.target().to_owned(),
            headers: hr
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

impl Request {
    /// A request with this method and target and no headers.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
        }
    }

    /// Add a header field.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target's path, without the query.
    pub fn path(&self) -> &str {
        target_path(&self.target)
    }

    /// The first value of query parameter `name`, as written (no percent-decoding: the
    /// parameters the protocol uses never need it).
    pub fn query(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or("");
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

/// Why the endpoint refused a request or a WebSocket, with the protocol's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// `transport` is missing or names no transport of this server (code 0).
    UnknownTransport,
    /// `sid` names no open session (code 1).
    UnknownSid,
    /// A handshake with another method than `GET` (code 2).
    BadHandshakeMethod,
    /// The request does not fit the session's state: a poll on a session that upgraded, a
    /// second poll or POST while one is open, an invalid payload (code 3).
    BadRequest,
    /// The origin is not allowed (code 4, HTTP 403).
    Forbidden,
    /// `EIO` is missing or not `4` (code 5).
    UnsupportedProtocolVersion,
    /// The body is larger than `max_payload` (code 3, HTTP 413).
    PayloadTooLarge,
    /// The server holds its maximum of sessions (code 3, HTTP 503).
    TooManySessions,
}

impl EngineError {
    /// The error code of the JSON body.
    pub fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest
            | EngineError::PayloadTooLarge
            | EngineError::TooManySessions => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The message of the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            EngineError::UnknownTransport => "Transport unknown",
            EngineError::UnknownSid => "Session ID unknown",
            EngineError::BadHandshakeMethod => "Bad handshake method",
            EngineError::BadRequest => "Bad request",
            EngineError::Forbidden => "Forbidden",
            EngineError::UnsupportedProtocolVersion => "Unsupported protocol version",
            EngineError::PayloadTooLarge => "Payload too large",
            EngineError::TooManySessions => "Too many sessions",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(self) -> u16 {
        match self {
            EngineError::Forbidden => 403,
            EngineError::PayloadTooLarge => 413,
            EngineError::TooManySessions => 503,
            _ => 400,
        }
    }

    /// The WebSocket close code for a WebSocket refused after its handshake: 1008 (policy
    /// violation), 1009 for a message too large, 1013 (try again later) when full.
    pub fn close_code(self) -> u16 {
        match self {
            EngineError::PayloadTooLarge => 1009,
            EngineError::TooManySessions => 1013,
            _ => 1008,
        }
    }

    /// The HTTP answer: the status and the JSON body `{"code":N,"message":"..."}`.
    pub fn response(self) -> Response {
        Response::new(self.status())
            .header("Content-Type", "application/json")
            .body(format!(
                "{{\"code\":{},\"message\":\"{}\"}}",
                self.code(),
                self.message()
            ))
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for EngineError {}

/// What the origin policy says about a request.
#[derive(Debug, Clone)]
pub(crate) enum Cors {
    /// No `Origin`, or the same host: no CORS headers.
    None,
    /// Allowed from anywhere.
    Wildcard,
    /// Allowed for this origin, with credentials.
    Echo(String),
}

/// Apply the origin policy to a request.
pub(crate) fn check_origin(policy: &OriginPolicy, req: &Request) -> Result<Cors, EngineError> {
    let Some(origin) = req.header_value("origin") else {
        return Ok(Cors::None);
    };
    match policy {
        OriginPolicy::Any => Ok(Cors::Wildcard),
        OriginPolicy::List(list) => {
            if list.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
                Ok(Cors::Echo(origin.to_owned()))
            } else {
                Err(EngineError::Forbidden)
            }
        }
        OriginPolicy::SameHost => {
            let host = origin.split_once("://").map(|(_, h)| h);
            match (host, req.header_value("host")) {
                (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(Cors::None),
                _ => Err(EngineError::Forbidden),
            }
        }
    }
}

/// Add the CORS headers the policy's verdict calls for.
pub(crate) fn with_cors(resp: Response, cors: &Cors) -> Response {
    match cors {
        Cors::None => resp,
        Cors::Wildcard => resp.header("Access-Control-Allow-Origin", "*"),
        Cors::Echo(origin) => resp
            .header("Access-Control-Allow-Origin", origin.as_str())
            .header("Access-Control-Allow-Credentials", "true")
            .header("Vary", "Origin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let r = Request::new("GET", "/engine.io/?EIO=4&transport=polling&sid=abc&t=x#f");
        assert_eq!(r.path(), "/engine.io/");
        assert_eq!(r.query("EIO"), Some("4"));
        assert_eq!(r.query("transport"), Some("polling"));
        assert_eq!(r.query("sid"), Some("abc"));
        assert_eq!(r.query("t"), Some("x"));
        assert_eq!(r.query("none"), None);
        assert_eq!(Request::new("GET", "/engine.io/").query("EIO"), None);
    }

    #[test]
    fn error_bodies() {
        let r = EngineError::UnknownSid.response();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.body_bytes(),
            br#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(EngineError::Forbidden.response().status(), 403);
    }

    #[test]
    fn origins() {
        let req = Request::new("GET", "/").header("Host", "a.com:80");
        assert!(matches!(
            check_origin(&OriginPolicy::SameHost, &req),
            Ok(Cors::None)
        ));
        let cross = req.clone().header("Origin", "http://b.com");
        assert!(check_origin(&OriginPolicy::SameHost, &cross).is_err());
        assert!(matches!(
            check_origin(&OriginPolicy::Any, &cross),
            Ok(Cors::Wildcard)
        ));
        let list = OriginPolicy::List(vec!["http://b.com".into()]);
        assert!(matches!(check_origin(&list, &cross), Ok(Cors::Echo(_))));
        let same = req.header("Origin", "http://a.com:80");
        assert!(matches!(
            check_origin(&OriginPolicy::SameHost, &same),
            Ok(Cors::None)
        ));
        assert!(check_origin(&list, &same).is_err());
    }
}
