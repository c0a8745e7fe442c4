//! The connection: one sans-IO machine per endpoint, from the opening handshake to the close.
//!
//! RFC 6455 §4 (handshake, delegated to [`crate::handshake`]), §5 (framing, via
//! [`crate::frame`] and [`crate::mask`]), §5.4 (fragmentation), §5.5 (control frames), §7
//! (closing) and §8.1 (UTF-8) meet here. State changes go through `State::apply` in `state.rs`.

use std::sync::Arc;
use std::time::Instant;

use crate::close;
use crate::config::{Config, Delivery};
use crate::error::{ProtocolError, UsageError};
use crate::event::Event;
use crate::frame::{self, OpCode};
use crate::handshake::{
    Accept, ClientHandshake, ClientRequest, HandshakeError, HandshakeRequest, Negotiated,
    RequestError, RequestParser, RequestProgress, Response, ResponseError, ResponseProgress,
    ServerPolicy, prepare_accept,
};
use crate::ingest::{Fuse, FusedUnmask};
use crate::mask;
use crate::rng::{MaskSource, OsRandom};
use crate::state::{State, Transition};
use crate::utf8::{self, Utf8Validator};

/// Which end of the connection this machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the upgrade request; its frames are masked.
    Client,
    /// The end that answered it; its frames are never masked.
    Server,
}

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
pub struct Connection {
    role: Role,
    state: State,
    config: Config,
    handshake: Handshake,
    policy: Option<Arc<ServerPolicy>>,
    negotiated: Option<Negotiated>,
    /// RSV bits claimed by negotiated extensions.
    rsv_allowed: u8,
    masks: Option<Box<dyn MaskSource>>,
    pending: Option<Pending>,
    /// A second state-change event, for the rare times two arise before a poll.
    pending_next: Option<Pending>,

    /// Receive buffer: `rbuf[rstart..rend]` holds bytes not yet consumed; `rbuf[rend..]` is
    /// initialised spare room that [`receive_buffer`](Self::receive_buffer) lends out.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// Payload bytes in `rbuf` below this position were unmasked as they were copied in;
    /// from it on they are as received.
    plain_until: usize,
    /// Server: the frame boundaries followed while copying input in, when unmasking is fused
    /// with the copy (see `ingest`).
    fused: Option<FusedUnmask>,
    /// The frame whose payload is being received.
    frame: Option<InFrame>,
    /// The data message being received.
    msg: InMessage,
    /// Reassembly buffer for fragmented messages in whole-message delivery.
    assembled: Vec<u8>,
    /// `assembled` was handed out in the last event and is cleared on the next poll.
    assembled_delivered: bool,

    /// The payload of a frame sent with `send_unbuffered`, which the caller writes itself
    /// when the output reaches `out[at]`.
    unbuffered: Option<Unbuffered>,
    /// Output: `out[ostart..]` is waiting to be written.
    out: Vec<u8>,
    ostart: usize,
    /// The kind of the fragmented message being sent, if any.
    sending: Option<MessageKind>,
    send_utf8: Utf8Validator,

    close_sent: bool,
    eof: bool,
    timers: Timers,
    /// The connection failed (handshake error or rejection, protocol error, abnormal end): the
    /// transport should be closed once the output is written, whatever the role.
    failed: bool,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered", &(self.rend - self.rstart))
            .field("pending_output", &(self.out.len() - self.ostart))
            .finish_non_exhaustive()
    }
}

enum Handshake {
    /// Server: reading the request head.
    ServerReading(Box<ServerSide>),
    /// Server: the request arrived; waiting for accept() or reject().
    ServerDeciding(Box<ServerSide>),
    /// Server: an ordinary HTTP request arrived; waiting for respond().
    ServerPlain(Box<ServerSide>),
    /// Client: request sent, reading the response head.
    ClientReading(Box<ClientHandshake>),
    /// Client: the server answered with something other than 101.
    ClientRejected(Box<Response>),
    /// Finished (or never needed).
    Done,
}

/// The server's side of the handshake, in one allocation for its whole life: the parser
/// while the request head arrives, then also the request it yielded.
struct ServerSide {
    parser: RequestParser,
    /// Set by the parser when it completes, before the handshake leaves `ServerReading`.
    request: Option<HandshakeRequest>,
}

/// A caller-written payload in the output stream.
#[derive(Debug, Clone, Copy)]
struct Unbuffered {
    /// Position in `out` the payload comes before.
    at: usize,
    /// Payload bytes still to be written.
    left: usize,
}

/// Events decided by a state change rather than read from a frame.
enum Pending {
    HandshakeRequest,
    HttpRequest,
    HandshakeFailed(HandshakeError),
    Rejected,
    Open,
    ProtocolError(ProtocolError),
    /// The transport ended without a Close frame (1006).
    Abnormal,
}

/// Deadlines, armed by the times the driver reports through `handle_timeout`.
#[derive(Debug, Default)]
struct Timers {
    /// Input arrived since the last reported time.
    input_seen: bool,
    /// The reported time at which input was last seen (the first reported time before any).
    last_input: Option<Instant>,
    handshake: Option<Instant>,
    close: Option<Instant>,
    /// A keep-alive Ping is out; input must arrive before this.
    ping: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: usize,
    /// Payload bytes already unmasked (and, for text, validated).
    done: usize,
}

#[derive(Debug, Default)]
struct InMessage {
    active: bool,
    text: bool,
    /// Payload bytes announced so far by the message's frame headers.
    len: usize,
    utf8: Utf8Validator,
}

/// What the next event is, as positions in the buffers, so that the event can borrow them once
/// all state changes are done.
enum Out {
    Pending(Pending),
    /// A text message validated as it arrived.
    Text(usize, usize),
    /// A text message that arrived whole: validated once, while it is handed out.
    UncheckedText(usize, usize),
    Binary(usize, usize),
    TextAssembled,
    BinaryAssembled,
    Data {
        start: usize,
        end: usize,
        text: bool,
        finished: bool,
    },
    Ping(usize, usize),
    Pong(usize, usize),
    Close {
        code: u16,
        start: usize,
        end: usize,
    },
}

enum Step {
    Emit(Out),
    Continue,
    Idle,
}

/// Largest Close reason that fits a control frame next to the 2-byte code.
const MAX_CLOSE_REASON: usize = 123;
/// Smallest growth of the receive buffer.
const MIN_READ: usize = 4096;

/// Reads from this size on are copied in with the unmasking of large frames fused in (see
/// `ingest`); smaller ones are copied as they are.
const FUSE_MIN_READ: usize = 1024;

impl Connection {
    fn new(role: Role, config: Config, handshake: Handshake, state: State) -> Self {
        Connection {
            role,
            state,
            config,
            handshake,
            policy: None,
            negotiated: None,
            rsv_allowed: 0,
            masks: match role {
                Role::Client => Some(Box::new(OsRandom::new())),
                Role::Server => None,
            },
            pending: None,
            pending_next: None,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            plain_until: 0,
            fused: None,
            frame: None,
            msg: InMessage::default(),
            assembled: Vec::new(),
            assembled_delivered: false,
            out: Vec::new(),
            ostart: 0,
            unbuffered: None,
            sending: None,
            send_utf8: Utf8Validator::new(),
            close_sent: false,
            eof: false,
            timers: Timers::default(),
            failed: false,
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
            Handshake::ServerReading(Box::new(side)),
            State::Connecting,
        )
    }

    /// A server whose handshake follows `policy` (Origin allowlist, subprotocols, extensions).
    /// One policy is usually shared by all the connections of a listener.
    pub fn server_with_policy(config: Config, policy: Arc<ServerPolicy>) -> Self {
        let mut conn = Self::server(config);
        if let Handshake::ServerReading(side) = &mut conn.handshake {
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
        let mut conn = Self::new(Role::Server, config, Handshake::Done, State::Closed);
        response.write(&mut conn.out);
        conn.failed = true;
        conn
    }

    /// A client: the upgrade request is queued at once in [`pending_output`](Self::pending_output).
    pub fn client(request: &ClientRequest, config: Config) -> Self {
        let mut out = Vec::new();
        let hs = ClientHandshake::new(request, &config, &mut out);
        let mut conn = Self::new(
            Role::Client,
            config,
            Handshake::ClientReading(Box::new(hs)),
            State::Connecting,
        );
        conn.out = out;
        conn
    }

    /// A connection whose opening handshake was done elsewhere (by an HTTP server framework,
    /// say): it starts [`State::Open`] with no extension negotiated.
    pub fn from_upgraded(role: Role, config: Config) -> Self {
        Self::new(role, config, Handshake::Done, State::Open)
    }

    /// Replace the source of client masking keys (the default is the operating system's
    /// CSPRNG). Useful for reproducible tests; has no effect on a server.
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
        self.state
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
        match &self.handshake {
            Handshake::ServerDeciding(side) | Handshake::ServerPlain(side) => side.request.as_ref(),
            _ => None,
        }
    }

    // ----- input -------------------------------------------------------------------------

    /// Feed bytes received from the transport. Then call [`poll_event`](Self::poll_event)
    /// until it returns `None`. Bytes that arrive after the connection closed are ignored.
    pub fn receive(&mut self, data: &[u8]) {
        if self.input_closed() || data.is_empty() {
            return;
        }
        self.timers.input_seen = true;
        if self.state == State::Connecting && self.rstart == self.rend {
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
        if data.is_empty() {
            return;
        }
        self.make_room(data.len());
        if self.fused.is_none() && data.len() >= FUSE_MIN_READ {
            self.fused = self.start_fused();
        }
        if let Some(fused) = &mut self.fused {
            let fuse = fused.copy_in(&mut self.rbuf, &mut self.rend, data, &mut self.plain_until);
            if fuse == Fuse::Stopped {
                self.fused = None;
            }
            return;
        }
        self.rbuf[self.rend..self.rend + data.len()].copy_from_slice(data);
        self.rend += data.len();
    }

    /// Fused unmasking can start where the frame parser stands when it has consumed every
    /// buffered byte: a server's open connection, at a header or inside a masked payload.
    fn start_fused(&mut self) -> Option<FusedUnmask> {
        if self.role != Role::Server || !self.state.can_receive() || self.rstart != self.rend {
            return None;
        }
        if !matches!(self.handshake, Handshake::Done) || self.failed {
            return None;
        }
        self.plain_until = self.rend;
        match self.frame {
            None => Some(FusedUnmask::Header { at: self.rend }),
            Some(f) => FusedUnmask::in_payload(f.mask?, f.done, f.len),
        }
    }

    /// Lend the receive buffer: at least `min` bytes of spare room to read into directly,
    /// followed by [`commit_received`](Self::commit_received). Saves the copy that
    /// [`receive`](Self::receive) makes.
    pub fn receive_buffer(&mut self, min: usize) -> &mut [u8] {
        // Bytes read into the buffer arrive masked: the parser unmasks them in place.
        self.fused = None;
        self.make_room(min.max(1));
        &mut self.rbuf[self.rend..]
    }

    /// Say how many bytes were read into the [`receive_buffer`](Self::receive_buffer).
    /// A count larger than the lent buffer is clamped to it.
    pub fn commit_received(&mut self, n: usize) {
        if self.input_closed() {
            return;
        }
        let n = n.min(self.rbuf.len() - self.rend);
        self.rend += n;
        if n > 0 {
            self.timers.input_seen = true;
            self.after_input();
        }
    }

    /// The transport reached end of stream. Events for bytes already received are still
    /// delivered; a connection that had not closed reports [`Event::Close`] with code 1006.
    pub fn receive_eof(&mut self) {
        if self.eof {
            return;
        }
        self.eof = true;
        if self.state == State::Connecting {
            self.state = self.state.apply(Transition::Failed);
            self.failed = true;
            self.push_pending(Pending::Abnormal);
        }
    }

    fn input_closed(&self) -> bool {
        self.eof || self.state == State::Closed
    }

    /// Make `rbuf[rend..]` at least `n` bytes long, compacting when the consumed prefix is at
    /// least as long as what is left (so each byte is moved at most once on average).
    fn make_room(&mut self, n: usize) {
        if self.rstart == self.rend || (self.rstart > 0 && self.rstart >= self.rend - self.rstart) {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            let by = self.rstart;
            self.rend -= by;
            self.rstart = 0;
            self.plain_until = self.plain_until.saturating_sub(by);
            if let Some(f) = &mut self.fused {
                f.shift(by);
            }
        }
        if self.rbuf.len() - self.rend < n {
            let want = (self.rend + n).max(self.rbuf.len() * 2).max(MIN_READ);
            self.rbuf.resize(want, 0);
        }
    }

    /// Give back buffer memory that holds nothing: call it when the connection goes idle to
    /// keep an idle connection's footprint to its struct.
    pub fn release_buffers(&mut self) {
        if self.rstart == self.rend && self.frame.is_none() {
            self.rbuf = Vec::new();
            self.rstart = 0;
            self.rend = 0;
            self.plain_until = 0;
            self.fused = None;
        }
        if self.ostart == self.out.len() {
            self.out = Vec::new();
            self.ostart = 0;
            if let Some(u) = &mut self.unbuffered {
                // Only an unbuffered payload may be left, and its place is the empty output's end.
                u.at = 0;
            }
        }
        if !self.msg.active || self.config.delivery == Delivery::Streaming {
            self.assembled = Vec::new();
            self.assembled_delivered = false;
        }
    }

    /// Heap bytes held by this connection's buffers (not counting the handshake state).
    pub fn buffered_capacity(&self) -> usize {
        self.rbuf.capacity() + self.out.capacity() + self.assembled.capacity()
    }

    fn after_input(&mut self) {
        if self.state != State::Connecting {
            return;
        }
        // Lent out for the call, so that the handshake can read it while changing the rest.
        let rbuf = std::mem::take(&mut self.rbuf);
        let consumed = self.feed_handshake(&rbuf[self.rstart..self.rend]);
        self.rbuf = rbuf;
        self.rstart += consumed;
    }

    /// Feed received bytes to the handshake, if it is reading a head; returns how many of them
    /// it took. The rest (frames after the head, or everything while the application decides
    /// or after a failure) stays with the caller.
    fn feed_handshake(&mut self, data: &[u8]) -> usize {
        match &mut self.handshake {
            Handshake::ServerReading(side) => {
                match side.parser.receive_into(data, &mut side.request) {
                    RequestProgress::Partial => data.len(),
                    RequestProgress::Complete { consumed, .. } => {
                        let origin_ok = match (&self.policy, &side.request) {
                            (Some(p), Some(request)) => p.check_origin(request),
                            _ => Ok(()),
                        };
                        match origin_ok {
                            Ok(()) => {
                                self.server_request(false);
                                self.push_pending(Pending::HandshakeRequest);
                            }
                            Err(e) => self.handshake_failed(e),
                        }
                        consumed
                    }
                    RequestProgress::Plain { consumed, .. } => {
                        self.server_request(true);
                        self.push_pending(Pending::HttpRequest);
                        consumed
                    }
                    RequestProgress::Failed(e) => {
                        self.handshake_failed(e);
                        0
                    }
                }
            }
            Handshake::ClientReading(hs) => match hs.receive(data) {
                ResponseProgress::Partial => data.len(),
                ResponseProgress::Accepted {
                    negotiated,
                    consumed,
                } => {
                    self.open(negotiated);
                    consumed
                }
                ResponseProgress::Rejected { response, consumed } => {
                    self.handshake = Handshake::ClientRejected(Box::new(response));
                    self.state = self.state.apply(Transition::Failed);
                    self.failed = true;
                    self.push_pending(Pending::Rejected);
                    consumed
                }
                ResponseProgress::Failed(e) => {
                    self.handshake_failed(e);
                    0
                }
            },
            // Waiting for the application's decision: keep early frames buffered.
            _ => 0,
        }
    }

    /// The server's parser completed a request (kept next to it): wait for the application's
    /// decision (`plain`: on an ordinary HTTP request).
    fn server_request(&mut self, plain: bool) {
        if let Handshake::ServerReading(side) =
            std::mem::replace(&mut self.handshake, Handshake::Done)
        {
            self.handshake = if plain {
                Handshake::ServerPlain(side)
            } else {
                Handshake::ServerDeciding(side)
            };
        }
    }

    fn handshake_failed(&mut self, e: HandshakeError) {
        if self.role == Role::Server {
            e.write_response(&mut self.out);
        }
        self.handshake = Handshake::Done;
        self.state = self.state.apply(Transition::Failed);
        self.failed = true;
        self.push_pending(Pending::HandshakeFailed(e));
    }

    fn open(&mut self, negotiated: Negotiated) {
        self.rsv_allowed = negotiated.rsv_bits();
        self.negotiated = Some(negotiated);
        self.handshake = Handshake::Done;
        self.state = self.state.apply(Transition::HandshakeComplete);
        self.push_pending(Pending::Open);
    }

    // ----- server handshake decision -----------------------------------------------------

    /// Server: accept the upgrade request reported by [`Event::HandshakeRequest`]. The 101
    /// response is queued, [`Event::Open`] follows, and frames that arrived early are
    /// processed.
    pub fn accept(&mut self, accept: Accept) -> Result<(), UsageError> {
        let Handshake::ServerDeciding(side) = &self.handshake else {
            return Err(UsageError::WrongHandshakeStep);
        };
        let Some(request) = &side.request else {
            return Err(UsageError::WrongHandshakeStep);
        };
        let default_policy;
        let policy = match &self.policy {
            Some(p) => &**p,
            None => {
                default_policy = ServerPolicy::default();
                &default_policy
            }
        };
        let prepared = prepare_accept(request, &accept, policy)?;
        if let Handshake::ServerDeciding(side) =
            std::mem::replace(&mut self.handshake, Handshake::Done)
            && self.out.capacity() == 0
        {
            // Nothing was written yet: the buffer of the request's head, no longer needed,
            // takes the 101 instead of a new allocation (and grows if the 101 is longer).
            if let Some(request) = side.request {
                self.out = request.into_buffer();
                self.out.clear();
            }
        }
        let negotiated = prepared.write(&accept, &mut self.out);
        self.open(negotiated);
        Ok(())
    }

    /// Server: refuse the upgrade request with any response (401, 302 with `Location`, …).
    /// The response is queued and the transport should be closed once it is written.
    pub fn reject(&mut self, response: Response) -> Result<(), UsageError> {
        self.respond(response)
    }

    /// Server: answer the request with an ordinary HTTP response — the answer to
    /// [`Event::HttpRequest`], and the same as [`reject`](Self::reject) for an upgrade
    /// request. The transport should be closed once it is written.
    pub fn respond(&mut self, response: Response) -> Result<(), UsageError> {
        if !matches!(
            self.handshake,
            Handshake::ServerDeciding(_) | Handshake::ServerPlain(_)
        ) {
            return Err(UsageError::WrongHandshakeStep);
        }
        response.check()?;
        response.write(&mut self.out);
        self.handshake = Handshake::Done;
        self.state = self.state.apply(Transition::Failed);
        self.failed = true;
        Ok(())
    }

    // ----- events --------------------------------------------------------------------------

    /// The next event, or `None` when the bytes received so far hold no more. The event borrows
    /// the connection: finish with it before calling the connection again.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if self.assembled_delivered {
            self.assembled.clear();
            self.assembled_delivered = false;
        }
        let out = loop {
            match self.step() {
                Step::Emit(out) => break out,
                Step::Continue => {}
                Step::Idle => return None,
            }
        };
        if let Out::UncheckedText(s, e) = out {
            // One validation pass that also yields the `&str`; on failure only fields apart
            // from `rbuf` change, so the borrow checker accepts both arms.
            return Some(match utf8::as_str(&self.rbuf[s..e]) {
                Some(text) => Event::Text(text),
                None => {
                    record_failure(
                        &mut self.out,
                        &mut self.masks,
                        &mut self.close_sent,
                        &mut self.state,
                        &mut self.failed,
                        ProtocolError::InvalidUtf8,
                    );
                    Event::ProtocolError(ProtocolError::InvalidUtf8)
                }
            });
        }
        Some(self.event(out))
    }

    fn event(&self, out: Out) -> Event<'_> {
        match out {
            Out::Pending(p) => match p {
                Pending::HandshakeRequest => match &self.handshake {
                    Handshake::ServerDeciding(side) => match &side.request {
                        Some(r) => Event::HandshakeRequest(r),
                        None => unreachable_event(),
                    },
                    _ => unreachable_event(),
                },
                Pending::HttpRequest => match &self.handshake {
                    Handshake::ServerPlain(side) => match &side.request {
                        Some(r) => Event::HttpRequest(r),
                        None => unreachable_event(),
                    },
                    _ => unreachable_event(),
                },
                Pending::HandshakeFailed(e) => Event::HandshakeFailed(e),
                Pending::Rejected => match &self.handshake {
                    Handshake::ClientRejected(r) => Event::Rejected(r),
                    _ => unreachable_event(),
                },
                Pending::Open => match &self.negotiated {
                    Some(n) => Event::Open(n),
                    None => unreachable_event(),
                },
                Pending::ProtocolError(e) => Event::ProtocolError(e),
                Pending::Abnormal => Event::Close {
                    code: close::ABNORMAL,
                    reason: "",
                },
            },
            // Validated piece by piece as the bytes arrived (`read_whole`): that was the one
            // pass over them.
            Out::Text(s, e) => Event::Text(utf8::validated_pieces(&self.rbuf[s..e])),
            // Handled in `poll_event`, which validates it; checked here too should it arrive.
            Out::UncheckedText(s, e) => Event::Text(utf8::from_validated(&self.rbuf[s..e])),
            Out::Binary(s, e) => Event::Binary(&self.rbuf[s..e]),
            Out::TextAssembled => Event::Text(utf8::validated_pieces(&self.assembled)),
            Out::BinaryAssembled => Event::Binary(&self.assembled),
            Out::Data {
                start,
                end,
                text,
                finished,
            } => Event::Data {
                data: &self.rbuf[start..end],
                text,
                message_finished: finished,
            },
            Out::Ping(s, e) => Event::Ping(&self.rbuf[s..e]),
            Out::Pong(s, e) => Event::Pong(&self.rbuf[s..e]),
            Out::Close { code, start, end } => Event::Close {
                code,
                reason: utf8::from_validated(&self.rbuf[start..end]),
            },
        }
    }

    fn push_pending(&mut self, p: Pending) {
        if self.pending.is_none() {
            self.pending = Some(p);
        } else {
            self.pending_next = Some(p);
        }
    }

    fn step(&mut self) -> Step {
        if let Some(p) = self.pending.take() {
            self.pending = self.pending_next.take();
            return Step::Emit(Out::Pending(p));
        }
        if !self.state.can_receive() {
            return Step::Idle;
        }
        match self.frame {
            None => self.read_header(),
            Some(f) if f.opcode.is_control() => self.read_control(f),
            Some(f) => match self.config.delivery {
                Delivery::Whole => self.read_whole(f),
                Delivery::Streaming => self.read_streaming(f),
            },
        }
    }

    /// Nothing more can be read from the buffer: wait for input, or end an unfinished
    /// connection whose transport has reached EOF.
    fn idle(&mut self) -> Step {
        if self.eof {
            self.frame = None;
            self.state = self.state.apply(Transition::Failed);
            self.failed = true;
            return Step::Emit(Out::Pending(Pending::Abnormal));
        }
        Step::Idle
    }

    fn read_header(&mut self) -> Step {
        let buf = &self.rbuf[self.rstart..self.rend];
        let (h, n) = match frame::decode_header(buf, self.role == Role::Server, self.rsv_allowed) {
            Ok(Some(v)) => v,
            Ok(None) => return self.idle(),
            Err(e) => return self.fail(e),
        };
        if !h.opcode.is_control() {
            match (h.opcode, self.msg.active) {
                (OpCode::Continuation, false) => {
                    return self.fail(ProtocolError::UnexpectedContinuation);
                }
                (OpCode::Text | OpCode::Binary, true) => {
                    return self.fail(ProtocolError::ExpectedContinuation);
                }
                _ => {}
            }
            if h.payload_len > self.config.max_frame_size as u64 {
                return self.fail(ProtocolError::FrameTooLarge {
                    limit: self.config.max_frame_size,
                });
            }
            let before = if self.msg.active { self.msg.len } else { 0 };
            let total = before as u64 + h.payload_len;
            if total > self.config.max_message_size as u64 {
                return self.fail(ProtocolError::MessageTooLarge {
                    limit: self.config.max_message_size,
                });
            }
            if !self.msg.active {
                self.msg.active = true;
                self.msg.text = h.opcode == OpCode::Text;
                self.msg.utf8.reset();
            }
            self.msg.len = total as usize;
        }
        self.rstart += n;
        // Lengths of data frames are bounded by max_frame_size, control frames by 125.
        self.frame = Some(InFrame {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            len: h.payload_len as usize,
            done: 0,
        });
        Step::Continue
    }

    /// Unmask `rbuf[start..start + n]`, the payload bytes at `offset` of frame `f`.
    /// Unmask `n` payload bytes at `start`, the first at payload position `offset`, skipping
    /// those already unmasked on their way in.
    fn unmask(&mut self, f: &InFrame, start: usize, n: usize, offset: usize) {
        if let Some(key) = f.mask {
            let skip = self.plain_until.saturating_sub(start).min(n);
            mask::apply_mask(&mut self.rbuf[start + skip..start + n], key, offset + skip);
        }
    }

    fn read_control(&mut self, f: InFrame) -> Step {
        if self.rend - self.rstart < f.len {
            return self.idle();
        }
        let (s, e) = (self.rstart, self.rstart + f.len);
        self.unmask(&f, s, f.len, 0);
        self.rstart = e;
        self.frame = None;
        match f.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    let mask = self.next_mask();
                    frame::write_frame(
                        &mut self.out,
                        true,
                        0,
                        OpCode::Pong,
                        mask,
                        &self.rbuf[s..e],
                    );
                }
                Step::Emit(Out::Ping(s, e))
            }
            OpCode::Pong => Step::Emit(Out::Pong(s, e)),
            _ => self.read_close(s, e),
        }
    }

    fn read_close(&mut self, s: usize, e: usize) -> Step {
        let code = match close::parse_close_payload(&self.rbuf[s..e]) {
            Ok(Some((code, _))) => Some(code),
            Ok(None) => None,
            Err(err) => return self.fail(err),
        };
        if !self.close_sent {
            // Echo the peer's code (§5.5.1); no code received → empty Close.
            let mask = self.next_mask();
            let payload = code.map(u16::to_be_bytes);
            let payload: &[u8] = match &payload {
                Some(b) => b,
                None => &[],
            };
            frame::write_frame(&mut self.out, true, 0, OpCode::Close, mask, payload);
            self.close_sent = true;
        }
        self.frame = None;
        self.state = self.state.apply(Transition::CloseReceived);
        let reason_start = if code.is_some() { s + 2 } else { e };
        Step::Emit(Out::Close {
            code: code.unwrap_or(close::NO_STATUS),
            start: reason_start,
            end: e,
        })
    }

    /// Whole-message delivery of a data frame's payload.
    fn read_whole(&mut self, mut f: InFrame) -> Step {
        let avail = self.rend - self.rstart;
        let text = self.msg.text;
        let s = self.rstart;
        if f.fin && f.opcode != OpCode::Continuation {
            // A message in one frame: unmask and validate in place, deliver from `rbuf`.
            let validated = if f.done == 0 && avail >= f.len {
                // Fast path: the whole frame is here, one pass each for unmask and UTF-8 (the
                // latter in poll_event, where the text is handed out).
                self.unmask(&f, s, f.len, 0);
                false
            } else {
                // In pieces: validate each as it arrives, to fail an invalid byte at once.
                let ready = avail.min(f.len);
                self.unmask(&f, s + f.done, ready - f.done, f.done);
                let piece = &self.rbuf[s + f.done..s + ready];
                if text && self.msg.utf8.feed(piece).is_err() {
                    return self.fail(ProtocolError::InvalidUtf8);
                }
                f.done = ready;
                if f.done < f.len {
                    self.frame = Some(f);
                    return self.idle();
                }
                if text && !self.msg.utf8.is_complete() {
                    return self.fail(ProtocolError::InvalidUtf8);
                }
                true
            };
            self.rstart = s + f.len;
            self.frame = None;
            self.msg.active = false;
            let range = (s, s + f.len);
            return Step::Emit(match (text, validated) {
                (false, _) => Out::Binary(range.0, range.1),
                (true, true) => Out::Text(range.0, range.1),
                (true, false) => Out::UncheckedText(range.0, range.1),
            });
        }
        // A fragment: move its payload into the reassembly buffer as it arrives.
        let new = avail.min(f.len - f.done);
        self.unmask(&f, s, new, f.done);
        let chunk = &self.rbuf[s..s + new];
        if text && self.msg.utf8.feed(chunk).is_err() {
            return self.fail(ProtocolError::InvalidUtf8);
        }
        self.assembled.extend_from_slice(chunk);
        self.rstart += new;
        f.done += new;
        if f.done < f.len {
            self.frame = Some(f);
            return self.idle();
        }
        self.frame = None;
        if !f.fin {
            return Step::Continue;
        }
        if text && !self.msg.utf8.is_complete() {
            return self.fail(ProtocolError::InvalidUtf8);
        }
        self.msg.active = false;
        self.assembled_delivered = true;
        Step::Emit(if text {
            Out::TextAssembled
        } else {
            Out::BinaryAssembled
        })
    }

    /// Streaming delivery: hand out the payload bytes as they arrive.
    fn read_streaming(&mut self, mut f: InFrame) -> Step {
        let avail = self.rend - self.rstart;
        let text = self.msg.text;
        let s = self.rstart;
        let new = avail.min(f.len - f.done);
        self.unmask(&f, s, new, f.done);
        let frame_done = f.done + new == f.len;
        let finished = frame_done && f.fin;
        if text {
            // Where invalid text shows itself: at a byte that no valid text can contain there,
            // or at the message's last byte when it leaves a code point unfinished.
            let revealed = match self.msg.utf8.feed(&self.rbuf[s..s + new]) {
                Err(e) => Some(e.revealed_at()),
                Ok(()) if finished && !self.msg.utf8.is_complete() => Some(new.saturating_sub(1)),
                Ok(()) => None,
            };
            if let Some(valid) = revealed {
                return self.fail_after_piece(s, valid);
            }
        }
        f.done += new;
        self.rstart += new;
        self.frame = if frame_done { None } else { Some(f) };
        if finished {
            self.msg.active = false;
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

    /// Streaming text turned out invalid at `rbuf[s + valid]`. The `valid` bytes before it are
    /// handed out first, as they would have been had the read ended just before the revealing
    /// byte, so that chunking never changes what the application sees; the error follows as
    /// the next event.
    fn fail_after_piece(&mut self, s: usize, valid: usize) -> Step {
        if valid == 0 {
            return self.fail(ProtocolError::InvalidUtf8);
        }
        self.record_failure(ProtocolError::InvalidUtf8);
        self.push_pending(Pending::ProtocolError(ProtocolError::InvalidUtf8));
        Step::Emit(Out::Data {
            start: s,
            end: s + valid,
            text: true,
            finished: false,
        })
    }

    /// Fail the connection (§7.1.7): queue a Close with the error's code, stop reading, report.
    fn fail(&mut self, e: ProtocolError) -> Step {
        self.record_failure(e);
        Step::Emit(Out::Pending(Pending::ProtocolError(e)))
    }

    /// Queue the Close for a failure and stop reading, without reporting it yet.
    fn record_failure(&mut self, e: ProtocolError) {
        self.frame = None;
        record_failure(
            &mut self.out,
            &mut self.masks,
            &mut self.close_sent,
            &mut self.state,
            &mut self.failed,
            e,
        );
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.masks.as_mut().map(|m| m.next_mask())
    }

    // ----- sending -------------------------------------------------------------------------

    fn check_data_allowed(&self) -> Result<(), UsageError> {
        match self.state {
            State::Open => Ok(()),
            State::Connecting => Err(UsageError::NotOpen),
            State::Closing => Err(UsageError::AlreadyClosing),
            State::Closed if self.close_sent => Err(UsageError::AlreadyClosing),
            State::Closed => Err(UsageError::Closed),
        }
    }

    fn check_control_allowed(&self) -> Result<(), UsageError> {
        match self.state {
            State::Open | State::Closing => Ok(()),
            State::Connecting => Err(UsageError::NotOpen),
            State::Closed => Err(UsageError::Closed),
        }
    }

    fn write(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mask = self.next_mask();
        frame::write_frame(&mut self.out, fin, 0, opcode, mask, payload);
    }

    /// Queue a text message in one frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queue a binary message in one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_message(OpCode::Binary, data)
    }

    fn send_message(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), UsageError> {
        self.check_data_allowed()?;
        if self.sending.is_some() {
            return Err(UsageError::MessageInProgress);
        }
        self.write(true, opcode, data);
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
        let opcode = self.begin_fragment(kind, data, fin)?;
        self.write(fin, opcode, data);
        Ok(())
    }

    /// Check that a data frame with `data` may be sent as the next piece of a message of
    /// `kind`, and record it: the opcode to send it with.
    fn begin_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<OpCode, UsageError> {
        self.check_data_allowed()?;
        let opcode = match self.sending {
            None => match kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            },
            Some(k) if k == kind => OpCode::Continuation,
            Some(_) => return Err(UsageError::MessageInProgress),
        };
        if kind == MessageKind::Text {
            if opcode != OpCode::Continuation {
                self.send_utf8.reset();
            }
            let mut check = self.send_utf8.clone();
            if check.feed(data).is_err() || (fin && !check.is_complete()) {
                return Err(UsageError::InvalidUtf8);
            }
            self.send_utf8 = check;
        }
        self.sending = if fin { None } else { Some(kind) };
        Ok(opcode)
    }

    /// Send a data frame without copying its payload into the output: only the header is
    /// queued, and the caller writes `payload` itself where the output reaches it — for large
    /// messages, what a vectored write does for other libraries.
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
    /// outstanding at a time.
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
        if self.unbuffered.is_some() {
            return Err(UsageError::UnbufferedPayloadPending);
        }
        let opcode = self.begin_fragment(kind, payload, fin)?;
        let mask = self.next_mask();
        let mut header = [0u8; frame::MAX_HEADER_LEN];
        let n = frame::encode_header(&mut header, fin, 0, opcode, mask, payload.len() as u64);
        self.out.extend_from_slice(&header[..n]);
        if let Some(key) = mask {
            mask::apply_mask(payload, key, 0);
        }
        if !payload.is_empty() {
            self.unbuffered = Some(Unbuffered {
                at: self.out.len(),
                left: payload.len(),
            });
        }
        Ok(())
    }

    /// Queue a Ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, data)
    }

    /// Queue an unsolicited Pong, a heartbeat that expects no answer (§5.5.3).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, data)
    }

    fn send_control(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), UsageError> {
        self.check_control_allowed()?;
        if data.len() > 125 {
            return Err(UsageError::ControlPayloadTooLong);
        }
        self.write(true, opcode, data);
        Ok(())
    }

    /// Start the closing handshake (§7.1.2): queue a Close frame with `code` and `reason`.
    /// Received messages are still delivered until the peer's Close arrives.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), UsageError> {
        match self.state {
            State::Open => {}
            State::Connecting => return Err(UsageError::NotOpen),
            State::Closing => return Err(UsageError::AlreadyClosing),
            State::Closed if self.close_sent => return Err(UsageError::AlreadyClosing),
            State::Closed => return Err(UsageError::Closed),
        }
        if !close::is_sendable_code(code) {
            return Err(UsageError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(UsageError::CloseReasonTooLong);
        }
        let mut payload = [0u8; 2 + MAX_CLOSE_REASON];
        let n = close_payload(&mut payload, code, reason);
        self.write(true, OpCode::Close, &payload[..n]);
        self.close_sent = true;
        self.state = self.state.apply(Transition::CloseSent);
        Ok(())
    }

    // ----- time ---------------------------------------------------------------------------

    /// Report the time: fire every deadline that has passed and arm new ones. Call it after
    /// each batch of input (the timers measure time since input was last seen) and whenever
    /// [`poll_timeout`](Self::poll_timeout) comes due; then poll events and output as usual.
    /// The first call arms the handshake deadline: a machine that is never told the time runs
    /// no timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let config = self.config;
        if self.timers.input_seen || self.timers.last_input.is_none() {
            if self.timers.input_seen {
                self.timers.ping = None;
            }
            self.timers.input_seen = false;
            self.timers.last_input = Some(now);
        }
        let last_input = self.timers.last_input.unwrap_or(now);
        match self.state {
            State::Connecting => {
                if let Some(limit) = config.handshake_timeout {
                    let deadline = *self.timers.handshake.get_or_insert(now + limit);
                    if now >= deadline {
                        self.handshake_failed(match self.role {
                            Role::Server => HandshakeError::Request(RequestError::Timeout),
                            Role::Client => HandshakeError::Response(ResponseError::Timeout),
                        });
                    }
                }
            }
            State::Open => {
                if let Some(idle) = config.idle_timeout
                    && now >= last_input + idle
                {
                    // Cannot fail in the Open state with a valid code.
                    let _ = self.close(close::GOING_AWAY, "idle timeout");
                }
                if let (State::Open, Some(interval)) = (self.state, config.keepalive_interval) {
                    match self.timers.ping {
                        Some(deadline) if now >= deadline => {
                            self.state = self.state.apply(Transition::Failed);
                            self.failed = true;
                            self.push_pending(Pending::Abnormal);
                        }
                        Some(_) => {}
                        None if now >= last_input + interval => {
                            self.write(true, OpCode::Ping, b"");
                            self.timers.ping = Some(now + config.keepalive_timeout);
                        }
                        None => {}
                    }
                }
            }
            State::Closing | State::Closed => {}
        }
        if self.awaiting_close()
            && let Some(limit) = config.close_timeout
        {
            let deadline = *self.timers.close.get_or_insert(now + limit);
            if now >= deadline {
                if self.state != State::Closed {
                    self.push_pending(Pending::Abnormal);
                }
                self.state = self.state.apply(Transition::Failed);
                self.failed = true;
            }
        }
    }

    /// Waiting for the peer's Close, or (client) for the server's EOF after it.
    fn awaiting_close(&self) -> bool {
        match self.state {
            State::Closing => true,
            State::Closed => !self.should_close_transport(),
            _ => false,
        }
    }

    /// The earliest armed deadline: call [`handle_timeout`](Self::handle_timeout) then, or
    /// earlier with input. `None` until the time was first reported, or with no timer running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let config = &self.config;
        let last_input = self.timers.last_input?;
        let mut earliest: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        match self.state {
            State::Connecting => consider(self.timers.handshake),
            State::Open => {
                consider(config.idle_timeout.map(|d| last_input + d));
                if let Some(interval) = config.keepalive_interval {
                    consider(Some(self.timers.ping.unwrap_or(last_input + interval)));
                }
            }
            _ => {}
        }
        if self.awaiting_close() && config.close_timeout.is_some() {
            // Not yet armed: the next report of the time arms it, so ask for one now.
            consider(Some(self.timers.close.unwrap_or(last_input)));
        }
        earliest
    }

    // ----- output -------------------------------------------------------------------------

    /// Bytes waiting to be written to the transport, in order.
    ///
    /// When a frame was sent with [`send_unbuffered`](Self::send_unbuffered), this stops where
    /// its payload goes; once written up to there, [`payload_due`](Self::payload_due) is
    /// non-zero until the caller has written the payload.
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.ostart..self.output_end()]
    }

    /// End of the output that may be written before a caller-written payload.
    fn output_end(&self) -> usize {
        self.unbuffered.map_or(self.out.len(), |u| u.at)
    }

    /// Say that the first `n` bytes of [`pending_output`](Self::pending_output) were written.
    /// A count larger than what is pending is clamped to it.
    pub fn advance_output(&mut self, n: usize) {
        self.ostart = (self.ostart + n).min(self.output_end());
        let written = self.ostart;
        if self.ostart == self.out.len() {
            self.out.clear();
        } else if self.ostart >= self.out.len() - self.ostart {
            // Reclaim the written prefix here, where every writer (sends, automatic Pongs,
            // Close echoes) benefits; moving at most as many bytes as were written keeps the
            // cost linear.
            self.out.drain(..self.ostart);
        } else {
            return;
        }
        self.ostart = 0;
        if let Some(u) = &mut self.unbuffered {
            u.at -= written;
        }
    }

    /// How many bytes of the payload given to [`send_unbuffered`](Self::send_unbuffered) are
    /// to be written now: its last `payload_due()` bytes. Zero while
    /// [`pending_output`](Self::pending_output) has bytes to write first, and when no such
    /// payload is outstanding.
    pub fn payload_due(&self) -> usize {
        match self.unbuffered {
            Some(u) if self.ostart == u.at => u.left,
            _ => 0,
        }
    }

    /// Say that `n` bytes of the due unbuffered payload were written (clamped to
    /// [`payload_due`](Self::payload_due)). Once all of it is, the output after it becomes
    /// pending.
    pub fn advance_payload(&mut self, n: usize) {
        let due = self.payload_due();
        if let Some(u) = &mut self.unbuffered {
            u.left -= n.min(due);
            if u.left == 0 {
                self.unbuffered = None;
            }
        }
    }

    /// Whether the transport should be closed once [`pending_output`](Self::pending_output) is
    /// written (and the payload of an unbuffered frame, while [`payload_due`](Self::payload_due)
    /// says one is due, with the output after it). True after a failure (handshake refused, protocol error, transport EOF) in
    /// either role, and after a completed closing handshake on a server; a client waits for the
    /// server to close the TCP connection first (§7.1.1), i.e. for EOF.
    pub fn should_close_transport(&self) -> bool {
        self.state == State::Closed && (self.failed || self.eof || self.role == Role::Server)
    }
}

/// Record a failure (§7.1.7): queue a Close with the error's code unless one was sent, and
/// close. It takes the fields it changes one by one, apart from the receive buffers, so that a
/// failure found while a payload is borrowed from them can still be recorded.
fn record_failure(
    out: &mut Vec<u8>,
    masks: &mut Option<Box<dyn MaskSource>>,
    close_sent: &mut bool,
    state: &mut State,
    failed: &mut bool,
    e: ProtocolError,
) {
    if !*close_sent {
        let mut payload = [0u8; 2 + MAX_CLOSE_REASON];
        let n = close_payload(&mut payload, e.close_code(), e.reason());
        let mask = masks.as_mut().map(|m| m.next_mask());
        frame::write_frame(out, true, 0, OpCode::Close, mask, &payload[..n]);
        *close_sent = true;
    }
    *state = state.apply(Transition::Failed);
    *failed = true;
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

/// The pending-event bookkeeping guarantees the borrowed value exists; should that ever be
/// wrong, report an abnormal close rather than panic.
fn unreachable_event<'a>() -> Event<'a> {
    debug_assert!(false, "pending event without its data");
    Event::Close {
        code: close::ABNORMAL,
        reason: "",
    }
}
