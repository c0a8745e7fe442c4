//! The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1).
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" ( token / quoted-string ) ]
//! ```
//!
//! Whitespace (SP, HTAB) is allowed around `,`, `;` and `=`. Empty list elements (`a, , b`) are
//! skipped, as RFC 9110 §5.6.1 asks of recipients. A quoted-string value may use backslash
//! escapes and must unescape to a token (§9.1). Multiple header fields are parsed one by one and
//! their lists concatenated.
//!
//! ```
//! use wsmachine::extension::{parse_extensions, format_extensions};
//!
//! let offers = parse_extensions(r#"permessage-deflate; client_max_window_bits="10", x-foo"#)?;
//! assert_eq!(offers[0].name, "permessage-deflate");
//! assert_eq!(offers[0].params, vec![("client_max_window_bits".to_string(), Some("10".to_string()))]);
//! assert_eq!(offers[1].name, "x-foo");
//! assert_eq!(
//!     format_extensions(&offers),
//!     "permessage-deflate; client_max_window_bits=10, x-foo"
//! );
//! # Ok::<(), wsmachine::extension::ExtensionError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

use crate::http::{is_tchar, is_token, tchar_bits};

/// One extension as listed in a `Sec-WebSocket-Extensions` header: a client's offer, or (in a
/// server's 101) the extension the server accepted.
///
/// `params` keeps the parameters in order; a parameter without `=` has the value `None`. Quoted
/// values are stored unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// The parameters in order: name and optional value.
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// An offer of `name` without parameters.
    pub fn new(name: impl Into<String>) -> Self {
        ExtensionOffer {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Add a parameter without a value (`; name`).
    pub fn flag(mut self, name: impl Into<String>) -> Self {
        self.params.push((name.into(), None));
        self
    }

    /// Add a parameter with a value (`; name=value`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), Some(value.into())));
        self
    }

    /// Whether the name, every parameter name and every value are tokens, as §9.1 requires.
    pub fn is_valid(&self) -> bool {
        is_token(&self.name)
            && self
                .params
                .iter()
                .all(|(n, v)| is_token(n) && v.as_deref().is_none_or(is_token))
    }
}

impl fmt::Display for ExtensionOffer {
    /// The header form: `name; p=v; q`. A value that is not a token is written as a
    /// quoted-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_extension(f, &self.name, &self.params)
    }
}

/// An extension the server accepted, as returned by the policy's extension hook
/// ([`crate::handshake::ServerPolicy::extension_hook`]) and reported in
/// [`crate::handshake::Negotiated`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AcceptedExtension {
    /// The extension token; must be one the client offered.
    pub name: String,
    /// The parameters written in the 101 response, in order.
    pub params: Vec<(String, Option<String>)>,
    /// The RSV bits of the frame header this extension gives a meaning to: RSV1 = `0b100`,
    /// RSV2 = `0b010`, RSV3 = `0b001`. Two accepted extensions may not claim the same bit.
    pub rsv_bits: u8,
}

impl AcceptedExtension {
    /// An accepted extension without parameters or RSV bits.
    pub fn new(name: impl Into<String>) -> Self {
        AcceptedExtension {
            name: name.into(),
            params: Vec::new(),
            rsv_bits: 0,
        }
    }
}

impl fmt::Display for AcceptedExtension {
    /// The header form, as for [`ExtensionOffer`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_extension(f, &self.name, &self.params)
    }
}

fn write_extension(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    params: &[(String, Option<String>)],
) -> fmt::Result {
    f.write_str(name)?;
    for (n, v) in params {
        write!(f, "; {n}")?;
        if let Some(v) = v {
            if is_token(v) {
                write!(f, "={v}")?;
            } else {
                f.write_str("=\"")?;
                for c in v.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
            }
        }
    }
    Ok(())
}

/// Format extensions as one header value, separated by `, `.
pub fn format_extensions(list: &[ExtensionOffer]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(alloc::string::ToString::to_string)
        .collect();
    items.join(", ")
}

/// A `Sec-WebSocket-Extensions` value that breaks the §9.1 grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionError {
    reason: &'static str,
}

impl ExtensionError {
    /// What is wrong, in a few words.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Sec-WebSocket-Extensions: {}", self.reason)
    }
}

impl core::error::Error for ExtensionError {}

const fn err(reason: &'static str) -> ExtensionError {
    ExtensionError { reason }
}

/// A cursor over the header value.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
    /// For a value of at most 64 bytes, bit `i` set where byte `i` is a tchar: a token's end
    /// is then one bit scan, not a loop whose exit, at a different length for every token,
    /// the processor cannot predict. `None` for a longer value, read byte by byte.
    tchars: Option<u64>,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a [u8]) -> Self {
        let tchars = (s.len() <= 64).then(|| tchar_bits(s));
        Cursor { s, pos: 0, tchars }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        match self.tchars {
            Some(tchars) => {
                // The bits past the value are clear: the scan stops at its end at the latest.
                let run = (!tchars.checked_shr(start as u32).unwrap_or(0)).trailing_zeros();
                self.pos = (start + run as usize).min(self.s.len());
            }
            None => {
                while self.peek().is_some_and(is_tchar) {
                    self.pos += 1;
                }
            }
        }
        Some(&self.s[start..self.pos]).filter(|t| !t.is_empty())
    }

    /// A quoted-string, the opening quote at the cursor, whose unescaped text must be a token
    /// (§9.1); returns the text between the quotes, escapes included.
    fn quoted_token(&mut self) -> Result<&'a [u8], ExtensionError> {
        self.pos += 1;
        let start = self.pos;
        // Whether every unescaped character so far is a tchar, and how many there are.
        let mut token = true;
        let mut chars = 0usize;
        loop {
            let b = match self.peek() {
                None => return Err(err("unterminated quoted-string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || (0x20..0x7f).contains(&b) => b,
                        _ => return Err(err("invalid escape in quoted-string")),
                    }
                }
                Some(b) if b == b'\t' || (0x20..0x7f).contains(&b) => b,
                Some(_) => return Err(err("invalid character in quoted-string")),
            };
            token &= is_tchar(b);
            chars += 1;
            self.pos += 1;
        }
        let raw = &self.s[start..self.pos];
        self.pos += 1;
        if !token || chars == 0 {
            return Err(err("quoted parameter value is not a token"));
        }
        Ok(raw)
    }
}

/// A parameter value as it appears in the header.
enum RawValue<'a> {
    /// A bare token.
    Token(&'a [u8]),
    /// The inside of a quoted-string (escapes included) that unescapes to a token.
    Quoted(&'a [u8]),
}

impl RawValue<'_> {
    fn to_owned_text(&self) -> String {
        match self {
            RawValue::Token(t) => ascii(t),
            RawValue::Quoted(raw) => {
                let mut out = String::with_capacity(raw.len());
                let mut escaped = false;
                for &b in *raw {
                    if b == b'\\' && !escaped {
                        escaped = true;
                    } else {
                        // Checked to be a tchar, hence ASCII.
                        out.push(char::from(b));
                        escaped = false;
                    }
                }
                out
            }
        }
    }
}

/// A token's text (tchars are ASCII).
fn ascii(token: &[u8]) -> String {
    token.iter().map(|&b| char::from(b)).collect()
}

/// What [`walk`] finds, in order.
enum Item<'a> {
    /// An extension name.
    Extension(&'a [u8]),
    /// A parameter of the last extension: its name and value, if any.
    Param(&'a [u8], Option<RawValue<'a>>),
}

/// Walk one header value, calling `on` for each extension name and each of its parameters,
/// in order, and stop at the first violation of the grammar.
fn walk<'a>(value: &'a [u8], mut on: impl FnMut(Item<'a>)) -> Result<(), ExtensionError> {
    let mut c = Cursor::new(value);
    loop {
        c.skip_ows();
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                c.pos += 1;
                continue;
            }
            _ => {}
        }
        let name = c.token().ok_or(err("expected an extension name"))?;
        on(Item::Extension(name));
        loop {
            c.skip_ows();
            match c.peek() {
                None => return Ok(()),
                Some(b',') => {
                    c.pos += 1;
                    break;
                }
                Some(b';') => {
                    c.pos += 1;
                    c.skip_ows();
                    let pname = c.token().ok_or(err("expected a parameter name"))?;
                    c.skip_ows();
                    let pvalue = if c.peek() == Some(b'=') {
                        c.pos += 1;
                        c.skip_ows();
                        Some(if c.peek() == Some(b'"') {
                            RawValue::Quoted(c.quoted_token()?)
                        } else {
                            RawValue::Token(c.token().ok_or(err("expected a parameter value"))?)
                        })
                    } else {
                        None
                    };
                    on(Item::Param(pname, pvalue));
                }
                Some(_) => return Err(err("unexpected character")),
            }
        }
    }
}

/// Parse one `Sec-WebSocket-Extensions` header value into its extensions, in order.
///
/// An empty value (or one with only empty elements) gives an empty list.
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, ExtensionError> {
    let mut list: Vec<ExtensionOffer> = Vec::new();
    walk(value.as_bytes(), |item| match item {
        Item::Extension(name) => list.push(ExtensionOffer::new(ascii(name))),
        Item::Param(name, v) => {
            if let Some(ext) = list.last_mut() {
                ext.params
                    .push((ascii(name), v.as_ref().map(RawValue::to_owned_text)));
            }
        }
    })?;
    Ok(list)
}

/// Check one `Sec-WebSocket-Extensions` header value as [`parse_extensions`] does, without
/// building the list; returns how many extensions it lists.
pub(crate) fn check_extensions(value: &[u8]) -> Result<usize, ExtensionError> {
    let mut n = 0;
    walk(value, |item| {
        if let Item::Extension(_) = item {
            n += 1;
        }
    })?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// The extension stage of the frame pipeline (RFC 6455 §9)
// ---------------------------------------------------------------------------------------------

/// What one call of an extension's `decode` did.
///
/// Public (hidden) for the permessage-deflate tests and fuzz targets, which call the transform
/// as the connection does.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input taken.
    pub consumed: usize,
    /// The message is complete: the input ended the message and every byte it decodes to
    /// has been appended.
    pub finished: bool,
}

/// A negotiated extension's place in the frame pipeline: it sees the RSV bits of every data
/// frame, decides per message whether the payload is transformed, and transforms it both ways.
///
/// The connection calls it in this order for a received data message: [`inbound_frame`] for each
/// frame header (the first one with `first`), then [`decode`] with the unmasked payload bytes as
/// they arrive (`end` on the last bytes of the message), until it reports the message finished.
/// For a sent message: [`outbound_wants`] once, then [`encode`] for each frame's payload. Control
/// frames never pass through an extension (RFC 7692 §6.1).
///
/// [`inbound_frame`]: Extension::inbound_frame
/// [`decode`]: Extension::decode
/// [`outbound_wants`]: Extension::outbound_wants
/// [`encode`]: Extension::encode
///
/// Public (hidden) for the permessage-deflate tests, benchmarks and fuzz targets, which call
/// the transform as the connection does.
#[doc(hidden)]
pub trait Extension: Send + fmt::Debug {
    /// The RSV bits this extension gives a meaning to (RSV1 = `0b100`).
    fn rsv_bits(&self) -> u8;

    /// The header of a received data frame: `rsv` its RSV bits (only bits this extension
    /// claims can be set here), `first` whether it starts a message. Returns, for the first
    /// frame, whether the message's payload is to be passed through
    /// [`decode`](Extension::decode) (the answer holds for the whole message; the return for
    /// a continuation frame is not read), or the peer's violation (e.g. RSV1 on a
    /// continuation frame).
    fn inbound_frame(&mut self, rsv: u8, first: bool) -> Result<bool, crate::ProtocolError>;

    /// Decode payload bytes of a transformed message: take bytes from `input` and append what
    /// they decode to to `out`, never making `out` longer than `limit` bytes. `end` says that
    /// `input` holds the last bytes of the message. It returns having consumed less than the
    /// whole input only when `out` reached `limit`; the caller then makes room (delivers the
    /// piece) or reports the message too large.
    fn decode(
        &mut self,
        input: &[u8],
        end: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Decoded, crate::ProtocolError>;

    /// Whether a message about to be sent, whose first piece is `len` bytes long, is to be
    /// transformed (a compression extension declines small payloads).
    fn outbound_wants(&self, len: usize) -> bool;

    /// Transform one frame's payload of a message being sent, appending the result to `out`;
    /// `first` and `fin` place the frame in the message. Returns the RSV bits to set on the
    /// frame.
    fn encode(&mut self, payload: &[u8], first: bool, fin: bool, out: &mut Vec<u8>) -> u8;

    /// Give back memory that an idle connection does not need (called by
    /// `Connection::release_buffers` between messages).
    fn release_buffers(&mut self);

    /// Heap bytes this extension holds.
    fn heap_size(&self) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                .collect(),
        }
    }

    #[test]
    fn valid_values() {
        let cases: &[(&str, Vec<ExtensionOffer>)] = &[
            ("", vec![]),
            (" , ,", vec![]),
            ("foo", vec![p("foo", &[])]),
            (
                "permessage-deflate; client_max_window_bits",
                vec![p("permessage-deflate", &[("client_max_window_bits", None)])],
            ),
            (
                "a;x=1;y , b ;\tz = \"2\"",
                vec![
                    p("a", &[("x", Some("1")), ("y", None)]),
                    p("b", &[("z", Some("2"))]),
                ],
            ),
            (r#"a; x="a\bc""#, vec![p("a", &[("x", Some("abc"))])]),
            ("a,,b", vec![p("a", &[]), p("b", &[])]),
        ];
        for (input, expected) in cases {
            assert_eq!(&parse_extensions(input).unwrap(), expected, "{input:?}");
            assert_eq!(
                check_extensions(input.as_bytes()),
                Ok(expected.len()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn invalid_values() {
        let cases: &[(&str, &str)] = &[
            ("a;", "expected a parameter name"),
            ("a; =1", "expected a parameter name"),
            ("a; x=", "expected a parameter value"),
            ("a; x=\"1", "unterminated quoted-string"),
            ("a; x=\"1 2\"", "quoted parameter value is not a token"),
            ("a; x=\"\"", "quoted parameter value is not a token"),
            ("a; x=\"\\\u{e9}\"", "invalid escape in quoted-string"),
            ("a b", "unexpected character"),
            ("a; x=1 2", "unexpected character"),
            ("\"a\"", "expected an extension name"),
            ("a; x=y=z", "unexpected character"),
        ];
        for (input, reason) in cases {
            assert_eq!(parse_extensions(input), Err(err(reason)), "{input:?}");
            assert_eq!(
                check_extensions(input.as_bytes()),
                Err(err(reason)),
                "{input:?}"
            );
        }
    }

    /// Values of up to 64 bytes find their tokens' ends by bit scans, longer ones byte by byte:
    /// both read every value alike, with tokens ending anywhere up to the 64th byte.
    #[test]
    fn short_and_long_values_are_read_alike() {
        let mut values: Vec<String> = [
            "",
            " , ,",
            "permessage-deflate; client_max_window_bits",
            "a;x=1;y , b ;\tz = \"2\"",
            "a; x=",
            "a; x=1 2",
            "\"a\"",
            "a; x=y=z",
            "a b",
        ]
        .map(String::from)
        .into();
        for n in 55..=66 {
            let name = "n".repeat(n);
            values.push(name.clone());
            values.push(format!("{name};p"));
            values.push(format!("x; {name} = v"));
            values.push(format!("x;p={name}"));
            values.push(format!("{name} ,{name}"));
        }
        for v in &values {
            let long = format!("{v}{}", " ".repeat(70));
            let got = check_extensions(v.as_bytes());
            assert_eq!(got, check_extensions(long.as_bytes()), "{v:?}");
            assert_eq!(got.ok(), parse_extensions(v).ok().map(|l| l.len()), "{v:?}");
        }
        assert_eq!(check_extensions("n".repeat(64).as_bytes()), Ok(1));
        assert_eq!(
            check_extensions(format!("{};p", "n".repeat(62)).as_bytes()),
            Ok(1)
        );
    }

    #[test]
    fn format_round_trips() {
        let list = vec![
            p(
                "permessage-deflate",
                &[("server_no_context_takeover", None)],
            ),
            p("x", &[("a", Some("1")), ("b", Some("q\"v"))]),
        ];
        let text = format_extensions(&list);
        assert_eq!(
            text,
            r#"permessage-deflate; server_no_context_takeover, x; a=1; b="q\"v""#
        );
        assert!(!list[1].is_valid());
        assert!(list[0].is_valid());
        assert_eq!(
            parse_extensions(&format_extensions(&list[..1])).unwrap(),
            list[..1]
        );
    }
}
