//! A Socket.IO v5 server on a single-threaded, non-blocking [mio] event loop: a chat a person
//! can open in a browser at `/`, and the behaviour the protocol's test suite
//! (socketio/socket.io-protocol, `test-suite/`) expects.
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
//! The chat's events, which any Socket.IO client can send too:
//!
//! - `join` (room): the socket joins the room; acknowledged with `true` (`false` when the
//!   room is not a string);
//! - `say` (room, message): the other sockets of the room get `said` (room, message, the
//!   sender's sid), binary attachments included (the page sends a file as
//!   `{name, type, data}` with `data` binary); acknowledged with how many sockets it reached;
//! - `echo-binary` (bytes): comes back as `echo-binary` with the same arguments and bytes;
//! - `ask` (value): the server emits `question` (value) to the same socket asking for an
//!   acknowledgement, and once it comes, `answer` with the acknowledgement's arguments.
//!
//! `GET /` serves the chat page (`socketio_chat.html`): one self-contained file whose script
//! speaks Socket.IO over Engine.IO's WebSocket transport itself, in about a hundred lines,
//! so the page needs no client library from a CDN or from npm.
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
use wsmachine::socketio::{Broadcast, Event, Payload, Server, ServerConfig};

/// The chat page served at `/`.
const PAGE: &str = include_str!("socketio_chat.html");
/// How long a `question` waits for its answer: a person may be typing it.
const QUESTION_TIMEOUT: Duration = Duration::from_secs(120);

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
    let app = SocketIo {
        server,
        greet: Vec::new(),
    };
    match common::serve("socketio_server", opts.addr, app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketio_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The suite's reference behaviour and the chat on a [`Server`].
struct SocketIo {
    server: Server,
    /// The `auth` events for the loop's next turn.
    greet: Vec<(Sid, Value)>,
}

impl SocketIo {
    /// Answer an event; `ack` is its acknowledgement id if the client asked for one.
    fn message(
        &mut self,
        socket: Sid,
        nsp: String,
        name: &str,
        payload: Payload,
        ack: Option<u64>,
    ) {
        // A refusal means the client is gone or not reading: nothing more to do for it.
        let io = &mut self.server;
        let answer = match name {
            "message" => {
                let _ = io.emit(&socket, "message-back", payload);
                None
            }
            "message-with-ack" => Some(payload),
            "join" => {
                let joined = match payload.args.first() {
                    Some(Value::String(room)) => io.join(&socket, room).is_ok(),
                    _ => false,
                };
                Some(Payload::new(vec![Value::Bool(joined)]))
            }
            "say" => {
                let mut args = payload.args.into_iter();
                let reached = match (args.next(), args.next()) {
                    (Some(Value::String(room)), Some(message)) => {
                        let said = Payload {
                            args: vec![
                                Value::from(room.as_str()),
                                message,
                                socket.to_string().into(),
                            ],
                            attachments: payload.attachments,
                        };
                        let b = Broadcast::new(nsp, "said", said).to(room).except(socket);
                        io.broadcast(&b).unwrap_or(0)
                    }
                    _ => 0,
                };
                Some(Payload::new(vec![Value::from(reached)]))
            }
            "echo-binary" => {
                let _ = io.emit(&socket, "echo-binary", payload);
                None
            }
            "ask" => {
                let _ = io.emit_with_ack(
                    &socket,
                    "question",
                    payload,
                    QUESTION_TIMEOUT,
                    Instant::now(),
                );
                None
            }
            _ => None,
        };
        if let (Some(id), Some(answer)) = (ack, answer) {
            let _ = io.ack(&socket, id, answer);
        }
    }
}

impl App for SocketIo {
    fn endpoint(&mut self) -> &mut Endpoint {
        self.server.engine_mut()
    }

    fn process(&mut self) -> bool {
        let now = Instant::now();
        let mut busy = false;
        while let Some(event) = self.server.poll_event(now) {
            busy = true;
            match event {
                Event::Connect(req) => {
                    if let Ok(socket) = self.server.accept(&req) {
                        self.greet.push((socket, req.auth));
                    }
                }
                Event::Message {
                    socket,
                    nsp,
                    name,
                    payload,
                    ack,
                } => self.message(socket, nsp, &name, payload, ack),
                // The only events this server emits asking for an ack are questions.
                Event::Ack {
                    socket, payload, ..
                } => {
                    let _ = self.server.emit(&socket, "answer", payload);
                }
                Event::AckTimeout { .. } | Event::Disconnected { .. } => {}
            }
        }
        busy
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.greet.is_empty() {
            self.server.poll_timeout()
        } else {
            Some(Instant::now())
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        for (socket, auth) in std::mem::take(&mut self.greet) {
            let _ = self.server.emit(&socket, "auth", Payload::new(vec![auth]));
        }
        self.server.handle_timeout(now);
    }

    fn page(&self, path: &str) -> Option<(&'static str, &'static str)> {
        (path == "/").then_some(("text/html; charset=utf-8", PAGE))
    }
}
