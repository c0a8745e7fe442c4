//! Close codes (RFC 6455 §7.4). Placeholder implementation.
#![allow(missing_docs)]
use crate::error::ProtocolError;
pub fn is_valid_received_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
pub fn is_sendable_code(code: u16) -> bool {
    is_valid_received_code(code)
}
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, &str)>, ProtocolError> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(ProtocolError::InvalidClosePayload),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !is_valid_received_code(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let r = std::str::from_utf8(&payload[2..]).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some((code, r)))
        }
    }
}
pub const NO_STATUS: u16 = 1005;
pub const ABNORMAL: u16 = 1006;
pub const GOING_AWAY: u16 = 1001;
