//! Incremental parser for the head of an HTTP/1.1 request or response (RFC 9112 §2–§5).
//!
//! Bytes may arrive in any chunking, down to one byte per call. The parser keeps its place
//! between calls: every received byte is searched for the line end once, and every complete
//! line is validated once, so the total work is linear in the input however it is split (a
//! re-parse of the whole buffer on every read is quadratic; see CVE-2023-43669). Only the line
//! being received is buffered, and never more than the head limit allows.
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

use memchr::memchr;

/// Whether a byte is a `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty `token` (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `b` may appear inside a field value (RFC 9110 §5.5): VCHAR, SP, HTAB, obs-text.
fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80
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

/// Which start line the head begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadKind {
    /// A request: `METHOD SP target SP HTTP/1.d`.
    Request,
    /// A response: `HTTP/1.d SP status SP reason`.
    Response,
}

/// The parsed start line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// A request line.
    Request {
        /// The method token, as sent.
        method: String,
        /// The request-target, as sent.
        target: String,
    },
    /// A status line.
    Response {
        /// The three-digit status code.
        status: u16,
        /// The reason phrase (non-UTF-8 bytes replaced).
        reason: String,
    },
}

/// A complete HTTP head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The request or status line.
    pub(crate) start: StartLine,
    /// The minor version digit of `HTTP/1.d`.
    pub(crate) minor_version: u8,
    /// The header fields in order: name as sent, value trimmed of OWS.
    pub(crate) headers: Vec<(String, String)>,
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
pub(crate) enum HeadProgress {
    /// All bytes were taken; the head is not complete yet.
    Partial,
    /// The head is complete; `consumed` bytes of the last call belonged to it.
    Complete { head: Head, consumed: usize },
    /// The head is invalid.
    Failed(HeadError),
}

/// The incremental head parser. See the module documentation for the syntax.
#[derive(Debug)]
pub(crate) struct HeadParser {
    kind: HeadKind,
    max_bytes: usize,
    max_headers: usize,
    /// The bytes of the line being received, when it spans calls.
    line: Vec<u8>,
    /// Head bytes taken so far, including `line`.
    total: usize,
    start: Option<(StartLine, u8)>,
    headers: Vec<(String, String)>,
    /// Bytes searched for a line end, over the parser's life.
    #[cfg(test)]
    pub(crate) scanned: usize,
    /// Bytes of complete lines validated, over the parser's life.
    #[cfg(test)]
    pub(crate) validated: usize,
}

impl HeadParser {
    /// A parser for a head of `kind`, refusing heads over `max_bytes` bytes or with more than
    /// `max_headers` header fields.
    pub(crate) fn new(kind: HeadKind, max_bytes: usize, max_headers: usize) -> Self {
        HeadParser {
            kind,
            max_bytes,
            max_headers,
            line: Vec::new(),
            total: 0,
            start: None,
            headers: Vec::new(),
            #[cfg(test)]
            scanned: 0,
            #[cfg(test)]
            validated: 0,
        }
    }

    /// The start line, once its line has been received and validated.
    pub(crate) fn start_line(&self) -> Option<(&StartLine, u8)> {
        self.start.as_ref().map(|(s, v)| (s, *v))
    }

    /// Feed the next bytes. After `Complete` or `Failed` the parser must not be fed again.
    pub(crate) fn receive(&mut self, data: &[u8]) -> HeadProgress {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let budget = self.max_bytes.saturating_sub(self.total);
            let window = &rest[..rest.len().min(budget)];
            let Some(i) = memchr(b'\n', window) else {
                #[cfg(test)]
                {
                    self.scanned += window.len();
                }
                if window.len() < rest.len() {
                    // The line end is past the limit.
                    return HeadProgress::Failed(HeadError::TooLarge);
                }
                self.line.extend_from_slice(window);
                self.total += window.len();
                return HeadProgress::Partial;
            };
            #[cfg(test)]
            {
                self.scanned += i + 1;
            }
            self.total += i + 1;
            pos += i + 1;
            let result = if self.line.is_empty() {
                self.line_complete(&window[..i])
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&window[..i]);
                let r = self.line_complete(&line);
                line.clear();
                self.line = line;
                r
            };
            match result {
                Ok(false) => {}
                Ok(true) => {
                    let (start, minor_version) = self.start.take().expect("start line parsed");
                    let head = Head {
                        start,
                        minor_version,
                        headers: std::mem::take(&mut self.headers),
                    };
                    return HeadProgress::Complete {
                        head,
                        consumed: pos,
                    };
                }
                Err(e) => return HeadProgress::Failed(e),
            }
        }
        HeadProgress::Partial
    }

    /// Validate one line (without its LF). `Ok(true)` when it was the empty line ending the head.
    fn line_complete(&mut self, line: &[u8]) -> Result<bool, HeadError> {
        #[cfg(test)]
        {
            self.validated += line.len() + 1;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.start.is_none() {
            if line.is_empty() {
                return Err(HeadError::Malformed("empty line before the start line"));
            }
            self.start = Some(match self.kind {
                HeadKind::Request => parse_request_line(line)?,
                HeadKind::Response => parse_status_line(line)?,
            });
            return Ok(false);
        }
        if line.is_empty() {
            return Ok(true);
        }
        if self.headers.len() >= self.max_headers {
            return Err(HeadError::TooManyHeaders);
        }
        let header = parse_header_line(line)?;
        self.headers.push(header);
        Ok(false)
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

fn parse_request_line(line: &[u8]) -> Result<(StartLine, u8), HeadError> {
    let method_len = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    if method_len == 0 {
        return Err(HeadError::Malformed("invalid method"));
    }
    let (method, rest) = line.split_at(method_len);
    let rest = rest
        .strip_prefix(b" ")
        .ok_or(HeadError::Malformed("invalid request line"))?;
    let target_len = rest
        .iter()
        .position(|&b| !(0x21..0x7f).contains(&b))
        .unwrap_or(rest.len());
    if target_len == 0 {
        return Err(HeadError::Malformed("invalid request target"));
    }
    let (target, rest) = rest.split_at(target_len);
    let rest = rest
        .strip_prefix(b" ")
        .ok_or(HeadError::Malformed("invalid request line"))?;
    let (minor, rest) = parse_version(rest)?;
    if !rest.is_empty() {
        return Err(HeadError::Malformed("invalid request line"));
    }
    // Both parts were checked to be ASCII.
    let method = String::from_utf8_lossy(method).into_owned();
    let target = String::from_utf8_lossy(target).into_owned();
    Ok((StartLine::Request { method, target }, minor))
}

fn parse_status_line(line: &[u8]) -> Result<(StartLine, u8), HeadError> {
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
    let reason = String::from_utf8_lossy(reason).into_owned();
    Ok((
        StartLine::Response {
            status: code,
            reason,
        },
        minor,
    ))
}

fn parse_header_line(line: &[u8]) -> Result<(String, String), HeadError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(HeadError::Malformed("obsolete line folding"));
    }
    let name_len = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_len);
    if name.is_empty() {
        return Err(HeadError::Malformed("invalid header name"));
    }
    let value = match rest {
        [b':', value @ ..] => value,
        [b' ' | b'\t', ..] => return Err(HeadError::Malformed("whitespace before colon")),
        _ => return Err(HeadError::Malformed("invalid header name")),
    };
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(HeadError::Malformed("invalid character in header value"));
    }
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    let value = std::str::from_utf8(&value[start..end])
        .map_err(|_| HeadError::Malformed("header value is not UTF-8"))?;
    // The name was checked to be ASCII.
    let name = String::from_utf8_lossy(name).into_owned();
    Ok((name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(kind: HeadKind, input: &[u8]) -> HeadProgress {
        HeadParser::new(kind, 8192, 64).receive(input)
    }

    #[test]
    fn request_head_and_trailing_bytes() {
        let input =
            b"GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Empty:\r\nX:  v w \t\r\n\r\n\x81\x00";
        let HeadProgress::Complete { head, consumed } = parse_all(HeadKind::Request, input) else {
            panic!("incomplete");
        };
        assert_eq!(consumed, input.len() - 2);
        assert_eq!(
            head.start,
            StartLine::Request {
                method: "GET".into(),
                target: "/chat?x=1".into()
            }
        );
        assert_eq!(head.minor_version, 1);
        assert_eq!(
            head.headers,
            vec![
                ("Host".into(), "a.example".into()),
                ("X-Empty".into(), "".into()),
                ("X".into(), "v w".into())
            ]
        );
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
                b"GET / HTTP/1.1\r\nA: \xff\r\n",
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
        assert_eq!(
            head.start,
            StartLine::Response {
                status: 101,
                reason: String::new()
            }
        );
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
            outcome = p.receive(std::slice::from_ref(b));
            if outcome != HeadProgress::Partial {
                assert_eq!(i, head.len() - 1);
                break;
            }
        }
        assert_eq!(outcome, HeadProgress::Failed(HeadError::TooLarge));
        assert!(p.total < head.len());
        // A line without end that is longer than the limit fails at once.
        let mut p = HeadParser::new(HeadKind::Request, 100, 64);
        assert_eq!(
            p.receive(&[b'a'; 1000]),
            HeadProgress::Failed(HeadError::TooLarge)
        );
        assert!(p.line.capacity() <= 100);

        let mut p = HeadParser::new(HeadKind::Request, 8192, 1);
        assert_eq!(
            p.receive(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"),
            HeadProgress::Failed(HeadError::TooManyHeaders)
        );
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
        for (n, b) in head.iter().enumerate() {
            let r = p.receive(std::slice::from_ref(b));
            if n + 1 < head.len() {
                assert_eq!(r, HeadProgress::Partial);
            } else {
                assert!(matches!(r, HeadProgress::Complete { consumed: 1, .. }));
            }
        }
        assert_eq!(p.scanned, head.len());
        assert_eq!(p.validated, head.len());
    }
}
