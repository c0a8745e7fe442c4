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
    if (SMALL..ASCII_SCAN).contains(&bytes.len()) && all_ascii(bytes) {
        #[allow(unsafe_code)]
        // SAFETY: no byte has its high bit set: the bytes are ASCII, which is valid UTF-8.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    } else {
        mixed_as_str(bytes)
    }
}

/// [`as_str`] without the scan for all-ASCII text, for bytes known to hold a byte that is
/// not ASCII (or too short or too long for the scan to pay): the automaton below [`SMALL`]
/// bytes, the SIMD validator from there.
#[inline]
fn mixed_as_str(bytes: &[u8]) -> Option<&str> {
    if bytes.len() < SMALL {
        return short_as_str(bytes);
    }
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
        Self::validate(bytes, as_str)
    }

    /// The proof for `bytes` if `validate` finds them to be text (counted in tests).
    #[inline]
    fn validate(bytes: &[u8], validate: fn(&[u8]) -> Option<&str>) -> Option<ValidText> {
        #[cfg(test)]
        checked::add(bytes.len());
        validate(bytes).map(|t| ValidText { len: t.len() })
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
            Ascii::NotAll => Self::validate(bytes, mixed_as_str),
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
mod tests;
