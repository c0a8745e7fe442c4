//! The permessage-deflate transform (RFC 7692 §7.2): the extension stage that compresses sent
//! messages and inflates received ones.

use alloc::vec::Vec;

use core::fmt;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Method, Status, Strategy};

use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS, RSV1};
use crate::ProtocolError;
use crate::extension::{Decoded, Extension};
use crate::role::Role;

/// The end of a sync flush (an empty stored block's LEN and NLEN): removed from the end of a
/// compressed message by the sender and appended by the receiver (§7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most output one inflate call writes: `decode` grows the output by at most this much
/// at a time, so a message is inflated in bounded steps straight into the caller's buffer.
pub(super) const INFLATE_STEP: usize = 16 * 1024;

/// The room the first inflate call of a `decode` gets, at least. Each step is zeroed before
/// zlib writes into it (the safe API writes into initialised bytes), so the first is sized to
/// what the input is likely to give, four times its length, and the next ones double while
/// they fill up, which keeps that cost in proportion to the output. With a fixed 16 KiB step
/// the message's call and the tail's zeroed 32 KiB per message whatever its size, and a
/// connection that had inflated one 1 KiB message held a 32 KiB buffer, 3 KiB with this
/// (`benches/memory.rs`); the time it saves is under "Design measurements" in
/// `BENCHMARKS.md`.
const FIRST_STEP_MIN: usize = 1024;

/// Heap bytes of one zlib-rs compressor: its state, a window of twice the window size, the
/// chain of previous positions (two bytes per window position), a hash table of 65,536
/// two-byte heads whatever the memLevel, and seven bytes per symbol of the literal buffer
/// (`1 << (mem_level + 6)` symbols): what a counting allocator measures in
/// `tests/deflate_memory.rs`, which checks this against it for every window and four memLevels.
pub(super) fn deflate_heap_bytes(window_bits: u8, mem_level: u8) -> usize {
    const STATE_AND_ALIGNMENT: usize = 3200;
    let window = 1usize << stream_window_bits(window_bits);
    STATE_AND_ALIGNMENT + 2 * window + 2 * window + 65_536 * 2 + 7 * (1usize << (mem_level + 6))
}

/// Heap bytes of one zlib-rs inflater: its state and a 32 KiB window whatever the window size
/// (measured in `tests/deflate_memory.rs`).
pub(super) const INFLATE_HEAP_BYTES: usize = 47_552;

/// The window size the compressor is created with: zlib refuses a raw stream of 8 bits, so a
/// window of 8 is compressed by a 9-bit stream whose matches never reach further than one byte
/// back (see [`stream_strategy`]).
fn stream_window_bits(window_bits: u8) -> u8 {
    window_bits.max(9)
}

/// RLE for a window of 8: its matches are all at distance 1, within any window; the default
/// strategy otherwise.
fn stream_strategy(window_bits: u8) -> Strategy {
    if window_bits < 9 {
        Strategy::Rle
    } else {
        Strategy::Default
    }
}

/// Where a received message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    /// Between messages, or in a message sent without compression.
    Idle,
    /// A compressed message.
    Compressed {
        /// Whether any payload byte of it was taken.
        any_input: bool,
        /// How many bytes of [`TAIL`] were fed after its last byte.
        tail_fed: u8,
        /// Its DEFLATE data ended with a block marked final (BFINAL, §7.2.3.4).
        stream_end: bool,
    },
}

/// permessage-deflate for one connection: the compressor of the messages this side sends and
/// the inflater of those it receives, with the parameters negotiated.
///
/// Built by the connection from the negotiated [`DeflateParams`]; public (hidden) only for the
/// integration tests and fuzz targets, which drive it like the connection does.
///
/// Both zlib-rs streams are created on first use, reused from message to message, reset after
/// each message in a direction without context takeover, and dropped by
/// [`release_buffers`](Extension::release_buffers) in such a direction between messages.
#[doc(hidden)]
pub struct PerMessageDeflate {
    /// The window this side compresses with, 8 to 15.
    compress_window_bits: u8,
    /// Whether this side compresses each message with an empty window.
    compress_reset: bool,
    level: u8,
    mem_level: u8,
    threshold: usize,
    deflate: Option<Deflate>,
    /// A sent message is between its first and its last frame.
    sending: bool,
    /// Whether the peer compresses each message with an empty window.
    inflate_reset: bool,
    inflate: Option<Inflate>,
    inbound: Inbound,
    /// One inflated byte that did not fit under the last call's limit.
    held: Option<u8>,
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("compress_window_bits", &self.compress_window_bits)
            .field("compress_reset", &self.compress_reset)
            .field("level", &self.level)
            .field("mem_level", &self.mem_level)
            .field("threshold", &self.threshold)
            .field("deflate", &self.deflate.is_some())
            .field("sending", &self.sending)
            .field("inflate_reset", &self.inflate_reset)
            .field("inflate", &self.inflate.is_some())
            .field("inbound", &self.inbound)
            .field("held", &self.held)
            .finish()
    }
}

impl PerMessageDeflate {
    /// The extension for the `role` of this side, with the parameters negotiated and the
    /// compression level, memLevel and threshold of `config`. Allocates nothing yet.
    pub fn new(role: Role, params: &DeflateParams, config: &DeflateConfig) -> Self {
        let (own_bits, own_reset, peer_reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_no_context_takeover,
            ),
        };
        PerMessageDeflate {
            compress_window_bits: own_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
            compress_reset: own_reset,
            level: config.level.min(9),
            mem_level: config.mem_level.clamp(1, 9),
            threshold: config.threshold,
            deflate: None,
            sending: false,
            inflate_reset: peer_reset,
            inflate: None,
            inbound: Inbound::Idle,
            held: None,
        }
    }

    /// The compressor's configuration: a raw DEFLATE stream (negative window bits: no zlib
    /// header or trailer).
    fn deflate_config(&self) -> zlib_rs::DeflateConfig {
        zlib_rs::DeflateConfig {
            level: i32::from(self.level),
            method: Method::Deflated,
            window_bits: -i32::from(stream_window_bits(self.compress_window_bits)),
            mem_level: i32::from(self.mem_level),
            strategy: stream_strategy(self.compress_window_bits),
        }
    }
}

/// One inflate call: bytes taken, bytes written, status; a DEFLATE error is the peer's.
fn run_inflate(
    inflate: &mut Inflate,
    src: &[u8],
    dst: &mut [u8],
) -> Result<(usize, usize, Status), ProtocolError> {
    let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
    let result = inflate.decompress(src, dst, InflateFlush::SyncFlush);
    let taken = (inflate.total_in() - in_before) as usize;
    let written = (inflate.total_out() - out_before) as usize;
    match result {
        Ok(status) => Ok((taken, written, status)),
        Err(_) => Err(ProtocolError::InvalidCompressedData),
    }
}

/// Lengthen `out` by `step` zero bytes (`out.len() + step <= limit`), growing its capacity
/// geometrically but never past `limit`, so that a message's buffer stays within its limit.
fn grow_within(out: &mut Vec<u8>, step: usize, limit: usize) {
    let need = out.len() + step;
    if need > out.capacity() {
        let target = (out.capacity() * 2).clamp(need, limit.max(need));
        out.reserve_exact(target - out.len());
    }
    out.resize(need, 0);
}

impl Extension for PerMessageDeflate {
    /// The RSV bits this extension claims: RSV1.
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    /// A received data frame's header: RSV1 on the first frame marks a compressed message
    /// (returns `true`: its payload goes through [`decode`](Self::decode)); RSV1 on a
    /// continuation frame is the peer's error (§6.1). For a continuation frame the answer of
    /// the first frame holds, and `false` is returned.
    fn inbound_frame(&mut self, rsv: u8, first: bool) -> Result<bool, ProtocolError> {
        let compressed = rsv & RSV1 != 0;
        if !first {
            return if compressed {
                Err(ProtocolError::ReservedBitsSet)
            } else {
                Ok(false)
            };
        }
        self.held = None;
        self.inbound = if compressed {
            Inbound::Compressed {
                any_input: false,
                tail_fed: 0,
                stream_end: false,
            }
        } else {
            Inbound::Idle
        };
        Ok(compressed)
    }

    /// Inflate payload bytes of a compressed message into `out`, never past `limit` bytes, in
    /// steps of at most 16 KiB (from four times the input's length, at least 1 KiB, doubling
    /// while they fill up); `end` when `input` ends the message, after which the tail
    /// `00 00 ff ff` is fed. Returns having taken less than all of `input` only with `out` at
    /// `limit`. Data that does not inflate is [`ProtocolError::InvalidCompressedData`].
    fn decode(
        &mut self,
        input: &[u8],
        end: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Decoded, ProtocolError> {
        let Inbound::Compressed {
            mut any_input,
            mut tail_fed,
            mut stream_end,
        } = self.inbound
        else {
            // Not a compressed message: nothing to inflate (the connection does not call this).
            debug_assert!(false, "decode outside a compressed message");
            return Ok(Decoded {
                consumed: 0,
                finished: end,
            });
        };
        if let Some(byte) = self.held {
            if out.len() >= limit {
                return Ok(Decoded {
                    consumed: 0,
                    finished: false,
                });
            }
            out.push(byte);
            self.held = None;
        }
        let inflate = self
            .inflate
            .get_or_insert_with(|| Inflate::new(false, MAX_WINDOW_BITS));
        let mut consumed = 0;
        let mut next_step = input
            .len()
            .saturating_mul(4)
            .clamp(FIRST_STEP_MIN, INFLATE_STEP);
        let finished = loop {
            // The message's bytes, then the tail once they are all taken and `end` says so. A
            // message without any payload byte is empty: no tail, which alone would leave the
            // inflater inside a stored block's header.
            let on_tail = consumed == input.len() && end;
            let src: &[u8] = if !on_tail {
                &input[consumed..]
            } else if any_input {
                &TAIL[usize::from(tail_fed)..]
            } else {
                &[]
            };
            if stream_end {
                // The DEFLATE data ended with a final block: what follows it in the message
                // (§7.2.3.4 has a `00` there, to be completed by the tail) is taken and ignored.
                consumed = input.len();
                break end;
            }
            let room = limit.saturating_sub(out.len());
            let (taken, written, status, full) = if room == 0 {
                // At the limit: one byte more says whether the message goes on.
                let mut probe = [0u8; 1];
                let (taken, written, status) = run_inflate(inflate, src, &mut probe)?;
                if written == 1 {
                    self.held = Some(probe[0]);
                }
                (taken, written, status, written == 1)
            } else {
                let step = room.min(next_step);
                let at = out.len();
                grow_within(out, step, limit);
                let result = run_inflate(inflate, src, &mut out[at..]);
                out.truncate(at + result.as_ref().map_or(0, |r| r.1));
                let (taken, written, status) = result?;
                if written == step {
                    next_step = (next_step * 2).min(INFLATE_STEP);
                }
                (taken, written, status, written == step)
            };
            if on_tail {
                // At most 4.
                tail_fed += taken as u8;
            } else {
                consumed += taken;
                any_input |= taken > 0;
            }
            stream_end |= status == Status::StreamEnd;
            if self.held.is_some() {
                break false;
            }
            if taken == 0 && written == 0 && !src.is_empty() && !stream_end {
                // Input and room, and no progress: zlib cannot go on with this data.
                return Err(ProtocolError::InvalidCompressedData);
            }
            if stream_end || taken < src.len() || full {
                continue;
            }
            // All that was offered is taken and no more output is pending.
            match (on_tail, end) {
                (false, true) => continue,
                (false, false) => break false,
                (true, _) => break true,
            }
        };
        if finished {
            self.inbound = Inbound::Idle;
            // After a final block zlib needs a reset before the next message: the peer's window
            // is gone with it, as it is for a peer that finished its stream.
            if self.inflate_reset || stream_end {
                inflate.reset(false);
            }
        } else {
            self.inbound = Inbound::Compressed {
                any_input,
                tail_fed,
                stream_end,
            };
        }
        Ok(Decoded { consumed, finished })
    }

    /// Whether a message about to be sent, its first piece `len` bytes long, is compressed:
    /// from the configured threshold up.
    fn outbound_wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// Compress one frame's payload of a message being sent, appending it to `out`, with a sync
    /// flush so that the peer can inflate everything sent so far. On the last frame (`fin`) the
    /// trailing `00 00 ff ff` is removed (§7.2.1); a last frame with nothing to add is the
    /// single byte `00`, the start of the empty stored block the receiver's tail completes.
    /// Returns the frame's RSV bits: RSV1 on the first frame only.
    fn encode(&mut self, payload: &[u8], first: bool, fin: bool, out: &mut Vec<u8>) -> u8 {
        let config = self.deflate_config();
        let deflate = self
            .deflate
            .get_or_insert_with(|| Deflate::new_with_config(config));
        let start = out.len();
        let mut input = payload;
        loop {
            // Stored blocks bound the output: 5 bytes per 16 KiB block, the flush marker and
            // pending bits; the loop goes on if that is ever short.
            let room = input.len() + input.len() / 1024 + 64;
            let at = out.len();
            out.resize(at + room, 0);
            let (in_before, out_before) = (deflate.total_in(), deflate.total_out());
            let result = deflate.compress(input, &mut out[at..], DeflateFlush::SyncFlush);
            let taken = (deflate.total_in() - in_before) as usize;
            let written = (deflate.total_out() - out_before) as usize;
            out.truncate(at + written);
            input = &input[taken..];
            // An error is possible only with an invalid configuration, which `new` rules out.
            debug_assert!(result.is_ok(), "deflate: {result:?}");
            if result.is_err() || (input.is_empty() && written < room) {
                break;
            }
        }
        if fin {
            if out[start..].ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
            }
            if out.len() == start {
                out.push(0x00);
            }
            if self.compress_reset {
                deflate.reset();
            }
        }
        self.sending = !fin;
        if first { RSV1 } else { 0 }
    }

    /// Drop the streams of the directions without context takeover while no compressed
    /// message is under way in them; they are created again for the next compressed message.
    /// A message sent or received uncompressed does not use them: the extension is never told
    /// where such a message ends, and it need not be.
    fn release_buffers(&mut self) {
        if self.compress_reset && !self.sending {
            self.deflate = None;
        }
        if self.inflate_reset && !matches!(self.inbound, Inbound::Compressed { .. }) {
            self.inflate = None;
        }
    }

    /// Heap bytes the streams hold (zlib-rs allocates each one in a single block).
    fn heap_size(&self) -> usize {
        let deflate = self.deflate.as_ref().map_or(0, |_| {
            deflate_heap_bytes(self.compress_window_bits, self.mem_level)
        });
        let inflate = self.inflate.as_ref().map_or(0, |_| INFLATE_HEAP_BYTES);
        deflate + inflate
    }
}
