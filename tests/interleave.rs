//! Random interleavings of every input a connection takes, in both roles, against the
//! lifecycle's invariants.
//!
//! One machine is driven by a scripted peer: its bytes (handshake heads, frames of every
//! opcode, fragmented messages, broken frames, garbage) queue up on a wire and reach the
//! machine in pieces of random size, through `receive` or through `receive_buffer` and
//! `commit_received`. Between them come EOF, reports of the time (the same instant again, small
//! steps, jumps past every deadline), polls (the application reacting to what it is told) and
//! application calls at any moment, the wrong ones included. Every timer is on and short.
//!
//! What must hold whatever the order:
//!
//! * nothing panics (the tests run the debug build, whose internal assertions are on);
//! * `state()` only moves forward: Connecting → Open → Closing → Closed, skipping allowed;
//! * `should_close_transport()`, once true, stays true;
//! * events come in a legal order:
//!   - `HandshakeRequest` / `HttpRequest`: a server's, at most one, and only as the first event;
//!   - `Open` at most once, on a server only after `HandshakeRequest` and a successful `accept`;
//!   - `Text`, `Binary`, `Data`, `Ping`, `Pong`, `ProtocolError` and a `Close` other than 1006
//!     only after `Open`; `HandshakeFailed` and `Rejected` only before it (`Close { 1006 }`
//!     may come either way: EOF ends a handshake too);
//!   - the terminal events are `HandshakeFailed`, `Rejected`, `Close` and `ProtocolError`: at
//!     most one per connection, reported only once `state()` is `Closed`, and followed by no
//!     other event;
//! * once every event is polled: a connection that reached `Open` has reported `Open`, a
//!   `Closed` one has reported its terminal event — unless a server ended it itself with
//!   `reject` / `respond`, which report nothing — and a server whose request completed
//!   (`handshake_request()` returned it) has reported `HandshakeRequest` / `HttpRequest`,
//!   whatever happened between the read and the poll;
//! * events are reported in the order their causes happened, so bytes already read are not
//!   erased by a deadline reported afterwards (as they are not by EOF, whose events for bytes
//!   already received are still delivered): when the peer's Close was read while the
//!   connection could receive, with only well-formed frames before it, the connection ends with
//!   `Close` and that Close's code;
//! * an application call that returns a `UsageError` changes nothing: the pending output, the
//!   state, `should_close_transport()` and `poll_timeout()` are as before;
//! * once `state()` is `Closed`, every application call is a `UsageError` (`accept`, `reject`
//!   and `respond` included: a closed connection has no handshake left to answer);
//! * after EOF and reports of the time past every deadline, the connection is `Closed`, asks for
//!   the transport to be closed, and has reported exactly one terminal event (none after its
//!   own `reject` / `respond`).
//!
//! The plain tests after the property are failures it found in an earlier version of the
//! machine, shrunk and written out by hand.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wsmachine::__private::rng::FixedMasks;
use wsmachine::handshake::{Accept, ClientRequest, Response, ServerPolicy};
use wsmachine::{Config, Connection, Delivery, MessageKind, Role, State, UsageError};

// ----- the peer's bytes ---------------------------------------------------------------------

fn client_request() -> ClientRequest {
    ClientRequest::new("example.com", "/chat").key(*b"0123456789abcdef")
}

/// The client's upgrade request.
fn upgrade_request() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        take_output(&mut Connection::client(
            &client_request(),
            Config::default(),
        ))
    })
}

/// A valid 101 for [`client_request`], as a server machine writes it.
fn response_101() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut s = Connection::server(Config::default());
        s.receive(upgrade_request());
        assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
        s.accept(Accept::new()).unwrap();
        assert_eq!(drain(&mut s), vec![Ev::Open]);
        take_output(&mut s)
    })
}

/// The heads a peer may open with: index 0 is the valid one for the machine's role.
fn head(role: Role, which: u8) -> Vec<u8> {
    match (role, which % 4) {
        (Role::Server, 0) => upgrade_request().to_vec(),
        (Role::Server, 1) => b"GET /page HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
        (Role::Server, 2) => {
            // HTTP/1.0: refused with 400.
            let mut r = upgrade_request().to_vec();
            let at = r.iter().position(|&b| b == b'\r').unwrap();
            r[at - 1] = b'0';
            r
        }
        (Role::Client, 0) => response_101().to_vec(),
        (Role::Client, 1) => {
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 5\r\n\r\nmoved".to_vec()
        }
        (Role::Client, 2) => b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
            .to_vec(),
        _ => b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n".to_vec(),
    }
}

/// Encode a frame; `mask` only when the receiver expects one (a server), unless `wrong_mask`.
fn frame(role: Role, f: &RawFrame) -> Vec<u8> {
    let masked = (role == Role::Server) != f.wrong_mask;
    let mut v = vec![(u8::from(f.fin) << 7) | f.rsv | (f.opcode & 0x0f)];
    let m = if masked { 0x80 } else { 0 };
    let len = f.payload.len();
    if len < 126 {
        v.push(m | len as u8);
    } else if len <= 0xffff {
        v.push(m | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        v.push(m | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        v.extend_from_slice(&key);
        v.extend(f.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        v.extend_from_slice(&f.payload);
    }
    v
}

#[derive(Debug, Clone)]
struct RawFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
    wrong_mask: bool,
}

/// Something the peer sends.
#[derive(Debug, Clone)]
enum Piece {
    /// An HTTP head (see [`head`]).
    Head(u8),
    /// One well-formed frame.
    Frame(RawFrame),
    /// One frame that breaks the protocol.
    Broken(RawFrame),
    /// A well-formed fragmented message, with a Ping between its first two fragments.
    Fragmented {
        text: bool,
        parts: Vec<String>,
        ping_inside: bool,
    },
    /// Bytes of no meaning.
    Garbage(Vec<u8>),
}

impl Piece {
    fn bytes(&self, role: Role) -> Vec<u8> {
        match self {
            Piece::Head(w) => head(role, *w),
            Piece::Frame(f) | Piece::Broken(f) => frame(role, f),
            Piece::Fragmented {
                text,
                parts,
                ping_inside,
            } => {
                let mut v = Vec::new();
                for (i, p) in parts.iter().enumerate() {
                    let opcode = match (i, text) {
                        (0, true) => 1,
                        (0, false) => 2,
                        _ => 0,
                    };
                    v.extend(frame(
                        role,
                        &RawFrame {
                            fin: i + 1 == parts.len(),
                            rsv: 0,
                            opcode,
                            payload: p.clone().into_bytes(),
                            wrong_mask: false,
                        },
                    ));
                    if i == 0 && *ping_inside {
                        v.extend(frame(
                            role,
                            &RawFrame {
                                fin: true,
                                rsv: 0,
                                opcode: 9,
                                payload: b"in".to_vec(),
                                wrong_mask: false,
                            },
                        ));
                    }
                }
                v
            }
            Piece::Garbage(g) => g.clone(),
        }
    }
}

/// A Close payload the peer may send: a sendable code with a reason, or none.
fn valid_close_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (prop::sample::select(vec![1000u16, 1001, 1008, 3000, 4999]), "[a-z ]{0,12}")
            .prop_map(|(code, reason)| {
                let mut v = code.to_be_bytes().to_vec();
                v.extend_from_slice(reason.as_bytes());
                v
            }),
        1 => Just(Vec::new()),
    ]
}

fn valid_frame(opcode: u8, payload: Vec<u8>) -> RawFrame {
    RawFrame {
        fin: true,
        rsv: 0,
        opcode,
        payload,
        wrong_mask: false,
    }
}

/// A well-formed frame: a whole text or binary message, a Ping or a Pong.
fn good_frame() -> impl Strategy<Value = RawFrame> {
    prop_oneof![
        3 => "\\PC{0,24}".prop_map(|t| valid_frame(1, t.into_bytes())),
        2 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| valid_frame(2, b)),
        2 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| valid_frame(9, b)),
        1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| valid_frame(10, b)),
    ]
}

/// A frame that breaks RFC 6455 in one way.
fn bad_frame() -> impl Strategy<Value = RawFrame> {
    prop_oneof![
        // A continuation with no message in progress.
        Just(valid_frame(0, b"x".to_vec())),
        // Reserved opcodes.
        prop::sample::select(vec![3u8, 7, 0xb, 0xf]).prop_map(|op| valid_frame(op, Vec::new())),
        // An RSV bit no extension claims.
        Just(RawFrame {
            rsv: 0x40,
            ..valid_frame(2, b"r".to_vec())
        }),
        // Masked the wrong way for the receiver.
        Just(RawFrame {
            wrong_mask: true,
            ..valid_frame(2, b"m".to_vec())
        }),
        // Invalid UTF-8 in a text message.
        Just(valid_frame(1, vec![b'o', b'k', 0xff])),
        // A fragmented Ping; a Ping over 125 bytes.
        Just(RawFrame {
            fin: false,
            ..valid_frame(9, Vec::new())
        }),
        Just(valid_frame(9, vec![b'z'; 130])),
        // Close payloads: one byte, a code that may not be sent, a reason not UTF-8.
        prop::sample::select(vec![vec![0x03], vec![0x03, 0xed], vec![0x03, 0xe8, 0xff]])
            .prop_map(|p| valid_frame(8, p)),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        1 => prop_oneof![3 => Just(0u8), 1 => 1u8..4].prop_map(Piece::Head),
        12 => good_frame().prop_map(Piece::Frame),
        2 => valid_close_payload().prop_map(|p| Piece::Frame(valid_frame(8, p))),
        3 => (any::<bool>(), proptest::collection::vec("\\PC{0,8}", 2..4), any::<bool>())
            .prop_map(|(text, parts, ping_inside)| Piece::Fragmented { text, parts, ping_inside }),
        1 => bad_frame().prop_map(Piece::Broken),
        1 => proptest::collection::vec(any::<u8>(), 1..12).prop_map(Piece::Garbage),
    ]
}

// ----- the driver's and the application's moves ----------------------------------------------

/// How far the clock moves before the driver reports it.
#[derive(Debug, Clone, Copy)]
enum Jump {
    /// The same instant again.
    Same,
    /// A few milliseconds to a few seconds.
    By(u64),
    /// Past every deadline.
    Far,
}

/// An application call.
#[derive(Debug, Clone)]
enum Call {
    Accept,
    Reject,
    Respond,
    Text(String),
    Binary(Vec<u8>),
    Fragment {
        text: bool,
        data: Vec<u8>,
        fin: bool,
    },
    Ping(Vec<u8>),
    Pong,
    Close(u16, String),
}

/// What the application does with a handshake request it is told about.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Accept,
    Reject,
    Later,
}

#[derive(Debug, Clone)]
enum Op {
    /// The peer sends; the bytes wait on the wire.
    Peer(Piece),
    /// Up to `n` bytes of the wire reach the machine, through `receive` or (`lent`) through
    /// `receive_buffer` and `commit_received`.
    Deliver {
        n: usize,
        lent: bool,
    },
    Eof,
    Time(Jump),
    /// Poll until `None`, reacting to the events.
    Poll {
        answer: Answer,
        echo: bool,
    },
    /// A call at an arbitrary moment.
    App(Call),
    /// Write `n`/255 of the pending output.
    Write(u8),
    /// `release_buffers`, as a driver does when the connection goes idle.
    Release,
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        2 => Just(Call::Accept),
        1 => Just(Call::Reject),
        1 => Just(Call::Respond),
        3 => "\\PC{0,12}".prop_map(Call::Text),
        2 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Call::Binary),
        3 => (
            any::<bool>(),
            prop_oneof![3 => "[a-z]{0,6}".prop_map(String::into_bytes), 1 => Just(vec![0xc3])],
            any::<bool>(),
        )
            .prop_map(|(text, data, fin)| Call::Fragment { text, data, fin }),
        2 => prop_oneof![4 => Just(vec![1u8, 2]), 1 => Just(vec![0u8; 126])].prop_map(Call::Ping),
        1 => Just(Call::Pong),
        3 => (
            prop::sample::select(vec![1000u16, 1001, 3000, 1005, 999]),
            prop_oneof![4 => Just(String::from("bye")), 1 => Just("x".repeat(124))],
        )
            .prop_map(|(code, reason)| Call::Close(code, reason)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => piece().prop_map(Op::Peer),
        8 => (prop_oneof![1 => 1usize..8, 1 => 8usize..64, 4 => Just(usize::MAX)], any::<bool>())
            .prop_map(|(n, lent)| Op::Deliver { n, lent }),
        1 => Just(Op::Eof),
        6 => prop_oneof![
            2 => Just(Jump::Same),
            6 => (1u64..1200).prop_map(Jump::By),
            1 => Just(Jump::Far),
        ]
        .prop_map(Op::Time),
        7 => (
            prop_oneof![6 => Just(Answer::Accept), 1 => Just(Answer::Reject), 1 => Just(Answer::Later)],
            any::<bool>(),
        )
            .prop_map(|(answer, echo)| Op::Poll { answer, echo }),
        5 => call().prop_map(Op::App),
        3 => any::<u8>().prop_map(Op::Write),
        1 => Just(Op::Release),
    ]
}

/// The connection's settings: every timer on and short; some switches vary.
#[derive(Debug, Clone, Copy)]
struct Setup {
    role: Role,
    streaming: bool,
    auto_pong: bool,
    keepalive: bool,
    idle: bool,
    plain_http: bool,
    /// Report the time once before anything else (arms the handshake deadline).
    clock_first: bool,
    /// Put the valid head on the wire first.
    head_first: bool,
    /// Start open, the handshake done elsewhere (`from_upgraded`).
    upgraded: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(
                server,
                streaming,
                auto_pong,
                keepalive,
                idle,
                plain_http,
                clock_first,
                head_first,
                upgraded,
            )| {
                Setup {
                    role: if server { Role::Server } else { Role::Client },
                    streaming,
                    auto_pong,
                    keepalive,
                    idle,
                    plain_http,
                    clock_first,
                    head_first: head_first && !upgraded,
                    upgraded,
                }
            },
        )
}

// ----- the run and its checks ----------------------------------------------------------------

const MS: Duration = Duration::from_millis(1);

fn config(s: &Setup) -> Config {
    let mut c = Config::default()
        .handshake_timeout(Some(3000 * MS))
        .close_timeout(Some(1000 * MS))
        .delivery(if s.streaming {
            Delivery::Streaming
        } else {
            Delivery::Whole
        })
        .auto_pong(s.auto_pong)
        .idle_timeout(s.idle.then_some(4000 * MS));
    if s.keepalive {
        c = c.keepalive(2000 * MS, 1000 * MS);
    }
    c
}

fn machine(s: &Setup) -> Connection {
    let masks = || Box::new(FixedMasks::new(vec![[1, 2, 3, 4], [9, 8, 7, 6]]));
    if s.upgraded {
        let mut c = Connection::from_upgraded(s.role, config(s));
        c.set_mask_source(masks());
        return c;
    }
    match s.role {
        Role::Server if s.plain_http => Connection::server_with_policy(
            config(s),
            Arc::new(ServerPolicy::new().plain_http(true)),
        ),
        Role::Server => Connection::server(config(s)),
        Role::Client => {
            let mut c = Connection::client(&client_request(), config(s));
            c.set_mask_source(masks());
            c
        }
    }
}

fn rank(s: State) -> u8 {
    match s {
        State::Connecting => 0,
        State::Open => 1,
        State::Closing => 2,
        State::Closed => 3,
    }
}

fn is_terminal(ev: &Ev) -> bool {
    matches!(
        ev,
        Ev::HandshakeFailed(_) | Ev::Rejected | Ev::Close(..) | Ev::Error(_)
    )
}

/// Everything observable that a refused call must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    output: Vec<u8>,
    state: State,
    close_transport: bool,
    timeout: Option<Instant>,
}

fn snapshot(c: &Connection) -> Snapshot {
    Snapshot {
        output: c.pending_output().to_vec(),
        state: c.state(),
        close_transport: c.should_close_transport(),
        timeout: c.poll_timeout(),
    }
}

struct Run {
    conn: Connection,
    role: Role,
    now: Instant,
    wire: Vec<u8>,
    events: Vec<Ev>,
    /// The highest state seen so far.
    high: State,
    /// The state was seen `Open` or `Closing`: the handshake completed.
    reached_open: bool,
    close_told: bool,
    accepted: bool,
    /// A server ended the connection itself (`reject` or `respond` succeeded).
    answered: bool,
    eof: bool,
    /// Started open (`from_upgraded`): no handshake events.
    upgraded: bool,
    /// A server's request completed (`handshake_request()` returned it).
    request_complete: bool,
    /// Bytes the peer queued, and how many of them were delivered.
    queued: usize,
    delivered: usize,
    /// Only well-formed frames followed the valid head so far.
    clean: bool,
    /// The first Close the peer queued, while the stream was clean: where it ends, its code.
    first_close: Option<(usize, u16)>,
    /// That Close's last byte reached the machine while it could receive.
    close_read: Option<u16>,
    /// What happened, for failure messages.
    log: Vec<String>,
}

macro_rules! check {
    ($run:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!(
                "{}\n  transcript:\n    {}",
                format!($($fmt)+),
                $run.log.join("\n    ")
            )));
        }
    };
}

impl Run {
    fn new(s: &Setup) -> Run {
        Run {
            conn: machine(s),
            role: s.role,
            now: Instant::now(),
            wire: Vec::new(),
            events: Vec::new(),
            high: State::Connecting,
            reached_open: false,
            close_told: false,
            accepted: false,
            answered: false,
            eof: false,
            upgraded: s.upgraded,
            request_complete: false,
            queued: 0,
            delivered: 0,
            clean: true,
            first_close: None,
            close_read: None,
            log: Vec::new(),
        }
    }

    /// The checks that hold after any call.
    fn after_any(&mut self) -> Result<(), TestCaseError> {
        let state = self.conn.state();
        check!(
            self,
            rank(state) >= rank(self.high),
            "state went back from {:?} to {state:?}",
            self.high
        );
        self.high = state;
        self.reached_open |= matches!(state, State::Open | State::Closing);
        let told = self.conn.should_close_transport();
        check!(
            self,
            told || !self.close_told,
            "should_close_transport went back to false"
        );
        self.close_told = told;
        self.request_complete |= self.conn.handshake_request().is_some();
        Ok(())
    }

    fn deliver(&mut self, n: usize, lent: bool) -> Result<(), TestCaseError> {
        let n = n.min(self.wire.len());
        if n == 0 {
            return Ok(());
        }
        let piece: Vec<u8> = self.wire.drain(..n).collect();
        self.log.push(format!(
            "deliver {n} bytes via {}",
            if lent { "receive_buffer" } else { "receive" }
        ));
        let taken = !self.eof && self.conn.state() != State::Closed;
        if lent {
            let buf = self.conn.receive_buffer(n);
            buf[..n].copy_from_slice(&piece);
            self.conn.commit_received(n);
        } else {
            self.conn.receive(&piece);
        }
        let from = self.delivered;
        self.delivered += n;
        if taken
            && matches!(self.conn.state(), State::Open | State::Closing)
            && let Some((end, code)) = self.first_close
            && from < end
            && end <= self.delivered
        {
            self.log.push(format!("(the peer's Close {code} is read)"));
            self.close_read = Some(code);
        }
        self.after_any()
    }

    fn time(&mut self, jump: Jump) -> Result<(), TestCaseError> {
        self.now += match jump {
            Jump::Same => Duration::ZERO,
            Jump::By(ms) => Duration::from_millis(ms),
            Jump::Far => Duration::from_secs(3600),
        };
        self.log.push(format!("handle_timeout after {jump:?}"));
        self.conn.handle_timeout(self.now);
        self.after_any()
    }

    /// The order rules for one more event.
    fn on_event(&mut self, ev: &Ev) -> Result<(), TestCaseError> {
        let state = self.conn.state();
        self.log.push(format!("event {ev:?} (state {state:?})"));
        self.after_any()?;
        let open_before = self.upgraded || self.events.contains(&Ev::Open);
        if let Some(t) = self.events.iter().find(|e| is_terminal(e)) {
            check!(self, false, "{ev:?} after the terminal event {t:?}");
        }
        match ev {
            Ev::HandshakeRequest | Ev::HttpRequest => {
                check!(self, self.role == Role::Server, "{ev:?} on a client");
                check!(self, !self.upgraded, "{ev:?} on an upgraded connection");
                check!(
                    self,
                    self.events.is_empty(),
                    "{ev:?} is not the first event"
                );
            }
            Ev::Open => {
                check!(self, !open_before, "a second Open");
                if self.role == Role::Server {
                    check!(
                        self,
                        self.events.contains(&Ev::HandshakeRequest),
                        "Open before HandshakeRequest"
                    );
                    check!(self, self.accepted, "Open without a successful accept");
                }
            }
            Ev::HandshakeFailed(_) | Ev::Rejected => {
                check!(self, !open_before, "{ev:?} after Open");
                check!(
                    self,
                    *ev != Ev::Rejected || self.role == Role::Client,
                    "Rejected on a server"
                );
            }
            Ev::Close(1006, _) => {}
            _ => check!(self, open_before, "{ev:?} before Open"),
        }
        if is_terminal(ev) {
            check!(
                self,
                state == State::Closed,
                "terminal event {ev:?} while the state is {state:?}"
            );
        }
        self.events.push(ev.clone());
        Ok(())
    }

    /// Poll until `None`, reacting like an application; then the checks on a drained machine.
    fn poll(&mut self, answer: Answer, echo: bool) -> Result<(), TestCaseError> {
        while let Some(ev) = self.conn.poll_event().map(owned) {
            self.on_event(&ev)?;
            match (&ev, answer) {
                (Ev::HandshakeRequest, Answer::Accept) => self.call(&Call::Accept)?,
                (Ev::HandshakeRequest, Answer::Reject) => self.call(&Call::Reject)?,
                (Ev::HttpRequest, Answer::Accept | Answer::Reject) => self.call(&Call::Respond)?,
                (Ev::Text(t), _) if echo => self.call(&Call::Text(t.clone()))?,
                (Ev::Binary(b), _) if echo => self.call(&Call::Binary(b.clone()))?,
                _ => {}
            }
        }
        self.log.push("poll: None".into());
        let state = self.conn.state();
        if self.reached_open && !self.upgraded {
            check!(
                self,
                self.events.contains(&Ev::Open),
                "the connection was {:?} and has not reported Open",
                State::Open
            );
        }
        if self.request_complete {
            check!(
                self,
                self.events
                    .iter()
                    .any(|e| matches!(e, Ev::HandshakeRequest | Ev::HttpRequest)),
                "the request completed and was never reported"
            );
        }
        if state == State::Closed && !self.answered {
            check!(
                self,
                self.events.iter().any(is_terminal),
                "Closed with every event polled, and no terminal event reported"
            );
        }
        Ok(())
    }

    fn call(&mut self, call: &Call) -> Result<(), TestCaseError> {
        let before = snapshot(&self.conn);
        let c = &mut self.conn;
        let result: Result<(), UsageError> = match call {
            Call::Accept => c.accept(Accept::new()),
            Call::Reject => c.reject(Response::new(403)),
            Call::Respond => c.respond(Response::new(200).body(&b"hello"[..])),
            Call::Text(t) => c.send_text(t),
            Call::Binary(b) => c.send_binary(b),
            Call::Fragment { text, data, fin } => {
                let kind = if *text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                c.send_fragment(kind, data, *fin)
            }
            Call::Ping(p) => c.send_ping(p),
            Call::Pong => c.send_pong(b"p"),
            Call::Close(code, reason) => c.close(*code, reason),
        };
        self.log.push(format!("{call:?} -> {result:?}"));
        match result {
            Ok(()) => {
                check!(
                    self,
                    before.state != State::Closed,
                    "{call:?} succeeded on a Closed connection"
                );
                match call {
                    Call::Accept => self.accepted = true,
                    Call::Reject | Call::Respond => self.answered = true,
                    _ => {}
                }
            }
            Err(e) => {
                let after = snapshot(&self.conn);
                check!(
                    self,
                    after == before,
                    "{call:?} failed with {e:?} but changed the machine: {before:?} -> {after:?}"
                );
            }
        }
        self.after_any()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Peer(p) => {
                let bytes = p.bytes(self.role);
                self.log
                    .push(format!("peer queues {} bytes: {p:?}", bytes.len()));
                self.clean &= match p {
                    Piece::Head(w) => !self.upgraded && *w == 0 && self.queued == 0,
                    Piece::Frame(_) | Piece::Fragmented { .. } => true,
                    Piece::Broken(_) | Piece::Garbage(_) => false,
                };
                if let Piece::Frame(f) = p
                    && f.opcode == 8
                    && self.clean
                    && self.first_close.is_none()
                {
                    let code = match f.payload[..] {
                        [a, b, ..] => u16::from_be_bytes([a, b]),
                        _ => 1005,
                    };
                    self.first_close = Some((self.queued + bytes.len(), code));
                }
                self.queued += bytes.len();
                self.wire.extend(bytes);
                Ok(())
            }
            Op::Deliver { n, lent } => self.deliver(*n, *lent),
            Op::Eof => {
                self.log.push("receive_eof".into());
                self.eof = true;
                self.conn.receive_eof();
                self.after_any()
            }
            Op::Time(j) => self.time(*j),
            Op::Poll { answer, echo } => self.poll(*answer, *echo),
            Op::App(c) => self.call(c),
            Op::Write(f) => {
                let len = self.conn.pending_output().len();
                let n = len * usize::from(*f) / 255;
                self.log.push(format!("write {n} of {len} output bytes"));
                self.conn.advance_output(n);
                self.after_any()
            }
            Op::Release => {
                self.log.push("release_buffers".into());
                self.conn.release_buffers();
                self.after_any()
            }
        }
    }

    /// The transport ends and time runs out: the connection must end, exactly once.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        self.poll(Answer::Later, false)?;
        self.deliver(usize::MAX, false)?;
        self.poll(Answer::Later, false)?;
        self.log.push("receive_eof".into());
        self.eof = true;
        self.conn.receive_eof();
        self.after_any()?;
        for _ in 0..4 {
            self.poll(Answer::Later, false)?;
            self.time(Jump::Far)?;
            let n = self.conn.pending_output().len();
            self.conn.advance_output(n);
        }
        self.poll(Answer::Later, false)?;
        check!(
            self,
            self.conn.state() == State::Closed,
            "after EOF and every deadline the state is {:?}",
            self.conn.state()
        );
        check!(
            self,
            self.conn.should_close_transport(),
            "after EOF and every deadline the transport is not to be closed"
        );
        let terminals = self.events.iter().filter(|e| is_terminal(e)).count();
        let expected = usize::from(!self.answered);
        check!(
            self,
            terminals == expected,
            "{terminals} terminal events, expected {expected}"
        );
        if let Some(code) = self.close_read {
            let terminal = self.events.iter().find(|e| is_terminal(e));
            check!(
                self,
                matches!(terminal, Some(Ev::Close(c, _)) if *c == code),
                "the peer's Close {code} was read, but the connection ended with {terminal:?}"
            );
        }
        Ok(())
    }
}

fn run(setup: &Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut r = Run::new(setup);
    r.log.push(format!("{setup:?}"));
    if setup.clock_first {
        r.time(Jump::Same)?;
    }
    if setup.head_first {
        r.apply(&Op::Peer(Piece::Head(0)))?;
    }
    for op in ops {
        r.apply(op)?;
    }
    r.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_interleaving_keeps_the_lifecycle_consistent(
        setup in setup(),
        ops in proptest::collection::vec(op(), 0..64),
    ) {
        run(&setup, &ops)?;
    }
}

// ----- failures the property found in an earlier machine, shrunk ----------------------------

/// The property's configuration with every switch on.
fn all_timers() -> Config {
    config(&Setup {
        role: Role::Server,
        streaming: false,
        auto_pong: true,
        keepalive: true,
        idle: true,
        plain_http: false,
        clock_first: true,
        head_first: true,
        upgraded: false,
    })
}

/// Shrunk: the request arrives and the application accepts it before polling — the request is
/// in hand through `handshake_request()`. The machine reported neither; the poll then looked
/// for the request in a handshake that `accept` had already finished: a debug assertion in
/// debug builds, and a spurious `Close { code: 1006 }` in release.
///
/// The application answers a request it was told about: before the event, `accept` and
/// `reject` are usage errors that change nothing; after it, they work.
#[test]
fn answering_before_the_request_is_polled_is_refused() {
    let mut s = Connection::server(Config::default());
    s.receive(upgrade_request());
    assert_eq!(s.accept(Accept::new()), Err(UsageError::WrongHandshakeStep));
    assert_eq!(
        s.reject(Response::new(403)),
        Err(UsageError::WrongHandshakeStep)
    );
    assert!(s.pending_output().is_empty());
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 101 "));
    assert_eq!(s.state(), State::Open);
}

/// Shrunk: the request, then reports of the time up to the 3 s handshake deadline, with no
/// poll in between. `handle_timeout` failed the handshake (408) while `HandshakeRequest` was
/// still to be reported, and dropped the request it refers to: two terminal events in
/// release, the first one false.
///
/// The head was read before the deadline, which bounds only the reading: the request is
/// reported and accepted (see `tests/lifecycle.rs`).
#[test]
fn request_then_handshake_deadline_before_poll() {
    let t0 = Instant::now();
    let mut s = Connection::server(all_timers());
    s.receive(upgrade_request());
    s.handle_timeout(t0);
    s.handle_timeout(t0 + 3000 * MS);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 101 "));
}

/// Shrunk: the request, then EOF, then a poll whose application accepts the request it is
/// told about. EOF failed the connection but left the handshake waiting for the decision, so
/// `accept` succeeded on the closed connection: a 101 queued for a transport that has ended,
/// and `Open` reported after `Close { code: 1006 }`.
///
/// EOF ends the handshake: the request is still reported (it arrived first), then the
/// abnormal end; answering it in between or afterwards is a usage error that queues nothing.
#[test]
fn request_then_eof_then_accept_on_the_closed_connection_is_refused() {
    let mut s = Connection::server(all_timers());
    s.receive(upgrade_request());
    s.receive_eof();
    assert_eq!(s.poll_event().map(owned), Some(Ev::HandshakeRequest));
    assert!(s.accept(Accept::new()).is_err());
    assert!(s.pending_output().is_empty());
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.accept(Accept::new()).is_err());
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
}

/// The same when the application had already been told about the request and the transport
/// ends while it decides.
#[test]
fn eof_while_the_application_decides_ends_the_handshake() {
    let mut s = Connection::server(all_timers());
    s.receive(upgrade_request());
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.receive_eof();
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.accept(Accept::new()).is_err());
    assert!(s.respond(Response::new(200)).is_err());
    assert!(s.pending_output().is_empty());
    assert_eq!(drain(&mut s), vec![]);
}

/// Shrunk: a client opens; the idle timeout starts the closing handshake (1001); the server's
/// Close arrives, and the time reported next is past the 1 s close deadline. The deadline
/// failed the connection without looking at the bytes already read: `Close { code: 1006 }`,
/// and the peer's Close (1000), which did arrive, is never reported.
///
/// Bytes read before the deadline was reported are reported first: the peer's Close completes
/// the closing handshake and is the terminal event.
#[test]
fn close_read_before_the_close_deadline_is_reported_instead_of_1006() {
    let t0 = Instant::now();
    let mut c = Connection::client(&client_request(), all_timers());
    take_output(&mut c);
    c.receive(response_101());
    c.handle_timeout(t0);
    c.handle_timeout(t0 + Duration::from_secs(3600));
    assert_eq!(c.state(), State::Closing);
    c.receive(&[0x88, 0x02, 0x03, 0xe8]);
    c.handle_timeout(t0 + Duration::from_secs(3601));
    assert_eq!(
        drain(&mut c),
        vec![Ev::Open, Ev::Close(1000, String::new())]
    );
}

/// The keep-alive deadline does the same: the server's Close arrives with the 101 and the
/// driver reports the time twice before polling (the Ping goes out, then its deadline passes).
/// The Close arrived before the Ping was even sent, yet the connection ends with
/// `Close { code: 1006 }` and the Close is never reported.
#[test]
fn close_read_before_the_keepalive_deadline_is_reported_instead_of_1006() {
    let t0 = Instant::now();
    let mut c = Connection::client(&client_request(), all_timers());
    take_output(&mut c);
    let mut wire = response_101().to_vec();
    wire.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
    c.receive(&wire);
    c.handle_timeout(t0);
    c.handle_timeout(t0 + 2000 * MS);
    c.handle_timeout(t0 + 3000 * MS);
    assert_eq!(
        drain(&mut c),
        vec![Ev::Open, Ev::Close(1000, String::new())]
    );
}

/// Behind the debug assertion of the first case: the machine kept two undelivered
/// state-change events, and a third overwrote the second. The request's event comes from the
/// deciding phase now, the Open from a flag and the ending from its own slot: after the
/// request, an accept, a close and its deadline, both remaining events are reported, in order.
#[test]
fn accept_close_and_close_deadline_before_poll_report_every_event() {
    let t0 = Instant::now();
    let mut s = Connection::server(all_timers());
    s.receive(upgrade_request());
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    s.close(1000, "").unwrap();
    s.handle_timeout(t0);
    s.handle_timeout(t0 + 1000 * MS);
    assert_eq!(
        drain(&mut s),
        vec![Ev::Open, Ev::Close(1006, String::new())]
    );
    assert!(s.should_close_transport());
}
