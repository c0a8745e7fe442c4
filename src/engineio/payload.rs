//! HTTP long-polling payloads: packets joined by the record separator `\x1e`.
//!
//! [`decode_payload`] splits a whole request body at the separator (an ASCII byte, which never
//! occurs inside a UTF-8 sequence) and decodes each record; the body is bounded by a byte
//! limit, and of two faults the one earlier in the body is reported. [`encode_payload`] joins
//! packets for a response.

use alloc::string::String;
use alloc::vec::Vec;

use super::packet::{Packet, PacketError};

/// The record separator between the packets of a long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// The body is longer than the limit.
    TooLarge,
    /// A record is not a valid packet (an empty body is one empty record).
    Packet(PacketError),
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::TooLarge => f.write_str("payload over the size limit"),
            PayloadError::Packet(e) => write!(f, "invalid packet in payload: {e}"),
        }
    }
}

impl std::error::Error for PayloadError {}

/// Decode a whole long-polling payload of at most `limit` bytes.
///
/// Of two faults the one earlier in the body is reported: an invalid record whose separator
/// lies within the limit, else the limit. Only the bytes within the limit are looked at.
///
/// ```
/// use wsmachine::engineio::{Packet, PayloadError, decode_payload};
///
/// let packets = decode_payload(b"4hello\x1ebAQIDBA==", 1000).unwrap();
/// assert_eq!(packets, [Packet::Message("hello".into()), Packet::Binary(vec![1, 2, 3, 4])]);
/// assert_eq!(decode_payload(b"4hello", 5), Err(PayloadError::TooLarge));
/// ```
pub fn decode_payload(body: &[u8], limit: usize) -> Result<Vec<Packet>, PayloadError> {
    let over = body.len() > limit;
    let within = &body[..body.len().min(limit)];
    let mut records = within.split(|&b| b == SEPARATOR);
    // `split` yields at least one record: the last one, complete only when the body is.
    let last = records.next_back().unwrap_or_default();
    let mut packets = Vec::new();
    for record in records {
        packets.push(Packet::decode_bytes(record).map_err(PayloadError::Packet)?);
    }
    if over {
        return Err(PayloadError::TooLarge);
    }
    packets.push(Packet::decode_bytes(last).map_err(PayloadError::Packet)?);
    Ok(packets)
}

/// Append `packets` joined by the record separator: the body of a long-polling response.
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>, out: &mut String) {
    for (i, p) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR as char);
        }
        p.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_splits() {
        let packets = [
            Packet::Message("test1".into()),
            Packet::Ping(String::new()),
            Packet::Binary(vec![1, 2, 3, 4]),
        ];
        let mut body = String::new();
        encode_payload(&packets, &mut body);
        assert_eq!(body, "4test1\x1e2\x1ebAQIDBA==");
        assert_eq!(decode_payload(body.as_bytes(), 100).unwrap(), packets);
    }

    #[test]
    fn refuses_empty_records_and_large_bodies() {
        assert_eq!(
            decode_payload(b"", 10),
            Err(PayloadError::Packet(PacketError::Empty))
        );
        assert_eq!(
            decode_payload(b"4a\x1e\x1e4b", 10),
            Err(PayloadError::Packet(PacketError::Empty))
        );
        assert_eq!(
            decode_payload(b"4a\x1e", 10),
            Err(PayloadError::Packet(PacketError::Empty))
        );
        assert_eq!(decode_payload(b"4hello", 5), Err(PayloadError::TooLarge));
        assert!(decode_payload(b"4hello", 6).is_ok());
    }
}
