//! A WebSocket echo server on non-blocking [mio] event loops, one per thread.
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:9001 [--threads N] \
//!     [--allow-origin ORIGIN]... [--protocol NAME]... \
//!     [--max-conns-per-ip N] [--max-conns N] [--rate PER_SECOND] [--burst N] \
//!     [--handshake-timeout SECONDS] [--idle-timeout SECONDS] [--no-deflate]
//! ```
//!
//! Every text and binary message is sent back as it came; Pings are answered automatically.
//! Opening `http://127.0.0.1:9001/` in a browser serves a small page that talks to the server.
//!
//! - `--addr` is the listening address (default `127.0.0.1:9001`);
//! - `--threads` runs that many event loops (default 1), each on its own thread with its own
//!   listening socket on the same port (`SO_REUSEPORT`: the kernel spreads new connections
//!   over them); the admission limits below count across all of them;
//! - `--allow-origin` (repeatable) turns on an `Origin` allowlist: other origins get 403;
//! - `--protocol` (repeatable) lists the subprotocols the server speaks, most preferred first;
//! - `--max-conns-per-ip` caps concurrent connections per client address (IPv6: per /64), and
//!   `--max-conns` in all: beyond them a client gets 503 with `Retry-After`;
//! - `--rate` and `--burst` limit new connections and handshakes per address (429);
//! - `--handshake-timeout` (default 10 s) drops a client whose request is not complete in time
//!   with 408; `--idle-timeout` closes (1001) a connection that sent nothing for that long;
//! - permessage-deflate (RFC 7692) is accepted when a client offers it (every browser does);
//!   `--no-deflate` declines it.
//!
//! Without the admission flags there are no per-address limits.
//!
//! Each connection is a `mio::net::TcpStream` plus a [`Connection`]; the machine does all the
//! protocol work and the loop below only moves bytes. This is the server the Autobahn
//! TestSuite runs against (`autobahn/run.sh server`), and the one `scripts/soak.sh` loads with
//! 10 000 connections.
//!
//! Memory per connection: a loop reads every socket into one buffer of its own and hands the
//! bytes to the machine, which keeps only what an incomplete frame needs; after each turn
//! `release_buffers` gives back what holds nothing, and connections are boxed in a slab whose
//! free slot costs a pointer. An idle open connection so costs the server 1.7 KB of resident
//! memory, its boxed struct and the allocator's share (`BENCHMARKS.md`, "Many connections").
//!
//! One thread is the default: the demo and the Autobahn run need no more, and a single loop
//! is the easiest to read. Several loops share one admission table behind a mutex (taken once
//! per connection, handshake and close, never per message), so a per-address limit holds
//! exactly however the kernel spreads an address's connections over the loops. A connection
//! stays on the loop that accepted it: a loop busy with one peer's work (inflating a large
//! message, say) delays only its own connections.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::admission::{Admission, AdmissionConfig, Ticket};
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::{Accept, HandshakeRequest, Response, ServerPolicy};
use wsmachine::{Config, Connection, Event};

const LISTENER: Token = Token(0);
/// Size of each loop's read buffer, shared by its connections: one read takes a common large
/// message whole (16 KiB took two for a 16 KiB message, and a third to find nothing).
const READ_CHUNK: usize = 64 * 1024;
/// Stop reading from a connection while this much output waits for its peer: a client that
/// sends but never reads cannot grow the server's memory without bound.
const HIGH_WATER: usize = 1 << 20;
/// How long a closed connection is drained for its peer's FIN before it is dropped.
const LINGER: Duration = Duration::from_secs(2);
/// How often the deadlines of all connections are checked while any is set (a deadline fires
/// up to this late). A scan per tick rather than per wake-up keeps 10 000 connections cheap
/// without a timer wheel, which a production server would keep instead.
const TICK: Duration = Duration::from_millis(50);

// The browser page, shared with `axum_echo`.
#[path = "common/echo_page.rs"]
mod echo_page;
use echo_page::PAGE;

struct Options {
    addr: SocketAddr,
    threads: usize,
    origins: Vec<String>,
    protocols: Vec<String>,
    admission: AdmissionConfig,
    handshake_timeout: Duration,
    idle_timeout: Option<Duration>,
    deflate: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
        threads: 1,
        origins: Vec::new(),
        protocols: Vec::new(),
        // No per-address limits unless asked for.
        admission: AdmissionConfig::default()
            .max_per_ip(u32::MAX)
            .max_total(100_000)
            .connect_rate(u32::MAX, f64::INFINITY)
            .handshake_rate(u32::MAX, f64::INFINITY)
            .max_tracked(4096),
        handshake_timeout: Duration::from_secs(10),
        idle_timeout: None,
        deflate: true,
    };
    let mut rate: Option<f64> = None;
    let mut burst: Option<u32> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => {
                let v = value()?;
                opts.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--threads" => {
                opts.threads = number(&arg, &value()?)?;
                if opts.threads == 0 {
                    return Err("--threads must be at least 1".into());
                }
            }
            "--allow-origin" => opts.origins.push(value()?),
            "--protocol" => opts.protocols.push(value()?),
            "--max-conns-per-ip" => opts.admission.max_per_ip = number(&arg, &value()?)?,
            "--max-conns" => opts.admission.max_total = number(&arg, &value()?)?,
            "--rate" => rate = Some(number(&arg, &value()?)?),
            "--burst" => burst = Some(number(&arg, &value()?)?),
            "--handshake-timeout" => {
                opts.handshake_timeout = Duration::from_secs_f64(number(&arg, &value()?)?);
            }
            "--idle-timeout" => {
                opts.idle_timeout = Some(Duration::from_secs_f64(number(&arg, &value()?)?));
            }
            "--no-deflate" => opts.deflate = false,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if rate.is_some() || burst.is_some() {
        let per_second = rate.unwrap_or(10.0);
        let burst = burst.unwrap_or_else(|| (per_second.ceil() as u32).max(1));
        opts.admission = opts
            .admission
            .connect_rate(burst, per_second)
            .handshake_rate(burst, per_second);
    }
    Ok(opts)
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{flag} {v}: not a number"))
}

/// What to do after an event, once the event no longer borrows the connection.
enum Reply {
    None,
    Accept,
    Page,
    NotFound,
    Text,
    Binary,
}

/// One client: the socket and its protocol machine.
struct Client {
    stream: TcpStream,
    conn: Connection,
    /// The interest currently registered with the poll.
    registered: Interest,
    /// The peer's FIN was read.
    read_eof: bool,
    /// The connection is over and our side is shut down: reads are discarded until the peer
    /// closes too, or until this instant.
    linger_until: Option<Instant>,
    /// The admission slot this connection holds (none for a refused one).
    ticket: Option<Ticket>,
}

/// State shared by all connections of one loop.
struct Shared {
    /// The admission table, one for all loops.
    admission: Arc<Mutex<Admission>>,
    /// Every socket is read into this buffer; the machine copies what it keeps.
    read_buf: Vec<u8>,
    /// Reused copy of the message being echoed.
    scratch: Scratch,
}

impl Shared {
    fn admission(&self) -> MutexGuard<'_, Admission> {
        // The table stays consistent whatever a panicking thread was doing: each call on it
        // completes its change before returning.
        self.admission
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reused copy of the message being echoed (an event borrows the connection, so the payload
/// is copied out before it is sent back).
#[derive(Default)]
struct Scratch {
    text: String,
    binary: Vec<u8>,
}

impl Client {
    /// Move bytes both ways as far as the socket allows. `Ok(false)`: the connection is
    /// finished and can be dropped.
    fn drive(&mut self, shared: &mut Shared) -> io::Result<bool> {
        if self.linger_until.is_some() {
            return self.drain();
        }
        loop {
            self.flush()?;
            if self.conn.should_close_transport()
                || self.read_eof
                || self.conn.pending_output().len() > HIGH_WATER
            {
                break;
            }
            // The whole read buffer, or what ends the read with a large frame.
            let want = self.conn.read_size_hint(shared.read_buf.len());
            match self.stream.read(&mut shared.read_buf[..want]) {
                Ok(0) => {
                    self.read_eof = true;
                    self.conn.receive_eof();
                }
                Ok(n) => self.conn.receive(&shared.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.conn.handle_timeout(Instant::now());
            self.handle_events(shared);
        }
        // Whatever holds nothing goes back to the allocator: an idle connection keeps no
        // buffer, at the price of an allocation for the next burst of input.
        self.conn.release_buffers();
        if self.conn.should_close_transport() && self.conn.pending_output().is_empty() {
            if self.read_eof {
                return Ok(false);
            }
            // Closing our side first and reading until the peer's FIN avoids a reset that
            // could destroy the last bytes we sent (the Close frame) before the peer reads them.
            let _ = self.stream.shutdown(Shutdown::Write);
            self.linger_until = Some(Instant::now() + LINGER);
            return self.drain();
        }
        Ok(true)
    }

    /// Write pending output until done or the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        while !self.conn.pending_output().is_empty() {
            match self.stream.write(self.conn.pending_output()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.conn.advance_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Discard what arrives after our side closed, until the peer closes.
    fn drain(&mut self) -> io::Result<bool> {
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn handle_events(&mut self, shared: &mut Shared) {
        loop {
            let scratch = &mut shared.scratch;
            let reply = match self.conn.poll_event() {
                None => break,
                Some(Event::HandshakeRequest(_)) => Reply::Accept,
                Some(Event::HttpRequest(req)) => route(req),
                Some(Event::Text(text)) => {
                    scratch.text.clear();
                    scratch.text.push_str(text);
                    Reply::Text
                }
                Some(Event::Binary(data)) => {
                    scratch.binary.clear();
                    scratch.binary.extend_from_slice(data);
                    Reply::Binary
                }
                // Pings are answered by the machine, the Close echo is queued by it, and a
                // protocol error has queued its Close: nothing to add.
                Some(_) => Reply::None,
            };
            let result = match reply {
                Reply::None => Ok(()),
                Reply::Accept => match &self.ticket {
                    Some(ticket) => {
                        let admitted = shared.admission().on_handshake(ticket, Instant::now());
                        match admitted {
                            Ok(()) => self.conn.accept(Accept::new()),
                            Err(refusal) => self.conn.reject(refusal.response()),
                        }
                    }
                    None => self.conn.accept(Accept::new()),
                },
                Reply::Page => self.conn.respond(
                    Response::new(200)
                        .header("Content-Type", "text/html; charset=utf-8")
                        .body(PAGE),
                ),
                Reply::NotFound => self.conn.respond(
                    Response::new(404)
                        .header("Content-Type", "text/plain; charset=utf-8")
                        .body("not found\n"),
                ),
                Reply::Text => self.conn.send_text(&shared.scratch.text),
                Reply::Binary => self.conn.send_binary(&shared.scratch.binary),
            };
            if let Err(e) = result {
                // Only possible if the connection is already closing; never fatal here.
                eprintln!("echo_server: {e}");
            }
        }
    }

    /// The readiness this client needs: always readable, writable while output waits.
    fn interest(&self) -> Interest {
        if self.linger_until.is_none() && !self.conn.pending_output().is_empty() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// Whether the loop must come back to this client at a time of its own.
    fn has_deadline(&self) -> bool {
        self.linger_until.is_some() || self.conn.poll_timeout().is_some()
    }
}

/// Answer a plain HTTP request: the page at `/`, 404 elsewhere.
fn route(req: &HandshakeRequest) -> Reply {
    let path = req.target().split('?').next().unwrap_or("");
    if path == "/" {
        Reply::Page
    } else {
        Reply::NotFound
    }
}

/// The clients of one loop by token: a slot per connection, reused once it ends. Clients are
/// boxed so that the slab's slots, which never shrink, cost a pointer each.
#[derive(Default)]
struct Clients {
    slots: Vec<Option<Box<Client>>>,
    free: Vec<usize>,
}

impl Clients {
    /// Store a client; its token (slot index + 1, token 0 being the listener's).
    fn insert(&mut self, client: Client) -> Token {
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(Box::new(client));
                i
            }
            None => {
                self.slots.push(Some(Box::new(client)));
                self.slots.len() - 1
            }
        };
        Token(index + 1)
    }

    fn get_mut(&mut self, token: Token) -> Option<&mut Client> {
        let slot = self.slots.get_mut(token.0.checked_sub(1)?)?;
        slot.as_deref_mut()
    }

    fn remove(&mut self, token: Token) -> Option<Box<Client>> {
        let index = token.0.checked_sub(1)?;
        let client = self.slots.get_mut(index)?.take()?;
        self.free.push(index);
        Some(client)
    }

    /// Every token that may hold a client, for scans that drop clients as they go.
    fn tokens(&self) -> impl Iterator<Item = Token> + use<> {
        (1..=self.slots.len()).map(Token)
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_server: {e}");
            eprintln!(
                "usage: echo_server [--addr HOST:PORT] [--threads N] [--allow-origin ORIGIN]... \
                 [--protocol NAME]... [--max-conns-per-ip N] [--max-conns N] \
                 [--rate PER_SECOND] [--burst N] [--handshake-timeout SECONDS] \
                 [--idle-timeout SECONDS] [--no-deflate]"
            );
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every loop serves with: the machines' settings and the admission table.
#[derive(Clone)]
struct Setup {
    config: Config,
    policy: Arc<ServerPolicy>,
    admission: Arc<Mutex<Admission>>,
}

fn run(opts: Options) -> io::Result<()> {
    let mut policy = ServerPolicy::new()
        .protocols(opts.protocols)
        .plain_http(true);
    for origin in &opts.origins {
        policy = policy.allow_origin(origin);
    }
    // Autobahn 9.* sends messages of up to 16 MiB, in one frame or many.
    let config = Config::default()
        .max_frame_size(16 << 20)
        .max_message_size(16 << 20)
        .handshake_timeout(Some(opts.handshake_timeout))
        .idle_timeout(opts.idle_timeout)
        // Every message compressed, the short ones too (the library's default leaves messages
        // under 64 bytes uncompressed): what browsers do, and what the Autobahn runner's case
        // code handles (it hashes an uncompressed text echo as a string, and errors).
        .deflate(opts.deflate.then(|| DeflateConfig::default().threshold(0)));
    let setup = Setup {
        config,
        policy: Arc::new(policy),
        admission: Arc::new(Mutex::new(Admission::new(opts.admission))),
    };

    let listeners = bind(opts.addr, opts.threads)?;
    let loops = if opts.threads == 1 {
        String::new()
    } else {
        format!(" ({} event loops)", opts.threads)
    };
    println!(
        "echo_server{loops}: listening on ws://{}/",
        listeners[0].local_addr()?
    );
    let mut listeners = listeners.into_iter();
    let first = listeners
        .next()
        .expect("bind returns one listener per loop");
    for listener in listeners {
        let setup = setup.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(listener, setup) {
                // One loop failing (its poll, say) ends the server rather than a share of it.
                eprintln!("echo_server: {e}");
                std::process::exit(1);
            }
        });
    }
    serve(first, setup)
}

/// One listening socket per loop. Several share the port with `SO_REUSEPORT`, the first bound
/// choosing it when the address asks for port 0.
fn bind(addr: SocketAddr, threads: usize) -> io::Result<Vec<TcpListener>> {
    if threads == 1 {
        // Without SO_REUSEPORT: a second server started on the same port by mistake fails
        // to bind instead of silently taking half of the connections.
        return Ok(vec![TcpListener::bind(addr)?]);
    }
    let mut listeners = Vec::with_capacity(threads);
    let mut addr = addr;
    for _ in 0..threads {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        socket.set_reuse_address(true)?;
        reuse_port(&socket)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener = TcpListener::from_std(socket.into());
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Let several sockets listen on one port (`SO_REUSEPORT`). Linux spreads new connections
/// over them by a hash of the peer's address and port; other systems may hand them all to
/// one socket.
#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn reuse_port(socket: &socket2::Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn reuse_port(_: &socket2::Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "--threads above 1 needs SO_REUSEPORT, which this system lacks",
    ))
}

/// One event loop: its listener's connections, until an I/O error of the poll.
fn serve(mut listener: TcpListener, setup: Setup) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients = Clients::default();
    let mut events = Events::with_capacity(1024);
    let mut shared = Shared {
        admission: setup.admission.clone(),
        read_buf: vec![0; READ_CHUNK],
        scratch: Scratch::default(),
    };
    // Whether some client may have a deadline, and when to look next.
    let mut deadlines = false;
    let mut next_scan = Instant::now();

    loop {
        let timeout = deadlines.then(|| next_scan.saturating_duration_since(Instant::now()));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            // Any client touched may have set a deadline (a new one's handshake, a Close).
            deadlines = true;
            if event.token() == LISTENER {
                accept_all(&listener, &poll, &mut clients, &setup, &mut shared);
                continue;
            }
            let token = event.token();
            let Some(client) = clients.get_mut(token) else {
                continue;
            };
            if !service(&poll, client, token, &mut shared) {
                drop_client(&poll, &mut clients, token, &shared);
            }
        }
        // Once per tick: fire the deadlines that came due, and drop connections done
        // lingering.
        let now = Instant::now();
        if deadlines && now >= next_scan {
            deadlines = false;
            for token in clients.tokens() {
                let Some(client) = clients.get_mut(token) else {
                    continue;
                };
                let keep = if client.linger_until.is_some_and(|t| t <= now) {
                    false
                } else if client.conn.poll_timeout().is_some_and(|t| t <= now) {
                    client.conn.handle_timeout(now);
                    client.handle_events(&mut shared);
                    service(&poll, client, token, &mut shared)
                } else {
                    true
                };
                if !keep {
                    drop_client(&poll, &mut clients, token, &shared);
                } else if client.has_deadline() {
                    deadlines = true;
                }
            }
            next_scan = now + TICK;
        }
    }
}

/// Drive one client and keep its registration up to date; `false` when it should be dropped.
fn service(poll: &Poll, client: &mut Client, token: Token, shared: &mut Shared) -> bool {
    let keep = match client.drive(shared) {
        Ok(keep) => keep,
        Err(e) => {
            eprintln!("echo_server: connection {}: {e}", token.0);
            false
        }
    };
    keep && {
        let wanted = client.interest();
        wanted == client.registered
            || match poll
                .registry()
                .reregister(&mut client.stream, token, wanted)
            {
                Ok(()) => {
                    client.registered = wanted;
                    true
                }
                Err(e) => {
                    eprintln!("echo_server: connection {}: {e}", token.0);
                    false
                }
            }
    }
}

fn accept_all(
    listener: &TcpListener,
    poll: &Poll,
    clients: &mut Clients,
    setup: &Setup,
    shared: &mut Shared,
) {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // E.g. out of file descriptors: keep serving the connections we have.
                eprintln!("echo_server: accept: {e}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let now = Instant::now();
        let admitted = shared.admission().on_connect(peer.ip(), now);
        let (conn, ticket) = match admitted {
            Ok(ticket) => {
                let mut conn = Connection::server_with_policy(setup.config, setup.policy.clone());
                conn.handle_timeout(now); // arms the handshake deadline
                (conn, Some(ticket))
            }
            // Answered with 503 or 429 by the same machinery, then closed.
            Err(refusal) => (
                Connection::server_refusing(setup.config, &refusal.response()),
                None,
            ),
        };
        let token = clients.insert(Client {
            stream,
            conn,
            registered: Interest::READABLE,
            read_eof: false,
            linger_until: None,
            ticket,
        });
        let client = clients.get_mut(token).expect("just inserted");
        if let Err(e) = poll
            .registry()
            .register(&mut client.stream, token, Interest::READABLE)
        {
            eprintln!("echo_server: register: {e}");
            drop_client(poll, clients, token, shared);
            continue;
        }
        if client.ticket.is_none() {
            // Send the refusal at once: the socket is writable on arrival.
            let _ = client.flush();
            if client.conn.pending_output().is_empty() {
                let _ = client.stream.shutdown(Shutdown::Write);
                client.linger_until = Some(now + LINGER);
            } else {
                client.registered = Interest::READABLE | Interest::WRITABLE;
                let _ = poll
                    .registry()
                    .reregister(&mut client.stream, token, client.registered);
            }
        }
    }
}

fn drop_client(poll: &Poll, clients: &mut Clients, token: Token, shared: &Shared) {
    if let Some(mut client) = clients.remove(token) {
        let _ = poll.registry().deregister(&mut client.stream);
        // Whatever ended the connection, its slot is freed exactly once: the ticket moves.
        if let Some(ticket) = client.ticket.take() {
            shared.admission().release(ticket);
        }
    }
}
