//! A WebSocket echo server on a single-threaded, non-blocking [mio] event loop.
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:9001 \
//!     [--allow-origin ORIGIN]... [--protocol NAME]... \
//!     [--max-conns-per-ip N] [--max-conns N] [--rate PER_SECOND] [--burst N] \
//!     [--handshake-timeout SECONDS] [--idle-timeout SECONDS] [--no-deflate]
//! ```
//!
//! Every text and binary message is sent back as it came; Pings are answered automatically.
//! Opening `http://127.0.0.1:9001/` in a browser serves a small page that talks to the server.
//!
//! - `--addr` is the listening address (default `127.0.0.1:9001`);
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
//! TestSuite runs against (`autobahn/run.sh server`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::admission::{Admission, AdmissionConfig, Ticket};
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::{Accept, HandshakeRequest, Response, ServerPolicy};
use wsmachine::{Config, Connection, Event};

const LISTENER: Token = Token(0);
/// Room offered to each read.
const READ_CHUNK: usize = 16 * 1024;
/// Stop reading from a connection while this much output waits for its peer: a client that
/// sends but never reads cannot grow the server's memory without bound.
const HIGH_WATER: usize = 1 << 20;
/// How long a closed connection is drained for its peer's FIN before it is dropped.
const LINGER: Duration = Duration::from_secs(2);
/// How often lingering connections are checked.
const LINGER_TICK: Duration = Duration::from_millis(250);

// The browser page, shared with `axum_echo`.
#[path = "common/echo_page.rs"]
mod echo_page;
use echo_page::PAGE;

struct Options {
    addr: SocketAddr,
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

/// State shared by all connections of the loop.
struct Shared {
    admission: Admission,
    /// Reused copy of the message being echoed.
    scratch: Scratch,
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
            match self.stream.read(self.conn.receive_buffer(READ_CHUNK)) {
                Ok(0) => {
                    self.read_eof = true;
                    self.conn.receive_eof();
                }
                Ok(n) => self.conn.commit_received(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.conn.handle_timeout(Instant::now());
            self.handle_events(shared);
        }
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
        let scratch = &mut shared.scratch;
        loop {
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
                    Some(ticket) => match shared.admission.on_handshake(ticket, Instant::now()) {
                        Ok(()) => self.conn.accept(Accept::new()),
                        Err(refusal) => self.conn.reject(refusal.response()),
                    },
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
                Reply::Text => self.conn.send_text(&scratch.text),
                Reply::Binary => self.conn.send_binary(&scratch.binary),
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

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("echo_server: {e}");
            eprintln!(
                "usage: echo_server [--addr HOST:PORT] [--allow-origin ORIGIN]... [--protocol NAME]... \
                 [--max-conns-per-ip N] [--max-conns N] [--rate PER_SECOND] [--burst N] \
                 [--handshake-timeout SECONDS] [--idle-timeout SECONDS] [--no-deflate]"
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

fn run(opts: Options) -> io::Result<()> {
    let mut policy = ServerPolicy::new()
        .protocols(opts.protocols)
        .plain_http(true);
    for origin in &opts.origins {
        policy = policy.allow_origin(origin);
    }
    let policy = Arc::new(policy);
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

    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(opts.addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("echo_server: listening on ws://{}/", listener.local_addr()?);

    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = 1usize;
    let mut events = Events::with_capacity(1024);
    let mut shared = Shared {
        admission: Admission::new(opts.admission),
        scratch: Scratch::default(),
    };

    loop {
        // Sleep until the earliest deadline of any machine (a scan keeps the example short; a
        // large server would keep the deadlines in a heap or timer wheel).
        let now = Instant::now();
        let lingering = clients.values().any(|c| c.linger_until.is_some());
        let deadline = clients.values().filter_map(|c| c.conn.poll_timeout()).min();
        let timeout = match (deadline, lingering) {
            (Some(d), true) => Some(d.saturating_duration_since(now).min(LINGER_TICK)),
            (Some(d), false) => Some(d.saturating_duration_since(now)),
            (None, true) => Some(LINGER_TICK),
            (None, false) => None,
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept_all(
                    &listener,
                    &poll,
                    &mut clients,
                    &mut next_token,
                    config,
                    &policy,
                    &mut shared.admission,
                );
                continue;
            }
            let token = event.token();
            let Some(client) = clients.get_mut(&token) else {
                continue;
            };
            if !service(&poll, client, token, &mut shared) {
                drop_client(&poll, &mut clients, token, &mut shared.admission);
            }
        }
        // Fire the deadlines that came due, and drop connections done lingering.
        let now = Instant::now();
        let due: Vec<Token> = clients
            .iter()
            .filter(|(_, c)| {
                c.linger_until.is_some_and(|t| t <= now)
                    || c.conn.poll_timeout().is_some_and(|t| t <= now)
            })
            .map(|(t, _)| *t)
            .collect();
        for token in due {
            let Some(client) = clients.get_mut(&token) else {
                continue;
            };
            let keep = if client.linger_until.is_some_and(|t| t <= now) {
                false
            } else {
                client.conn.handle_timeout(now);
                client.handle_events(&mut shared);
                service(&poll, client, token, &mut shared)
            };
            if !keep {
                drop_client(&poll, &mut clients, token, &mut shared.admission);
            }
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
    clients: &mut HashMap<Token, Client>,
    next_token: &mut usize,
    config: Config,
    policy: &Arc<ServerPolicy>,
    admission: &mut Admission,
) {
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // E.g. out of file descriptors: keep serving the connections we have.
                eprintln!("echo_server: accept: {e}");
                return;
            }
        };
        let token = Token(*next_token);
        *next_token += 1;
        let _ = stream.set_nodelay(true);
        if let Err(e) = poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
        {
            eprintln!("echo_server: register: {e}");
            continue;
        }
        let now = Instant::now();
        let (conn, ticket) = match admission.on_connect(peer.ip(), now) {
            Ok(ticket) => {
                let mut conn = Connection::server_with_policy(config, policy.clone());
                conn.handle_timeout(now); // arms the handshake deadline
                (conn, Some(ticket))
            }
            // Answered with 503 or 429 by the same machinery, then closed.
            Err(refusal) => (
                Connection::server_refusing(config, &refusal.response()),
                None,
            ),
        };
        let mut client = Client {
            stream,
            conn,
            registered: Interest::READABLE,
            read_eof: false,
            linger_until: None,
            ticket,
        };
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
        clients.insert(token, client);
    }
}

fn drop_client(
    poll: &Poll,
    clients: &mut HashMap<Token, Client>,
    token: Token,
    admission: &mut Admission,
) {
    if let Some(mut client) = clients.remove(&token) {
        let _ = poll.registry().deregister(&mut client.stream);
        // Whatever ended the connection, its slot is freed exactly once: the ticket moves.
        if let Some(ticket) = client.ticket.take() {
            admission.release(ticket);
        }
    }
}
