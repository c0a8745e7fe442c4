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
#[derive(Debug, Clone)]
pub struct Utf8Validator {
    /// The RFC 3629 automaton's state after the bytes fed so far: `ACCEPT` between code points,
    /// another state inside a code point split between pieces.
    state: u8,
    /// Bytes fed since the start of the message.
    fed: usize,
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Utf8Validator {
            state: ACCEPT as u8,
            fed: 0,
        }
    }
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

impl core::error::Error for Utf8Error {}

impl From<Utf8Error> for ProtocolError {
    fn from(_: Utf8Error) -> Self {
        ProtocolError::InvalidUtf8
    }
}

#[inline]
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Below this length text is checked by the automaton below, not by simdutf8 or the AVX-512
/// validator, whatever the processor (why: `BENCHMARKS.md`, "Design measurements").
const SMALL: usize = 64;

/// Below this length, text of at least [`SMALL`] bytes is first checked for being all ASCII
/// in one pass the compiler vectorises, which costs less in the receive path than the AVX-512
/// validator's setup (125-byte ASCII frames: 35 → 45 M frames/s decoded; figures in
/// `BENCHMARKS.md`); text with any other byte goes on to the validator.
const ASCII_SCAN: usize = 512;

// A deterministic automaton over bytes that accepts exactly the UTF-8 of RFC 3629 §4, in the
// "shift" layout: a state is the bit offset of a 6-bit field, and the row of a byte holds, in
// the field of each state, the state that byte leads to. One step is `row[byte] >> state`;
// the row's load does not depend on the state, so the chain from byte to byte is one shift.
// The bits above the low six are left as they fall: a shift of a `u64` only reads the low six
// bits of its count, and the final state is masked.
//
// Every state but ERROR can still be completed into valid UTF-8, so the automaton enters
// ERROR on exactly the byte that reveals invalid text; ERROR is field 0, which every row
// leaves 0, so it is absorbing and rows need only name the other transitions.

/// No continuation of the text can make it valid.
const ERROR: u64 = 0;
/// Between code points: the text so far is valid.
const ACCEPT: u64 = 6;
/// One continuation byte (80..=BF) to go.
const CONT1: u64 = 12;
/// Two continuation bytes to go.
const CONT2: u64 = 18;
/// Three continuation bytes to go.
const CONT3: u64 = 24;
/// After E0: the second byte must be A0..=BF (no overlong 3-byte form).
const AFTER_E0: u64 = 30;
/// After ED: the second byte must be 80..=9F (no surrogate).
const AFTER_ED: u64 = 36;
/// After F0: the second byte must be 90..=BF (no overlong 4-byte form).
const AFTER_F0: u64 = 42;
/// After F4: the second byte must be 80..=8F (nothing above U+10FFFF).
const AFTER_F4: u64 = 48;

/// The field of state `from` holding `to`.
const fn edge(from: u64, to: u64) -> u64 {
    to << from
}

/// The transitions on `byte`, following the table of RFC 3629 §4.
const fn row(byte: u8) -> u64 {
    match byte {
        0x00..=0x7F => edge(ACCEPT, ACCEPT),
        0x80..=0x8F => {
            edge(CONT1, ACCEPT)
                | edge(CONT2, CONT1)
                | edge(CONT3, CONT2)
                | edge(AFTER_ED, CONT1)
                | edge(AFTER_F4, CONT2)
        }
        0x90..=0x9F => {
            edge(CONT1, ACCEPT)
                | edge(CONT2, CONT1)
                | edge(CONT3, CONT2)
                | edge(AFTER_ED, CONT1)
                | edge(AFTER_F0, CONT2)
        }
        0xA0..=0xBF => {
            edge(CONT1, ACCEPT)
                | edge(CONT2, CONT1)
                | edge(CONT3, CONT2)
                | edge(AFTER_E0, CONT1)
                | edge(AFTER_F0, CONT2)
        }
        0xC2..=0xDF => edge(ACCEPT, CONT1),
        0xE0 => edge(ACCEPT, AFTER_E0),
        0xED => edge(ACCEPT, AFTER_ED),
        0xE1..=0xEF => edge(ACCEPT, CONT2),
        0xF0 => edge(ACCEPT, AFTER_F0),
        0xF1..=0xF3 => edge(ACCEPT, CONT3),
        0xF4 => edge(ACCEPT, AFTER_F4),
        // C0 and C1 only start overlong forms; F5..=FF start nothing.
        _ => 0,
    }
}

/// The automaton's transitions, one row per byte value.
static ROWS: [u64; 256] = {
    let mut rows = [0; 256];
    let mut b = 0;
    while b < 256 {
        rows[b] = row(b as u8);
        b += 1;
    }
    rows
};

/// One transition; the result's low six bits are the next state.
#[inline(always)]
fn step(state: u64, byte: u8) -> u64 {
    ROWS[byte as usize].wrapping_shr(state as u32)
}

/// The state after `bytes` from `state`, masked. Bytes are taken eight at a time from one
/// load, which halves the loads the loop issues.
#[inline(always)]
fn run(mut state: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        for k in 0..8 {
            state = step(state, (word >> (8 * k)) as u8);
        }
    }
    for &b in words.remainder() {
        state = step(state, b);
    }
    state & 63
}

/// The state after the few bytes of a code point cut by the end of a piece (at most three),
/// masked: [`run`] without its word loop.
#[inline(always)]
fn run_partial(bytes: &[u8]) -> u64 {
    bytes.iter().fold(ACCEPT, |state, &b| step(state, b)) & 63
}

/// Length of the longest prefix of `bytes` made of whole 8-byte words of ASCII: text that
/// leaves the automaton where it started.
#[inline(always)]
fn ascii_words(bytes: &[u8]) -> usize {
    let mut n = 0;
    for word in bytes.chunks_exact(8) {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        if word & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        n += 8;
    }
    n
}

/// Whether `bytes` is complete, valid UTF-8, by the automaton.
#[inline]
fn short_is_valid(bytes: &[u8]) -> bool {
    let skip = ascii_words(bytes);
    skip == bytes.len() || run(ACCEPT, &bytes[skip..]) == ACCEPT
}

/// [`validate_bulk`] by the automaton.
#[inline]
fn validate_short(bytes: &[u8]) -> Result<usize, Utf8Error> {
    let skip = ascii_words(bytes);
    if skip == bytes.len() || run(ACCEPT, &bytes[skip..]) == ACCEPT {
        Ok(bytes.len())
    } else {
        locate_short(bytes, skip)
    }
}

/// [`validate_bulk`] by the automaton one byte at a time from `from` (where it is between
/// code points), noting where each code point starts and where the automaton fails.
#[cold]
fn locate_short(bytes: &[u8], from: usize) -> Result<usize, Utf8Error> {
    let mut state = ACCEPT;
    let mut start = from;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        if state == ACCEPT {
            start = i;
        }
        state = step(state, b) & 63;
        if state == ERROR {
            return Err(Utf8Error { revealed_at: i });
        }
    }
    Ok(if state == ACCEPT { bytes.len() } else { start })
}

/// Bulk validation: `Ok(n)` when `bytes[..n]` is valid and `bytes[n..]` is empty or an
/// incomplete but valid prefix of one code point; `Err` when `bytes` is invalid whatever
/// follows it, with the offset of the byte that reveals it.
#[inline]
fn validate_bulk(bytes: &[u8]) -> Result<usize, Utf8Error> {
    if bytes.len() < SMALL {
        return validate_short(bytes);
    }
    match fast_valid_len(bytes) {
        Some(valid) => Ok(valid),
        None => validate_compat(bytes),
    }
}

/// [`validate_bulk`] with `simdutf8::compat`, which has the error semantics of
/// `core::str::from_utf8` (`error_len() == None` only for a valid but incomplete final code
/// point) with a SIMD fast path.
fn validate_compat(bytes: &[u8]) -> Result<usize, Utf8Error> {
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
    // A code point that does not fit in `bytes` must be a valid prefix of one.
    if run_partial(partial) == ERROR {
        return None;
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
        #[cfg(test)]
        checked::add(bytes.len());
        self.fed += bytes.len();
        let mut rest = bytes;
        // Finish a pending code point byte by byte (at most three bytes).
        let mut state = u64::from(self.state);
        while state != ACCEPT {
            let Some((&b, tail)) = rest.split_first() else {
                self.state = state as u8;
                return Ok(());
            };
            state = step(state, b) & 63;
            if state == ERROR {
                return Err(Utf8Error {
                    revealed_at: bytes.len() - rest.len(),
                });
            }
            rest = tail;
        }
        let done = bytes.len() - rest.len();
        let valid = validate_bulk(rest).map_err(|e| Utf8Error {
            revealed_at: done + e.revealed_at,
        })?;
        // `rest[valid..]` is empty or an incomplete but valid prefix of a code point.
        self.state = run_partial(&rest[valid..]) as u8;
        Ok(())
    }

    /// Take the next `bytes` of the message, found to be ASCII as they were unmasked (the
    /// OR of every byte has no high bit), without looking at them again: ASCII between code
    /// points is valid and leaves the validator between code points. Returns `false`, taking
    /// nothing, when a code point is pending; the caller then [`feed`](Self::feed)s them.
    #[inline]
    pub(crate) fn take_ascii(&mut self, bytes: &[u8]) -> bool {
        debug_assert!(bytes.is_ascii(), "bytes taken as ASCII are not");
        if !self.is_complete() {
            return false;
        }
        self.fed += bytes.len();
        true
    }

    /// True when no partial code point is pending, so the message may end here.
    #[inline]
    pub fn is_complete(&self) -> bool {
        u64::from(self.state) == ACCEPT
    }

    /// The proof that the bytes fed since the message's start are a complete, valid text, if
    /// they are.
    #[inline]
    pub(crate) fn finish(&self) -> Option<ValidText> {
        self.is_complete().then_some(ValidText { len: self.fed })
    }

    /// Forget any pending partial code point, to start a new message.
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The text in `bytes` if it is a complete, valid UTF-8 text: one validation pass (a table
/// automaton when short, SIMD when long) that yields the `&str`.
#[inline]
pub fn as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < SMALL {
        short_as_str(bytes)
    } else if bytes.len() < ASCII_SCAN && all_ascii(bytes) {
        #[allow(unsafe_code)]
        // SAFETY: no byte has its high bit set: the bytes are ASCII, which is valid UTF-8.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    } else {
        long_as_str(bytes)
    }
}

/// [`as_str`] for bytes known to hold a byte that is not ASCII: no scan for all-ASCII text.
#[inline]
fn mixed_as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < SMALL {
        short_as_str(bytes)
    } else {
        long_as_str(bytes)
    }
}

/// [`as_str`] for text of at least [`SMALL`] bytes: the SIMD validator.
#[inline]
fn long_as_str(bytes: &[u8]) -> Option<&str> {
    match crate::utf8_simd::is_valid(bytes) {
        #[allow(unsafe_code)]
        // SAFETY: `is_valid` returned `Some(true)`, which it does only when the bytes are
        // valid UTF-8. It runs the lookup algorithm of Keiser and Lemire: its tables flag
        // every pair of bytes that RFC 3629 never allows, the bytes two and three back say
        // where two continuations in a row are due, and a code point cut by the end is
        // refused; the
        // `utf8_simd` module documentation derives the tables from the error classes,
        // shows that these checks accept exactly UTF-8, and bounds every load. Its tests
        // check the tables on every pair of bytes and compare the validator with
        // `core::str::from_utf8` (every sequence of up to three bytes, every offset within
        // and across 64-byte blocks, proptests), as does the `utf8_validator` fuzz target.
        Some(true) => Some(unsafe { core::str::from_utf8_unchecked(bytes) }),
        Some(false) => None,
        None => simdutf8::basic::from_utf8(bytes).ok(),
    }
}

/// Whether every byte of `bytes` (at least 32 of them) is ASCII: 32 bytes ORed together per
/// step, and the last 32 once more in place of a byte-at-a-time tail.
#[inline]
fn all_ascii(bytes: &[u8]) -> bool {
    fn or32(c: &[u8]) -> u64 {
        let w = |i: usize| u64::from_ne_bytes(c[i..i + 8].try_into().expect("eight bytes"));
        w(0) | w(8) | w(16) | w(24)
    }
    let mut chunks = bytes.chunks_exact(32);
    let mut acc = or32(&bytes[bytes.len() - 32..]);
    for c in &mut chunks {
        acc |= or32(c);
    }
    acc & 0x8080_8080_8080_8080 == 0
}

/// [`as_str`] for text shorter than [`SMALL`], out of line so that the long path stays as
/// small where `as_str` is inlined.
#[inline(never)]
fn short_as_str(bytes: &[u8]) -> Option<&str> {
    if !short_is_valid(bytes) {
        return None;
    }
    debug_assert!(core::str::from_utf8(bytes).is_ok(), "{bytes:x?}");
    #[allow(unsafe_code)]
    // SAFETY: the automaton accepts exactly the byte strings that are valid UTF-8: its
    // transitions are the table of RFC 3629 §4, and tests compare it with
    // `core::str::from_utf8` on every string of up to three bytes, on four-byte sequences
    // around every boundary of that table, and on those embedded in text up to `SMALL`.
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// View bytes that a parser has already checked to be text (ASCII, or UTF-8 it validated):
/// they are checked again — a few nanoseconds for the short spans of an HTTP head — and bytes
/// that are not text panic, loudly, as the broken promise of the caller they are. Input cannot
/// reach that panic: every caller passes only spans its parser validated.
#[inline]
#[track_caller]
pub(crate) fn expect_text(bytes: &[u8]) -> &str {
    as_str(bytes).expect("a span the parser checked is text")
}

/// What unmasking a text payload learnt of its bytes being ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ascii {
    /// Every byte is ASCII.
    All,
    /// A byte is not ASCII.
    NotAll,
    /// Not known (bytes unmasked earlier, or not masked at all).
    Unknown,
}

/// Proof that a run of bytes is complete, valid UTF-8: only validation makes one
/// ([`Utf8Validator::finish`] after the bytes were fed in order, or [`ValidText::check`]), and
/// it records how many bytes were validated. [`as_str`](ValidText::as_str) hands the bytes out
/// as text without a second pass over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct ValidText {
    len: usize,
}

impl ValidText {
    /// Validate `bytes` as a whole text.
    pub(crate) fn check(bytes: &[u8]) -> Option<ValidText> {
        #[cfg(test)]
        checked::add(bytes.len());
        as_str(bytes).map(|t| ValidText { len: t.len() })
    }

    /// The proof for `bytes` found to be ASCII as they were unmasked (the OR of every byte has
    /// no high bit): ASCII is valid UTF-8, and no second pass is needed.
    #[inline]
    pub(crate) fn ascii(bytes: &[u8]) -> ValidText {
        debug_assert!(bytes.is_ascii(), "bytes taken as ASCII are not");
        ValidText { len: bytes.len() }
    }

    /// The proof for `bytes` as far as the unmasking learnt whether they are ASCII: none
    /// needed for ASCII, the validator without the scan for all-ASCII text when a byte is
    /// known not to be, else [`check`](Self::check).
    #[inline]
    pub(crate) fn check_unless_ascii(bytes: &[u8], ascii: Ascii) -> Option<ValidText> {
        match ascii {
            Ascii::All => Some(Self::ascii(bytes)),
            Ascii::NotAll => {
                #[cfg(test)]
                checked::add(bytes.len());
                mixed_as_str(bytes).map(|t| ValidText { len: t.len() })
            }
            Ascii::Unknown => Self::check(bytes),
        }
    }

    /// The number of bytes validated.
    #[inline]
    pub(crate) fn len(self) -> usize {
        self.len
    }

    /// The proof again, from the [`len`](Self::len) of one taken apart to pass it in a
    /// register.
    ///
    /// # Safety
    ///
    /// `len` must be the length of a `ValidText` made for the bytes it will be used with.
    #[inline]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn from_len(len: usize) -> ValidText {
        ValidText { len }
    }

    /// The validated bytes as text. `bytes` must be the very bytes that were validated, and
    /// nothing may have written to them since: the length is checked in every build (a wrong
    /// range panics rather than handing out unchecked bytes), and debug builds (the tests and
    /// the fuzz targets) validate the bytes again.
    #[inline]
    pub(crate) fn as_str(self, bytes: &[u8]) -> &str {
        assert_eq!(
            bytes.len(),
            self.len,
            "text handed out is not the text validated"
        );
        debug_assert!(
            core::str::from_utf8(bytes).is_ok(),
            "validated text was changed before it was handed out"
        );
        #[allow(unsafe_code)]
        // SAFETY: a `ValidText` of this length exists only if these bytes were validated as a
        // whole, valid UTF-8 text: by `check` (`as_str`, see its SAFETY notes), by `ascii`
        // for bytes whose OR, computed by the unmasking that wrote them, has no high bit, or
        // by one `Utf8Validator` fed every byte in order from the text's first (pieces found
        // ASCII that way taken by `take_ascii` between code points), which `finish` found
        // complete. The validator accepts a sequence of pieces only if their concatenation is
        // valid UTF-8: short pieces run the RFC 3629 automaton, long ones the AVX-512
        // validator (exact by the argument in `utf8_simd`'s module documentation) or
        // simdutf8's std-compatible validator, every code point split between pieces or cut
        // by a piece's end is stepped through the RFC 3629 automaton byte by byte, and ASCII
        // between code points is valid as it is. The caller passes the bytes it fed (the
        // length is asserted above), which only the receive path writes, before validation.
        unsafe {
            core::str::from_utf8_unchecked(bytes)
        }
    }
}

/// The bytes of messages validated as UTF-8 ([`Utf8Validator::feed`], [`ValidText::check`]),
/// counted in test builds only, for the tests that hold the receive path to taking ASCII
/// text without a check. Each thread counts its own.
#[cfg(test)]
pub(crate) mod checked {
    use core::cell::Cell;

    thread_local! {
        static BYTES: Cell<usize> = const { Cell::new(0) };
    }

    /// Count `n` bytes validated.
    pub(crate) fn add(n: usize) {
        BYTES.with(|b| b.set(b.get() + n));
    }

    /// The bytes validated on this thread since the last call.
    pub(crate) fn take() -> usize {
        BYTES.with(Cell::take)
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

    /// `as_str` around its ASCII path (text of `SMALL` to `ASCII_SCAN` bytes): all ASCII, and
    /// one byte changed at every position into a byte of each class (continuation, lead of a
    /// 2-, 3- and 4-byte form, never valid), agrees with `core::str::from_utf8`.
    #[test]
    fn as_str_agrees_with_std_around_the_ascii_path() {
        for len in [
            SMALL - 1,
            SMALL,
            SMALL + 1,
            100,
            125,
            ASCII_SCAN - 1,
            ASCII_SCAN,
            ASCII_SCAN + 1,
        ] {
            let ascii: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(as_str(&ascii), core::str::from_utf8(&ascii).ok(), "{len}");
            // Under Miri (which runs this for the unsafe block), a sample of the positions.
            for at in (0..len).step_by(if cfg!(miri) { 41 } else { 1 }) {
                for byte in [0x80, 0xC3, 0xE2, 0xF0, 0xFF] {
                    let mut b = ascii.clone();
                    b[at] = byte;
                    assert_eq!(
                        as_str(&b),
                        core::str::from_utf8(&b).ok(),
                        "{len} {at} {byte:x}"
                    );
                }
            }
        }
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

    /// `bytes` with `stray` inserted at `at` (taken modulo `bytes.len() + 1`).
    fn with_stray(mut bytes: Vec<u8>, stray: u8, at: usize) -> Vec<u8> {
        let at = at % (bytes.len() + 1);
        bytes.insert(at, stray);
        bytes
    }

    /// `bytes` fed to one validator in two pieces cut at `cut` (taken modulo
    /// `bytes.len() + 1`): the offset in `bytes` of the reported failure, and whether the
    /// validator ended complete.
    fn feed_in_two(bytes: &[u8], cut: usize) -> (Option<usize>, bool) {
        let cut = cut % (bytes.len() + 1);
        let mut v = Utf8Validator::new();
        let failed = match v.feed(&bytes[..cut]) {
            Err(e) => Some(e.revealed_at()),
            Ok(()) => v.feed(&bytes[cut..]).err().map(|e| cut + e.revealed_at()),
        };
        (failed, v.is_complete())
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
            let bytes = with_stray(text.into_bytes(), stray, at);
            proptest::prop_assert_eq!(feed_in_two(&bytes, cut).0, bytewise_failure(&bytes));
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
        // Under Miri (slow; `scripts/miri.sh` runs this test for the AVX-512 validator's
        // sake), pieces below and past 64 bytes, and one ending of each kind.
        let (extras, ends): (&[usize], &[&[u8]]) = if cfg!(miri) {
            (
                &[0, 24],
                &[ends[0], ends[3], ends[6], ends[8], ends[16], ends[26]],
            )
        } else {
            (&(0..70).collect::<Vec<_>>(), ends)
        };
        for prefix in ["a".repeat(40), "é".repeat(20), "€😀".repeat(9)] {
            for &extra in extras {
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
            let bytes = with_stray(chars.into_iter().collect::<String>().into_bytes(), stray, at);
            let (got, complete) = feed_in_two(&bytes, cut);
            proptest::prop_assert_eq!(got, bytewise_failure(&bytes));
            let accepted = got.is_none() && complete;
            proptest::prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
            proptest::prop_assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
        }
    }

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

    /// Mostly valid text with stray bytes: up to `parts` pieces, each a valid string of up to
    /// `chars` characters, a few non-ASCII bytes, or a few arbitrary bytes, concatenated.
    fn rough_text(
        chars: usize,
        parts: usize,
    ) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::strategy::Strategy as _;
        proptest::collection::vec(
            proptest::prop_oneof![
                proptest::string::string_regex(&format!("\\PC{{0,{chars}}}"))
                    .expect("valid regex")
                    .prop_map(String::into_bytes),
                proptest::collection::vec(0x80u8..=0xFF, 0..4),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
            ],
            0..parts,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        /// The validator accepts pieces exactly when their concatenation is valid UTF-8,
        /// wherever the cuts fall; the connection relies on it to hand out text unchecked.
        #[test]
        fn accepts_exactly_valid_utf8_at_any_split(
            bytes in rough_text(12, 8),
            cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..6),
        ) {
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

    /// The bulk validation as it was before short pieces went to the automaton: simdutf8's
    /// std-compatible validator (the long path's fallback), whose error gives the revealing
    /// byte.
    fn validate_bulk_reference(bytes: &[u8]) -> Result<usize, usize> {
        validate_compat(bytes).map_err(|e| e.revealed_at())
    }

    /// The short-text paths agree with `core::str::from_utf8` and with the reference bulk
    /// validation on `bytes`.
    fn check_short(bytes: &[u8]) {
        assert!(bytes.len() < SMALL);
        let std = core::str::from_utf8(bytes);
        assert_eq!(short_is_valid(bytes), std.is_ok(), "{bytes:x?}");
        assert_eq!(as_str(bytes), std.ok(), "{bytes:x?}");
        assert_eq!(
            validate_short(bytes).map_err(|e| e.revealed_at()),
            validate_bulk_reference(bytes),
            "{bytes:x?}"
        );
    }

    #[test]
    fn automaton_table_follows_rfc_3629() {
        // Each state's field in a row is a state, and ERROR stays ERROR.
        let states = [
            ERROR, ACCEPT, CONT1, CONT2, CONT3, AFTER_E0, AFTER_ED, AFTER_F0, AFTER_F4,
        ];
        for b in 0..=255u8 {
            for &s in &states {
                assert!(states.contains(&(step(s, b) & 63)), "{b:x} from {s}");
            }
            assert_eq!(step(ERROR, b) & 63, ERROR);
        }
    }

    #[test]
    fn short_paths_agree_with_std_on_every_string_of_up_to_three_bytes() {
        check_short(&[]);
        for a in 0..=255u8 {
            check_short(&[a]);
            for b in 0..=255u8 {
                check_short(&[a, b]);
                for c in 0..=255u8 {
                    let three = [a, b, c];
                    // All three checks on the multi-byte starts; the ASCII ones only repeat
                    // a case of two bytes after an ASCII byte.
                    if a >= 0x80 || b >= 0x80 || c >= 0x80 {
                        check_short(&three);
                    } else {
                        assert!(short_is_valid(&three));
                    }
                }
            }
        }
    }

    /// Bytes at and around each boundary of the RFC 3629 table.
    const BOUNDARIES: [u8; 24] = [
        0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC,
        0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
    ];

    #[test]
    fn short_paths_agree_with_std_on_four_bytes_around_every_boundary() {
        let tails = [0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF];
        for lead in 0..=255u8 {
            for &b in &BOUNDARIES {
                for &c in &tails {
                    for &d in &tails {
                        check_short(&[lead, b, c, d]);
                    }
                }
            }
        }
    }

    #[test]
    fn short_paths_agree_with_std_on_sequences_embedded_anywhere() {
        // Four-byte sequences (and, cut by the end of the text, their prefixes) around the
        // boundaries, inside ASCII and multi-byte text of every length up to `SMALL - 1`.
        let leads = [
            0x41, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0x80,
        ];
        let seconds = [0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0];
        let tails = [0x7F, 0x80, 0xBF, 0xC0];
        let ascii = b"The quick brown fox jumps over the lazy dog; 0123456789! etc.".repeat(2);
        let multi = "Привет, мир! 你好，世界 🙂 ещё булок 日本語 "
            .repeat(2)
            .into_bytes();
        let mut text = Vec::with_capacity(SMALL);
        for &lead in &leads {
            for &b in &seconds {
                for &c in &tails {
                    for &d in &tails {
                        let seq = [lead, b, c, d];
                        for context in [&ascii, &multi] {
                            for len in 1..SMALL {
                                // Every position for a few lengths, a few positions for all.
                                let every =
                                    matches!(len, 4 | 15 | 16 | 17 | 33) || len == SMALL - 1;
                                for at in 0..len {
                                    if !every && at != 0 && at != len / 2 && at + 4 < len {
                                        continue;
                                    }
                                    text.clear();
                                    text.extend_from_slice(&context[..at]);
                                    text.extend_from_slice(&seq);
                                    text.extend_from_slice(&context[at..]);
                                    text.truncate(len);
                                    check_short(&text);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        /// Short and long pieces around `SMALL`: the bulk validation gives what the reference
        /// gives, and `as_str` what `core::str::from_utf8` gives.
        #[test]
        fn bulk_validation_agrees_with_reference(bytes in rough_text(20, 10)) {
            proptest::prop_assert_eq!(
                validate_bulk(&bytes).map_err(|e| e.revealed_at()),
                validate_bulk_reference(&bytes)
            );
            proptest::prop_assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
        }
    }

    /// Text handed out through `ValidText` is the text validated, from a validator fed in
    /// pieces (code points split between them) or from one check of the whole text, short or
    /// long; invalid or incomplete text gives no `ValidText`.
    #[test]
    fn valid_text_hands_out_the_validated_bytes() {
        let texts = [
            "".to_owned(),
            "plain ascii".to_owned(),
            "aé€😀z".repeat(3),
            "κόσμε €😀 ".repeat(12),
        ];
        for text in &texts {
            let bytes = text.as_bytes();
            for cut in [
                0,
                1,
                2,
                bytes.len() / 2,
                bytes.len().saturating_sub(1),
                bytes.len(),
            ] {
                let cut = cut.min(bytes.len());
                let mut v = Utf8Validator::new();
                v.feed(&bytes[..cut]).unwrap();
                v.feed(&bytes[cut..]).unwrap();
                let valid = v.finish().expect("complete text");
                assert_eq!(valid.as_str(bytes), text.as_str());
            }
            let valid = ValidText::check(bytes).expect("valid text");
            assert_eq!(valid.as_str(bytes), text.as_str());
        }
        let mut v = Utf8Validator::new();
        v.feed("é".as_bytes()).unwrap();
        v.feed(&[0xE2, 0x82]).unwrap();
        assert_eq!(v.finish(), None);
        assert_eq!(ValidText::check(b"\xED\xA0\x80"), None);
        let mut long = "€".repeat(30).into_bytes();
        long[40] = 0xFF;
        assert_eq!(ValidText::check(&long), None);
    }

    /// Text known to hold a byte that is not ASCII skips the all-ASCII scan and is judged as
    /// `from_utf8` judges it, at every length around the automaton's and the scan's bounds.
    #[test]
    fn text_known_not_to_be_ascii_is_judged_as_any_text() {
        for len in [
            1,
            2,
            SMALL - 1,
            SMALL,
            SMALL + 1,
            125,
            ASCII_SCAN - 1,
            ASCII_SCAN,
            2000,
        ] {
            let mut text = "é".repeat(len / 2 + 1).into_bytes();
            text.truncate(len);
            for (i, bad) in [(None, 0), (Some(len / 2), 0xFF), (Some(len - 1), 0xC3)] {
                let mut bytes = text.clone();
                if let Some(i) = i {
                    bytes[i] = bad;
                }
                let want = core::str::from_utf8(&bytes).ok();
                for ascii in [Ascii::NotAll, Ascii::Unknown] {
                    let got = ValidText::check_unless_ascii(&bytes, ascii);
                    assert_eq!(
                        got.map(|v| v.as_str(&bytes)),
                        want,
                        "{len} bytes, {ascii:?}, {i:?}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "text handed out is not the text validated")]
    fn valid_text_refuses_other_bytes() {
        let valid = ValidText::check(b"abc").unwrap();
        let _ = valid.as_str(b"abcd");
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
