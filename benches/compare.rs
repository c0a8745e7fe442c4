//! wsmachine against tungstenite and fastwebsockets, in one process, on the same input bytes.
//!
//! * `decode_*`: a stream of masked client→server frames read by a server, for payloads of
//!   16 B, 125 B, 1 KiB, 64 KiB and 1 MiB; binary, ASCII text and multi-byte UTF-8 text.
//!   Every payload is touched (its length summed through `black_box`).
//! * `encode_*`: unmasked server→client frames and masked client→server frames of the same
//!   sizes, written to an in-memory sink.
//! * `handshake`: a typical browser upgrade request parsed and answered with a 101.
//!
//! Writes go to an in-memory sink that copies each write into a reused buffer, as a socket
//! write copies into the kernel, so a zero-copy vectored write is not measured as free.
//!
//! Throughput counts frames (elements) and payload bytes. Each iteration handles
//! `frames_per_iter(size)` frames, about 1 MiB of payload (at least two frames).
//!
//! Every decoder reads from the same kind of in-memory stream, which hands out at most 64 KiB
//! per read and copies it into the reader's buffer, as a socket read does: the peers into their
//! own buffers, wsmachine into a caller's buffer passed to `receive` (`wsmachine`) or straight
//! into the lent `receive_buffer` (`wsmachine_lent`). `floor` is a hand-written loop doing only
//! the work every decoder must do (header, unmask, UTF-8, hand out): the rate to approach.
//!
//! By default criterion measures each implementation in turn, for seconds. With
//! `COMPARE_TURNS=<file>` the decode and encode cases run instead with a case's
//! implementations taking turns of a few milliseconds in one loop, and the ratios, medians
//! over the rounds, go to `<file>` (`common/runner.rs`; `scripts/bench.sh --turns`).

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use criterion::Throughput;
use handshake::{REQUEST, lower_bound_handshake, wsm_handshake};
use runner::Runner;
use wsmachine::__private::mask;
use wsmachine::{Config, Connection, Event, MessageKind, Role};

#[path = "common/handshake.rs"]
mod handshake;
#[path = "common/runner.rs"]
mod runner;

const SIZES: [usize; 5] = [16, 125, 1024, 64 * 1024, 1 << 20];
/// Payload bytes per iteration (rounded to whole frames, at least two).
const PAYLOAD_PER_ITER: usize = 1 << 20;
/// Largest read the in-memory streams hand out, and the read size of the chunked variant.
const READ_SIZE: usize = 64 * 1024;

fn frames_per_iter(size: usize) -> usize {
    (PAYLOAD_PER_ITER / size).max(2)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Binary,
    Ascii,
    Utf8,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::Ascii => "text_ascii",
            Kind::Utf8 => "text_utf8",
        }
    }

    fn opcode(self) -> u8 {
        match self {
            Kind::Binary => 0x2,
            Kind::Ascii | Kind::Utf8 => 0x1,
        }
    }
}

const KINDS: [Kind; 3] = [Kind::Binary, Kind::Ascii, Kind::Utf8];

/// A payload of exactly `size` bytes; text kinds are valid UTF-8.
fn payload(kind: Kind, size: usize) -> Vec<u8> {
    match kind {
        Kind::Binary => (0..size)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect(),
        Kind::Ascii => {
            let words = b"The quick brown fox jumps over the lazy dog; 0123456789! ";
            words.iter().copied().cycle().take(size).collect()
        }
        Kind::Utf8 => {
            // Cyrillic (2-byte), CJK (3-byte) and emoji (4-byte) mixed with ASCII spaces.
            let text =
                "Привет, мир! 你好，世界。 Съешь же ещё этих мягких булок 🙂 日本語のテキスト ";
            let mut out = String::with_capacity(size);
            for c in text.chars().cycle() {
                if out.len() + c.len_utf8() > size {
                    break;
                }
                out.push(c);
            }
            while out.len() < size {
                out.push(' ');
            }
            out.into_bytes()
        }
    }
}

/// A payload placed at a 64-byte boundary. Every implementation sends from a copy placed so:
/// a copy whose source and destination fall differently within cache lines ran up to 12 %
/// slower here, a difference of placement and not of the implementation.
struct Aligned {
    buf: Vec<u8>,
    at: usize,
    len: usize,
}

impl Aligned {
    fn new(bytes: &[u8]) -> Self {
        let mut buf = vec![0; bytes.len() + 64];
        let at = buf.as_ptr().align_offset(64);
        buf[at..at + bytes.len()].copy_from_slice(bytes);
        Aligned {
            buf,
            at,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.at..self.at + self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.at..self.at + self.len]
    }
}

/// One frame with FIN set, masked with `mask` if given.
fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 14);
    v.push(0x80 | opcode);
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        v.push(m | len as u8);
    } else if len <= 0xffff {
        v.push(m | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        v.push(m | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(k) => {
            v.extend_from_slice(&k);
            v.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => v.extend_from_slice(payload),
    }
    v
}

/// `n` masked client frames carrying `payload`, each with its own masking key.
fn client_stream(kind: Kind, payload: &[u8], n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n as u32 {
        let key = i
            .wrapping_mul(0x9e37_79b9)
            .wrapping_add(0x1234_5678)
            .to_be_bytes();
        v.extend_from_slice(&frame(kind.opcode(), payload, Some(key)));
    }
    v
}

fn wsm_config() -> Config {
    Config::default()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
}

// ----- in-memory transport -----------------------------------------------------------------

/// An in-memory transport: reads come from `data` (repeated forever when `cyclic`, at most
/// `READ_SIZE` bytes per read); each write is copied into a reused buffer, as a socket write
/// copies into the kernel, and counted.
struct MemStream<'a> {
    data: &'a [u8],
    pos: usize,
    cyclic: bool,
    written: u64,
    sink: Vec<u8>,
}

impl<'a> MemStream<'a> {
    fn cyclic(data: &'a [u8]) -> Self {
        MemStream {
            data,
            pos: 0,
            cyclic: true,
            written: 0,
            sink: Vec::new(),
        }
    }

    fn once(data: &'a [u8]) -> Self {
        MemStream {
            data,
            pos: 0,
            cyclic: false,
            written: 0,
            sink: Vec::new(),
        }
    }

    fn sink() -> Self {
        Self::once(&[])
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        if self.pos == self.data.len() {
            if !self.cyclic || self.data.is_empty() {
                return 0;
            }
            self.pos = 0;
        }
        let n = buf.len().min(READ_SIZE).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// Copy `buf` into the sink, at a 64-byte boundary (as a kernel's socket buffer is), so
    /// that where the sink happens to be allocated does not favour one implementation.
    fn write_from(&mut self, buf: &[u8]) -> usize {
        let mut at = self.sink.as_ptr().align_offset(64);
        if self.sink.len() < at + buf.len() {
            self.sink = vec![0; (buf.len() + 64).next_power_of_two()];
            at = self.sink.as_ptr().align_offset(64);
        }
        let dst = &mut self.sink[at..at + buf.len()];
        dst.copy_from_slice(buf);
        self.written += black_box(dst).len() as u64;
        buf.len()
    }
}

impl io::Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl io::Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.write_from(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for MemStream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.read_into(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().write_from(buf)))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Poll::Ready(Ok(bufs.iter().map(|b| this.write_from(b)).sum()))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("current-thread runtime")
}

// ----- decode ------------------------------------------------------------------------------

/// Poll every event; return (messages, payload bytes).
fn wsm_drain(conn: &mut Connection) -> (usize, usize) {
    let (mut n, mut bytes) = (0, 0);
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::Binary(b) => bytes += black_box(b).len(),
            Event::Text(t) => bytes += black_box(t).len(),
            other => panic!("unexpected event {other:?}"),
        }
        n += 1;
    }
    (n, bytes)
}

/// Whether `WSM_NO_HINT` is set: wsmachine then ignores `read_size_hint`.
fn no_hint() -> bool {
    static NO_HINT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO_HINT.get_or_init(|| std::env::var_os("WSM_NO_HINT").is_some())
}

/// Read from `src` until `frames` messages are delivered, polling after each read. Each read
/// is what a socket read makes: a copy of up to `READ_SIZE` bytes (fewer where
/// `read_size_hint` says so) into the caller's buffer (`buf`), then passed to `receive`; or
/// (`lent`) straight into the connection's own buffer from `receive_buffer`, then committed.
fn wsm_decode(
    conn: &mut Connection,
    src: &mut MemStream<'_>,
    buf: &mut [u8],
    lent: bool,
    frames: usize,
) -> (usize, usize) {
    let (mut n, mut bytes) = (0, 0);
    while n < frames {
        // Reads of up to `READ_SIZE`, fewer where the machine's hint ends a read with a large
        // frame (`WSM_NO_HINT` reads `READ_SIZE` every time, for the design measurement).
        let want = if no_hint() {
            READ_SIZE
        } else {
            conn.read_size_hint(READ_SIZE)
        };
        if lent {
            let got = src.read_into(&mut conn.receive_buffer(want)[..want]);
            conn.commit_received(got);
        } else {
            let got = src.read_into(&mut buf[..want]);
            conn.receive(&buf[..got]);
        }
        let (dn, db) = wsm_drain(conn);
        n += dn;
        bytes += db;
    }
    (n, bytes)
}

/// The floor: a hand-written server read loop with nothing but the work every implementation
/// must do. It reads into its own buffer, parses each header, unmasks the payload in place
/// (with wsmachine's kernel), validates text (simdutf8) and hands the payload out. A frame
/// longer than the buffer grows it, so a large payload stays contiguous. No limits, control
/// frames, fragmentation, close handling or events: no library can beat it.
struct Floor {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Floor {
    fn new() -> Self {
        Floor {
            buf: vec![0; READ_SIZE],
            start: 0,
            end: 0,
        }
    }

    /// (header length, payload length, masking key, text) of the masked, unfragmented data
    /// frame whose header is complete in `b`.
    #[inline]
    fn header(b: &[u8]) -> Option<(usize, usize, [u8; 4], bool)> {
        if b.len() < 2 {
            return None;
        }
        // What every server checks: FIN, no RSV bits, a data opcode, the mask bit.
        assert!(b[0] & 0xf0 == 0x80 && matches!(b[0] & 0x0f, 1 | 2) && b[1] & 0x80 != 0);
        let text = b[0] & 0x0f == 1;
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let mut be = [0; 8];
                be.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(be) as usize, 10)
            }
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        let key = b.get(at..at + 4)?;
        Some((at + 4, len, [key[0], key[1], key[2], key[3]], text))
    }

    fn decode(&mut self, src: &mut MemStream<'_>, frames: usize) -> (usize, usize) {
        let mut bytes = 0;
        for _ in 0..frames {
            let (h, len, key, text) = loop {
                let avail = &self.buf[self.start..self.end];
                let need = match Self::header(avail) {
                    Some(f) if avail.len() >= f.0 + f.1 => break f,
                    Some(f) => f.0 + f.1,
                    None => 14,
                };
                if self.buf.len() - self.start < need {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                    if self.buf.len() < need {
                        self.buf.resize(need, 0);
                    }
                }
                let room = (self.start + need)
                    .max(self.end + READ_SIZE)
                    .min(self.buf.len());
                let got = src.read_into(&mut self.buf[self.end..room]);
                self.end += got;
            };
            let payload = &mut self.buf[self.start + h..self.start + h + len];
            mask::apply_mask(payload, key, 0);
            if text {
                let t = simdutf8::basic::from_utf8(payload).expect("valid text");
                bytes += black_box(t).len();
            } else {
                bytes += black_box(&*payload).len();
            }
            self.start += h + len;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
        }
        (frames, bytes)
    }
}

type Tungstenite<'a> = tungstenite::WebSocket<MemStream<'a>>;

fn tung_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None)
}

fn tung_decode(ws: &mut Tungstenite<'_>, frames: usize) -> (usize, usize) {
    let mut bytes = 0;
    for _ in 0..frames {
        match ws.read().expect("tungstenite read") {
            tungstenite::Message::Binary(b) => bytes += black_box(&b).len(),
            tungstenite::Message::Text(t) => bytes += black_box(t.as_str()).len(),
            other => panic!("unexpected message {other:?}"),
        }
    }
    (frames, bytes)
}

type Fastws<'a> = fastwebsockets::FragmentCollector<MemStream<'a>>;

fn fastws(
    stream: MemStream<'_>,
    role: fastwebsockets::Role,
) -> fastwebsockets::WebSocket<MemStream<'_>> {
    let mut ws = fastwebsockets::WebSocket::after_handshake(stream, role);
    ws.set_auto_close(false);
    ws.set_max_message_size(64 << 20);
    ws
}

async fn fastws_decode(ws: &mut Fastws<'_>, frames: usize) -> (usize, usize) {
    let mut bytes = 0;
    for _ in 0..frames {
        let f = ws.read_frame().await.expect("fastwebsockets read");
        bytes += black_box(&f.payload[..]).len();
    }
    (frames, bytes)
}

fn decode(r: &mut Runner) {
    let rt = runtime();
    for kind in KINDS {
        for size in SIZES {
            let n = frames_per_iter(size);
            let group = format!("decode_{}", kind.name());
            if !r.wants(&group, size) {
                continue;
            }
            let p = payload(kind, size);
            let stream = client_stream(kind, &p, n);
            let expect = (n, n * size);

            // Each implementation's state, checked once before any timing.
            let [mut a, mut b] = [false, true].map(|lent| {
                let mut conn = Connection::from_upgraded(Role::Server, wsm_config());
                let mut src = MemStream::cyclic(&stream);
                let mut buf = vec![0; READ_SIZE];
                assert_eq!(wsm_decode(&mut conn, &mut src, &mut buf, lent, n), expect);
                (conn, src, buf)
            });

            let mut floor = Floor::new();
            let mut floor_src = MemStream::cyclic(&stream);
            assert_eq!(floor.decode(&mut floor_src, n), expect);

            let mut tung = tungstenite::WebSocket::from_raw_socket(
                MemStream::cyclic(&stream),
                tungstenite::protocol::Role::Server,
                Some(tung_config()),
            );
            assert_eq!(tung_decode(&mut tung, n), expect);

            let mut fast = fastwebsockets::FragmentCollector::new(fastws(
                MemStream::cyclic(&stream),
                fastwebsockets::Role::Server,
            ));
            assert_eq!(rt.block_on(fastws_decode(&mut fast, n)), expect);

            let mut case = r.case(&group, size, n, n * size);
            case.add("wsmachine", || {
                wsm_decode(&mut a.0, &mut a.1, &mut a.2, false, n)
            });
            case.add("wsmachine_lent", || {
                wsm_decode(&mut b.0, &mut b.1, &mut b.2, true, n)
            });
            case.add("floor", || floor.decode(&mut floor_src, n));
            case.add("tungstenite", || tung_decode(&mut tung, n));
            case.add("fastwebsockets", || {
                rt.block_on(fastws_decode(&mut fast, n))
            });
            case.finish();
        }
    }
}

// ----- encode ------------------------------------------------------------------------------

/// Send `frames` messages, writing the output to `sink` after each.
fn wsm_encode(
    conn: &mut Connection,
    sink: &mut MemStream<'_>,
    kind: Kind,
    p: &[u8],
    text: &str,
    frames: usize,
) {
    for _ in 0..frames {
        match kind {
            Kind::Binary => conn.send_binary(p),
            Kind::Ascii | Kind::Utf8 => conn.send_text(text),
        }
        .expect("send");
        let n = sink.write_from(conn.pending_output());
        conn.advance_output(n);
    }
}

/// Messages sent unbuffered: the header is queued, the payload written from the caller's
/// buffer (masked in place by a client) by the vectored write `output_parts` prepares. A
/// server sends text as `&str` (`send_unbuffered_text`, validated once by the type); a
/// client's text goes through `wsm_encode_string`.
fn wsm_encode_unbuffered(
    conn: &mut Connection,
    sink: &mut MemStream<'_>,
    kind: Kind,
    p: &mut [u8],
    text: &str,
    frames: usize,
) {
    for _ in 0..frames {
        match (conn.role(), kind) {
            (Role::Server, Kind::Binary) => conn.send_unbuffered(MessageKind::Binary, p, true),
            (Role::Server, _) => conn.send_unbuffered_text(text, true),
            (Role::Client, _) => conn.send_unbuffered_mut(MessageKind::Binary, p, true),
        }
        .expect("send");
        let payload: &[u8] = match (conn.role(), kind) {
            (Role::Server, Kind::Ascii | Kind::Utf8) => text.as_bytes(),
            _ => p,
        };
        let n = conn
            .output_parts(payload)
            .iter()
            .map(|s| sink.write_from(s))
            .sum();
        conn.advance_output(n);
    }
}

/// A client's text sent unbuffered: each message a `String` given up to
/// `send_unbuffered_string`, which masks its bytes in place (no validation, no copy), then
/// written from there like any unbuffered payload. The strings are made before the timing
/// (`iter_batched`), as fastwebsockets' payload buffer is; the bytes written are returned, to
/// be dropped after it.
fn wsm_encode_string(
    conn: &mut Connection,
    sink: &mut MemStream<'_>,
    texts: Vec<String>,
) -> Vec<Vec<u8>> {
    texts
        .into_iter()
        .map(|t| {
            let bytes = conn.send_unbuffered_string(t, true).expect("send");
            let n = conn
                .output_parts(&bytes)
                .iter()
                .map(|s| sink.write_from(s))
                .sum();
            conn.advance_output(n);
            bytes
        })
        .collect()
}

fn tung_encode(ws: &mut Tungstenite<'_>, msg: &tungstenite::Message, frames: usize) {
    for _ in 0..frames {
        ws.send(msg.clone()).expect("tungstenite send");
    }
}

async fn fastws_encode(
    ws: &mut fastwebsockets::WebSocket<MemStream<'_>>,
    kind: Kind,
    p: &mut [u8],
    frames: usize,
) {
    let opcode = match kind {
        Kind::Binary => fastwebsockets::OpCode::Binary,
        Kind::Ascii | Kind::Utf8 => fastwebsockets::OpCode::Text,
    };
    for _ in 0..frames {
        // A mutable borrow lets a client mask in place instead of copying the payload.
        let f =
            fastwebsockets::Frame::new(true, opcode, None, fastwebsockets::Payload::BorrowedMut(p));
        ws.write_frame(f).await.expect("fastwebsockets write");
    }
}

fn encode(r: &mut Runner) {
    let rt = runtime();
    let roles = [
        (
            "server",
            Role::Server,
            tungstenite::protocol::Role::Server,
            fastwebsockets::Role::Server,
        ),
        (
            "client",
            Role::Client,
            tungstenite::protocol::Role::Client,
            fastwebsockets::Role::Client,
        ),
    ];
    for (role_name, role, tung_role, fast_role) in roles {
        for kind in KINDS {
            for size in SIZES {
                let n = frames_per_iter(size);
                let group = format!("encode_{role_name}_{}", kind.name());
                if !r.wants(&group, size) {
                    continue;
                }
                let p = payload(kind, size);
                let pa = Aligned::new(&p);
                let text = std::str::from_utf8(pa.bytes()).unwrap_or("");
                let p = pa.bytes();
                let header = if size < 126 {
                    2
                } else if size < 65536 {
                    4
                } else {
                    10
                };
                let written =
                    (n * (size + header + if role == Role::Client { 4 } else { 0 })) as u64;

                // Each implementation's state, checked once before any timing.
                let mut conn = Connection::from_upgraded(role, wsm_config());
                let mut sink = MemStream::sink();
                wsm_encode(&mut conn, &mut sink, kind, p, text, n);
                assert_eq!(sink.written, written);

                let mut un_conn = Connection::from_upgraded(role, wsm_config());
                let mut un_sink = MemStream::sink();
                let mut up = Aligned::new(p);
                // A client's text goes as `String`s made before the timing.
                let strings = kind != Kind::Binary && role == Role::Client;
                let texts = || vec![text.to_string(); n];
                if strings {
                    drop(wsm_encode_string(&mut un_conn, &mut un_sink, texts()));
                } else {
                    wsm_encode_unbuffered(
                        &mut un_conn,
                        &mut un_sink,
                        kind,
                        up.bytes_mut(),
                        text,
                        n,
                    );
                }
                assert_eq!(un_sink.written, written);

                let msg = match kind {
                    Kind::Binary => {
                        tungstenite::Message::Binary(tungstenite::Bytes::from(p.to_vec()))
                    }
                    Kind::Ascii | Kind::Utf8 => tungstenite::Message::Text(text.into()),
                };
                let mut tung = tungstenite::WebSocket::from_raw_socket(
                    MemStream::sink(),
                    tung_role,
                    Some(tung_config()),
                );
                tung_encode(&mut tung, &msg, n);
                assert_eq!(tung.get_ref().written, written);

                let mut fp = Aligned::new(p);
                let mut fast = fastws(MemStream::sink(), fast_role);
                rt.block_on(fastws_encode(&mut fast, kind, fp.bytes_mut(), n));
                let fast_sink = fast.into_inner();
                assert_eq!(fast_sink.written, written);
                let mut fast = fastws(fast_sink, fast_role);

                let mut case = r.case(&group, size, n, n * size);
                case.add("wsmachine", || {
                    wsm_encode(&mut conn, &mut sink, kind, p, text, n)
                });
                if strings {
                    case.add_batched("wsmachine_unbuffered", texts, |t| {
                        wsm_encode_string(&mut un_conn, &mut un_sink, t)
                    });
                } else {
                    case.add("wsmachine_unbuffered", || {
                        wsm_encode_unbuffered(
                            &mut un_conn,
                            &mut un_sink,
                            kind,
                            up.bytes_mut(),
                            text,
                            n,
                        )
                    });
                }
                case.add("tungstenite", || tung_encode(&mut tung, &msg, n));
                case.add("fastwebsockets", || {
                    rt.block_on(fastws_encode(&mut fast, kind, fp.bytes_mut(), n))
                });
                case.finish();
            }
        }
    }
}

// ----- handshake ---------------------------------------------------------------------------

fn tung_handshake(req: &[u8]) -> u64 {
    let ws = tungstenite::accept(MemStream::once(req)).expect("tungstenite accept");
    black_box(ws.get_ref().written)
}

fn handshake(r: &mut Runner) {
    // In turns, `benches/handshake.rs` measures the handshake.
    let Some(c) = r.criterion() else {
        return;
    };
    assert!(
        (500..=650).contains(&REQUEST.len()),
        "request is {} bytes",
        REQUEST.len()
    );
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: REQUEST.len() as u64,
    });

    if wsm_handshake(REQUEST).is_some() {
        g.bench_function("wsmachine", |b| b.iter(|| wsm_handshake(REQUEST)));
    } else {
        eprintln!("handshake/wsmachine skipped: this build's server handshake did not open");
    }

    assert!(tung_handshake(REQUEST) > 0);
    g.bench_function("tungstenite", |b| b.iter(|| tung_handshake(REQUEST)));

    let mut out = Vec::new();
    lower_bound_handshake(REQUEST, &mut out);
    // RFC 6455 §1.3's sample key and accept value.
    assert!(
        out.windows(28)
            .any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    g.bench_function("httparse_sha1_base64", |b| {
        b.iter(|| lower_bound_handshake(REQUEST, &mut out))
    });
    g.finish();
}

fn main() {
    let mut r = Runner::from_env();
    decode(&mut r);
    encode(&mut r);
    handshake(&mut r);
    r.finish();
}
