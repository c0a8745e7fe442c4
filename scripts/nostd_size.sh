#!/usr/bin/env bash
# Code size and memory of the core with and without std (BENCHMARKS.md, "Without std").
#
# One small program drives a client and a server machine through a handshake and one echoed
# message, through the public API only (Timestamps, the client's MaskSource). It is built
# three ways, release with LTO and opt-level "s", panic = "abort":
#   * thumbv7em-none-eabihf, `default-features = false`: a bare-metal binary (its own entry
#     point, a bump allocator, a looping panic handler), the .text of which is the core's code
#     plus what it pulls from core and alloc;
#   * x86_64 Linux, `default-features = false` and `features = ["std"]`: the same conversation
#     on the host, printing size_of::<Connection>() and the live heap (a counting allocator)
#     after the echo and after release_buffers. Both host binaries link std's runtime, so
#     their .text difference is what the `std` feature adds to the crate's code.
# The scratch crate and its target directory live in a temporary directory, removed at exit.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/src"

write_manifest() { # $1: the wsmachine dependency's features clause
  cat >"$scratch/Cargo.toml" <<EOF
[package]
name = "wsmachine-size"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
wsmachine = { path = "$repo", default-features = false $1 }

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"

[workspace]
EOF
}

cat >"$scratch/src/main.rs" <<'EOF'
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::boxed::Box;
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Event, MaskSource, Timestamp};

struct Rng(u64);

impl MaskSource for Rng {
    fn next_mask(&mut self) -> [u8; 4] {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let [a, b, c, d, ..] = self.0.to_le_bytes();
        [a, b, c, d]
    }
}

fn pump(from: &mut Connection, to: &mut Connection) {
    let mut buf = [0u8; 128];
    while !from.pending_output().is_empty() {
        let n = from.pending_output().len().min(buf.len());
        buf[..n].copy_from_slice(&from.pending_output()[..n]);
        from.advance_output(n);
        to.receive(&buf[..n]);
    }
}

/// A handshake and one echo; the echoed length (0 on any failure).
fn converse(seed: u64, msg: &str) -> (Connection, Connection, usize) {
    let mut client = Connection::client_with_mask_source(
        &ClientRequest::new("device.local", "/"),
        Config::default(),
        Box::new(Rng(seed | 1)),
    );
    let mut server = Connection::server(Config::default());
    let mut echoed = 0;
    for tick in 0..8 {
        client.handle_timeout(Timestamp::from_millis(tick));
        server.handle_timeout(Timestamp::from_millis(tick));
        pump(&mut client, &mut server);
        let mut reply = [0u8; 64];
        let mut reply_len = None;
        while let Some(event) = server.poll_event() {
            match event {
                Event::HandshakeRequest(_) => {
                    let _ = server.accept(Accept::new());
                }
                Event::Text(t) if t.len() <= reply.len() => {
                    reply[..t.len()].copy_from_slice(t.as_bytes());
                    reply_len = Some(t.len());
                }
                _ => {}
            }
        }
        if let Some(n) = reply_len
            && let Ok(text) = core::str::from_utf8(&reply[..n])
        {
            let _ = server.send_text(text);
        }
        pump(&mut server, &mut client);
        while let Some(event) = client.poll_event() {
            match event {
                Event::Open(_) => {
                    let _ = client.send_text(msg);
                }
                Event::Text(t) => echoed = t.len(),
                _ => {}
            }
        }
    }
    (client, server, echoed)
}

#[cfg(target_os = "none")]
mod bare {
    use core::alloc::{GlobalAlloc, Layout};
    use core::sync::atomic::{AtomicUsize, Ordering};

    const HEAP: usize = 64 * 1024;
    struct Bump(core::cell::UnsafeCell<[u8; HEAP]>, AtomicUsize);
    unsafe impl Sync for Bump {}
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.0.get() as usize;
            let mut at = self.1.load(Ordering::Relaxed);
            loop {
                let start = (base + at).next_multiple_of(layout.align()) - base;
                let end = start + layout.size();
                if end > HEAP {
                    return core::ptr::null_mut();
                }
                match self.1.compare_exchange(at, end, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => return (base + start) as *mut u8,
                    Err(now) => at = now,
                }
            }
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }
    #[global_allocator]
    static ALLOC: Bump = Bump(core::cell::UnsafeCell::new([0; HEAP]), AtomicUsize::new(0));

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        loop {}
    }

    static SEED: u64 = 0x2545_f491_4f6c_dd1d;
    #[unsafe(no_mangle)]
    static mut ECHOED: usize = 0;

    #[unsafe(no_mangle)]
    pub extern "C" fn _start() -> ! {
        // A seed the optimizer cannot see through, a result it cannot drop.
        let seed = unsafe { core::ptr::read_volatile(&SEED) };
        let (_c, _s, n) = super::converse(seed, "hello from a microcontroller");
        unsafe { core::ptr::write_volatile(&raw mut ECHOED, n) };
        loop {}
    }
}

#[cfg(not(target_os = "none"))]
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub static LIVE: AtomicUsize = AtomicUsize::new(0);
    struct Counting;
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            unsafe { System.dealloc(p, l) }
        }
    }
    #[global_allocator]
    static A: Counting = Counting;
}

#[cfg(not(target_os = "none"))]
fn main() {
    use std::sync::atomic::Ordering;
    let seed = std::hint::black_box(0x2545_f491_4f6c_dd1d);
    let before = counting::LIVE.load(Ordering::Relaxed);
    let (mut c, mut s, n) = converse(seed, "hello from a microcontroller");
    assert_eq!(n, 28, "the echo came back");
    let live = counting::LIVE.load(Ordering::Relaxed) - before;
    c.release_buffers();
    s.release_buffers();
    let idle = counting::LIVE.load(Ordering::Relaxed) - before;
    println!(
        "size_of::<Connection>() = {} bytes; heap of the two open connections: {live} bytes \
         after the echo, {idle} bytes after release_buffers",
        core::mem::size_of::<Connection>()
    );
}
EOF

text_size() { size -A "$1" | awk '$1 == ".text" { print $2 }'; }
cd "$scratch"
export CARGO_TARGET_DIR="$scratch/target"

write_manifest ""
cargo build -q --release --target thumbv7em-none-eabihf
thumb="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/wsmachine-size"
echo "thumbv7em-none-eabihf, no std: .text $(text_size "$thumb") bytes"

cargo build -q --release
host="$CARGO_TARGET_DIR/release/wsmachine-size"
echo "x86_64, no std feature:        .text $(text_size "$host") bytes; $("$host")"

write_manifest ', features = ["std"]'
cargo build -q --release
echo "x86_64, std feature:           .text $(text_size "$host") bytes; $("$host")"
