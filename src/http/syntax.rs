//! Byte classes of the HTTP grammar and the field-value helpers (RFC 9110 §5.5, §5.6): what
//! a token, a field value and a request-target may hold, list items, case-insensitive
//! comparison of names and tokens, and `Content-Length`.

use super::lines::value_end;

/// Byte classes, one bit each, looked up in [`CLASS`].
pub(super) const TCHAR: u8 = 1;
/// VCHAR, SP, HTAB and obs-text: allowed in a field value and a reason phrase.
pub(super) const VALUE: u8 = 2;
/// Visible ASCII: allowed in a request-target.
pub(super) const TARGET: u8 = 4;

/// The class bits of every byte value.
pub(super) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut bits = 0;
        if matches!(c,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
            | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
        {
            bits |= TCHAR;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            bits |= VALUE;
        }
        if c >= 0x21 && c < 0x7f {
            bits |= TARGET;
        }
        t[b] = bits;
        b += 1;
    }
    t
};

/// Whether a byte is a `tchar` (RFC 9110 §5.6.2).
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    CLASS[b as usize] & TCHAR != 0
}

/// A `Content-Length` value (RFC 9110 §8.6): one or more decimal digits, leading zeros
/// allowed, that fit a `usize`; `None` for anything else.
pub(crate) fn content_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0usize, |n, &d| {
        let digit = d.checked_sub(b'0').filter(|&d| d <= 9)?;
        n.checked_mul(10)?.checked_add(usize::from(digit))
    })
}

/// Whether `s` is a non-empty `token` (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `b` may appear inside a field value (RFC 9110 §5.5): VCHAR, SP, HTAB, obs-text.
#[inline]
pub(super) fn is_field_value_byte(b: u8) -> bool {
    CLASS[b as usize] & VALUE != 0
}

/// Whether `s` is acceptable as a field value written by this crate: no CR, LF, NUL or other
/// control characters except HTAB, and no leading or trailing whitespace.
pub(crate) fn is_field_value(s: &str) -> bool {
    s.bytes().all(is_field_value_byte) && s.trim_matches([' ', '\t']) == s
}

/// Trim optional whitespace (SP and HTAB) from both ends.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Split a comma-separated field value list (RFC 9110 §5.6.1) into trimmed, non-empty items.
pub(crate) fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(trim_ows).filter(|s| !s.is_empty())
}

/// The little-endian word of the 8 bytes of `s` from `at`.
#[inline(always)]
pub(super) fn word(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The little-endian word of the 4 bytes of `s` from `at`.
#[inline(always)]
pub(super) fn half_word(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Whether the bytes of a header name or value, `s`, equal `lower` ignoring ASCII case, where
/// `lower` is made of lowercase ASCII letters and `-` only.
///
/// Compared a word at a time with bit 0x20 set in every byte of `s`: that maps `A`–`Z` to
/// `a`–`z`, and no other byte onto a letter or `-` but CR, which a validated name or value
/// never holds.
#[inline(always)]
pub(crate) fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = lower.len();
    debug_assert!(lower.iter().all(|&b| b.is_ascii_lowercase() || b == b'-'));
    if s.len() != n {
        return false;
    }
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word(s, i) | CASE != word(lower, i) {
                return false;
            }
            i += 8;
        }
        // The last word, overlapping the one before it.
        word(s, n - 8) | CASE == word(lower, n - 8)
    } else if n >= 4 {
        half_word(s, 0) | CASE as u32 == half_word(lower, 0)
            && half_word(s, n - 4) | CASE as u32 == half_word(lower, n - 4)
    } else {
        s.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
    }
}

/// Whether the comma-separated list `value` has an item equal to `token` (ASCII
/// case-insensitive; `token` lowercase letters and `-`), compared as bytes without building
/// the items.
pub(crate) fn list_has(value: &[u8], token: &[u8]) -> bool {
    // Most such headers hold the one token alone.
    eq_lower(value, token)
        || value
            .split(|&b| b == b',')
            .any(|item| eq_lower(trim_ows_bytes(item), token))
}

/// [`trim_ows`] on bytes.
pub(crate) fn trim_ows_bytes(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

pub(super) const LO: u64 = 0x0101_0101_0101_0101;
pub(super) const HI: u64 = 0x8080_8080_8080_8080;

/// Check that every byte of `v` may appear in a field value; `Ok(true)` when some byte is
/// non-ASCII (and the value must then be checked as UTF-8).
#[inline]
pub(super) fn check_value_bytes(v: &[u8]) -> Result<bool, ()> {
    match value_end(v) {
        (end, non_ascii) if end == v.len() => Ok(non_ascii),
        _ => Err(()),
    }
}
