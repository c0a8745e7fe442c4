//! Frame header codec (RFC 6455 §5.2). Placeholder implementation.
#![allow(missing_docs)]
use crate::error::ProtocolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}
impl OpCode {
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0,
            OpCode::Text => 1,
            OpCode::Binary => 2,
            OpCode::Close => 8,
            OpCode::Ping => 9,
            OpCode::Pong => 10,
        }
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
}
pub const MAX_HEADER_LEN: usize = 14;
pub fn decode_header(
    buf: &[u8],
    expect_masked: bool,
    allowed_rsv: u8,
) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    let opcode = match b0 & 0xf {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        o => return Err(ProtocolError::ReservedOpcode(o)),
    };
    let rsv = (b0 >> 4) & 7;
    if rsv & !allowed_rsv != 0 {
        return Err(ProtocolError::ReservedBitsSet);
    }
    let fin = b0 & 0x80 != 0;
    if opcode.is_control() && !fin {
        return Err(ProtocolError::FragmentedControlFrame);
    }
    let masked = b1 & 0x80 != 0;
    let l7 = b1 & 0x7f;
    if opcode.is_control() && l7 > 125 {
        return Err(ProtocolError::ControlFrameTooLong);
    }
    if masked != expect_masked {
        return Err(if expect_masked {
            ProtocolError::UnmaskedFrame
        } else {
            ProtocolError::MaskedFrame
        });
    }
    let (len, mut p) = match l7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let v = u64::from_be_bytes(buf[2..10].try_into().unwrap());
            if v >> 63 != 0 {
                return Err(ProtocolError::InvalidPayloadLength);
            }
            (v, 10)
        }
        n => (n as u64, 2),
    };
    let mask = if masked {
        if buf.len() < p + 4 {
            return Ok(None);
        }
        let m = [buf[p], buf[p + 1], buf[p + 2], buf[p + 3]];
        p += 4;
        Some(m)
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len,
        },
        p,
    )))
}
pub fn encode_header(
    dst: &mut [u8; MAX_HEADER_LEN],
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload_len: u64,
) -> usize {
    dst[0] = (fin as u8) << 7 | (rsv & 7) << 4 | opcode.as_u8();
    let m = if mask.is_some() { 0x80 } else { 0 };
    let mut p = if payload_len < 126 {
        dst[1] = m | payload_len as u8;
        2
    } else if payload_len <= 0xffff {
        dst[1] = m | 126;
        dst[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        4
    } else {
        dst[1] = m | 127;
        dst[2..10].copy_from_slice(&payload_len.to_be_bytes());
        10
    };
    if let Some(k) = mask {
        dst[p..p + 4].copy_from_slice(&k);
        p += 4;
    }
    p
}
pub fn write_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let mut h = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&mut h, fin, rsv, opcode, mask, payload.len() as u64);
    out.reserve(n + payload.len());
    out.extend_from_slice(&h[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        crate::mask::apply_mask(&mut out[start..], k, 0);
    }
}
