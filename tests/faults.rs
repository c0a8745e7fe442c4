//! A client and a server machine talking through a faulty transport.
//!
//! The transport is a pair of byte streams, one each way, driven like non-blocking sockets:
//! a write takes some of the pending output (one byte, a short count, or none: `WouldBlock`),
//! a read hands over some of the bytes in flight (one byte, a short count, or none), through
//! `receive` or through `receive_buffer` and `commit_received`. Each conversation is a
//! handshake, then a few messages each way (text, binary with a 16-bit length, a fragmented
//! text, pings answered by the machines) and a close started by one side, the client or the
//! server; each conversation runs plain and with permessage-deflate (every message
//! compressed).
//!
//! Faults end the transport after exactly `at` bytes went one way, for every `at` from 0 to
//! the length of that way's whole conversation: an EOF (each side still reads what was sent
//! before, then end of stream) or a reset (bytes not yet read are lost; each side's next read
//! fails, which the application reports to its machine as the end of the input). Afterwards
//! writes fail. Whatever the fault and the schedule:
//!
//! * nothing panics (debug build: the machines' internal assertions are on);
//! * each side's events are exactly those the bytes it received call for: every message and
//!   control frame whose last byte it received is delivered once, intact and in order, and
//!   nothing else; `HandshakeRequest`/`Open` once the head is in;
//! * the connection ends with exactly one terminal event, the last: `Close` with the peer's
//!   code and reason when the peer's Close frame was received, `Close` with 1006 otherwise
//!   (the transport ended without one), and both sides then ask for the transport to close;
//! * nothing queued is lost: what went on the wire, followed by what is still pending, holds
//!   every message the application sent, in order (byte for byte where not compressed); with
//!   no fault the conversation completes.
//!
//! The test reads the wire itself (frames, fragments, control frames) rather than through a
//! machine; a compressed message's content is checked where it is delivered.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use common::*;
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Event, MessageKind, Role};

// ----- the conversation ---------------------------------------------------------------------

/// A data message as the application sent it and as the peer must receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

/// What each side sends once its connection is open; the side that closes then sends a
/// Close (the client with 1000, the server with 1001).
fn client_script(conn: &mut Connection, sent: &mut Vec<Msg>, closes: bool) {
    if conn.send_text("hello").is_ok() {
        sent.push(Msg::Text("hello".into()));
    }
    let blob: Vec<u8> = (0..200u8).collect();
    if conn.send_binary(&blob).is_ok() {
        sent.push(Msg::Binary(blob));
    }
    let _ = conn.send_ping(b"c-ping");
    if conn
        .send_fragment(MessageKind::Text, b"frag", false)
        .is_ok()
        && conn.send_fragment(MessageKind::Text, b"ment", true).is_ok()
    {
        sent.push(Msg::Text("fragment".into()));
    }
    if closes {
        let _ = conn.close(1000, "bye");
    }
}

fn server_script(conn: &mut Connection, sent: &mut Vec<Msg>, closes: bool) {
    if conn.send_text("welcome").is_ok() {
        sent.push(Msg::Text("welcome".into()));
    }
    let blob = vec![0xA5; 130];
    if conn.send_binary(&blob).is_ok() {
        sent.push(Msg::Binary(blob));
    }
    let _ = conn.send_ping(b"s-ping");
    if closes {
        let _ = conn.close(1001, "going away");
    }
}

// ----- the wire, read back independently of the machines ------------------------------------

/// A frame on the wire: where it ends in its stream, its opcode, FIN and unmasked payload.
#[derive(Debug)]
struct WireFrame {
    end: usize,
    opcode: u8,
    fin: bool,
    /// RSV1: a compressed message's first frame (permessage-deflate).
    compressed: bool,
    payload: Vec<u8>,
}

/// The length of the HTTP head at the start of `wire`, once complete.
fn head_len(wire: &[u8]) -> Option<usize> {
    wire.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// The complete frames of `wire[from..]`, with their end offsets in `wire`.
fn frames(wire: &[u8], from: usize) -> Vec<WireFrame> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let rest = &wire[at..];
        if rest.len() < 2 {
            return out;
        }
        let masked = rest[1] & 0x80 != 0;
        let (len, mut pos) = match rest[1] & 0x7f {
            126 if rest.len() >= 4 => (usize::from(u16::from_be_bytes([rest[2], rest[3]])), 4),
            127 if rest.len() >= 10 => {
                let n = u64::from_be_bytes(rest[2..10].try_into().unwrap());
                (usize::try_from(n).unwrap(), 10)
            }
            126 | 127 => return out,
            n => (usize::from(n), 2),
        };
        let key = if masked {
            let Some(k) = rest.get(pos..pos + 4) else {
                return out;
            };
            pos += 4;
            [k[0], k[1], k[2], k[3]]
        } else {
            [0; 4]
        };
        let Some(payload) = rest.get(pos..pos + len) else {
            return out;
        };
        let payload = payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        at += pos + len;
        out.push(WireFrame {
            end: at,
            opcode: rest[0] & 0x0f,
            fin: rest[0] & 0x80 != 0,
            compressed: rest[0] & 0x40 != 0,
            payload,
        });
    }
}

/// What a frame or message on the wire is to its receiver.
#[derive(Debug)]
enum WireEv {
    /// The sender's `n`th data message (fragments joined), as it went on the wire: its
    /// payload is compressed when `compressed`.
    Data {
        n: usize,
        text: bool,
        compressed: bool,
        payload: Vec<u8>,
    },
    /// A control frame: Ping, Pong or Close.
    Control(Ev),
}

/// What the frames of a stream are, to its receiver: data messages, pings, pongs and a Close,
/// each with the offset where its last byte ends.
fn wire_events(wire: &[u8]) -> Vec<(usize, WireEv)> {
    let Some(head) = head_len(wire) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut messages = 0;
    let mut partial: Option<(u8, bool, Vec<u8>)> = None;
    for f in frames(wire, head) {
        let ev = match f.opcode {
            0x0..=0x2 => {
                let (kind, compressed, mut data) =
                    partial
                        .take()
                        .unwrap_or((f.opcode, f.compressed, Vec::new()));
                data.extend_from_slice(&f.payload);
                if !f.fin {
                    partial = Some((kind, compressed, data));
                    continue;
                }
                messages += 1;
                WireEv::Data {
                    n: messages - 1,
                    text: kind == 0x1,
                    compressed,
                    payload: data,
                }
            }
            0x9 => WireEv::Control(Ev::Ping(f.payload)),
            0xA => WireEv::Control(Ev::Pong(f.payload)),
            0x8 => WireEv::Control(match f.payload.as_slice() {
                [] => Ev::Close(1005, String::new()),
                [a, b, reason @ ..] => Ev::Close(
                    u16::from_be_bytes([*a, *b]),
                    String::from_utf8(reason.to_vec()).expect("close reason"),
                ),
                _ => panic!("one-byte close payload on the wire"),
            }),
            op => panic!("opcode {op} on the wire"),
        };
        let close = matches!(ev, WireEv::Control(Ev::Close(..)));
        out.push((f.end, ev));
        if close {
            break;
        }
    }
    out
}

/// The data messages of a stream, in order, as (text, compressed, payload on the wire).
fn wire_messages(wire: &[u8]) -> Vec<(bool, bool, Vec<u8>)> {
    wire_events(wire)
        .into_iter()
        .filter_map(|(_, ev)| match ev {
            WireEv::Data {
                text,
                compressed,
                payload,
                ..
            } => Some((text, compressed, payload)),
            WireEv::Control(_) => None,
        })
        .collect()
}

impl Msg {
    fn is_text(&self) -> bool {
        matches!(self, Msg::Text(_))
    }
    fn bytes(&self) -> &[u8] {
        match self {
            Msg::Text(t) => t.as_bytes(),
            Msg::Binary(b) => b,
        }
    }
    fn event(&self) -> Ev {
        match self {
            Msg::Text(t) => Ev::Text(t.clone()),
            Msg::Binary(b) => Ev::Binary(b.clone()),
        }
    }
}

// ----- the transport ------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so that every schedule can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// How reads and writes move bytes.
#[derive(Debug, Clone, Copy)]
enum Io {
    /// One byte per read and per write.
    Bytewise,
    /// Random counts, `WouldBlock` one time in four; reads through the lent buffer at random.
    Random(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    Reset,
}

/// The transport ends right after `at` bytes went `dir`.
#[derive(Debug, Clone, Copy)]
struct Fault {
    dir: Dir,
    at: usize,
    kind: Kind,
}

/// How a stream ended, as its reader will find out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// After the bytes in flight: end of stream.
    Eof,
    /// Now: the next read fails.
    Reset,
}

/// One way of the transport.
#[derive(Default)]
struct Stream {
    /// Every byte the writer got onto the wire.
    wire: Vec<u8>,
    /// How many of them the reader took.
    read: usize,
    /// Bytes in flight at a reset, lost: the reader gets none past `wire.len() - lost`.
    lost: usize,
    end: Option<End>,
}

impl Stream {
    fn readable(&self) -> usize {
        self.wire.len() - self.lost - self.read
    }
}

/// One endpoint: its machine, what its application saw and sent, and where it is.
struct Side {
    conn: Connection,
    /// This side starts the closing handshake.
    closes: bool,
    events: Vec<Ev>,
    sent: Vec<Msg>,
    /// Bytes handed to the machine.
    fed: usize,
    /// The end of input was reported to the machine.
    eof_fed: bool,
    /// The application closed the transport (when the machine said so).
    closed: bool,
}

impl Side {
    fn new(conn: Connection, closer: Role) -> Self {
        Side {
            closes: conn.role() == closer,
            conn,
            events: Vec::new(),
            sent: Vec::new(),
            fed: 0,
            eof_fed: false,
            closed: false,
        }
    }

    /// Poll every event, reacting as an application does.
    fn poll(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            let react = match &ev {
                Event::HandshakeRequest(_) => 1,
                Event::Open(_) => 2,
                _ => 0,
            };
            self.events.push(owned(ev));
            match (react, self.conn.role()) {
                // The request may arrive with the end of input already reported: then there
                // is no handshake left to answer.
                (1, _) => {
                    let _ = self.conn.accept(Accept::new());
                }
                (2, Role::Client) => client_script(&mut self.conn, &mut self.sent, self.closes),
                (2, Role::Server) => server_script(&mut self.conn, &mut self.sent, self.closes),
                _ => {}
            }
        }
    }
}

/// The machines' configuration: the default, or with permessage-deflate offered and accepted
/// and every message compressed.
fn config(deflate: bool) -> Config {
    if !deflate {
        return Config::default();
    }
    #[cfg(feature = "deflate")]
    return Config::default().deflate(Some(
        wsmachine::deflate::DeflateConfig::default().threshold(0),
    ));
    #[cfg(not(feature = "deflate"))]
    unreachable!("permessage-deflate needs the feature");
}

/// Whether to run with permessage-deflate too: with the feature.
const DEFLATE: &[bool] = if cfg!(feature = "deflate") {
    &[false, true]
} else {
    &[false]
};

/// Run one conversation; returns the two sides and the two streams (to the server, to the
/// client) once neither side can do anything more.
fn converse(closer: Role, deflate: bool, io: Io, fault: Option<Fault>) -> ([Side; 2], [Stream; 2]) {
    let request = ClientRequest::new("example.com", "/chat").key(*b"0123456789abcdef");
    let config = config(deflate);
    let mut sides = [
        Side::new(Connection::client(&request, config), closer),
        Side::new(Connection::server(config), closer),
    ];
    let mut streams = [Stream::default(), Stream::default()];
    let mut rng = Rng::new(match io {
        Io::Bytewise => 0,
        Io::Random(seed) => seed,
    });
    let mut fired = false;
    let fire = |streams: &mut [Stream; 2], kind: Kind| {
        for s in streams.iter_mut() {
            match kind {
                Kind::Eof => s.end = Some(End::Eof),
                Kind::Reset => {
                    s.lost = s.wire.len() - s.read;
                    s.end = Some(End::Reset);
                }
            }
        }
    };
    if let Some(f) = fault
        && f.at == 0
    {
        fire(&mut streams, f.kind);
        fired = true;
    }

    for step in 0.. {
        assert!(
            step < 1_000_000,
            "the conversation does not end: {io:?} {fault:?}"
        );
        // A side (0 the client, 1 the server) writes to stream `out` or reads from stream
        // `inp` (stream 0 goes to the server, 1 to the client).
        let who = rng.below(2);
        let (out, inp) = if who == 0 { (0, 1) } else { (1, 0) };
        let side = &mut sides[who];
        if side.closed {
            // Its transport is closed: it neither writes nor reads.
        } else if rng.below(2) == 0 {
            // Write.
            let pending = side.conn.pending_output().len();
            if pending > 0 && streams[out].end.is_none() {
                let mut k = match io {
                    Io::Bytewise => 1,
                    Io::Random(_) => match rng.below(4) {
                        0 => 0,
                        _ => 1 + rng.below(pending),
                    },
                };
                let dir = if out == 0 {
                    Dir::ToServer
                } else {
                    Dir::ToClient
                };
                let cut = fault.filter(|f| !fired && f.dir == dir);
                if let Some(f) = cut {
                    k = k.min(f.at - streams[out].wire.len());
                }
                let bytes = &side.conn.pending_output()[..k];
                streams[out].wire.extend_from_slice(bytes);
                side.conn.advance_output(k);
                if let Some(f) = cut
                    && streams[out].wire.len() == f.at
                {
                    fire(&mut streams, f.kind);
                    fired = true;
                }
            }
        } else {
            // Read.
            let s = &mut streams[inp];
            let avail = s.readable();
            if side.eof_fed {
                // The machine was told the input is over.
            } else if avail > 0 {
                let m = match io {
                    Io::Bytewise => 1,
                    Io::Random(_) => match rng.below(4) {
                        0 => 0,
                        _ => 1 + rng.below(avail),
                    },
                };
                let bytes = &s.wire[s.read..s.read + m];
                if matches!(io, Io::Random(_)) && rng.below(2) == 0 {
                    side.conn.receive_buffer(m)[..m].copy_from_slice(bytes);
                    side.conn.commit_received(m);
                } else {
                    side.conn.receive(bytes);
                }
                s.read += m;
                side.fed += m;
                side.poll();
            } else if s.end.is_some() {
                // End of stream, or the error of a reset: either way the input is over.
                side.conn.receive_eof();
                side.eof_fed = true;
                side.poll();
            }
        }
        // The application closes the transport when told, once the output is written or can
        // no longer be.
        let side = &mut sides[who];
        if !side.closed
            && side.conn.should_close_transport()
            && (side.conn.pending_output().is_empty() || streams[out].end.is_some())
        {
            side.closed = true;
            streams[out].end.get_or_insert(End::Eof);
        }
        // Done when neither side can move.
        let stuck = |i: usize, out: usize, inp: usize| {
            let side = &sides[i];
            side.closed
                || ((side.conn.pending_output().is_empty() || streams[out].end.is_some())
                    && (side.eof_fed
                        || (streams[inp].readable() == 0 && streams[inp].end.is_none()))
                    && !side.conn.should_close_transport())
        };
        if stuck(0, 0, 1) && stuck(1, 1, 0) {
            break;
        }
    }
    (sides, streams)
}

/// The properties of the module documentation, for one conversation.
fn check(closer: Role, deflate: bool, io: Io, fault: Option<Fault>) {
    let ([client, server], [to_server, to_client]) = converse(closer, deflate, io, fault);
    let ctx = format!("{closer:?} closes, deflate {deflate}, {io:?} {fault:?}");
    for (side, peer, from_peer, to_peer, role) in [
        (&client, &server, &to_client, &to_server, Role::Client),
        (&server, &client, &to_server, &to_client, Role::Server),
    ] {
        // What the bytes it received call for.
        let received = &from_peer.wire[..side.fed];
        let mut want = Vec::new();
        if head_len(received).is_some() {
            if role == Role::Server {
                want.push(Ev::HandshakeRequest);
            }
            want.push(Ev::Open);
        }
        for (end, ev) in wire_events(received) {
            assert!(end <= side.fed);
            want.push(match ev {
                // The peer's `n`th message: what its application sent, which is also what went
                // on the wire unless it was compressed.
                WireEv::Data {
                    n,
                    text,
                    compressed,
                    payload,
                } => {
                    let msg = peer.sent.get(n).expect("a message the peer sent");
                    assert_eq!(text, msg.is_text(), "{ctx}");
                    if !compressed {
                        assert_eq!(payload, msg.bytes(), "{ctx}");
                    }
                    msg.event()
                }
                WireEv::Control(ev) => ev,
            });
        }
        if !matches!(want.last(), Some(Ev::Close(..))) {
            want.push(Ev::Close(1006, String::new()));
        }
        assert_eq!(side.events, want, "{role:?} events, {ctx}");
        assert!(side.conn.should_close_transport(), "{role:?}, {ctx}");

        // Nothing queued is lost: the wire and what is still pending hold every message sent.
        let mut queued = to_peer.wire.clone();
        queued.extend_from_slice(side.conn.pending_output());
        let queued = wire_messages(&queued);
        assert_eq!(queued.len(), side.sent.len(), "{role:?} sent, {ctx}");
        for ((text, compressed, payload), msg) in queued.iter().zip(&side.sent) {
            assert_eq!(*text, msg.is_text(), "{role:?} sent, {ctx}");
            assert!(deflate || !compressed, "{ctx}");
            if !compressed {
                assert_eq!(payload, msg.bytes(), "{role:?} sent, {ctx}");
            }
        }
    }
    if fault.is_none() {
        // With permessage-deflate, messages went compressed both ways.
        for stream in [&to_server, &to_client] {
            let compressed = wire_messages(&stream.wire).iter().any(|m| m.1);
            assert_eq!(compressed, deflate, "{ctx}");
        }
        // Everything arrives: each side gets all the other sent, and the closing handshake
        // completes with the closer's code, echoed.
        assert_eq!(client.sent.len(), 3, "{ctx}");
        assert_eq!(server.sent.len(), 2, "{ctx}");
        let (closer, other, code, reason) = match closer {
            Role::Client => (&client, &server, 1000, "bye"),
            Role::Server => (&server, &client, 1001, "going away"),
        };
        assert_eq!(
            other.events.last(),
            Some(&Ev::Close(code, reason.into())),
            "{ctx}"
        );
        // The echo carries the code and the reason back.
        assert_eq!(
            closer.events.last(),
            Some(&Ev::Close(code, reason.into())),
            "{ctx}"
        );
        for (side, peer) in [(&client, &server), (&server, &client)] {
            let got: Vec<Msg> = side
                .events
                .iter()
                .filter_map(|ev| match ev {
                    Ev::Text(t) => Some(Msg::Text(t.clone())),
                    Ev::Binary(b) => Some(Msg::Binary(b.clone())),
                    _ => None,
                })
                .collect();
            assert_eq!(got, peer.sent, "{ctx}");
        }
        // The side that did not close answered the closer's Ping, sent before its Close.
        let ping = if closer.conn.role() == Role::Client {
            b"c-ping"
        } else {
            b"s-ping"
        };
        assert!(other.events.contains(&Ev::Ping(ping.to_vec())), "{ctx}");
        assert!(closer.events.contains(&Ev::Pong(ping.to_vec())), "{ctx}");
    }
}

/// The conversations: either side starts the closing handshake, with and without
/// permessage-deflate.
fn setups() -> Vec<(Role, bool)> {
    [Role::Client, Role::Server]
        .into_iter()
        .flat_map(|closer| DEFLATE.iter().map(move |&deflate| (closer, deflate)))
        .collect()
}

#[test]
fn without_faults_every_schedule_completes_the_conversation() {
    for (closer, deflate) in setups() {
        check(closer, deflate, Io::Bytewise, None);
        for seed in 1..1000 {
            check(closer, deflate, Io::Random(seed), None);
        }
    }
}

/// The length of each way's whole conversation.
fn stream_lengths(closer: Role, deflate: bool) -> (usize, usize) {
    let (_, [to_server, to_client]) = converse(closer, deflate, Io::Bytewise, None);
    (to_server.wire.len(), to_client.wire.len())
}

#[test]
fn eof_or_reset_after_every_byte_one_byte_at_a_time() {
    for (closer, deflate) in setups() {
        let (to_server, to_client) = stream_lengths(closer, deflate);
        for (dir, len) in [(Dir::ToServer, to_server), (Dir::ToClient, to_client)] {
            for at in 0..=len {
                for kind in [Kind::Eof, Kind::Reset] {
                    let fault = Some(Fault { dir, at, kind });
                    check(closer, deflate, Io::Bytewise, fault);
                }
            }
        }
    }
}

/// Random schedules tried for each fault.
const SCHEDULES: u64 = 6;

#[test]
fn eof_or_reset_after_every_byte_with_short_writes_and_would_block() {
    for (closer, deflate) in setups() {
        let (to_server, to_client) = stream_lengths(closer, deflate);
        for (dir, len) in [(Dir::ToServer, to_server), (Dir::ToClient, to_client)] {
            for at in 0..=len {
                for (i, kind) in [Kind::Eof, Kind::Reset].into_iter().enumerate() {
                    for n in 0..SCHEDULES {
                        let seed = (at as u64) << 8
                            | n << 2
                            | (i as u64) << 1
                            | u64::from(dir == Dir::ToClient);
                        let fault = Some(Fault { dir, at, kind });
                        check(closer, deflate, Io::Random(seed), fault);
                    }
                }
            }
        }
    }
}
