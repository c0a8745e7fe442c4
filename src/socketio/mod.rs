//! A Socket.IO v5 server, sans-IO, on the crate's Engine.IO endpoint.
//!
//! Socket.IO adds namespaces (several logical connections over one Engine.IO session),
//! named events with JSON arguments and binary attachments, acknowledgements both ways and
//! rooms to the transport. Every Socket.IO packet is the text of one Engine.IO message,
//! `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`, followed by its binary
//! attachments as binary messages.
//!
//! The [`Server`] owns its [`Endpoint`](crate::engineio::Endpoint): the application drives
//! the transport there exactly as for Engine.IO alone, then reads the server's [`Event`]s
//! and answers them. It owns no socket, no clock and no thread.
//!
//! | file | what |
//! |---|---|
//! | `packet.rs` | the packet codec, the payload each type carries, reserved event names |
//! | `binary.rs` | [`Payload`]: arguments and attachments; placeholders; reassembly with caps |
//! | `config.rs` | [`ServerConfig`] |
//! | `event.rs` | [`Event`], [`ConnectRequest`], [`DisconnectReason`], [`SocketError`] |
//! | `server.rs` | the server: connections, namespaces, sockets, client packets, timers |
//! | `emit.rs` | emitting, acks, disconnecting, rooms, broadcasting |
//! | `broadcast.rs` | [`Broadcast`] and the [`Adapter`] boundary to other processes |
//!
//! # The protocol's rules, as the server applies them
//!
//! - A connection's first packet must be a CONNECT, within
//!   [`ServerConfig::connect_timeout`]; otherwise the connection is closed.
//! - A CONNECT to an undeclared namespace gets CONNECT_ERROR `{"message":"Invalid
//!   namespace"}`; to a declared one, the application decides
//!   ([`Event::Connect`], then [`Server::accept`] or [`Server::refuse`]).
//! - A malformed packet (unknown type, payload that is not JSON or not the type's shape, bad
//!   ack id, a reserved event name, attachments over the caps or out of place) closes that
//!   client's connection, and only it: its sockets are reported
//!   [`DisconnectReason::Malformed`].
//! - Events for a namespace the client has not joined, and acks the server did not ask for
//!   or that came after their timeout, are ignored.
//!
//! `examples/socketio_server.rs` runs it on a mio loop, answers as the protocol's test suite
//! expects and serves a chat at `/` (rooms, acks both ways, files as binary);
//! `scripts/socketio_suite.sh` runs that suite against it, `scripts/socketio_client_check.sh`
//! and `scripts/socketio_python_check.sh` the npm and PyPI clients.

mod binary;
mod broadcast;
mod config;
mod emit;
mod event;
mod packet;
mod server;

pub use binary::{Payload, placeholder, placeholder_num};
pub use broadcast::{Adapter, Broadcast, LocalAdapter};
pub use config::ServerConfig;
pub use event::{ConnectRequest, DisconnectReason, Event, SocketError};
pub use packet::{Packet, PacketError, PacketType, RESERVED_EVENTS};
pub use server::Server;
