//! Header fields the handshake writes: the check of those the application adds, and the line
//! format.

use alloc::format;
use alloc::vec::Vec;

use crate::error::UsageError;
use crate::http::{is_field_value, is_token};

/// Check a header the application supplies: name a token, value without CR, LF, NUL or other
/// controls, and not one of `reserved`.
pub(super) fn check_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), UsageError> {
    if !is_token(name) {
        return Err(UsageError::InvalidHeader(format!(
            "header name {name:?} is not a token"
        )));
    }
    if !is_field_value(value) {
        return Err(UsageError::InvalidHeader(format!(
            "value of {name} contains control characters or surrounding whitespace"
        )));
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(UsageError::InvalidHeader(format!(
            "{name} is written by the handshake itself"
        )));
    }
    Ok(())
}

/// Append the header line `name: value`.
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}
