//! Heap use of an open connection: no allocation per frame or per message once its buffers
//! have grown to the traffic, and a small footprint when idle; the same with permessage-deflate
//! negotiated (RFC 7692), where idle connections without context takeover also give back the
//! compressor and the inflater.
//!
//! The counting global allocator of `tests/counting` records, per thread, how many allocations
//! were made and how many bytes are live, so tests running in parallel do not see each other's
//! allocations.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod counting;

use counting::{allocations, live_bytes};

use wsmachine::{Config, Connection, Delivery, Event, MessageKind, Role, State};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

// ----- traffic -------------------------------------------------------------------------------

/// xorshift64*: a reproducible schedule without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Payload sizes around every header-length boundary, up to a message larger than 64 KiB.
const SIZES: [usize; 10] = [0, 1, 16, 125, 126, 1000, 4096, 65535, 65536, 100_000];

fn text(n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n);
    for c in "héllo wörld, привет, 你好, 🙂 ".chars().cycle() {
        if s.len() + c.len_utf8() > n {
            break;
        }
        s.push(c);
    }
    while s.len() < n {
        s.push('.');
    }
    s.into_bytes()
}

fn binary(n: usize, rng: &mut Rng) -> Vec<u8> {
    (0..n).map(|_| rng.next() as u8).collect()
}

/// One frame; masked (with a fresh key) when the sender is a client.
fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], masked: bool, rng: &mut Rng) {
    out.push((fin as u8) << 7 | opcode);
    let m = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if masked {
        let key = (rng.next() as u32).to_be_bytes();
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
}

/// What one step of the schedule puts on the wire and what the receiver should report.
struct Msg {
    wire: Vec<u8>,
    messages: usize,
    payload: usize,
    pings: usize,
}

/// `n` steps: single-frame binary and text messages, fragmented messages with a Ping between
/// fragments (text cut inside code points), and lone Pings.
fn schedule(seed: u64, n: usize, masked: bool) -> Vec<Msg> {
    let mut rng = Rng(seed);
    let mut msgs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut wire = Vec::new();
        let size = SIZES[rng.below(SIZES.len())];
        let is_text = rng.below(2) == 0;
        let payload = if is_text {
            text(size)
        } else {
            binary(size, &mut rng)
        };
        let opcode = if is_text { 0x1 } else { 0x2 };
        let msg = match rng.below(4) {
            0 | 1 => {
                frame(&mut wire, true, opcode, &payload, masked, &mut rng);
                Msg {
                    wire,
                    messages: 1,
                    payload: size,
                    pings: 0,
                }
            }
            2 => {
                let pieces = 2 + rng.below(3);
                let mut cuts: Vec<usize> = (1..pieces).map(|_| rng.below(size + 1)).collect();
                cuts.sort_unstable();
                let mut start = 0;
                for (i, end) in cuts.into_iter().chain([size]).enumerate() {
                    let op = if i == 0 { opcode } else { 0x0 };
                    let fin = i == pieces - 1;
                    frame(&mut wire, fin, op, &payload[start..end], masked, &mut rng);
                    if i == 0 {
                        let ping = binary(rng.below(126), &mut rng);
                        frame(&mut wire, true, 0x9, &ping, masked, &mut rng);
                    }
                    start = end;
                }
                Msg {
                    wire,
                    messages: 1,
                    payload: size,
                    pings: 1,
                }
            }
            _ => {
                let ping = binary(rng.below(126), &mut rng);
                frame(&mut wire, true, 0x9, &ping, masked, &mut rng);
                Msg {
                    wire,
                    messages: 0,
                    payload: 0,
                    pings: 1,
                }
            }
        };
        msgs.push(msg);
    }
    msgs
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    messages: usize,
    payload: usize,
    pings: usize,
}

enum Reply {
    Text,
    Binary,
    Fragment(MessageKind, bool),
}

/// Poll every event and echo each data message (or streamed piece) back.
fn poll_all(conn: &mut Connection, scratch: &mut Vec<u8>, stats: &mut Stats) {
    while let Some(ev) = conn.poll_event() {
        let reply = match ev {
            Event::Binary(b) => {
                scratch.clear();
                scratch.extend_from_slice(b);
                stats.messages += 1;
                Some(Reply::Binary)
            }
            Event::Text(t) => {
                scratch.clear();
                scratch.extend_from_slice(t.as_bytes());
                stats.messages += 1;
                Some(Reply::Text)
            }
            Event::Data {
                data,
                text,
                message_finished,
            } => {
                scratch.clear();
                scratch.extend_from_slice(data);
                stats.messages += message_finished as usize;
                let kind = if text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                Some(Reply::Fragment(kind, message_finished))
            }
            Event::Ping(_) => {
                stats.pings += 1;
                None
            }
            other => panic!("unexpected event {other:?}"),
        };
        stats.payload += match reply {
            Some(_) => scratch.len(),
            None => 0,
        };
        match reply {
            Some(Reply::Binary) => conn.send_binary(scratch).unwrap(),
            Some(Reply::Text) => conn
                .send_text(std::str::from_utf8(scratch).unwrap())
                .unwrap(),
            Some(Reply::Fragment(kind, fin)) => conn.send_fragment(kind, scratch, fin).unwrap(),
            None => {}
        }
    }
}

/// Feed the schedule in pieces of varying size, alternately through `receive` and through
/// `receive_buffer`/`commit_received`; write half the pending output after each piece and
/// the rest after each step.
fn run(conn: &mut Connection, msgs: &[Msg], scratch: &mut Vec<u8>) -> Stats {
    const PIECES: [usize; 6] = [usize::MAX, 1, 7, 100, 1500, 16384];
    let mut stats = Stats::default();
    for (i, m) in msgs.iter().enumerate() {
        let mut piece = PIECES[i % PIECES.len()];
        if piece < 100 && m.wire.len() > 2000 {
            piece = 1500;
        }
        for (j, chunk) in m.wire.chunks(piece.min(m.wire.len()).max(1)).enumerate() {
            if (i + j) % 2 == 0 {
                conn.receive(chunk);
            } else {
                conn.receive_buffer(chunk.len())[..chunk.len()].copy_from_slice(chunk);
                conn.commit_received(chunk.len());
            }
            poll_all(conn, scratch, &mut stats);
            let half = conn.pending_output().len() / 2;
            conn.advance_output(half);
        }
        let rest = conn.pending_output().len();
        conn.advance_output(rest);
    }
    stats
}

fn expected(msgs: &[Msg]) -> Stats {
    Stats {
        messages: msgs.iter().map(|m| m.messages).sum(),
        payload: msgs.iter().map(|m| m.payload).sum(),
        pings: msgs.iter().map(|m| m.pings).sum(),
    }
}

fn connection(role: Role, delivery: Delivery) -> Connection {
    Connection::from_upgraded(role, Config::default().delivery(delivery))
}

/// Warm up on one schedule, then count allocations over 1000 further steps of another.
///
/// The warm-up is as long as the measured run: the buffers grow (by doubling) to the largest
/// backlog the traffic builds, and with output written only half at a time that high-water
/// mark can be first reached several hundred steps in.
fn assert_steady_state_allocation_free(role: Role, delivery: Delivery) {
    let masked = role == Role::Server;
    let warm_up = schedule(1, 1000, masked);
    let measured = schedule(2, 1000, masked);
    let mut conn = connection(role, delivery);
    let mut scratch = Vec::with_capacity(2 * SIZES[SIZES.len() - 1]);

    let warm_stats = run(&mut conn, &warm_up, &mut scratch);
    assert_eq!(warm_stats, expected(&warm_up));

    let before = allocations();
    let stats = run(&mut conn, &measured, &mut scratch);
    let made = allocations() - before;

    assert_eq!(stats, expected(&measured));
    assert!(stats.messages > 500 && stats.pings > 300, "{stats:?}");
    assert_eq!(conn.state(), State::Open);
    assert_eq!(
        made, 0,
        "{role:?}/{delivery:?}: {made} heap allocations over {} messages and {} pings",
        stats.messages, stats.pings
    );
}

#[test]
fn counter_sees_allocations_on_this_thread() {
    let before = allocations();
    let v = std::hint::black_box(Vec::<u8>::with_capacity(10));
    assert_eq!(allocations() - before, 1);
    drop(v);
}

#[test]
fn server_whole_messages_allocate_nothing_in_steady_state() {
    assert_steady_state_allocation_free(Role::Server, Delivery::Whole);
}

#[test]
fn server_streaming_allocates_nothing_in_steady_state() {
    assert_steady_state_allocation_free(Role::Server, Delivery::Streaming);
}

#[test]
fn client_whole_messages_allocate_nothing_in_steady_state() {
    assert_steady_state_allocation_free(Role::Client, Delivery::Whole);
}

#[test]
fn client_streaming_allocates_nothing_in_steady_state() {
    assert_steady_state_allocation_free(Role::Client, Delivery::Streaming);
}

/// Payloads sent unbuffered, up to four outstanding at once and written through
/// `output_slices` in short vectored writes, allocate nothing once the queue of held payloads
/// and the output have grown: in either role, with Pings queued between them.
#[test]
fn unbuffered_sends_allocate_nothing_in_steady_state() {
    for role in [Role::Server, Role::Client] {
        let mut conn = connection(role, Delivery::Whole);
        // The caller's payloads, reused: a ring of four buffers, sent in turn.
        let mut payloads: Vec<Vec<u8>> = SIZES[5..9].iter().map(|&n| vec![0x5a; n]).collect();
        let mut oldest = 0;
        let mut outstanding = 0;
        let mut written = 0u64;
        let mut round = |conn: &mut Connection, payloads: &mut [Vec<u8>]| {
            for step in 0..1000 {
                if outstanding < payloads.len() {
                    let p = &mut payloads[(oldest + outstanding) % payloads.len()];
                    match role {
                        Role::Server => conn.send_unbuffered(MessageKind::Binary, p, true),
                        Role::Client => conn.send_unbuffered_mut(MessageKind::Binary, p, true),
                    }
                    .unwrap();
                    outstanding += 1;
                    conn.send_ping(b"between").unwrap();
                }
                // Write half of what the slices hold (at least a byte), every other step.
                if step % 2 == 1 {
                    let due = if outstanding > 0 {
                        &payloads[oldest][..]
                    } else {
                        &[][..]
                    };
                    let ready: usize = conn.output_slices(due).iter().map(|s| s.len()).sum();
                    let n = (ready / 2).max(1);
                    written += n as u64;
                    conn.advance_output(n);
                    while outstanding > conn.unbuffered_payloads() {
                        oldest = (oldest + 1) % payloads.len();
                        outstanding -= 1;
                    }
                }
            }
        };
        round(&mut conn, &mut payloads);
        let before = allocations();
        round(&mut conn, &mut payloads);
        let made = allocations() - before;
        assert!(written > 200_000, "{role:?}: only {written} bytes written");
        assert_eq!(made, 0, "{role:?}: {made} heap allocations");
    }
}

/// An open connection that has carried traffic and then gone idle costs its struct plus at
/// most a few hundred heap bytes once `release_buffers` has run.
#[test]
fn idle_open_connection_fits_in_one_kibibyte() {
    const BUDGET: usize = 1024;
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size} bytes");
    for role in [Role::Server, Role::Client] {
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            let msgs = schedule(3, 100, role == Role::Server);
            let mut scratch = Vec::with_capacity(2 * SIZES[SIZES.len() - 1]);

            let live_before = live_bytes();
            let mut conn = connection(role, delivery);
            let stats = run(&mut conn, &msgs, &mut scratch);
            assert_eq!(stats, expected(&msgs));
            assert!(conn.buffered_capacity() > 0);
            conn.release_buffers();
            let heap = (live_bytes() - live_before) as usize;
            let buffers = conn.buffered_capacity();
            let state = conn.state();
            drop(conn);
            let leaked = live_bytes() - live_before;

            // Printed after the measurement: captured test output is itself heap memory.
            println!(
                "{role:?}/{delivery:?}: struct {size} B + buffers {buffers} B; all heap held {heap} B"
            );
            assert_eq!(state, State::Open);
            assert_eq!(buffers, 0);
            assert!(size + buffers <= BUDGET);
            // Everything the connection holds on the heap, not only its buffers (a client's
            // masking-key source, for one).
            assert!(
                size + heap <= BUDGET,
                "{role:?}/{delivery:?}: {size} + {heap} heap bytes"
            );
            assert_eq!(leaked, 0, "{role:?}/{delivery:?}: memory freed on drop");
        }
    }
}

// ----- permessage-deflate --------------------------------------------------------------------

/// A client and a server that negotiated permessage-deflate (RFC 7692) in a real opening
/// handshake: every message of 64 bytes or more goes through the compressor of its sender and
/// the inflater of its receiver, in both roles.
#[cfg(feature = "deflate")]
mod compressed {
    use super::*;
    use wsmachine::deflate::DeflateConfig;
    use wsmachine::handshake::{Accept, ClientRequest};

    /// One step of the client's traffic.
    struct Step {
        text: bool,
        payload: Vec<u8>,
        /// Where the message is cut into frames (empty: one frame).
        cuts: Vec<usize>,
        /// A Ping sent after the first frame (or alone, without a payload).
        ping: Option<Vec<u8>>,
        /// A lone Ping, no message.
        lone: bool,
    }

    /// `n` steps: whole messages sent with `send_text`/`send_binary`, messages in two to four
    /// pieces with a Ping after the first (text cut inside code points), and lone Pings; the
    /// sizes of `SIZES`, text (compressible) and random binary (not).
    fn plan(seed: u64, n: usize) -> Vec<Step> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| {
                let size = SIZES[rng.below(SIZES.len())];
                let text_msg = rng.below(2) == 0;
                let payload = if text_msg {
                    text(size)
                } else {
                    binary(size, &mut rng)
                };
                match rng.below(4) {
                    0 | 1 => Step {
                        text: text_msg,
                        payload,
                        cuts: Vec::new(),
                        ping: None,
                        lone: false,
                    },
                    2 => {
                        let mut cuts: Vec<usize> =
                            (0..1 + rng.below(3)).map(|_| rng.below(size + 1)).collect();
                        cuts.sort_unstable();
                        let ping = binary(rng.below(126), &mut rng);
                        Step {
                            text: text_msg,
                            payload,
                            cuts,
                            ping: Some(ping),
                            lone: false,
                        }
                    }
                    _ => Step {
                        text: false,
                        payload: Vec::new(),
                        cuts: Vec::new(),
                        ping: Some(binary(rng.below(126), &mut rng)),
                        lone: true,
                    },
                }
            })
            .collect()
    }

    /// Every size of `SIZES`, text and binary, whole and in four pieces with a 125-byte Ping
    /// after the first, each six times in a row so that it meets each read size of `run_pair`:
    /// the warm-up starts with the largest steps `plan` makes, so that the buffers' high-water
    /// marks do not depend on which steps a random warm-up happens to draw. Without them, a
    /// 100,000-byte binary message in two frames and a Ping, read at once, grew a server's
    /// receive buffer in the measured run even after 1,000 random warm-up steps.
    fn extremes() -> Vec<Step> {
        let mut rng = Rng(7);
        let mut steps = Vec::new();
        for size in SIZES {
            for text_msg in [true, false] {
                for pieces in [false, true] {
                    for _ in 0..6 {
                        let payload = if text_msg {
                            text(size)
                        } else {
                            binary(size, &mut rng)
                        };
                        let (cuts, ping) = if pieces {
                            let cuts = vec![size / 4, size / 2, 3 * size / 4];
                            (cuts, Some(binary(125, &mut rng)))
                        } else {
                            (Vec::new(), None)
                        };
                        steps.push(Step {
                            text: text_msg,
                            payload,
                            cuts,
                            ping,
                            lone: false,
                        });
                    }
                }
            }
        }
        steps
    }

    /// Both sides' configuration: permessage-deflate with `deflate`, delivery `delivery`.
    fn config(deflate: DeflateConfig, delivery: Delivery) -> Config {
        Config::default().delivery(delivery).deflate(Some(deflate))
    }

    /// Move up to `max` bytes of `from`'s output into `to`, in one read, through `receive` or
    /// through the lent buffer. Returns how many moved.
    fn carry(from: &mut Connection, to: &mut Connection, max: usize, lent: bool) -> usize {
        let pending = from.pending_output();
        let n = pending.len().min(max);
        if n == 0 {
            return 0;
        }
        if lent {
            to.receive_buffer(n)[..n].copy_from_slice(&pending[..n]);
            to.commit_received(n);
        } else {
            to.receive(&pending[..n]);
        }
        from.advance_output(n);
        n
    }

    /// Open a client and a server through the handshake, with permessage-deflate negotiated.
    fn open(client: Config, server: Config) -> (Connection, Connection) {
        let mut c = Connection::client(&ClientRequest::new("example.com", "/chat"), client);
        let mut s = Connection::server(server);
        carry(&mut c, &mut s, usize::MAX, false);
        match s.poll_event() {
            Some(Event::HandshakeRequest(_)) => {}
            other => panic!("{other:?}"),
        }
        s.accept(Accept::new()).unwrap();
        assert!(matches!(s.poll_event(), Some(Event::Open(_))));
        carry(&mut s, &mut c, usize::MAX, false);
        assert!(matches!(c.poll_event(), Some(Event::Open(_))));
        for side in [&c, &s] {
            let extensions = side.negotiated().unwrap().extensions();
            assert_eq!(extensions.len(), 1);
            assert_eq!(extensions[0].name, "permessage-deflate");
        }
        (c, s)
    }

    /// What the client heard back: the echoed messages (compared with what it sent, byte for
    /// byte) and the Pongs.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Heard {
        messages: usize,
        payload: usize,
        pongs: usize,
    }

    /// Poll the client: every echo must equal `sent` from `at` on (pieces arrive in order).
    fn poll_client(c: &mut Connection, sent: &[u8], at: &mut usize, heard: &mut Heard) {
        while let Some(ev) = c.poll_event() {
            let (data, finished) = match ev {
                Event::Text(t) => (t.as_bytes(), true),
                Event::Binary(b) => (b, true),
                Event::Data {
                    data,
                    message_finished,
                    ..
                } => (data, message_finished),
                Event::Pong(_) => {
                    heard.pongs += 1;
                    continue;
                }
                other => panic!("unexpected event {other:?}"),
            };
            assert!(sent[*at..].starts_with(data), "echo differs at {}", *at);
            *at += data.len();
            heard.payload += data.len();
            if finished {
                assert_eq!(*at, sent.len());
                heard.messages += 1;
                *at = 0;
            }
        }
    }

    /// Wire bytes each way, to see that compression took place.
    #[derive(Debug, Default)]
    struct Wire {
        up: usize,
        down: usize,
    }

    /// The client sends each step; its output reaches the server in reads of varying size,
    /// alternately through `receive` and the lent buffer; the server echoes every message (or
    /// streamed piece) as it is polled after each read, and half of its output reaches the
    /// client then, the rest after the step.
    fn run_pair(
        c: &mut Connection,
        s: &mut Connection,
        steps: &[Step],
        scratch: &mut Vec<u8>,
        wire: &mut Wire,
    ) -> (Stats, Heard) {
        const PIECES: [usize; 6] = [usize::MAX, 1, 7, 100, 1500, 16384];
        let mut stats = Stats::default();
        let mut heard = Heard::default();
        let mut at = 0;
        for (i, step) in steps.iter().enumerate() {
            let kind = if step.text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            if step.lone {
                c.send_ping(step.ping.as_deref().unwrap()).unwrap();
            } else if step.cuts.is_empty() {
                if step.text {
                    c.send_text(std::str::from_utf8(&step.payload).unwrap())
                        .unwrap();
                } else {
                    c.send_binary(&step.payload).unwrap();
                }
            } else {
                let mut start = 0;
                let ends = step.cuts.iter().copied().chain([step.payload.len()]);
                for (j, end) in ends.enumerate() {
                    let fin = end == step.payload.len() && j == step.cuts.len();
                    c.send_fragment(kind, &step.payload[start..end], fin)
                        .unwrap();
                    if j == 0 {
                        c.send_ping(step.ping.as_deref().unwrap()).unwrap();
                    }
                    start = end;
                }
            }
            let mut piece = PIECES[i % PIECES.len()];
            if piece < 100 && c.pending_output().len() > 2000 {
                piece = 1500;
            }
            let mut j = 0;
            loop {
                let n = carry(c, s, piece, (i + j) % 2 == 1);
                if n == 0 {
                    break;
                }
                wire.up += n;
                j += 1;
                poll_all(s, scratch, &mut stats);
                let half = s.pending_output().len() / 2;
                wire.down += carry(s, c, half, j % 2 == 0);
                poll_client(c, &step.payload, &mut at, &mut heard);
            }
            wire.down += carry(s, c, usize::MAX, false);
            poll_client(c, &step.payload, &mut at, &mut heard);
            assert_eq!(at, 0, "step {i}: the echo is complete");
        }
        (stats, heard)
    }

    fn expected_pair(steps: &[Step]) -> (Stats, Heard) {
        let messages = steps.iter().filter(|s| !s.lone).count();
        let payload = steps.iter().map(|s| s.payload.len()).sum();
        let pings = steps.iter().filter(|s| s.ping.is_some()).count();
        (
            Stats {
                messages,
                payload,
                pings,
            },
            Heard {
                messages,
                payload,
                pongs: pings,
            },
        )
    }

    /// Warm up on one plan, then count allocations, in both machines, over another.
    fn assert_compressed_allocation_free(deflate: DeflateConfig, delivery: Delivery) {
        let mut warm_up = extremes();
        warm_up.extend(plan(1, 200));
        let measured = plan(2, 300);
        let (mut c, mut s) = open(config(deflate, delivery), config(deflate, delivery));
        let mut scratch = Vec::with_capacity(2 * SIZES[SIZES.len() - 1]);

        let mut wire = Wire::default();
        let got = run_pair(&mut c, &mut s, &warm_up, &mut scratch, &mut wire);
        assert_eq!(got, expected_pair(&warm_up));

        let mut wire = Wire::default();
        let before = allocations();
        let (stats, heard) = run_pair(&mut c, &mut s, &measured, &mut scratch, &mut wire);
        let made = allocations() - before;

        assert_eq!((stats, heard), expected_pair(&measured));
        let (stats, _) = expected_pair(&measured);
        // A check on the plan, not on the machines: the measured run must exercise enough
        // messages and Pings for "no allocation" to mean something.
        assert!(stats.messages > 150 && stats.pings > 75, "{stats:?}");
        assert_eq!((c.state(), s.state()), (State::Open, State::Open));
        // Random binary does not compress; the text (a repeated sentence) compresses to a
        // small fraction: at least to half, on the wire each way.
        let text_payload: usize = measured
            .iter()
            .filter(|s| s.text)
            .map(|s| s.payload.len())
            .sum();
        let binary_payload = stats.payload - text_payload;
        for (way, bytes) in [("up", wire.up), ("down", wire.down)] {
            assert!(
                bytes < binary_payload + text_payload / 2,
                "{way}: {bytes} wire bytes for {text_payload} text and {binary_payload} binary"
            );
        }
        assert_eq!(
            made, 0,
            "{deflate:?}/{delivery:?}: {made} heap allocations over {} messages each way",
            stats.messages
        );
    }

    fn no_context_takeover() -> DeflateConfig {
        DeflateConfig::default()
            .no_context_takeover(true)
            .peer_no_context_takeover(true)
    }

    #[test]
    fn whole_messages_allocate_nothing_in_steady_state() {
        assert_compressed_allocation_free(DeflateConfig::default(), Delivery::Whole);
    }

    #[test]
    fn streaming_allocates_nothing_in_steady_state() {
        assert_compressed_allocation_free(DeflateConfig::default(), Delivery::Streaming);
    }

    #[test]
    fn no_context_takeover_whole_messages_allocate_nothing_in_steady_state() {
        assert_compressed_allocation_free(no_context_takeover(), Delivery::Whole);
    }

    #[test]
    fn no_context_takeover_streaming_allocates_nothing_in_steady_state() {
        assert_compressed_allocation_free(no_context_takeover(), Delivery::Streaming);
    }

    /// The heap bytes each side holds once idle after `release_buffers`, measured by dropping
    /// them one at a time: (client, server).
    fn idle_heap(deflate: DeflateConfig, delivery: Delivery) -> ((usize, usize), (usize, usize)) {
        let steps = plan(3, 100);
        let mut scratch = Vec::with_capacity(2 * SIZES[SIZES.len() - 1]);
        let mut wire = Wire::default();
        let live_before = live_bytes();
        let (mut c, mut s) = open(config(deflate, delivery), config(deflate, delivery));
        let got = run_pair(&mut c, &mut s, &steps, &mut scratch, &mut wire);
        assert_eq!(got, expected_pair(&steps));
        c.release_buffers();
        s.release_buffers();
        let buffers = (c.buffered_capacity(), s.buffered_capacity());
        let both = live_bytes();
        drop(c);
        let server = live_bytes();
        drop(s);
        assert_eq!(live_bytes(), live_before, "memory freed on drop");
        let heap = ((both - server) as usize, (server - live_before) as usize);
        println!("{deflate:?}/{delivery:?}: buffers {buffers:?}, all heap held {heap:?}");
        (buffers, heap)
    }

    /// What an idle compressing connection holds on the heap besides its streams: the
    /// extension's state, the negotiated parameters and (a client) the masking-key source
    /// (measured: 1,090 bytes for a client and 814 for a server without context takeover).
    const REST: usize = 1536;

    /// Without context takeover either way, `release_buffers` on an idle connection gives back
    /// both zlib-rs streams (212,544 bytes at the defaults) with the buffers: what is left is
    /// the connection's struct and at most `REST` bytes, under 2 KiB in all.
    #[test]
    fn idle_without_context_takeover_gives_back_the_streams() {
        let size = std::mem::size_of::<Connection>();
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            let (buffers, (client, server)) = idle_heap(no_context_takeover(), delivery);
            assert_eq!(buffers, (0, 0), "{delivery:?}");
            assert!(
                client <= REST && server <= REST,
                "{delivery:?}: {client}, {server}"
            );
            assert!(size + client.max(server) <= 2048);
        }
    }

    /// With context takeover the streams hold the window the next message refers to:
    /// `release_buffers` keeps them (212,544 bytes each side) and gives back the rest.
    #[test]
    fn idle_with_context_takeover_keeps_the_streams() {
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            let (buffers, (client, server)) = idle_heap(DeflateConfig::default(), delivery);
            assert_eq!(buffers, (212_544, 212_544), "{delivery:?}");
            assert!(
                client - buffers.0 <= REST && server - buffers.1 <= REST,
                "{delivery:?}: {client}, {server}"
            );
        }
    }
}
