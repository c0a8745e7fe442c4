//! The server: connections, namespaces and sockets, the packets clients send, the timers.
//!
//! What the application sends (emits, acks, rooms, broadcasts) is in `emit.rs`, on the same
//! type.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use serde_json::{Map, Value};

use super::binary::{Payload, Reassembly};
use super::broadcast::{Adapter, LocalAdapter};
use super::config::ServerConfig;
use super::event::{ConnectRequest, DisconnectReason, Event, SocketError};
use super::packet::{Packet, PacketError, PacketType};
use crate::engineio::{Endpoint, EngineEvent, Message, Request, Sid};

/// One Engine.IO session, seen from Socket.IO.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Its socket in each namespace it joined.
    pub sockets: HashMap<String, Sid>,
    /// Namespaces whose CONNECT awaits the application's answer.
    pub pending: HashSet<String>,
    /// The deadline for the first CONNECT, until it comes.
    connect_by: Option<Instant>,
    reassembly: Reassembly,
}

/// One socket: a connection's membership of one namespace.
#[derive(Debug)]
pub(crate) struct Socket {
    pub conn: Sid,
    pub nsp: String,
    pub rooms: BTreeSet<String>,
    pub next_ack: u64,
    /// The server's events awaiting the client's ack, and when each one times out (`None`:
    /// never).
    pub acks: BTreeMap<u64, Option<Instant>>,
}

/// A namespace's sockets and rooms.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    pub sockets: BTreeSet<Sid>,
    pub rooms: HashMap<String, BTreeSet<Sid>>,
}

/// What a deadline is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A connection's first CONNECT.
    Connect(Sid),
    /// An ack the server awaits from a socket.
    Ack(Sid, u64),
}

/// A Socket.IO v5 server, sans-IO, on its own Engine.IO [`Endpoint`].
///
/// The transport's input goes to the endpoint ([`engine_mut`](Self::engine_mut)): HTTP
/// requests, WebSocket messages; its output comes from it too (responses, frames). After
/// each input, take the server's [`Event`]s with [`poll_event`](Self::poll_event) until it
/// returns `None` (this reads the endpoint's own events, so call it before taking the
/// endpoint's output), and answer them: [`accept`](Self::accept) or
/// [`refuse`](Self::refuse) a CONNECT, [`ack`](Self::ack) an event, emit. Time goes in with
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
///
/// ```
/// use std::time::Instant;
/// use wsmachine::engineio::{Reply, Request};
/// use wsmachine::socketio::{Event, Payload, Server, ServerConfig};
///
/// let mut io = Server::new(ServerConfig::default());
/// let now = Instant::now();
/// let open = Request::new("GET", "/socket.io/?EIO=4&transport=polling");
/// let Reply::Respond(resp) = io.engine_mut().handle_request(&open, b"", now) else { panic!() };
/// let text = String::from_utf8(resp.body_bytes().to_vec()).unwrap();
/// let sid = &text[9..29];
/// assert_eq!(io.poll_event(now), None);
///
/// // The client joins the main namespace and emits an event.
/// let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
/// let post = Request::new("POST", target.as_str());
/// io.engine_mut().handle_request(&post, b"40\x1e42[\"hi\",1]", now);
/// let Some(Event::Connect(req)) = io.poll_event(now) else { panic!() };
/// let socket = io.accept(&req).unwrap();
/// let Some(Event::Message { name, payload, .. }) = io.poll_event(now) else { panic!() };
/// assert_eq!((name.as_str(), payload.args.len()), ("hi", 1));
/// io.emit(&socket, "hello", Payload::json(&("world",)).unwrap()).unwrap();
///
/// let get = Request::new("GET", target);
/// let Reply::Respond(poll) = io.engine_mut().handle_request(&get, b"", now) else { panic!() };
/// let body = String::from_utf8(poll.body_bytes().to_vec()).unwrap();
/// assert!(body.starts_with("40{\"sid\":\""));
/// assert!(body.ends_with("\x1e42[\"hello\",\"world\"]"));
/// ```
#[derive(Debug)]
pub struct Server<A: Adapter = LocalAdapter> {
    pub(crate) engine: Endpoint,
    pub(crate) config: ServerConfig,
    pub(crate) adapter: A,
    pub(crate) namespaces: HashMap<String, Namespace>,
    pub(crate) conns: HashMap<Sid, Conn>,
    pub(crate) sockets: HashMap<Sid, Socket>,
    pub(crate) timers: BTreeSet<(Instant, Timer)>,
    pub(crate) events: VecDeque<Event>,
}

impl Server<LocalAdapter> {
    /// A server with only the main namespace `/`, whose broadcasts stay in this process.
    pub fn new(config: ServerConfig) -> Self {
        Server::with_adapter(config, LocalAdapter)
    }
}

impl<A: Adapter> Server<A> {
    /// A server with only the main namespace `/`, whose broadcasts also go to `adapter`.
    pub fn with_adapter(config: ServerConfig, adapter: A) -> Self {
        let mut namespaces = HashMap::new();
        namespaces.insert("/".to_owned(), Namespace::default());
        Server {
            engine: Endpoint::new(config.engine.clone()),
            config,
            adapter,
            namespaces,
            conns: HashMap::new(),
            sockets: HashMap::new(),
            timers: BTreeSet::new(),
            events: VecDeque::new(),
        }
    }

    /// Declare a namespace (e.g. `/admin`); a CONNECT to an undeclared one is refused with
    /// `{"message":"Invalid namespace"}`.
    pub fn add_namespace(&mut self, nsp: impl Into<String>) {
        self.namespaces.entry(nsp.into()).or_default();
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The Engine.IO endpoint, for its state.
    pub fn engine(&self) -> &Endpoint {
        &self.engine
    }

    /// The Engine.IO endpoint, for the transport's input and output.
    pub fn engine_mut(&mut self) -> &mut Endpoint {
        &mut self.engine
    }

    /// The broadcast adapter.
    pub fn adapter_mut(&mut self) -> &mut A {
        &mut self.adapter
    }

    /// The request that opened a connection, for deciding on its CONNECTs.
    pub fn handshake(&self, conn: &Sid) -> Option<&Request> {
        self.engine.handshake(conn)
    }

    /// A connected socket's namespace.
    pub fn namespace_of(&self, socket: &Sid) -> Option<&str> {
        self.sockets.get(socket).map(|s| s.nsp.as_str())
    }

    /// A connected socket's connection (Engine.IO session).
    pub fn conn_of(&self, socket: &Sid) -> Option<Sid> {
        self.sockets.get(socket).map(|s| s.conn)
    }

    /// How many sockets are connected, over every namespace.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// The next event. It reads the endpoint's events first: call it until `None` after
    /// each input to the endpoint, before taking the endpoint's output.
    pub fn poll_event(&mut self, now: Instant) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            let e = self.engine.poll_event()?;
            self.engine_event(e, now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next: the endpoint's
    /// deadline or the server's own (connect timeouts, ack timeouts).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.timers.first().map(|(t, _)| *t);
        match (own, self.engine.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fire what is due at `now`: the endpoint's heartbeat, connections that never sent a
    /// CONNECT, acks not answered in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.engine.handle_timeout(now);
        // What the endpoint already delivered counts before the deadlines.
        while let Some(e) = self.engine.poll_event() {
            self.engine_event(e, now);
        }
        while let Some((at, _)) = self.timers.first() {
            if *at > now {
                break;
            }
            let Some((_, timer)) = self.timers.pop_first() else {
                break;
            };
            match timer {
                Timer::Connect(conn) => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.connect_by = None;
                        self.drop_conn(conn, DisconnectReason::ServerDisconnect);
                        let _ = self.engine.close(&conn);
                    }
                }
                Timer::Ack(socket, id) => {
                    if let Some(s) = self.sockets.get_mut(&socket)
                        && s.acks.remove(&id).is_some()
                    {
                        self.events.push_back(Event::AckTimeout { socket, id });
                    }
                }
            }
        }
    }

    /// Let the client join the namespace it asked for: it gets the socket's new sid, which
    /// this returns.
    pub fn accept(&mut self, req: &ConnectRequest) -> Result<Sid, SocketError> {
        self.take_pending(req)?;
        let socket = loop {
            let sid = Sid::random();
            if !self.sockets.contains_key(&sid) {
                break sid;
            }
        };
        let mut data = Map::new();
        data.insert("sid".to_owned(), Value::String(socket.to_string()));
        let packet = Packet::new(PacketType::Connect, req.nsp.as_str()).with_data(data.into());
        self.send_packet(req.conn, &packet, Vec::new())?;
        self.sockets.insert(
            socket,
            Socket {
                conn: req.conn,
                nsp: req.nsp.clone(),
                rooms: BTreeSet::new(),
                next_ack: 0,
                acks: BTreeMap::new(),
            },
        );
        if let Some(c) = self.conns.get_mut(&req.conn) {
            c.sockets.insert(req.nsp.clone(), socket);
        }
        if let Some(ns) = self.namespaces.get_mut(&req.nsp) {
            ns.sockets.insert(socket);
        }
        Ok(socket)
    }

    /// Refuse the client's CONNECT with this CONNECT_ERROR payload (an object such as
    /// `{"message":"Not authorized"}`, with a `data` member for details if wanted).
    pub fn refuse(&mut self, req: &ConnectRequest, data: Value) -> Result<(), SocketError> {
        self.take_pending(req)?;
        let packet = Packet::new(PacketType::ConnectError, req.nsp.as_str()).with_data(data);
        self.send_packet(req.conn, &packet, Vec::new())
    }

    fn take_pending(&mut self, req: &ConnectRequest) -> Result<(), SocketError> {
        let found = self
            .conns
            .get_mut(&req.conn)
            .is_some_and(|c| c.pending.remove(&req.nsp));
        if found {
            Ok(())
        } else {
            Err(SocketError::UnknownConnect)
        }
    }

    /// Close a connection: every socket on it is disconnected.
    pub fn close(&mut self, conn: &Sid) {
        self.drop_conn(*conn, DisconnectReason::ServerDisconnect);
        let _ = self.engine.close(conn);
    }

    fn engine_event(&mut self, e: EngineEvent, now: Instant) {
        match e {
            EngineEvent::Open { sid, .. } => {
                let at = now + self.config.connect_timeout;
                self.timers.insert((at, Timer::Connect(sid)));
                self.conns.insert(
                    sid,
                    Conn {
                        sockets: HashMap::new(),
                        pending: HashSet::new(),
                        connect_by: Some(at),
                        reassembly: Reassembly::default(),
                    },
                );
            }
            EngineEvent::Message { sid, message } => {
                let (max_count, max_bytes) = (
                    self.config.max_attachments,
                    self.config.max_attachment_bytes,
                );
                let Some(c) = self.conns.get_mut(&sid) else {
                    return;
                };
                let done = match &message {
                    Message::Text(t) => c.reassembly.text(t, max_count),
                    Message::Binary(b) => c.reassembly.binary(b, max_bytes),
                };
                match done {
                    Ok(Some((packet, attachments))) => {
                        self.client_packet(sid, packet, attachments);
                    }
                    Ok(None) => {}
                    Err(e) => self.malformed(sid, e),
                }
            }
            EngineEvent::Closed { sid, reason } => {
                self.drop_conn(sid, DisconnectReason::Transport(reason));
            }
            EngineEvent::Upgraded { .. } => {}
        }
    }

    /// A complete packet from a client.
    fn client_packet(&mut self, conn: Sid, p: Packet, attachments: Vec<Vec<u8>>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if p.kind == PacketType::Connect {
            if let Some(at) = c.connect_by.take() {
                self.timers.remove(&(at, Timer::Connect(conn)));
            }
            if !self.namespaces.contains_key(&p.nsp) {
                let mut data = Map::new();
                data.insert("message".into(), Value::from("Invalid namespace"));
                let refusal = Packet::new(PacketType::ConnectError, p.nsp).with_data(data.into());
                let _ = self.send_packet(conn, &refusal, Vec::new());
                return;
            }
            if c.sockets.contains_key(&p.nsp) || !c.pending.insert(p.nsp.clone()) {
                return;
            }
            let auth = p.data.unwrap_or_else(|| Value::Object(Map::new()));
            self.events.push_back(Event::Connect(ConnectRequest {
                conn,
                nsp: p.nsp,
                auth,
            }));
            return;
        }
        if c.connect_by.is_some() {
            // The protocol wants a CONNECT first.
            self.malformed(conn, PacketError::Unexpected);
            return;
        }
        // Packets for a namespace the client has not joined are ignored.
        let Some(&socket) = c.sockets.get(&p.nsp) else {
            return;
        };
        let args = match p.data {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        match p.kind {
            PacketType::Disconnect => {
                self.remove_socket(socket, DisconnectReason::ClientDisconnect);
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let mut args = args.into_iter();
                let name = match args.next() {
                    Some(Value::String(s)) => s,
                    _ => return,
                };
                self.events.push_back(Event::Message {
                    socket,
                    nsp: p.nsp,
                    name,
                    payload: Payload {
                        args: args.collect(),
                        attachments,
                    },
                    ack: p.id,
                });
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(id) = p.id else { return };
                let Some(s) = self.sockets.get_mut(&socket) else {
                    return;
                };
                // An ack the server did not ask for, or too late, is ignored.
                let Some(at) = s.acks.remove(&id) else {
                    return;
                };
                if let Some(at) = at {
                    self.timers.remove(&(at, Timer::Ack(socket, id)));
                }
                self.events.push_back(Event::Ack {
                    socket,
                    id,
                    payload: Payload { args, attachments },
                });
            }
            PacketType::Connect | PacketType::ConnectError => {}
        }
    }

    /// A client broke the protocol: its sockets are disconnected, its connection closed.
    fn malformed(&mut self, conn: Sid, e: PacketError) {
        self.drop_conn(conn, DisconnectReason::Malformed(e));
        let _ = self.engine.close(&conn);
    }

    /// Forget a connection and disconnect its sockets.
    fn drop_conn(&mut self, conn: Sid, reason: DisconnectReason) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(at) = c.connect_by {
            self.timers.remove(&(at, Timer::Connect(conn)));
        }
        let mut sockets: Vec<(String, Sid)> = c.sockets.into_iter().collect();
        sockets.sort();
        for (_, socket) in sockets {
            self.remove_socket(socket, reason);
        }
    }

    /// Forget a socket: its rooms, its pending acks; the application is told.
    pub(crate) fn remove_socket(&mut self, socket: Sid, reason: DisconnectReason) {
        let Some(s) = self.sockets.remove(&socket) else {
            return;
        };
        for (id, at) in &s.acks {
            if let Some(at) = at {
                self.timers.remove(&(*at, Timer::Ack(socket, *id)));
            }
        }
        if let Some(ns) = self.namespaces.get_mut(&s.nsp) {
            ns.sockets.remove(&socket);
            for room in &s.rooms {
                if let Some(members) = ns.rooms.get_mut(room) {
                    members.remove(&socket);
                    if members.is_empty() {
                        ns.rooms.remove(room);
                    }
                }
            }
        }
        if let Some(c) = self.conns.get_mut(&s.conn) {
            c.sockets.remove(&s.nsp);
        }
        self.events.push_back(Event::Disconnected {
            socket,
            nsp: s.nsp,
            reason,
        });
    }

    /// Queue a packet and its attachments for a connection. An attachment refused after its
    /// packet went out would leave the client waiting for it: the connection is closed.
    pub(crate) fn send_packet(
        &mut self,
        conn: Sid,
        packet: &Packet,
        attachments: Vec<Vec<u8>>,
    ) -> Result<(), SocketError> {
        let text = packet.encode();
        self.send_text(conn, text, attachments)
    }

    /// Queue a packet already encoded.
    pub(crate) fn send_text(
        &mut self,
        conn: Sid,
        text: String,
        attachments: Vec<Vec<u8>>,
    ) -> Result<(), SocketError> {
        use crate::engineio::SendError;
        let refused = |e: SendError| match e {
            SendError::QueueFull => SocketError::QueueFull,
            SendError::UnknownSid => SocketError::UnknownSocket,
        };
        self.engine
            .send(&conn, Message::Text(text))
            .map_err(refused)?;
        for a in attachments {
            if let Err(e) = self.engine.send(&conn, Message::Binary(a)) {
                self.close(&conn);
                return Err(refused(e));
            }
        }
        Ok(())
    }
}
