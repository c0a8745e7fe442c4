//! wsmachine: a sans-IO WebSocket (RFC 6455) state machine.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod close;
pub mod config;
pub mod connection;
pub mod error;
pub mod event;
pub mod extension;
pub mod frame;
pub mod handshake;
mod http;
pub mod mask;
pub mod rng;
pub mod state;
pub mod utf8;

pub use config::{Config, Delivery};
pub use connection::{Connection, MessageKind, Role};
pub use error::{ProtocolError, UsageError};
pub use event::Event;
pub use state::State;
