//! The HTTP and WebSocket I/O the Engine.IO-based examples share: a single-threaded,
//! non-blocking [mio] loop around an [`Endpoint`], and the application on top of it as an
//! [`App`].
//!
//! The loop moves bytes: it reads HTTP request heads with `httparse`, streams POST bodies
//! (`Content-Length`) into the endpoint, holds long polls until the endpoint completes them,
//! and hands a request that asks for a WebSocket upgrade, bytes and all, to a crate
//! [`Connection`]. Each HTTP response ends its TCP connection (`Connection: close`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::engineio::{Endpoint, Frame, Reply, Request, RequestId, SocketId};
use wsmachine::handshake::{Accept, Response};
use wsmachine::{Config, Connection, Event};

/// What runs on the endpoint: it owns it, reads its events and keeps its own deadlines.
pub trait App {
    /// The endpoint the loop feeds.
    fn endpoint(&mut self) -> &mut Endpoint;
    /// Take and answer what the endpoint reported since the last call (its events, or the
    /// events of a layer above them); whether there was anything.
    fn process(&mut self) -> bool;
    /// The app's next deadline, the endpoint's included.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fire what is due, the endpoint's timers included.
    fn handle_timeout(&mut self, now: Instant);
    /// A static page for a GET to a path outside the endpoint's: its content type and
    /// body. None by default (404).
    fn page(&self, _path: &str) -> Option<(&'static str, &'static str)> {
        None
    }
}

const LISTENER: Token = Token(0);
/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// Where a client's TCP connection stands.
enum Stage {
    /// Reading a request head.
    Head(Vec<u8>),
    /// Streaming a POST body into the endpoint: this many bytes still to come.
    Body(RequestId, usize),
    /// A long poll the endpoint holds.
    Held(RequestId),
    /// The response is written; the connection ends once it is out.
    Done,
    /// A WebSocket, and its id at the endpoint once its handshake was taken.
    Ws(Box<Connection>, Option<SocketId>),
}

struct Client {
    stream: TcpStream,
    stage: Stage,
    /// HTTP output (a WebSocket's output is its connection's).
    out: Vec<u8>,
    /// Finished: drop once the output is out.
    over: bool,
}

/// Everything the loop keeps.
struct Server<A: App> {
    app: A,
    ws_config: Config,
    clients: HashMap<Token, Client>,
    /// Which client holds each held poll or streamed POST, and each WebSocket.
    requests: HashMap<RequestId, Token>,
    sockets: HashMap<SocketId, Token>,
    /// Clients with output produced since the last writes. Output is written as soon as it
    /// is produced, before the next client is read, so that what one connection sends after
    /// another reaches the wire in that order too (a `3probe` before the answer to a poll
    /// that followed the upgrade, for instance).
    dirty: Vec<Token>,
}

/// Serve `app` on `addr` until an I/O error; `name` prefixes the log line.
pub fn serve<A: App>(name: &str, addr: SocketAddr, mut app: A) -> io::Result<()> {
    // A WebSocket message may carry max_payload bytes of packet; the endpoint checks the
    // exact limit, the connection a bound just above it.
    let max = app.endpoint().config().max_payload.saturating_add(16);
    let ws_config = Config::default().max_message_size(max).max_frame_size(max);
    let mut server = Server {
        app,
        ws_config,
        clients: HashMap::new(),
        requests: HashMap::new(),
        sockets: HashMap::new(),
        dirty: Vec::new(),
    };
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!(
        "{name}: listening on http://{}{}",
        listener.local_addr()?,
        server.app.endpoint().config().path
    );
    let mut events = Events::with_capacity(1024);
    let mut next_token = 1usize;
    loop {
        let now = Instant::now();
        let deadline = server
            .clients
            .values()
            .filter_map(|c| match &c.stage {
                Stage::Ws(conn, _) => conn.poll_timeout(),
                _ => None,
            })
            .chain(server.app.poll_timeout())
            .min();
        // Round up: waking a millisecond late is harmless, waking early spins.
        let timeout = deadline.map(|d| d.saturating_duration_since(now) + Duration::from_millis(1));
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            let token = Token(next_token);
                            next_token += 1;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            let stage = Stage::Head(Vec::new());
                            let (out, over) = (Vec::new(), false);
                            server.clients.insert(
                                token,
                                Client {
                                    stream,
                                    stage,
                                    out,
                                    over,
                                },
                            );
                            server.read(token, &poll);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            } else {
                server.read(event.token(), &poll);
            }
        }
        let now = Instant::now();
        server.app.handle_timeout(now);
        let tokens: Vec<Token> = server.clients.keys().copied().collect();
        for token in &tokens {
            if let Some(Client {
                stage: Stage::Ws(conn, socket),
                ..
            }) = server.clients.get_mut(token)
            {
                conn.handle_timeout(now);
                ws_events(
                    server.app.endpoint(),
                    conn,
                    socket,
                    *token,
                    &mut server.sockets,
                );
            }
        }
        server.pump();
        server.dirty.clear();
        for token in tokens {
            server.write(token, &poll);
        }
    }
}

impl<A: App> Server<A> {
    /// Read what a client sent, until the socket has no more.
    fn read(&mut self, token: Token, poll: &Poll) {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let Some(client) = self.clients.get_mut(&token) else {
                return;
            };
            if client.over {
                return;
            }
            let n = match client.stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            self.input(token, &buf[..n]);
            self.pump();
            self.dirty.push(token);
            for t in std::mem::take(&mut self.dirty) {
                self.write(t, poll);
            }
            if n == 0 {
                return;
            }
        }
    }

    /// Bytes from a client (`&[]`: the end of its stream).
    fn input(&mut self, token: Token, data: &[u8]) {
        let now = Instant::now();
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let eof = data.is_empty();
        match &mut client.stage {
            Stage::Head(head) => {
                if eof {
                    client.over = true;
                    return;
                }
                head.extend_from_slice(data);
                let head = std::mem::take(head);
                self.head(token, head, now);
            }
            Stage::Body(id, left) => {
                let id = *id;
                if eof {
                    self.requests.remove(&id);
                    self.app.endpoint().cancel_request(id, now);
                    client.over = true;
                    return;
                }
                let take = data.len().min(*left);
                *left -= take;
                let left = *left;
                if let Some(resp) = self.app.endpoint().request_body(id, &data[..take], now) {
                    self.requests.remove(&id);
                    respond(client, &resp);
                } else if left == 0 {
                    self.requests.remove(&id);
                    let resp = self.app.endpoint().end_request(id, now);
                    respond(client, &resp);
                }
            }
            Stage::Held(id) => {
                // A client waiting for its poll sends nothing more; its end abandons it.
                if eof {
                    let id = *id;
                    self.requests.remove(&id);
                    self.app.endpoint().cancel_request(id, now);
                    client.over = true;
                }
            }
            Stage::Done => {
                if eof {
                    client.over = true;
                }
            }
            Stage::Ws(conn, socket) => {
                if eof {
                    conn.receive_eof();
                } else {
                    conn.receive(data);
                }
                ws_events(self.app.endpoint(), conn, socket, token, &mut self.sockets);
            }
        }
    }

    /// A request head may be complete: route it.
    fn head(&mut self, token: Token, buf: Vec<u8>, now: Instant) {
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut fields);
        let n = match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => {
                client.stage = Stage::Head(buf);
                return;
            }
            _ => {
                respond(client, &Response::new(400).body("bad request"));
                return;
            }
        };
        let mut req = Request::new(parsed.method.unwrap_or(""), parsed.path.unwrap_or(""));
        for f in parsed.headers.iter() {
            req.headers.push((
                f.name.to_owned(),
                String::from_utf8_lossy(f.value).into_owned(),
            ));
        }
        let upgrade = req
            .header_value("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if upgrade {
            // The connection reads the handshake again, from the first byte.
            let mut conn = Box::new(Connection::server(self.ws_config));
            conn.handle_timeout(now);
            conn.receive(&buf);
            let mut socket = None;
            ws_events(
                self.app.endpoint(),
                &mut conn,
                &mut socket,
                token,
                &mut self.sockets,
            );
            client.stage = Stage::Ws(conn, socket);
            return;
        }
        if !self.app.endpoint().matches(&req.target) {
            let resp =
                page(&self.app, &req).unwrap_or_else(|| Response::new(404).body("not found"));
            respond(client, &resp);
            return;
        }
        let length = req.header_value("content-length").map(str::parse::<usize>);
        match self.app.endpoint().begin_request(&req, now) {
            Reply::Respond(resp) => respond(client, &resp),
            Reply::Held(id) => {
                self.requests.insert(id, token);
                client.stage = Stage::Held(id);
            }
            Reply::ReadBody(id) => match length {
                Some(Ok(length)) => {
                    self.requests.insert(id, token);
                    client.stage = Stage::Body(id, length);
                    let rest = buf[n..].to_vec();
                    if length == 0 || !rest.is_empty() {
                        self.input_body_start(token, id, &rest, now);
                    }
                }
                _ => {
                    self.app.endpoint().cancel_request(id, now);
                    respond(client, &Response::new(411).body("length required"));
                }
            },
        }
    }

    /// The body bytes that came with the head (possibly none, for an empty body).
    fn input_body_start(&mut self, token: Token, id: RequestId, rest: &[u8], now: Instant) {
        if rest.is_empty() {
            self.requests.remove(&id);
            let resp = self.app.endpoint().end_request(id, now);
            if let Some(client) = self.clients.get_mut(&token) {
                respond(client, &resp);
            }
        } else {
            self.input(token, rest);
        }
    }

    /// Hand out what the endpoint produced: the app's answers to its events, frames for
    /// WebSockets, responses to held polls.
    fn pump(&mut self) {
        loop {
            let mut busy = self.app.process();
            while let Some((socket, frame)) = self.app.endpoint().poll_transmit() {
                busy = true;
                let Some(token) = self.sockets.get(&socket).copied() else {
                    continue;
                };
                self.dirty.push(token);
                let Some(Client {
                    stage: Stage::Ws(conn, _),
                    ..
                }) = self.clients.get_mut(&token)
                else {
                    continue;
                };
                // A refusal means the connection is closing already: nothing to send.
                let _ = match frame {
                    Frame::Text(t) => conn.send_text(&t),
                    Frame::Binary(b) => conn.send_binary(&b),
                    Frame::Close(code, reason) => {
                        self.sockets.remove(&socket);
                        conn.close(code, reason)
                    }
                };
            }
            while let Some((id, resp)) = self.app.endpoint().poll_response() {
                busy = true;
                if let Some(token) = self.requests.remove(&id)
                    && let Some(client) = self.clients.get_mut(&token)
                {
                    self.dirty.push(token);
                    respond(client, &resp);
                }
            }
            if !busy {
                return;
            }
        }
    }

    /// Write what a client has pending; drop it once it is over.
    fn write(&mut self, token: Token, poll: &Poll) {
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        let finished = match &mut client.stage {
            Stage::Ws(conn, _) => {
                while !conn.pending_output().is_empty() {
                    match client.stream.write(conn.pending_output()) {
                        Ok(0) | Err(_) => {
                            client.over = true;
                            break;
                        }
                        Ok(n) => conn.advance_output(n),
                    }
                }
                conn.pending_output().is_empty() && conn.should_close_transport()
            }
            _ => {
                while !client.out.is_empty() {
                    match client.stream.write(&client.out) {
                        Ok(0) | Err(_) => {
                            client.over = true;
                            break;
                        }
                        Ok(n) => {
                            client.out.drain(..n);
                        }
                    }
                }
                client.out.is_empty() && matches!(client.stage, Stage::Done)
            }
        };
        let would_block = !finished && !client.over;
        if would_block {
            return;
        }
        if let Stage::Ws(_, Some(socket)) = client.stage {
            self.sockets.remove(&socket);
            self.app.endpoint().websocket_closed(socket, Instant::now());
        }
        if let Stage::Held(id) | Stage::Body(id, _) = client.stage {
            self.requests.remove(&id);
            self.app.endpoint().cancel_request(id, Instant::now());
        }
        let _ = client.stream.shutdown(Shutdown::Write);
        let _ = poll.registry().deregister(&mut client.stream);
        self.clients.remove(&token);
    }
}

/// The app's static page for a GET outside the endpoint's path, if it has one.
fn page<A: App>(app: &A, req: &Request) -> Option<Response> {
    if req.method != "GET" {
        return None;
    }
    let (content_type, body) = app.page(req.path())?;
    let resp = Response::new(200)
        .header("Content-Type", content_type)
        .header("Cache-Control", "no-store")
        .body(body);
    Some(resp)
}

/// Write an HTTP response; the connection ends after it.
fn respond(client: &mut Client, resp: &Response) {
    resp.write(&mut client.out);
    client.stage = Stage::Done;
}

/// Hand a WebSocket's events to the endpoint.
fn ws_events(
    endpoint: &mut Endpoint,
    conn: &mut Connection,
    socket: &mut Option<SocketId>,
    token: Token,
    sockets: &mut HashMap<SocketId, Token>,
) {
    let now = Instant::now();
    while let Some(event) = conn.poll_event() {
        match (event, *socket) {
            (Event::HandshakeRequest(hr), None) => {
                let mut req = Request::new(hr.method(), hr.target());
                for (n, v) in hr.headers() {
                    req.headers.push((n.to_owned(), v.to_owned()));
                }
                let opened = endpoint.open_websocket(&req, now);
                let _ = conn.accept(Accept::new());
                match opened {
                    Ok(id) => {
                        *socket = Some(id);
                        sockets.insert(id, token);
                    }
                    // The protocol answers a bad WebSocket by closing it.
                    Err(e) => {
                        let _ = conn.close(e.close_code(), e.message());
                    }
                }
            }
            (Event::Text(text), Some(id)) => endpoint.websocket_text(id, text, now),
            (Event::Binary(data), Some(id)) => endpoint.websocket_binary(id, data, now),
            _ => {}
        }
    }
    if let (Some(id), true) = (*socket, conn.should_close_transport()) {
        endpoint.websocket_closed(id, now);
    }
}
