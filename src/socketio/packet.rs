//! The Socket.IO packet codec: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.
//!
//! One Socket.IO packet travels as the text of one Engine.IO message. A packet whose JSON
//! holds binary data (types 5 and 6) says how many binary Engine.IO messages follow it; in the
//! JSON each of them is a placeholder `{"_placeholder":true,"num":N}` (see `binary.rs`).

use alloc::borrow::ToOwned;
use alloc::string::String;

use serde_json::Value;

/// The seven packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: a client asks to join a namespace (optional auth object); the server's answer
    /// carries the socket's sid.
    Connect,
    /// `1`: one side leaves a namespace.
    Disconnect,
    /// `2`: an event: a non-empty array whose first element is the event's name.
    Event,
    /// `3`: the answer to an event that carried an ack id: an array of arguments.
    Ack,
    /// `4`: the server refuses a CONNECT (server to client only).
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketType {
    /// The type's digit.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// The type of a digit, `None` for anything but `0`–`6`.
    pub fn from_digit(d: u8) -> Option<PacketType> {
        Some(match d {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// Whether binary attachments follow packets of this type.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

/// One Socket.IO packet, its binary attachments aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The type.
    pub kind: PacketType,
    /// The namespace, `/` when the encoding names none.
    pub nsp: String,
    /// The acknowledgement id of an event that asks for one, or of an ack.
    pub id: Option<u64>,
    /// The JSON payload, if any.
    pub data: Option<Value>,
    /// How many binary attachments follow (only for the binary types).
    pub attachments: usize,
}

/// Why a packet's text is not a valid Socket.IO packet. Every one of them ends the client's
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketError {
    /// The text is empty or its first character is not a packet type.
    UnknownType,
    /// A binary packet's attachment count is missing, not a number, or over the cap.
    BadAttachments,
    /// The acknowledgement id is not a number that fits in 64 bits.
    BadAckId,
    /// What follows the header is not JSON.
    BadJson,
    /// The JSON is not the payload this packet type carries (an event's non-empty array
    /// with a name, an ack's array, a CONNECT's object, no payload for a DISCONNECT).
    BadPayload,
    /// An event from a client uses a name the protocol reserves (`connect`, `disconnect`, ...).
    ReservedEvent,
    /// A packet the server never receives (CONNECT_ERROR).
    Unexpected,
    /// Binary attachments out of order: one that no packet announced, text while
    /// attachments were awaited, a placeholder that names no attachment, or more bytes
    /// than the cap.
    BadBinary,
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacketError::UnknownType => "unknown packet type",
            PacketError::BadAttachments => "invalid attachment count",
            PacketError::BadAckId => "invalid acknowledgement id",
            PacketError::BadJson => "payload is not JSON",
            PacketError::BadPayload => "invalid payload for the packet type",
            PacketError::ReservedEvent => "reserved event name",
            PacketError::Unexpected => "packet type not accepted from a client",
            PacketError::BadBinary => "invalid binary attachments",
        })
    }
}

impl std::error::Error for PacketError {}

/// Event names a client may not send: the server-side library's own events.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

impl Packet {
    /// A packet with no ack id, no payload and no attachments.
    pub fn new(kind: PacketType, nsp: impl Into<String>) -> Packet {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data: None,
            attachments: 0,
        }
    }

    /// Set the payload.
    pub fn with_data(mut self, data: Value) -> Packet {
        self.data = Some(data);
        self
    }

    /// Set the ack id.
    pub fn with_id(mut self, id: u64) -> Packet {
        self.id = Some(id);
        self
    }

    /// Decode one packet's text. Only the structure is checked here; which types and
    /// payloads a server accepts from a client is [`Packet::check_from_client`]'s.
    /// `max_attachments` caps the announced attachment count.
    pub fn decode(text: &str, max_attachments: usize) -> Result<Packet, PacketError> {
        let bytes = text.as_bytes();
        let kind = bytes
            .first()
            .and_then(|&d| PacketType::from_digit(d))
            .ok_or(PacketError::UnknownType)?;
        let mut at = 1;
        let mut attachments = 0;
        if kind.is_binary() {
            let digits = count_digits(&bytes[at..]);
            if digits == 0 || bytes.get(at + digits) != Some(&b'-') {
                return Err(PacketError::BadAttachments);
            }
            attachments = text[at..at + digits]
                .parse::<usize>()
                .ok()
                .filter(|&n| n <= max_attachments)
                .ok_or(PacketError::BadAttachments)?;
            at += digits + 1;
        }
        let mut nsp = "/";
        if bytes.get(at) == Some(&b'/') {
            let end = memchr::memchr(b',', &bytes[at..]).map_or(bytes.len(), |i| at + i);
            nsp = &text[at..end];
            at = (end + 1).min(bytes.len());
        }
        let mut id = None;
        let digits = count_digits(&bytes[at..]);
        if digits > 0 {
            let n = text[at..at + digits]
                .parse::<u64>()
                .map_err(|_| PacketError::BadAckId)?;
            id = Some(n);
            at += digits;
        }
        let rest = &text[at..];
        let data = if rest.is_empty() {
            None
        } else {
            // A rest that starts with neither JSON nor a digit is most often a bad ack id.
            let value = serde_json::from_str::<Value>(rest).map_err(|_| {
                if id.is_none() && rest.as_bytes()[0].is_ascii_alphabetic() {
                    PacketError::BadAckId
                } else {
                    PacketError::BadJson
                }
            })?;
            Some(value)
        };
        let packet = Packet {
            kind,
            nsp: nsp.to_owned(),
            id,
            data,
            attachments,
        };
        packet.check_payload()?;
        Ok(packet)
    }

    /// Whether the payload has the shape the packet's type calls for.
    fn check_payload(&self) -> Result<(), PacketError> {
        let ok = match (self.kind, &self.data) {
            (PacketType::Connect, None | Some(Value::Object(_))) => true,
            (PacketType::Disconnect, None) => true,
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(a))) => {
                matches!(a.first(), Some(Value::String(_)))
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(Value::Array(_))) => self.id.is_some(),
            (PacketType::ConnectError, Some(Value::Object(_) | Value::String(_))) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(PacketError::BadPayload)
        }
    }

    /// Whether a server accepts this packet from a client: no CONNECT_ERROR, no reserved
    /// event name.
    pub fn check_from_client(&self) -> Result<(), PacketError> {
        if self.kind == PacketType::ConnectError {
            return Err(PacketError::Unexpected);
        }
        if let Some(name) = self.event_name()
            && RESERVED_EVENTS.contains(&name)
        {
            return Err(PacketError::ReservedEvent);
        }
        Ok(())
    }

    /// An event's name.
    pub fn event_name(&self) -> Option<&str> {
        match (self.kind, &self.data) {
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(a))) => {
                a.first()?.as_str()
            }
            _ => None,
        }
    }

    /// The packet's text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }

    /// Append the packet's text to `out`.
    pub fn encode_into(&self, out: &mut String) {
        use std::fmt::Write as _;
        out.push(char::from(self.kind.digit()));
        if self.kind.is_binary() {
            let _ = write!(out, "{}-", self.attachments);
        }
        if self.nsp != "/" {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            let _ = write!(out, "{id}");
        }
        if let Some(data) = &self.data {
            // `Value`'s `Display` is its compact JSON, written straight into `out`.
            let _ = write!(out, "{data}");
        }
    }
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_protocol_examples() {
        let p = Packet::decode("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}", 10).unwrap();
        assert_eq!(p.kind, PacketType::Connect);
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})));
        let p =
            Packet::decode("52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0}]", 10).unwrap();
        assert_eq!((p.kind, p.attachments), (PacketType::BinaryEvent, 2));
        assert_eq!(p.nsp, "/admin");
        let p = Packet::decode("212[\"foo\"]", 10).unwrap();
        assert_eq!(p.id, Some(12));
        assert_eq!(p.encode(), "212[\"foo\"]");
        assert_eq!(Packet::decode("1/admin,", 10).unwrap().encode(), "1/admin,");
        assert_eq!(Packet::decode("1/admin", 10).unwrap().nsp, "/admin");
    }

    #[test]
    fn malformed() {
        assert_eq!(Packet::decode("", 10), Err(PacketError::UnknownType));
        assert_eq!(Packet::decode("abc", 10), Err(PacketError::UnknownType));
        assert_eq!(Packet::decode("2{}", 10), Err(PacketError::BadPayload));
        assert_eq!(Packet::decode("2[]", 10), Err(PacketError::BadPayload));
        assert_eq!(
            Packet::decode("2abc[\"a\"]", 10),
            Err(PacketError::BadAckId)
        );
        assert_eq!(Packet::decode("2[\"a\"", 10), Err(PacketError::BadJson));
        assert_eq!(
            Packet::decode("299999999999999999999[\"a\"]", 10),
            Err(PacketError::BadAckId)
        );
        assert_eq!(
            Packet::decode("5[\"a\"]", 10),
            Err(PacketError::BadAttachments)
        );
        assert_eq!(
            Packet::decode("511-[\"a\"]", 10),
            Err(PacketError::BadAttachments)
        );
        assert_eq!(Packet::decode("3[]", 10), Err(PacketError::BadPayload));
        assert_eq!(Packet::decode("1[]", 10), Err(PacketError::BadPayload));
        let p = Packet::decode("2[\"disconnect\"]", 10).unwrap();
        assert_eq!(p.check_from_client(), Err(PacketError::ReservedEvent));
        let p = Packet::decode("4{\"message\":\"no\"}", 10).unwrap();
        assert_eq!(p.check_from_client(), Err(PacketError::Unexpected));
    }
}
