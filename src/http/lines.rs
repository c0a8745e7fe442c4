//! One line of the head at a time: the request and status lines, header lines (RFC 9112
//! §3–§5), the line-end search, and the fast path that finds and validates a whole header
//! line in one pass with SSE2 where the processor has it.

use core::ops::Range;

use memchr::memchr;

use super::syntax::{
    CLASS, HI, LO, TARGET, TCHAR, check_value_bytes, is_field_value_byte, is_tchar, word,
};
use super::{Field, HeadError, Span, StartLine};

/// Parse `HTTP/1.d` at the start of `s`; returns the minor digit and the rest.
pub(super) fn parse_version(s: &[u8]) -> Result<(u8, &[u8]), HeadError> {
    match s {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            d @ b'0'..=b'9',
            rest @ ..,
        ] => Ok((d - b'0', rest)),
        _ => Err(HeadError::Malformed("HTTP version is not HTTP/1.x")),
    }
}

/// Where the first LF of `s` is. Test builds count the bytes searched: up to the LF, or all.
#[inline(always)]
pub(super) fn find_lf(s: &[u8]) -> Option<usize> {
    let found = memchr(b'\n', s);
    #[cfg(test)]
    work::count(|w| w.scanned += found.map_or(s.len(), |i| i + 1));
    found
}

/// The length of the longest prefix of `s` whose bytes all have `class`.
#[inline]
pub(super) fn prefix_len(s: &[u8], class: u8) -> usize {
    s.iter()
        .position(|&b| CLASS[b as usize] & class == 0)
        .unwrap_or(s.len())
}

/// [`prefix_len`] for the request-target's bytes (visible ASCII): eight bytes at a time while
/// none is a control, SP, DEL or non-ASCII (a test exact for the whole word), then bytewise.
#[inline]
pub(super) fn target_prefix_len(s: &[u8]) -> usize {
    let mut n = 0;
    while n + 8 <= s.len() {
        let x = word(s, n);
        // Some byte below 0x21, or with the high bit set.
        let below = x.wrapping_sub(LO * 0x21) & !x & HI;
        // Some byte equal to 0x7f.
        let y = x ^ (LO * 0x7f);
        let del = y.wrapping_sub(LO) & !y & HI;
        if below | del | (x & HI) != 0 {
            break;
        }
        n += 8;
    }
    n + prefix_len(&s[n..], TARGET)
}

/// The length of the header name at the start of `s` ([`prefix_len`] for `TCHAR`) and
/// whether a `:` follows it: sixteen bytes at a time over the letters, digits and `-` that
/// make up nearly every name, where the processor has SSE2 (every x86-64), then bytewise.
///
/// The same compare finds the colons, so a name ended by its `:` (nearly every one) is settled
/// from the block's masks: looking the stop byte up in the class table, then loading it again
/// for the colon, was a chain of dependent loads on every header line (15 % of the head
/// parser's samples).
#[inline(always)]
pub(super) fn name_end(s: &[u8]) -> (usize, bool) {
    #[allow(unused_mut)]
    let mut n = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while n + 16 <= s.len() {
        let (common, colon) = sse2::name_bytes(sse2::load(s, n));
        if common != 0xFFFF {
            let i = (!common).trailing_zeros();
            n += i as usize;
            if colon >> i & 1 != 0 {
                // `:` is not a tchar: the name ends here.
                return (n, true);
            }
            break;
        }
        n += 16;
    }
    n += prefix_len(&s[n..], TCHAR);
    (n, s.get(n) == Some(&b':'))
}

/// Where a field value that starts `s` ends: the position of the first byte that cannot be in
/// a field value (with a complete line, its CR or LF; `s.len()` when there is none), and
/// whether a byte before it is non-ASCII.
///
/// Sixteen bytes at a time with SSE2 (every x86-64), then eight at a time: a block without a
/// byte below 0x20 or equal to 0x7f needs no look at its bytes; one with such a byte (usually
/// the CR, sometimes an HTAB) is looked at bytewise.
#[inline(always)]
pub(super) fn value_end(s: &[u8]) -> (usize, bool) {
    let mut end = 0;
    // Non-ASCII bytes seen so far: as mask bits in the 16-byte blocks, as high bits of the
    // bytes in the 8-byte ones.
    #[allow(unused_mut)]
    let mut high_bits = 0u32;
    let mut high = 0u64;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while end + 16 <= s.len() {
        let (stop, non_ascii) = sse2::value_bytes(sse2::load(s, end));
        if stop != 0 {
            let i = stop.trailing_zeros();
            // Only the bytes before the stop belong to the value.
            let before = non_ascii & ((1 << i) - 1);
            return (end + i as usize, (high_bits | before) != 0);
        }
        high_bits |= non_ascii;
        end += 16;
    }
    let mut words = s[end..].chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default());
        let below = x.wrapping_sub(LO * 0x20) & !x & HI;
        let y = x ^ (LO * 0x7f);
        let del = y.wrapping_sub(LO) & !y & HI;
        if (below | del) != 0
            && let Some(i) = w.iter().position(|&b| !is_field_value_byte(b))
        {
            let before = w[..i].iter().fold(0, |a, &b| a | b);
            return (end + i, high_bits != 0 || high & HI != 0 || before >= 0x80);
        }
        high |= x;
        end += 8;
    }
    let tail = words.remainder();
    let i = tail
        .iter()
        .position(|&b| !is_field_value_byte(b))
        .unwrap_or(tail.len());
    let before = tail[..i].iter().fold(0, |a, &b| a | b);
    (end + i, high_bits != 0 || high & HI != 0 || before >= 0x80)
}

/// Bit `i` set where byte `i` of `s` (at most 64 bytes) is a tchar: sixteen bytes at a time
/// with SSE2 (every x86-64), the last sixteen overlapping the block before them; elsewhere,
/// and for fewer than sixteen bytes, byte by byte.
#[inline]
pub(crate) fn tchar_bits(s: &[u8]) -> u64 {
    debug_assert!(s.len() <= 64);
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if s.len() >= 16 {
        let mut bits = 0;
        let mut at = 0;
        while at + 16 <= s.len() {
            bits |= u64::from(sse2::tchar_bytes(sse2::load(s, at))) << at;
            at += 16;
        }
        if at < s.len() {
            let last = s.len() - 16;
            bits |= u64::from(sse2::tchar_bytes(sse2::load(s, last))) << last;
        }
        return bits;
    }
    s.iter()
        .enumerate()
        .fold(0, |bits, (i, &b)| bits | u64::from(is_tchar(b)) << i)
}

/// The sixteen-byte blocks of [`name_end`] and [`value_end`]: a few SSE2 compares and one
/// `pmovmskb` each. SSE2 is part of every x86-64 processor, so no run-time detection.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8,
        _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8, _mm_sub_epi8,
    };

    /// The 16 bytes of `s` from `at`.
    #[inline(always)]
    pub(super) fn load(s: &[u8], at: usize) -> [u8; 16] {
        let mut b = [0u8; 16];
        b.copy_from_slice(&s[at..at + 16]);
        b
    }

    /// Two masks of one bit per byte of `x`: the ASCII letters, digits and `-`, and the `:`.
    #[inline(always)]
    pub(super) fn name_bytes(x: [u8; 16]) -> (u32, u32) {
        #[allow(unsafe_code)]
        // SAFETY: the function only needs SSE2, which this build enables (the module's cfg).
        unsafe {
            name_bytes_sse2(x)
        }
    }

    /// Two masks of one bit per byte of `x`: the bytes that cannot be in a field value (below
    /// 0x20 but HTAB, and 0x7f), and the non-ASCII bytes.
    #[inline(always)]
    pub(super) fn value_bytes(x: [u8; 16]) -> (u32, u32) {
        #[allow(unsafe_code)]
        // SAFETY: the function only needs SSE2, which this build enables (the module's cfg).
        unsafe {
            value_bytes_sse2(x)
        }
    }

    /// One bit per byte of `x`: the tchars (RFC 9110 §5.6.2).
    #[inline(always)]
    pub(super) fn tchar_bytes(x: [u8; 16]) -> u16 {
        #[allow(unsafe_code)]
        // SAFETY: the function only needs SSE2, which this build enables (the module's cfg).
        unsafe {
            tchar_bytes_sse2(x)
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn vector(x: [u8; 16]) -> __m128i {
        let lo = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let hi = u64::from_le_bytes([x[8], x[9], x[10], x[11], x[12], x[13], x[14], x[15]]);
        _mm_set_epi64x(hi as i64, lo as i64)
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn name_bytes_sse2(x: [u8; 16]) -> (u32, u32) {
        let x = vector(x);
        // Bit 0x20 maps `A`–`Z` onto `a`–`z` and no other byte onto a lowercase letter. The
        // compares are signed: bytes from 0x80 are negative and fail every range.
        let folded = _mm_or_si128(x, _mm_set1_epi8(0x20));
        let letter = _mm_and_si128(
            _mm_cmpgt_epi8(folded, _mm_set1_epi8(b'a' as i8 - 1)),
            _mm_cmplt_epi8(folded, _mm_set1_epi8(b'z' as i8 + 1)),
        );
        let digit = _mm_and_si128(
            _mm_cmpgt_epi8(x, _mm_set1_epi8(b'0' as i8 - 1)),
            _mm_cmplt_epi8(x, _mm_set1_epi8(b'9' as i8 + 1)),
        );
        let dash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'-' as i8));
        let colon = _mm_cmpeq_epi8(x, _mm_set1_epi8(b':' as i8));
        (
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(letter, digit), dash)) as u32,
            _mm_movemask_epi8(colon) as u32,
        )
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn tchar_bytes_sse2(x: [u8; 16]) -> u16 {
        let x = vector(x);
        // Visible ASCII but the delimiters `"(),/:;<=>?@[\]{}`, in three runs and five
        // singles. Unsigned `lo <= x <= hi`: `x - lo` is at most `hi - lo`.
        let within = |lo: u8, hi: u8| {
            let t = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8((hi - lo) as i8)), t)
        };
        let is = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
        let delimiter = _mm_or_si128(
            _mm_or_si128(
                _mm_or_si128(within(b':', b'@'), within(b'[', b']')),
                _mm_or_si128(within(b'(', b')'), is(b'"')),
            ),
            _mm_or_si128(
                _mm_or_si128(is(b','), is(b'/')),
                _mm_or_si128(is(b'{'), is(b'}')),
            ),
        );
        _mm_movemask_epi8(_mm_andnot_si128(delimiter, within(0x21, 0x7e))) as u16
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn value_bytes_sse2(x: [u8; 16]) -> (u32, u32) {
        let x = vector(x);
        // Unsigned `x <= 0x1f`: the unsigned minimum of the two is `x` itself.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
        let tab = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\t' as i8));
        let del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
        let stop = _mm_movemask_epi8(_mm_or_si128(control, del)) & !_mm_movemask_epi8(tab);
        (stop as u32, _mm_movemask_epi8(x) as u32)
    }
}

pub(super) fn parse_request_line(offset: usize, line: &[u8]) -> Result<(StartLine, u8), HeadError> {
    let method_len = prefix_len(line, TCHAR);
    if method_len == 0 {
        return Err(HeadError::Malformed("invalid method"));
    }
    let rest = line[method_len..]
        .strip_prefix(b" ")
        .ok_or(HeadError::Malformed("invalid request line"))?;
    let target_start = method_len + 1;
    let target_len = target_prefix_len(rest);
    if target_len == 0 {
        return Err(HeadError::Malformed("invalid request target"));
    }
    let rest = rest[target_len..]
        .strip_prefix(b" ")
        .ok_or(HeadError::Malformed("invalid request line"))?;
    let (minor, rest) = parse_version(rest)?;
    if !rest.is_empty() {
        return Err(HeadError::Malformed("invalid request line"));
    }
    let start = StartLine::Request {
        method: Span::at(offset, 0..method_len),
        target: Span::at(offset, target_start..target_start + target_len),
    };
    Ok((start, minor))
}

pub(super) fn parse_status_line(offset: usize, line: &[u8]) -> Result<(StartLine, u8), HeadError> {
    let (minor, rest) = parse_version(line)?;
    let bad = HeadError::Malformed("invalid status line");
    let rest = rest.strip_prefix(b" ").ok_or(bad)?;
    let (code, rest) = match rest {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9', rest @ ..] => {
            let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            (code, rest)
        }
        _ => return Err(bad),
    };
    let reason = match rest {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(bad),
    };
    if !reason.iter().all(|&b| is_field_value_byte(b)) {
        return Err(HeadError::Malformed("invalid character in reason phrase"));
    }
    let reason_start = line.len() - reason.len();
    let start = StartLine::Response {
        status: code,
        reason: Span::at(offset, reason_start..line.len()),
    };
    Ok((start, minor))
}

/// The fast path for a header line at the start of `s`, found and validated in one pass: the
/// name's and the value's ranges and the line's length with its line end.
///
/// It takes only a complete line that [`parse_header_line`] would accept, and gives the same
/// result for it. Anything else (a line not complete in `s`, any syntax error, the empty line
/// ending the head) is `Err(clear)`: the first `clear` bytes of `s` hold no LF, so the search
/// for the line end resumes there, and the general path validates the line.
///
/// Test builds count the bytes it took (searched and validated) or cleared (searched, and
/// looked at for a line the general path validates).
#[inline(always)]
pub(super) fn fast_field(s: &[u8]) -> Result<(Range<usize>, Range<usize>, usize), usize> {
    let taken = fast_field_bytes(s);
    #[cfg(test)]
    match taken {
        Ok((_, _, len)) => work::count(|w| {
            w.scanned += len;
            w.validated += len;
        }),
        Err(clear) => work::count(|w| {
            w.scanned += clear;
            w.probed += clear;
        }),
    }
    taken
}

/// [`fast_field`] without the count.
#[inline(always)]
pub(super) fn fast_field_bytes(s: &[u8]) -> Result<(Range<usize>, Range<usize>, usize), usize> {
    // Name bytes are tchars, so they hold no LF.
    let (name_len, colon) = name_end(s);
    if name_len == 0 || !colon {
        return Err(name_len);
    }
    let value_start = name_len + 1;
    // The value runs to the first byte that is not a field-value byte: with the line complete,
    // that is its CR or LF. Bytes before it hold no LF.
    let (stop, non_ascii) = value_end(&s[value_start..]);
    let stop = value_start + stop;
    if stop == s.len() {
        return Err(s.len());
    }
    let len = match &s[stop..] {
        [b'\n', ..] => stop + 1,
        [b'\r', b'\n', ..] => stop + 2,
        _ => return Err(stop),
    };
    let value = &s[value_start..stop];
    let (start, end) = ows_trimmed(value);
    if non_ascii && core::str::from_utf8(&value[start..end]).is_err() {
        return Err(stop);
    }
    Ok((0..name_len, value_start + start..value_start + end, len))
}

/// The bounds of `value` without its leading and trailing optional whitespace (SP, HTAB).
#[inline]
pub(super) fn ows_trimmed(value: &[u8]) -> (usize, usize) {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    (start, end)
}

pub(super) fn parse_header_line(offset: usize, line: &[u8]) -> Result<Field, HeadError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(HeadError::Malformed("obsolete line folding"));
    }
    let name_len = prefix_len(line, TCHAR);
    if name_len == 0 {
        return Err(HeadError::Malformed("invalid header name"));
    }
    let value = match &line[name_len..] {
        [b':', value @ ..] => value,
        [b' ' | b'\t', ..] => return Err(HeadError::Malformed("whitespace before colon")),
        _ => return Err(HeadError::Malformed("invalid header name")),
    };
    let non_ascii = check_value_bytes(value)
        .map_err(|()| HeadError::Malformed("invalid character in header value"))?;
    let value_start = name_len + 1;
    let (start, end) = ows_trimmed(value);
    if non_ascii && core::str::from_utf8(&value[start..end]).is_err() {
        return Err(HeadError::Malformed("header value is not UTF-8"));
    }
    Ok(Field {
        name: Span::at(offset, 0..name_len),
        value: Span::at(offset, value_start + start..value_start + end),
    })
}

/// The parser's work, counted where it is done: by [`find_lf`], [`fast_field`] and
/// `HeadParser::parse_line`, and only in test builds, for the tests that hold the parser to
/// linear time. Each thread counts its own.
#[cfg(test)]
pub(super) mod work {
    use core::cell::Cell;

    /// Bytes handled since the last [`take`].
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
    pub(in crate::http) struct Work {
        /// Bytes searched for a line end.
        pub(in crate::http) scanned: usize,
        /// Bytes of complete lines validated, line ends included.
        pub(in crate::http) validated: usize,
        /// Bytes looked at by the fast path for lines it then left to the general one.
        pub(in crate::http) probed: usize,
        /// Bytes marked for many lines at once (`marks`).
        pub(in crate::http) marked: usize,
    }

    thread_local! {
        static WORK: Cell<Work> = Cell::default();
    }

    /// Add to this thread's counts.
    pub(in crate::http) fn count(add: impl FnOnce(&mut Work)) {
        WORK.with(|cell| {
            let mut work = cell.get();
            add(&mut work);
            cell.set(work);
        });
    }

    /// This thread's counts, which start again from zero.
    pub(in crate::http) fn take() -> Work {
        WORK.with(Cell::take)
    }
}
