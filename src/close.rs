//! Close frame payloads and status codes (RFC 6455 §5.5.1, §7.4).

use crate::error::ProtocolError;

/// 1000: normal closure; the purpose of the connection has been fulfilled.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutting down, browser leaving the page).
pub const GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only endpoint).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: no status code was present. Reported locally; never sent on the wire.
pub const NO_STATUS: u16 = 1005;
/// 1006: the connection closed without a Close frame. Reported locally; never sent on the wire.
pub const ABNORMAL: u16 = 1006;
/// 1007: message data inconsistent with its type (e.g. non-UTF-8 text).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message violates the endpoint's policy.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1010: (client) the server did not negotiate an extension the client requires.
pub const MANDATORY_EXTENSION: u16 = 1010;
/// 1011: (server) an unexpected condition prevented fulfilling the request.
pub const INTERNAL_ERROR: u16 = 1011;
/// 1015: the TLS handshake failed. Reported locally; never sent on the wire.
pub const TLS_HANDSHAKE: u16 = 1015;

/// Whether a peer may send `code` in a Close frame (§7.4): 1000–1003, 1007–1014 (registered
/// and IANA-assigned), and 3000–4999 (libraries, frameworks and applications).
///
/// Invalid: below 1000, 1004–1006, 1015–2999, and 5000 or more.
#[inline]
pub fn is_valid_received_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether this endpoint may send `code` in a Close frame: the same set as
/// [`is_valid_received_code`], so never 1005, 1006 or 1015, which only report local conditions.
#[inline]
pub fn is_sendable_code(code: u16) -> bool {
    is_valid_received_code(code)
}

/// Parse the payload of a received Close frame (§5.5.1): an optional 2-byte big-endian status
/// code followed by a UTF-8 reason.
///
/// Returns `Ok(None)` for an empty payload (no status code; reported as 1005) and
/// `Ok(Some((code, reason)))` otherwise.
///
/// # Errors
///
/// * one byte only → [`ProtocolError::InvalidClosePayload`];
/// * a code that may not be sent → [`ProtocolError::InvalidCloseCode`];
/// * a reason that is not UTF-8 → [`ProtocolError::InvalidUtf8`].
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<(u16, &str)>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_received_code(code) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some((code, reason)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_in_the_right_tables() {
        for c in [
            NORMAL,
            GOING_AWAY,
            PROTOCOL_ERROR,
            UNSUPPORTED_DATA,
            INVALID_PAYLOAD,
            POLICY_VIOLATION,
            MESSAGE_TOO_BIG,
            MANDATORY_EXTENSION,
            INTERNAL_ERROR,
        ] {
            assert!(is_sendable_code(c) && is_valid_received_code(c), "{c}");
        }
        for c in [NO_STATUS, ABNORMAL, TLS_HANDSHAKE] {
            assert!(!is_sendable_code(c) && !is_valid_received_code(c), "{c}");
        }
    }
}
