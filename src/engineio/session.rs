//! One Engine.IO session: its transport, its queue of packets and its heartbeat.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use std::collections::VecDeque;
use std::time::Instant;

use base64::Engine as _;

use super::packet::Packet;
use super::request::Request;

/// A session identifier: 20 URL-safe base64 characters from 15 bytes of the operating
/// system's CSPRNG.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; Sid::LEN]);

impl Sid {
    /// The length of a sid in characters.
    pub const LEN: usize = 20;

    /// A new random sid.
    pub(crate) fn random() -> Sid {
        let mut raw = [0u8; 15];
        crate::rng::fill_random(&mut raw);
        let mut out = [0u8; Sid::LEN];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(raw, &mut out)
            .unwrap_or(0);
        debug_assert_eq!(n, Sid::LEN);
        Sid(out)
    }

    /// The sid written in a query, if it has the form of one.
    pub fn parse(text: &str) -> Option<Sid> {
        let bytes: [u8; Sid::LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Sid(bytes))
    }

    /// The sid as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (`random` and `parse` ensure it).
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl std::fmt::Display for Sid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A long-polling request the endpoint holds: the handle under which its response
/// comes out of [`Endpoint::poll_response`](super::Endpoint::poll_response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// A WebSocket the application hands to the endpoint, named in its frames to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub(crate) u64);

/// The transport a session is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

/// An application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent a `close` packet.
    ClientClose,
    /// The client did not answer a ping within `ping_timeout`.
    PingTimeout,
    /// The session's WebSocket ended, or a held request was abandoned.
    TransportClose,
    /// The client sent something that is not a valid packet for the session's state.
    ParseError,
    /// The client sent a body or message over `max_payload`.
    PayloadTooLarge,
    /// The client opened a second poll while one was held.
    DuplicateRequest,
    /// The application closed the session.
    ServerClose,
}

/// What happened to the sessions, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// A session opened.
    Open {
        /// The new session.
        sid: Sid,
        /// Its transport.
        transport: TransportKind,
    },
    /// A client sent a message.
    Message {
        /// The session.
        sid: Sid,
        /// The message.
        message: Message,
    },
    /// A session moved from long-polling to WebSocket.
    Upgraded {
        /// The session.
        sid: Sid,
    },
    /// A session ended; its sid is unknown from now on.
    Closed {
        /// The session.
        sid: Sid,
        /// Why.
        reason: CloseReason,
    },
}

/// Why [`Endpoint::send_text`](super::Endpoint::send_text) and its siblings refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// No open session has this sid (it closed, or is closing).
    UnknownSid,
    /// The session's queue is full: its client is not polling fast enough.
    QueueFull,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::UnknownSid => "no open session with this sid",
            SendError::QueueFull => "the session's queue is full",
        })
    }
}

impl std::error::Error for SendError {}

/// Where the heartbeat stands.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Heartbeat {
    /// The next ping goes out at this time.
    PingAt(Instant),
    /// A ping is out; its pong is due by this time.
    PongBy(Instant),
}

/// A WebSocket opened with the session's sid, not yet the session's transport.
#[derive(Debug)]
pub(crate) struct Probe {
    pub socket: SocketId,
    /// `2probe` was answered: polls get `noop` until the `upgrade` packet.
    pub probed: bool,
    /// The upgrade must complete by then.
    pub deadline: Instant,
}

/// One session.
#[derive(Debug)]
pub(crate) struct Session {
    /// `None`: long-polling; `Some`: the WebSocket carrying the session.
    pub socket: Option<SocketId>,
    /// The held poll.
    pub get: Option<RequestId>,
    pub probe: Option<Probe>,
    queue: VecDeque<Packet>,
    queued_bytes: usize,
    pub heartbeat: Heartbeat,
    /// The application closed the session; what is queued and a `close` go to the next poll.
    pub closing: bool,
    /// The deadline under which the session sits in the endpoint's timer set.
    pub timer: Option<Instant>,
    /// The request that opened the session (boxed: most of a session's life it is not read).
    pub handshake: Option<Box<Request>>,
}

impl Session {
    pub fn new(socket: Option<SocketId>, first_ping: Instant) -> Self {
        Session {
            socket,
            get: None,
            probe: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            heartbeat: Heartbeat::PingAt(first_ping),
            closing: false,
            timer: None,
            handshake: None,
        }
    }

    /// The earliest time something is due.
    pub fn deadline(&self) -> Instant {
        let beat = match self.heartbeat {
            Heartbeat::PingAt(t) | Heartbeat::PongBy(t) => t,
        };
        match &self.probe {
            Some(p) => beat.min(p.deadline),
            None => beat,
        }
    }

    /// Queue an application packet within the limits.
    pub fn push(
        &mut self,
        p: Packet,
        max_packets: usize,
        max_bytes: usize,
    ) -> Result<(), SendError> {
        let len = p.encoded_len() + 1;
        if self.queue.len() >= max_packets || self.queued_bytes.saturating_add(len) > max_bytes {
            return Err(SendError::QueueFull);
        }
        self.queued_bytes += len;
        self.queue.push_back(p);
        Ok(())
    }

    /// Queue a packet of the protocol's own (ping, pong, close): at most one or two per
    /// heartbeat or per client packet, so outside the application's limits.
    pub fn push_control(&mut self, p: Packet) {
        self.queued_bytes += p.encoded_len() + 1;
        self.queue.push_back(p);
    }

    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Take every queued packet.
    pub fn take_queue(&mut self) -> VecDeque<Packet> {
        self.queued_bytes = 0;
        std::mem::take(&mut self.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_random_and_parse_back() {
        let a = Sid::random();
        let b = Sid::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), Sid::LEN);
        assert_eq!(Sid::parse(a.as_str()), Some(a));
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa+"), None);
    }

    #[test]
    fn queue_is_bounded() {
        let now = Instant::now();
        let mut s = Session::new(None, now);
        s.push(Packet::Message("a".into()), 2, 100).unwrap();
        s.push(Packet::Message("b".into()), 2, 100).unwrap();
        assert_eq!(
            s.push(Packet::Message("c".into()), 2, 100),
            Err(SendError::QueueFull)
        );
        let mut s = Session::new(None, now);
        assert_eq!(
            s.push(Packet::Message("x".repeat(100)), 9, 100),
            Err(SendError::QueueFull)
        );
        s.push_control(Packet::Ping(String::new()));
        assert!(s.has_queued());
        assert_eq!(s.take_queue().len(), 1);
        assert!(!s.has_queued());
    }
}
