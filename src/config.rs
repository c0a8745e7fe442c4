//! Limits and behaviour switches, with strict defaults.
//!
//! A limit on what the peer sends is enforced with the status or close code the RFCs call for:
//! a request head too large or with too many fields → HTTP 431, a frame or message too large →
//! close 1009. A client fails the handshake on a response head over the limits and cuts a
//! response body at its limit.

use core::time::Duration;

/// How received data messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Fragments are reassembled and a message is delivered once complete, as
    /// [`crate::Event::Text`] or [`crate::Event::Binary`]. Bounded by `max_message_size`.
    #[default]
    Whole,
    /// Payload is delivered as it arrives, as [`crate::Event::Data`] chunks, so a message
    /// needs no buffer of its size. `max_message_size` still caps a streamed message (1009
    /// past it); raise it for large uploads.
    Streaming,
    /// Messages of up to this many bytes are delivered whole; a larger one is streamed, from
    /// the frame header that shows it larger (its first frame's, or a later fragment's: what
    /// was reassembled until then comes as the first [`crate::Event::Data`] piece). A
    /// compressed message is measured by what it decodes to. For a server taking large uploads
    /// beside small messages it handles whole.
    StreamAbove(usize),
}

impl Delivery {
    /// The longest message delivered whole (`usize::MAX` for any), or `None` when every
    /// message is streamed.
    pub(crate) fn largest_whole(self) -> Option<usize> {
        match self {
            Delivery::Whole => Some(usize::MAX),
            Delivery::Streaming => None,
            Delivery::StreamAbove(n) => Some(n),
        }
    }

    /// Whether a message known to be at least `len` bytes long is streamed.
    pub(crate) fn streams(self, len: usize) -> bool {
        self.largest_whole().is_none_or(|n| len > n)
    }
}

/// Limits and behaviour of a connection. Build with [`Config::default`] and the setters.
///
/// | limit | default | exceeded → |
/// |---|---|---|
/// | `max_header_bytes` | 8 KiB | 431 (server) / handshake error (client) |
/// | `max_headers` | 64 | 431 / handshake error |
/// | `max_frame_size` | 1 MiB | close 1009 |
/// | `max_message_size` | 4 MiB | close 1009 |
/// | `max_response_body` | 16 KiB | body cut at the limit |
/// | `max_request_body` | 1 MiB | 413 (plain HTTP `POST`) |
/// | `max_output_buffer` | 16 MiB | a data send refused with [`crate::UsageError::OutputFull`] |
///
/// | timer | default | expired → |
/// |---|---|---|
/// | `handshake_timeout` | 10 s | head not read in time → server: 408 and close; client: handshake error |
/// | `close_timeout` | 5 s | close the transport; [`crate::Event::Close`] with 1006 if unfinished |
/// | `keepalive_interval` | off | Ping after this long without input |
/// | `keepalive_timeout` | 10 s | no input since the keep-alive Ping: 1006 and close |
/// | `idle_timeout` | off | Close 1001 after this long without input |
///
/// Timers run only when the driver reports time with
/// [`crate::Connection::handle_timeout`].
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
    /// Largest body of a plain HTTP request (a `POST` to a server serving plain HTTP beside
    /// WebSocket, [`crate::handshake::ServerPolicy::plain_http`]); a longer one gets 413.
    pub max_request_body: usize,
    /// Largest output the application may queue before data sends are refused, in bytes:
    /// a data message (or piece) is refused with [`crate::UsageError::OutputFull`] when output
    /// is already queued and the bytes queued plus the length of the payload given to the
    /// send would pass this bound. The check counts the payload as given: its frame header
    /// (2 to 14 bytes) is not counted, nor the difference compression makes, so the output
    /// can pass the bound by the headers of the frames it took. An empty output takes a
    /// message of any size, so that no message is unsendable. Control frames (Pings, Pongs,
    /// the Close) are never refused: they are at most 131 bytes. `usize::MAX` turns the bound
    /// off.
    ///
    /// 16 MiB by default: four of the largest messages the default `max_message_size` lets
    /// the peer send, so that a loop echoing what it receives, or a driver that writes only
    /// between batches of input, is not refused in ordinary use, while a writer faster than
    /// the transport (a slow reader at the other end) cannot grow a connection's memory
    /// without limit. A driver turns the refusal into waiting: write, then send again.
    pub max_output_buffer: usize,
    /// How data messages are delivered.
    pub delivery: Delivery,
    /// Whether a Pong is queued automatically for every Ping received (§5.5.2).
    pub auto_pong: bool,
    /// How long reading the opening handshake's head may take (the request on a server, the
    /// response on a client), from the first reported time. A server's application deciding
    /// on a request it was given is not timed: a request read in time is reported and can be
    /// accepted however late the next poll comes.
    pub handshake_timeout: Option<Duration>,
    /// How long to wait for the peer's Close (and, for a client, the server's EOF) after this
    /// side sent or answered one.
    pub close_timeout: Option<Duration>,
    /// Send a Ping after this long without receiving anything.
    pub keepalive_interval: Option<Duration>,
    /// After a keep-alive Ping, how long to wait for any input before giving up.
    pub keepalive_timeout: Duration,
    /// Start the closing handshake (1001) after this long without receiving anything.
    pub idle_timeout: Option<Duration>,
    /// permessage-deflate (RFC 7692): a client offers it, a server accepts an offer, with
    /// these settings. Off (`None`) by default: a compressing connection holds the
    /// compressor's and the inflater's state (about 210 KB at the defaults of
    /// [`DeflateConfig`](crate::deflate::DeflateConfig), see its documentation).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_header_bytes: 8 * 1024,
            max_headers: 64,
            // 1 MiB, below the 16 MiB of tungstenite and the 64 MiB of fastwebsockets on
            // purpose: a frame is buffered whole before a message delivered whole is handed
            // out, so this bounds what one peer can make a connection hold; raise it (with
            // `max_message_size`) for large uploads, or stream them (`Delivery::Streaming`).
            max_frame_size: 1 << 20,
            max_message_size: 4 << 20,
            max_response_body: 16 * 1024,
            max_request_body: 1 << 20,
            max_output_buffer: 16 << 20,
            delivery: Delivery::Whole,
            auto_pong: true,
            handshake_timeout: Some(Duration::from_secs(10)),
            close_timeout: Some(Duration::from_secs(5)),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(10),
            idle_timeout: None,
            #[cfg(feature = "deflate")]
            deflate: None,
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
    /// Set the largest body of a plain HTTP request.
    pub fn max_request_body(mut self, n: usize) -> Self {
        self.max_request_body = n;
        self
    }
    /// Set the largest body kept from a non-101 handshake response.
    pub fn max_response_body(mut self, n: usize) -> Self {
        self.max_response_body = n;
        self
    }
    /// Set the largest output queued before data sends are refused, in bytes
    /// (`usize::MAX`: no bound).
    pub fn max_output_buffer(mut self, n: usize) -> Self {
        self.max_output_buffer = n;
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
    /// Set (or turn off with `None`) the opening handshake deadline.
    pub fn handshake_timeout(mut self, d: Option<Duration>) -> Self {
        self.handshake_timeout = d;
        self
    }
    /// Set (or turn off with `None`) the closing handshake deadline.
    pub fn close_timeout(mut self, d: Option<Duration>) -> Self {
        self.close_timeout = d;
        self
    }
    /// Turn keep-alive Pings on: a Ping after `interval` without input, and failure if
    /// nothing arrives within `timeout` of it.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive_interval = Some(interval);
        self.keepalive_timeout = timeout;
        self
    }
    /// Set (or turn off with `None`) the idle timeout.
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }
    /// Negotiate permessage-deflate with these settings (or not, with `None`).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(mut self, d: Option<crate::deflate::DeflateConfig>) -> Self {
        self.deflate = d;
        self
    }
}
