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
//!
//! The parser and the head's types are here; [`syntax`] holds the byte classes and the
//! field-value helpers the handshake uses too, [`lines`] parses and validates one line, and
//! [`marks`] finds and validates many header lines at once where the processor has AVX-512
//! (the lines it leaves go through [`lines`]).

use alloc::vec::Vec;

use core::ops::Range;

mod lines;
mod marks;
mod syntax;
#[cfg(test)]
mod tests;

pub(crate) use lines::tchar_bits;
#[cfg(test)]
use lines::work;
use lines::{fast_field, find_lf, parse_header_line, parse_request_line, parse_status_line};
use marks::{MIN_MARKED, Marks};
pub(crate) use syntax::{
    content_length, eq_lower, is_field_value, is_tchar, is_token, list_has, list_items, trim_ows,
    trim_ows_bytes,
};

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
        // The marks of `window[marks_at..]`, and where in `window` marking may start again:
        // each byte of the window is marked at most once.
        let mut marks = Marks::NONE;
        let mut marks_at = 0;
        let mut marked_to = 0;
        loop {
            // Where the search for the line end starts: bytes before it hold no LF.
            let mut from = pos;
            if self.line_start == base + pos
                && self.start.is_some()
                && self.count < self.max_headers
            {
                if pos >= marked_to && window.len() - pos >= MIN_MARKED {
                    marks_at = pos;
                    marked_to = if marks.mark(&window[pos..]) {
                        pos + marks.len()
                    } else {
                        window.len()
                    };
                    #[cfg(test)]
                    work::count(|w| w.marked += marks.len());
                }
                let marked = if pos < marks_at + marks.len() {
                    marks.field(&window[marks_at..], pos - marks_at)
                } else {
                    None
                };
                let taken = match marked {
                    Some(field) => {
                        #[cfg(test)]
                        work::count(|w| {
                            w.scanned += field.2;
                            w.validated += field.2;
                        });
                        Ok(field)
                    }
                    None => fast_field(&window[pos..]),
                };
                match taken {
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
