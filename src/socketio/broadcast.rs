//! Broadcasts: who a broadcast reaches, and the boundary to other server processes.
//!
//! Rooms and namespaces here are local to one process: [`Server::broadcast`] reaches the
//! sockets this server holds. A deployment of several processes behind a load balancer needs
//! each broadcast to reach the sockets the other processes hold too; that is the
//! [`Adapter`]'s part. The server hands every broadcast its application makes to
//! [`Adapter::publish`] (a Redis adapter, say, would queue it for its pub/sub channel, with
//! its own I/O, outside the server), and the application hands each broadcast another
//! process published to [`Server::broadcast_local`], which delivers it here without
//! publishing it again. A [`Broadcast`] is plain data for that reason: a namespace, rooms,
//! exclusions, an event and its payload, nothing that names a local connection but socket
//! sids, which are unique across processes.
//!
//! [`Server::broadcast`]: super::Server::broadcast
//! [`Server::broadcast_local`]: super::Server::broadcast_local

use alloc::string::String;
use alloc::vec::Vec;

use super::binary::Payload;
use crate::engineio::Sid;

/// An event for many sockets of one namespace.
///
/// ```
/// use wsmachine::socketio::{Broadcast, Payload};
///
/// // Every socket of `/chat` in room `lobby`, but not those in room `muted`.
/// let b = Broadcast::new("/chat", "news", Payload::json(&("hello",)).unwrap())
///     .to("lobby")
///     .except_room("muted");
/// assert_eq!(b.rooms, ["lobby"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The namespace.
    pub nsp: String,
    /// The rooms whose sockets it reaches; empty: every socket of the namespace.
    pub rooms: Vec<String>,
    /// Sockets in these rooms are left out.
    pub except_rooms: Vec<String>,
    /// These sockets are left out (the sender, for "everyone but me").
    pub except: Vec<Sid>,
    /// The event's name.
    pub event: String,
    /// Its arguments and attachments.
    pub payload: Payload,
}

impl Broadcast {
    /// An event for every socket of a namespace.
    pub fn new(nsp: impl Into<String>, event: impl Into<String>, payload: Payload) -> Self {
        Broadcast {
            nsp: nsp.into(),
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except: Vec::new(),
            event: event.into(),
            payload,
        }
    }

    /// Only to the sockets of this room (with the other rooms named: their union).
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.rooms.push(room.into());
        self
    }

    /// Not to the sockets of this room.
    pub fn except_room(mut self, room: impl Into<String>) -> Self {
        self.except_rooms.push(room.into());
        self
    }

    /// Not to this socket.
    pub fn except(mut self, socket: Sid) -> Self {
        self.except.push(socket);
        self
    }
}

/// Where broadcasts go besides this process's sockets: the boundary a multi-process
/// backend (e.g. Redis pub/sub) implements. See the module documentation.
pub trait Adapter {
    /// A broadcast the application made on this server, delivered here already; forward it
    /// to the other processes. Sans-IO like the server: queue it for your own I/O.
    fn publish(&mut self, broadcast: &Broadcast);
}

/// A single process: broadcasts stay here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn publish(&mut self, _broadcast: &Broadcast) {}
}
