//! HTTP long-polling payloads: packets joined by the record separator `\x1e`.
//!
//! [`PayloadDecoder`] takes a request body in whatever pieces it arrives and yields the same
//! packets however it was split: a record is decoded once its separator (or the body's end)
//! is seen, and the separator, an ASCII byte, never occurs inside a UTF-8 sequence. The whole
//! body is bounded by a byte limit checked as the pieces come, so a body over the limit is
//! refused before it is stored; of two faults, the one earlier in the body is reported. [`encode_payload`] joins packets for a response.

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

/// An incremental decoder of one long-polling payload.
///
/// ```
/// use wsmachine::engineio::{Packet, PayloadDecoder};
///
/// let mut dec = PayloadDecoder::new(1000);
/// dec.push(b"4hel").unwrap();
/// dec.push(b"lo\x1ebAQID").unwrap();
/// dec.push(b"BA==").unwrap();
/// let packets = dec.finish().unwrap();
/// assert_eq!(packets, [Packet::Message("hello".into()), Packet::Binary(vec![1, 2, 3, 4])]);
/// ```
#[derive(Debug)]
pub struct PayloadDecoder {
    limit: usize,
    seen: usize,
    record: Vec<u8>,
    packets: Vec<Packet>,
    error: Option<PayloadError>,
}

impl PayloadDecoder {
    /// A decoder for a body of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        PayloadDecoder {
            limit,
            seen: 0,
            record: Vec::new(),
            packets: Vec::new(),
            error: None,
        }
    }

    /// Feed the next piece of the body. After the first error every call returns it again.
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<(), PayloadError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // The bytes within the limit are decoded first, so that the error reported is the one
        // at the earliest position whatever the pieces: an invalid record that ends within
        // the limit, else the limit.
        let allowed = self.limit - self.seen;
        let over = chunk.len() > allowed;
        chunk = &chunk[..chunk.len().min(allowed)];
        self.seen += chunk.len();
        while let Some(at) = memchr::memchr(SEPARATOR, chunk) {
            self.record.extend_from_slice(&chunk[..at]);
            self.end_record()?;
            chunk = &chunk[at + 1..];
        }
        self.record.extend_from_slice(chunk);
        if over {
            return self.fail(PayloadError::TooLarge);
        }
        Ok(())
    }

    /// The body is complete: the packets it held, in order.
    pub fn finish(mut self) -> Result<Vec<Packet>, PayloadError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.end_record()?;
        Ok(self.packets)
    }

    /// How many body bytes were fed so far.
    pub fn bytes_seen(&self) -> usize {
        self.seen
    }

    fn end_record(&mut self) -> Result<(), PayloadError> {
        match Packet::decode_bytes(&self.record) {
            Ok(p) => {
                self.packets.push(p);
                self.record.clear();
                Ok(())
            }
            Err(e) => self.fail(PayloadError::Packet(e)),
        }
    }

    fn fail(&mut self, e: PayloadError) -> Result<(), PayloadError> {
        self.error = Some(e);
        self.record = Vec::new();
        self.packets = Vec::new();
        Err(e)
    }
}

/// Decode a whole long-polling payload of at most `limit` bytes.
pub fn decode_payload(body: &[u8], limit: usize) -> Result<Vec<Packet>, PayloadError> {
    let mut dec = PayloadDecoder::new(limit);
    dec.push(body)?;
    dec.finish()
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

    #[test]
    fn error_sticks() {
        let mut d = PayloadDecoder::new(100);
        assert!(d.push(b"x\x1e").is_err());
        assert!(d.push(b"4ok").is_err());
        assert!(d.finish().is_err());
    }
}
