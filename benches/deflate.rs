//! permessage-deflate per message: compressing (`encode`, one frame) and inflating (`decode`)
//! 4 KiB JSON-like messages with context takeover, at the default settings and beside them;
//! the compressed size of each setting is printed first.
//!
//! Run: `cargo bench --bench deflate -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::Role;
use wsmachine::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};

/// 64 distinct 4 KiB messages of JSON-like records, as a chat or market feed sends.
fn messages() -> Vec<Vec<u8>> {
    (0..64u64)
        .map(|m| {
            let mut s = String::new();
            let mut i = 0u64;
            while s.len() < 4096 {
                let x = (m * 1000 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
                s.push_str(&format!(
                    "{{\"id\":{i},\"user\":\"user{}\",\"price\":{}.{:02},\"tags\":[\"a{}\",\"b\"],\"ok\":{}}},",
                    x % 1000,
                    x % 500,
                    x % 100,
                    x % 7,
                    x.is_multiple_of(2)
                ));
                i += 1;
            }
            s.truncate(4096);
            s.into_bytes()
        })
        .collect()
}

fn per_message(c: &mut Criterion) {
    let msgs = messages();
    let settings: [(&str, u8, u8, bool); 5] = [
        ("window12_level6", 12, 6, false),
        ("window12_level1", 12, 1, false),
        ("window15_level6", 15, 6, false),
        ("window8_level6", 8, 6, false),
        ("window12_level6_no_takeover", 12, 6, true),
    ];
    for (name, window, level, reset) in settings {
        let mut params = DeflateParams::default();
        params.server_max_window_bits = window;
        params.server_no_context_takeover = reset;
        let config = DeflateConfig::default().level(level);
        let mut server = PerMessageDeflate::new(Role::Server, &params, &config);
        // Every message compressed once, in order, for the inflate benchmark and the ratio.
        let mut wire = Vec::new();
        let mut compressed = Vec::new();
        for m in &msgs {
            wire.clear();
            server.encode(m, true, true, &mut wire);
            compressed.push(wire.clone());
        }
        let total: usize = compressed.iter().map(Vec::len).sum();
        eprintln!(
            "{name}: compressed to {:.1}% of {} bytes",
            100.0 * total as f64 / (msgs.len() * 4096) as f64,
            msgs.len() * 4096
        );

        let mut g = c.benchmark_group(format!("deflate/{name}"));
        g.throughput(Throughput::Bytes((msgs.len() * 4096) as u64));
        g.bench_function("encode_64_messages", |b| {
            b.iter(|| {
                for m in &msgs {
                    wire.clear();
                    black_box(server.encode(black_box(m), true, true, &mut wire));
                }
            })
        });
        // Inflating the same 64 messages over and over needs the inflater reset before each
        // round: a fresh one per round (creation is part of the figure, once per 64 messages).
        let mut out = Vec::with_capacity(8192);
        g.bench_function("decode_64_messages", |b| {
            b.iter(|| {
                let mut client = PerMessageDeflate::new(Role::Client, &params, &config);
                for w in &compressed {
                    out.clear();
                    client.inbound_frame(0b100, true).unwrap();
                    let d = client
                        .decode(black_box(w), true, &mut out, 1 << 20)
                        .unwrap();
                    assert!(d.finished);
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, per_message);
criterion_main!(benches);
