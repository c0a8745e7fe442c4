//! WebSockets on the endpoint: sessions opened on a WebSocket, and the upgrade of a
//! long-polling session (`2probe`, `3probe`, `5`).
//!
//! The endpoint does not own the WebSocket connections: the application runs each one (with
//! a [`Connection`](crate::Connection)), hands the endpoint its handshake request and its
//! messages, and sends the [`Frame`]s the endpoint gives back.

use std::time::Instant;

use super::endpoint::Endpoint;
use super::packet::{Frame, Packet};
use super::request::{EngineError, Request, check_origin};
use super::session::{CloseReason, EngineEvent, Probe, Sid, SocketId};

impl Endpoint {
    /// A WebSocket handshake arrived for the endpoint's path: decide on it.
    ///
    /// `Ok`: accept the handshake; the socket's frames come from
    /// [`poll_transmit`](Self::poll_transmit) under this id (for a new session, the open
    /// packet is already there). `Err`: the protocol wants the WebSocket closed; accept the
    /// handshake and close at once with [`EngineError::close_code`], or refuse it with
    /// [`EngineError::response`].
    pub fn open_websocket(&mut self, req: &Request, now: Instant) -> Result<SocketId, EngineError> {
        self.handle_timeout(now);
        check_origin(&self.config.origins, req)?;
        if !self.matches(&req.target) {
            return Err(EngineError::BadRequest);
        }
        if req.query("EIO") != Some("4") {
            return Err(EngineError::UnsupportedProtocolVersion);
        }
        if req.query("transport") != Some("websocket") {
            return Err(EngineError::UnknownTransport);
        }
        let socket = self.next_socket();
        let Some(sid) = req.query("sid") else {
            let (_, open) = self.open_session(Some(socket), req, now)?;
            self.transmits
                .push_back((socket, Packet::Open(open).into_frame()));
            return Ok(socket);
        };
        let sid = Sid::parse(sid).ok_or(EngineError::UnknownSid)?;
        let deadline = now + self.config.upgrade_timeout;
        let allowed = self.config.allow_upgrades;
        let s = self.sessions.get_mut(&sid).ok_or(EngineError::UnknownSid)?;
        if !allowed || s.socket.is_some() || s.probe.is_some() || s.closing {
            return Err(EngineError::BadRequest);
        }
        s.probe = Some(Probe {
            socket,
            probed: false,
            deadline,
        });
        self.sockets.insert(socket, sid);
        self.schedule(sid);
        Ok(socket)
    }

    /// A text message arrived on a WebSocket.
    pub fn websocket_text(&mut self, socket: SocketId, text: &str, now: Instant) {
        self.handle_timeout(now);
        let Some(&sid) = self.sockets.get(&socket) else {
            return;
        };
        let packet = if text.len() > self.config.max_payload {
            Err(CloseReason::PayloadTooLarge)
        } else {
            Packet::decode(text).map_err(|_| CloseReason::ParseError)
        };
        self.websocket_packet(sid, socket, packet, now);
    }

    /// A binary message arrived on a WebSocket.
    pub fn websocket_binary(&mut self, socket: SocketId, data: &[u8], now: Instant) {
        self.handle_timeout(now);
        let Some(&sid) = self.sockets.get(&socket) else {
            return;
        };
        let packet = if data.len() > self.config.max_payload {
            Err(CloseReason::PayloadTooLarge)
        } else {
            Ok(Packet::Binary(data.to_vec()))
        };
        self.websocket_packet(sid, socket, packet, now);
    }

    /// A WebSocket ended (closed by either side, or its transport failed). Ids the
    /// endpoint already closed are ignored.
    pub fn websocket_closed(&mut self, socket: SocketId, now: Instant) {
        self.handle_timeout(now);
        let Some(sid) = self.sockets.remove(&socket) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.socket == Some(socket) {
            self.close_session(sid, CloseReason::TransportClose);
        } else if s.probe.as_ref().is_some_and(|p| p.socket == socket) {
            // The upgrade failed; the session goes on polling.
            s.probe = None;
            self.schedule(sid);
        }
    }

    fn websocket_packet(
        &mut self,
        sid: Sid,
        socket: SocketId,
        packet: Result<Packet, CloseReason>,
        now: Instant,
    ) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.socket == Some(socket) {
            match packet {
                Ok(p) => self.client_packet(sid, p, now),
                Err(reason) => self.close_session(sid, reason),
            }
            return;
        }
        let Some(probe) = s.probe.as_mut().filter(|p| p.socket == socket) else {
            return;
        };
        match packet {
            Ok(Packet::Ping(data)) if data == "probe" && !probe.probed => {
                probe.probed = true;
                self.transmits
                    .push_back((socket, Packet::Pong(data).into_frame()));
                // A held poll is released with a noop.
                self.flush(sid);
            }
            Ok(Packet::Upgrade) if probe.probed => {
                s.probe = None;
                s.socket = Some(socket);
                self.schedule(sid);
                self.events.push_back(EngineEvent::Upgraded { sid });
                self.flush(sid);
            }
            _ => {
                // Anything else ends the attempt; the session stays on polling.
                s.probe = None;
                self.sockets.remove(&socket);
                self.transmits
                    .push_back((socket, Frame::Close(1008, "invalid upgrade")));
                self.schedule(sid);
                self.flush(sid);
            }
        }
    }
}
