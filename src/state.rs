//! The connection's lifecycle (RFC 6455 §4.1, §7): one enum whose variants carry what each
//! phase needs, and every transition between them.
//!
//! ```text
//!                 request read          accept()
//!   Connecting ─────────────────▶ (deciding) ─────────┐       (server; a plain POST's
//!                                                      │        body is read before deciding)
//!       │      101 validated                           ▼
//!       ├──────────────────────────────────────────▶ Open ──close()──▶ Closing
//!       │                                              │                  │
//!       │                        peer's Close (echoed) │                  │ peer's Close
//!       │                                              ▼                  ▼
//!       └── failure, reject(), non-101 ──────────▶ Closed ◀───────────────┘
//!                                                    ▲
//!                       protocol error, EOF, timeout │ (from Open or Closing)
//! ```
//!
//! The public view is [`State`]; `Phase` is what the machine keeps. A transition that makes
//! no sense in the current phase is a bug in the machine: debug builds panic on it (the tests
//! drive every input ordering to make sure none happens), release builds close the connection
//! rather than carry on in a state that contradicts itself.

use alloc::boxed::Box;

use crate::handshake::{ClientHandshake, HandshakeRequest, RequestParser};

/// Where a connection is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is in progress (§4).
    Connecting,
    /// The handshake succeeded; messages flow both ways (§4.1 "_The WebSocket Connection is
    /// Established_").
    Open,
    /// This side sent a Close frame and waits for the peer's (§7.1.2). Received data is still
    /// delivered; no data may be sent.
    Closing,
    /// The closing handshake is complete, or the connection failed (§7.1.4). Nothing more is
    /// received; queued bytes may still need to be written before the transport is closed.
    Closed,
}

impl State {
    /// Whether data frames may be sent in this state.
    pub fn can_send_data(self) -> bool {
        matches!(self, State::Open)
    }

    /// Whether frames from the peer are still processed in this state.
    pub fn can_receive(self) -> bool {
        matches!(self, State::Open | State::Closing)
    }
}

/// The phase of a connection, with what the phase needs.
#[derive(Debug)]
pub(crate) enum Phase {
    /// The opening handshake.
    Connecting(Handshake),
    /// Messages flow both ways.
    Open,
    /// This side sent a Close frame and waits for the peer's.
    Closing,
    /// Nothing more is received.
    Closed(Ending),
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ending {
    /// A Close frame was queued by this side (sent, echoed, or for a failure).
    pub close_sent: bool,
    /// The connection failed, or was given up on: the transport is to be closed in either
    /// role without waiting for the peer.
    pub failed: bool,
}

/// The opening handshake's steps, each with its data.
#[derive(Debug)]
pub(crate) enum Handshake {
    /// Server: reading the request head.
    ServerReading(Box<ServerSide>),
    /// Server: reading the body of a plain HTTP request (a `POST`) after its head, into the
    /// request; what is left is the announced length less what arrived.
    ServerReadingBody(Box<ServerSide>),
    /// Server: the request arrived; the application decides. `plain` for an ordinary HTTP
    /// request (answered with `respond`), and `announced` once the event reporting the request
    /// was handed out: the application can only decide on a request it was told about.
    ServerDeciding {
        /// The parser and the request it produced.
        side: Box<ServerSide>,
        /// An ordinary HTTP request rather than an upgrade.
        plain: bool,
        /// The request's event was handed out.
        announced: bool,
    },
    /// Client: the request is queued; reading the response head.
    ClientReading(Box<ClientHandshake>),
}

/// The server's side of the handshake, in one allocation for its whole life: the parser while
/// the request head arrives, then the request it yielded too.
#[derive(Debug)]
pub(crate) struct ServerSide {
    /// The request head parser.
    pub parser: RequestParser,
    /// Set by the parser when the head is complete.
    pub request: Option<HandshakeRequest>,
}

impl ServerSide {
    /// Bytes of the request's announced body still to come.
    pub(crate) fn body_left(&self) -> usize {
        self.request
            .as_ref()
            .map_or(0, |r| r.body_len - r.body.len())
    }
}

impl Phase {
    /// The public view of the phase.
    pub(crate) fn state(&self) -> State {
        match self {
            Phase::Connecting(_) => State::Connecting,
            Phase::Open => State::Open,
            Phase::Closing => State::Closing,
            Phase::Closed(_) => State::Closed,
        }
    }

    /// Whether this side has queued a Close frame.
    pub(crate) fn close_sent(&self) -> bool {
        match self {
            Phase::Closing => true,
            Phase::Closed(end) => end.close_sent,
            Phase::Connecting(_) | Phase::Open => false,
        }
    }

    /// Whether the connection failed or was given up on.
    pub(crate) fn failed(&self) -> bool {
        matches!(self, Phase::Closed(Ending { failed: true, .. }))
    }

    /// Server: the request head was read (`plain`: an ordinary HTTP request). Reading →
    /// deciding.
    pub(crate) fn request_read(&mut self, plain: bool) {
        match self.take() {
            Phase::Connecting(Handshake::ServerReading(side)) => {
                *self = Phase::Connecting(Handshake::ServerDeciding {
                    side,
                    plain,
                    announced: false,
                });
            }
            Phase::Connecting(Handshake::ServerReadingBody(side))
                if plain && side.body_left() == 0 =>
            {
                *self = Phase::Connecting(Handshake::ServerDeciding {
                    side,
                    plain,
                    announced: false,
                });
            }
            other => self.invalid(other, "request read"),
        }
    }

    /// Server: a plain HTTP request's head was read and announces a body. Reading the head →
    /// reading the body.
    pub(crate) fn body_follows(&mut self) {
        match self.take() {
            Phase::Connecting(Handshake::ServerReading(side)) => {
                *self = Phase::Connecting(Handshake::ServerReadingBody(side));
            }
            other => self.invalid(other, "body follows"),
        }
    }

    /// The opening handshake completed: the server accepted, or the client validated the 101.
    /// Returns the server's handshake data, whose buffers may be reused.
    pub(crate) fn open(&mut self) -> Option<Box<ServerSide>> {
        match self.take() {
            Phase::Connecting(Handshake::ServerDeciding {
                side,
                plain: false,
                announced: true,
            }) => {
                *self = Phase::Open;
                Some(side)
            }
            Phase::Connecting(Handshake::ClientReading(_)) => {
                *self = Phase::Open;
                None
            }
            other => {
                self.invalid(other, "open");
                None
            }
        }
    }

    /// This side queued a Close frame while open (§7.1.2).
    pub(crate) fn close_sent_now(&mut self) {
        match self.take() {
            Phase::Open => *self = Phase::Closing,
            other => self.invalid(other, "close sent"),
        }
    }

    /// The peer's Close frame arrived; if this side had not sent one, its echo was queued.
    pub(crate) fn close_received(&mut self) {
        match self.take() {
            Phase::Open | Phase::Closing => {
                *self = Phase::Closed(Ending {
                    close_sent: true,
                    failed: false,
                });
            }
            other => self.invalid(other, "close received"),
        }
    }

    /// The connection failed (§7.1.7), was refused or answered with a plain HTTP response, or
    /// is given up on after a clean close (a client whose server never closes the transport).
    /// `close_queued`: a Close frame was queued for the failure.
    pub(crate) fn fail(&mut self, close_queued: bool) {
        let close_sent = self.close_sent() || close_queued;
        match self.take() {
            Phase::Connecting(_) | Phase::Open | Phase::Closing => {}
            Phase::Closed(Ending { failed: false, .. }) => {}
            other => return self.invalid(other, "fail"),
        }
        *self = Phase::Closed(Ending {
            close_sent,
            failed: true,
        });
    }

    /// Take the phase out, leaving a failed one in its place until the transition sets the
    /// next.
    fn take(&mut self) -> Phase {
        core::mem::replace(
            self,
            Phase::Closed(Ending {
                close_sent: false,
                failed: true,
            }),
        )
    }

    /// A transition that does not exist from `from`: a bug in the machine.
    #[track_caller]
    fn invalid(&mut self, from: Phase, transition: &str) {
        debug_assert!(
            false,
            "invalid transition {transition:?} from {:?}",
            from.state()
        );
        // Release builds: the failed phase `take` left stands, keeping what was sent.
        *self = Phase::Closed(Ending {
            close_sent: from.close_sent(),
            failed: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn server_reading() -> Phase {
        Phase::Connecting(Handshake::ServerReading(Box::new(ServerSide {
            parser: RequestParser::new(&Config::default()),
            request: None,
        })))
    }

    #[test]
    fn server_path_to_a_clean_close() {
        let mut p = server_reading();
        assert_eq!(p.state(), State::Connecting);
        p.request_read(false);
        if let Phase::Connecting(Handshake::ServerDeciding { announced, .. }) = &mut p {
            *announced = true;
        }
        assert!(p.open().is_some());
        assert_eq!(p.state(), State::Open);
        p.close_sent_now();
        assert_eq!(p.state(), State::Closing);
        assert!(p.close_sent());
        p.close_received();
        assert_eq!(
            p.state(),
            State::Closed,
            "the peer's Close ends the closing handshake"
        );
        assert!(!p.failed());
        p.fail(false);
        assert!(
            p.failed() && p.close_sent(),
            "giving up keeps what was sent"
        );
    }

    #[test]
    fn failure_from_every_live_phase() {
        for mut p in [server_reading(), Phase::Open, Phase::Closing] {
            let sent = p.close_sent();
            p.fail(false);
            assert!(p.failed());
            assert_eq!(p.close_sent(), sent);
        }
        let mut p = Phase::Open;
        p.fail(true);
        assert!(p.close_sent(), "a failure's own Close counts as sent");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "invalid transition")]
    fn an_invalid_transition_is_caught() {
        let mut p = Phase::Closing;
        p.close_sent_now();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "invalid transition")]
    fn opening_before_the_request_was_announced_is_caught() {
        let mut p = server_reading();
        p.request_read(false);
        let _ = p.open();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "invalid transition")]
    fn failing_twice_is_caught() {
        let mut p = Phase::Open;
        p.fail(false);
        p.fail(false);
    }
}
