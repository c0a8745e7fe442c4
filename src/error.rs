//! Error values.
//!
//! Two families never mix:
//!
//! * [`ProtocolError`] — the **peer** broke RFC 6455 after the handshake. Each carries the close
//!   code that goes on the wire ([`ProtocolError::close_code`]).
//! * [`UsageError`] — the **local application** called the machine in a way the protocol does not
//!   allow (sending after Close, accepting twice, …). Nothing is written to the wire for it.
//!
//! Handshake failures have their own type, [`crate::handshake::HandshakeError`], which carries the
//! HTTP status a server answers with.

use alloc::string::String;

use core::fmt;

/// A violation of RFC 6455 by the peer, detected after the opening handshake.
///
/// The machine answers it by queueing a Close frame with [`close_code`](Self::close_code) and
/// reporting it as [`crate::Event::ProtocolError`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// An RSV bit is set that no negotiated extension claims (§5.2).
    ReservedBitsSet,
    /// The opcode is one of the reserved values 0x3–0x7 or 0xB–0xF (§5.2).
    ReservedOpcode(u8),
    /// A server received an unmasked frame (§5.1).
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    MaskedFrame,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    InvalidPayloadLength,
    /// A control frame with a payload over 125 bytes (§5.5).
    ControlFrameTooLong,
    /// A control frame without FIN (§5.5).
    FragmentedControlFrame,
    /// A continuation frame arrived while no message was in progress (§5.4).
    UnexpectedContinuation,
    /// A new text or binary frame arrived inside a fragmented message (§5.4).
    ExpectedContinuation,
    /// A text message (or close reason) is not valid UTF-8 (§8.1).
    InvalidUtf8,
    /// A Close payload of exactly one byte (§5.5.1).
    InvalidClosePayload,
    /// A Close frame carrying a status code that may not be sent on the wire (§7.4).
    InvalidCloseCode(u16),
    /// A frame larger than the configured `max_frame_size`.
    FrameTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// A message larger than the configured `max_message_size`.
    MessageTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// A compressed message's data does not inflate (RFC 7692 §8: the connection fails). Close
    /// code 1002: the extension's framing is broken, not the message's type.
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code sent to the peer for this error (§7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 => 1007,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => 1009,
            _ => 1002,
        }
    }

    /// A short human-readable reason, also used as the reason text of the Close frame.
    pub fn reason(&self) -> &'static str {
        match self {
            ProtocolError::ReservedBitsSet => "reserved bits set",
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::UnmaskedFrame => "client frame not masked",
            ProtocolError::MaskedFrame => "server frame masked",
            ProtocolError::InvalidPayloadLength => "invalid payload length",
            ProtocolError::ControlFrameTooLong => "control frame too long",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "unexpected continuation frame",
            ProtocolError::ExpectedContinuation => "expected continuation frame",
            ProtocolError::InvalidUtf8 => "invalid UTF-8",
            ProtocolError::InvalidClosePayload => "invalid close payload",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::FrameTooLarge { .. } => "frame too large",
            ProtocolError::MessageTooLarge { .. } => "message too large",
            ProtocolError::InvalidCompressedData => "invalid compressed data",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            ProtocolError::FrameTooLarge { limit } => {
                write!(f, "frame larger than the limit of {limit} bytes")
            }
            ProtocolError::MessageTooLarge { limit } => {
                write!(f, "message larger than the limit of {limit} bytes")
            }
            other => f.write_str(other.reason()),
        }?;
        write!(f, " (close code {})", self.close_code())
    }
}

impl core::error::Error for ProtocolError {}

/// A call the local application made that the protocol or the machine's state does not allow.
///
/// Returning it changes nothing in the machine: no bytes are queued.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// The opening handshake is not complete; data cannot be sent yet.
    NotOpen,
    /// A Close frame was already sent; no further data frames may follow (§5.5.1).
    AlreadyClosing,
    /// The connection is closed.
    Closed,
    /// The call does not fit the current handshake step (accepting twice, accepting on a client,
    /// accepting before the request arrived, …).
    WrongHandshakeStep,
    /// A control frame payload (ping, pong, close code + reason) longer than 125 bytes (§5.5).
    ControlPayloadTooLong,
    /// A close code that may not be sent (§7.4): 1005, 1006, 1015, or outside 1000–4999.
    InvalidCloseCode(u16),
    /// A fragmented message is in progress: finish it before starting another data message.
    MessageInProgress,
    /// The subprotocol chosen by the application was not offered by the client.
    SubprotocolNotOffered(String),
    /// A header name or value the application supplied is not valid in HTTP/1.1.
    InvalidHeader(String),
    /// Text sent by the application is not valid UTF-8 (possible only where text is given as
    /// bytes: [`crate::Connection::send_fragment`], `send_uncompressed` and the unbuffered
    /// sends of a `&[u8]`).
    InvalidUtf8,
    /// A close reason longer than 123 bytes (the Close payload is limited to 125 bytes).
    CloseReasonTooLong,
    /// A client's frames are masked (§5.3), which changes their payload: a payload the
    /// machine may not change cannot be sent unbuffered in the client role. Use
    /// [`crate::Connection::send_unbuffered_mut`], which masks it in place.
    MaskingRequired,
    /// The output queued and not yet written holds `queued` bytes, and the message would take
    /// it past [`crate::Config::max_output_buffer`] (`limit`): write the pending output (the
    /// peer reads too slowly, or the driver has not written yet), then send again. Nothing was
    /// queued.
    OutputFull {
        /// Bytes queued and not yet written
        /// ([`crate::Connection::queued_output`]).
        queued: usize,
        /// The configured bound.
        limit: usize,
    },
    /// A client has no source of masking keys (built without the `getrandom` feature and
    /// given none): see [`crate::Connection::set_mask_source`]. Nothing was queued.
    NoMaskSource,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotOpen => f.write_str("the connection is not open yet"),
            UsageError::AlreadyClosing => f.write_str("a Close frame was already sent"),
            UsageError::Closed => f.write_str("the connection is closed"),
            UsageError::WrongHandshakeStep => {
                f.write_str("this call does not fit the current handshake step")
            }
            UsageError::ControlPayloadTooLong => {
                f.write_str("control frame payloads are limited to 125 bytes")
            }
            UsageError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            UsageError::MessageInProgress => f.write_str("a fragmented message is in progress"),
            UsageError::SubprotocolNotOffered(p) => {
                write!(f, "subprotocol {p:?} was not offered by the client")
            }
            UsageError::InvalidHeader(h) => write!(f, "invalid header: {h}"),
            UsageError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            UsageError::CloseReasonTooLong => f.write_str("close reasons are limited to 123 bytes"),
            UsageError::MaskingRequired => {
                f.write_str("a client masks its frames: send the payload with send_unbuffered_mut")
            }
            UsageError::OutputFull { queued, limit } => write!(
                f,
                "{queued} bytes of output are queued; the message would exceed the bound of \
                 {limit} bytes: write the output first"
            ),
            UsageError::NoMaskSource => {
                f.write_str("a client needs a source of masking keys: set one with set_mask_source")
            }
        }
    }
}

impl core::error::Error for UsageError {}
