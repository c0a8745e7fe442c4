//! Incremental UTF-8 validation of text messages (RFC 6455 §8.1).
//!
//! A text message arrives in pieces — fragments, and reads that end anywhere — so a code point
//! may be split between two calls. [`Utf8Validator`] validates each piece as it arrives and
//! fails as soon as a byte makes the message impossible to complete as valid UTF-8, so the
//! connection can be failed without waiting for the rest of the message (§8.1: "MUST _Fail the
//! WebSocket Connection_" when invalid UTF-8 is seen).

use core::fmt;

use crate::error::ProtocolError;

/// Validates a text message fed in pieces, keeping the state of a code point split between
/// pieces.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Lead byte of the pending partial code point (meaningless when `have == 0`).
    lead: u8,
    /// Bytes of the pending code point seen so far: 0 (none pending) to 3.
    have: u8,
    /// Total length of the pending code point: 2 to 4 (meaningless when `have == 0`).
    width: u8,
}

/// Text that is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    /// Offset, within the piece last fed, of the byte that made the text invalid.
    revealed_at: usize,
}

impl Utf8Error {
    /// Offset, within the piece passed to [`Utf8Validator::feed`], of the first byte that
    /// made the text invalid. The bytes before it were a valid prefix: fed one at a time, the
    /// validator would have accepted each of them and failed on this one.
    pub fn revealed_at(&self) -> usize {
        self.revealed_at
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid UTF-8 at byte {} of the piece", self.revealed_at)
    }
}

impl std::error::Error for Utf8Error {}

impl From<Utf8Error> for ProtocolError {
    fn from(_: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8
    }
}

/// Length of the code point a valid lead byte starts (only called on the lead of a valid prefix).
#[inline]
fn width_of(lead: u8) -> u8 {
    if lead >= 0xF0 {
        4
    } else if lead >= 0xE0 {
        3
    } else {
        2
    }
}

/// Whether `b` may follow `lead` as the second byte of a code point (RFC 3629 §4): excludes
/// overlong forms, surrogates and values above U+10FFFF.
#[inline]
fn second_byte_ok(lead: u8, b: u8) -> bool {
    let (lo, hi) = match lead {
        0xE0 => (0xA0, 0xBF),
        0xED => (0x80, 0x9F),
        0xF0 => (0x90, 0xBF),
        0xF4 => (0x80, 0x8F),
        _ => (0x80, 0xBF),
    };
    lo <= b && b <= hi
}

#[inline]
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Below this length an all-ASCII piece is accepted without calling simdutf8.
const SMALL: usize = 32;

/// Bulk validation: `Ok(n)` when `bytes[..n]` is valid and `bytes[n..]` is empty or an
/// incomplete but valid prefix of one code point; `Err` when `bytes` is invalid whatever
/// follows it, with the offset of the byte that reveals it.
#[inline]
fn validate_bulk(bytes: &[u8]) -> Result<usize, Utf8Error> {
    // simdutf8 costs a few nanoseconds per call before its SIMD loop starts: a 16-byte ASCII
    // piece (a small frame) is checked in half the time inline. Longer pieces gain nothing
    // from the precheck (100 ASCII bytes: is_ascii ~10 ns, simdutf8 ~9 ns, std ~4 ns; std loses
    // 2x on multi-byte text of that size).
    if bytes.len() < SMALL && bytes.is_ascii() {
        return Ok(bytes.len());
    }
    if bytes.len() >= SMALL
        && let Some(valid) = fast_valid_len(bytes)
    {
        return Ok(valid);
    }
    // `simdutf8::compat` has the error semantics of `core::str::from_utf8` (`error_len() ==
    // None` only for a valid but incomplete final code point) with a SIMD fast path.
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => Ok(bytes.len()),
        Err(e) => match e.error_len() {
            None => Ok(e.valid_up_to()),
            // `error_len` is the length of the longest valid prefix of a code point at
            // `valid_up_to` (the "maximal subpart" of Unicode §3.9), or 1 when the byte there
            // cannot start a code point at all: the revealing byte follows that prefix.
            Some(len) => {
                let at = e.valid_up_to();
                let starts_code_point = matches!(bytes[at], 0xC2..=0xF4);
                Err(Utf8Error {
                    revealed_at: if starts_code_point { at + len } else { at },
                })
            }
        },
    }
}

/// `Some(n)` when `bytes[..n]` is valid UTF-8 and `bytes[n..]` is empty or a valid incomplete
/// prefix of one code point, as [`validate_bulk`] returns it, found with the AVX-512 validator;
/// `None` when the text is invalid (the error's position is left to `simdutf8::compat`) or the
/// processor lacks AVX-512.
#[inline]
fn fast_valid_len(bytes: &[u8]) -> Option<usize> {
    let complete = complete_len(bytes);
    let (head, partial) = bytes.split_at(complete);
    if let Some((&lead, rest)) = partial.split_first() {
        // A lead byte of a code point that does not fit in `bytes`, followed by 0 to 2 bytes.
        let lead_ok = matches!(lead, 0xC2..=0xF4);
        let rest_ok = match rest {
            [] => true,
            [b] => second_byte_ok(lead, *b),
            [b, c] => second_byte_ok(lead, *b) && is_continuation(*c),
            _ => false,
        };
        if !(lead_ok && rest_ok) {
            return None;
        }
    }
    crate::utf8_simd::is_valid(head)?.then_some(complete)
}

/// Length of `bytes` without a trailing code point that starts in the last three bytes and is
/// cut short by the end; `bytes.len()` when there is none. Only looks at the last three bytes,
/// so a cut code point is recognised by its lead byte, valid or not.
#[inline]
fn complete_len(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - back];
        if is_continuation(b) {
            continue;
        }
        // ASCII (width 1) or a lead byte; `F8..=FF` count as 4-byte leads, so they are cut
        // off and rejected by the check of the partial code point.
        let width = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        return if width > back {
            bytes.len() - back
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Validate the next bytes of a text message.
    ///
    /// Returns `Err` as soon as `bytes` contains a byte that makes the message impossible to be
    /// valid UTF-8, including within a code point split across calls (`F4 90` is already
    /// invalid, `ED A0` starts a surrogate); the error tells which byte that was, the same
    /// whether the text came in one piece or many. After an error the state is unspecified;
    /// call [`reset`](Self::reset) before validating another message.
    #[inline]
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut rest = bytes;
        if self.have != 0 {
            // Finish the pending code point byte by byte; its bytes so far are a valid prefix.
            while self.have < self.width {
                let Some((&b, tail)) = rest.split_first() else {
                    return Ok(());
                };
                let ok = if self.have == 1 {
                    second_byte_ok(self.lead, b)
                } else {
                    is_continuation(b)
                };
                if !ok {
                    return Err(Utf8Error {
                        revealed_at: bytes.len() - rest.len(),
                    });
                }
                self.have += 1;
                rest = tail;
            }
            self.have = 0;
        }
        let done = bytes.len() - rest.len();
        let valid = validate_bulk(rest).map_err(|e| Utf8Error {
            revealed_at: done + e.revealed_at,
        })?;
        if let Some(&lead) = rest.get(valid) {
            // An incomplete but valid prefix of a code point (1 to 3 bytes) ends `rest`.
            self.lead = lead;
            self.width = width_of(lead);
            self.have = (rest.len() - valid) as u8;
        }
        Ok(())
    }

    /// True when no partial code point is pending, so the message may end here.
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.have == 0
    }

    /// Forget any pending partial code point, to start a new message.
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The text in `bytes` if it is a complete, valid UTF-8 text: one validation pass (SIMD when
/// long) that yields the `&str`.
#[inline]
pub fn as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < SMALL {
        core::str::from_utf8(bytes).ok()
    } else {
        match crate::utf8_simd::is_valid(bytes) {
            #[allow(unsafe_code)]
            // SAFETY: `is_valid` returned `Some(true)`, which it does only when the bytes are
            // valid UTF-8: its tests compare it with `core::str::from_utf8` on every 1-, 2- and
            // 3-byte sequence (all of them in release builds), 4-byte sequences around every
            // boundary of the RFC 3629 table, probe sequences at every offset of inputs up to
            // 200 bytes (every position in and across 64-byte blocks and the tail), and random
            // and edited text (proptests); the `utf8_validator` fuzz target compares `as_str`
            // with `core::str::from_utf8` too.
            Some(true) => Some(unsafe { core::str::from_utf8_unchecked(bytes) }),
            Some(false) => None,
            None => simdutf8::basic::from_utf8(bytes).ok(),
        }
    }
}

/// View bytes that the connection has already validated as text. The crate forbids unsafe
/// code, so this checks again (at SIMD speed); should the bytes ever be invalid it yields the
/// empty string rather than panicking.
#[inline]
pub(crate) fn from_validated(bytes: &[u8]) -> &str {
    let checked = as_str(bytes);
    debug_assert!(checked.is_some(), "text not validated before delivery");
    checked.unwrap_or_default()
}

/// View text that the connection validated piece by piece as it arrived: every byte of
/// `bytes` went through one [`Utf8Validator`], in order from the message's first byte, which
/// accepted them all and ended [complete](Utf8Validator::is_complete), and nothing wrote to
/// them since. That validation, made to fail a bad byte at once, is the one pass over the
/// text; this does not make a second.
///
/// Debug builds (the tests and the fuzz targets) check the bytes again and panic should the
/// promise ever be broken.
#[inline]
pub(crate) fn validated_pieces(bytes: &[u8]) -> &str {
    debug_assert!(
        core::str::from_utf8(bytes).is_ok(),
        "text delivered without having been validated"
    );
    #[allow(unsafe_code)]
    // SAFETY: the two callers (a text frame received in pieces, and a reassembled fragmented
    // message, in `Connection`) pass exactly the bytes described above. The validator accepts
    // a sequence of pieces only if their concatenation is valid UTF-8: it runs the AVX-512
    // validator (differential tests against `core::str::from_utf8` in `utf8_simd`) or
    // simdutf8's std-compatible validator on each piece and checks every code point split
    // between pieces, and one cut by the end of a piece, byte by byte with the RFC 3629 table (proptests and a fuzz target compare it with
    // `core::str::from_utf8` at arbitrary splits).
    unsafe {
        core::str::from_utf8_unchecked(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> Result<bool, usize> {
        let mut v = Utf8Validator::new();
        for (i, c) in chunks.iter().enumerate() {
            v.feed(c).map_err(|_| i)?;
        }
        Ok(v.is_complete())
    }

    #[test]
    fn split_code_points_complete() {
        let s = "aé€😀z".as_bytes();
        for a in 0..=s.len() {
            for b in a..=s.len() {
                assert_eq!(feed_all(&[&s[..a], &s[a..b], &s[b..]]), Ok(true), "{a} {b}");
            }
        }
    }

    #[test]
    fn incomplete_at_end_is_not_complete() {
        assert_eq!(feed_all(&[b"ab", &[0xE2, 0x82]]), Ok(false));
        assert_eq!(feed_all(&[&[0xF0], &[0x9F], &[0x98]]), Ok(false));
    }

    #[test]
    fn split_invalid_prefixes_fail_on_the_revealing_byte() {
        // Above U+10FFFF, surrogate, overlong 3- and 4-byte forms, lead without continuation.
        for pair in [
            [0xF4, 0x90],
            [0xED, 0xA0],
            [0xE0, 0x80],
            [0xF0, 0x80],
            [0xE2, 0x41],
        ] {
            assert_eq!(feed_all(&[&pair[..1], &pair[1..]]), Err(1), "{pair:x?}");
        }
        assert_eq!(feed_all(&[&[0xF0, 0x9F], &[0x41]]), Err(1));
        assert_eq!(feed_all(&[&[0xF0], &[0x9F], &[0x98], &[0xC0]]), Err(3));
    }

    /// Where feeding byte by byte fails, as an index into `bytes`.
    fn bytewise_failure(bytes: &[u8]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        (0..bytes.len()).find(|&i| v.feed(&bytes[i..i + 1]).is_err())
    }

    #[test]
    fn error_position_is_the_revealing_byte_in_one_piece() {
        let cases: &[(&[u8], usize)] = &[
            (&[0x80], 0),
            (b"ab\xC0\x80", 2),
            (b"a\xF5", 1),
            (&[0x00, 0x80], 1),
            (&[0xE2, 0x41], 1),
            (&[0xE2, 0x82, 0x41], 2),
            (&[0xF0, 0x80, 0x80], 1),
            (&[0xED, 0xA0, 0x80], 1),
            (&[0xF4, 0x90], 1),
            ("é".as_bytes(), usize::MAX),
        ];
        for &(bytes, at) in cases {
            let got = Utf8Validator::new()
                .feed(bytes)
                .err()
                .map(|e| e.revealed_at());
            let want = (at != usize::MAX).then_some(at);
            assert_eq!(got, want, "{bytes:x?}");
            assert_eq!(bytewise_failure(bytes), want, "{bytes:x?} bytewise");
        }
        // Within a code point left pending by an earlier piece.
        let mut v = Utf8Validator::new();
        v.feed(b"x\xF0").unwrap();
        assert_eq!(v.feed(&[0x9F, 0x41]).unwrap_err().revealed_at(), 1);
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2]).unwrap();
        assert_eq!(
            v.feed(&[0x82, 0xAC, b'z', 0xFF]).unwrap_err().revealed_at(),
            3
        );
    }

    proptest::proptest! {
        /// Fed whole or split at any point, the failure is reported at the same byte as when
        /// the text arrives one byte at a time.
        #[test]
        fn error_position_does_not_depend_on_the_split(
            text in "\\PC{0,24}",
            stray in proptest::prelude::any::<u8>(),
            at in proptest::prelude::any::<usize>(),
            cut in proptest::prelude::any::<usize>(),
        ) {
            // Valid text with one arbitrary byte inserted anywhere, often mid code point.
            let mut bytes = text.into_bytes();
            let at = at % (bytes.len() + 1);
            bytes.insert(at, stray);
            let want = bytewise_failure(&bytes);
            let cut = cut % (bytes.len() + 1);
            let mut v = Utf8Validator::new();
            let got = match v.feed(&bytes[..cut]) {
                Err(e) => Some(e.revealed_at()),
                Ok(()) => v.feed(&bytes[cut..]).err().map(|e| cut + e.revealed_at()),
            };
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn long_piece_ending_inside_a_code_point() {
        // Pieces of 32 bytes and more go through the bulk check; the end of each is cut off
        // and checked byte by byte when it starts a code point that does not fit.
        let ends: &[&[u8]] = &[
            &[],
            &[0xC3],
            &[0xE2],
            &[0xE2, 0x82],
            &[0xF0],
            &[0xF0, 0x9F],
            &[0xF0, 0x9F, 0x98],
            &[0xF4, 0x8F, 0xBF],
            &[0xC0],
            &[0xC1],
            &[0xF5],
            &[0xF8],
            &[0xFF],
            &[0x80],
            &[0xE0, 0x80],
            &[0xE0, 0xA0],
            &[0xED, 0xA0],
            &[0xED, 0x9F],
            &[0xF0, 0x8F],
            &[0xF4, 0x90],
            &[0xE2, 0x41],
            &[0xF0, 0x9F, 0x41],
            &[0xF0, 0x9F, 0xC0],
            &[0xC3, 0xA9],
            &[0xE2, 0x82, 0xAC],
            &[0xF0, 0x9F, 0x98, 0x80],
            &[0xE2, 0x82, 0xAC, 0x80],
        ];
        for prefix in ["a".repeat(40), "é".repeat(20), "€😀".repeat(9)] {
            for extra in 0..70 {
                for &end in ends {
                    let mut bytes = prefix.clone().into_bytes();
                    bytes.resize(bytes.len() + extra, b'z');
                    bytes.extend_from_slice(end);
                    let mut v = Utf8Validator::new();
                    let got = v.feed(&bytes).err().map(|e| e.revealed_at());
                    assert_eq!(got, bytewise_failure(&bytes), "{bytes:x?}");
                    if got.is_none() {
                        assert_eq!(
                            v.is_complete(),
                            core::str::from_utf8(&bytes).is_ok(),
                            "{bytes:x?}"
                        );
                    }
                    assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
                }
            }
        }
    }

    proptest::proptest! {
        /// As `error_position_does_not_depend_on_the_split`, with pieces long enough for the
        /// bulk check.
        #[test]
        fn long_text_error_position_does_not_depend_on_the_split(
            chars in proptest::collection::vec(proptest::prelude::any::<char>(), 30..200),
            stray in proptest::prelude::any::<u8>(),
            at in proptest::prelude::any::<usize>(),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut bytes = chars.into_iter().collect::<String>().into_bytes();
            let at = at % (bytes.len() + 1);
            bytes.insert(at, stray);
            let want = bytewise_failure(&bytes);
            let cut = cut % (bytes.len() + 1);
            let mut v = Utf8Validator::new();
            let got = match v.feed(&bytes[..cut]) {
                Err(e) => Some(e.revealed_at()),
                Ok(()) => v.feed(&bytes[cut..]).err().map(|e| cut + e.revealed_at()),
            };
            proptest::prop_assert_eq!(got, want);
            let accepted = got.is_none() && v.is_complete();
            proptest::prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
            proptest::prop_assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
        }
    }

    use proptest::strategy::Strategy as _;

    /// Accepted when fed as `bytes[..cut]` then `bytes[cut..]`, for every cut.
    fn accepted_at_every_cut(bytes: &[u8]) -> bool {
        let verdicts: Vec<bool> = (0..=bytes.len())
            .map(|cut| {
                let mut v = Utf8Validator::new();
                v.feed(&bytes[..cut]).is_ok() && v.feed(&bytes[cut..]).is_ok() && v.is_complete()
            })
            .collect();
        assert!(verdicts.iter().all(|&x| x == verdicts[0]), "{bytes:x?}");
        verdicts[0]
    }

    #[test]
    fn agrees_with_std_on_every_short_sequence_split_anywhere() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let pair = [a, b];
                assert_eq!(
                    accepted_at_every_cut(&pair),
                    core::str::from_utf8(&pair).is_ok(),
                    "{pair:x?}"
                );
            }
        }
        // Three and four bytes: every lead of a multi-byte code point with second bytes
        // around each boundary of the RFC 3629 table, and continuations in and out of range.
        let seconds = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];
        let tails = [0x41, 0x80, 0xBF, 0xC0];
        for lead in 0xC0..=0xFFu8 {
            for &b in &seconds {
                for &c in &tails {
                    let three = [lead, b, c];
                    assert_eq!(
                        accepted_at_every_cut(&three),
                        core::str::from_utf8(&three).is_ok(),
                        "{three:x?}"
                    );
                    for &d in &tails {
                        let four = [lead, b, c, d];
                        assert_eq!(
                            accepted_at_every_cut(&four),
                            core::str::from_utf8(&four).is_ok(),
                            "{four:x?}"
                        );
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// The validator accepts pieces exactly when their concatenation is valid UTF-8,
        /// wherever the cuts fall; the connection relies on it to hand out text unchecked.
        #[test]
        fn accepts_exactly_valid_utf8_at_any_split(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "\\PC{0,12}".prop_map(String::into_bytes),
                    proptest::collection::vec(0x80u8..=0xFF, 0..4),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
                ],
                0..8,
            ),
            cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..6),
        ) {
            let bytes: Vec<u8> = parts.concat();
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut last = 0;
            let mut ok = true;
            for c in cuts.into_iter().chain([bytes.len()]) {
                if v.feed(&bytes[last..c]).is_err() {
                    ok = false;
                    break;
                }
                last = c;
            }
            let accepted = ok && v.is_complete();
            proptest::prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
        }
    }

    #[test]
    fn reset_forgets_pending() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2]).unwrap();
        assert!(!v.is_complete());
        v.reset();
        assert!(v.is_complete());
        v.feed(b"A").unwrap();
        assert!(v.is_complete());
    }
}
