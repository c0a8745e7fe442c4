//! What the server reports to the application, and the errors of its calls.

use alloc::string::String;

use serde_json::Value;

use super::binary::Payload;
use super::packet::PacketError;
use crate::engineio::{CloseReason, Sid};

/// A client asks to join a namespace; the application answers with
/// [`Server::accept`](super::Server::accept) or [`Server::refuse`](super::Server::refuse).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRequest {
    /// The client's Engine.IO session (its opening request:
    /// [`Server::handshake`](super::Server::handshake)).
    pub conn: Sid,
    /// The namespace, declared by the application.
    pub nsp: String,
    /// The CONNECT packet's payload, `{}` when it had none.
    pub auth: Value,
}

/// Why a socket left its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client sent a DISCONNECT.
    ClientDisconnect,
    /// The application disconnected the socket or closed its connection.
    ServerDisconnect,
    /// The Engine.IO session under it ended.
    Transport(CloseReason),
    /// The client sent a malformed packet; its connection is closed.
    Malformed(PacketError),
}

/// What happened, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A client asks to join a namespace.
    Connect(ConnectRequest),
    /// A socket sent an event.
    Message {
        /// The socket.
        socket: Sid,
        /// Its namespace.
        nsp: String,
        /// The event's name.
        name: String,
        /// Its arguments and attachments.
        payload: Payload,
        /// The id to answer with [`Server::ack`](super::Server::ack), when the client asked
        /// for an acknowledgement.
        ack: Option<u64>,
    },
    /// A socket acknowledged an event the server emitted with
    /// [`Server::emit_with_ack`](super::Server::emit_with_ack).
    Ack {
        /// The socket.
        socket: Sid,
        /// The id `emit_with_ack` returned.
        id: u64,
        /// The acknowledgement's arguments and attachments.
        payload: Payload,
    },
    /// An acknowledgement did not come in time; a late one is ignored.
    AckTimeout {
        /// The socket.
        socket: Sid,
        /// The id `emit_with_ack` returned.
        id: u64,
    },
    /// A socket left its namespace; its sid is unknown from now on.
    Disconnected {
        /// The socket.
        socket: Sid,
        /// Its namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Why a call of the server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketError {
    /// No connected socket has this sid.
    UnknownSocket,
    /// No CONNECT is awaiting an answer for this connection and namespace.
    UnknownConnect,
    /// The namespace is not declared.
    UnknownNamespace,
    /// The event's name is one the protocol reserves.
    ReservedEvent,
    /// A placeholder among the arguments names no attachment.
    BadPlaceholder,
    /// The connection's queue is full: its client is not reading fast enough.
    QueueFull,
}

impl std::fmt::Display for SocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SocketError::UnknownSocket => "no connected socket with this sid",
            SocketError::UnknownConnect => "no CONNECT awaits an answer there",
            SocketError::UnknownNamespace => "the namespace is not declared",
            SocketError::ReservedEvent => "reserved event name",
            SocketError::BadPlaceholder => "a placeholder names no attachment",
            SocketError::QueueFull => "the connection's queue is full",
        })
    }
}

impl std::error::Error for SocketError {}
