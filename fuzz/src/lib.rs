//! The stateful connection fuzzer shared by the per-role targets.
//!
//! The input is a program: each operation is one byte (its kind) followed by its arguments.
//! Bytes from the peer arrive in chunks of arbitrary sizes, interleaved with the local
//! application's calls (sends, buffered or unbuffered, close, accept or reject, time passing,
//! output and unbuffered payloads drained in arbitrary amounts, buffers released, EOF). Every event is polled after every input. The run
//! must never panic, a local call may fail only with a `UsageError`, and the machine's buffer
//! memory must stay within a bound derived from its configured limits.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub mod deflate;

use wsmachine::__private::rng::FixedMasks;
use wsmachine::handshake::{Accept, ClientRequest, Response};
use wsmachine::{Config, Connection, Delivery, Event, MessageKind, Role, State};

/// The limits of the machines under test.
pub(crate) const MAX_FRAME: usize = 4096;
pub(crate) const MAX_MESSAGE: usize = 16 * 1024;

/// The fuzzer's bytes, taken from the front.
pub(crate) struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }
    pub(crate) fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
}

fn drain(conn: &mut Connection, role: Role) {
    // Whatever the input, the number of events per call is bounded by the bytes received.
    for _ in 0..100_000 {
        let Some(event) = conn.poll_event() else {
            return;
        };
        match event {
            Event::HandshakeRequest(_) => {
                let _ = conn.accept(Accept::new());
            }
            Event::HttpRequest(_) => {
                let _ = conn.respond(Response::new(200));
            }
            Event::Text(t) => assert!(t.len() <= MAX_MESSAGE),
            Event::Binary(b) => assert!(b.len() <= MAX_MESSAGE),
            Event::Data { data, .. } => assert!(data.len() <= MAX_FRAME),
            Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= 125),
            Event::Close { reason, .. } => assert!(reason.len() <= 123),
            _ => {}
        }
    }
    panic!("{role:?}: poll_event did not run dry");
}

/// Run one program against a fresh machine of `role`.
pub fn run(role: Role, data: &[u8]) {
    let mut input = Input { data };
    let flags = input.byte().unwrap_or(0);
    let config = Config::default()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_header_bytes(2048)
        .delivery(if flags & 1 == 0 {
            Delivery::Whole
        } else {
            Delivery::Streaming
        })
        .auto_pong(flags & 2 == 0)
        .keepalive(Duration::from_secs(5), Duration::from_secs(2))
        .idle_timeout(Some(Duration::from_secs(30)));
    let mut conn = match (role, flags & 4 != 0) {
        (Role::Server, false) => Connection::server(config),
        (Role::Client, false) => {
            Connection::client(&ClientRequest::new("example.com", "/").key([7; 16]), config)
        }
        (role, true) => Connection::from_upgraded(role, config),
    };
    conn.set_mask_source(Box::new(FixedMasks::new(vec![[1, 2, 3, 4]])));
    let t0 = Instant::now();
    let mut now = t0;
    conn.handle_timeout(now);
    let mut largest_chunk = 0usize;
    // Payloads sent unbuffered and not yet written whole, oldest first, as the sends left them.
    let mut unbuffered: VecDeque<Vec<u8>> = VecDeque::new();

    while let Some(op) = input.byte() {
        match op % 12 {
            0..=3 => {
                let n = input.byte().unwrap_or(0) as usize * (1 + (op as usize >> 4));
                let chunk = input.bytes(n);
                largest_chunk = largest_chunk.max(chunk.len());
                if op & 0x80 != 0 {
                    let buf = conn.receive_buffer(chunk.len());
                    buf[..chunk.len()].copy_from_slice(chunk);
                    conn.commit_received(chunk.len());
                } else {
                    conn.receive(chunk);
                }
            }
            4 => {
                let n = input.byte().unwrap_or(0) as usize;
                let text = String::from_utf8_lossy(input.bytes(n)).into_owned();
                let _ = conn.send_text(&text);
            }
            5 => {
                let n = input.byte().unwrap_or(0) as usize;
                let _ = conn.send_binary(input.bytes(n));
            }
            6 => {
                let b = input.byte().unwrap_or(0);
                let n = (b & 0x3f) as usize;
                let kind = if b & 0x40 != 0 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                if b & 0x20 != 0 {
                    // Held by the caller and written when due (masked in place by a client).
                    let mut payload = input.bytes(n * 64).to_vec();
                    let fin = b & 0x80 != 0;
                    let sent = if n % 2 == 0 {
                        conn.send_unbuffered(kind, &payload, fin)
                    } else {
                        conn.send_unbuffered_mut(kind, &mut payload, fin)
                    };
                    if sent.is_ok() && !payload.is_empty() {
                        unbuffered.push_back(payload);
                    }
                } else {
                    let _ = conn.send_fragment(kind, input.bytes(n), b & 0x80 != 0);
                }
            }
            7 => {
                let n = input.byte().unwrap_or(0) as usize;
                let _ = conn.send_ping(input.bytes(n));
            }
            8 => {
                let code =
                    u16::from_be_bytes([input.byte().unwrap_or(3), input.byte().unwrap_or(232)]);
                let n = input.byte().unwrap_or(0) as usize;
                let reason = String::from_utf8_lossy(input.bytes(n)).into_owned();
                let _ = conn.close(code, &reason);
            }
            9 => {
                now += Duration::from_millis(input.byte().unwrap_or(0) as u64 * 100);
                conn.handle_timeout(now);
            }
            10 => {
                let n = input.byte().unwrap_or(0) as usize * 16;
                let oldest = unbuffered.front().map_or(&[][..], |p| &p[..]);
                let [head, payload, _] = conn.output_slices(oldest).map(|s| s.len());
                conn.advance_output(n);
                // A write finishes the payload due exactly when it reaches the payload's end.
                let finished = unbuffered.len() - conn.unbuffered_payloads();
                assert_eq!(finished, usize::from(payload > 0 && n >= head + payload));
                for _ in 0..finished {
                    unbuffered.pop_front();
                }
                if op & 0x80 != 0 {
                    conn.release_buffers();
                }
            }
            _ => conn.receive_eof(),
        }
        drain(&mut conn, role);
        // Timers never fire early or twice.
        if let Some(t) = conn.poll_timeout() {
            assert!(t >= t0);
        }
        // The receive side stays within what the limits allow (a partial frame or message,
        // the largest chunk, and the buffers' growth factor); output is the application's.
        let bound = 4 * (MAX_FRAME + 14 + largest_chunk) + 2 * MAX_MESSAGE + 64 * 1024;
        let pending = conn.pending_output().len();
        assert!(
            conn.buffered_capacity() <= bound + 2 * pending + 64 * 1024,
            "{role:?}: {} buffered bytes",
            conn.buffered_capacity()
        );
        if conn.state() == State::Closed {
            // Closed machines ignore input and produce no more events.
            conn.receive(b"\x81\x00");
            assert!(conn.poll_event().is_none());
        }
    }
}

/// What a machine reported, owned, for comparing two runs.
#[derive(Debug, PartialEq)]
enum Seen {
    Text(String),
    Binary(Vec<u8>),
    /// Streaming pieces of one message, merged (pieces depend on the reads; bytes do not).
    Data(Vec<u8>, bool, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(String),
    Other,
}

fn collect(conn: &mut Connection, seen: &mut Vec<Seen>) {
    while let Some(event) = conn.poll_event() {
        let s = match event {
            Event::Text(t) => Seen::Text(t.to_owned()),
            Event::Binary(b) => Seen::Binary(b.to_vec()),
            Event::Data {
                data,
                text,
                message_finished,
            } => {
                if let Some(Seen::Data(prev, t, done)) = seen.last_mut()
                    && !*done
                    && *t == text
                {
                    prev.extend_from_slice(data);
                    *done = message_finished;
                    continue;
                }
                Seen::Data(data.to_vec(), text, message_finished)
            }
            Event::Ping(p) => Seen::Ping(p.to_vec()),
            Event::Pong(p) => Seen::Pong(p.to_vec()),
            Event::Close { code, reason } => Seen::Close(code, reason.to_owned()),
            Event::ProtocolError(e) => Seen::Error(format!("{e:?}")),
            _ => Seen::Other,
        };
        seen.push(s);
    }
}

/// Differential run: the same peer bytes fed to three machines of one role — in one read,
/// in the reads the input describes (through `receive` or the lent buffer), and one byte at a
/// time — must produce the same events (streaming pieces merged) and the same output.
///
/// Input: a flags byte, a byte giving how many cut points follow (each two bytes), then the
/// peer's bytes.
pub fn chunking(data: &[u8]) {
    let mut input = Input { data };
    let flags = input.byte().unwrap_or(0);
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let streaming = flags & 2 != 0;
    let lent = flags & 4 != 0;
    let ncuts = input.byte().unwrap_or(0) as usize % 16;
    let mut cuts: Vec<usize> = (0..ncuts)
        .map(|_| u16::from_be_bytes([input.byte().unwrap_or(0), input.byte().unwrap_or(0)]))
        .map(usize::from)
        .collect();
    let peer = input.data;
    cuts.iter_mut().for_each(|c| *c %= peer.len() + 1);
    cuts.sort_unstable();
    let make = || {
        let config = Config::default()
            .max_frame_size(MAX_FRAME)
            .max_message_size(MAX_MESSAGE)
            .delivery(if streaming {
                Delivery::Streaming
            } else {
                Delivery::Whole
            });
        let mut c = Connection::from_upgraded(role, config);
        c.set_mask_source(Box::new(FixedMasks::new(vec![[1, 2, 3, 4]])));
        c
    };
    let run = |pieces: &mut dyn Iterator<Item = &[u8]>, through_buffer: bool| {
        let mut conn = make();
        let (mut seen, mut out) = (Vec::new(), Vec::new());
        for piece in pieces {
            if through_buffer {
                conn.receive_buffer(piece.len())[..piece.len()].copy_from_slice(piece);
                conn.commit_received(piece.len());
            } else {
                conn.receive(piece);
            }
            collect(&mut conn, &mut seen);
            out.extend_from_slice(conn.pending_output());
            let n = conn.pending_output().len();
            conn.advance_output(n);
        }
        (seen, out)
    };
    let whole = run(&mut std::iter::once(peer), false);
    let mut bounds = cuts.clone();
    bounds.push(peer.len());
    let mut last = 0;
    let split = run(
        &mut bounds.iter().map(|&b| {
            let piece = &peer[last..b.max(last)];
            last = b.max(last);
            piece
        }),
        lent,
    );
    let bytewise = run(&mut peer.chunks(1), false);
    assert_eq!(whole, split, "{role:?}: one read vs cuts {cuts:?}");
    assert_eq!(whole, bytewise, "{role:?}: one read vs byte by byte");
}
