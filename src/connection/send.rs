//! The send pipeline (RFC 6455 §5.2–§5.5, §7.1.2) and the output queue: data messages whole or
//! in pieces (through the extension stage when it takes them), control frames, the Close that
//! starts the closing handshake, and caller-written payloads.

use alloc::vec::Vec;

use crate::close;
use crate::error::UsageError;
use crate::frame::{self, OpCode};
use crate::utf8::Utf8Validator;

use super::{Connection, MessageKind, Role};
use crate::state::Phase;

/// Largest Close reason that fits a control frame next to the 2-byte code.
const MAX_CLOSE_REASON: usize = 123;

/// Bytes waiting to be written, and the message being sent in pieces.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// `out[start..]` is waiting to be written.
    out: Vec<u8>,
    start: usize,
    /// The payload of a frame sent with `send_unbuffered`, which the caller writes itself
    /// when the output reaches `out[at]`.
    unbuffered: Option<Unbuffered>,
    /// The message being sent in pieces, if any.
    sending: Option<Sending>,
    /// Validates the text message being sent in pieces.
    utf8: Utf8Validator,
    /// The extension stage's output for the frame being sent.
    scratch: Vec<u8>,
}

/// A caller-written payload in the output stream.
#[derive(Debug, Clone, Copy)]
struct Unbuffered {
    /// Position in `out` the payload comes before.
    at: usize,
    /// Payload bytes still to be written.
    left: usize,
}

/// A message being sent in pieces.
#[derive(Debug, Clone, Copy)]
struct Sending {
    kind: MessageKind,
    /// Its pieces pass through the extension stage.
    transformed: bool,
}

impl Output {
    /// The output buffer, to append to.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes to write before a caller-written payload (or all of them).
    pub(super) fn pending(&self) -> &[u8] {
        &self.out[self.start..self.end()]
    }

    fn end(&self) -> usize {
        self.unbuffered.map_or(self.out.len(), |u| u.at)
    }

    fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end());
        let written = self.start;
        if self.start == self.out.len() {
            self.out.clear();
        } else if self.start >= self.out.len() - self.start {
            // Reclaim the written prefix here, where every writer (sends, automatic Pongs,
            // Close echoes) benefits; moving at most as many bytes as were written keeps the
            // cost linear.
            self.out.drain(..self.start);
        } else {
            return;
        }
        self.start = 0;
        if let Some(u) = &mut self.unbuffered {
            u.at -= written;
        }
    }

    fn payload_due(&self) -> usize {
        match self.unbuffered {
            Some(u) if self.start == u.at => u.left,
            _ => 0,
        }
    }

    fn advance_payload(&mut self, n: usize) {
        let due = self.payload_due();
        if let Some(u) = &mut self.unbuffered {
            u.left -= n.min(due);
            if u.left == 0 {
                self.unbuffered = None;
            }
        }
    }

    /// Bytes queued and not yet written, caller-written payloads aside.
    fn queued(&self) -> usize {
        self.out.len() - self.start
    }

    /// Give back the memory of an empty output.
    pub(super) fn release(&mut self) {
        if self.start == self.out.len() {
            self.out = Vec::new();
            self.start = 0;
            if let Some(u) = &mut self.unbuffered {
                // Only an unbuffered payload may be left, and its place is the empty output's end.
                u.at = 0;
            }
        }
        self.scratch = Vec::new();
    }

    /// Heap bytes held.
    pub(super) fn capacity(&self) -> usize {
        self.out.capacity() + self.scratch.capacity()
    }
}

impl Connection {
    /// A client has a source of masking keys (a server needs none).
    pub(super) fn can_mask(&self) -> bool {
        self.role == Role::Server || self.masks.is_some()
    }

    pub(super) fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.masks.as_mut().map(|m| m.next_mask())
    }

    fn check_data_allowed(&self) -> Result<(), UsageError> {
        if !self.can_mask() {
            return Err(UsageError::NoMaskSource);
        }
        match &self.phase {
            Phase::Open => Ok(()),
            Phase::Connecting(_) => Err(UsageError::NotOpen),
            Phase::Closing => Err(UsageError::AlreadyClosing),
            Phase::Closed(end) if end.close_sent => Err(UsageError::AlreadyClosing),
            Phase::Closed(_) => Err(UsageError::Closed),
        }
    }

    /// A data payload of `len` bytes fits the output bound (`Config::max_output_buffer`): the
    /// output is empty, or the payload takes it no further than the bound.
    fn check_room(&self, len: usize) -> Result<(), UsageError> {
        let queued = self.tx.queued();
        let limit = self.config.max_output_buffer;
        if queued == 0 || queued.saturating_add(len) <= limit {
            Ok(())
        } else {
            Err(UsageError::OutputFull { queued, limit })
        }
    }

    /// Pings and Pongs go out while open; once this side sent Close nothing more does (the
    /// automatic Pong stops then too).
    fn check_control_allowed(&self) -> Result<(), UsageError> {
        self.check_data_allowed()
    }

    /// Queue a frame with `payload` as it is.
    pub(super) fn write(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        if !self.can_mask() {
            // A client may not send unmasked (§5.3); its sends were refused already.
            return;
        }
        let mask = self.next_mask();
        frame::write_frame(&mut self.tx.out, fin, 0, opcode, mask, payload);
    }

    /// Queue a data frame of a message, through the extension stage when the message is
    /// transformed.
    fn write_data(&mut self, fin: bool, opcode: OpCode, payload: &[u8], transformed: bool) {
        let Some(ext) = self.extension.as_mut().filter(|_| transformed) else {
            return self.write(fin, opcode, payload);
        };
        let mut scratch = core::mem::take(&mut self.tx.scratch);
        scratch.clear();
        let rsv = ext.encode(payload, opcode != OpCode::Continuation, fin, &mut scratch);
        let mask = self.next_mask();
        frame::write_frame(&mut self.tx.out, fin, rsv, opcode, mask, &scratch);
        self.tx.scratch = scratch;
    }

    /// Whether the extension stage takes a message whose first piece is `len` bytes long.
    fn transforms(&self, len: usize) -> bool {
        self.extension
            .as_ref()
            .is_some_and(|ext| ext.outbound_wants(len))
    }

    /// Queue a text message in one frame. Like every data send, refused with
    /// [`UsageError::OutputFull`] when queued output would pass
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer).
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send_message(OpCode::Text, text.as_bytes(), true)
    }

    /// Queue a binary message in one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_message(OpCode::Binary, data, true)
    }

    /// Queue a whole message that does not pass through the extension stage, whatever it
    /// would choose: with permessage-deflate, a message sent uncompressed. For a secret sent
    /// next to data an attacker controls (compression leaks how alike they are: the CRIME and
    /// BREACH attacks) and for payloads already compressed. Text must be valid UTF-8
    /// ([`UsageError::InvalidUtf8`] otherwise).
    pub fn send_uncompressed(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), UsageError> {
        let opcode = match kind {
            MessageKind::Text => {
                if crate::utf8::as_str(data).is_none() {
                    return Err(UsageError::InvalidUtf8);
                }
                OpCode::Text
            }
            MessageKind::Binary => OpCode::Binary,
        };
        self.send_message(opcode, data, false)
    }

    /// Queue a whole message in one frame, through the extension stage if `transformable`
    /// and the stage takes it.
    fn send_message(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        transformable: bool,
    ) -> Result<(), UsageError> {
        self.check_data_allowed()?;
        if self.tx.sending.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        self.check_room(data.len())?;
        let transformed = transformable && self.transforms(data.len());
        self.write_data(true, opcode, data, transformed);
        Ok(())
    }

    /// Queue one piece of a fragmented message (§5.4): the first call starts a message of
    /// `kind`, later calls with the same kind continue it, and `fin` ends it. Control frames
    /// may be sent between pieces. Text pieces are bytes: a code point may be split between
    /// them, but the message as a whole must be valid UTF-8.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        self.check_data_allowed()?;
        self.check_room(data.len())?;
        let (opcode, transformed) = self.begin_fragment(kind, data, fin, true)?;
        self.write_data(fin, opcode, data, transformed);
        Ok(())
    }

    /// Check that a data frame with `data` may be sent as the next piece of a message of
    /// `kind`, and record it: the opcode to send it with, and whether it passes through the
    /// extension stage (`transformable`: a message starting here may). The caller checked
    /// that data may be sent ([`check_data_allowed`](Self::check_data_allowed)).
    fn begin_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        transformable: bool,
    ) -> Result<(OpCode, bool), UsageError> {
        let (opcode, transformed) = match self.tx.sending {
            None => (
                match kind {
                    MessageKind::Text => OpCode::Text,
                    MessageKind::Binary => OpCode::Binary,
                },
                transformable && self.transforms(data.len()),
            ),
            Some(s) if s.kind == kind => (OpCode::Continuation, s.transformed),
            Some(_) => return Err(UsageError::MessageInProgress),
        };
        if !transformable && transformed {
            // A caller-written payload cannot pass through the stage: finish the message
            // with `send_fragment`.
            return Err(UsageError::MessageInProgress);
        }
        if kind == MessageKind::Text {
            if opcode != OpCode::Continuation {
                self.tx.utf8.reset();
            }
            let mut check = self.tx.utf8.clone();
            if check.feed(data).is_err() || (fin && !check.is_complete()) {
                return Err(UsageError::InvalidUtf8);
            }
            self.tx.utf8 = check;
        }
        self.tx.sending = (!fin).then_some(Sending { kind, transformed });
        Ok((opcode, transformed))
    }

    /// Send a data frame without copying its payload into the output: only the header is
    /// queued, and the caller writes `payload` itself where the output reaches it — for large
    /// messages, what a vectored write does for other libraries. The payload does not pass
    /// through the extension stage (a compressed connection sends it uncompressed).
    ///
    /// `payload` is the whole frame payload, taken as the next piece of a message of `kind`
    /// exactly as by [`send_fragment`](Self::send_fragment) (`fin` ends the message; a single
    /// frame with `fin` is a whole message). A client masks it in place, so that the bytes to
    /// write are `payload` as it is after the call; a server leaves it unchanged.
    ///
    /// Writing then takes one more step: when [`pending_output`](Self::pending_output) is
    /// empty, [`payload_due`](Self::payload_due) says how many bytes of the payload are still
    /// to be written (its last ones); report them with
    /// [`advance_payload`](Self::advance_payload). Output queued after this call (other frames,
    /// automatic Pongs, a Close) follows the payload. One unbuffered payload may be
    /// outstanding at a time. The payload, held by the caller, does not count against
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer).
    ///
    /// ```
    /// # use wsmachine::{Config, Connection, MessageKind, Role};
    /// let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    /// let mut payload = vec![7u8; 100_000];
    /// conn.send_unbuffered(MessageKind::Binary, &mut payload, true).unwrap();
    /// let mut wire = Vec::new();
    /// loop {
    ///     if !conn.pending_output().is_empty() {
    ///         let n = conn.pending_output().len(); // a socket may write less
    ///         wire.extend_from_slice(conn.pending_output());
    ///         conn.advance_output(n);
    ///     } else if conn.payload_due() > 0 {
    ///         let due = conn.payload_due();
    ///         wire.extend_from_slice(&payload[payload.len() - due..]);
    ///         conn.advance_payload(due);
    ///     } else {
    ///         break;
    ///     }
    /// }
    /// assert_eq!(&wire[..4], &[0x82, 127, 0, 0]); // FIN + binary, 64-bit length
    /// assert_eq!(wire.len(), 10 + 100_000);
    /// ```
    pub fn send_unbuffered(
        &mut self,
        kind: MessageKind,
        payload: &mut [u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        if self.tx.unbuffered.is_some() {
            return Err(UsageError::UnbufferedPayloadPending);
        }
        self.check_data_allowed()?;
        let (opcode, _) = self.begin_fragment(kind, payload, fin, false)?;
        let mask = self.next_mask();
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, mask, payload.len() as u64);
        self.tx.out.extend_from_slice(&header[..n]);
        if let Some(key) = mask {
            crate::mask::apply_mask(payload, key, 0);
        }
        if !payload.is_empty() {
            self.tx.unbuffered = Some(Unbuffered {
                at: self.tx.out.len(),
                left: payload.len(),
            });
        }
        Ok(())
    }

    /// Queue a Ping (payload at most 125 bytes). [`UsageError::AlreadyClosing`] once this side
    /// sent Close.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, data)
    }

    /// Queue an unsolicited Pong, a heartbeat that expects no answer (§5.5.3).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, data)
    }

    fn send_control(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), UsageError> {
        self.check_control_allowed()?;
        if data.len() > frame::MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong);
        }
        self.write(true, opcode, data);
        Ok(())
    }

    /// Start the closing handshake (§7.1.2): queue a Close frame with `code` and `reason`.
    /// Received messages are still delivered until the peer's Close arrives.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), UsageError> {
        self.check_data_allowed()?;
        if !close::is_sendable_code(code) {
            return Err(UsageError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::CloseReasonTooLong);
        }
        self.write_close(code, reason);
        self.phase.close_sent_now();
        Ok(())
    }

    /// Queue a Close frame with `code` and as much of `reason` as fits.
    pub(super) fn write_close(&mut self, code: u16, reason: &str) {
        let mut payload = [0u8; 2 + MAX_CLOSE_REASON];
        let n = close_payload(&mut payload, code, reason);
        self.write(true, OpCode::Close, &payload[..n]);
    }

    // ----- output -------------------------------------------------------------------------

    /// Bytes waiting to be written to the transport, in order.
    ///
    /// When a frame was sent with [`send_unbuffered`](Self::send_unbuffered), this stops where
    /// its payload goes; once written up to there, [`payload_due`](Self::payload_due) is
    /// non-zero until the caller has written the payload.
    pub fn pending_output(&self) -> &[u8] {
        self.tx.pending()
    }

    /// How many bytes are queued and not yet written: what [`pending_output`](Self::pending_output)
    /// holds and the output queued behind an unbuffered payload, not counting that payload
    /// (the caller holds it). Data sends are refused with [`UsageError::OutputFull`] while this
    /// is above zero and a message would take it past
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer).
    pub fn queued_output(&self) -> usize {
        self.tx.queued()
    }

    /// Say that the first `n` bytes of [`pending_output`](Self::pending_output) were written.
    /// A count larger than what is pending is clamped to it.
    pub fn advance_output(&mut self, n: usize) {
        self.tx.advance(n);
    }

    /// How many bytes of the payload given to [`send_unbuffered`](Self::send_unbuffered) are
    /// to be written now: its last `payload_due()` bytes. Zero while
    /// [`pending_output`](Self::pending_output) has bytes to write first, and when no such
    /// payload is outstanding.
    pub fn payload_due(&self) -> usize {
        self.tx.payload_due()
    }

    /// Say that `n` bytes of the due unbuffered payload were written (clamped to
    /// [`payload_due`](Self::payload_due)). Once all of it is, the output after it becomes
    /// pending.
    pub fn advance_payload(&mut self, n: usize) {
        self.tx.advance_payload(n);
    }
}

/// Write a Close payload (code, then as much of `reason` as fits on a UTF-8 boundary).
fn close_payload(dst: &mut [u8; 2 + MAX_CLOSE_REASON], code: u16, reason: &str) -> usize {
    dst[..2].copy_from_slice(&code.to_be_bytes());
    let mut n = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(n) {
        n -= 1;
    }
    dst[2..2 + n].copy_from_slice(&reason.as_bytes()[..n]);
    2 + n
}
