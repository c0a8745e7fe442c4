//! The send pipeline (RFC 6455 §5.2–§5.5, §7.1.2) and the output queue: data messages whole or
//! in pieces (through the extension stage when it takes them), control frames, the Close that
//! starts the closing handshake, and caller-written payloads.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
#[cfg(feature = "std")]
use std::io::IoSlice;

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
    /// Payloads of frames sent unbuffered, which the caller holds and writes itself where the
    /// output reaches them, oldest first.
    unbuffered: VecDeque<Unbuffered>,
    /// The message being sent in pieces, if any.
    sending: Option<Sending>,
    /// Validates the text message being sent in pieces.
    utf8: Utf8Validator,
    /// The extension stage's output for the frame being sent.
    scratch: Vec<u8>,
}

/// A caller-held payload in the output stream.
#[derive(Debug, Clone, Copy)]
struct Unbuffered {
    /// Position in `out` the payload comes before (its header ends there).
    at: usize,
    /// Its length.
    len: usize,
    /// How many of its bytes were written.
    written: usize,
    /// A sample of its bytes as they go on the wire, to catch a caller passing another
    /// buffer to `output_slices`.
    #[cfg(debug_assertions)]
    fingerprint: u64,
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

    /// Bytes to write before the oldest caller-held payload (or all of them).
    pub(super) fn pending(&self) -> &[u8] {
        &self.out[self.start..self.head_end()]
    }

    /// Where the bytes before the oldest caller-held payload end.
    fn head_end(&self) -> usize {
        self.unbuffered.front().map_or(self.out.len(), |u| u.at)
    }

    /// The next bytes to write: the queued bytes up to the oldest caller-held payload, what is
    /// left of that payload (`payload` is the caller's copy of it), and the queued bytes
    /// between it and the next one.
    fn slices<'a>(&'a self, payload: &'a [u8]) -> [&'a [u8]; 3] {
        let Some(u) = self.unbuffered.front() else {
            debug_assert!(
                payload.is_empty(),
                "Connection::output_slices: a payload of {} bytes was passed, but no payload \
                 sent unbuffered is waiting to be written",
                payload.len()
            );
            return [&self.out[self.start..], &[], &[]];
        };
        debug_assert!(
            payload.len() == u.len,
            "Connection::output_slices: the payload passed has {} bytes, but the oldest one \
             sent unbuffered and not yet written has {}: pass that payload, whole",
            payload.len(),
            u.len
        );
        #[cfg(debug_assertions)]
        assert!(
            payload.len() != u.len || fingerprint(payload) == u.fingerprint,
            "Connection::output_slices: the payload passed is not the one sent unbuffered (its \
             bytes differ from those the send left, masked for a client): pass the oldest \
             payload not yet written, whole and unchanged"
        );
        let next = self.unbuffered.get(1).map_or(self.out.len(), |n| n.at);
        // A wrong payload in a release build puts wrong bytes on the wire (which the peer
        // refuses); it never reads out of bounds.
        let rest = payload.get(u.written..u.len).unwrap_or_default();
        [&self.out[self.start..u.at], rest, &self.out[u.at..next]]
    }

    /// `n` bytes of [`slices`](Self::slices) were written, in order (clamped to their total).
    fn advance(&mut self, n: usize) {
        let Some(u) = self.unbuffered.front_mut() else {
            // No caller-held payload: the output is one slice.
            self.start += n.min(self.out.len() - self.start);
            self.compact();
            return;
        };
        let head = n.min(u.at - self.start);
        self.start += head;
        let taken = (n - head).min(u.len - u.written);
        u.written += taken;
        if u.written == u.len {
            self.unbuffered.pop_front();
            self.start += (n - head - taken).min(self.head_end() - self.start);
        }
        self.compact();
    }

    /// Reclaim the written prefix of the output buffer.
    fn compact(&mut self) {
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
        if !self.unbuffered.is_empty() {
            for u in &mut self.unbuffered {
                u.at -= written;
            }
        }
    }

    /// Record a caller-held payload that goes where the output now ends.
    fn push_unbuffered(&mut self, payload: &[u8]) {
        if payload.is_empty() {
            return;
        }
        self.unbuffered.push_back(Unbuffered {
            at: self.out.len(),
            len: payload.len(),
            written: 0,
            #[cfg(debug_assertions)]
            fingerprint: fingerprint(payload),
        });
    }

    /// Bytes queued and not yet written, caller-held payloads aside.
    fn queued(&self) -> usize {
        self.out.len() - self.start
    }

    /// Bytes of caller-held payloads not yet written (of a payload partly written, the rest).
    fn held(&self) -> usize {
        self.unbuffered.iter().map(|u| u.len - u.written).sum()
    }

    /// Give back the memory of an empty output.
    pub(super) fn release(&mut self) {
        if self.start == self.out.len() {
            self.out = Vec::new();
            self.start = 0;
            // Only caller-held payloads may be left, and their place is the empty output's end.
            for u in &mut self.unbuffered {
                u.at = 0;
            }
        }
        if self.unbuffered.is_empty() {
            self.unbuffered = VecDeque::new();
        }
        self.scratch = Vec::new();
    }

    /// Heap bytes held.
    pub(super) fn capacity(&self) -> usize {
        self.out.capacity()
            + self.scratch.capacity()
            + self.unbuffered.capacity() * core::mem::size_of::<Unbuffered>()
    }
}

/// A sample of `payload`'s bytes (its length, its first and last 16 bytes and 16 between),
/// hashed with FNV-1a: cheap for any length, and different for another buffer of the same
/// length unless the two agree on every sampled byte.
#[cfg(debug_assertions)]
fn fingerprint(payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    payload.len().to_le_bytes().into_iter().for_each(&mut eat);
    let len = payload.len();
    let stride = (len / 17).max(1);
    payload.iter().take(16).copied().for_each(&mut eat);
    payload
        .iter()
        .skip(len.saturating_sub(16))
        .copied()
        .for_each(&mut eat);
    payload
        .iter()
        .step_by(stride)
        .take(16)
        .copied()
        .for_each(&mut eat);
    h
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
    pub(crate) fn transforms(&self, len: usize) -> bool {
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
        let (opcode, transformed) = self.begin_fragment(kind, data, fin, true, false)?;
        self.write_data(fin, opcode, data, transformed);
        Ok(())
    }

    /// Check that a data frame with `data` may be sent as the next piece of a message of
    /// `kind`, and record it: the opcode to send it with, and whether it passes through the
    /// extension stage (`transformable`: a message starting here may). `utf8`: the piece is
    /// a `&str`. The caller checked
    /// that data may be sent ([`check_data_allowed`](Self::check_data_allowed)).
    fn begin_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        transformable: bool,
        utf8: bool,
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
            // A `&str` after a code point boundary leaves the message at one: nothing to check.
            if !(utf8 && self.tx.utf8.is_complete()) {
                let mut check = self.tx.utf8.clone();
                if check.feed(data).is_err() || (fin && !check.is_complete()) {
                    return Err(UsageError::InvalidUtf8);
                }
                self.tx.utf8 = check;
            }
        }
        self.tx.sending = (!fin).then_some(Sending { kind, transformed });
        Ok((opcode, transformed))
    }

    /// Send a data frame without copying its payload into the output (server role): only the
    /// header is queued, and the payload stays in the caller's buffer until it is written from
    /// there, by the vectored write `output_slices` prepares (or, in any build,
    /// [`output_parts`](Self::output_parts)). For large messages, where the copy into the
    /// output would cost more than the write.
    ///
    /// `payload` is the whole frame payload, taken as the next piece of a message of `kind`
    /// exactly as by [`send_fragment`](Self::send_fragment) (`fin` ends the message; a single
    /// frame with `fin` is a whole message). It does not pass through the extension stage (a
    /// compressed connection sends it uncompressed), and it does not count against
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer).
    ///
    /// **The payload's contract.** The machine keeps no borrow of `payload`, only its length
    /// and place in the output. The caller keeps the bytes unchanged until they are written:
    /// `output_slices` (or [`output_parts`](Self::output_parts)) takes the payload again,
    /// whole, and places what is left of it between the output queued before and after it;
    /// [`advance_output`](Self::advance_output) takes the count written; and
    /// [`unbuffered_payloads`](Self::unbuffered_payloads) says how many payloads are not yet
    /// written whole, so that the caller knows which buffers are free again. A debug build
    /// checks the length and a sample of the bytes of the payload passed, and panics on a
    /// wrong one; a release build then writes wrong bytes (the peer fails the connection),
    /// never anything worse. An empty payload has nothing to write: its frame is queued whole
    /// and nothing is held.
    ///
    /// Several payloads may be outstanding, written oldest first (`output_slices` takes the
    /// oldest not yet written): a server echoing several large messages from one read sends
    /// them all in its event loop and writes when the socket is ready. Each costs the machine
    /// a 24-byte record; the payloads themselves are the caller's memory, which the caller
    /// bounds (they do not count against `max_output_buffer`, their headers do).
    ///
    /// A client masks its frames (§5.3), which changes the payload: in the client role this
    /// returns [`UsageError::MaskingRequired`]; use
    /// [`send_unbuffered_mut`](Self::send_unbuffered_mut). Text is validated as by
    /// `send_fragment`; [`send_unbuffered_text`](Self::send_unbuffered_text) takes a `&str`
    /// and skips that.
    ///
    /// ```
    /// # use std::collections::VecDeque;
    /// # use std::io::Write;
    /// # use wsmachine::{Config, Connection, MessageKind, Role};
    /// let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    /// // Payloads sent and not yet written whole, oldest first.
    /// let mut held: VecDeque<Vec<u8>> = VecDeque::new();
    /// for byte in [1u8, 2] {
    ///     let payload = vec![byte; 100_000];
    ///     conn.send_unbuffered(MessageKind::Binary, &payload, true).unwrap();
    ///     held.push_back(payload);
    ///     conn.send_ping(b"queued after it").unwrap();
    /// }
    /// let mut socket = Vec::new(); // any `Write`; a socket may take fewer bytes
    /// while conn.queued_output() > 0 || conn.unbuffered_payloads() > 0 {
    ///     let oldest = held.front().map_or(&[][..], |p| &p[..]);
    ///     let n = socket.write_vectored(&conn.output_slices(oldest)).unwrap();
    ///     conn.advance_output(n);
    ///     while held.len() > conn.unbuffered_payloads() {
    ///         held.pop_front(); // written whole: the buffer is free again
    ///     }
    /// }
    /// assert!(held.is_empty());
    /// assert_eq!(&socket[..4], &[0x82, 127, 0, 0]); // FIN + binary, 64-bit length
    /// assert_eq!(socket.len(), 2 * (10 + 100_000 + 2 + 15));
    /// ```
    pub fn send_unbuffered(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        if self.role == Role::Client {
            return Err(UsageError::MaskingRequired);
        }
        self.unbuffered_header(kind, payload, fin, false)?;
        self.tx.push_unbuffered(payload);
        Ok(())
    }

    /// [`send_unbuffered`](Self::send_unbuffered) for a piece of text already known to be
    /// UTF-8: a `&str` is not validated again (unless the message's earlier pieces, sent as
    /// bytes, end inside a code point, which a `&str` cannot continue). Server role only, as
    /// `send_unbuffered`.
    pub fn send_unbuffered_text(&mut self, text: &str, fin: bool) -> Result<(), UsageError> {
        if self.role == Role::Client {
            return Err(UsageError::MaskingRequired);
        }
        self.unbuffered_header(MessageKind::Text, text.as_bytes(), fin, true)?;
        self.tx.push_unbuffered(text.as_bytes());
        Ok(())
    }

    /// [`send_unbuffered`](Self::send_unbuffered) in either role: a client masks `payload` in
    /// place, so that the bytes to write are `payload` as the call leaves it (pass those to
    /// `output_slices` or [`output_parts`](Self::output_parts)); a server leaves it unchanged.
    /// Text is validated before anything is masked or queued.
    pub fn send_unbuffered_mut(
        &mut self,
        kind: MessageKind,
        payload: &mut [u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        if let Some(key) = self.unbuffered_header(kind, payload, fin, false)? {
            crate::mask::apply_mask(payload, key, 0);
        }
        self.tx.push_unbuffered(payload);
        Ok(())
    }

    /// [`send_unbuffered`](Self::send_unbuffered) for text the caller gives up, in either
    /// role: the `String` is proof of UTF-8, so nothing is validated, and a client masks its
    /// bytes in place rather than copying them. Returns the bytes to write (masked in the client
    /// role, the text's bytes unchanged in the server role), under the same contract as a
    /// payload of `send_unbuffered`: pass them to `output_slices` or
    /// [`output_parts`](Self::output_parts) until written; the allocation is the caller's
    /// again afterwards. For a client's large text, where `send_text` copies the text into the
    /// output as it masks it. On a usage error nothing is queued and the text is handed back
    /// with the error.
    ///
    /// ```
    /// # use wsmachine::{Config, Connection, Role};
    /// let mut conn = Connection::from_upgraded(Role::Client, Config::default());
    /// let bytes = conn.send_unbuffered_string("a large text".repeat(10_000), true).unwrap();
    /// let [header, payload, after] = conn.output_parts(&bytes);
    /// assert_eq!(header[0], 0x81); // FIN + text
    /// assert_eq!(payload.len(), 120_000);
    /// assert!(after.is_empty());
    /// ```
    pub fn send_unbuffered_string(
        &mut self,
        text: String,
        fin: bool,
    ) -> Result<Vec<u8>, (UsageError, String)> {
        match self.unbuffered_header(MessageKind::Text, text.as_bytes(), fin, true) {
            Ok(mask) => {
                let mut bytes = text.into_bytes();
                if let Some(key) = mask {
                    crate::mask::apply_mask(&mut bytes, key, 0);
                }
                self.tx.push_unbuffered(&bytes);
                Ok(bytes)
            }
            Err(e) => Err((e, text)),
        }
    }

    /// Check and queue the header of a frame whose payload the caller holds; the masking key
    /// it announces, if any. `utf8` says a text payload is a `&str`.
    fn unbuffered_header(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
        utf8: bool,
    ) -> Result<Option<[u8; 4]>, UsageError> {
        self.check_data_allowed()?;
        let (opcode, _) = self.begin_fragment(kind, payload, fin, false, utf8)?;
        let mask = self.next_mask();
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, mask, payload.len() as u64);
        self.tx.out.extend_from_slice(&header[..n]);
        Ok(mask)
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

    /// Bytes waiting to be written to the transport, in order, up to the oldest payload sent
    /// unbuffered and not yet written (all of them when there is none): for a driver that
    /// sends no payload unbuffered, everything to write. Report what was written with
    /// [`advance_output`](Self::advance_output).
    pub fn pending_output(&self) -> &[u8] {
        self.tx.pending()
    }

    /// The next bytes to write, for a vectored write (`write_vectored`): the queued output up
    /// to the oldest payload sent unbuffered and not yet written, what is left of that
    /// payload, and the output queued after it up to the next such payload. `payload` is that
    /// oldest payload, whole, as the send left it (see the contract on
    /// [`send_unbuffered`](Self::send_unbuffered)); `&[]` when
    /// [`unbuffered_payloads`](Self::unbuffered_payloads) is 0, and then the first slice is
    /// [`pending_output`](Self::pending_output) and the others are empty. Slices may be empty.
    ///
    /// Report the count written with [`advance_output`](Self::advance_output). Nothing is left
    /// to write when [`queued_output`](Self::queued_output) and `unbuffered_payloads` are both
    /// 0. A debug build panics when `payload` is not the one expected.
    #[cfg(feature = "std")]
    pub fn output_slices<'a>(&'a self, payload: &'a [u8]) -> [IoSlice<'a>; 3] {
        self.output_parts(payload).map(IoSlice::new)
    }

    /// The three slices of `output_slices` as plain byte slices, for a
    /// transport without `std::io` (and the same contract).
    pub fn output_parts<'a>(&'a self, payload: &'a [u8]) -> [&'a [u8]; 3] {
        self.tx.slices(payload)
    }

    /// How many bytes are queued and not yet written: what [`pending_output`](Self::pending_output)
    /// holds and the output queued behind an unbuffered payload, not counting those payloads
    /// (the caller holds them). Data sends are refused with [`UsageError::OutputFull`] while
    /// this is above zero and a message would take it past
    /// [`Config::max_output_buffer`](crate::Config::max_output_buffer).
    pub fn queued_output(&self) -> usize {
        self.tx.queued()
    }

    /// How many bytes of the payloads sent unbuffered are not yet written: of a payload
    /// partly written, what is left of it. These bytes are the caller's memory, outside
    /// [`queued_output`](Self::queued_output) and its bound; a driver that keeps the payloads
    /// (as the tokio adapter does) adds this to `queued_output` to bound both together.
    pub fn unbuffered_bytes(&self) -> usize {
        self.tx.held()
    }

    /// How many payloads sent unbuffered are not yet written whole. After
    /// [`advance_output`](Self::advance_output), the caller's oldest held payloads beyond this
    /// count are written (at most one per call) and their buffers free again.
    pub fn unbuffered_payloads(&self) -> usize {
        self.tx.unbuffered.len()
    }

    /// Say that the first `n` bytes of `output_slices` (or
    /// [`output_parts`](Self::output_parts)) were written, in their order (for a driver that
    /// sends no payload unbuffered: of [`pending_output`](Self::pending_output)). A count
    /// larger than the slices hold is clamped to it. A payload sent unbuffered that is now written whole leaves the count of
    /// [`unbuffered_payloads`](Self::unbuffered_payloads): its buffer is free again, and the
    /// next one is the payload to pass to `output_slices`.
    pub fn advance_output(&mut self, n: usize) {
        self.tx.advance(n);
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
