//! Memory per connection: the size of the connection value and the heap bytes it holds when
//! just created, while open (after a 1 KiB message, its buffers grown to that traffic) and when
//! idle, for wsmachine (server role, after its handshake) and the two peers of
//! `benches/compare.rs` (server role, after theirs).
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
        size_of: std::mem::size_of::<Ws>(),
        created,
        open,
        idle: open,
        idle_how: "no way to release buffers",
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, which is cheap.
    let rows = [wsmachine_row(), tungstenite_row(), fastwebsockets_row()];
    println!(
        "{:<16} {:>8} {:>10} {:>10} {:>10}",
        "", "size_of", "created", "open", "idle"
    );
    let mut json = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        println!(
            "{:<16} {:>8} {:>10} {:>10} {:>10}  ({})",
            r.name, r.size_of, r.created, r.open, r.idle, r.idle_how
        );
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "{{\"name\":\"{}\",\"size_of\":{},\"created\":{},\"open\":{},\"idle\":{},\"idle_how\":\"{}\"}}",
            r.name, r.size_of, r.created, r.open, r.idle, r.idle_how
        ));
    }
    json.push(']');
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("memory.json");
    if let Err(e) = std::fs::write(&path, json) {
        eprintln!("could not write {}: {e}", path.display());
    }
}
