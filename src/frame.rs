//! The base framing protocol (RFC 6455 §5.2): frame headers and whole-frame encoding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! [`decode_header`] validates everything that the header alone can show to be wrong and reports
//! it as soon as the offending byte is available. Limits on frame and message size and the
//! sequencing of continuation frames depend on configuration and on earlier frames, so they are
//! left to the connection.

use alloc::vec::Vec;

use crate::error::ProtocolError;
use crate::mask::apply_mask;

/// The opcode of a frame (§5.2). Reserved opcodes have no variant: they are rejected on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: connection close (§5.5.1).
    Close,
    /// 0x9: ping (§5.5.2).
    Ping,
    /// 0xA: pong (§5.5.3).
    Pong,
}

impl OpCode {
    /// Whether this is a control opcode (Close, Ping, Pong): the most significant opcode bit is
    /// set (§5.5).
    #[inline]
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// The 4-bit wire value of the opcode.
    #[inline]
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value, or `None` for the reserved values 0x3–0x7 and 0xB–0xF
    /// (and anything above 0xF).
    #[inline]
    pub fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// The three reserved bits as a 3-bit value: RSV1 = `0b100`, RSV2 = `0b010`, RSV3 = `0b001`.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes (at most 2^63 − 1).
    pub payload_len: u64,
}

/// The longest possible frame header: 2 bytes, 8 bytes of extended length, 4 of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Decode and validate a frame header at the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only a valid prefix of a header (more bytes are needed),
/// and `Ok(Some((header, header_len)))` once the whole header is present; the payload starts at
/// `buf[header_len]`. `expect_masked` is true for a server (client frames must be masked, §5.1)
/// and false for a client. `allowed_rsv` holds the RSV bits claimed by negotiated extensions, in
/// the layout of [`FrameHeader::rsv`].
///
/// # Errors
///
/// An error is reported as soon as the byte that shows it is in `buf`, without waiting for the
/// rest of the header. When several apply, the first in this list wins:
///
/// 1. opcode 0x3–0x7 or 0xB–0xF → [`ProtocolError::ReservedOpcode`] (byte 0);
/// 2. an RSV bit outside `allowed_rsv` → [`ProtocolError::ReservedBitsSet`] (byte 0);
/// 3. a control frame without FIN → [`ProtocolError::FragmentedControlFrame`] (byte 0);
/// 4. a control frame with a 7-bit length of 126 or 127 → [`ProtocolError::ControlFrameTooLong`]
///    (byte 1);
/// 5. the MASK bit not matching `expect_masked` → [`ProtocolError::UnmaskedFrame`] /
///    [`ProtocolError::MaskedFrame`] (byte 1);
/// 6. a 64-bit length with its most significant bit set →
///    [`ProtocolError::InvalidPayloadLength`] (byte 2).
///
/// The order follows the position of the byte that reveals each error, so the error reported
/// for a given input never depends on how that input was split into reads.
///
/// Non-minimal length encodings (126 followed by a value below 126, 127 followed by a value
/// below 65 536) are accepted, as RFC 6455 does not forbid them on receipt.
#[inline]
pub fn decode_header(
    buf: &[u8],
    expect_masked: bool,
    allowed_rsv: u8,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    Ok(
        parse_header(buf, expect_masked, allowed_rsv)?.map(|(h, n)| {
            (
                FrameHeader {
                    fin: h.fin,
                    rsv: h.rsv,
                    opcode: h.opcode,
                    mask: h.mask(),
                    payload_len: h.payload_len,
                },
                n,
            )
        }),
    )
}

/// A decoded header as the connection keeps it: [`FrameHeader`] with the masking key as one
/// word, which stays in a register where a five-byte `Option<[u8; 4]>` is assembled on the
/// stack and read back across two stores (a stall on every frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub payload_len: u64,
    /// The masking key's bytes in wire order (`u32::from_ne_bytes`); 0 when unmasked.
    pub key: u32,
    pub masked: bool,
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
}

impl Header {
    /// The masking key, when the MASK bit is set.
    #[inline]
    pub(crate) fn mask(&self) -> Option<[u8; 4]> {
        self.masked.then(|| self.key.to_ne_bytes())
    }
}

/// [`decode_header`], returning the connection's [`Header`].
#[inline]
pub(crate) fn parse_header(
    buf: &[u8],
    expect_masked: bool,
    allowed_rsv: u8,
) -> Result<Option<(Header, usize)>, ProtocolError> {
    let Some(&b0) = buf.first() else {
        return Ok(None);
    };
    let Some(opcode) = OpCode::from_u8(b0 & 0x0F) else {
        return Err(ProtocolError::ReservedOpcode(b0 & 0x0F));
    };
    let rsv = (b0 >> 4) & 0b111;
    if rsv & !allowed_rsv != 0 {
        return Err(ProtocolError::ReservedBitsSet);
    }
    let fin = b0 & 0x80 != 0;
    let control = opcode.is_control();
    if control && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }

    let Some(&b1) = buf.get(1) else {
        return Ok(None);
    };
    let len7 = b1 & 0x7F;
    if control && len7 > MAX_CONTROL_PAYLOAD as u8 {
        return Err(ProtocolError::ControlFrameTooLong);
    }
    let masked = b1 & 0x80 != 0;
    if masked != expect_masked {
        return Err(if masked {
            ProtocolError::MaskedFrame
        } else {
            ProtocolError::UnmaskedFrame
        });
    }

    let (payload_len, len_end) = match len7 {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => (u16::from_be_bytes([a, b]) as u64, 4),
            _ => return Ok(None),
        },
        127 => {
            match buf.get(2) {
                Some(&b2) if b2 & 0x80 != 0 => return Err(ProtocolError::InvalidPayloadLength),
                Some(_) => {}
                None => return Ok(None),
            }
            match buf.get(2..10) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(None),
            }
        }
        n => (n as u64, 2),
    };

    let (key, header_len) = if masked {
        match buf.get(len_end..len_end + 4) {
            Some(&[a, b, c, d]) => (u32::from_ne_bytes([a, b, c, d]), len_end + 4),
            _ => return Ok(None),
        }
    } else {
        (0, len_end)
    };

    Ok(Some((
        Header {
            payload_len,
            key,
            masked,
            fin,
            rsv,
            opcode,
        },
        header_len,
    )))
}

/// Encode a frame header into `dst` and return its length; the header is `dst[..len]`.
///
/// The shortest length encoding is used. Only the low three bits of `rsv` are used, and
/// `payload_len` must be below 2^63 (any in-memory payload is); a larger value is a caller bug
/// (checked in debug builds) and is truncated to 63 bits.
#[inline]
pub fn encode_header(
    dst: &mut [u8; MAX_HEADER_LEN],
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload_len: u64,
) -> usize {
    debug_assert!(rsv <= 0b111, "rsv has only three bits");
    debug_assert!(payload_len < 1 << 63, "payload length exceeds 2^63 - 1");
    dst[0] = ((fin as u8) << 7) | ((rsv & 0b111) << 4) | opcode.as_u8();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut len = if payload_len < 126 {
        dst[1] = mask_bit | payload_len as u8;
        2
    } else if payload_len <= u16::MAX as u64 {
        dst[1] = mask_bit | 126;
        dst[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        dst[1] = mask_bit | 127;
        dst[2..10].copy_from_slice(&(payload_len & (u64::MAX >> 1)).to_be_bytes());
        10
    };
    if let Some(key) = mask {
        dst[len..len + 4].copy_from_slice(&key);
        len += 4;
    }
    len
}

/// Append a whole frame — header, then `payload` masked with `mask` when it is `Some` — to
/// `out`, growing it at most once.
#[inline]
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let mut header = [0u8; MAX_HEADER_LEN];
    let header_len = encode_header(&mut header, fin, rsv, opcode, mask, payload.len() as u64);
    out.reserve(header_len + payload.len());
    out.extend_from_slice(&header[..header_len]);
    match mask {
        None => out.extend_from_slice(payload),
        // Copy and mask a cache-sized block at a time, so the masking pass reads what the
        // copy has just brought into L1 instead of the whole payload again.
        Some(key) => {
            for (i, block) in payload.chunks(MASK_BLOCK).enumerate() {
                let start = out.len();
                out.extend_from_slice(block);
                apply_mask(&mut out[start..], key, i * MASK_BLOCK);
            }
        }
    }
}

/// Block size for copying and masking outgoing payloads (a multiple of 4, so every block starts
/// at key phase 0 — the offset passed is exact either way).
const MASK_BLOCK: usize = 8 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_wire_values_round_trip() {
        for v in 0u8..=255 {
            match OpCode::from_u8(v) {
                Some(op) => assert_eq!(op.as_u8(), v),
                None => assert!(!matches!(v, 0 | 1 | 2 | 8 | 9 | 10)),
            }
        }
        assert!(OpCode::Close.is_control());
        assert!(OpCode::Ping.is_control());
        assert!(OpCode::Pong.is_control());
        assert!(!OpCode::Continuation.is_control());
        assert!(!OpCode::Text.is_control());
        assert!(!OpCode::Binary.is_control());
    }

    #[test]
    fn shortest_length_encoding_is_chosen() {
        let mut h = [0u8; MAX_HEADER_LEN];
        assert_eq!(encode_header(&mut h, true, 0, OpCode::Binary, None, 125), 2);
        assert_eq!(encode_header(&mut h, true, 0, OpCode::Binary, None, 126), 4);
        assert_eq!(
            encode_header(&mut h, true, 0, OpCode::Binary, None, 65535),
            4
        );
        assert_eq!(
            encode_header(&mut h, true, 0, OpCode::Binary, None, 65536),
            10
        );
        assert_eq!(
            encode_header(&mut h, true, 0, OpCode::Binary, Some([1; 4]), 65536),
            14
        );
    }

    #[test]
    fn write_frame_appends_after_existing_bytes() {
        let mut out = vec![0xAA];
        write_frame(
            &mut out,
            true,
            0,
            OpCode::Text,
            Some([1, 2, 3, 4]),
            b"abcde",
        );
        assert_eq!(out[0], 0xAA);
        let (h, n) = decode_header(&out[1..], true, 0).unwrap().unwrap();
        assert_eq!(h.payload_len, 5);
        let mut p = out[1 + n..].to_vec();
        apply_mask(&mut p, [1, 2, 3, 4], 0);
        assert_eq!(p, b"abcde");
    }
}
