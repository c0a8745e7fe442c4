//! The endpoint's parameters: heartbeat, limits, path and origin policy.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use std::time::Duration;

/// Which cross-origin pages may use the long-polling transport (and open WebSockets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Any origin: long-polling responses carry `Access-Control-Allow-Origin: *` (no
    /// credentials).
    Any,
    /// Only these origins (exact, ASCII case-insensitive, e.g. `https://example.com`): the
    /// origin is echoed with `Access-Control-Allow-Credentials: true`; others get 403.
    List(Vec<String>),
    /// Only the server's own origin: a request whose `Origin` names another host than its
    /// `Host` header gets 403; no CORS headers are sent.
    SameHost,
}

/// The parameters of an [`Endpoint`](super::Endpoint).
///
/// ```
/// use std::time::Duration;
/// use wsmachine::engineio::{EndpointConfig, OriginPolicy};
///
/// let config = EndpointConfig::default()
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200))
///     .origins(OriginPolicy::Any);
/// assert_eq!(config.max_payload, 1_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The request path, `/engine.io/` by default; matched with or without the final `/`.
    pub path: String,
    /// How often the server pings each session (default 25 s).
    pub ping_interval: Duration,
    /// How long the client has to answer a ping before its session is closed (default 20 s).
    pub ping_timeout: Duration,
    /// The largest POST body and the largest WebSocket message, in bytes (default 1,000,000);
    /// announced to clients in the open packet.
    pub max_payload: usize,
    /// The most sessions at once (default 10,000); a handshake beyond it gets 503.
    pub max_sessions: usize,
    /// The most packets a session holds for its next poll (default 1,024).
    pub max_queued_packets: usize,
    /// The most bytes (in their long-polling form) a session holds for its next poll
    /// (default 4 MiB).
    pub max_queued_bytes: usize,
    /// How long a WebSocket may take from its opening to the `upgrade` packet (default 10 s).
    pub upgrade_timeout: Duration,
    /// Whether long-polling sessions are offered the upgrade to WebSocket (default yes).
    pub allow_upgrades: bool,
    /// Who may use the endpoint from another origin (default [`OriginPolicy::SameHost`]).
    pub origins: OriginPolicy,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            path: "/engine.io/".to_owned(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            max_sessions: 10_000,
            max_queued_packets: 1024,
            max_queued_bytes: 4 << 20,
            upgrade_timeout: Duration::from_secs(10),
            allow_upgrades: true,
            origins: OriginPolicy::SameHost,
        }
    }
}

impl EndpointConfig {
    /// Set [`path`](Self::path).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// Set [`ping_interval`](Self::ping_interval).
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// Set [`ping_timeout`](Self::ping_timeout).
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// Set [`max_payload`](Self::max_payload).
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }
    /// Set [`max_sessions`](Self::max_sessions).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }
    /// Set [`max_queued_packets`](Self::max_queued_packets) and
    /// [`max_queued_bytes`](Self::max_queued_bytes).
    pub fn max_queue(mut self, packets: usize, bytes: usize) -> Self {
        self.max_queued_packets = packets;
        self.max_queued_bytes = bytes;
        self
    }
    /// Set [`upgrade_timeout`](Self::upgrade_timeout).
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.upgrade_timeout = d;
        self
    }
    /// Set [`allow_upgrades`](Self::allow_upgrades).
    pub fn allow_upgrades(mut self, on: bool) -> Self {
        self.allow_upgrades = on;
        self
    }
    /// Set [`origins`](Self::origins).
    pub fn origins(mut self, policy: OriginPolicy) -> Self {
        self.origins = policy;
        self
    }
}
