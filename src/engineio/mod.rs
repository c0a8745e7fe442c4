//! An Engine.IO v4 server endpoint (the transport under Socket.IO), sans-IO.
//!
//! Engine.IO carries messages between a client and a server over HTTP long-polling (a held
//! `GET` brings packets to the client, a `POST` takes packets to the server) or a WebSocket,
//! with a handshake, a heartbeat driven by the server and an upgrade from long-polling to
//! WebSocket. The [`Endpoint`] does the protocol work the way [`Connection`](crate::Connection)
//! does RFC 6455: the application brings the requests, the WebSocket messages and the time,
//! and takes back responses, frames, events and the next deadline. It owns no socket, no
//! clock and no thread.
//!
//! | file | what |
//! |---|---|
//! | `packet.rs` | the packet codec: type digit, data, `b` + base64 for binary on polling |
//! | `payload.rs` | long-polling payloads: packets joined by `\x1e` |
//! | `request.rs` | the request head the endpoint reads, its errors (`{"code":N,"message":..}`), the origin policy |
//! | `session.rs` | a session: transport, bounded queue, heartbeat; ids, events |
//! | `endpoint.rs` | the endpoint: handshake, polls and POSTs, timers, sending, closing |
//! | `websocket.rs` | WebSocket sessions and the upgrade from long-polling |
//!
//! # Driving it
//!
//! - An HTTP request to the path: [`Endpoint::handle_request`] (head and whole body). A
//!   [`Reply`] says whether to answer now, or that the poll is
//!   held and its response comes from [`Endpoint::poll_response`] under its [`RequestId`].
//! - A WebSocket handshake to the path: [`Endpoint::open_websocket`]; then its messages
//!   ([`Endpoint::websocket_text`], [`Endpoint::websocket_binary`]) and its end
//!   ([`Endpoint::websocket_closed`]); the [`Frame`]s to send come from
//!   [`Endpoint::poll_transmit`].
//! - Time: [`Endpoint::poll_timeout`] and [`Endpoint::handle_timeout`]. Every input also
//!   takes the current time, and fires what is due first.
//! - Sessions: [`Endpoint::poll_event`] ([`EngineEvent`]), [`Endpoint::send`],
//!   [`Endpoint::close`].
//!
//! `examples/engineio_echo.rs` runs it on a mio loop, with the crate's [`Connection`](crate::Connection)
//! for the WebSockets.

mod config;
mod endpoint;
mod packet;
mod payload;
mod request;
mod session;
mod websocket;

pub use config::{EndpointConfig, OriginPolicy};
pub use endpoint::{Endpoint, Reply};
pub use packet::{Frame, Packet, PacketError};
pub use payload::{PayloadError, SEPARATOR, decode_payload, encode_payload};
pub use request::{EngineError, Request};
pub use session::{
    CloseReason, EngineEvent, Message, RequestId, SendError, Sid, SocketId, TransportKind,
};
