//! The messages the adapter receives and sends, owned, in the shape async WebSocket code
//! already uses.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

/// A Close frame's contents (RFC 6455 §5.5.1): the status code (§7.4) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code: 1000 for a normal closure, 1001 going away, 4000–4999 private use;
    /// see [`crate::close`] for the constants.
    pub code: u16,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}

impl CloseFrame {
    /// A Close frame with this code and reason.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.code, self.reason)
    }
}

/// A message received from the peer or to send to it.
///
/// Received: [`Text`](Message::Text) and [`Binary`](Message::Binary) are whole messages,
/// reassembled from their fragments; [`Ping`](Message::Ping) is reported after the machine
/// has queued its Pong; [`Close`](Message::Close) is the peer's Close, already answered.
///
/// Sent: a Ping or Pong payload is at most 125 bytes; `Close(None)` closes with 1000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A Ping (control frame, §5.5.2).
    Ping(Vec<u8>),
    /// A Pong (control frame, §5.5.3).
    Pong(Vec<u8>),
    /// A Close (control frame, §5.5.1): received, the peer's code and reason (`None` when it
    /// sent no code, 1005); sent, the code and reason to close with.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Vec<u8>>) -> Self {
        Message::Binary(data.into())
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether this is a control message: a Ping, a Pong or a Close.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_)
        )
    }

    /// Whether this is a Close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The payload's length in bytes (a Close's: its code and reason).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d.len(),
            Message::Close(None) => 0,
            Message::Close(Some(f)) => 2 + f.reason.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload's bytes (a Close's: its reason).
    pub fn into_data(self) -> Vec<u8> {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(d) | Message::Ping(d) | Message::Pong(d) => d,
            Message::Close(None) => Vec::new(),
            Message::Close(Some(f)) => f.reason.into_bytes(),
        }
    }

    /// The text of a text message (a Close's: its reason); `None` for other messages.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            Message::Close(Some(f)) => Some(&f.reason),
            _ => None,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Message::Binary(data.to_vec())
    }
}
