//! The endpoint: every session, the long-polling requests, the timers.
//!
//! WebSocket input is handled in `websocket.rs`, on the same type.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use super::config::EndpointConfig;
use super::packet::{Frame, Packet};
use super::payload::{PayloadError, decode_payload, encode_payload};
use super::request::{Cors, EngineError, Request, check_origin, target_path, with_cors};
use super::session::{
    CloseReason, EngineEvent, Heartbeat, Message, RequestId, SendError, Session, Sid, SocketId,
    TransportKind,
};
use crate::handshake::Response;

/// What to do with an HTTP request the endpoint was given.
#[derive(Debug)]
pub enum Reply {
    /// Write this response now.
    Respond(Response),
    /// A poll is held: its response comes later from
    /// [`Endpoint::poll_response`] under this handle. If the client goes away first, call
    /// [`Endpoint::cancel_request`].
    Held(RequestId),
}

/// A held poll: its session and the CORS headers its response carries.
#[derive(Debug)]
pub(crate) struct Pending {
    sid: Sid,
    cors: Cors,
}

/// An Engine.IO v4 server endpoint, sans-IO.
///
/// It owns the sessions. The application hands it each HTTP request to the endpoint's path
/// with its whole body ([`handle_request`](Self::handle_request)) and each WebSocket opened there with its messages
/// ([`open_websocket`](Self::open_websocket), [`websocket_text`](Self::websocket_text), ...),
/// and the time. It gives back responses, held responses completed later
/// ([`poll_response`](Self::poll_response)), frames for the WebSockets
/// ([`poll_transmit`](Self::poll_transmit)), session events
/// ([`poll_event`](Self::poll_event)) and its next deadline
/// ([`poll_timeout`](Self::poll_timeout), then [`handle_timeout`](Self::handle_timeout)).
///
/// ```
/// use std::time::Instant;
/// use wsmachine::engineio::{EndpointConfig, EngineEvent, Endpoint, Reply, Request};
///
/// let mut ep = Endpoint::new(EndpointConfig::default());
/// let now = Instant::now();
/// let open = Request::new("GET", "/engine.io/?EIO=4&transport=polling");
/// let Reply::Respond(resp) = ep.handle_request(&open, b"", now) else { panic!() };
/// let body = String::from_utf8(resp.body_bytes().to_vec()).unwrap();
/// assert!(body.starts_with("0{\"sid\":\""));
/// let Some(EngineEvent::Open { sid, .. }) = ep.poll_event() else { panic!() };
///
/// // The client sends a message; the application echoes it; the next poll carries it.
/// let target = format!("/engine.io/?EIO=4&transport=polling&sid={sid}");
/// let post = Request::new("POST", target.as_str());
/// let Reply::Respond(ok) = ep.handle_request(&post, b"4hello", now) else { panic!() };
/// assert_eq!(ok.body_bytes(), b"ok");
/// let Some(EngineEvent::Message { message, .. }) = ep.poll_event() else { panic!() };
/// ep.send(&sid, message).unwrap();
/// let Reply::Respond(poll) = ep.handle_request(&Request::new("GET", target), b"", now) else {
///     panic!()
/// };
/// assert_eq!(poll.body_bytes(), b"4hello");
/// ```
#[derive(Debug)]
pub struct Endpoint {
    pub(crate) config: EndpointConfig,
    pub(crate) sessions: HashMap<Sid, Session>,
    /// Every session's next deadline.
    timers: BTreeSet<(Instant, Sid)>,
    pub(crate) requests: HashMap<RequestId, Pending>,
    /// Which session each live WebSocket belongs to.
    pub(crate) sockets: HashMap<SocketId, Sid>,
    next_id: u64,
    pub(crate) events: VecDeque<EngineEvent>,
    responses: VecDeque<(RequestId, Response)>,
    pub(crate) transmits: VecDeque<(SocketId, Frame)>,
}

impl Endpoint {
    /// An endpoint with no sessions.
    pub fn new(config: EndpointConfig) -> Self {
        Endpoint {
            config,
            sessions: HashMap::new(),
            timers: BTreeSet::new(),
            requests: HashMap::new(),
            sockets: HashMap::new(),
            next_id: 0,
            events: VecDeque::new(),
            responses: VecDeque::new(),
            transmits: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Whether a request target is on the endpoint's path.
    pub fn matches(&self, target: &str) -> bool {
        let path = target_path(target);
        let own = &self.config.path;
        path == own || Some(path) == own.strip_suffix('/')
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The transport a session is on, or `None` for an unknown sid.
    pub fn transport(&self, sid: &Sid) -> Option<TransportKind> {
        self.sessions.get(sid).map(|s| match s.socket {
            Some(_) => TransportKind::WebSocket,
            None => TransportKind::Polling,
        })
    }

    /// The request that opened a session (its long-polling handshake or its WebSocket's
    /// handshake request), for what a layer above decides from its headers and query; `None`
    /// for an unknown sid.
    pub fn handshake(&self, sid: &Sid) -> Option<&Request> {
        self.sessions.get(sid)?.handshake.as_deref()
    }

    /// The next session event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// The next response to a held poll.
    pub fn poll_response(&mut self) -> Option<(RequestId, Response)> {
        self.responses.pop_front()
    }

    /// The next frame to send on a WebSocket (or the order to close it).
    pub fn poll_transmit(&mut self) -> Option<(SocketId, Frame)> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// Fire what is due at `now`: pings, ping timeouts, upgrade timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, sid)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            s.timer = None;
            if let Some(p) = s.probe.take_if(|p| p.deadline <= now) {
                self.sockets.remove(&p.socket);
                self.transmits
                    .push_back((p.socket, Frame::Close(1008, "upgrade timeout")));
            }
            match s.heartbeat {
                Heartbeat::PingAt(t) if t <= now => {
                    s.heartbeat = Heartbeat::PongBy(t + self.config.ping_timeout);
                    s.push_control(Packet::Ping(String::new()));
                    self.flush(sid);
                }
                Heartbeat::PongBy(t) if t <= now => {
                    self.close_session(sid, CloseReason::PingTimeout);
                    continue;
                }
                _ => {}
            }
            self.schedule(sid);
        }
    }

    /// Queue a message for a session, for whichever transport it is on.
    pub fn send(&mut self, sid: &Sid, message: Message) -> Result<(), SendError> {
        let packet = match message {
            Message::Text(t) => Packet::Message(t),
            Message::Binary(b) => Packet::Binary(b),
        };
        let (max_packets, max_bytes) =
            (self.config.max_queued_packets, self.config.max_queued_bytes);
        match self.sessions.get_mut(sid) {
            Some(s) if !s.closing => s.push(packet, max_packets, max_bytes)?,
            _ => return Err(SendError::UnknownSid),
        }
        self.flush(*sid);
        Ok(())
    }

    /// Queue a text message for a session.
    pub fn send_text(&mut self, sid: &Sid, text: &str) -> Result<(), SendError> {
        self.send(sid, Message::Text(text.to_owned()))
    }

    /// Queue a binary message for a session.
    pub fn send_binary(&mut self, sid: &Sid, data: &[u8]) -> Result<(), SendError> {
        self.send(sid, Message::Binary(data.to_vec()))
    }

    /// Close a session: what is queued goes out, then a `close` packet. On long-polling
    /// without a held poll the session waits for the client's next poll (or its ping timeout).
    pub fn close(&mut self, sid: &Sid) -> Result<(), SendError> {
        match self.sessions.get_mut(sid) {
            Some(s) if !s.closing => {
                s.closing = true;
                s.push_control(Packet::Close);
            }
            _ => return Err(SendError::UnknownSid),
        }
        self.flush(*sid);
        Ok(())
    }

    /// Handle a whole HTTP request to the endpoint's path: its head and its complete body
    /// (a POST's payload; ignored for other methods).
    pub fn handle_request(&mut self, req: &Request, body: &[u8], now: Instant) -> Reply {
        self.handle_timeout(now);
        if !self.matches(&req.target) {
            return Reply::Respond(
                Response::new(404)
                    .header("Content-Type", "text/plain")
                    .body("Not Found"),
            );
        }
        let cors = match check_origin(&self.config.origins, req) {
            Ok(c) => c,
            Err(e) => return Reply::Respond(e.response()),
        };
        match self.route(req, body, &cors, now) {
            Ok(reply) => reply,
            Err(e) => Reply::Respond(with_cors(e.response(), &cors)),
        }
    }

    fn route(
        &mut self,
        req: &Request,
        body: &[u8],
        cors: &Cors,
        now: Instant,
    ) -> Result<Reply, EngineError> {
        if req.method == "OPTIONS" {
            let mut resp = Response::new(204)
                .header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                .header("Access-Control-Allow-Headers", "Content-Type");
            resp = with_cors(resp, cors);
            return Ok(Reply::Respond(resp));
        }
        if req.query("EIO") != Some("4") {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        match req.query("transport") {
            Some("polling") => {}
            // A WebSocket's handshake reaches `open_websocket`, not this path.
            Some("websocket") => return Err(EngineError::BadRequest),
            _ => return Err(EngineError::UnknownTransport),
        }
        let Some(sid) = req.query("sid") else {
            if req.method != "GET" {
                return Err(EngineError::BadHandshakeMethod);
            }
            let (_, open) = self.open_session(None, req, now)?;
            let body = Packet::Open(open).to_text();
            return Ok(Reply::Respond(ok_response(body, cors)));
        };
        let sid = Sid::parse(sid).ok_or(EngineError::UnknownSid)?;
        let Some(session) = self.sessions.get_mut(&sid) else {
            return Err(EngineError::UnknownSid);
        };
        if session.socket.is_some() {
            return Err(EngineError::BadRequest);
        }
        match req.method.as_str() {
            "GET" => {
                if session.get.is_some() {
                    self.close_session(sid, CloseReason::DuplicateRequest);
                    return Err(EngineError::BadRequest);
                }
                let id = self.next_request();
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.get = Some(id);
                }
                let cors = cors.clone();
                self.requests.insert(id, Pending { sid, cors });
                self.flush(sid);
                // The poll may have been answered at once.
                Ok(match self.take_response(id) {
                    Some(resp) => Reply::Respond(resp),
                    None => Reply::Held(id),
                })
            }
            // A POST is decoded and takes effect within this call, so two POSTs of one
            // session never overlap here: the protocol's duplicate-POST rule cannot arise.
            "POST" => Ok(Reply::Respond(self.post(sid, body, cors, now))),
            _ => Err(EngineError::BadRequest),
        }
    }

    /// A POST's whole body: its packets take effect, or the session is closed when the body
    /// is refused (over `max_payload`, or not a valid payload).
    fn post(&mut self, sid: Sid, body: &[u8], cors: &Cors, now: Instant) -> Response {
        let packets = match decode_payload(body, self.config.max_payload) {
            Ok(p) => p,
            Err(e) => {
                self.close_session(sid, close_reason(e));
                return with_cors(payload_error(e).response(), cors);
            }
        };
        for p in packets {
            if !self.sessions.contains_key(&sid) {
                break;
            }
            self.client_packet(sid, p, now);
        }
        self.flush(sid);
        ok_response("ok".to_owned(), cors)
    }

    /// The client of a held poll went away. A session loses its packets with its poll, so it
    /// is closed. What is due at `now` fires first, as for a WebSocket that ends.
    pub fn cancel_request(&mut self, id: RequestId, now: Instant) {
        self.handle_timeout(now);
        let Some(Pending { sid, .. }) = self.requests.remove(&id) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&sid).filter(|s| s.get == Some(id)) {
            s.get = None;
            self.close_session(sid, CloseReason::TransportClose);
        }
    }

    /// Create a session; its open packet's JSON.
    pub(crate) fn open_session(
        &mut self,
        socket: Option<SocketId>,
        req: &Request,
        now: Instant,
    ) -> Result<(Sid, String), EngineError> {
        if self.sessions.len() >= self.config.max_sessions {
            return Err(EngineError::TooManySessions);
        }
        let sid = loop {
            let sid = Sid::random();
            if !self.sessions.contains_key(&sid) {
                break sid;
            }
        };
        let upgrades = if socket.is_none() && self.config.allow_upgrades {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        let open = format!(
            "{{\"sid\":\"{sid}\",\"upgrades\":{upgrades},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
        );
        let mut session = Session::new(socket, now + self.config.ping_interval);
        session.handshake = Some(Box::new(req.clone()));
        self.sessions.insert(sid, session);
        self.schedule(sid);
        let transport = match socket {
            Some(s) => {
                self.sockets.insert(s, sid);
                TransportKind::WebSocket
            }
            None => TransportKind::Polling,
        };
        self.events.push_back(EngineEvent::Open { sid, transport });
        Ok((sid, open))
    }

    /// A packet from the client on the session's transport.
    pub(crate) fn client_packet(&mut self, sid: Sid, p: Packet, now: Instant) {
        let interval = self.config.ping_interval;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        match p {
            Packet::Message(text) if !s.closing => self.events.push_back(EngineEvent::Message {
                sid,
                message: Message::Text(text),
            }),
            Packet::Binary(data) if !s.closing => self.events.push_back(EngineEvent::Message {
                sid,
                message: Message::Binary(data),
            }),
            Packet::Pong(_) => {
                if let Heartbeat::PongBy(_) = s.heartbeat {
                    s.heartbeat = Heartbeat::PingAt(now + interval);
                    self.schedule(sid);
                }
            }
            Packet::Ping(data) => {
                s.push_control(Packet::Pong(data));
                self.flush(sid);
            }
            Packet::Close => self.close_session(sid, CloseReason::ClientClose),
            Packet::Open(_) | Packet::Upgrade => self.close_session(sid, CloseReason::ParseError),
            Packet::Noop | Packet::Message(_) | Packet::Binary(_) => {}
        }
    }

    /// Send what the session has queued, if its transport can take it now.
    pub(crate) fn flush(&mut self, sid: Sid) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if let Some(socket) = s.socket {
            let close = s.closing;
            for p in s.take_queue() {
                self.transmits.push_back((socket, p.into_frame()));
            }
            if close {
                self.close_session(sid, CloseReason::ServerClose);
            }
            return;
        }
        let Some(get) = s.get else {
            return;
        };
        let body = if s.probe.as_ref().is_some_and(|p| p.probed) {
            Packet::Noop.to_text()
        } else if s.has_queued() {
            let mut body = String::new();
            encode_payload(&s.take_queue(), &mut body);
            body
        } else {
            return;
        };
        s.get = None;
        let closing = s.closing && !s.has_queued();
        self.answer_get(get, body);
        if closing {
            self.close_session(sid, CloseReason::ServerClose);
        }
    }

    /// Complete a held poll with a 200 and this body.
    fn answer_get(&mut self, id: RequestId, body: String) {
        if let Some(Pending { cors, .. }) = self.requests.remove(&id) {
            self.responses.push_back((id, ok_response(body, &cors)));
        }
    }

    /// End a session: its held poll is answered, its WebSockets are closed, the application
    /// is told.
    pub(crate) fn close_session(&mut self, sid: Sid, reason: CloseReason) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if let Some(t) = s.timer {
            self.timers.remove(&(t, sid));
        }
        if let Some(get) = s.get {
            let body = match reason {
                CloseReason::ClientClose => Packet::Noop.to_text(),
                _ => {
                    // A session the application closed has its `close` queued already.
                    let queue = if s.closing {
                        s.take_queue()
                    } else {
                        VecDeque::from([Packet::Close])
                    };
                    let mut body = String::new();
                    encode_payload(&queue, &mut body);
                    body
                }
            };
            self.answer_get(get, body);
        }
        for socket in s.socket.into_iter().chain(s.probe.map(|p| p.socket)) {
            if self.sockets.remove(&socket).is_some() {
                let code = match reason {
                    CloseReason::PayloadTooLarge => 1009,
                    CloseReason::ParseError => 1008,
                    _ => 1000,
                };
                self.transmits.push_back((socket, Frame::Close(code, "")));
            }
        }
        let reason = if s.closing {
            CloseReason::ServerClose
        } else {
            reason
        };
        self.events.push_back(EngineEvent::Closed { sid, reason });
    }

    /// Put the session under its current deadline in the timer set.
    pub(crate) fn schedule(&mut self, sid: Sid) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let at = s.deadline();
        if s.timer == Some(at) {
            return;
        }
        if let Some(old) = s.timer.replace(at) {
            self.timers.remove(&(old, sid));
        }
        self.timers.insert((at, sid));
    }

    pub(crate) fn next_socket(&mut self) -> SocketId {
        self.next_id += 1;
        SocketId(self.next_id)
    }

    fn next_request(&mut self) -> RequestId {
        self.next_id += 1;
        RequestId(self.next_id)
    }

    /// Take the queued response to a request, if there is one.
    fn take_response(&mut self, id: RequestId) -> Option<Response> {
        let at = self.responses.iter().position(|(r, _)| *r == id)?;
        self.responses.remove(at).map(|(_, resp)| resp)
    }
}

fn ok_response(body: String, cors: &Cors) -> Response {
    with_cors(
        Response::new(200)
            .header("Content-Type", "text/plain; charset=UTF-8")
            .body(body),
        cors,
    )
}

fn payload_error(e: PayloadError) -> EngineError {
    match e {
        PayloadError::TooLarge => EngineError::PayloadTooLarge,
        PayloadError::Packet(_) => EngineError::BadRequest,
    }
}

fn close_reason(e: PayloadError) -> CloseReason {
    match e {
        PayloadError::TooLarge => CloseReason::PayloadTooLarge,
        PayloadError::Packet(_) => CloseReason::ParseError,
    }
}
