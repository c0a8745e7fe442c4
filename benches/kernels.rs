//! Throughput of the per-byte kernels on the receive path: unmasking, UTF-8 validation, and
//! frame header decoding; and the accept key of the opening handshake.
//!
//! Run: `cargo bench --bench kernels -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::__private::frame::{MAX_HEADER_LEN, OpCode, decode_header, encode_header};
use wsmachine::__private::mask::{apply_mask, apply_mask_bytewise, mask_into};
use wsmachine::__private::utf8::{Utf8Validator, as_str};
use wsmachine::__private::utf8_simd;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn unmask(c: &mut Criterion) {
    for size in [16usize, 1024, 64 * 1024, 1024 * 1024] {
        let mut g = c.benchmark_group(format!("unmask/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0x5au8; size];
        // Offset 1: a phase that is not 0, as after a payload split across reads.
        g.bench_function("apply_mask", |b| {
            b.iter(|| apply_mask(black_box(&mut buf), KEY, 1))
        });
        g.bench_function("bytewise", |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), KEY, 1))
        });
        // A received payload that must be copied into the connection's buffer: copy then
        // unmask in place, against the fused copy.
        let src = vec![0xa5u8; size];
        g.bench_function("copy_then_apply_mask", |b| {
            b.iter(|| {
                buf.copy_from_slice(black_box(&src));
                apply_mask(black_box(&mut buf), KEY, 1)
            })
        });
        g.bench_function("mask_into", |b| {
            b.iter(|| mask_into(black_box(&mut buf), black_box(&src), KEY, 1))
        });
        g.finish();
    }
}

/// `len` bytes of text, cut back to a character boundary.
fn text(len: usize, multibyte: bool) -> Vec<u8> {
    let unit = if multibyte {
        "Привет, мир! 你好，世界。Съешь же ещё этих мягких булок. 敏捷的棕色狐狸。"
    } else {
        "The quick brown fox jumps over the lazy dog. "
    };
    let mut s = String::with_capacity(len + unit.len());
    while s.len() < len {
        s.push_str(unit);
    }
    let mut n = len;
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.truncate(n);
    s.into_bytes()
}

fn utf8(c: &mut Criterion) {
    for (kind, multibyte) in [("ascii", false), ("multibyte", true)] {
        for size in [16usize, 48, 125, 1024, 64 * 1024] {
            let data = text(size, multibyte);
            let mut g = c.benchmark_group(format!("utf8/{kind}/{size}"));
            g.throughput(Throughput::Bytes(data.len() as u64));
            g.bench_function("validator", |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    v.feed(black_box(&data)).is_ok() && v.is_complete()
                })
            });
            // The same text in 100-byte reads, so code points are split between calls.
            g.bench_function("validator_split_100", |b| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    black_box(&data)
                        .chunks(100)
                        .all(|piece| v.feed(piece).is_ok())
                        && v.is_complete()
                })
            });
            // A whole text frame at delivery.
            g.bench_function("as_str", |b| b.iter(|| as_str(black_box(&data)).is_some()));
            g.bench_function("std_from_utf8", |b| {
                b.iter(|| std::str::from_utf8(black_box(&data)).is_ok())
            });
            g.bench_function("simdutf8_compat", |b| {
                b.iter(|| simdutf8::compat::from_utf8(black_box(&data)).is_ok())
            });
            g.bench_function("simdutf8_basic", |b| {
                b.iter(|| simdutf8::basic::from_utf8(black_box(&data)).is_ok())
            });
            if utf8_simd::is_valid(&data).is_some() {
                g.bench_function("avx512", |b| {
                    b.iter(|| utf8_simd::is_valid(black_box(&data)))
                });
            }
            g.finish();
        }
    }
}

fn headers(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_header");
    for (name, len) in [("len7", 16u64), ("len16", 1024), ("len64", 1 << 20)] {
        let mut wire = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&mut wire, true, 0, OpCode::Binary, Some(KEY), len);
        g.bench_function(format!("masked_{name}"), |b| {
            b.iter(|| decode_header(black_box(&wire[..n]), true, 0))
        });
    }
    g.finish();
}

/// `Sec-WebSocket-Accept` from a key: wsmachine's `accept_key` against the same SHA-1 and
/// base64 done with the `base64` crate and either RustCrypto's `sha1` (the processor's SHA
/// instructions where it has them) or the portable `sha1_smol` (all into a new `String`).
fn accept(c: &mut Criterion) {
    use base64::Engine as _;
    let key = b"dGhlIHNhbXBsZSBub25jZQ==";
    let mut g = c.benchmark_group("accept_key");
    g.bench_function("wsmachine", |b| {
        b.iter(|| wsmachine::handshake::accept_key(black_box(key)))
    });
    g.bench_function("sha1_base64", |b| {
        b.iter(|| {
            use sha1::Digest as _;
            let mut sha = sha1::Sha1::new();
            sha.update(black_box(key));
            sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            base64::engine::general_purpose::STANDARD.encode(sha.finalize())
        })
    });
    g.bench_function("sha1_smol_base64", |b| {
        b.iter(|| {
            let mut sha = sha1_smol::Sha1::new();
            sha.update(black_box(key));
            sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
        })
    });
    g.finish();
}

criterion_group!(benches, unmask, utf8, headers, accept);
criterion_main!(benches);
