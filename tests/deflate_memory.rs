//! permessage-deflate's heap: the bytes each zlib-rs stream takes per window size and memLevel
//! (the figures in the `deflate` module's documentation), no allocation per message once the
//! streams exist, and a compressed message that would inflate to over 1 GiB refused with the
//! heap never more than the limit plus one step above where it started.
//!
//! The counting global allocator of `tests/counting` records, per thread, allocations, live
//! bytes and the peak of live bytes, so tests running in parallel do not see each other's.
#![cfg(feature = "deflate")]

mod counting;

use counting::{allocations, live_bytes as live, mark, peak};

use wsmachine::Role;
use wsmachine::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use wsmachine::extension::Extension;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn params(window: u8, no_context_takeover: bool) -> DeflateParams {
    let mut p = DeflateParams::default();
    p.server_max_window_bits = window;
    p.client_max_window_bits = window;
    p.server_no_context_takeover = no_context_takeover;
    p.client_no_context_takeover = no_context_takeover;
    p
}

fn text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while out.len() < n {
        let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        out.extend_from_slice(
            format!(
                "{{\"id\":{i},\"user\":\"u{}\",\"ok\":{}}},",
                x % 1000,
                x.is_multiple_of(2)
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

/// One compressed message from `sender` through `receiver`, into `out` (cleared first).
fn exchange(
    sender: &mut PerMessageDeflate,
    receiver: &mut PerMessageDeflate,
    msg: &[u8],
    wire: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    wire.clear();
    out.clear();
    let rsv = sender.encode(msg, true, true, wire);
    assert!(receiver.inbound_frame(rsv, true).unwrap());
    let d = receiver.decode(wire, true, out, 1 << 20).unwrap();
    assert!(d.finished && d.consumed == wire.len());
    assert!(out == msg);
}

/// The heap of each stream, measured, against `heap_size`: the table in the module's
/// documentation (run with `--nocapture` to see it).
#[test]
fn stream_memory_per_setting() {
    let mut wire = Vec::with_capacity(1 << 16);
    let mut out = Vec::with_capacity(1 << 16);
    eprintln!("window  memLevel  compressor  inflater");
    for window in 8..=15u8 {
        for mem_level in [1, 4, 5, 8] {
            let config = DeflateConfig::default().mem_level(mem_level);
            let p = params(window, false);
            let mut server = PerMessageDeflate::new(Role::Server, &p, &config);
            let mut client = PerMessageDeflate::new(Role::Client, &p, &config);
            let before = live();
            wire.clear();
            server.encode(b"", true, true, &mut wire);
            let compressor = live() - before;
            let before = live();
            assert!(client.inbound_frame(0b100, true).unwrap());
            out.clear();
            assert!(client.decode(&wire, true, &mut out, 100).unwrap().finished);
            let inflater = live() - before;
            eprintln!("{window:>6}  {mem_level:>8}  {compressor:>10}  {inflater:>8}");
            assert_eq!(
                server.heap_size() as i64,
                compressor,
                "window {window} memLevel {mem_level}"
            );
            assert_eq!(client.heap_size() as i64, inflater);
            // Dropping gives it all back.
            let before = live();
            drop(server);
            drop(client);
            assert_eq!(live(), before - compressor - inflater);
        }
    }
}

/// With the default configuration, one message each way: 212,544 bytes of streams per side.
#[test]
fn default_connection_memory() {
    let config = DeflateConfig::default();
    let mut wire = Vec::with_capacity(1 << 16);
    let mut out = Vec::with_capacity(1 << 16);
    let msg = text(4096);
    let p = params(12, false);
    let before = live();
    let mut server = PerMessageDeflate::new(Role::Server, &p, &config);
    let mut client = PerMessageDeflate::new(Role::Client, &p, &config);
    exchange(&mut server, &mut client, &msg, &mut wire, &mut out);
    exchange(&mut client, &mut server, &msg, &mut wire, &mut out);
    let both = live() - before;
    assert_eq!(server.heap_size(), 212_544);
    assert_eq!(both, 2 * 212_544);
}

/// Once the streams exist and the buffers have grown, messages allocate nothing, with context
/// takeover or without; without it, `release_buffers` returns both streams between messages.
#[test]
fn no_allocation_per_message() {
    let config = DeflateConfig::default();
    let msgs: Vec<Vec<u8>> = [10, 100, 4096, 40_000, 0, 300].map(text).to_vec();
    let mut wire = Vec::with_capacity(1 << 16);
    let mut out = Vec::with_capacity(1 << 16);
    for no_context_takeover in [false, true] {
        for window in [8, 12, 15] {
            let p = params(window, no_context_takeover);
            let mut server = PerMessageDeflate::new(Role::Server, &p, &config);
            let mut client = PerMessageDeflate::new(Role::Client, &p, &config);
            for msg in &msgs {
                exchange(&mut server, &mut client, msg, &mut wire, &mut out);
                exchange(&mut client, &mut server, msg, &mut wire, &mut out);
            }
            let before = allocations();
            for _ in 0..5 {
                for msg in &msgs {
                    exchange(&mut server, &mut client, msg, &mut wire, &mut out);
                    exchange(&mut client, &mut server, msg, &mut wire, &mut out);
                }
            }
            assert_eq!(
                allocations(),
                before,
                "window {window}, nct {no_context_takeover}"
            );
            let held = live();
            let heaps = (server.heap_size() + client.heap_size()) as i64;
            server.release_buffers();
            client.release_buffers();
            if no_context_takeover {
                assert_eq!(server.heap_size() + client.heap_size(), 0);
                assert_eq!(live(), held - heaps);
                // They come back with the next message.
                exchange(&mut server, &mut client, &msgs[2], &mut wire, &mut out);
                assert!(server.heap_size() > 0 && client.heap_size() > 0);
            } else {
                assert_eq!(live(), held);
            }
        }
    }
}

/// DEFLATE bits, least significant first; Huffman codes most significant bit first.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, n: u32) -> &mut Self {
        for i in 0..n {
            if self.used.is_multiple_of(8) {
                self.bytes.push(0);
            }
            *self.bytes.last_mut().unwrap() |= (((value >> i) & 1) as u8) << (self.used % 8);
            self.used += 1;
        }
        self
    }
    fn code(&mut self, code: u32, n: u32) -> &mut Self {
        for i in (0..n).rev() {
            self.put((code >> i) & 1, 1);
        }
        self
    }
}

/// A dynamic block in which length 258 (symbol 285) and distance 1 have one-bit codes, both
/// `0`: after one literal, every zero byte of input is four 258-byte matches, 1,032 bytes out
/// per byte in, about the most DEFLATE allows. `zeros` zero bytes follow the header.
fn bomb(zeros: usize) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(0, 1).put(2, 2); // not final, dynamic
    b.put(29, 5).put(0, 5).put(14, 4); // 286 literal/length codes, 1 distance code, 18 CL codes
    // Code-length code lengths in their order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
    // 18 (runs of zeros) one bit, lengths 1 and 2 two bits each.
    for len in [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2] {
        b.put(len, 3);
    }
    // Canonical codes: 18 → 0, 1 → 10, 2 → 11.
    let (run, one, two) = ((0, 1), (0b10, 2), (0b11, 2));
    let zeros_run = |b: &mut Bits, n: u32| {
        b.code(run.0, run.1).put(n - 11, 7);
    };
    // Literal 0: length 2; 1..=255: none; 256 (end of block): 2; 257..=284: none; 285: 1.
    b.code(two.0, two.1);
    zeros_run(&mut b, 138);
    zeros_run(&mut b, 117);
    b.code(two.0, two.1);
    zeros_run(&mut b, 28);
    b.code(one.0, one.1);
    // Distance code 0: length 1.
    b.code(one.0, one.1);
    // Literal/length codes: 285 → 0, literal 0 → 10, 256 → 11. The literal, then matches.
    b.code(0b10, 2);
    let mut bytes = b.bytes;
    bytes.resize(bytes.len() + zeros, 0);
    bytes
}

/// About 1 KiB of input inflates to about 1 MiB, the most DEFLATE allows; about 1 MiB to
/// over 1 GiB. Refused at the limit, with the heap never more than the limit plus one 16 KiB
/// step above where it was (the inflater already created).
#[test]
fn bomb_is_refused_within_the_limit() {
    let p = params(15, false);
    let config = DeflateConfig::default();
    let mut client = PerMessageDeflate::new(Role::Client, &p, &config);
    // Create the inflater first.
    assert!(client.inbound_frame(0b100, true).unwrap());
    let mut out = Vec::new();
    assert!(client.decode(&[0x00], true, &mut out, 10).unwrap().finished);

    // The expansion: 1 KiB of zeros, inflated whole (without the message's end: the tail
    // would be read as more codes of this block).
    let small = bomb(1024);
    assert!(small.len() < 1100);
    assert!(client.inbound_frame(0b100, true).unwrap());
    let mut out = Vec::new();
    let d = client.decode(&small, false, &mut out, 2 << 20).unwrap();
    assert_eq!((d.consumed, d.finished), (small.len(), false));
    assert!(out.len() >= 1024 * 1032, "{} bytes", out.len());
    assert!(out.iter().all(|&b| b == 0));
    let per_zero = out.len() / 1024;
    eprintln!(
        "{} bytes inflate to {}: {per_zero} per zero byte",
        small.len(),
        out.len()
    );
    drop(out);

    // About 1 MiB that would inflate to over 1 GiB, against limits from 64 KiB to 8 MiB.
    let big = bomb(1 << 20);
    assert!((1u64 << 20) * per_zero as u64 > 1 << 30);
    for limit in [64 << 10, 1 << 20, 8 << 20] {
        let mut client = PerMessageDeflate::new(Role::Client, &p, &config);
        assert!(client.inbound_frame(0b100, true).unwrap());
        let mut warm = Vec::new();
        client.decode(&[0x00], true, &mut warm, 10).unwrap();
        drop(warm);
        assert!(client.inbound_frame(0b100, true).unwrap());
        let mut out = Vec::new();
        let base = mark();
        let d = client.decode(&big, true, &mut out, limit).unwrap();
        let growth = peak() - base;
        assert!(!d.finished);
        // About one byte taken per 1,032 written.
        assert!(d.consumed <= limit / 1000 + 64, "consumed {}", d.consumed);
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit);
        eprintln!("limit {limit}: heap grew by {growth} bytes at most");
        assert!(
            growth <= (limit + 16 * 1024) as i64,
            "limit {limit}: heap grew {growth}"
        );
        // The caller refuses the message; called again, it stops at once.
        let again = client
            .decode(&big[d.consumed..], true, &mut out, limit)
            .unwrap();
        assert_eq!((again.consumed, again.finished), (0, false));
    }
}
