//! Limits and behaviour switches, with strict defaults.
//!
//! Every limit is enforced with the status or close code the RFC calls for: head too large →
//! HTTP 431, frame or message too large → close 1009.

/// How received data messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Fragments are reassembled and a message is delivered once complete, as
    /// [`crate::Event::Text`] or [`crate::Event::Binary`]. Bounded by `max_message_size`.
    #[default]
    Whole,
    /// Payload is delivered as it arrives, as [`crate::Event::Data`] chunks, so a message of any
    /// size needs no buffer of that size. `max_message_size` still applies.
    Streaming,
}

/// Limits and behaviour of a connection. Build with [`Config::default`] and the setters.
///
/// | limit | default | exceeded → |
/// |---|---|---|
/// | `max_header_bytes` | 8 KiB | 431 (server) / handshake error (client) |
/// | `max_headers` | 64 | 431 / handshake error |
/// | `max_frame_size` | 1 MiB | close 1009 |
/// | `max_message_size` | 4 MiB | close 1009 |
/// | `max_response_body` | 16 KiB | client handshake error |
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest HTTP head (request line or status line plus headers), in bytes.
    pub max_header_bytes: usize,
    /// Largest number of header fields in the HTTP head.
    pub max_headers: usize,
    /// Largest payload of one frame, in bytes.
    pub max_frame_size: usize,
    /// Largest payload of one message (all its fragments), in bytes.
    pub max_message_size: usize,
    /// Largest body of a non-101 handshake response a client keeps.
    pub max_response_body: usize,
    /// How data messages are delivered.
    pub delivery: Delivery,
    /// Whether a Pong is queued automatically for every Ping received (§5.5.2).
    pub auto_pong: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_header_bytes: 8 * 1024,
            max_headers: 64,
            max_frame_size: 1 << 20,
            max_message_size: 4 << 20,
            max_response_body: 16 * 1024,
            delivery: Delivery::Whole,
            auto_pong: true,
        }
    }
}

impl Config {
    /// Set the largest HTTP head, in bytes.
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.max_header_bytes = n;
        self
    }
    /// Set the largest number of header fields.
    pub fn max_headers(mut self, n: usize) -> Self {
        self.max_headers = n;
        self
    }
    /// Set the largest frame payload, in bytes.
    pub fn max_frame_size(mut self, n: usize) -> Self {
        self.max_frame_size = n;
        self
    }
    /// Set the largest message payload, in bytes.
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.max_message_size = n;
        self
    }
    /// Set the largest body kept from a non-101 handshake response.
    pub fn max_response_body(mut self, n: usize) -> Self {
        self.max_response_body = n;
        self
    }
    /// Choose whole-message or streaming delivery.
    pub fn delivery(mut self, d: Delivery) -> Self {
        self.delivery = d;
        self
    }
    /// Turn the automatic Pong reply on or off.
    pub fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }
}
