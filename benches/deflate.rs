//! permessage-deflate, two groups:
//!
//! * `deflate/<setting>`: compressing (`encode`, one frame) and inflating (`decode`) 4 KiB
//!   JSON-like messages with context takeover, at the default settings and beside them; the
//!   compressed size of each setting is printed first.
//! * `deflate_round_trip/<size>`: a JSON-like text message of 256 B, 4 KiB or 64 KiB sent by a
//!   client and echoed by the server, both with permessage-deflate negotiated at wsmachine's
//!   defaults (window 12, level 6, memLevel 5, context takeover): the client compresses and
//!   masks, the server unmasks, inflates and validates, then the other way round.
//!   - `wsmachine`: two connections opened by a real handshake, driven through `send_text`,
//!     `pending_output`/`advance_output`, `receive` and `poll_event`.
//!   - `zlib_rs_floor`: the same four DEFLATE operations on zlib-rs directly, with the same
//!     settings (raw streams, windows 12 to compress and 15 to inflate, level 6, memLevel 5,
//!     sync flush with the trailing `00 00 ff ff` removed, inflated with it appended), into
//!     buffers allocated and zeroed once: what any permessage-deflate implementation on
//!     zlib-rs must spend, without framing, masking or UTF-8 validation.
//!   - `ratchet`: ratchet_rs, a Rust WebSocket implementation with permessage-deflate (on C
//!     zlib through flate2, whose memLevel is fixed at 8), client and server over a tokio
//!     in-memory duplex stream on a current-thread runtime, negotiated with the same windows,
//!     level and context takeover.
//!
//! Each implementation runs through the same sequence of distinct messages, so that context
//! takeover sees the same history.
//!
//! Run: `cargo bench --bench deflate -- --warm-up-time 1 --measurement-time 2`
//! (`-- deflate_round_trip` for the second group alone).

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::deflate::{DeflateConfig, DeflateParams, PerMessageDeflate};
use wsmachine::extension::Extension;
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Event, Role};

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

// ----- round trips side by side ---------------------------------------------------------------

const ROUND_TRIP_SIZES: [usize; 3] = [256, 4096, 64 * 1024];

/// `count` distinct JSON-like texts of exactly `size` bytes: records of a chat or market feed.
fn json_messages(size: usize, count: usize) -> Vec<String> {
    (0..count as u64)
        .map(|m| {
            let mut s = String::from("[");
            let mut i = 0u64;
            while s.len() < size {
                let x = (m * 100_000 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33;
                s.push_str(&format!(
                    "{{\"id\":{},\"user\":\"user{}\",\"price\":{}.{:02},\"side\":\"{}\",\"ok\":{}}},",
                    m * 100_000 + i,
                    x % 1000,
                    x % 500,
                    x % 100,
                    if x.is_multiple_of(3) { "buy" } else { "sell" },
                    x.is_multiple_of(2)
                ));
                i += 1;
            }
            s.truncate(size);
            s
        })
        .collect()
}

/// wsmachine's defaults: window 12, level 6, memLevel 5, context takeover.
fn settings() -> DeflateConfig {
    DeflateConfig::default()
}

/// A client and a server that negotiated permessage-deflate in a real handshake.
struct WsPair {
    client: Connection,
    server: Connection,
}

impl WsPair {
    fn open() -> WsPair {
        let config = Config::default().deflate(Some(settings()));
        let mut client = Connection::client(&ClientRequest::new("example.com", "/"), config);
        let mut server = Connection::server(config);
        carry(&mut client, &mut server);
        assert!(matches!(
            server.poll_event(),
            Some(Event::HandshakeRequest(_))
        ));
        server.accept(Accept::new()).unwrap();
        assert!(matches!(server.poll_event(), Some(Event::Open(_))));
        carry(&mut server, &mut client);
        match client.poll_event() {
            Some(Event::Open(n)) => assert_eq!(n.extensions()[0].name, "permessage-deflate"),
            other => panic!("{other:?}"),
        }
        WsPair { client, server }
    }

    /// The client sends `msg`, the server receives it and sends it back, the client receives
    /// it; returns the bytes on the wire both ways.
    fn round_trip(&mut self, msg: &str) -> usize {
        self.client.send_text(msg).unwrap();
        let up = carry(&mut self.client, &mut self.server);
        match self.server.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t.len(), msg.len()),
            other => panic!("{other:?}"),
        }
        self.server.send_text(msg).unwrap();
        let down = carry(&mut self.server, &mut self.client);
        match self.client.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t.len(), msg.len()),
            other => panic!("{other:?}"),
        }
        up + down
    }
}

/// Move all of `from`'s output into `to`; returns how many bytes moved.
fn carry(from: &mut Connection, to: &mut Connection) -> usize {
    let n = from.pending_output().len();
    to.receive(from.pending_output());
    from.advance_output(n);
    n
}

/// The end of a sync flush, removed by the sender and appended by the receiver (RFC 7692).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The same DEFLATE work on zlib-rs directly: each side's compressor and inflater, and one
/// wire buffer and one output buffer, allocated and zeroed once.
struct Floor {
    client_deflate: zlib_rs::Deflate,
    server_inflate: zlib_rs::Inflate,
    server_deflate: zlib_rs::Deflate,
    client_inflate: zlib_rs::Inflate,
    wire: Vec<u8>,
    out: Vec<u8>,
}

impl Floor {
    fn new(largest: usize) -> Floor {
        let d = settings();
        let config = zlib_rs::DeflateConfig {
            level: i32::from(d.level),
            method: zlib_rs::Method::Deflated,
            window_bits: -i32::from(d.window_bits),
            mem_level: i32::from(d.mem_level),
            strategy: zlib_rs::Strategy::Default,
        };
        Floor {
            client_deflate: zlib_rs::Deflate::new_with_config(config),
            server_inflate: zlib_rs::Inflate::new(false, 15),
            server_deflate: zlib_rs::Deflate::new_with_config(config),
            client_inflate: zlib_rs::Inflate::new(false, 15),
            wire: vec![0; largest + largest / 1024 + 64],
            out: vec![0; largest + 64],
        }
    }

    /// Compress `msg` with a sync flush and remove the tail; returns the compressed length.
    fn compress(deflate: &mut zlib_rs::Deflate, msg: &[u8], wire: &mut [u8]) -> usize {
        let before = deflate.total_out();
        deflate
            .compress(msg, wire, zlib_rs::DeflateFlush::SyncFlush)
            .unwrap();
        let n = (deflate.total_out() - before) as usize;
        debug_assert!(wire[..n].ends_with(&TAIL));
        n - TAIL.len()
    }

    /// Inflate `data` with the tail appended; returns the inflated length.
    fn inflate(inflate: &mut zlib_rs::Inflate, data: &[u8], out: &mut [u8]) -> usize {
        let before = inflate.total_out();
        inflate
            .decompress(data, out, zlib_rs::InflateFlush::SyncFlush)
            .unwrap();
        let at = (inflate.total_out() - before) as usize;
        inflate
            .decompress(&TAIL, &mut out[at..], zlib_rs::InflateFlush::SyncFlush)
            .unwrap();
        (inflate.total_out() - before) as usize
    }

    fn round_trip(&mut self, msg: &str) -> usize {
        let msg = msg.as_bytes();
        let up = Self::compress(&mut self.client_deflate, msg, &mut self.wire);
        let n = Self::inflate(&mut self.server_inflate, &self.wire[..up], &mut self.out);
        assert_eq!(n, msg.len());
        let down = Self::compress(&mut self.server_deflate, msg, &mut self.wire);
        let n = Self::inflate(&mut self.client_inflate, &self.wire[..down], &mut self.out);
        assert_eq!(n, msg.len());
        up + down
    }
}

/// An in-memory duplex stream that counts the bytes written through it.
struct Counted {
    inner: tokio::io::DuplexStream,
    written: Arc<AtomicUsize>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type RatchetWs = ratchet_rs::WebSocket<Counted, ratchet_rs::deflate::Deflate>;

/// A ratchet_rs client and server over a duplex stream, permessage-deflate negotiated with
/// wsmachine's windows, level and context takeover.
struct RatchetPair {
    client: RatchetWs,
    server: RatchetWs,
    buf: bytes::BytesMut,
    written: Arc<AtomicUsize>,
}

impl RatchetPair {
    async fn open() -> RatchetPair {
        use ratchet_rs::deflate::{Compression, DeflateExtProvider, WindowBits};
        use ratchet_rs::{SubprotocolRegistry, WebSocketConfig};
        let d = settings();
        let config = ratchet_rs::deflate::DeflateConfig {
            server_max_window_bits: WindowBits::try_from(d.window_bits).unwrap(),
            client_max_window_bits: WindowBits::try_from(d.window_bits).unwrap(),
            request_server_no_context_takeover: false,
            request_client_no_context_takeover: false,
            // ratchet's server resets its compressor after every message whenever this is
            // set, asked or not: off, so that both sides keep their context as asked.
            accept_no_context_takeover: false,
            compression_level: Compression::new(u32::from(d.level)),
        };
        let written = Arc::new(AtomicUsize::new(0));
        let (a, b) = tokio::io::duplex(1 << 20);
        let (a, b) = (
            Counted {
                inner: a,
                written: written.clone(),
            },
            Counted {
                inner: b,
                written: written.clone(),
            },
        );
        let server_ext = DeflateExtProvider::with_config(config);
        let client_ext = DeflateExtProvider::with_config(config);
        // The server's side of the handshake runs as a task while the client's is awaited.
        let server = tokio::spawn(async move {
            ratchet_rs::accept_with(
                b,
                WebSocketConfig::default(),
                server_ext,
                SubprotocolRegistry::default(),
            )
            .await
            .unwrap()
            .upgrade()
            .await
            .unwrap()
            .websocket
        });
        let client = ratchet_rs::subscribe_with(
            WebSocketConfig::default(),
            a,
            "ws://example.com/",
            &client_ext,
            SubprotocolRegistry::default(),
        )
        .await
        .unwrap()
        .websocket;
        let server = server.await.unwrap();
        RatchetPair {
            client,
            server,
            buf: bytes::BytesMut::with_capacity(1 << 17),
            written,
        }
    }

    /// The same round trip; returns the bytes written both ways.
    async fn round_trip(&mut self, msg: &str) -> usize {
        use ratchet_rs::{Message, PayloadType};
        let before = self.written.load(Ordering::Relaxed);
        self.client
            .write(msg.as_bytes(), PayloadType::Text)
            .await
            .unwrap();
        self.buf.clear();
        assert!(matches!(
            self.server.read(&mut self.buf).await.unwrap(),
            Message::Text
        ));
        assert_eq!(self.buf.len(), msg.len());
        self.server
            .write(msg.as_bytes(), PayloadType::Text)
            .await
            .unwrap();
        self.buf.clear();
        assert!(matches!(
            self.client.read(&mut self.buf).await.unwrap(),
            Message::Text
        ));
        assert_eq!(self.buf.len(), msg.len());
        self.written.load(Ordering::Relaxed) - before
    }
}

/// The three side by side in alternating batches of round trips, each figure the fastest
/// batch of its implementation: on a machine shared with other work, a load that comes and
/// goes during one implementation's criterion run shifts its figure against the others', while
/// the fastest of many short alternating batches is taken under the same conditions for all
/// three. Printed, and quoted in `BENCHMARKS.md` beside criterion's figures.
fn interleaved(
    size: usize,
    msgs: &[String],
    ws: &mut WsPair,
    floor: &mut Floor,
    ratchet: &mut RatchetPair,
    rt: &tokio::runtime::Runtime,
) {
    const BATCHES: usize = 40;
    let per_batch = (1_000_000 / size).clamp(4, 2000);
    let mut best = [f64::MAX; 3];
    let mut i = 0;
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..per_batch {
            i = (i + 1) % msgs.len();
            black_box(ws.round_trip(black_box(&msgs[i])));
        }
        best[0] = best[0].min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for _ in 0..per_batch {
            i = (i + 1) % msgs.len();
            black_box(floor.round_trip(black_box(&msgs[i])));
        }
        best[1] = best[1].min(start.elapsed().as_secs_f64());
        let elapsed = rt.block_on(async {
            let start = Instant::now();
            for _ in 0..per_batch {
                i = (i + 1) % msgs.len();
                black_box(ratchet.round_trip(black_box(&msgs[i])).await);
            }
            start.elapsed()
        });
        best[2] = best[2].min(elapsed.as_secs_f64());
    }
    let us = best.map(|t| t * 1e6 / per_batch as f64);
    eprintln!(
        "round trip of {size} B, fastest of {BATCHES} alternating batches of {per_batch}: \
         wsmachine {:.2} us, zlib-rs floor {:.2} us (wsmachine / floor = {:.3}), \
         ratchet {:.2} us (ratchet / wsmachine = {:.2})",
        us[0],
        us[1],
        us[0] / us[1],
        us[2],
        us[2] / us[0],
    );
}

fn round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("current-thread runtime");
    let mut g = c.benchmark_group("deflate_round_trip");
    for size in ROUND_TRIP_SIZES {
        let msgs = json_messages(size, if size > 4096 { 16 } else { 64 });
        g.throughput(Throughput::Bytes(size as u64));

        // Each compresses: a pass over the messages, the wire bytes it took against the text's.
        let mut ws = WsPair::open();
        let mut floor = Floor::new(size);
        let mut ratchet = rt.block_on(RatchetPair::open());
        let text: usize = 2 * msgs.iter().map(String::len).sum::<usize>();
        let ws_wire: usize = msgs.iter().map(|m| ws.round_trip(m)).sum();
        let floor_wire: usize = msgs.iter().map(|m| floor.round_trip(m)).sum();
        let ratchet_wire: usize = rt.block_on(async {
            let mut n = 0;
            for m in &msgs {
                n += ratchet.round_trip(m).await;
            }
            n
        });
        eprintln!(
            "round trip of {size} B: on the wire {:.1}% (wsmachine, frames included), \
             {:.1}% (zlib-rs floor, DEFLATE only), {:.1}% (ratchet, frames included)",
            100.0 * ws_wire as f64 / text as f64,
            100.0 * floor_wire as f64 / text as f64,
            100.0 * ratchet_wire as f64 / text as f64,
        );
        for (name, wire) in [("wsmachine", ws_wire), ("ratchet", ratchet_wire)] {
            assert!(wire < text / 2, "{name}: {wire} wire bytes for {text}");
        }

        interleaved(size, &msgs, &mut ws, &mut floor, &mut ratchet, &rt);

        let mut i = 0;
        g.bench_function(BenchmarkId::new("wsmachine", size), |b| {
            b.iter(|| {
                i = (i + 1) % msgs.len();
                black_box(ws.round_trip(black_box(&msgs[i])))
            })
        });
        g.bench_function(BenchmarkId::new("zlib_rs_floor", size), |b| {
            b.iter(|| {
                i = (i + 1) % msgs.len();
                black_box(floor.round_trip(black_box(&msgs[i])))
            })
        });
        g.bench_function(BenchmarkId::new("ratchet", size), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        i = (i + 1) % msgs.len();
                        black_box(ratchet.round_trip(black_box(&msgs[i])).await);
                    }
                    start.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, per_message, round_trip);
criterion_main!(benches);
