//! The HTTP and WebSocket I/O the Engine.IO-based examples share: a single-threaded,
//! non-blocking [mio] loop around an [`Endpoint`], and the application on top of it as an
//! [`App`].
//!
//! The loop moves bytes: every TCP connection is read by a crate [`Connection`] serving plain
//! HTTP beside WebSocket (`ServerPolicy::plain_http`), which parses the request head, reads a
//! POST's `Content-Length` body, and reports an `HttpRequest` for the endpoint (long polls are
//! held until the endpoint completes them, and answered with `Connection::respond`) or a
//! `HandshakeRequest` whose WebSocket the endpoint takes. Each HTTP response ends its TCP
//! connection (`Connection: close`).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use wsmachine::engineio::{Endpoint, Frame, Reply, Request, RequestId, SocketId};
use wsmachine::handshake::{Accept, Response, ServerPolicy};
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
    /// body. None by default (the endpoint's 404).
    fn page(&self, _path: &str) -> Option<(&'static str, &'static str)> {
        None
    }
}

const LISTENER: Token = Token(0);

/// What a client's TCP connection carries, once its first request was read.
enum Stage {
    /// An HTTP request being read (a POST's body included) or answered.
    Http,
    /// A long poll the endpoint holds: answered when the endpoint completes it.
    Held(RequestId),
    /// A WebSocket, with its id at the endpoint once its handshake was taken.
    Ws(Option<SocketId>),
}

struct Client {
    stream: TcpStream,
    /// The machine reading this connection: the request (head and body), then the response
    /// or the WebSocket.
    conn: Box<Connection>,
    stage: Stage,
    /// Finished: drop once the output is out.
    over: bool,
}

/// Everything the loop keeps.
struct Server<A: App> {
    app: A,
    config: Config,
    policy: Arc<ServerPolicy>,
    clients: HashMap<Token, Client>,
    /// Which client holds each held poll, and each WebSocket.
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
    // A POST body or a WebSocket message may carry max_payload bytes of packets; the endpoint
    // checks the exact limit, the connection a bound just above it.
    let max = app.endpoint().config().max_payload.saturating_add(16);
    let config = Config::default()
        .max_message_size(max)
        .max_frame_size(max)
        .max_request_body(max);
    let mut server = Server {
        app,
        config,
        policy: Arc::new(ServerPolicy::new().plain_http(true)),
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
            .filter_map(|c| c.conn.poll_timeout())
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
                            let mut conn = Box::new(Connection::server_with_policy(
                                server.config,
                                server.policy.clone(),
                            ));
                            conn.handle_timeout(Instant::now());
                            let client = Client {
                                stream,
                                conn,
                                stage: Stage::Http,
                                over: false,
                            };
                            server.clients.insert(token, client);
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
            if let Some(client) = server.clients.get_mut(token) {
                client.conn.handle_timeout(now);
            }
            server.events(*token);
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
            if n == 0 {
                client.conn.receive_eof();
            } else {
                client.conn.receive(&buf[..n]);
            }
            self.events(token);
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

    /// Take what a client's machine reports: a request (HTTP or an upgrade), WebSocket
    /// messages, its end.
    fn events(&mut self, token: Token) {
        let now = Instant::now();
        let Some(client) = self.clients.get_mut(&token) else {
            return;
        };
        while let Some(event) = client.conn.poll_event() {
            match (event, &mut client.stage) {
                (Event::HttpRequest(hr), Stage::Http) => {
                    let req = Request::from(hr);
                    // Off the endpoint's path the app's page, if it has one; else the
                    // endpoint answers (with its 404 off its path).
                    let page = if self.app.endpoint().matches(&req.target) {
                        None
                    } else {
                        page(&self.app, &req)
                    };
                    let reply = match page {
                        Some(resp) => Reply::Respond(resp),
                        None => self.app.endpoint().handle_request(&req, hr.body(), now),
                    };
                    match reply {
                        Reply::Respond(resp) => {
                            let _ = client.conn.respond(resp);
                        }
                        Reply::Held(id) => {
                            self.requests.insert(id, token);
                            client.stage = Stage::Held(id);
                        }
                    }
                    break;
                }
                (Event::HandshakeRequest(hr), Stage::Http) => {
                    let opened = self.app.endpoint().open_websocket(&Request::from(hr), now);
                    let _ = client.conn.accept(Accept::new());
                    match opened {
                        Ok(id) => {
                            client.stage = Stage::Ws(Some(id));
                            self.sockets.insert(id, token);
                        }
                        // The protocol answers a bad WebSocket by closing it.
                        Err(e) => {
                            client.stage = Stage::Ws(None);
                            let _ = client.conn.close(e.close_code(), e.message());
                        }
                    }
                }
                (Event::Text(text), Stage::Ws(Some(id))) => {
                    self.app.endpoint().websocket_text(*id, text, now)
                }
                (Event::Binary(data), Stage::Ws(Some(id))) => {
                    self.app.endpoint().websocket_binary(*id, data, now)
                }
                _ => {}
            }
        }
        if client.conn.should_close_transport() {
            release(
                &mut self.app,
                &mut self.requests,
                &mut self.sockets,
                client,
                now,
            );
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
                let Some(client) = self.clients.get_mut(&token) else {
                    continue;
                };
                // A refusal means the connection is closing already: nothing to send.
                let _ = match frame {
                    Frame::Text(t) => client.conn.send_text(&t),
                    Frame::Binary(b) => client.conn.send_binary(&b),
                    Frame::Close(code, reason) => {
                        self.sockets.remove(&socket);
                        client.stage = Stage::Ws(None);
                        client.conn.close(code, reason)
                    }
                };
            }
            while let Some((id, resp)) = self.app.endpoint().poll_response() {
                busy = true;
                if let Some(token) = self.requests.remove(&id)
                    && let Some(client) = self.clients.get_mut(&token)
                {
                    self.dirty.push(token);
                    client.stage = Stage::Http;
                    let _ = client.conn.respond(resp);
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
        while !client.conn.pending_output().is_empty() {
            match client.stream.write(client.conn.pending_output()) {
                Ok(0) | Err(_) => {
                    client.over = true;
                    break;
                }
                Ok(n) => client.conn.advance_output(n),
            }
        }
        let finished =
            client.conn.pending_output().is_empty() && client.conn.should_close_transport();
        if !finished && !client.over {
            return;
        }
        let now = Instant::now();
        release(
            &mut self.app,
            &mut self.requests,
            &mut self.sockets,
            client,
            now,
        );
        let _ = client.stream.shutdown(Shutdown::Write);
        let _ = poll.registry().deregister(&mut client.stream);
        self.clients.remove(&token);
    }
}

/// A client's connection is ending: its WebSocket is closed at the endpoint, or its held poll
/// cancelled (the client went away while it was held), and the client forgets it.
fn release<A: App>(
    app: &mut A,
    requests: &mut HashMap<RequestId, Token>,
    sockets: &mut HashMap<SocketId, Token>,
    client: &mut Client,
    now: Instant,
) {
    match client.stage {
        Stage::Ws(Some(socket)) => {
            sockets.remove(&socket);
            app.endpoint().websocket_closed(socket, now);
            client.stage = Stage::Ws(None);
        }
        Stage::Held(id) => {
            requests.remove(&id);
            app.endpoint().cancel_request(id, now);
            client.stage = Stage::Http;
        }
        _ => {}
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
