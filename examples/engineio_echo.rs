//! An Engine.IO v4 echo server on a single-threaded, non-blocking [mio] event loop.
//!
//! ```text
//! cargo run --features engineio --example engineio_echo -- --addr 127.0.0.1:3000 \
//!     [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
//! ```
//!
//! Every message a client sends on `/engine.io/`, text or binary, is sent back to it, over
//! HTTP long-polling or WebSocket. Cross-origin pages may use it (`OriginPolicy::Any`).
//!
//! The protocol work is the [`Endpoint`]'s; WebSockets are the crate's `Connection`s, on the
//! loop in `examples/common/` that the Socket.IO example shares.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::App;
use wsmachine::engineio::{Endpoint, EndpointConfig, EngineEvent, OriginPolicy};

struct Options {
    addr: SocketAddr,
    config: EndpointConfig,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
        config: EndpointConfig::default().origins(OriginPolicy::Any),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{arg} {value}: not a number"))
        };
        match arg.as_str() {
            "--addr" => {
                opts.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?;
            }
            "--ping-interval" => opts.config.ping_interval = Duration::from_millis(number()?),
            "--ping-timeout" => opts.config.ping_timeout = Duration::from_millis(number()?),
            "--max-payload" => opts.config.max_payload = number()? as usize,
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("engineio_echo: {e}");
            eprintln!(
                "usage: engineio_echo [--addr HOST:PORT] [--ping-interval MS] \
                 [--ping-timeout MS] [--max-payload BYTES]"
            );
            return ExitCode::from(2);
        }
    };
    match common::serve("engineio_echo", opts.addr, Echo(Endpoint::new(opts.config))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engineio_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An app that sends every message back to its sender.
pub struct Echo(pub Endpoint);

impl App for Echo {
    fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.0
    }
    fn process(&mut self) -> bool {
        let mut busy = false;
        while let Some(event) = self.0.poll_event() {
            busy = true;
            if let EngineEvent::Message { sid, message } = event {
                // A full queue drops the echo; the client is not reading.
                let _ = self.0.send(&sid, message);
            }
        }
        busy
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }
}
