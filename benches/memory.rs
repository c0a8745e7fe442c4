//! Memory per connection: the size of the connection value and the heap bytes it holds when
//! just created, while open (after a 1 KiB message, its buffers grown to that traffic) and when
//! idle, for wsmachine (server role, after its handshake) and the two peers of
//! `benches/compare.rs` (server role, after theirs).
//!
//! With permessage-deflate (RFC 7692, feature `deflate`), which neither peer implements,
//! wsmachine is measured at three settings: its defaults (window 12, memLevel 5), the same
//! without context takeover either way, and zlib's usual window 15 and memLevel 8. Its zlib-rs
//! streams are created on first use, so "open" is after one 1 KiB text message each way: the
//! server has inflated one and compressed one.
//!
//! A counting global allocator (this binary only) measures the heap bytes each connection
//! holds. Run: `cargo bench --bench memory`; it prints a table and writes
//! `target/memory.json`, which `scripts/bench_table.py` puts in `BENCHMARKS.md`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicI64, Ordering};

use wsmachine::handshake::Accept;
use wsmachine::{Config, Connection, Event};

struct Counting;

/// Live heap bytes of the whole process (the measurements run on one thread, one at a time).
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping is one
// atomic counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// One implementation's figures, in bytes.
struct Row {
    name: &'static str,
    /// What the connection compresses with, if anything.
    compression: &'static str,
    /// The traffic before the "open" figure.
    open_after: &'static str,
    size_of: usize,
    created: i64,
    open: i64,
    idle: i64,
    /// How the idle figure is reached.
    idle_how: &'static str,
}

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A masked client text frame with a 1 KiB payload.
fn client_frame() -> Vec<u8> {
    let payload = vec![b'x'; 1024];
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut f = vec![0x81, 0xFE, 0x04, 0x00];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    f
}

fn wsmachine_row() -> Row {
    let frame = client_frame();
    let base = live();
    let mut conn = Connection::server(Config::default());
    let created = live() - base;
    conn.receive(REQUEST);
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::HandshakeRequest(_) => conn.accept(Accept::new()).expect("accept"),
            Event::Open(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let n = conn.pending_output().len();
    conn.advance_output(n);
    conn.receive(&frame);
    match conn.poll_event() {
        Some(Event::Text(t)) => assert_eq!(t.len(), 1024),
        other => panic!("unexpected {other:?}"),
    }
    assert!(conn.poll_event().is_none());
    let open = live() - base;
    conn.release_buffers();
    let idle = live() - base;
    let row = Row {
        name: "wsmachine",
        compression: "none",
        open_after: "1 KiB received",
        size_of: std::mem::size_of::<Connection>(),
        created,
        open,
        idle,
        idle_how: "`release_buffers`",
    };
    drop(conn);
    assert_eq!(live(), base, "wsmachine: memory freed on drop");
    row
}

/// A JSON-like text of exactly 1 KiB, the message of the compressing rows.
#[cfg(all(feature = "deflate", feature = "getrandom"))]
fn json_1k() -> String {
    let mut s = String::from("[");
    let mut i = 0u32;
    while s.len() < 1024 {
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"online\":{}}},",
            i * 37 % 1000,
            i.is_multiple_of(3)
        ));
        i += 1;
    }
    s.truncate(1024);
    s
}

/// What a wsmachine client configured with `deflate` sends a server: its upgrade request, with
/// its permessage-deflate offer, and the 1 KiB text compressed as the server's answer settled.
/// Recorded from a real client and server before the measurement, so that the measured server
/// is the only connection that allocates while it is measured.
#[cfg(all(feature = "deflate", feature = "getrandom"))]
fn client_bytes(deflate: wsmachine::deflate::DeflateConfig, text: &str) -> (Vec<u8>, Vec<u8>) {
    use wsmachine::handshake::ClientRequest;
    let config = Config::default().deflate(Some(deflate));
    let mut client = Connection::client(&ClientRequest::new("example.com", "/chat"), config);
    let take = |conn: &mut Connection| {
        let out = conn.pending_output().to_vec();
        conn.advance_output(out.len());
        out
    };
    let request = take(&mut client);
    let mut server = Connection::server(config);
    server.receive(&request);
    assert!(matches!(
        server.poll_event(),
        Some(Event::HandshakeRequest(_))
    ));
    server.accept(Accept::new()).expect("accept");
    client.receive(&take(&mut server));
    assert!(matches!(client.poll_event(), Some(Event::Open(_))));
    client.send_text(text).expect("send");
    let frame = take(&mut client);
    assert_eq!(frame[0], 0xC1, "FIN, RSV1 (compressed), text");
    (request, frame)
}

/// wsmachine, server role, permessage-deflate negotiated with `deflate` on both sides: created,
/// open after one 1 KiB text message each way (both streams exist), idle after
/// `release_buffers`. `streams` is what the zlib-rs streams must hold while open.
#[cfg(all(feature = "deflate", feature = "getrandom"))]
fn wsmachine_deflate_row(
    compression: &'static str,
    deflate: wsmachine::deflate::DeflateConfig,
    streams: usize,
    released: bool,
) -> Row {
    let text = json_1k();
    let (request, frame) = client_bytes(deflate, &text);
    let base = live();
    let mut conn = Connection::server(Config::default().deflate(Some(deflate)));
    let created = live() - base;
    conn.receive(&request);
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::HandshakeRequest(_) => conn.accept(Accept::new()).expect("accept"),
            Event::Open(n) => assert_eq!(n.extensions()[0].name, "permessage-deflate"),
            other => panic!("unexpected {other:?}"),
        }
    }
    let n = conn.pending_output().len();
    conn.advance_output(n);
    conn.receive(&frame);
    match conn.poll_event() {
        Some(Event::Text(t)) => assert_eq!(t, text),
        other => panic!("unexpected {other:?}"),
    }
    assert!(conn.poll_event().is_none());
    conn.send_text(&text).expect("send");
    let n = conn.pending_output().len();
    assert!(n < text.len() / 2, "compressed: {n} bytes");
    conn.advance_output(n);
    let open = live() - base;
    let buffers = conn.buffered_capacity();
    assert!(
        buffers >= streams,
        "{compression}: {buffers} buffered bytes"
    );
    conn.release_buffers();
    let idle = live() - base;
    let kept = conn.buffered_capacity();
    assert_eq!(kept, if released { 0 } else { streams }, "{compression}");
    let row = Row {
        name: "wsmachine",
        compression,
        open_after: "1 KiB each way",
        size_of: std::mem::size_of::<Connection>(),
        created,
        open,
        idle,
        idle_how: if released {
            "`release_buffers` (streams given back)"
        } else {
            "`release_buffers` (streams kept: context takeover)"
        },
    };
    drop(conn);
    assert_eq!(live(), base, "wsmachine: memory freed on drop");
    row
}

/// The three compressing settings: the defaults, no context takeover either way, and zlib's
/// usual window 15 and memLevel 8 (streams of 212,544, 0 when idle, and 427,584 bytes: the
/// `deflate` module's table).
#[cfg(all(feature = "deflate", feature = "getrandom"))]
fn wsmachine_deflate_rows() -> Vec<Row> {
    use wsmachine::deflate::DeflateConfig;
    vec![
        wsmachine_deflate_row(
            "permessage-deflate: window 12, memLevel 5 (defaults)",
            DeflateConfig::default(),
            212_544,
            false,
        ),
        wsmachine_deflate_row(
            "permessage-deflate: window 12, memLevel 5, no context takeover either way",
            DeflateConfig::default()
                .no_context_takeover(true)
                .peer_no_context_takeover(true),
            212_544,
            true,
        ),
        wsmachine_deflate_row(
            "permessage-deflate: window 15, memLevel 8",
            DeflateConfig::default().window_bits(15).mem_level(8),
            427_584,
            false,
        ),
    ]
}

#[cfg(not(all(feature = "deflate", feature = "getrandom")))]
fn wsmachine_deflate_rows() -> Vec<Row> {
    Vec::new()
}

fn tungstenite_row() -> Row {
    type Ws = tungstenite::WebSocket<Cursor<Vec<u8>>>;
    let stream = Cursor::new(client_frame());
    let base = live();
    let mut ws = Ws::from_raw_socket(stream, tungstenite::protocol::Role::Server, None);
    let created = live() - base;
    match ws.read().expect("tungstenite read") {
        tungstenite::Message::Text(t) => assert_eq!(t.len(), 1024),
        other => panic!("unexpected {other:?}"),
    }
    let open = live() - base;
    Row {
        name: "tungstenite",
        compression: "none (not implemented)",
        open_after: "1 KiB received",
        size_of: std::mem::size_of::<Ws>(),
        created,
        open,
        idle: open,
        idle_how: "no way to release buffers",
    }
}

fn fastwebsockets_row() -> Row {
    type Ws = fastwebsockets::FragmentCollector<Cursor<Vec<u8>>>;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("current-thread runtime");
    let stream = Cursor::new(client_frame());
    let base = live();
    let ws = fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
    let mut ws = Ws::new(ws);
    let created = live() - base;
    rt.block_on(async {
        let f = ws.read_frame().await.expect("fastwebsockets read");
        assert_eq!(f.payload.len(), 1024);
    });
    let open = live() - base;
    Row {
        name: "fastwebsockets",
        compression: "none (not implemented)",
        open_after: "1 KiB received",
        size_of: std::mem::size_of::<Ws>(),
        created,
        open,
        idle: open,
        idle_how: "no way to release buffers",
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, which is cheap.
    let mut rows = vec![wsmachine_row()];
    rows.extend(wsmachine_deflate_rows());
    rows.push(tungstenite_row());
    rows.push(fastwebsockets_row());
    println!(
        "{:<16} {:<74} {:>8} {:>10} {:>10} {:>10}",
        "", "compression", "size_of", "created", "open", "idle"
    );
    let mut json = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        println!(
            "{:<16} {:<74} {:>8} {:>10} {:>10} {:>10}  (open after {}; idle by {})",
            r.name, r.compression, r.size_of, r.created, r.open, r.idle, r.open_after, r.idle_how
        );
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "{{\"name\":\"{}\",\"compression\":\"{}\",\"open_after\":\"{}\",\"size_of\":{},\"created\":{},\"open\":{},\"idle\":{},\"idle_how\":\"{}\"}}",
            r.name, r.compression, r.open_after, r.size_of, r.created, r.open, r.idle, r.idle_how
        ));
    }
    json.push(']');
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("memory.json");
    if let Err(e) = std::fs::write(&path, json) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
