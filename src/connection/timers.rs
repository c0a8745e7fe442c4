//! Deadlines (the handshake, the closing handshake, keep-alive, idle), armed and fired by the
//! times the driver reports: the machine has no clock.
//!
//! A deadline that ends the connection while frames may still be buffered (keep-alive, the
//! closing handshake) takes effect once those frames are processed, as the end of the
//! transport does: what was received before the deadline passed is delivered first.

use crate::close;
use crate::frame::OpCode;
use crate::handshake::{HandshakeError, RequestError, ResponseError};
use crate::state::{Handshake, Phase};
use crate::time::Timestamp;

use super::{Connection, Role};

/// Deadlines, armed by the times the driver reports through `handle_timeout`.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// Input arrived since the last reported time.
    input_seen: bool,
    /// The reported time at which input was last seen (the first reported time before any).
    last_input: Option<Timestamp>,
    /// The latest time reported.
    latest: Option<Timestamp>,
    handshake: Option<Timestamp>,
    close: Option<Timestamp>,
    /// A keep-alive Ping is out; input must arrive before this.
    ping: Option<Timestamp>,
}

impl Timers {
    /// Input arrived.
    pub(super) fn input_seen(&mut self) {
        self.input_seen = true;
    }
}

impl Connection {
    /// Report the time: fire every deadline that has passed and arm new ones. Call it after
    /// each batch of input (the timers measure time since input was last seen) and whenever
    /// [`poll_deadline`](Self::poll_deadline) (`poll_timeout` in `Instant`s) comes due; then
    /// poll events and output as usual.
    /// The first call arms the handshake deadline: a machine that is never told the time runs
    /// no timers. A time earlier than one reported before is taken as that one: no deadline
    /// fires early.
    ///
    /// `now` is a [`Timestamp`] or, with the `std` feature, a `std::time::Instant`; give one
    /// connection one kind throughout (see [`Timestamp`]).
    pub fn handle_timeout(&mut self, now: impl Into<Timestamp>) {
        let now = now.into();
        let config = self.config;
        let now = match self.timers.latest {
            Some(latest) => now.max(latest),
            None => now,
        };
        self.timers.latest = Some(now);
        if self.timers.input_seen || self.timers.last_input.is_none() {
            if self.timers.input_seen {
                self.timers.ping = None;
            }
            self.timers.input_seen = false;
            self.timers.last_input = Some(now);
        }
        let last_input = self.timers.last_input.unwrap_or(now);
        if self.expired {
            return;
        }
        match self.phase {
            // The handshake deadline bounds the reading of the head; a server's application
            // deciding on a request it was given is not waited for.
            Phase::Connecting(
                Handshake::ServerReading(_)
                | Handshake::ServerReadingBody(_)
                | Handshake::ClientReading(_),
            ) => {
                if let Some(limit) = config.handshake_timeout {
                    let deadline = *self.timers.handshake.get_or_insert(now + limit);
                    if now >= deadline {
                        self.handshake_failed(match self.role {
                            Role::Server => HandshakeError::Request(RequestError::Timeout),
                            Role::Client => HandshakeError::Response(ResponseError::Timeout),
                        });
                    }
                }
            }
            Phase::Open => {
                if let Some(idle) = config.idle_timeout
                    && now >= last_input + idle
                {
                    // Cannot fail in the Open phase with a valid code.
                    let _ = self.close(close::GOING_AWAY, "idle timeout");
                }
                if let (Phase::Open, Some(interval)) = (&self.phase, config.keepalive_interval) {
                    match self.timers.ping {
                        Some(deadline) if now >= deadline => self.expired = true,
                        Some(_) => {}
                        None if now >= last_input + interval => {
                            self.write(true, OpCode::Ping, b"");
                            self.timers.ping = Some(now + config.keepalive_timeout);
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
        if self.awaiting_close()
            && let Some(limit) = config.close_timeout
        {
            let deadline = *self.timers.close.get_or_insert(now + limit);
            if now >= deadline {
                match self.phase {
                    // Frames received before now are still processed, then 1006.
                    Phase::Closing => self.expired = true,
                    // A client whose server never closes the transport: give up on it.
                    _ => self.phase.fail(false),
                }
            }
        }
    }

    /// Waiting for the peer's Close, or (client) for the server's EOF after it.
    fn awaiting_close(&self) -> bool {
        match self.phase {
            Phase::Closing => true,
            Phase::Closed(_) => !self.should_close_transport(),
            _ => false,
        }
    }

    /// The earliest armed deadline, as an `Instant`: call
    /// [`handle_timeout`](Self::handle_timeout) then, or earlier with input. `None` until the
    /// time was first reported, with no timer running, or once a deadline has fired (the
    /// machine then waits to be polled). The same as [`poll_deadline`](Self::poll_deadline)
    /// for a connection told the time in `Instant`s; `None` for one told it only in
    /// [`Timestamp`]s of its own scale, which stand for no instant.
    #[cfg(feature = "std")]
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.poll_deadline().and_then(Timestamp::to_instant)
    }

    /// The earliest armed deadline, on the scale of the times reported to
    /// [`handle_timeout`](Self::handle_timeout): call it then, or earlier with input. `None`
    /// until the time was first reported, with no timer running, or once a deadline has fired
    /// (the machine then waits to be polled).
    pub fn poll_deadline(&self) -> Option<Timestamp> {
        let config = &self.config;
        let last_input = self.timers.last_input?;
        if self.expired {
            return None;
        }
        let mut earliest: Option<Timestamp> = None;
        let mut consider = |t: Option<Timestamp>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        match self.phase {
            Phase::Connecting(
                Handshake::ServerReading(_)
                | Handshake::ServerReadingBody(_)
                | Handshake::ClientReading(_),
            ) => consider(self.timers.handshake),
            Phase::Open => {
                consider(config.idle_timeout.map(|d| last_input + d));
                if let Some(interval) = config.keepalive_interval {
                    consider(Some(self.timers.ping.unwrap_or(last_input + interval)));
                }
            }
            _ => {}
        }
        if self.awaiting_close() && config.close_timeout.is_some() {
            // Not yet armed: the next report of the time arms it, so ask for one now.
            consider(Some(self.timers.close.unwrap_or(last_input)));
        }
        earliest
    }
}
