//! What the application sends: events to a socket (with or without an ack), acks,
//! disconnections, rooms and broadcasts.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::binary::{Payload, placeholders_within};
use super::broadcast::{Adapter, Broadcast};
use super::event::{DisconnectReason, SocketError};
use super::packet::{Packet, PacketType, RESERVED_EVENTS};
use super::server::{Server, Timer};
use crate::engineio::Sid;

impl<A: Adapter> Server<A> {
    /// Emit an event to one socket.
    pub fn emit(&mut self, socket: &Sid, event: &str, payload: Payload) -> Result<(), SocketError> {
        let (conn, nsp) = self.socket_route(socket)?;
        let packet = event_packet(&nsp, event, payload.args, &payload.attachments, None)?;
        self.send_packet(conn, &packet, payload.attachments)
    }

    /// Emit an event to one socket and ask for its acknowledgement: it comes as
    /// [`Event::Ack`](super::Event::Ack) under the id returned, or, after `timeout` from
    /// `now`, as [`Event::AckTimeout`](super::Event::AckTimeout).
    pub fn emit_with_ack(
        &mut self,
        socket: &Sid,
        event: &str,
        payload: Payload,
        timeout: Duration,
        now: Instant,
    ) -> Result<u64, SocketError> {
        let (conn, nsp) = self.socket_route(socket)?;
        let id = self.sockets.get(socket).map_or(0, |s| s.next_ack);
        let packet = event_packet(&nsp, event, payload.args, &payload.attachments, Some(id))?;
        self.send_packet(conn, &packet, payload.attachments)?;
        // A timeout beyond the clock's range never fires.
        let at = now.checked_add(timeout);
        if let Some(s) = self.sockets.get_mut(socket) {
            s.next_ack += 1;
            s.acks.insert(id, at);
            if let Some(at) = at {
                self.timers.insert((at, Timer::Ack(*socket, id)));
            }
        }
        Ok(id)
    }

    /// Answer an event that asked for an acknowledgement
    /// ([`Event::Message`](super::Event::Message)'s `ack`).
    pub fn ack(&mut self, socket: &Sid, id: u64, payload: Payload) -> Result<(), SocketError> {
        let (conn, nsp) = self.socket_route(socket)?;
        check_placeholders(&payload)?;
        let kind = if payload.attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        let mut packet = Packet::new(kind, nsp).with_id(id);
        packet.data = Some(Value::Array(payload.args));
        packet.attachments = payload.attachments.len();
        self.send_packet(conn, &packet, payload.attachments)
    }

    /// Take a socket out of its namespace: the client gets a DISCONNECT; the connection
    /// stays for its other namespaces.
    pub fn disconnect(&mut self, socket: &Sid) -> Result<(), SocketError> {
        let (conn, nsp) = self.socket_route(socket)?;
        // The socket goes whether or not the client can still be told.
        let _ = self.send_packet(conn, &Packet::new(PacketType::Disconnect, nsp), Vec::new());
        self.remove_socket(*socket, DisconnectReason::ServerDisconnect);
        Ok(())
    }

    /// Put a socket in a room of its namespace.
    pub fn join(&mut self, socket: &Sid, room: &str) -> Result<(), SocketError> {
        let s = self
            .sockets
            .get_mut(socket)
            .ok_or(SocketError::UnknownSocket)?;
        s.rooms.insert(room.to_owned());
        if let Some(ns) = self.namespaces.get_mut(&s.nsp) {
            ns.rooms.entry(room.to_owned()).or_default().insert(*socket);
        }
        Ok(())
    }

    /// Take a socket out of a room.
    pub fn leave(&mut self, socket: &Sid, room: &str) -> Result<(), SocketError> {
        let s = self
            .sockets
            .get_mut(socket)
            .ok_or(SocketError::UnknownSocket)?;
        s.rooms.remove(room);
        if let Some(ns) = self.namespaces.get_mut(&s.nsp)
            && let Some(members) = ns.rooms.get_mut(room)
        {
            members.remove(socket);
            if members.is_empty() {
                ns.rooms.remove(room);
            }
        }
        Ok(())
    }

    /// The rooms a socket is in.
    pub fn rooms(&self, socket: &Sid) -> impl Iterator<Item = &str> {
        self.sockets
            .get(socket)
            .into_iter()
            .flat_map(|s| s.rooms.iter().map(String::as_str))
    }

    /// The local sockets a broadcast reaches, in sid order.
    pub fn recipients(&self, b: &Broadcast) -> Vec<Sid> {
        let Some(ns) = self.namespaces.get(&b.nsp) else {
            return Vec::new();
        };
        let mut to: BTreeSet<Sid> = if b.rooms.is_empty() {
            ns.sockets.clone()
        } else {
            b.rooms
                .iter()
                .filter_map(|r| ns.rooms.get(r))
                .flatten()
                .copied()
                .collect()
        };
        for r in &b.except_rooms {
            if let Some(members) = ns.rooms.get(r) {
                to.retain(|s| !members.contains(s));
            }
        }
        to.retain(|s| !b.except.contains(s));
        to.into_iter().collect()
    }

    /// Send a broadcast to the sockets it reaches here, and hand it to the adapter for the
    /// other processes. Returns how many local sockets had it queued (a socket whose queue
    /// is full misses it).
    pub fn broadcast(&mut self, b: &Broadcast) -> Result<usize, SocketError> {
        let n = self.broadcast_local(b)?;
        self.adapter.publish(b);
        Ok(n)
    }

    /// Send a broadcast to the sockets it reaches here only: for a broadcast another
    /// process published.
    pub fn broadcast_local(&mut self, b: &Broadcast) -> Result<usize, SocketError> {
        if !self.namespaces.contains_key(&b.nsp) {
            return Err(SocketError::UnknownNamespace);
        }
        // The broadcast stays the caller's (the adapter publishes it after): each recipient
        // gets its own copy of the attachments.
        let attachments = &b.payload.attachments;
        let packet = event_packet(&b.nsp, &b.event, b.payload.args.clone(), attachments, None)?;
        let text = packet.encode();
        let mut conns: Vec<Sid> = self
            .recipients(b)
            .iter()
            .filter_map(|socket| self.sockets.get(socket).map(|s| s.conn))
            .collect();
        // The text is copied for every recipient but the last, which takes it.
        let last = conns.pop();
        let mut sent = 0;
        for conn in conns {
            if self
                .send_text(conn, text.clone(), attachments.clone())
                .is_ok()
            {
                sent += 1;
            }
        }
        if let Some(conn) = last
            && self.send_text(conn, text, attachments.clone()).is_ok()
        {
            sent += 1;
        }
        Ok(sent)
    }

    fn socket_route(&self, socket: &Sid) -> Result<(Sid, String), SocketError> {
        let s = self.sockets.get(socket).ok_or(SocketError::UnknownSocket)?;
        Ok((s.conn, s.nsp.clone()))
    }
}

fn check_placeholders(payload: &Payload) -> Result<(), SocketError> {
    let n = payload.attachments.len();
    if payload.args.iter().all(|a| placeholders_within(a, n)) {
        Ok(())
    } else {
        Err(SocketError::BadPlaceholder)
    }
}

/// An EVENT, or a BINARY_EVENT when there are attachments.
fn event_packet(
    nsp: &str,
    event: &str,
    args: Vec<Value>,
    attachments: &[Vec<u8>],
    id: Option<u64>,
) -> Result<Packet, SocketError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(SocketError::ReservedEvent);
    }
    let n = attachments.len();
    if !args.iter().all(|a| placeholders_within(a, n)) {
        return Err(SocketError::BadPlaceholder);
    }
    let kind = if n == 0 {
        PacketType::Event
    } else {
        PacketType::BinaryEvent
    };
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args);
    let mut packet = Packet::new(kind, nsp).with_data(Value::Array(data));
    packet.id = id;
    packet.attachments = n;
    Ok(packet)
}
