//! The receive pipeline (RFC 6455 §5.2–§5.5, §8.1): frame headers, unmasking, the extension
//! stage, fragmentation, UTF-8 validation and delivery, and control frames.
//!
//! Each call of `read_frames` makes one step over the buffered bytes and says what to report:
//! positions in the receive buffer or in the reassembly buffer, turned into an [`Event`] that
//! borrows them once every state change is done.

use crate::close;
use crate::config::Delivery;
use crate::error::ProtocolError;
use crate::event::Event;
use crate::frame::{self, OpCode};
use crate::state::Phase;
use crate::utf8::{Ascii, Utf8Validator, ValidText};

use super::{Connection, Ending, Role};

/// The largest piece a transformed (decoded) message is handed out in, in streaming delivery.
pub(super) const DECODED_PIECE: usize = 32 * 1024;

/// A frame from this payload size on is worth a read of its own to finish
/// ([`Connection::read_size_hint`]): the move of the next frame's first bytes that the read
/// saves costs more than the read.
pub(super) const LARGE_FRAME: usize = 32 * 1024;

/// The frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
pub(super) struct InFrame {
    pub opcode: OpCode,
    pub fin: bool,
    pub mask: Option<[u8; 4]>,
    pub len: usize,
    /// Payload bytes consumed: unmasked and validated, or taken by the extension stage.
    pub done: usize,
    /// Payload bytes unmasked (ahead of `done` when the extension stage has not taken them
    /// all yet).
    pub unmasked: usize,
    /// The payload passes through the extension stage.
    pub transformed: bool,
    /// The message is delivered in pieces.
    pub streaming: bool,
}

/// The data message being received.
#[derive(Debug)]
pub(super) struct InMessage {
    text: bool,
    /// Payload bytes announced so far by the message's frame headers.
    len: usize,
    /// Bytes the extension stage decoded the message into so far.
    decoded: usize,
    transformed: bool,
    /// Delivered in pieces as it arrives (decided by `Config::delivery` and the size known).
    streaming: bool,
    utf8: Utf8Validator,
}

impl InMessage {
    /// Whether the message is delivered in pieces.
    pub(super) fn streams(&self) -> bool {
        self.streaming
    }
}

/// What the next event is, as positions in the buffers, so that the event can borrow them once
/// all state changes are done.
pub(super) enum Out {
    HandshakeRequest,
    HttpRequest,
    Open,
    /// What ended the connection (`Connection::ending`).
    Ending,
    /// A text message in one frame, in the receive buffer.
    Text(usize, usize, ValidText),
    Binary(usize, usize),
    /// A text message in the reassembly buffer.
    TextAssembled(ValidText),
    BinaryAssembled,
    /// A piece of a message in the receive buffer.
    Data {
        start: usize,
        end: usize,
        text: bool,
        finished: bool,
    },
    /// A decoded piece of a message: the first `len` bytes of the reassembly buffer.
    DataAssembled {
        len: usize,
        text: bool,
        finished: bool,
    },
    Ping(usize, usize),
    Pong(usize, usize),
    Close {
        code: u16,
        start: usize,
        end: usize,
        reason: ValidText,
    },
}

/// The next event as two words, which a function returns in registers: a message in one
/// frame (the common case) by its place in the receive buffer, anything else kept in
/// `Connection::parked`. Returning [`Out`] itself goes through memory, and reading it back
/// field by field after it was written in other widths stalls the processor on every frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ready {
    /// Where the message starts, or [`START_IDLE`] / [`START_PARKED`].
    start: usize,
    /// The length shifted left by one, 1 in the low bit for text.
    word: usize,
}

/// What a [`Ready`] holds.
pub(super) enum Got {
    /// Nothing until more bytes arrive.
    Idle,
    /// The event is in `Connection::parked`.
    Parked,
    Binary(usize, usize),
    Text(usize, usize, ValidText),
}

// A message lies inside a `Vec<u8>`, so its start and length are at most `isize::MAX`: the
// length shifted by one bit loses nothing in any pointer width, and starts this high are
// free to mean something else.
const START_IDLE: usize = usize::MAX;
const START_PARKED: usize = usize::MAX - 1;

impl Ready {
    pub(super) const IDLE: Ready = Ready {
        start: START_IDLE,
        word: 0,
    };
    pub(super) const PARKED: Ready = Ready {
        start: START_PARKED,
        word: 0,
    };

    /// A binary message at `start..end` of the receive buffer.
    #[inline]
    pub(super) fn binary(start: usize, end: usize) -> Ready {
        debug_assert!(start <= isize::MAX as usize && end - start <= isize::MAX as usize);
        Ready {
            start,
            word: (end - start) << 1,
        }
    }

    /// A text message at `start..end` of the receive buffer, validated.
    #[inline]
    pub(super) fn text(start: usize, end: usize, valid: ValidText) -> Ready {
        debug_assert!(start <= isize::MAX as usize && valid.len() <= isize::MAX as usize);
        debug_assert_eq!(end - start, valid.len());
        Ready {
            start,
            word: valid.len() << 1 | 1,
        }
    }

    #[inline]
    pub(super) fn get(self) -> Got {
        let len = self.word >> 1;
        match self.start {
            START_IDLE => Got::Idle,
            START_PARKED => Got::Parked,
            start if self.word & 1 == 0 => Got::Binary(start, start + len),
            start => {
                #[allow(unsafe_code)]
                // SAFETY: only `Ready::text` sets the text bit, with the length of the
                // `ValidText` it was given for the bytes at `start..start + len`.
                let valid = unsafe { ValidText::from_len(len) };
                Got::Text(start, start + len, valid)
            }
        }
    }
}

/// One more than the largest payload `single_frame` may take under `config`: within
/// `max_frame_size` and `max_message_size`, and delivered whole; 0 when every message is
/// streamed. The lane reads 7- and 16-bit lengths only; the bound stops at 65 535 so that it
/// fits the two bytes `Connection` has spare, leaving the rare payload of exactly 65 535
/// bytes to the general pipeline.
pub(super) fn lane_end(config: &crate::Config) -> u16 {
    config.delivery.largest_whole().map_or(0, |whole| {
        let limit = whole
            .min(config.max_frame_size)
            .min(config.max_message_size)
            .min(usize::from(u16::MAX) - 1);
        u16::try_from(limit + 1).unwrap_or(u16::MAX)
    })
}

pub(super) enum Step {
    Emit(Out),
    Continue,
    Idle,
}

impl Connection {
    /// What [`lane_end`](Connection::lane_end) summarises, worked out afresh: shut while the
    /// open is still to be announced, and for good once an extension transforms payloads;
    /// else the bound `config` sets.
    fn lane_bound(&self) -> u16 {
        if self.extension.is_some() || self.announce_open {
            0
        } else {
            lane_end(&self.config)
        }
    }

    /// Set `lane_end` after the extension stage or `announce_open` changed (the
    /// configuration never does).
    pub(super) fn refresh_lane(&mut self) {
        self.lane_end = self.lane_bound();
    }

    /// One step of the receive pipeline.
    pub(super) fn read_frames(&mut self) -> Step {
        match self.frame {
            None => self.read_header(),
            Some(f) if f.opcode.is_control() => self.read_control(f),
            Some(f) if f.transformed => self.read_transformed(f),
            Some(f) if f.streaming => self.read_streaming(f),
            Some(f) => self.read_whole(f),
        }
    }

    /// The most common frame taken in one step, before the general pipeline: an open
    /// connection between messages, no extension, and a whole message buffered in one frame
    /// with a 7- or 16-bit length, FIN, no reserved bits and the mask bit its role expects, within
    /// the limits and delivered whole. Anything else (every malformed header included) is
    /// `None` with nothing changed, for [`read_frames`](Self::read_frames) to judge; so is
    /// invalid text, after failing the connection as `read_frames` would.
    ///
    /// It reads the few header shapes it takes from the bytes itself rather than through
    /// [`frame::parse_header`], whose every check and error it would then discard: through
    /// the parser, 16-byte frames ran 8–10 % slower in the release build and 15 % with fat
    /// LTO (BENCHMARKS.md, "Design measurements").
    #[inline(always)]
    pub(super) fn single_frame(&mut self) -> Option<Ready> {
        debug_assert_eq!(
            self.lane_end,
            self.lane_bound(),
            "lane_end is refreshed wherever what it summarises changes"
        );
        if self.frame.is_some()
            || self.msg.is_some()
            || !matches!(self.phase, Phase::Open | Phase::Closing)
        {
            return None;
        }
        let buf = self.rx.unconsumed();
        let &[b0, b1, ..] = buf else {
            return None;
        };
        let text = match b0 {
            0x81 => true,
            0x82 => false,
            _ => return None,
        };
        let masked = self.role == Role::Server;
        if (b1 & 0x80 != 0) != masked {
            return None;
        }
        let (len, at) = match b1 & 0x7F {
            127 => return None,
            126 => match buf.get(2..4) {
                Some(&[hi, lo]) => (usize::from(u16::from_be_bytes([hi, lo])), 4),
                _ => return None,
            },
            short => (usize::from(short), 2),
        };
        let n = if masked { at + 4 } else { at };
        if buf.len() < n + len || len >= usize::from(self.lane_end) {
            return None;
        }
        let s = self.rx.start() + n;
        let mut ascii = Ascii::Unknown;
        if masked {
            // One four-byte load (indexing byte by byte builds the key with shifts).
            let key = buf[at..].first_chunk::<4>().copied().unwrap_or_default();
            ascii = self.rx.unmask_payload(text, s, len, key, 0);
        }
        self.assembled.clear();
        let ready = if text {
            match ValidText::check_unless_ascii(self.rx.bytes(s, s + len), ascii) {
                Some(valid) => Ready::text(s, s + len, valid),
                None => {
                    // The connection fails as in `deliver_single`; its ending comes next.
                    self.rx.consume(n);
                    let _ = self.fail(ProtocolError::InvalidUtf8);
                    return None;
                }
            }
        } else {
            Ready::binary(s, s + len)
        };
        self.rx.consume(n + len);
        Some(ready)
    }

    /// Nothing more can be read from the buffer: wait for input, or end a connection whose
    /// transport has reached EOF or whose deadline passed.
    fn idle(&mut self) -> Step {
        if self.eof || self.expired {
            self.frame = None;
            self.end_abnormally();
            return Step::Continue;
        }
        Step::Idle
    }

    fn read_header(&mut self) -> Step {
        let (h, n) = match frame::parse_header(
            self.rx.unconsumed(),
            self.role == Role::Server,
            self.rsv_allowed,
        ) {
            Ok(Some(v)) => v,
            Ok(None) => return self.idle(),
            Err(e) => return self.fail(e),
        };
        let mut transformed = false;
        if h.opcode.is_control() {
            // Extensions transform data frames only: a bit one of them claims means nothing
            // on a control frame (RFC 7692 §6.1).
            if let Some(ext) = &self.extension
                && h.rsv & ext.rsv_bits() != 0
            {
                return self.fail(ProtocolError::ReservedBitsSet);
            }
        } else {
            match (h.opcode, &self.msg) {
                (OpCode::Continuation, None) => {
                    return self.fail(ProtocolError::UnexpectedContinuation);
                }
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return self.fail(ProtocolError::ExpectedContinuation);
                }
                _ => {}
            }
            if h.payload_len > self.config.max_frame_size as u64 {
                return self.fail(ProtocolError::FrameTooLarge {
                    limit: self.config.max_frame_size,
                });
            }
            if let Some(ext) = &mut self.extension {
                let first = self.msg.is_none();
                match ext.inbound_frame(h.rsv & ext.rsv_bits(), first) {
                    Ok(t) => transformed = t,
                    Err(e) => return self.fail(e),
                }
            }
            let delivery = self.config.delivery;
            let len = h.payload_len as usize;
            if self.msg.is_none()
                && h.fin
                && !transformed
                && len <= self.config.max_message_size
                && !delivery.streams(len)
                && self.rx.len() - n >= len
            {
                // The common case, taken in one step: a message in one frame, all of it
                // buffered, delivered whole from the receive buffer.
                return self.deliver_single(h.opcode == OpCode::Text, n, len, h.mask());
            }
            if self.msg.is_none() {
                self.msg = Some(InMessage {
                    text: h.opcode == OpCode::Text,
                    len: 0,
                    decoded: 0,
                    transformed,
                    // A transformed message's size shows as it decodes.
                    streaming: delivery.streams(if transformed {
                        0
                    } else {
                        h.payload_len as usize
                    }),
                    utf8: Utf8Validator::new(),
                });
            }
            let msg = self.msg.as_mut().expect("set above");
            transformed = msg.transformed;
            let total = msg.len as u64 + h.payload_len;
            // A transformed message is bounded by what it decodes to, checked as it decodes.
            if !transformed && total > self.config.max_message_size as u64 {
                return self.fail(ProtocolError::MessageTooLarge {
                    limit: self.config.max_message_size,
                });
            }
            msg.len = total.min(usize::MAX as u64) as usize;
            if let Delivery::StreamAbove(threshold) = delivery
                && !transformed
                && !msg.streaming
                && msg.len > threshold
            {
                // Past the threshold: from here on in pieces, starting with what was
                // reassembled so far (validated as it came, for text).
                msg.streaming = true;
                let (text, reassembled) = (msg.text, self.assembled.len());
                self.begin_frame(&h, n, transformed, true);
                if reassembled > 0 {
                    return Step::Emit(Out::DataAssembled {
                        len: reassembled,
                        text,
                        finished: false,
                    });
                }
                return Step::Continue;
            }
        }
        let streaming = self.msg.as_ref().is_some_and(|m| m.streaming);
        self.begin_frame(&h, n, transformed, streaming);
        Step::Continue
    }

    /// A message of one frame whose `len` payload bytes follow its header of `n` bytes in the
    /// buffer (`n` is 0 when the header was consumed earlier): unmask and validate it in
    /// place and hand it out.
    #[inline]
    fn deliver_single(&mut self, text: bool, n: usize, len: usize, mask: Option<[u8; 4]>) -> Step {
        self.rx.consume(n);
        let s = self.rx.start();
        let ascii = mask.map_or(Ascii::Unknown, |key| {
            self.rx.unmask_payload(text, s, len, key, 0)
        });
        let out = if text {
            match ValidText::check_unless_ascii(self.rx.bytes(s, s + len), ascii) {
                Some(valid) => Out::Text(s, s + len, valid),
                None => return self.fail(ProtocolError::InvalidUtf8),
            }
        } else {
            Out::Binary(s, s + len)
        };
        self.rx.consume(len);
        Step::Emit(out)
    }

    /// The header of `n` bytes is consumed: its payload comes next.
    fn begin_frame(&mut self, h: &frame::Header, n: usize, transformed: bool, streaming: bool) {
        self.rx.consume(n);
        // Lengths of data frames are bounded by max_frame_size, control frames by 125.
        self.frame = Some(InFrame {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask(),
            len: h.payload_len as usize,
            done: 0,
            unmasked: 0,
            transformed,
            streaming,
        });
    }

    /// Unmask `n` payload bytes at `start`, the first at payload position `offset`, skipping
    /// those already unmasked on their way in.
    #[inline]
    fn unmask(&mut self, f: &InFrame, start: usize, n: usize, offset: usize) {
        if let Some(key) = f.mask {
            self.rx.unmask(start, n, key, offset);
        }
    }

    /// [`unmask`](Self::unmask) a piece of a data frame's payload; for `text`, also whether
    /// the piece is known to be ASCII (`false` when not known, as for an unmasked frame).
    fn unmask_piece(
        &mut self,
        f: &InFrame,
        text: bool,
        start: usize,
        n: usize,
        offset: usize,
    ) -> bool {
        f.mask
            .is_some_and(|key| self.rx.unmask_payload(text, start, n, key, offset) == Ascii::All)
    }

    fn read_control(&mut self, f: InFrame) -> Step {
        if self.rx.len() < f.len {
            return self.idle();
        }
        let (s, e) = (self.rx.start(), self.rx.start() + f.len);
        self.unmask(&f, s, f.len, 0);
        self.rx.consume(f.len);
        self.frame = None;
        match f.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.phase.close_sent() && self.can_mask() {
                    let mask = self.next_mask();
                    let pong = self.rx.bytes(s, e);
                    frame::write_frame(self.tx.buffer(), true, 0, OpCode::Pong, mask, pong);
                }
                Step::Emit(Out::Ping(s, e))
            }
            OpCode::Pong => Step::Emit(Out::Pong(s, e)),
            _ => self.read_close(s, e),
        }
    }

    fn read_close(&mut self, s: usize, e: usize) -> Step {
        let code = match close::parse_close_payload(self.rx.bytes(s, e)) {
            Ok(Some((code, _))) => Some(code),
            Ok(None) => None,
            Err(err) => return self.fail(err),
        };
        let reason_start = if code.is_some() { s + 2 } else { e };
        let Some(reason) = ValidText::check(self.rx.bytes(reason_start, e)) else {
            return self.fail(ProtocolError::InvalidUtf8);
        };
        if !self.phase.close_sent() && self.can_mask() {
            // Echo the peer's code and reason (§5.5.1: "typically echos the status code it
            // received"); no code received → empty Close. The payload was checked above.
            let mask = self.next_mask();
            let payload = self.rx.bytes(s, e);
            frame::write_frame(self.tx.buffer(), true, 0, OpCode::Close, mask, payload);
        }
        self.phase.close_received();
        Step::Emit(Out::Close {
            code: code.unwrap_or(close::NO_STATUS),
            start: reason_start,
            end: e,
            reason,
        })
    }

    /// The message being received; a data frame is read only inside one.
    fn msg(&mut self) -> &mut InMessage {
        self.msg
            .as_mut()
            .expect("a data frame's header starts or continues a message")
    }

    /// Whole-message delivery of a data frame's payload.
    fn read_whole(&mut self, mut f: InFrame) -> Step {
        let avail = self.rx.len();
        let s = self.rx.start();
        let text = self.msg().text;
        if f.fin && f.opcode != OpCode::Continuation {
            // A message in one frame: unmask and validate in place, deliver from the buffer.
            if f.done == 0 && avail >= f.len {
                // The whole frame is here (its header was read before its payload arrived):
                // one pass each for unmask and UTF-8, as when it arrives with its header.
                self.frame = None;
                self.msg = None;
                return self.deliver_single(text, 0, f.len, f.mask);
            }
            // In pieces: validate each as it arrives, to fail an invalid byte at once (a piece
            // found ASCII as it was unmasked is valid as it is).
            let ready = avail.min(f.len);
            let ascii = self.unmask_piece(&f, text, s + f.done, ready - f.done, f.done);
            let piece = self.rx.bytes(s + f.done, s + ready);
            let msg = self.msg.as_mut().expect("inside a message");
            if text && !(ascii && msg.utf8.take_ascii(piece)) && msg.utf8.feed(piece).is_err() {
                return self.fail(ProtocolError::InvalidUtf8);
            }
            f.done = ready;
            if f.done < f.len {
                self.frame = Some(f);
                return self.idle();
            }
            let out = if text {
                match msg.utf8.finish() {
                    Some(valid) => Out::Text(s, s + f.len, valid),
                    None => return self.fail(ProtocolError::InvalidUtf8),
                }
            } else {
                Out::Binary(s, s + f.len)
            };
            self.rx.consume(f.len);
            self.frame = None;
            self.msg = None;
            return Step::Emit(out);
        }
        // A fragment: move its payload into the reassembly buffer as it arrives.
        let new = avail.min(f.len - f.done);
        let ascii = self.unmask_piece(&f, text, s, new, f.done);
        let chunk = self.rx.bytes(s, s + new);
        let msg = self.msg.as_mut().expect("inside a message");
        if text && !(ascii && msg.utf8.take_ascii(chunk)) && msg.utf8.feed(chunk).is_err() {
            return self.fail(ProtocolError::InvalidUtf8);
        }
        self.assembled.extend_from_slice(chunk);
        self.rx.consume(new);
        f.done += new;
        if f.done < f.len {
            self.frame = Some(f);
            return self.idle();
        }
        self.frame = None;
        if !f.fin {
            return Step::Continue;
        }
        self.deliver_assembled()
    }

    /// The message in the reassembly buffer is complete: hand it out.
    fn deliver_assembled(&mut self) -> Step {
        let msg = self.msg.take().expect("inside a message");
        if !msg.text {
            return Step::Emit(Out::BinaryAssembled);
        }
        match msg.utf8.finish() {
            Some(valid) => Step::Emit(Out::TextAssembled(valid)),
            None => self.fail(ProtocolError::InvalidUtf8),
        }
    }

    /// Streaming delivery: hand out the payload bytes as they arrive.
    fn read_streaming(&mut self, mut f: InFrame) -> Step {
        let s = self.rx.start();
        let new = self.rx.len().min(f.len - f.done);
        self.unmask(&f, s, new, f.done);
        let frame_done = f.done + new == f.len;
        let finished = frame_done && f.fin;
        let msg = self.msg.as_mut().expect("inside a message");
        let text = msg.text;
        if text {
            // Where invalid text shows itself: at a byte that no valid text can contain there,
            // or at the message's last byte when it leaves a code point unfinished.
            let revealed = match msg.utf8.feed(self.rx.bytes(s, s + new)) {
                Err(e) => Some(e.revealed_at()),
                Ok(()) if finished && !msg.utf8.is_complete() => Some(new.saturating_sub(1)),
                Ok(()) => None,
            };
            if let Some(valid) = revealed {
                return self.fail_after_piece(Out::Data {
                    start: s,
                    end: s + valid,
                    text: true,
                    finished: false,
                });
            }
        }
        f.done += new;
        self.rx.consume(new);
        self.frame = if frame_done { None } else { Some(f) };
        if finished {
            self.msg = None;
        }
        if new == 0 && !finished {
            return if frame_done {
                Step::Continue
            } else {
                self.idle()
            };
        }
        Step::Emit(Out::Data {
            start: s,
            end: s + new,
            text,
            finished,
        })
    }

    /// A message the extension stage transforms: its payload is decoded into the reassembly
    /// buffer in bounded steps, the decoded size held to `max_message_size` as it grows, and
    /// text validated as it is decoded.
    fn read_transformed(&mut self, mut f: InFrame) -> Step {
        let s = self.rx.start();
        let avail = self.rx.len().min(f.len - f.done);
        // Unmask what arrived since the last step; bytes up to `unmasked` already are.
        let plain = f.unmasked - f.done;
        if avail > plain {
            self.unmask(&f, s + plain, avail - plain, f.unmasked);
            f.unmasked = f.done + avail;
        }
        let end = f.fin && f.done + avail == f.len;
        let max = self.config.max_message_size;
        let msg = self.msg.as_mut().expect("inside a message");
        let whole = !msg.streaming;
        let before = self.assembled.len();
        // Room for one byte past the limit, so that a message over it shows itself.
        let room = (max - msg.decoded.min(max)).saturating_add(1);
        let room = match self.config.delivery {
            // Decoded whole only up to one byte past the threshold, which switches it to pieces.
            crate::config::Delivery::StreamAbove(n) if whole => {
                room.min((n - msg.decoded.min(n)).saturating_add(1))
            }
            _ => room,
        };
        let limit = before + if whole { room } else { room.min(DECODED_PIECE) };
        let ext = self
            .extension
            .as_mut()
            .expect("a transformed message has an extension stage");
        let decoded = match ext.decode(self.rx.bytes(s, s + avail), end, &mut self.assembled, limit)
        {
            Ok(d) => d,
            Err(e) => return self.fail(e),
        };
        self.rx.consume(decoded.consumed);
        f.done += decoded.consumed;
        let produced = self.assembled.len() - before;
        msg.decoded += produced;
        let text = msg.text;
        if msg.decoded > max {
            return self.fail(ProtocolError::MessageTooLarge { limit: max });
        }
        if text {
            let revealed = match msg.utf8.feed(&self.assembled[before..]) {
                Err(e) => Some(before + e.revealed_at()),
                Ok(()) if decoded.finished && !msg.utf8.is_complete() => {
                    Some(self.assembled.len().saturating_sub(1))
                }
                Ok(()) => None,
            };
            if let Some(valid) = revealed {
                if whole {
                    return self.fail(ProtocolError::InvalidUtf8);
                }
                return self.fail_after_piece(Out::DataAssembled {
                    len: valid,
                    text: true,
                    finished: false,
                });
            }
        }
        // The frame is done once its payload is taken, and for the last frame once the
        // message is decoded to its end.
        let frame_done = f.done == f.len && (!f.fin || decoded.finished);
        self.frame = if frame_done { None } else { Some(f) };
        if whole && self.config.delivery.streams(msg.decoded) {
            // Past the threshold: what was decoded so far is the first piece.
            msg.streaming = true;
            if decoded.finished {
                self.msg = None;
            }
            return Step::Emit(Out::DataAssembled {
                len: self.assembled.len(),
                text,
                finished: decoded.finished,
            });
        }
        if decoded.finished {
            if whole {
                return self.deliver_assembled();
            }
            self.msg = None;
            return Step::Emit(Out::DataAssembled {
                len: self.assembled.len(),
                text,
                finished: true,
            });
        }
        if !whole && produced > 0 {
            return Step::Emit(Out::DataAssembled {
                len: self.assembled.len(),
                text,
                finished: false,
            });
        }
        if frame_done || decoded.consumed > 0 || produced > 0 {
            return Step::Continue;
        }
        self.idle()
    }

    /// Streaming text turned out invalid: `piece` holds the valid bytes before the one that
    /// revealed it. They are handed out first, as they would have been had the read ended just
    /// before the revealing byte, so that chunking never changes what the application sees; the
    /// error follows as the next event.
    fn fail_after_piece(&mut self, piece: Out) -> Step {
        let empty = match piece {
            Out::Data { start, end, .. } => start == end,
            Out::DataAssembled { len, .. } => len == 0,
            _ => false,
        };
        self.fail(ProtocolError::InvalidUtf8);
        if empty {
            Step::Continue
        } else {
            Step::Emit(piece)
        }
    }

    /// Fail the connection (§7.1.7): queue a Close with the error's code unless one was sent,
    /// stop reading, and report the error next.
    #[cold]
    #[inline(never)]
    pub(super) fn fail(&mut self, e: ProtocolError) -> Step {
        self.frame = None;
        let queue = !self.phase.close_sent();
        if queue {
            self.write_close(e.close_code(), e.reason());
        }
        self.phase.fail(queue);
        self.end(Ending::ProtocolError(e));
        Step::Continue
    }

    /// The event for what the receive pipeline found.
    pub(super) fn frame_event(&self, out: Out) -> Event<'_> {
        match out {
            Out::Text(s, e, valid) => Event::Text(valid.as_str(self.rx.bytes(s, e))),
            Out::Binary(s, e) => Event::Binary(self.rx.bytes(s, e)),
            Out::TextAssembled(valid) => Event::Text(valid.as_str(&self.assembled)),
            Out::BinaryAssembled => Event::Binary(&self.assembled),
            Out::Data {
                start,
                end,
                text,
                finished,
            } => Event::Data {
                data: self.rx.bytes(start, end),
                text,
                message_finished: finished,
            },
            Out::DataAssembled {
                len,
                text,
                finished,
            } => Event::Data {
                data: &self.assembled[..len],
                text,
                message_finished: finished,
            },
            Out::Ping(s, e) => Event::Ping(self.rx.bytes(s, e)),
            Out::Pong(s, e) => Event::Pong(self.rx.bytes(s, e)),
            Out::Close {
                code,
                start,
                end,
                reason,
            } => Event::Close {
                code,
                reason: reason.as_str(self.rx.bytes(start, end)),
            },
            Out::HandshakeRequest | Out::HttpRequest | Out::Open | Out::Ending => {
                unreachable!("state-change events are made by `Connection::event`")
            }
        }
    }
}
