//! Engine.IO packets: one type digit and an optional payload.
//!
//! A packet travels as text (`<type><data>`, or `b<base64>` for binary data on HTTP
//! long-polling) or, on a WebSocket, binary data travels as a binary frame of its own with no
//! prefix. The decoder takes a packet's text as it came from one record of a polling payload
//! or from one WebSocket text frame.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, padded on output and accepted with or without padding on input.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0`: the handshake, carrying the session's JSON parameters (server to client only).
    Open(String),
    /// `1`: the transport, and the session with it, can be closed.
    Close,
    /// `2`: a heartbeat ping; `probe` during an upgrade.
    Ping(String),
    /// `3`: the answer to a ping, with the ping's data.
    Pong(String),
    /// `4`: an application message in text.
    Message(String),
    /// Binary application data: `b<base64>` on long-polling, a binary frame on a WebSocket.
    Binary(Vec<u8>),
    /// `5`: completes an upgrade to WebSocket.
    Upgrade,
    /// `6`: does nothing; ends a pending long-polling request during an upgrade.
    Noop,
}

/// Why a packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// The packet was empty.
    Empty,
    /// The first character is neither a packet type (`0`–`6`) nor `b`.
    UnknownType,
    /// The data after `b` is not base64.
    BadBase64,
    /// The bytes are not UTF-8 text.
    NotUtf8,
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacketError::Empty => "empty packet",
            PacketError::UnknownType => "unknown packet type",
            PacketError::BadBase64 => "binary packet data is not base64",
            PacketError::NotUtf8 => "packet text is not UTF-8",
        })
    }
}

impl std::error::Error for PacketError {}

impl Packet {
    /// Decode a packet from its text form.
    ///
    /// The data of `close`, `upgrade` and `noop` carries no meaning and is ignored.
    pub fn decode(text: &str) -> Result<Packet, PacketError> {
        let mut chars = text.chars();
        let Some(kind) = chars.next() else {
            return Err(PacketError::Empty);
        };
        let data = chars.as_str();
        Ok(match kind {
            '0' => Packet::Open(data.to_owned()),
            '1' => Packet::Close,
            '2' => Packet::Ping(data.to_owned()),
            '3' => Packet::Pong(data.to_owned()),
            '4' => Packet::Message(data.to_owned()),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => Packet::Binary(BASE64.decode(data).map_err(|_| PacketError::BadBase64)?),
            _ => return Err(PacketError::UnknownType),
        })
    }

    /// Decode a packet from bytes that should be its UTF-8 text form.
    pub fn decode_bytes(bytes: &[u8]) -> Result<Packet, PacketError> {
        Packet::decode(std::str::from_utf8(bytes).map_err(|_| PacketError::NotUtf8)?)
    }

    /// Append the packet's text form, binary data as `b<base64>` (the long-polling form).
    pub fn encode(&self, out: &mut String) {
        let (kind, data) = match self {
            Packet::Open(d) => ('0', d.as_str()),
            Packet::Close => ('1', ""),
            Packet::Ping(d) => ('2', d.as_str()),
            Packet::Pong(d) => ('3', d.as_str()),
            Packet::Message(d) => ('4', d.as_str()),
            Packet::Upgrade => ('5', ""),
            Packet::Noop => ('6', ""),
            Packet::Binary(bytes) => {
                out.push('b');
                BASE64.encode_string(bytes, out);
                return;
            }
        };
        out.push(kind);
        out.push_str(data);
    }

    /// The packet's text form as a new string.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(self.encoded_len());
        self.encode(&mut s);
        s
    }

    /// The length in bytes of the text form that [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Packet::Open(d) | Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => 1 + d.len(),
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
            Packet::Binary(b) => 1 + b.len().div_ceil(3) * 4,
        }
    }

    /// The WebSocket form of the packet: binary data as a binary frame, everything else as
    /// the text form in a text frame.
    pub fn to_frame(&self) -> Frame {
        match self {
            Packet::Binary(bytes) => Frame::Binary(bytes.clone()),
            other => Frame::Text(other.to_text()),
        }
    }

    /// The WebSocket form of the packet, taking it: binary data moves into the frame, and a
    /// message's text is the frame's text after its type digit, without a copy of the data.
    pub fn into_frame(self) -> Frame {
        match self {
            Packet::Binary(bytes) => Frame::Binary(bytes),
            Packet::Message(mut text) => {
                text.insert(0, '4');
                Frame::Text(text)
            }
            other => Frame::Text(other.to_text()),
        }
    }
}

/// What the application sends on one WebSocket: a frame to send, or the end of the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Send a text message.
    Text(String),
    /// Send a binary message.
    Binary(Vec<u8>),
    /// Close the WebSocket with this close code and reason (RFC 6455 §7.4); nothing more will
    /// be sent on it.
    Close(u16, &'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_type() {
        assert_eq!(Packet::decode("0{}"), Ok(Packet::Open("{}".into())));
        assert_eq!(Packet::decode("1"), Ok(Packet::Close));
        assert_eq!(Packet::decode("2probe"), Ok(Packet::Ping("probe".into())));
        assert_eq!(Packet::decode("3"), Ok(Packet::Pong(String::new())));
        assert_eq!(
            Packet::decode("4héllo"),
            Ok(Packet::Message("héllo".into()))
        );
        assert_eq!(Packet::decode("5"), Ok(Packet::Upgrade));
        assert_eq!(Packet::decode("6"), Ok(Packet::Noop));
        assert_eq!(
            Packet::decode("bAQIDBA=="),
            Ok(Packet::Binary(vec![1, 2, 3, 4]))
        );
        assert_eq!(
            Packet::decode("bAQIDBA"),
            Ok(Packet::Binary(vec![1, 2, 3, 4]))
        );
    }

    #[test]
    fn refuses_bad_packets() {
        assert_eq!(Packet::decode(""), Err(PacketError::Empty));
        assert_eq!(Packet::decode("abc"), Err(PacketError::UnknownType));
        assert_eq!(Packet::decode("7"), Err(PacketError::UnknownType));
        assert_eq!(Packet::decode("b!!"), Err(PacketError::BadBase64));
        assert_eq!(Packet::decode_bytes(b"4\xff"), Err(PacketError::NotUtf8));
    }

    #[test]
    fn encodes_binary_as_base64() {
        assert_eq!(Packet::Binary(vec![1, 2, 3, 4]).to_text(), "bAQIDBA==");
        assert_eq!(Packet::Binary(vec![1, 2, 3, 4]).encoded_len(), 9);
        assert_eq!(
            Packet::Message("hi".into()).to_frame(),
            Frame::Text("4hi".into())
        );
        assert_eq!(Packet::Binary(vec![7]).to_frame(), Frame::Binary(vec![7]));
        for p in [
            Packet::Message("hi".into()),
            Packet::Binary(vec![7]),
            Packet::Pong("probe".into()),
            Packet::Close,
        ] {
            assert_eq!(p.to_frame(), p.clone().into_frame());
        }
    }
}
