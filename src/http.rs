//! Incremental parser for the head of an HTTP/1.1 request or response (RFC 9112 §2–§5).
//!
//! Bytes may arrive in any chunking, down to one byte per call. The parser keeps its place
//! between calls: every received byte is searched for the line end once, and every complete
//! line is validated once, so the total work is linear in the input however it is split (a
//! re-parse of the whole buffer on every read is quadratic; see CVE-2023-43669).
//!
//! The head's bytes are kept once, in one buffer that never grows past the head limit, and the
//! parsed head refers to them by [`Span`]s: the method, the target and each header's name and
//! value are validated as their line completes and are never copied again. Each field is handed
//! to the parser's [`Fields`] as soon as it is validated: a list of every field, or a record of
//! only the fields its user needs. A line that arrives whole within one call is validated where
//! it lies in the caller's data, and the head's bytes are appended to the buffer once per call.
//!
//! Syntax accepted, strictly:
//!
//! * request line `METHOD SP request-target SP HTTP/1.d`, method a token, target visible ASCII;
//! * status line `HTTP/1.d SP 3DIGIT [SP reason-phrase]` (the space before an empty reason may
//!   be missing, as some servers send it that way);
//! * header lines `field-name ":" OWS field-value OWS`, the name a token with no whitespace
//!   before the colon, the value trimmed of OWS, made of visible ASCII, SP, HTAB and non-ASCII
//!   bytes that form valid UTF-8; NUL, CR, LF and other controls are refused;
//! * obs-fold (a line starting with whitespace) is refused, and so are empty lines before the
//!   start line;
//! * lines end in CRLF; a bare LF is also accepted as a line end, as RFC 9112 §2.2 permits,
//!   while a CR anywhere else is refused.

use alloc::vec::Vec;

use core::ops::Range;

use memchr::memchr;

/// Byte classes, one bit each, looked up in [`CLASS`].
const TCHAR: u8 = 1;
/// VCHAR, SP, HTAB and obs-text: allowed in a field value and a reason phrase.
const VALUE: u8 = 2;
/// Visible ASCII: allowed in a request-target.
const TARGET: u8 = 4;

/// The class bits of every byte value.
static CLASS: [u8; 256] = {
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
fn is_field_value_byte(b: u8) -> bool {
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
fn word(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The little-endian word of the 4 bytes of `s` from `at`.
#[inline(always)]
fn half_word(s: &[u8], at: usize) -> u32 {
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

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Check that every byte of `v` may appear in a field value; `Ok(true)` when some byte is
/// non-ASCII (and the value must then be checked as UTF-8).
#[inline]
fn check_value_bytes(v: &[u8]) -> Result<bool, ()> {
    match value_end(v) {
        (end, non_ascii) if end == v.len() => Ok(non_ascii),
        _ => Err(()),
    }
}

/// A byte range of the head buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `range` shifted by `base`. Heads are far smaller than 4 GiB: the parser
    /// refuses anything past `max_bytes`, which [`HeadParser::new`] caps.
    fn at(base: usize, range: Range<usize>) -> Span {
        Span {
            start: (base + range.start) as u32,
            end: (base + range.end) as u32,
        }
    }

    /// The range of the head buffer.
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One header field: the name as sent and the value trimmed of OWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    /// The field name (a token).
    pub(crate) name: Span,
    /// The field value (UTF-8, without surrounding whitespace).
    pub(crate) value: Span,
}

/// Which start line the head begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadKind {
    /// A request: `METHOD SP target SP HTTP/1.d`.
    Request,
    /// A response: `HTTP/1.d SP status SP reason`.
    Response,
}

/// The parsed start line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// A request line.
    Request {
        /// The method token, as sent (ASCII).
        method: Span,
        /// The request-target, as sent (ASCII).
        target: Span,
    },
    /// A status line.
    Response {
        /// The three-digit status code.
        status: u16,
        /// The reason phrase (field-value bytes, not necessarily UTF-8).
        reason: Span,
    },
}

/// Where a [`HeadParser`] puts the header fields as it validates them: a list of every field
/// (`Vec<Field>`), or a record of only the fields its user looks at, found as they arrive.
pub(crate) trait Fields: Default {
    /// Take the next header field, complete and valid; `name` and `value` are its bytes.
    fn add(&mut self, field: Field, name: &[u8], value: &[u8]);
}

impl Fields for Vec<Field> {
    #[inline]
    fn add(&mut self, field: Field, _name: &[u8], _value: &[u8]) {
        if self.capacity() == 0 {
            // Room for a browser's head at once, rather than growing 4, 8, 16.
            *self = Vec::with_capacity(INITIAL_FIELDS);
        }
        self.push(field);
    }
}

/// A complete HTTP head: its bytes and where its parts lie in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head<F = Vec<Field>> {
    /// The head's bytes, from the start line to the empty line.
    pub(crate) buf: Vec<u8>,
    /// The request or status line.
    pub(crate) start: StartLine,
    /// The minor version digit of `HTTP/1.d`.
    pub(crate) minor_version: u8,
    /// Where in `buf` the header lines start (just past the start line).
    pub(crate) fields_start: usize,
    /// The header fields, as `F` keeps them.
    pub(crate) fields: F,
}

/// Text of a validated span: every span but a reason phrase is ASCII or checked UTF-8.
/// [`expect_text`](crate::utf8::expect_text) checks it again, which for these short strings
/// costs a few nanoseconds.
#[inline]
pub(crate) fn text(buf: &[u8], span: Span) -> &str {
    crate::utf8::expect_text(&buf[span.range()])
}

impl<F> Head<F> {
    /// The bytes of `span`.
    pub(crate) fn bytes(&self, span: Span) -> &[u8] {
        &self.buf[span.range()]
    }

    /// The text of `span` (any span but the reason phrase).
    pub(crate) fn text(&self, span: Span) -> &str {
        text(&self.buf, span)
    }
}

impl Head {
    /// Every header field as text, in order.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|f| (self.text(f.name), self.text(f.value)))
    }

    /// The values of every field named `name` (ASCII case-insensitive), in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |f| self.bytes(f.name).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| self.text(f.value))
    }
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The head is longer than the byte limit.
    TooLarge,
    /// The head has more header fields than the limit.
    TooManyHeaders,
    /// The head breaks the HTTP/1.1 syntax; the text says where.
    Malformed(&'static str),
}

/// The outcome of feeding bytes to a [`HeadParser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadProgress<F = Vec<Field>> {
    /// All bytes were taken; the head is not complete yet.
    Partial,
    /// The head is complete; `consumed` bytes of the last call belonged to it.
    Complete { head: Head<F>, consumed: usize },
    /// The head is invalid.
    Failed(HeadError),
}

/// What one complete line was.
enum Line {
    Start(StartLine, u8),
    Field(Field),
    End,
}

/// The incremental head parser. See the module documentation for the syntax.
#[derive(Debug)]
pub(crate) struct HeadParser<F = Vec<Field>> {
    kind: HeadKind,
    max_bytes: usize,
    max_headers: usize,
    /// Every head byte taken so far; its length is the head's length so far.
    buf: Vec<u8>,
    /// Where in `buf` the line being received starts.
    line_start: usize,
    start: Option<(StartLine, u8)>,
    /// Where in `buf` the header lines start, once the start line is in.
    fields_start: usize,
    /// Header fields taken so far.
    count: usize,
    fields: F,
}

/// Header fields room is made for at first.
const INITIAL_FIELDS: usize = 16;

/// The largest head limit honoured: spans are 32-bit.
const MAX_HEAD_LIMIT: usize = u32::MAX as usize;

impl HeadParser {
    /// A parser for a head of `kind` that lists every header field, refusing heads over
    /// `max_bytes` bytes or with more than `max_headers` header fields.
    pub(crate) fn new(kind: HeadKind, max_bytes: usize, max_headers: usize) -> Self {
        Self::with_fields(kind, max_bytes, max_headers)
    }
}

impl<F: Fields> HeadParser<F> {
    /// A parser for a head of `kind` that hands the header fields to an `F`, refusing heads
    /// over `max_bytes` bytes or with more than `max_headers` header fields.
    // Where usize is 32 bits, every limit is within MAX_HEAD_LIMIT already.
    #[cfg_attr(target_pointer_width = "32", expect(clippy::unnecessary_min_or_max))]
    pub(crate) fn with_fields(kind: HeadKind, max_bytes: usize, max_headers: usize) -> Self {
        HeadParser {
            kind,
            max_bytes: max_bytes.min(MAX_HEAD_LIMIT),
            max_headers,
            buf: Vec::new(),
            line_start: 0,
            start: None,
            fields_start: 0,
            count: 0,
            fields: F::default(),
        }
    }

    /// The request line as `(method, target, minor version)`, once it has been received and
    /// validated (and until the head is complete).
    pub(crate) fn request_line(&self) -> Option<(&str, &str, u8)> {
        match self.start {
            Some((StartLine::Request { method, target }, minor)) => {
                Some((text(&self.buf, method), text(&self.buf, target), minor))
            }
            _ => None,
        }
    }

    /// Append `bytes` to the head buffer, growing it at most to `max_bytes` (every caller has
    /// checked that the head stays within it).
    fn keep(&mut self, bytes: &[u8]) {
        let len = self.buf.len();
        if self.buf.capacity() - len < bytes.len() {
            let want = (len + bytes.len())
                .max(self.buf.capacity() * 2)
                .min(self.max_bytes);
            if self.buf.capacity() == 0 {
                // A first allocation, straight from the allocator.
                self.buf = Vec::with_capacity(want);
            } else {
                self.buf.reserve_exact(want - len);
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Feed the next bytes. After `Complete` or `Failed` the parser must not be fed again.
    pub(crate) fn receive(&mut self, data: &[u8]) -> HeadProgress<F> {
        // `data[i]` will be `buf[base + i]`.
        let base = self.buf.len();
        let budget = self.max_bytes.saturating_sub(base);
        let window = &data[..data.len().min(budget)];
        // Bytes of `window` already appended to `buf`.
        let mut kept = 0;
        let mut pos = 0;
        loop {
            // Where the search for the line end starts: bytes before it hold no LF.
            let mut from = pos;
            if self.line_start == base + pos
                && self.start.is_some()
                && self.count < self.max_headers
            {
                match fast_field(&window[pos..]) {
                    Ok((name, value, len)) => {
                        let line = &window[pos..];
                        self.count += 1;
                        self.fields.add(
                            Field {
                                name: Span::at(base + pos, name.clone()),
                                value: Span::at(base + pos, value.clone()),
                            },
                            &line[name],
                            &line[value],
                        );
                        pos += len;
                        self.line_start = base + pos;
                        continue;
                    }
                    Err(clear) => from = pos + clear,
                }
            }
            let Some(i) = find_lf(&window[from..]) else {
                self.keep(&window[kept..]);
                if window.len() < data.len() {
                    // The line end is past the limit.
                    return HeadProgress::Failed(HeadError::TooLarge);
                }
                return HeadProgress::Partial;
            };
            let lf = from + i;
            // The line's bytes are `src[i - src_base]` for a head offset `i`.
            let in_buf = self.line_start < base + pos;
            if in_buf {
                // The line began in an earlier call: complete it in the buffer.
                self.keep(&window[..=lf]);
                kept = lf + 1;
            }
            let (src, src_base): (&[u8], usize) = if in_buf {
                (&self.buf, 0)
            } else {
                (window, base)
            };
            let line = self.parse_line(
                self.line_start,
                &src[self.line_start - src_base..base + lf - src_base],
            );
            pos = lf + 1;
            self.line_start = base + pos;
            match line {
                Ok(Line::Start(start, minor)) => {
                    self.start = Some((start, minor));
                    self.fields_start = self.line_start;
                }
                Ok(Line::Field(field)) => {
                    let bytes =
                        |s: Span| &src[s.start as usize - src_base..s.end as usize - src_base];
                    self.count += 1;
                    self.fields
                        .add(field, bytes(field.name), bytes(field.value));
                }
                Ok(Line::End) => {
                    self.keep(&window[kept..pos]);
                    let (start, minor_version) = self.start.take().expect("start line parsed");
                    let head = Head {
                        buf: core::mem::take(&mut self.buf),
                        start,
                        minor_version,
                        fields_start: self.fields_start,
                        fields: core::mem::take(&mut self.fields),
                    };
                    return HeadProgress::Complete {
                        head,
                        consumed: pos,
                    };
                }
                Err(e) => {
                    // Keep what was read, so that the start line stays readable.
                    self.keep(&window[kept..pos]);
                    return HeadProgress::Failed(e);
                }
            }
        }
    }

    /// Validate one line (without its LF) that starts at `offset` in the head.
    fn parse_line(&self, offset: usize, line: &[u8]) -> Result<Line, HeadError> {
        #[cfg(test)]
        work::count(|w| w.validated += line.len() + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.start.is_none() {
            if line.is_empty() {
                return Err(HeadError::Malformed("empty line before the start line"));
            }
            let (start, minor) = match self.kind {
                HeadKind::Request => parse_request_line(offset, line)?,
                HeadKind::Response => parse_status_line(offset, line)?,
            };
            return Ok(Line::Start(start, minor));
        }
        if line.is_empty() {
            return Ok(Line::End);
        }
        if self.count >= self.max_headers {
            return Err(HeadError::TooManyHeaders);
        }
        parse_header_line(offset, line).map(Line::Field)
    }
}

/// Parse `HTTP/1.d` at the start of `s`; returns the minor digit and the rest.
fn parse_version(s: &[u8]) -> Result<(u8, &[u8]), HeadError> {
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
fn find_lf(s: &[u8]) -> Option<usize> {
    let found = memchr(b'\n', s);
    #[cfg(test)]
    work::count(|w| w.scanned += found.map_or(s.len(), |i| i + 1));
    found
}

/// The length of the longest prefix of `s` whose bytes all have `class`.
#[inline]
fn prefix_len(s: &[u8], class: u8) -> usize {
    s.iter()
        .position(|&b| CLASS[b as usize] & class == 0)
        .unwrap_or(s.len())
}

/// [`prefix_len`] for the request-target's bytes (visible ASCII): eight bytes at a time while
/// none is a control, SP, DEL or non-ASCII (a test exact for the whole word), then bytewise.
#[inline]
fn target_prefix_len(s: &[u8]) -> usize {
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
fn name_end(s: &[u8]) -> (usize, bool) {
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
fn value_end(s: &[u8]) -> (usize, bool) {
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

/// The sixteen-byte blocks of [`name_end`] and [`value_end`]: a few SSE2 compares and one
/// `pmovmskb` each. SSE2 is part of every x86-64 processor, so no run-time detection.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_min_epu8,
        _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
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

fn parse_request_line(offset: usize, line: &[u8]) -> Result<(StartLine, u8), HeadError> {
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

fn parse_status_line(offset: usize, line: &[u8]) -> Result<(StartLine, u8), HeadError> {
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
fn fast_field(s: &[u8]) -> Result<(Range<usize>, Range<usize>, usize), usize> {
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
fn fast_field_bytes(s: &[u8]) -> Result<(Range<usize>, Range<usize>, usize), usize> {
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
fn ows_trimmed(value: &[u8]) -> (usize, usize) {
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

fn parse_header_line(offset: usize, line: &[u8]) -> Result<Field, HeadError> {
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
mod work {
    use core::cell::Cell;

    /// Bytes handled since the last [`take`].
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
    pub(super) struct Work {
        /// Bytes searched for a line end.
        pub(super) scanned: usize,
        /// Bytes of complete lines validated, line ends included.
        pub(super) validated: usize,
        /// Bytes looked at by the fast path for lines it then left to the general one.
        pub(super) probed: usize,
    }

    thread_local! {
        static WORK: Cell<Work> = Cell::default();
    }

    /// Add to this thread's counts.
    pub(super) fn count(add: impl FnOnce(&mut Work)) {
        WORK.with(|cell| {
            let mut work = cell.get();
            add(&mut work);
            cell.set(work);
        });
    }

    /// This thread's counts, which start again from zero.
    pub(super) fn take() -> Work {
        WORK.with(Cell::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_values() {
        assert_eq!(content_length(b"0"), Some(0));
        assert_eq!(
            content_length(b"0011"),
            Some(11),
            "leading zeros are allowed"
        );
        let max = usize::MAX.to_string();
        assert_eq!(content_length(max.as_bytes()), Some(usize::MAX));
        let over = format!("{max}0");
        assert_eq!(content_length(over.as_bytes()), None, "overflow");
        for bad in [&b""[..], b"-1", b"1 ", b"0x10", b"1e3", b"+5"] {
            assert_eq!(content_length(bad), None, "{bad:?}");
        }
    }

    fn parse_all(kind: HeadKind, input: &[u8]) -> HeadProgress {
        HeadParser::new(kind, 8192, 64).receive(input)
    }

    fn owned_fields(head: &Head) -> Vec<(String, String)> {
        head.fields()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn request_head_and_trailing_bytes() {
        let input =
            b"GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Empty:\r\nX:  v w \t\r\n\r\n\x81\x00";
        let HeadProgress::Complete { head, consumed } = parse_all(HeadKind::Request, input) else {
            panic!("incomplete");
        };
        assert_eq!(consumed, input.len() - 2);
        assert_eq!(head.buf, &input[..consumed]);
        let StartLine::Request { method, target } = head.start else {
            panic!("not a request");
        };
        assert_eq!((head.text(method), head.text(target)), ("GET", "/chat?x=1"));
        assert_eq!(head.minor_version, 1);
        assert_eq!(
            owned_fields(&head),
            vec![
                ("Host".into(), "a.example".into()),
                ("X-Empty".into(), "".into()),
                ("X".into(), "v w".into())
            ]
        );
        assert_eq!(head.values("x").collect::<Vec<_>>(), ["v w"]);
    }

    /// Every split of a head into two or three chunks gives the same head as one call.
    #[test]
    fn any_split_gives_the_same_head() {
        let input = "GET /a HTTP/1.1\r\nHost: h\r\nX-Long: caf\u{e9} \t au lait, \
                     0123456789abcdef\r\nY:\tz\n\r\n"
            .as_bytes();
        let HeadProgress::Complete { head: whole, .. } = parse_all(HeadKind::Request, input) else {
            panic!("incomplete");
        };
        assert_eq!(
            owned_fields(&whole)[1],
            (
                "X-Long".into(),
                "caf\u{e9} \t au lait, 0123456789abcdef".into()
            )
        );
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let mut p = HeadParser::new(HeadKind::Request, 8192, 64);
                let mut done = None;
                for chunk in [&input[..a], &input[a..b], &input[b..]] {
                    match p.receive(chunk) {
                        HeadProgress::Partial => {}
                        HeadProgress::Complete { head, consumed } => {
                            assert_eq!(consumed, chunk.len());
                            done = Some(head);
                            break;
                        }
                        HeadProgress::Failed(e) => panic!("{e:?} at {a}/{b}"),
                    }
                }
                assert_eq!(done.as_ref(), Some(&whole), "split at {a}/{b}");
            }
        }
    }

    #[test]
    fn bare_lf_accepted_bare_cr_refused() {
        assert!(matches!(
            parse_all(HeadKind::Request, b"GET / HTTP/1.1\nHost: a\n\n"),
            HeadProgress::Complete { consumed: 24, .. }
        ));
        assert_eq!(
            parse_all(HeadKind::Request, b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
            HeadProgress::Failed(HeadError::Malformed("invalid character in header value"))
        );
    }

    /// The word-at-a-time case-insensitive comparison agrees with the standard one for every
    /// byte but CR at every position, for every length it takes.
    #[test]
    fn eq_lower_matches_eq_ignore_ascii_case() {
        let names: &[&[u8]] = &[
            b"",
            b"a",
            b"ab-",
            b"host",
            b"origin",
            b"upgrade",
            b"websocket",
            b"connection",
            b"content-length",
            b"sec-websocket-key",
            b"transfer-encoding",
            b"sec-websocket-version",
            b"sec-websocket-protocol",
            b"sec-websocket-extensions",
        ];
        for lower in names {
            assert!(eq_lower(lower, lower));
            assert!(eq_lower(&lower.to_ascii_uppercase(), lower));
            assert!(!eq_lower(&[lower, &b"x"[..]].concat(), lower));
            for at in 0..lower.len() {
                for b in (0..=255u8).filter(|&b| b != b'\r') {
                    let mut s = lower.to_vec();
                    s[at] = b;
                    assert_eq!(eq_lower(&s, lower), s.eq_ignore_ascii_case(lower), "{s:?}");
                }
            }
        }
        assert!(list_has(b"keep-alive, UPGRADE", b"upgrade"));
        assert!(!list_has(b"keep-alive, upgrades", b"upgrade"));
    }

    // Miri runs the tests of the SSE2 blocks (`scripts/miri.sh`) to check them for undefined
    // behaviour, not for the answers, which the native runs check on every input; it is slow,
    // so under it these tests take a sample.

    /// Every byte value; under Miri, one of each class the SSE2 blocks tell apart (controls,
    /// HTAB, LF, CR, SP, `-`, digits, `:`, letters of both cases, DEL, non-ASCII).
    fn byte_values() -> Vec<u8> {
        if cfg!(miri) {
            vec![
                0x00, 0x09, 0x0A, 0x0D, 0x20, 0x2D, 0x30, 0x3A, 0x41, 0x61, 0x7A, 0x7F, 0x80, 0xFF,
            ]
        } else {
            (0..=255).collect()
        }
    }

    /// Lengths around the 8- and 16-byte blocks; under Miri, two that hold a 16-byte block.
    fn block_lengths(all: &'static [usize]) -> &'static [usize] {
        if cfg!(miri) { &[17, 33] } else { all }
    }

    /// Every position in `len` bytes; under Miri, the first and last and those around the
    /// first 16-byte block's end.
    fn positions(len: usize) -> Vec<usize> {
        if cfg!(miri) {
            let mut at = vec![0, 15, 16, len.saturating_sub(1)];
            at.retain(|&i| i < len);
            at.dedup();
            at
        } else {
            (0..len).collect()
        }
    }

    /// The word-at-a-time value check agrees with the bytewise one for every byte value at
    /// every position of a word and of the tail.
    #[test]
    fn value_check_matches_bytewise() {
        for len in [1, 7, 8, 9, 16, 19] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    let expected = if is_field_value_byte(b) {
                        Ok(b >= 0x80)
                    } else {
                        Err(())
                    };
                    assert_eq!(check_value_bytes(&v), expected, "{len} {at} {b:#x}");
                }
            }
        }
    }

    /// The block-at-a-time search for a value's end agrees with a bytewise one for every byte
    /// value at every position of 16- and 8-byte blocks and of the tail, with and without a
    /// non-ASCII byte before it.
    #[test]
    fn value_end_matches_bytewise() {
        for &len in block_lengths(&[0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40]) {
            for at in positions(len) {
                for high_at in [None, Some(0), Some(at.saturating_sub(1)), Some(len - 1)] {
                    for b in byte_values() {
                        let mut v = vec![b'a'; len];
                        if let Some(h) = high_at {
                            v[h] = 0xC3;
                        }
                        v[at] = b;
                        let i = v
                            .iter()
                            .position(|&c| !is_field_value_byte(c))
                            .unwrap_or(len);
                        let expected = (i, v[..i].iter().any(|&c| c >= 0x80));
                        assert_eq!(value_end(&v), expected, "{v:x?}");
                    }
                }
            }
        }
    }

    /// The word-at-a-time prefix scan agrees with the bytewise one.
    #[test]
    fn prefix_scan_matches_bytewise() {
        for class in [TCHAR, TARGET] {
            for &len in block_lengths(&[0, 1, 7, 8, 9, 15, 16, 17, 25, 31, 32, 33, 40]) {
                for at in positions(len) {
                    for b in byte_values() {
                        let mut s = vec![b'a'; len];
                        s[at] = b;
                        let expected = s
                            .iter()
                            .position(|&c| CLASS[c as usize] & class == 0)
                            .unwrap_or(len);
                        assert_eq!(prefix_len(&s, class), expected, "{len} {at} {b:#x}");
                        if class == TCHAR {
                            let colon = s.get(expected) == Some(&b':');
                            assert_eq!(name_end(&s), (expected, colon), "{len} {at} {b:#x}");
                        }
                        if class == TARGET {
                            assert_eq!(target_prefix_len(&s), expected, "{len} {at} {b:#x}");
                        }
                    }
                }
            }
        }
    }

    /// The fast path takes exactly the complete lines the general path accepts, with the same
    /// result, and never claims that bytes up to an LF hold none.
    #[test]
    fn fast_path_agrees_with_the_general_path() {
        let lines: [&[u8]; 7] = [
            b"Name: value with spaces\r\nNext: x\r\n",
            b"X:\t a\tb \t\r\n",
            "K: caf\u{e9}, na\u{ef}ve 0123456789\n".as_bytes(),
            b"A:\r\n",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nX: y\r\n",
            "Accept-Language-Preferences-X: d\u{e9}j\u{e0}-vu 0123456789abcdef\r\n".as_bytes(),
        ];
        // Under Miri, one line of each kind (the longest ones cross a 16-byte block).
        let lines = if cfg!(miri) { &lines[4..6] } else { &lines[..] };
        for line in lines {
            for at in positions(line.len()) {
                for b in byte_values() {
                    let mut s = line.to_vec();
                    s[at] = b;
                    let lf = s.iter().position(|&c| c == b'\n');
                    match fast_field(&s) {
                        Ok((name, value, len)) => {
                            assert_eq!(Some(len - 1), lf, "{s:?}");
                            assert_eq!(
                                parse_header_line(
                                    0,
                                    s[..len - 1].strip_suffix(b"\r").unwrap_or(&s[..len - 1])
                                ),
                                Ok(Field {
                                    name: Span::at(0, name),
                                    value: Span::at(0, value)
                                }),
                                "{s:?}"
                            );
                        }
                        Err(clear) => {
                            assert!(lf.is_none_or(|lf| clear <= lf), "{s:?}");
                            if let Some(lf) = lf {
                                let l = &s[..lf];
                                let l = l.strip_suffix(b"\r").unwrap_or(l);
                                // Whatever the fast path leaves, the general path refuses, or
                                // it is the empty line.
                                assert!(l.is_empty() || parse_header_line(0, l).is_err(), "{s:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn syntax_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"GET  / HTTP/1.1\r\n", "invalid request target"),
            (b"GET / HTTP/1.1 \r\n", "invalid request line"),
            (b"GET / HTTP/2.0\r\n", "HTTP version is not HTTP/1.x"),
            (
                b"\r\nGET / HTTP/1.1\r\n",
                "empty line before the start line",
            ),
            (b"G(T / HTTP/1.1\r\n", "invalid request line"),
            (b"GET / HTTP/1.1\r\nHost : a\r\n", "whitespace before colon"),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n",
                "obsolete line folding",
            ),
            (b"GET / HTTP/1.1\r\n: a\r\n", "invalid header name"),
            (b"GET / HTTP/1.1\r\nA\0: a\r\n", "invalid header name"),
            (
                b"GET / HTTP/1.1\r\nA: \0\r\n",
                "invalid character in header value",
            ),
            (
                b"GET / HTTP/1.1\r\nA: 0123456789\x7f\r\n",
                "invalid character in header value",
            ),
            (
                b"GET / HTTP/1.1\r\nA: \xff\r\n",
                "header value is not UTF-8",
            ),
            (
                b"GET / HTTP/1.1\r\nA: 0123456789\xc3\r\n",
                "header value is not UTF-8",
            ),
        ];
        for (input, reason) in cases {
            assert_eq!(
                parse_all(HeadKind::Request, input),
                HeadProgress::Failed(HeadError::Malformed(reason)),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn status_lines() {
        let HeadProgress::Complete { head, .. } =
            parse_all(HeadKind::Response, b"HTTP/1.1 101\r\n\r\n")
        else {
            panic!()
        };
        let StartLine::Response { status, reason } = head.start else {
            panic!("not a response");
        };
        assert_eq!((status, head.bytes(reason)), (101, &b""[..]));
        let HeadProgress::Complete { head, .. } = parse_all(
            HeadKind::Response,
            b"HTTP/1.0 404 Not \xe9 Found\r\nA: b\r\n\r\n",
        ) else {
            panic!()
        };
        let StartLine::Response { status, reason } = head.start else {
            panic!("not a response");
        };
        assert_eq!((status, head.bytes(reason)), (404, &b"Not \xe9 Found"[..]));
        assert_eq!(head.minor_version, 0);
        for bad in [
            &b"HTTP/1.1 1011 X\r\n"[..],
            b"HTTP/1.1 01 X\r\n",
            b"HTTP/1.1  101\r\n",
        ] {
            assert!(matches!(
                parse_all(HeadKind::Response, bad),
                HeadProgress::Failed(HeadError::Malformed(_))
            ));
        }
    }

    #[test]
    fn limits_enforced_as_bytes_arrive() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        // Exactly at the limit: accepted.
        let mut p = HeadParser::new(HeadKind::Request, head.len(), 64);
        assert!(matches!(p.receive(head), HeadProgress::Complete { .. }));
        // One byte less: refused once the byte past the limit arrives, without buffering it.
        let mut p = HeadParser::new(HeadKind::Request, head.len() - 1, 64);
        let mut outcome = HeadProgress::Partial;
        for (i, b) in head.iter().enumerate() {
            outcome = p.receive(core::slice::from_ref(b));
            if outcome != HeadProgress::Partial {
                assert_eq!(i, head.len() - 1);
                break;
            }
        }
        assert_eq!(outcome, HeadProgress::Failed(HeadError::TooLarge));
        assert!(p.buf.len() < head.len());
        assert!(p.buf.capacity() < head.len());
        // The request line stays readable after the failure.
        assert_eq!(p.request_line(), Some(("GET", "/", 1)));
        // A line without end that is longer than the limit fails at once, and nothing past the
        // limit is kept.
        let mut p = HeadParser::new(HeadKind::Request, 100, 64);
        assert_eq!(
            p.receive(&[b'a'; 1000]),
            HeadProgress::Failed(HeadError::TooLarge)
        );
        assert!(p.buf.capacity() <= 100);
        // Fed in small chunks, the buffer grows to the limit and no further.
        let mut p = HeadParser::new(HeadKind::Request, 100, 64);
        let mut outcome = HeadProgress::Partial;
        for chunk in [b'a'; 1000].chunks(7) {
            outcome = p.receive(chunk);
            if outcome != HeadProgress::Partial {
                break;
            }
        }
        assert_eq!(outcome, HeadProgress::Failed(HeadError::TooLarge));
        assert!(p.buf.capacity() <= 100);

        let mut p = HeadParser::new(HeadKind::Request, 8192, 1);
        assert_eq!(
            p.receive(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"),
            HeadProgress::Failed(HeadError::TooManyHeaders)
        );
        assert_eq!(p.request_line(), Some(("GET", "/", 1)));
    }

    /// Fed one byte at a time, a head of the maximum size is searched and validated exactly
    /// once per byte: the work is linear, not quadratic.
    #[test]
    fn work_is_linear_byte_by_byte() {
        let limit = 8192;
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        let mut i = 0;
        while head.len() + 40 < limit {
            head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(15)).as_bytes());
            i += 1;
        }
        head.extend_from_slice(b"X-Last: ");
        while head.len() + 2 + 2 < limit {
            head.push(b'z');
        }
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head.len(), limit);
        let mut p = HeadParser::new(HeadKind::Request, limit, 1000);
        work::take();
        for (n, b) in head.iter().enumerate() {
            let r = p.receive(core::slice::from_ref(b));
            if n + 1 < head.len() {
                assert_eq!(r, HeadProgress::Partial);
            } else {
                assert!(matches!(r, HeadProgress::Complete { consumed: 1, .. }));
            }
        }
        let work = work::take();
        assert_eq!(work.scanned, head.len());
        assert_eq!(work.validated, head.len());
        assert!(work.probed <= head.len());
    }

    /// Fed in one call, or in chunks that cut every line, the same counts hold.
    #[test]
    fn work_is_linear_in_any_chunking() {
        let head = b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: 0123456789\r\nX-B: b\r\n\r\n";
        for size in 1..=head.len() {
            let mut p = HeadParser::new(HeadKind::Request, 8192, 64);
            let mut complete = false;
            work::take();
            for chunk in head.chunks(size) {
                if let HeadProgress::Complete { head: h, .. } = p.receive(chunk) {
                    assert_eq!(h.buf, head);
                    complete = true;
                }
            }
            assert!(complete);
            let work = work::take();
            assert_eq!(
                (work.scanned, work.validated),
                (head.len(), head.len()),
                "{size}"
            );
            assert!(work.probed <= head.len(), "{size}");
        }
    }
}
