//! The server's parameters: its Engine.IO endpoint's, the connect timeout and the caps on
//! binary attachments.

use std::time::Duration;

use crate::engineio::EndpointConfig;

/// The parameters of a [`Server`](super::Server).
///
/// ```
/// use std::time::Duration;
/// use wsmachine::socketio::ServerConfig;
///
/// let config = ServerConfig::default().connect_timeout(Duration::from_secs(5));
/// assert_eq!(config.engine.path, "/socket.io/");
/// assert_eq!(config.max_attachments, 10);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The Engine.IO endpoint under the server; its path defaults to `/socket.io/`.
    pub engine: EndpointConfig,
    /// How long a new connection may take to send its first CONNECT before it is closed
    /// (default 45 s).
    pub connect_timeout: Duration,
    /// The most binary attachments one packet may announce (default 10); more closes the
    /// connection.
    pub max_attachments: usize,
    /// The most bytes one packet's attachments may hold together (default 4 MiB; each one is
    /// also within the endpoint's `max_payload`); more closes the connection.
    pub max_attachment_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EndpointConfig::default().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            max_attachments: 10,
            max_attachment_bytes: 4 << 20,
        }
    }
}

impl ServerConfig {
    /// Set [`engine`](Self::engine).
    pub fn engine(mut self, engine: EndpointConfig) -> Self {
        self.engine = engine;
        self
    }
    /// Set [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Set [`max_attachments`](Self::max_attachments) and
    /// [`max_attachment_bytes`](Self::max_attachment_bytes).
    pub fn max_attachments(mut self, count: usize, bytes: usize) -> Self {
        self.max_attachments = count;
        self.max_attachment_bytes = bytes;
        self
    }
}
