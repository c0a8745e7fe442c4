//! A Socket.IO v5 server on a single-threaded, non-blocking [mio] event loop, answering as the
//! protocol's test suite (socketio/socket.io-protocol, `test-suite/`) expects.
//!
//! ```text
//! cargo run --features socketio --example socketio_server -- --addr 127.0.0.1:3000 \
//!     [--ping-interval MS] [--ping-timeout MS] [--connect-timeout MS]
//! ```
//!
//! On `/socket.io/`, over HTTP long-polling or WebSocket, with `maxPayload` 1,000,000:
//!
//! - namespaces `/` and `/custom`; every CONNECT to them is accepted, and the socket is then
//!   sent an `auth` event carrying the CONNECT's payload (`{}` without one). Like the
//!   reference server, whose connection handler runs once the CONNECT answer is written, the
//!   event goes out on the loop's next turn: the suite's client reads each of the two
//!   messages on its own;
//! - a `message` event comes back as `message-back` with the same arguments and binary
//!   attachments;
//! - a `message-with-ack` event is acknowledged with its own arguments and attachments.
//!
//! Cross-origin pages may use it (`OriginPolicy::Any`). The loop is `examples/common/`,
//! shared with the Engine.IO example.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::App;
use serde_json::Value;
use wsmachine::engineio::{Endpoint, OriginPolicy, Sid};
use wsmachine::socketio::{Event, Payload, Server, ServerConfig};

struct Options {
    addr: SocketAddr,
    config: ServerConfig,
}

fn parse_args() -> Result<Options, String> {
    let mut config = ServerConfig::default();
    config.engine = config.engine.origins(OriginPolicy::Any);
    let mut opts = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        config,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let millis = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{arg} {value}: not a number"))
        };
        match arg.as_str() {
            "--addr" => {
                opts.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
            }
            "--ping-interval" => opts.config.engine.ping_interval = millis()?,
            "--ping-timeout" => opts.config.engine.ping_timeout = millis()?,
            "--connect-timeout" => opts.config.connect_timeout = millis()?,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("socketio_server: {e}");
            eprintln!(
                "usage: socketio_server [--addr HOST:PORT] [--ping-interval MS] \
                 [--ping-timeout MS] [--connect-timeout MS]"
            );
            return ExitCode::from(2);
        }
    };
    let mut server = Server::new(opts.config);
    server.add_namespace("/custom");
    match common::serve("socketio_server", opts.addr, SocketIo(server, Vec::new())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketio_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The suite's reference behaviour on a [`Server`]; the `auth` events for the next turn.
struct SocketIo(Server, Vec<(Sid, Value)>);

impl App for SocketIo {
    fn endpoint(&mut self) -> &mut Endpoint {
        self.0.engine_mut()
    }

    fn process(&mut self) -> bool {
        let now = Instant::now();
        let mut busy = false;
        while let Some(event) = self.0.poll_event(now) {
            busy = true;
            // A refusal means the client is gone or not reading: nothing more to do for it.
            match event {
                Event::Connect(req) => {
                    if let Ok(socket) = self.0.accept(&req) {
                        self.1.push((socket, req.auth));
                    }
                }
                Event::Message {
                    socket,
                    name,
                    payload,
                    ack,
                    ..
                } => match (name.as_str(), ack) {
                    ("message", _) => {
                        let _ = self.0.emit(&socket, "message-back", payload);
                    }
                    ("message-with-ack", Some(id)) => {
                        let _ = self.0.ack(&socket, id, payload);
                    }
                    _ => {}
                },
                Event::Ack { .. } | Event::AckTimeout { .. } | Event::Disconnected { .. } => {}
            }
        }
        busy
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.1.is_empty() {
            self.0.poll_timeout()
        } else {
            Some(Instant::now())
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        for (socket, auth) in std::mem::take(&mut self.1) {
            let _ = self.0.emit(&socket, "auth", Payload::new(vec![auth]));
        }
        self.0.handle_timeout(now);
    }
}
