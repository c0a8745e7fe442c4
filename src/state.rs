//! The connection's lifecycle: one enum, every transition in this file.
//!
//! ```text
//!   Connecting ──101──▶ Open ──send Close──▶ Closing{sent} ──recv Close──▶ Closed
//!       │                 │                                                  ▲
//!       │                 └──recv Close (echoed at once)─────────────────────┤
//!       │                 └──protocol error / EOF─────────────────────────────┤
//!       └──rejected / handshake failure / EOF──────────────────────────────────┘
//! ```
//!
//! Names follow RFC 6455 §4.1 and §7 (CONNECTING, OPEN, CLOSING, CLOSED).

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

/// The transitions of [`State`], kept together so that every change of state is visible here.
pub(crate) enum Transition {
    /// The opening handshake completed (server wrote its 101, or the client validated it).
    HandshakeComplete,
    /// This side queued a Close frame.
    CloseSent,
    /// A Close frame arrived from the peer (it is echoed at once if none was sent).
    CloseReceived,
    /// The connection failed: handshake rejected, protocol error, or transport EOF.
    Failed,
}

impl State {
    /// Apply a transition; transitions that make no sense in a state leave it unchanged.
    pub(crate) fn apply(self, t: Transition) -> State {
        match (self, t) {
            (State::Connecting, Transition::HandshakeComplete) => State::Open,
            (State::Open, Transition::CloseSent) => State::Closing,
            (State::Open | State::Closing, Transition::CloseReceived) => State::Closed,
            (_, Transition::Failed) => State::Closed,
            (s, _) => s,
        }
    }
}
