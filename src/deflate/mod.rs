//! permessage-deflate (RFC 7692): message compression negotiated in the opening handshake.
//!
//! Three parts:
//!
//! * [`DeflateConfig`]: what this side is willing to do, with defaults chosen for memory per
//!   connection.
//! * Negotiation, pure functions: the client's [`offer`] and its check of the server's answer,
//!   [`accept_response`]; the server's choice among the client's offers and its answer,
//!   [`accept_offers`]. Each yields the [`DeflateParams`] in force.
//! * The transform of the frame pipeline's extension stage (§7.2): RSV1 on the first frame of a
//!   compressed message; a sync flush per frame with the trailing `00 00 ff ff` removed from a
//!   message's end; inflating with that tail appended, in bounded steps, never past the
//!   caller's limit.
//!
//! ```
//! use wsmachine::deflate::{accept_offers, accept_response, offer, DeflateConfig};
//!
//! let client = DeflateConfig::default();
//! let server = DeflateConfig::default();
//! let offered = offer(&client).unwrap();
//! assert_eq!(offered.to_string(), "permessage-deflate; client_max_window_bits=12");
//! let (response, at_server) = accept_offers(&server, &[offered]).unwrap();
//! assert_eq!(
//!     response.to_string(),
//!     "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
//! );
//! let at_client = accept_response(&client, &response)?;
//! assert_eq!(at_client, at_server);
//! assert_eq!((at_client.server_max_window_bits, at_client.client_max_window_bits), (12, 12));
//! # Ok::<(), wsmachine::deflate::DeflateError>(())
//! ```
//!
//! # Memory per connection
//!
//! The backend is zlib-rs. Its compressor holds a 65,536-entry hash table (128 KiB) whatever
//! the memLevel, two window-sized arrays (the window twice over, and two bytes of chain per
//! position) and a literal buffer of seven bytes per symbol, `1 << (mem_level + 6)` symbols; its
//! inflater holds a 32 KiB window whatever the window size. Measured with a counting allocator
//! (`tests/deflate_memory.rs`, which prints the whole table with `--nocapture`), in bytes:
//!
//! | window bits | compressor, memLevel 1 | memLevel 4 | memLevel 5 | memLevel 8 | inflater |
//! |---|---|---|---|---|---|
//! | 8, 9 | 137,216 | 143,488 | 150,656 | 251,008 | 47,552 |
//! | 10 | 139,264 | 145,536 | 152,704 | 253,056 | 47,552 |
//! | 12 | 151,552 | 157,824 | **164,992** | 265,344 | 47,552 |
//! | 15 | 266,240 | 272,512 | 279,680 | 380,032 | 47,552 |
//!
//! With the defaults (window 12, memLevel 5) a connection that has compressed and inflated a
//! message holds **212,544 bytes** (207.6 KiB) of zlib-rs state, the compressor 78% of it. By
//! zlib's own formula (2^(windowBits+2) + 2^(memLevel+9) bytes plus its state) C zlib's
//! compressor at the same settings is under 40 KiB, its hash table following the memLevel; no
//! memLevel shrinks zlib-rs's. Both streams are created on first use, so a connection that
//! never sends (receives) a compressed message never holds the compressor (inflater); and a
//! direction without context takeover gives its stream back between messages with
//! `release_buffers`.
//!
//! Size and time per 4 KiB JSON-like message with context takeover (`benches/deflate.rs`, one
//! core of a 2-core machine):
//!
//! | setting | compressed size | compress | inflate |
//! |---|---|---|---|
//! | window 12, level 6 (defaults) | 14.3% | 23.9 µs | 2.6 µs |
//! | window 12, level 1 | 25.6% | 5.8 µs | 2.4 µs |
//! | window 15, level 6 | 10.0% | 31.4 µs | 1.7 µs |
//! | window 8, level 6 | 56.9% | 31.1 µs | 9.0 µs |
//! | window 12, level 6, no context takeover | 16.4% | 20.7 µs | 2.9 µs |
//!
//! # Window bits 8
//!
//! RFC 7692 allows windows of 8 to 15 bits, but zlib refuses a raw stream with an 8-bit window
//! (and silently compresses with 9 bits in zlib format). Offers and responses of 8 are accepted
//! all the same: a window of 8 is compressed by a 9-bit stream with the RLE strategy, whose
//! matches are all at distance 1, inside any window. Its output is larger (57% of the input on
//! the messages above, against 14.3%). Inflating uses a 32 KiB window in every case, which
//! accepts data compressed with any window.

mod codec;
mod negotiate;

pub use codec::PerMessageDeflate;
pub(crate) use negotiate::params_in_force;
pub use negotiate::{DeflateError, accept_offers, accept_response, offer};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const NAME: &str = "permessage-deflate";

/// RSV1, the frame header bit permessage-deflate claims, in the layout of
/// [`AcceptedExtension::rsv_bits`](crate::extension::AcceptedExtension::rsv_bits).
const RSV1: u8 = 0b100;

/// The smallest window size RFC 7692 allows, in bits (256 bytes).
const MIN_WINDOW_BITS: u8 = 8;
/// The largest window size, in bits (32 KiB).
const MAX_WINDOW_BITS: u8 = 15;

/// What this side of a connection is willing to do with permessage-deflate. Build with
/// [`DeflateConfig::default`] and the setters.
///
/// | setting | default | what |
/// |---|---|---|
/// | `enabled` | on | a client offers permessage-deflate; a server accepts offers |
/// | `window_bits` | 12 | largest window this side compresses with (8–15); a client offers it as `client_max_window_bits`, a server answers it as `server_max_window_bits` |
/// | `peer_window_bits` | 15 | window asked of the peer (8–15; 15 asks nothing): it lowers the peer's memory, not this side's |
/// | `no_context_takeover` | off | compress each message with an empty window: costs compression, lets an idle connection drop its compressor |
/// | `peer_no_context_takeover` | off | ask the peer to do so: lets an idle connection drop its inflater |
/// | `level` | 6 | zlib compression level, 0 (stored) to 9 |
/// | `mem_level` | 5 | zlib memLevel, 1 to 9: the literal buffer, 7 × 2^(memLevel+6) bytes |
/// | `threshold` | 64 | messages shorter than this many bytes are sent uncompressed |
///
/// The defaults follow memory per connection: window 12 and memLevel 5 (as Python's websockets
/// does) give a 164,992-byte compressor, against 380,032 for zlib's usual window 15 and
/// memLevel 8; the inflater is 47,552 bytes whatever the window (see the module
/// documentation's table). Out-of-range values are clamped to the nearest valid one.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Whether permessage-deflate is offered (client) or accepted (server).
    pub enabled: bool,
    /// The largest window this side compresses with, in bits (8–15).
    pub window_bits: u8,
    /// The window this side asks the peer to compress with, in bits (8–15; 15 asks nothing).
    pub peer_window_bits: u8,
    /// Whether this side compresses each message with an empty window.
    pub no_context_takeover: bool,
    /// Whether this side asks the peer to compress each message with an empty window.
    pub peer_no_context_takeover: bool,
    /// The compression level, 0 to 9.
    pub level: u8,
    /// zlib's memLevel, 1 to 9.
    pub mem_level: u8,
    /// Messages whose first piece is shorter than this many bytes are sent uncompressed.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: true,
            window_bits: 12,
            peer_window_bits: MAX_WINDOW_BITS,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            level: 6,
            mem_level: 5,
            threshold: 64,
        }
    }
}

impl DeflateConfig {
    /// Offer (client) or accept (server) permessage-deflate, or not.
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }
    /// Set the largest window this side compresses with, clamped to 8–15 bits.
    pub fn window_bits(mut self, bits: u8) -> Self {
        self.window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }
    /// Set the window asked of the peer, clamped to 8–15 bits (15: ask nothing).
    pub fn peer_window_bits(mut self, bits: u8) -> Self {
        self.peer_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }
    /// Compress each message with an empty window (or not).
    pub fn no_context_takeover(mut self, on: bool) -> Self {
        self.no_context_takeover = on;
        self
    }
    /// Ask the peer to compress each message with an empty window (or not).
    pub fn peer_no_context_takeover(mut self, on: bool) -> Self {
        self.peer_no_context_takeover = on;
        self
    }
    /// Set the compression level, clamped to 0–9.
    pub fn level(mut self, level: u8) -> Self {
        self.level = level.min(9);
        self
    }
    /// Set zlib's memLevel, clamped to 1–9.
    pub fn mem_level(mut self, mem_level: u8) -> Self {
        self.mem_level = mem_level.clamp(1, 9);
        self
    }
    /// Send messages whose first piece is shorter than `bytes` uncompressed.
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }
}

/// The permessage-deflate parameters in force on a connection, as negotiated (RFC 7692 §7.1)
/// and with this side's own choices folded in: the window each side compresses with, and
/// whether each side compresses every message with an empty window.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server compresses each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client compresses each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, in bits (8–15).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with, in bits (8–15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Context takeover both ways, windows of 15 bits: permessage-deflate without parameters.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

#[cfg(test)]
mod tests;
