//! The connection: one sans-IO machine per endpoint, from the opening handshake to the close.
//!
//! RFC 6455 §4 (the handshake, delegated to [`crate::handshake`]), §5 (framing), §5.4
//! (fragmentation), §5.5 (control frames), §7 (closing) and §8.1 (UTF-8) meet here, in four
//! files:
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the type, its constructors, input, the handshake's course, events |
//! | `recv.rs` | the receive pipeline: frame headers, the extension stage, message delivery |
//! | `send.rs` | the send pipeline and the output queue |
//! | `timers.rs` | deadlines, driven by `handle_timeout(now)` |
//!
//! Every change of lifecycle phase goes through `Phase` in `state.rs`.

#[cfg(test)]
mod hint_tests;
#[cfg(test)]
mod lane_tests;
mod opening;
mod recv;
mod send;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_tests;
mod timers;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::config::Config;
use crate::error::ProtocolError;
use crate::event::Event;
use crate::extension::Extension;
use crate::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, HandshakeRequest, Negotiated, RequestParser,
    Response, ServerPolicy,
};
use crate::ingest::{ParserAt, RecvBuf};
use crate::rng::MaskSource;
pub use crate::role::Role;
use crate::state::{Handshake, Phase, ServerSide, State};

use recv::{Got, InFrame, InMessage, LARGE_FRAME, Out, Ready, Step};
use send::Output;
use timers::Timers;

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Arbitrary bytes (opcode 0x2).
    Binary,
}

/// A WebSocket endpoint as a state machine: bytes in, events and bytes out.
///
/// # The driving loop
///
/// ```no_run
/// # use wsmachine::{Connection, Config, Event};
/// # use std::io::{Read, Write};
/// # fn serve(mut sock: std::net::TcpStream) -> std::io::Result<()> {
/// let mut conn = Connection::server(Config::default());
/// let mut buf = [0u8; 16 * 1024];
/// loop {
///     // 1. Feed what the transport delivered (0 bytes = end of stream).
///     let n = sock.read(&mut buf)?;
///     if n == 0 { conn.receive_eof() } else { conn.receive(&buf[..n]) }
///     // 2. Poll events until none.
///     while let Some(event) = conn.poll_event() {
///         match event {
///             Event::HandshakeRequest(_) => conn.accept(Default::default()).unwrap(),
///             Event::Text(t) => { let t = t.to_owned(); conn.send_text(&t).unwrap() }
///             _ => {}
///         }
///     }
///     // 3. Write what the machine queued.
///     while !conn.pending_output().is_empty() {
///         let n = sock.write(conn.pending_output())?;
///         conn.advance_output(n);
///     }
///     // 4. Close the transport when told.
///     if conn.should_close_transport() { return Ok(()); }
/// }
/// # }
/// ```
///
/// The same four steps drive a non-blocking event loop (feed on readable, write on writable),
/// an async task or a unit test. To avoid the copy from `buf`, read straight into
/// [`receive_buffer`](Self::receive_buffer) and call [`commit_received`](Self::commit_received).
///
/// # Order of events
///
/// Events come in the order of their causes: a request or response read before a deadline
/// passed is reported before anything the deadline does, and frames received before the
/// transport's end or a deadline are delivered before the connection ends for it. Exactly one
/// event ends a connection that the application did not end itself:
/// [`Event::HandshakeFailed`], [`Event::Rejected`], [`Event::Close`] or
/// [`Event::ProtocolError`].
pub struct Connection {
    role: Role,
    config: Config,
    /// The lifecycle phase, with the handshake's data while it runs.
    phase: Phase,
    policy: Option<Arc<ServerPolicy>>,
    negotiated: Option<Negotiated>,
    /// The extension stage: the negotiated extension that sees RSV bits and transforms
    /// payloads, if any.
    extension: Option<Box<dyn Extension>>,
    /// RSV bits claimed by negotiated extensions: `negotiated`'s, kept here for the frame
    /// parser (set with it, in [`install`](Self::install)).
    rsv_allowed: u8,
    masks: Option<Box<dyn MaskSource>>,

    /// [`Event::Open`] is still to be handed out.
    announce_open: bool,
    /// What ended the connection, once decided; kept for the event that reports it.
    /// Boxed: the struct stays small for the many connections that are open, and a connection
    /// ends once.
    ending: Option<Box<Ending>>,
    /// The ending's event was handed out.
    ending_reported: bool,
    /// The transport reached end of stream.
    eof: bool,
    /// A deadline passed that ends the connection (1006) once the input received before the
    /// next poll has been processed.
    expired: bool,

    /// Received bytes not yet consumed by the frame parser.
    rx: RecvBuf,
    /// One more than the largest payload the one-step lane may take (`single_frame`): the
    /// least of the limits and of the size from which messages are streamed (`config`); 0,
    /// shutting the lane, when messages are always streamed, while [`Event::Open`] is still
    /// to be handed out, and when an extension stage is installed. Set by `refresh_lane`.
    lane_end: u16,
    /// The frame whose payload is being received.
    frame: Option<InFrame>,
    /// The data message being received.
    msg: Option<InMessage>,
    /// The message reassembled from fragments or decoded by the extension stage, in
    /// whole-message delivery; the last decoded piece in streaming delivery.
    assembled: Vec<u8>,
    /// An event other than a message in one frame, between `next_ready` and `poll_event`.
    parked: Option<Out>,

    /// Bytes to write, and the state of the message being sent.
    tx: Output,
    timers: Timers,
}

/// An event that ends the connection.
#[derive(Debug)]
enum Ending {
    HandshakeFailed(HandshakeError),
    Rejected(Box<Response>),
    ProtocolError(ProtocolError),
    /// The transport ended, or a deadline passed, without a Close frame (1006).
    Abnormal,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered", &self.rx.len())
            .field("pending_output", &self.tx.pending().len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(role: Role, config: Config, phase: Phase) -> Self {
        let lane_end = recv::lane_end(&config);
        Connection {
            role,
            config,
            phase,
            policy: None,
            negotiated: None,
            extension: None,
            rsv_allowed: 0,
            masks: match role {
                #[cfg(feature = "getrandom")]
                Role::Client => Some(Box::new(crate::rng::OsRandom::new())),
                // No default source: the application supplies one.
                #[cfg(not(feature = "getrandom"))]
                Role::Client => None,
                Role::Server => None,
            },
            announce_open: false,
            ending: None,
            ending_reported: false,
            eof: false,
            expired: false,
            rx: RecvBuf::default(),
            lane_end,
            frame: None,
            msg: None,
            assembled: Vec::new(),
            parked: None,
            tx: Output::default(),
            timers: Timers::default(),
        }
    }

    /// A server waiting for an upgrade request, accepting any Origin and choosing no
    /// subprotocol or extension.
    pub fn server(config: Config) -> Self {
        let side = ServerSide {
            parser: RequestParser::new(&config),
            request: None,
        };
        Self::new(
            Role::Server,
            config,
            Phase::Connecting(Handshake::ServerReading(Box::new(side))),
        )
    }

    /// A server whose handshake follows `policy` (Origin allowlist, subprotocols, extensions).
    /// One policy is usually shared by all the connections of a listener.
    pub fn server_with_policy(config: Config, policy: Arc<ServerPolicy>) -> Self {
        let mut conn = Self::server(config);
        if let Phase::Connecting(Handshake::ServerReading(side)) = &mut conn.phase {
            side.parser.allow_plain_http(policy.serves_plain_http());
        }
        conn.policy = Some(policy);
        conn
    }

    /// A server that refuses the connection outright (for example an
    /// [`admission`](crate::admission) refusal: 429 or 503 with `Retry-After`): `response` is
    /// queued at once without reading the request, and the transport should be closed once it
    /// is written.
    pub fn server_refusing(config: Config, response: &Response) -> Self {
        // Closed from the start: no request parser is made for a client that is turned away.
        let ended = crate::state::Ending {
            close_sent: false,
            failed: true,
        };
        let mut conn = Self::new(Role::Server, config, Phase::Closed(ended));
        response.write(conn.tx.buffer());
        conn
    }

    /// A client: the upgrade request is queued at once in [`pending_output`](Self::pending_output).
    /// A request that fails validation (a host or path that cannot be sent) queues nothing:
    /// the first [`poll_event`](Self::poll_event) reports [`Event::HandshakeFailed`] with
    /// [`HandshakeError::InvalidClientRequest`], and the transport is to be closed.
    ///
    /// The key nonce and the masking keys come from ChaCha12 keyed by the operating system's
    /// CSPRNG (feature `getrandom`, on by default); without the feature, use
    /// [`client_with_mask_source`](Self::client_with_mask_source).
    #[cfg(feature = "getrandom")]
    pub fn client(request: &ClientRequest, config: Config) -> Self {
        Self::client_with_mask_source(request, config, Box::new(crate::rng::OsRandom::new()))
    }

    /// A client whose handshake key nonce (unless `request` sets one) and masking keys come
    /// from `source`, which must be unpredictable (see [`MaskSource`]): the constructor of a
    /// target without the `getrandom` feature, where the application supplies its own
    /// randomness. Otherwise as `client`.
    pub fn client_with_mask_source(
        request: &ClientRequest,
        config: Config,
        mut source: Box<dyn MaskSource>,
    ) -> Self {
        let mut out = Vec::new();
        #[cfg(feature = "deflate")]
        let offered;
        #[cfg(feature = "deflate")]
        let request = match config.deflate.as_ref().and_then(crate::deflate::offer) {
            Some(offer) => {
                offered = request.clone().extension(offer);
                &offered
            }
            None => request,
        };
        let hs = ClientHandshake::with_mask_source(request, &config, &mut out, &mut *source);
        let invalid = hs.failure().cloned();
        let mut conn = Self::new(
            Role::Client,
            config,
            Phase::Connecting(Handshake::ClientReading(Box::new(hs))),
        );
        *conn.tx.buffer() = out;
        conn.masks = Some(source);
        if let Some(e) = invalid {
            // Nothing was queued: the first poll reports why, and the transport is done with.
            conn.handshake_failed(e);
        }
        conn
    }

    /// A connection whose opening handshake was done elsewhere (by an HTTP server framework,
    /// say): it starts [`State::Open`] with no extension negotiated. Without the `getrandom`
    /// feature a client made this way has no source of masking keys: give it one with
    /// [`set_mask_source`](Self::set_mask_source) before it sends (until then its sends fail
    /// with [`UsageError::NoMaskSource`], and frames the machine would send on its own, a Pong
    /// or the echo of a Close, are not sent).
    ///
    /// [`UsageError::NoMaskSource`]: crate::UsageError::NoMaskSource
    pub fn from_upgraded(role: Role, config: Config) -> Self {
        Self::new(role, config, Phase::Open)
    }

    /// A connection whose opening handshake was done elsewhere and settled `negotiated`: the
    /// extensions it lists frames may use, permessage-deflate's stage among them when
    /// `config` enables it. With the `deflate` feature, permessage-deflate is the machine's:
    /// an entry it cannot run (`config` without it) claims no RSV bit, so that a compressed
    /// frame fails the connection (1002) instead of passing on undecoded.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn from_negotiated(role: Role, config: Config, negotiated: Negotiated) -> Self {
        let mut conn = Self::new(role, config, Phase::Open);
        #[cfg(feature = "deflate")]
        let mut negotiated = negotiated;
        #[cfg(feature = "deflate")]
        let stage = conn.upgraded_deflate(&mut negotiated);
        #[cfg(not(feature = "deflate"))]
        let stage = None;
        conn.install(negotiated, stage);
        conn
    }

    /// The permessage-deflate stage for the first permessage-deflate entry of `negotiated`,
    /// which is given the stage's RSV bit; every other entry of that name claims none.
    #[cfg(feature = "deflate")]
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    fn upgraded_deflate(&self, negotiated: &mut Negotiated) -> Option<Box<dyn Extension>> {
        let mut stage: Option<Box<dyn Extension>> = None;
        let entries = negotiated
            .extensions_mut()
            .iter_mut()
            .filter(|e| e.name.eq_ignore_ascii_case(crate::deflate::NAME));
        for entry in entries {
            entry.rsv_bits = 0;
            let Some(config) = self.config.deflate.filter(|_| stage.is_none()) else {
                continue;
            };
            if let Some(params) = crate::deflate::params_in_force(self.role, &config, entry) {
                let deflate = crate::deflate::PerMessageDeflate::new(self.role, &params, &config);
                entry.rsv_bits = Extension::rsv_bits(&deflate);
                stage = Some(Box::new(deflate));
            }
        }
        stage
    }

    /// Replace the source of client masking keys (the default, with the `getrandom` feature,
    /// is ChaCha12 keyed by the operating system's CSPRNG; without it there is none). Useful
    /// for reproducible tests; has no effect on a server.
    pub fn set_mask_source(&mut self, source: Box<dyn MaskSource>) {
        if self.role == Role::Client {
            self.masks = Some(source);
        }
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the connection is in its lifecycle.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// The limits and switches this connection runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the opening handshake settled (subprotocol, extensions), once open.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Server: the upgrade request, between [`Event::HandshakeRequest`] and the decision.
    pub fn handshake_request(&self) -> Option<&HandshakeRequest> {
        match &self.phase {
            Phase::Connecting(Handshake::ServerDeciding { side, .. }) => side.request.as_ref(),
            _ => None,
        }
    }

    // ----- input -------------------------------------------------------------------------

    /// Feed bytes received from the transport. Then call [`poll_event`](Self::poll_event)
    /// until it returns `None`. Bytes that arrive after the connection closed, or after
    /// [`receive_eof`](Self::receive_eof), are ignored.
    pub fn receive(&mut self, data: &[u8]) {
        if self.input_closed() || data.is_empty() {
            return;
        }
        self.timers.input_seen();
        if self.reading_head() && self.rx.is_empty() {
            // The head parser keeps the head's bytes itself: it reads them from `data` in
            // place, and only what follows the head (the first frames) is buffered.
            let consumed = self.feed_handshake(data);
            self.buffer(&data[consumed..]);
            return;
        }
        self.buffer(data);
        self.after_input();
    }

    /// Append `data` to the receive buffer.
    fn buffer(&mut self, data: &[u8]) {
        let rest = self.frame_rest();
        let (role, phase, frame) = (self.role, &self.phase, self.frame);
        self.rx.append(data, rest, || {
            // Fused unmasking follows a server's frames while it reads them.
            if role != Role::Server || !matches!(phase, Phase::Open | Phase::Closing) {
                return ParserAt::Unfollowable;
            }
            match frame {
                None => ParserAt::Header,
                Some(f) => ParserAt::Payload {
                    mask: f.mask,
                    done: f.done,
                    len: f.len,
                },
            }
        });
    }

    /// Lend the receive buffer: at least `min` bytes of spare room to read into directly,
    /// followed by [`commit_received`](Self::commit_received). Saves the copy that
    /// [`receive`](Self::receive) makes. The slice may be longer than `min` (the buffer's
    /// whole spare room, after it grew); a caller that wants reads of a fixed size reads into
    /// `&mut receive_buffer(n)[..n]`.
    pub fn receive_buffer(&mut self, min: usize) -> &mut [u8] {
        let rest = self.frame_rest();
        self.rx.lend(min, rest)
    }

    /// How many bytes the next read should ask for, at most `max`: `max`, unless a large
    /// message (one frame of at least 32 KiB, handed out whole) is partly received, and then no
    /// more than that frame still needs.
    ///
    /// A read of that size ends where the frame ends: once the frame is handed out the receive
    /// buffer is empty, and the next read lands at its start. Reads of `max` bytes instead end
    /// inside the next frame, whose first bytes must then follow the frame in the buffer and
    /// later move to its start (or the buffer grows to put that move off). The hint trades one
    /// more read per large frame for that move and a buffer about one frame long (64 KiB
    /// frames read 64 KiB at a time: 1.1-1.4x the rate, and 128 KiB of buffer instead of
    /// 512 KiB; `BENCHMARKS.md`, "Design measurements"). Smaller frames are not worth a read
    /// of their own: with them the hint is `max`. The hint is never 0 unless `max` is, so a
    /// read of that size that returns 0 still means the end of the input.
    ///
    /// ```
    /// # use wsmachine::{Config, Connection, Role};
    /// # let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    /// # let mut socket = std::io::empty();
    /// use std::io::Read;
    /// let n = conn.read_size_hint(64 * 1024);
    /// let got = socket.read(&mut conn.receive_buffer(n)[..n])?;
    /// conn.commit_received(got);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_size_hint(&self, max: usize) -> usize {
        match self.frame {
            Some(f) if f.len >= LARGE_FRAME => match self.frame_rest() {
                0 => max,
                rest => rest.min(max),
            },
            _ => max,
        }
    }

    /// Payload bytes the frame being received still needs before it is handed out whole from
    /// the receive buffer: a message in one frame (0 when there is none, or when its payload
    /// leaves the buffer in pieces: streamed, decoded or reassembled).
    fn frame_rest(&self) -> usize {
        match self.frame {
            Some(f)
                if f.fin
                    && f.opcode != crate::frame::OpCode::Continuation
                    && !f.opcode.is_control()
                    && !f.streaming
                    && !f.transformed =>
            {
                f.len.saturating_sub(self.rx.len())
            }
            _ => 0,
        }
    }

    /// Say how many bytes were read into the [`receive_buffer`](Self::receive_buffer): the
    /// first `n` bytes of the slice it lent. A count larger than that slice is a caller's
    /// mistake and is clamped to it (debug builds assert).
    pub fn commit_received(&mut self, n: usize) {
        if self.input_closed() {
            return;
        }
        let taken = self.rx.commit(n);
        debug_assert_eq!(taken, n, "committed more bytes than receive_buffer lent");
        self.committed(taken);
    }

    /// `taken` bytes were read into the lent buffer: input was seen, and a head being read
    /// takes them.
    fn committed(&mut self, taken: usize) {
        if taken > 0 {
            self.timers.input_seen();
            self.after_input();
        }
    }

    /// [`receive_buffer`](Self::receive_buffer) without zeroing the room: for a reader that
    /// fills uninitialised memory (tokio's `ReadBuf`), followed by
    /// [`commit_uninit`](Self::commit_uninit).
    #[cfg(feature = "tokio")]
    pub(crate) fn receive_uninit(&mut self, min: usize) -> &mut [core::mem::MaybeUninit<u8>] {
        let rest = self.frame_rest();
        self.rx.lend_uninit(min, rest)
    }

    /// [`commit_received`](Self::commit_received) for the room
    /// [`receive_uninit`](Self::receive_uninit) lent.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the slice `receive_uninit` returned, with no other call on this
    /// connection in between, have been initialised.
    #[cfg(feature = "tokio")]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn commit_uninit(&mut self, n: usize) {
        if self.input_closed() {
            return;
        }
        // SAFETY: the caller's guarantee, passed on.
        let taken = unsafe { self.rx.commit_uninit(n) };
        debug_assert_eq!(taken, n, "committed more bytes than receive_uninit lent");
        self.committed(taken);
    }

    /// The transport reached end of stream. Events for bytes already received are still
    /// delivered; a connection that had not closed then reports [`Event::Close`] with code
    /// 1006. A server that has read a request still hears of it, then of the end; the request
    /// can no longer be answered.
    pub fn receive_eof(&mut self) {
        if self.eof {
            return;
        }
        self.eof = true;
        if self.reading_head() {
            // The head cannot be completed.
            self.end_abnormally();
        }
    }

    /// Input is no longer taken: the transport ended, or the connection closed.
    fn input_closed(&self) -> bool {
        self.eof || matches!(self.phase, Phase::Closed(_))
    }

    /// Whether the handshake is reading a head (the request, or the response), or a plain
    /// request's body after its head.
    fn reading_head(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting(
                Handshake::ServerReading(_)
                    | Handshake::ServerReadingBody(_)
                    | Handshake::ClientReading(_)
            )
        )
    }

    /// Give back buffer memory that holds nothing: call it when the connection goes idle to
    /// keep an idle connection's footprint to its struct (and, while part of a frame is
    /// buffered, to about what that frame needs).
    pub fn release_buffers(&mut self) {
        // Mid-payload with nothing buffered, the buffer keeps its place in the frame.
        if self.frame.is_none() || !self.rx.is_empty() {
            self.rx.release(self.frame_rest());
        }
        self.tx.release();
        if self.msg.as_ref().is_none_or(|m| m.streams()) {
            self.assembled = Vec::new();
        }
        if self.msg.is_none()
            && let Some(ext) = &mut self.extension
        {
            ext.release_buffers();
        }
    }

    /// Heap bytes held by this connection's buffers (not counting the handshake state).
    pub fn buffered_capacity(&self) -> usize {
        self.rx.capacity()
            + self.tx.capacity()
            + self.assembled.capacity()
            + self.extension.as_ref().map_or(0, |e| e.heap_size())
    }

    fn after_input(&mut self) {
        if !self.reading_head() {
            return;
        }
        // The head follows bytes buffered while it was not being read (never, today) or
        // read into the lent buffer: feed them from there.
        let rx = core::mem::take(&mut self.rx);
        let consumed = self.feed_handshake(rx.unconsumed());
        self.rx = rx;
        self.rx.consume(consumed);
    }

    // ----- events --------------------------------------------------------------------------

    /// The next event, or `None` when the bytes received so far hold no more. The event borrows
    /// the connection: finish with it before calling the connection again.
    #[inline(always)]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        // The common frame (a whole message in one small frame) is taken inline; the rest of
        // the work is out of line and answers in registers. What is inlined into the caller is
        // that lane and the step from positions to the borrowed event. Always inlined: with
        // fat LTO the compiler kept this function out of line, and the event it returned went
        // through memory again (16-byte frames 92-100 M/s instead of 108-158 M/s).
        let ready = match self.single_frame() {
            Some(r) => r,
            None => self.next_ready(),
        };
        match ready.get() {
            Got::Binary(s, e) => Some(Event::Binary(self.rx.bytes(s, e))),
            Got::Text(s, e, valid) => Some(Event::Text(valid.as_str(self.rx.bytes(s, e)))),
            Got::Idle => None,
            Got::Parked => self.parked_event(),
        }
    }

    /// What the next event is, when the one-step lane (tried inline by `poll_event`) declined:
    /// the pipeline, a step at a time. A message in one frame comes back by its place,
    /// anything else is parked.
    #[inline(never)]
    fn next_ready(&mut self) -> Ready {
        if self.msg.as_ref().is_none_or(|m| m.streams()) {
            // What was handed out from it last time (a whole message, or a decoded piece).
            self.assembled.clear();
        }
        loop {
            match self.step() {
                Step::Emit(Out::Binary(s, e)) => return Ready::binary(s, e),
                Step::Emit(Out::Text(s, e, valid)) => return Ready::text(s, e, valid),
                Step::Emit(out) => {
                    self.parked = Some(out);
                    return Ready::PARKED;
                }
                Step::Continue => {}
                Step::Idle => return Ready::IDLE,
            }
        }
    }

    /// The event `next_ready` parked.
    #[inline(never)]
    fn parked_event(&mut self) -> Option<Event<'_>> {
        let out = self.parked.take()?;
        Some(self.event(out))
    }

    /// The next thing to report: the handshake's news first (in the order it happened), then
    /// what the received frames hold, then the ending.
    fn step(&mut self) -> Step {
        if let Phase::Connecting(Handshake::ServerDeciding {
            plain, announced, ..
        }) = &mut self.phase
        {
            if !*announced {
                *announced = true;
                return Step::Emit(if *plain {
                    Out::HttpRequest
                } else {
                    Out::HandshakeRequest
                });
            }
            if !self.eof {
                return Step::Idle;
            }
            // The transport ended after the request: once the request is reported, so is
            // the end.
            self.end_abnormally();
            return Step::Continue;
        }
        if self.announce_open {
            self.announce_open = false;
            self.refresh_lane();
            return Step::Emit(Out::Open);
        }
        if matches!(self.phase, Phase::Open | Phase::Closing) {
            return self.read_frames();
        }
        if self.ending.is_some() && !self.ending_reported {
            self.ending_reported = true;
            return Step::Emit(Out::Ending);
        }
        Step::Idle
    }

    fn event(&self, out: Out) -> Event<'_> {
        match out {
            Out::HandshakeRequest | Out::HttpRequest => {
                let request = match &self.phase {
                    Phase::Connecting(Handshake::ServerDeciding { side, .. }) => {
                        side.request.as_ref()
                    }
                    _ => None,
                };
                // `step` announces a request only in the deciding phase, whose data holds it.
                let request = request.expect("a request is announced while it is decided on");
                if matches!(out, Out::HttpRequest) {
                    Event::HttpRequest(request)
                } else {
                    Event::HandshakeRequest(request)
                }
            }
            Out::Open => Event::Open(
                self.negotiated
                    .as_ref()
                    .expect("the negotiated settings are kept from the handshake on"),
            ),
            Out::Ending => match self.ending.as_deref() {
                Some(Ending::HandshakeFailed(e)) => Event::HandshakeFailed(e.clone()),
                Some(Ending::Rejected(r)) => Event::Rejected(r),
                Some(Ending::ProtocolError(e)) => Event::ProtocolError(*e),
                Some(Ending::Abnormal) | None => Event::Close {
                    code: crate::close::ABNORMAL,
                    reason: "",
                },
            },
            other => self.frame_event(other),
        }
    }

    // ----- endings -----------------------------------------------------------------------

    /// End the connection without a Close frame from the peer (1006): the transport ended or a
    /// deadline passed.
    fn end_abnormally(&mut self) {
        self.phase.fail(false);
        self.end(Ending::Abnormal);
    }

    /// Record what ended the connection, to be reported once.
    fn end(&mut self, ending: Ending) {
        debug_assert!(self.ending.is_none(), "a connection ends once");
        self.ending.get_or_insert(Box::new(ending));
    }

    /// Whether the transport should be closed once the output is written (with the payloads
    /// sent unbuffered: `output_slices` or [`output_parts`](Self::output_parts)). True after a
    /// failure (handshake refused, protocol error, transport EOF) in either role, and after a
    /// completed closing handshake on a server; a client waits for the server to close the TCP
    /// connection first (§7.1.1), i.e. for EOF.
    pub fn should_close_transport(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
            && (self.phase.failed() || self.eof || self.role == Role::Server)
    }
}
