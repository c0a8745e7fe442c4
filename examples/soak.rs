//! A load soak for the echo server: thousands of concurrent WebSocket clients on loopback, a
//! mix of idle, chatty and slow-reading ones and a share of hostile ones, every echo checked.
//!
//! ```text
//! cargo run --release --example soak -- --addr 127.0.0.1:9001 [--conns N] \
//!     [--server-pid PID] [--idle-secs S] [--active-secs S] [--think-ms MS] \
//!     [--handshake-timeout S] [--clk-tck HZ]
//! ```
//!
//! `scripts/soak.sh` starts `echo_server` and runs this against it. The connections, as shares
//! of `--conns` (default 1000):
//!
//! - **idle** (70%): open the WebSocket (offering permessage-deflate, as browsers do), then
//!   stay silent; at the end a Ping whose Pong must come back;
//! - **chatty** (15%, permessage-deflate): a text message of 16 B to 1 KiB of mixed ASCII and
//!   multi-byte UTF-8, the next one about `--think-ms` (default 500) after its echo, for the
//!   active phase: some 3 000 messages a second at 10 000 connections, well within what two
//!   cores compress, so that the latency measured is the service's and not a queue's (a
//!   shorter think time measures the server saturated);
//! - **slow readers** (5%, no compression): eight 32 KiB binary messages at once, then reading
//!   4 KiB every 25 ms, so that the server holds their echoes back;
//! - **hostile** (10%): slowloris heads (a header byte a second, answered 408 at the server's
//!   handshake timeout), a frame header claiming 64 MiB (Close 1009), text of invalid UTF-8
//!   (Close 1007), a compressed message inflating past 16 MiB (Close 1009, a few only), and
//!   resets in the middle of a frame.
//!
//! Phases: every well-behaved connection is opened; they stay idle for `--idle-secs`; the
//! chatty and slow ones then run for `--active-secs` while the hostile ones attack; every
//! echo, Pong and hostile outcome is awaited; every well-behaved connection closes with 1000.
//! With `--server-pid`, the server's resident memory (`/proc/PID/status`) and CPU time
//! (`/proc/PID/stat`, in ticks of `--clk-tck`) are read at the phase boundaries.
//!
//! Prints a report and exits with 1 when an echo is lost, a message comes back changed, a
//! hostile connection is not closed as documented, or a phase overruns its bound. Every
//! phase is bounded in time, so a run ends by itself.
//!
//! The open-file limit must admit every connection: `scripts/soak.sh` raises it with `ulimit`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ClientRequest;
use wsmachine::{Config, Connection, Event};

/// Connections opening at once at most: a listen backlog overflowing only slows the run down
/// (SYNs retried after a second).
const OPENING_AT_ONCE: usize = 256;
/// How often the timed work runs: chatty sends, slow reads, slowloris bytes.
const TICK: Duration = Duration::from_millis(10);
/// What a slow reader reads each time, and how often.
const SLOW_READ: usize = 4096;
const SLOW_EVERY: Duration = Duration::from_millis(25);
/// What a slow reader sends at once.
const SLOW_MESSAGES: u64 = 8;
const SLOW_SIZE: usize = 32 * 1024;
/// What the server is started with (`--max-frame-size` of the example is 16 MiB): a frame
/// header claiming more, and a compressed message inflating to more.
const OVERSIZED_CLAIM: u64 = 64 << 20;
const BOMB_SIZE: usize = 17 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Idle,
    Chatty,
    Slow,
    Slowloris,
    Oversized,
    BadUtf8,
    Bomb,
    Reset,
}

impl Kind {
    fn hostile(self) -> bool {
        !matches!(self, Kind::Idle | Kind::Chatty | Kind::Slow)
    }
    /// Whether the connection is read by the client machine (not as raw bytes).
    fn websocket(self) -> bool {
        self != Kind::Slowloris
    }
    fn deflate(self) -> bool {
        matches!(self, Kind::Idle | Kind::Chatty | Kind::Bomb)
    }
}

struct Options {
    addr: SocketAddr,
    conns: usize,
    server_pid: Option<u32>,
    idle: Duration,
    active: Duration,
    think: Duration,
    handshake_timeout: Duration,
    clk_tck: f64,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
        conns: 1000,
        server_pid: None,
        idle: Duration::from_secs(3),
        active: Duration::from_secs(15),
        think: Duration::from_millis(500),
        handshake_timeout: Duration::from_secs(10),
        clk_tck: 100.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let v = args.next().ok_or(format!("{arg} needs a value"))?;
        let bad = || format!("{arg} {v}: not a number");
        match arg.as_str() {
            "--addr" => {
                o.addr = v
                    .parse()
                    .map_err(|_| format!("--addr {v}: not an address"))?
            }
            "--conns" => o.conns = v.parse().map_err(|_| bad())?,
            "--server-pid" => o.server_pid = Some(v.parse().map_err(|_| bad())?),
            "--idle-secs" => o.idle = Duration::from_secs_f64(v.parse().map_err(|_| bad())?),
            "--active-secs" => o.active = Duration::from_secs_f64(v.parse().map_err(|_| bad())?),
            "--think-ms" => o.think = Duration::from_millis(v.parse().map_err(|_| bad())?),
            "--handshake-timeout" => {
                o.handshake_timeout = Duration::from_secs_f64(v.parse().map_err(|_| bad())?)
            }
            "--clk-tck" => o.clk_tck = v.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if !o.addr.ip().is_loopback() {
        return Err(format!("--addr {}: the soak runs on loopback only", o.addr));
    }
    if o.conns < 100 {
        return Err("--conns: at least 100, for every kind to be present".into());
    }
    Ok(o)
}

/// How many connections of each kind: shares of the total, the rest idle.
fn mix(total: usize) -> Vec<(Kind, usize)> {
    let share = |per_mille: usize| total * per_mille / 1000;
    let bombs = (total / 1000).max(2);
    let mut kinds = vec![
        (Kind::Chatty, share(150)),
        (Kind::Slow, share(50)),
        (Kind::Slowloris, share(40)),
        (Kind::Oversized, share(20)),
        (Kind::BadUtf8, share(20)),
        (Kind::Bomb, bombs),
        (Kind::Reset, share(20) - bombs),
    ];
    let rest = total - kinds.iter().map(|(_, n)| n).sum::<usize>();
    kinds.insert(0, (Kind::Idle, rest));
    kinds
}

/// A deterministic stream of pseudo-random numbers (xorshift64*), so that every message can
/// be regenerated to check its echo instead of being kept.
struct Rng(u64);

impl Rng {
    fn new(peer: usize, seq: u64) -> Rng {
        Rng((peer as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (seq << 32) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The chatty client's message `seq`: 16 B to about 1 KiB of text, one character in eight
/// taking two to four bytes.
fn chatty_text(peer: usize, seq: u64) -> String {
    const WIDE: [char; 4] = ['é', 'ж', '€', '𝄞'];
    let mut rng = Rng::new(peer, seq);
    let chars = 16 + (rng.next() % 900) as usize;
    let mut s = String::with_capacity(chars + chars / 2);
    s.push_str(&format!("{peer}:{seq}:"));
    while s.len() < chars {
        let r = rng.next();
        if r.is_multiple_of(8) {
            s.push(WIDE[(r >> 8) as usize % 4]);
        } else {
            s.push((b'a' + (r >> 8) as u8 % 26) as char);
        }
    }
    s
}

/// The slow reader's message `seq`: incompressible bytes.
fn slow_binary(peer: usize, seq: u64) -> Vec<u8> {
    let mut rng = Rng::new(peer, seq);
    let mut v = Vec::with_capacity(SLOW_SIZE);
    while v.len() < SLOW_SIZE {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v
}

/// A client frame written by hand, for what the client machine refuses to send: `header`'s
/// first byte, a payload length claim, the masked payload.
fn raw_frame(first: u8, claimed_len: u64, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![first];
    if claimed_len < 126 {
        f.push(0x80 | claimed_len as u8);
    } else if claimed_len <= u16::MAX as u64 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(claimed_len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&claimed_len.to_be_bytes());
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// One client connection and what it has seen.
struct Peer {
    id: usize,
    kind: Kind,
    stream: Option<TcpStream>,
    conn: Connection,
    /// Bytes written ahead of the machine's output (the slowloris head, hand-made frames).
    raw_out: Vec<u8>,
    /// What a raw (slowloris) connection received.
    raw_in: Vec<u8>,
    started: Instant,
    open: bool,
    eof: bool,
    /// The code of the Close the server sent, or of the end (1006).
    close_code: Option<u16>,
    /// The role is played out and its outcome recorded.
    finished: bool,
    failure: Option<String>,
    // Messages: the next to send, the next echo expected, and when the oldest was sent.
    sent: u64,
    echoed: u64,
    sent_at: VecDeque<Instant>,
    next_send: Instant,
    next_read: Instant,
    pinged: bool,
    ponged: bool,
    closing: bool,
}

/// What the report adds up, and the chatty clients' next sends.
#[derive(Default)]
struct Stats {
    think: Duration,
    /// When each chatty client sends next (and each slow reader its burst), earliest first:
    /// each sends at its own time, so that latency is not measured on bursts of the loop's
    /// making.
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// The compressed bomb's frame, once the first bomb connection made it.
    bomb: Option<Vec<u8>>,
    latencies_us: Vec<u32>,
    /// The latencies of the active phase's second half, once the hostile connections and
    /// the slow readers' bursts of its start are over.
    late_latencies_us: Vec<u32>,
    late_from: Option<Instant>,
    echoes: u64,
    echoed_bytes: u64,
}

impl Peer {
    fn new(id: usize, kind: Kind, addr: SocketAddr, now: Instant) -> io::Result<Peer> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let mut config = Config::default().max_message_size(1 << 20);
        if kind.deflate() {
            // The bomb compressed fast: its 17 MiB of zeros shrink as well at level 1.
            let level = if kind == Kind::Bomb { 1 } else { 6 };
            config = config.deflate(Some(DeflateConfig::default().level(level)));
        }
        let request = ClientRequest::new(&addr.ip().to_string(), "/").port(addr.port());
        let mut conn = Connection::client(&request, config);
        let mut raw_out = Vec::new();
        if kind == Kind::Slowloris {
            // The machine's request is not sent: a head that never ends instead.
            let n = conn.pending_output().len();
            conn.advance_output(n);
            raw_out.extend_from_slice(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
        }
        Ok(Peer {
            id,
            kind,
            stream: Some(stream),
            conn,
            raw_out,
            raw_in: Vec::new(),
            started: now,
            open: false,
            eof: false,
            close_code: None,
            finished: false,
            failure: None,
            sent: 0,
            echoed: 0,
            sent_at: VecDeque::new(),
            next_send: now,
            next_read: now,
            pinged: false,
            ponged: false,
            closing: false,
        })
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
        self.finished = true;
    }

    /// Write what waits, as far as the socket takes it.
    fn flush(&mut self) {
        let Some(stream) = &mut self.stream else {
            return;
        };
        loop {
            let (buf, raw) = if !self.raw_out.is_empty() {
                (&self.raw_out[..], true)
            } else if !self.conn.pending_output().is_empty() {
                (self.conn.pending_output(), false)
            } else {
                return;
            };
            match stream.write(buf) {
                Ok(n) if raw => drop(self.raw_out.drain(..n)),
                Ok(n) => self.conn.advance_output(n),
                // Still connecting, or the socket is full: the next writable event resumes.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    if !self.finished {
                        self.fail(format!("write: {e}"));
                    }
                    return;
                }
            }
        }
    }

    /// Read what arrived (a slow reader: one small read, when due) and handle it.
    fn read(&mut self, buf: &mut [u8], now: Instant, stats: &mut Stats) {
        loop {
            let Some(stream) = &mut self.stream else {
                return;
            };
            if self.eof {
                return;
            }
            let slow = self.kind == Kind::Slow && self.open;
            if slow && now < self.next_read {
                return;
            }
            let limit = if slow { SLOW_READ } else { buf.len() };
            match stream.read(&mut buf[..limit]) {
                Ok(0) => {
                    self.eof = true;
                    if self.kind.websocket() {
                        self.conn.receive_eof();
                    }
                }
                Ok(n) if self.kind.websocket() => self.conn.receive(&buf[..n]),
                Ok(n) => self.raw_in.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.eof = true;
                    if self.kind.websocket() {
                        self.conn.receive_eof();
                    } else if !self.finished {
                        self.fail(format!("read: {e}"));
                    }
                }
            }
            self.events(now, stats);
            if slow {
                self.next_read = now + SLOW_EVERY;
                return;
            }
        }
    }

    /// Take the machine's events (or judge the raw reply of a slowloris head).
    fn events(&mut self, now: Instant, stats: &mut Stats) {
        if !self.kind.websocket() {
            if self.eof && !self.finished {
                if self.raw_in.starts_with(b"HTTP/1.1 408 ") {
                    self.finished = true;
                } else {
                    let head = String::from_utf8_lossy(&self.raw_in[..self.raw_in.len().min(40)]);
                    self.fail(format!("slowloris head answered {head:?}, not 408"));
                }
            }
            return;
        }
        let mut opened = false;
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Open(_) => opened = true,
                Event::Text(t) => {
                    let expected = chatty_text(self.id, self.echoed);
                    if self.kind != Kind::Chatty || t != expected {
                        let why = format!("echo {} of {:?} differs", self.echoed, self.kind);
                        self.fail(why);
                        continue;
                    }
                    stats.echoed_bytes += t.len() as u64;
                    self.echoed(now, stats);
                }
                Event::Binary(b) => {
                    if self.kind != Kind::Slow || b != slow_binary(self.id, self.echoed) {
                        let why = format!("echo {} of {:?} differs", self.echoed, self.kind);
                        self.fail(why);
                        continue;
                    }
                    stats.echoed_bytes += b.len() as u64;
                    self.echoed(now, stats);
                }
                Event::Pong(p) => self.ponged = p == (self.id as u64).to_le_bytes(),
                Event::Close { code, .. } => {
                    self.close_code.get_or_insert(code);
                    if !self.kind.hostile() && !self.closing {
                        self.fail(format!("closed by the server with {code} before the end"));
                    }
                }
                Event::Rejected(r) => {
                    let why = format!("{:?} refused with {}", self.kind, r.status());
                    self.fail(why);
                }
                Event::HandshakeFailed(e) => self.fail(format!("handshake failed: {e}")),
                Event::ProtocolError(e) => self.fail(format!("server broke the protocol: {e}")),
                _ => {}
            }
        }
        if opened {
            self.open = true;
            self.on_open(stats);
        }
        if self.kind.hostile()
            && !self.finished
            && let Some(code) = self.close_code
        {
            let expected = match self.kind {
                Kind::Oversized | Kind::Bomb => 1009,
                Kind::BadUtf8 => 1007,
                _ => 0,
            };
            if code == expected {
                self.finished = true;
            } else {
                self.fail(format!(
                    "{:?} closed with {code}, not {expected}",
                    self.kind
                ));
            }
        }
    }

    fn echoed(&mut self, now: Instant, stats: &mut Stats) {
        self.echoed += 1;
        if self.kind == Kind::Chatty {
            // The next message goes about `think` after the echo (0.5 to 1.5 times it).
            let jitter = Rng::new(self.id, self.echoed).next() % 1000;
            let wait = stats.think.mul_f64(0.5 + jitter as f64 / 1000.0);
            stats.due.push(Reverse((now + wait, self.id)));
        }
        stats.echoes += 1;
        if let Some(at) = self.sent_at.pop_front() {
            let us = now.saturating_duration_since(at).as_micros();
            let us = us.min(u32::MAX as u128) as u32;
            stats.latencies_us.push(us);
            if stats.late_from.is_some_and(|t| at >= t) {
                stats.late_latencies_us.push(us);
            }
        }
    }

    /// The handshake completed: a hostile connection attacks now.
    fn on_open(&mut self, stats: &mut Stats) {
        match self.kind {
            Kind::Oversized => self.raw_out = raw_frame(0x82, OVERSIZED_CLAIM, &[0u8; 1024]),
            Kind::BadUtf8 => self.raw_out = raw_frame(0x81, 6, b"ok \xc3\x28!"),
            Kind::Bomb => match &stats.bomb {
                // Every bomb connection negotiated the same parameters, and a first message
                // starts from the same empty window: the frame one compressed serves all (any
                // masking key does), and the generator compresses 17 MiB once.
                Some(frame) => self.raw_out = frame.clone(),
                None => {
                    let zeros = vec![0u8; BOMB_SIZE];
                    match self.conn.send_binary(&zeros) {
                        Ok(()) => stats.bomb = Some(self.conn.pending_output().to_vec()),
                        Err(e) => self.fail(format!("bomb not sent: {e}")),
                    }
                }
            },
            Kind::Reset => {
                // Half of a frame, then a reset (SO_LINGER 0) instead of a FIN.
                let frame = raw_frame(0x82, 1000, &[7u8; 400]);
                if let Some(stream) = self.stream.take() {
                    let _ = (&stream).write(&frame);
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    drop(stream);
                }
                self.eof = true;
                self.finished = true;
            }
            _ => {}
        }
    }

    /// Send a slow reader's messages, all at once.
    fn send_burst(&mut self) {
        for _ in 0..SLOW_MESSAGES {
            let data = slow_binary(self.id, self.sent);
            if let Err(e) = self.conn.send_binary(&data) {
                self.fail(format!("send: {e}"));
                return;
            }
            self.sent += 1;
        }
    }

    /// Send a chatty client's next message.
    fn send_next(&mut self, now: Instant) {
        let text = chatty_text(self.id, self.sent);
        match self.conn.send_text(&text) {
            Ok(()) => {
                self.sent += 1;
                self.sent_at.push_back(now);
            }
            Err(e) => self.fail(format!("send: {e}")),
        }
    }

    /// Whether the connection is still opening (a slowloris head never completes: it counts
    /// once connected).
    fn opening(&self) -> bool {
        !self.open && !self.finished && self.kind != Kind::Slowloris
    }

    /// Whether every echo this well-behaved client is owed came back.
    fn all_echoed(&self) -> bool {
        self.echoed == self.sent
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Connect,
    Idle,
    Active,
    Drain,
    Close,
}

/// The server's resident memory (KiB) and CPU time (s), when its pid is known.
#[derive(Clone, Copy, Default)]
struct Sample {
    rss_kib: u64,
    cpu_s: f64,
}

fn sample(pid: Option<u32>, clk_tck: f64) -> Option<Sample> {
    let pid = pid?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis: state is the 3rd field, utime the 14th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Sample {
        rss_kib,
        cpu_s: ticks as f64 / clk_tck,
    })
}

/// The soft limit on open files, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            eprintln!(
                "usage: soak [--addr 127.0.0.1:PORT] [--conns N] [--server-pid PID] \
                 [--idle-secs S] [--active-secs S] [--think-ms MS] [--handshake-timeout S] \
                 [--clk-tck HZ]"
            );
            return ExitCode::from(2);
        }
    };
    if let Some(limit) = open_file_limit()
        && limit < opts.conns as u64 + 64
    {
        eprintln!(
            "soak: {} connections need {} open files, the limit is {limit}: raise it \
             (ulimit -n {}) or lower --conns",
            opts.conns,
            opts.conns + 64,
            opts.conns + 64
        );
        return ExitCode::from(2);
    }
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run the phases; `Ok(false)` when a check failed.
fn run(opts: &Options) -> io::Result<bool> {
    let mix = mix(opts.conns);
    let kinds: Vec<Kind> = mix
        .iter()
        .flat_map(|&(kind, n)| std::iter::repeat_n(kind, n))
        .collect();
    // Well-behaved first: they are opened in the connect phase, the hostile ones later.
    let well_behaved = kinds.iter().filter(|k| !k.hostile()).count();
    let describe: Vec<String> = mix.iter().map(|(k, n)| format!("{n} {k:?}")).collect();
    println!(
        "soak: {} connections to ws://{}/ ({})",
        opts.conns,
        opts.addr,
        describe.join(", ")
    );

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(4096);
    let mut peers: Vec<Peer> = Vec::with_capacity(kinds.len());
    let mut buf = vec![0u8; 64 * 1024];
    let mut stats = Stats {
        think: opts.think,
        ..Stats::default()
    };
    let start = Instant::now();
    let base = sample(opts.server_pid, opts.clk_tck);
    let mut idle_sample = None;
    let mut active_start = None;
    let mut active_end = None;
    let mut active_peak_kib = 0u64;
    let mut active_echoes = 0u64;
    let mut phase = Phase::Connect;
    // Each phase's end, and its bound.
    let mut phase_end =
        start + Duration::from_secs(60) + Duration::from_millis(10 * opts.conns as u64);
    let mut next_tick = start;
    let mut next_sample = start;
    let mut failed_phase: Option<String> = None;

    loop {
        let now = Instant::now();
        // Open connections: the well-behaved ones in the connect phase, then the hostile
        // ones once the active phase starts; a bounded number opening at once.
        let limit = if phase == Phase::Connect {
            well_behaved
        } else if phase == Phase::Active {
            kinds.len()
        } else {
            peers.len()
        };
        let mut room = if peers.len() < limit {
            OPENING_AT_ONCE.saturating_sub(peers.iter().filter(|p| p.opening()).count())
        } else {
            0
        };
        while peers.len() < limit && room > 0 {
            let id = peers.len();
            let mut peer = Peer::new(id, kinds[id], opts.addr, now)?;
            poll.registry().register(
                peer.stream.as_mut().expect("a new peer has its stream"),
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            peer.flush();
            peers.push(peer);
            room -= 1;
        }

        let next_due = stats.due.peek().map(|Reverse((t, _))| *t);
        let timeout = next_due.map_or(TICK, |t| t.saturating_duration_since(now).min(TICK));
        poll.poll(&mut events, Some(timeout))?;
        let now = Instant::now();
        while let Some(&Reverse((t, id))) = stats.due.peek() {
            if t > now {
                break;
            }
            stats.due.pop();
            let peer = &mut peers[id];
            if phase != Phase::Active || peer.failure.is_some() {
                continue;
            }
            match peer.kind {
                Kind::Chatty if peer.sent_at.is_empty() => peer.send_next(now),
                Kind::Slow => peer.send_burst(),
                _ => {}
            }
            peer.flush();
        }
        for event in &events {
            let peer = &mut peers[event.token().0];
            peer.flush();
            peer.read(&mut buf, now, &mut stats);
            peer.flush();
            if peer.kind.hostile() && peer.finished && peer.raw_out.is_empty() {
                // Judged: hang up (the server drops its side on this FIN).
                peer.stream = None;
            }
        }
        if now >= next_tick {
            next_tick = now + TICK;
            for peer in peers.iter_mut() {
                tick(peer, now, opts, &mut buf, &mut stats);
            }
        }
        if phase == Phase::Active && now >= next_sample {
            next_sample = now + Duration::from_millis(500);
            if let Some(s) = sample(opts.server_pid, opts.clk_tck) {
                active_peak_kib = active_peak_kib.max(s.rss_kib);
            }
        }

        // Phase ends.
        let wb = || peers.iter().filter(|p| !p.kind.hostile());
        let failed = peers.iter().any(|p| p.failure.is_some());
        match phase {
            Phase::Connect if wb().filter(|p| p.open).count() == well_behaved => {
                println!(
                    "soak: {well_behaved} well-behaved connections open in {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                phase = Phase::Idle;
                phase_end = now + opts.idle;
            }
            Phase::Idle if now >= phase_end => {
                idle_sample = sample(opts.server_pid, opts.clk_tck);
                phase = Phase::Active;
                active_start = Some((now, idle_sample));
                phase_end = now + opts.active;
                stats.late_from = Some(now + opts.active / 2);
                // The chatty clients start spread over one think time.
                let chatty: Vec<usize> = peers
                    .iter()
                    .filter(|p| p.kind == Kind::Chatty)
                    .map(|p| p.id)
                    .collect();
                for (i, id) in chatty.iter().enumerate() {
                    let offset = opts.think.mul_f64(i as f64 / chatty.len() as f64);
                    stats.due.push(Reverse((now + offset, *id)));
                }
                // The slow readers send their bursts spread over the first two seconds,
                // so that the generator's own work does not stall the chatty clients.
                let slow: Vec<usize> = peers
                    .iter()
                    .filter(|p| p.kind == Kind::Slow)
                    .map(|p| p.id)
                    .collect();
                for (i, id) in slow.iter().enumerate() {
                    let offset = Duration::from_secs(2).mul_f64(i as f64 / slow.len() as f64);
                    stats.due.push(Reverse((now + offset, *id)));
                }
            }
            Phase::Active if now >= phase_end => {
                active_end = Some((now, sample(opts.server_pid, opts.clk_tck)));
                active_echoes = stats.echoes;
                phase = Phase::Drain;
                // The hostile ones need the handshake timeout (slowloris) and their own bound.
                phase_end = now + opts.handshake_timeout + Duration::from_secs(15);
                for peer in peers.iter_mut().filter(|p| p.kind == Kind::Idle) {
                    if let Err(e) = peer.conn.send_ping(&(peer.id as u64).to_le_bytes()) {
                        peer.fail(format!("ping: {e}"));
                    }
                    peer.pinged = true;
                    peer.flush();
                }
            }
            Phase::Drain
                if peers.len() == kinds.len()
                    && peers.iter().all(|p| {
                        p.failure.is_some()
                            || if p.kind.hostile() {
                                p.finished
                            } else {
                                p.all_echoed() && (p.kind != Kind::Idle || p.ponged)
                            }
                    }) =>
            {
                phase = Phase::Close;
                phase_end = now + Duration::from_secs(15);
                for peer in peers.iter_mut().filter(|p| !p.kind.hostile()) {
                    peer.closing = true;
                    let _ = peer.conn.close(1000, "soak done");
                    peer.flush();
                }
            }
            Phase::Close if wb().all(|p| p.eof || p.failure.is_some()) => break,
            _ if now >= phase_end => {
                failed_phase = Some(format!(
                    "the {phase:?} phase did not finish within its bound"
                ));
                break;
            }
            _ => {}
        }
        if failed && phase == Phase::Connect {
            // A well-behaved connection refused at the start: no point going on.
            failed_phase = Some("a connection failed while opening".into());
            break;
        }
    }

    // The report.
    let mut ok = true;
    let total_s = start.elapsed().as_secs_f64();
    println!("soak: finished in {total_s:.1} s");
    if let (Some(base), Some(idle)) = (base, idle_sample) {
        let per = (idle.rss_kib.saturating_sub(base.rss_kib) * 1024) as f64 / well_behaved as f64;
        println!(
            "server RSS: {} KiB before any connection, {} KiB with {well_behaved} idle open \
             connections: {per:.0} B per idle connection",
            base.rss_kib, idle.rss_kib
        );
    }
    let active: usize = peers
        .iter()
        .filter(|p| matches!(p.kind, Kind::Chatty | Kind::Slow))
        .count();
    if let (Some((t0, Some(s0))), Some((t1, Some(s1)))) = (active_start, active_end) {
        let per = (s1.rss_kib.saturating_sub(s0.rss_kib) * 1024) as f64 / active as f64;
        let cpu = s1.cpu_s - s0.cpu_s;
        let secs = (t1 - t0).as_secs_f64();
        let per_msg = cpu * 1e6 / active_echoes.max(1) as f64;
        println!(
            "server RSS: {} KiB at the end of the active phase: {per:.0} B more per active \
             connection ({active} chatty and slow); {active_peak_kib} KiB at its peak (slow \
             readers' echoes held, bombs inflating)",
            s1.rss_kib
        );
        println!(
            "server CPU: {cpu:.2} s in the {secs:.1} s active phase for {active_echoes} echoes \
             ({:.0}/s): {per_msg:.1} us per message, hostile connections included",
            active_echoes as f64 / secs
        );
    }
    for (which, lat) in [
        ("the active phase", &mut stats.latencies_us),
        ("its second half", &mut stats.late_latencies_us),
    ] {
        lat.sort_unstable();
        if lat.is_empty() {
            continue;
        }
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        println!(
            "echo latency (chatty, send to echo) over {which}: p50 {:.2} ms, p99 {:.2} ms, \
             max {:.2} ms, {} messages",
            pct(0.50),
            pct(0.99),
            pct(1.0),
            lat.len()
        );
    }
    let sent: u64 = peers.iter().map(|p| p.sent).sum();
    let echoed: u64 = peers.iter().map(|p| p.echoed).sum();
    println!(
        "echoes: {sent} sent, {echoed} came back intact ({} MiB), {} lost",
        stats.echoed_bytes >> 20,
        sent - echoed.min(sent)
    );
    ok &= sent == echoed;
    let idle: Vec<&Peer> = peers.iter().filter(|p| p.kind == Kind::Idle).collect();
    let ponged = idle.iter().filter(|p| p.ponged).count();
    println!(
        "idle: {ponged} of {} answered a Ping after the active phase",
        idle.len()
    );
    ok &= ponged == idle.len();
    for (kind, n) in &mix {
        if !kind.hostile() {
            continue;
        }
        let of_kind = || peers.iter().filter(|p| p.kind == *kind);
        let good = of_kind()
            .filter(|p| p.finished && p.failure.is_none())
            .count();
        let outcome = match kind {
            Kind::Slowloris => "answered 408 at the handshake timeout",
            Kind::Oversized => "closed with 1009 (frame over the limit)",
            Kind::BadUtf8 => "closed with 1007 (invalid UTF-8)",
            Kind::Bomb => "closed with 1009 (inflating past the message limit)",
            _ => "reset in the middle of a frame",
        };
        println!("hostile {kind:?}: {good} of {n} {outcome}");
        ok &= good == *n;
    }
    let closed = peers
        .iter()
        .filter(|p| !p.kind.hostile() && p.closing && p.eof && p.close_code == Some(1000))
        .count();
    println!("closing: {closed} of {well_behaved} well-behaved connections closed with 1000");
    ok &= closed == well_behaved;
    let mut failures: Vec<&Peer> = peers.iter().filter(|p| p.failure.is_some()).collect();
    if !failures.is_empty() {
        println!("failures: {}", failures.len());
        failures.truncate(10);
        for p in failures {
            println!(
                "  connection {} ({:?}): {}",
                p.id,
                p.kind,
                p.failure.as_deref().unwrap_or("")
            );
        }
        ok = false;
    }
    if let Some(why) = failed_phase {
        println!("soak: {why}");
        ok = false;
    }
    println!("RESULT: {}", if ok { "ok" } else { "FAILED" });
    Ok(ok)
}

/// The timed work of one connection: a chatty client's next message, a slow reader's next
/// read, a slowloris's next byte, and the bounds of the hostile ones.
fn tick(peer: &mut Peer, now: Instant, opts: &Options, buf: &mut [u8], stats: &mut Stats) {
    if peer.finished {
        return;
    }
    match peer.kind {
        Kind::Slow if peer.open && now >= peer.next_read => peer.read(buf, now, stats),
        Kind::Slowloris if now >= peer.next_send && peer.raw_out.is_empty() => {
            // One more byte of a header line that never ends, each second.
            peer.raw_out.push(b'a');
            peer.next_send = now + Duration::from_secs(1);
            peer.flush();
        }
        _ => {}
    }
    let bound = match peer.kind {
        Kind::Slowloris => opts.handshake_timeout + Duration::from_secs(10),
        k if k.hostile() => Duration::from_secs(20),
        _ => return,
    };
    if now.saturating_duration_since(peer.started) > bound {
        let why = format!("{:?} still open after {bound:?}", peer.kind);
        peer.fail(why);
    }
}
