//! Heap use of an open connection: no allocation per frame or per message once its buffers
//! have grown to the traffic, and a small footprint when idle.
//!
//! A counting global allocator (this test binary only) records, per thread, how many
//! allocations were made and how many bytes are live, so tests running in parallel do not see
//! each other's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use wsmachine::{Config, Connection, Delivery, Event, MessageKind, Role, State};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn record(allocation: bool, delta: i64) {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocation as u64));
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + delta));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches thread-local counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(true, layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(true, layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(true, new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(false, -(layout.size() as i64));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn live_bytes() -> i64 {
    LIVE_BYTES.with(Cell::get)
}

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
