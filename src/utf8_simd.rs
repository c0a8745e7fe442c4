//! UTF-8 validation with AVX-512 (RFC 3629 §4), 64 bytes at a time.
//!
//! The method is the "lookup" algorithm of Keiser and Lemire ("Validating UTF-8 In Less Than
//! One Instruction Per Byte", Software: Practice and Experience, 2021). Every byte is looked at
//! together with the byte before it: three 16-entry tables, indexed by the high and the low
//! nibble of the previous byte and by the high nibble of the current one, give one bit per
//! class of error a pair of bytes can show, and their AND keeps the bits all three agree on.
//! What a pair cannot show — that the third and fourth bytes of a 3- or 4-byte code point are
//! continuations, and only those — comes from the bytes two and three back. A block of ASCII
//! only needs the check that the block before it did not end inside a code point; so does the
//! end of the input.
//!
//! # Why `Some(true)` means valid UTF-8
//!
//! `utf8.rs` hands out text as `&str` on [`is_valid`]'s word alone, so the argument is written
//! out here. Tests check each step: `the_tables_are_the_pair_classes` the tables against the
//! classes on every pair of bytes, and `the_model_accepts_exactly_utf8` the checks below against
//! `core::str::from_utf8`, on any processor; the remaining tests compare the vector code itself
//! with `core::str::from_utf8` where the processor has AVX-512.
//!
//! **What is computed.** Let `b[0..n]` be the input, with zeros before it (the `prev` block
//! before the first) and after it (the zeros of the masked tail load, and past the last block
//! the `fits` check of `State::finish`, which is the check of one more block of zeros). Zeros
//! are ASCII, so this padded sequence is valid UTF-8 exactly when the input is. At every
//! position `i` of it the validator ORs `pair(i) ^ must(i)` into `errors` (in effect, for the
//! blocks of ASCII it skips: see below), and accepts the input when `errors` is zero in the
//! end, where
//!
//! * `pair(i) = PREV_HIGH[b[i-1] >> 4] & PREV_LOW[b[i-1] & 0xF] & CUR_HIGH[b[i] >> 4]`, and
//! * `must(i)` is `0x80` when `b[i-2] >= 0xE0` or `b[i-3] >= 0xF0` (byte `i` is then the
//!   third or the fourth of the code point led there), and 0 otherwise.
//!
//! **The classes and the tables.** Each bit of `pair` stands for one class of pairs
//! (`b[i-1]`, `b[i]`), and each class is a product: a set of high nibbles of `b[i-1]`, a set of
//! its low nibbles and a set of high nibbles of `b[i]`. Bit 6 holds the paper's `OVERLONG_4`
//! and `TOO_LARGE_1000`, which share a bit there too: their union is still a product.
//!
//! | bit | class | `b[i-1]` | `b[i]` | high of `b[i-1]` | low of `b[i-1]` | high of `b[i]` |
//! |---|---|---|---|---|---|---|
//! | 0 | `TOO_SHORT` | `C0..=FF` | `00..=7F`, `C0..=FF` | C–F | any | 0–7, C–F |
//! | 1 | `TOO_LONG` | `00..=7F` | `80..=BF` | 0–7 | any | 8–B |
//! | 2 | `OVERLONG_3` | `E0` | `80..=9F` | E | 0 | 8, 9 |
//! | 3 | `TOO_LARGE` | `F4..=FF` | `90..=BF` | F | 4–F | 9–B |
//! | 4 | `SURROGATE` | `ED` | `A0..=BF` | E | D | A, B |
//! | 5 | `OVERLONG_2` | `C0`, `C1` | `80..=BF` | C | 0, 1 | 8–B |
//! | 6 | `OVERLONG_4`, `TOO_LARGE_1000` | `F0`, `F5..=FF` | `80..=8F` | F | 0, 5–F | 8 |
//! | 7 | `TWO_CONTINUATIONS` | `80..=BF` | `80..=BF` | 8–B | any | 8–B |
//!
//! Entry `x` of `PREV_HIGH` holds the bits of the classes whose column "high of `b[i-1]`"
//! contains `x`; likewise `PREV_LOW` and `CUR_HIGH` (`ANY_LOW` is bits 0, 1 and 7, in
//! every entry of `PREV_LOW`). A bit survives the AND of the three lookups exactly when each
//! nibble is in its set, that is when the pair is in the class: `pair(i)` is the set of the
//! classes of the pair. Bits 0 to 6 are the pairs that RFC 3629 §4 never allows: a lead byte
//! (`C0..=FF`) not followed by a continuation; a continuation after ASCII; and, after each lead
//! byte, the continuations its row of the table refuses (`C0`, `C1` and `F5..=FF` refuse all;
//! `E0` all but `A0..=BF`; `ED` all but `80..=9F`; `F0` all but `90..=BF`; `F4` all but
//! `80..=8F`). Bit 7, two continuations, is allowed exactly at the third and fourth bytes of a
//! code point, which is where `must(i)` is `0x80`.
//!
//! **Accepted exactly when valid.** If the input is valid, at each `i` either a code point
//! starts at `i` (`b[i-1]` is ASCII or a continuation, or padding, and `b[i]` ASCII or a lead
//! `C2..=F4`: no class), or `b[i]` is the second byte of one (a pair its lead allows, and no
//! continuation before it, so not bit 7), or its third or fourth (two continuations: bit 7
//! alone); and `must(i)` is `0x80` in the third case only. So `pair(i) ^ must(i)` is 0
//! everywhere. Conversely, suppose it is 0 everywhere, and that the bytes before some
//! position `k` are whole code points (at first `k = 0`). Then no lead byte among the three
//! before `k` still expects bytes, so `must(k)` and `must(k+1)` are 0, and `b[k-1]` is ASCII
//! or a continuation. If `b[k]` is a continuation, `pair(k)` has bit 1 (after ASCII) or bit 7
//! (after a continuation) with `must(k)` 0: impossible. If it is ASCII, it is a whole code
//! point. If it is a lead, `pair(k+1)` must be 0: `b[k+1]` is a continuation its lead allows,
//! so `b[k]` is in `C2..=F4` (and `b[k+1]` is not padding). A lead `C2..=DF` ends there:
//! `must(k+2)` is 0, so `b[k+2]` is no continuation (bit 7). A lead `E0..=EF` gives
//! `must(k+2) = 0x80`, so `pair(k+2)` is bit 7 alone and `b[k+2]` a continuation, then
//! `must(k+3) = 0` ends the code point. A lead `F0..=F4` likewise takes continuations at `k+2`
//! and `k+3` (`must` from `b[k] >= 0xE0`, then `b[k] >= 0xF0`) and none at `k+4`. Either way a
//! whole code point follows `k`, and induction covers the padded sequence: the input is
//! valid.
//!
//! **The vector code computes it.** `step` builds `prev1`, `prev2` and `prev3` (the bytes 1,
//! 2 and 3 back, across block and lane boundaries) by aligning each 128-bit lane of the block
//! with the lane before it (`alignr_epi64` by six words puts the previous lane under each lane,
//! the last lane of `prev` under the first). Nibbles come from a 16-bit shift and a mask of
//! `0x0F` in each byte, so the lookups (`vpshufb`, within each lane, of the tables repeated in
//! every lane) have indices 0 to 15; the ternary `0x80` is their AND. `must` is a saturating
//! subtraction: `b - 0x60` reaches `0x80` exactly for `b >= 0xE0`, `b - 0x70` exactly for
//! `b >= 0xF0`, and the ternary `0xA8`, `(third | fourth) & 0x80`, keeps that bit alone; the
//! ternary `0xF6` is `errors | (pair ^ must)`.
//!
//! **Blocks of ASCII.** A block that is all ASCII skips `step`: in it `pair ^ must` can only
//! be nonzero at its first three bytes, and only when the block before holds a lead byte among
//! its last three bytes whose code point does not end in it (`C0` and up at byte 63, `E0` and
//! up at 62, `F0` and up at 61). `fits` (`FF` but `BF`, `DF`, `EF` at bytes 63, 62, 61),
//! subtracted with saturation from that block, is nonzero exactly there, so `ascii` records an
//! error exactly when `step` would. Two blocks of ASCII in a row are the same check on the
//! block before them, as the first of the two ends inside no code point; and `finish` is that
//! check on the last block, as if a block of zeros followed.
//!
//! **Every load is in bounds.** The loop over pairs of blocks reads 64 bytes at offsets 0 and
//! 64 of a 128-byte chunk, the loop over blocks 64 bytes of a 64-byte chunk, and the tail is a
//! masked load of fewer than 64 bytes whose mask has exactly `tail.len()` bits set: AVX-512
//! neither reads the masked-off bytes nor faults on them.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Whether `bytes` is valid UTF-8 (`core::str::from_utf8(bytes).is_ok()`), computed with
/// AVX-512; `None` when the processor lacks the instructions. The module documentation says
/// why the answer is exact.
#[inline]
pub fn is_valid(bytes: &[u8]) -> Option<bool> {
    #[cfg(target_arch = "x86_64")]
    if x86_has!("avx512f", "avx512bw") {
        #[allow(unsafe_code)]
        // SAFETY: `validate_avx512` requires only the AVX-512F and AVX-512BW instructions,
        // which `x86_has!` just confirmed this processor has; its memory
        // accesses are bounded by the slice it is given.
        return Some(unsafe { validate_avx512(bytes) });
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
    None
}

// One bit per class of error a byte and the byte before it can show together, with the
// paper's bit numbers. Each class is a product of a condition on the previous byte's high
// nibble, one on its low nibble and one on the current byte's high nibble, so that the AND of
// three table lookups yields it (the module documentation has the table of classes); two
// errors share a bit where the union of their products is still a product on each nibble.

/// A lead byte (`11xxxxxx`) followed by a byte that is not a continuation.
#[cfg(target_arch = "x86_64")]
const TOO_SHORT: u8 = 1 << 0;
/// An ASCII byte followed by a continuation (`10xxxxxx`).
#[cfg(target_arch = "x86_64")]
const TOO_LONG: u8 = 1 << 1;
/// `E0` followed by `80..=9F`: a 3-byte form of a code point below U+0800.
#[cfg(target_arch = "x86_64")]
const OVERLONG_3: u8 = 1 << 2;
/// `F4` followed by `90..=BF`, or `F5..=FF` followed by `90..=BF`: above U+10FFFF.
#[cfg(target_arch = "x86_64")]
const TOO_LARGE: u8 = 1 << 3;
/// `ED` followed by `A0..=BF`: a surrogate, U+D800 to U+DFFF.
#[cfg(target_arch = "x86_64")]
const SURROGATE: u8 = 1 << 4;
/// `C0` or `C1` followed by a continuation: a 2-byte form of an ASCII code point.
#[cfg(target_arch = "x86_64")]
const OVERLONG_2: u8 = 1 << 5;
/// `F0` followed by `80..=8F` (a 4-byte form of a code point below U+10000), or `F5..=FF`
/// followed by `80..=8F` (above U+10FFFF, the part `TOO_LARGE` leaves out): the paper's
/// `OVERLONG_4` and `TOO_LARGE_1000`.
#[cfg(target_arch = "x86_64")]
const OVERLONG_4_OR_TOO_LARGE_80: u8 = 1 << 6;
/// A continuation followed by a continuation (the paper's `TWO_CONTS`): an error unless the
/// current byte is the third or fourth of a 3- or 4-byte code point, which the bytes further
/// back decide.
#[cfg(target_arch = "x86_64")]
const TWO_CONTINUATIONS: u8 = 1 << 7;

/// The bits that depend on the previous byte's high nibble only.
#[cfg(target_arch = "x86_64")]
const ANY_LOW: u8 = TOO_SHORT | TOO_LONG | TWO_CONTINUATIONS;

/// Indexed by the previous byte's high nibble.
#[cfg(target_arch = "x86_64")]
const PREV_HIGH: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = match i {
            0x0..=0x7 => TOO_LONG,
            0x8..=0xB => TWO_CONTINUATIONS,
            0xC => TOO_SHORT | OVERLONG_2,
            0xD => TOO_SHORT,
            0xE => TOO_SHORT | OVERLONG_3 | SURROGATE,
            _ => TOO_SHORT | TOO_LARGE | OVERLONG_4_OR_TOO_LARGE_80,
        };
        i += 1;
    }
    t
};

/// Indexed by the previous byte's low nibble.
#[cfg(target_arch = "x86_64")]
const PREV_LOW: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = ANY_LOW
            | match i {
                0x0 => OVERLONG_2 | OVERLONG_3 | OVERLONG_4_OR_TOO_LARGE_80,
                0x1 => OVERLONG_2,
                0x2 | 0x3 => 0,
                0x4 => TOO_LARGE,
                0xD => TOO_LARGE | OVERLONG_4_OR_TOO_LARGE_80 | SURROGATE,
                _ => TOO_LARGE | OVERLONG_4_OR_TOO_LARGE_80,
            };
        i += 1;
    }
    t
};

/// Indexed by the current byte's high nibble.
#[cfg(target_arch = "x86_64")]
const CUR_HIGH: [u8; 16] = {
    let mut t = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        // Errors whose second byte is any continuation.
        let cont = TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS;
        t[i] = match i {
            0x8 => cont | OVERLONG_3 | OVERLONG_4_OR_TOO_LARGE_80,
            0x9 => cont | OVERLONG_3 | TOO_LARGE,
            0xA | 0xB => cont | SURROGATE | TOO_LARGE,
            _ => TOO_SHORT,
        };
        i += 1;
    }
    t
};

/// The validation loop. The caller must make sure the processor has AVX-512F and AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn validate_avx512(bytes: &[u8]) -> bool {
    let mut state = State::new();
    // Two blocks at a time, so that ASCII text costs one test per 128 bytes.
    let mut pairs = bytes.chunks_exact(128);
    for pair in &mut pairs {
        #[allow(unsafe_code)]
        // SAFETY: `pair` is a slice of exactly 128 bytes: the two unaligned 64-byte loads
        // read its first and its second half.
        let (first, second) = unsafe {
            (
                _mm512_loadu_si512(pair.as_ptr().cast()),
                _mm512_loadu_si512(pair.as_ptr().add(64).cast()),
            )
        };
        if _mm512_movepi8_mask(_mm512_or_si512(first, second)) == 0 {
            state.ascii(second);
        } else {
            state.step(first);
            state.step(second);
        }
    }
    let mut blocks = pairs.remainder().chunks_exact(64);
    for block in &mut blocks {
        #[allow(unsafe_code)]
        // SAFETY: `block` is a slice of exactly 64 bytes, the size of the unaligned load.
        let cur = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        if _mm512_movepi8_mask(cur) == 0 {
            state.ascii(cur);
        } else {
            state.step(cur);
        }
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        // The bytes past the input read as zeros: ASCII, so a code point cut by the end of the
        // input shows as too short where its next byte would be.
        let present: __mmask64 = (1u64 << tail.len()) - 1;
        #[allow(unsafe_code)]
        // SAFETY: `tail` has fewer than 64 bytes, and the load reads only the first
        // `tail.len()` of them: masked-off bytes are neither read nor can they fault.
        let cur = unsafe { _mm512_maskz_loadu_epi8(present, tail.as_ptr().cast()) };
        if _mm512_movepi8_mask(cur) == 0 {
            state.ascii(cur);
        } else {
            state.step(cur);
        }
    }
    state.finish()
}

/// What the validation carries from one 64-byte block to the next.
#[cfg(target_arch = "x86_64")]
struct State {
    /// Nonzero bytes where an error was seen.
    errors: __m512i,
    /// The previous block (zeros before the first).
    prev: __m512i,
    /// `FF` but in the last three bytes, which hold the greatest lead byte whose code point
    /// still fits in the block there: of 1 byte at byte 63, of 2 at 62, of 3 at 61.
    /// Subtracting it with saturation from a block leaves nonzero bytes only where the next
    /// block must continue a code point.
    fits: __m512i,
    /// The three tables, each repeated in the four 128-bit lanes (`vpshufb` looks up within a
    /// lane).
    prev_high: __m512i,
    prev_low: __m512i,
    cur_high: __m512i,
}

#[cfg(target_arch = "x86_64")]
impl State {
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn new() -> Self {
        Self {
            errors: _mm512_setzero_si512(),
            prev: _mm512_setzero_si512(),
            fits: _mm512_set_epi64(0xBFDF_EFFF_FFFF_FFFFu64 as i64, -1, -1, -1, -1, -1, -1, -1),
            prev_high: table(PREV_HIGH),
            prev_low: table(PREV_LOW),
            cur_high: table(CUR_HIGH),
        }
    }

    /// Take the next 64 bytes, all ASCII: valid unless the block before ends inside a code
    /// point.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn ascii(&mut self, cur: __m512i) {
        self.fail_if_prev_incomplete();
        self.prev = cur;
    }

    /// Check the next 64 bytes, not all ASCII.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn step(&mut self, cur: __m512i) {
        // `shifted` holds, in each 128-bit lane, the lane before it of `prev:cur` (lane 0: the
        // last lane of `prev`), so that a byte-wise align within lanes reads across them.
        let shifted = _mm512_alignr_epi64::<6>(cur, self.prev);
        let prev1 = _mm512_alignr_epi8::<15>(cur, shifted);
        let prev2 = _mm512_alignr_epi8::<14>(cur, shifted);
        let prev3 = _mm512_alignr_epi8::<13>(cur, shifted);

        let low_nibble = _mm512_set1_epi8(0x0F);
        let prev1_high = _mm512_and_si512(_mm512_srli_epi16::<4>(prev1), low_nibble);
        let prev1_low = _mm512_and_si512(prev1, low_nibble);
        let cur_high = _mm512_and_si512(_mm512_srli_epi16::<4>(cur), low_nibble);
        // a & b & c
        let pair_errors = _mm512_ternarylogic_epi32::<0x80>(
            _mm512_shuffle_epi8(self.prev_high, prev1_high),
            _mm512_shuffle_epi8(self.prev_low, prev1_low),
            _mm512_shuffle_epi8(self.cur_high, cur_high),
        );

        // High bit set where the byte two back is a 3- or 4-byte lead (>= E0), or the byte
        // three back a 4-byte lead (>= F0): there the byte must be a continuation following a
        // continuation, which is the one case where `TWO_CONTINUATIONS` is not an error.
        let third = _mm512_subs_epu8(prev2, _mm512_set1_epi8((0xE0u8 - 0x80) as i8));
        let fourth = _mm512_subs_epu8(prev3, _mm512_set1_epi8((0xF0u8 - 0x80) as i8));
        // (a | b) & c
        let must_continue = _mm512_ternarylogic_epi32::<0xA8>(
            third,
            fourth,
            _mm512_set1_epi8(TWO_CONTINUATIONS as i8),
        );
        // errors | (pair_errors ^ must_continue)
        self.errors = _mm512_ternarylogic_epi32::<0xF6>(self.errors, pair_errors, must_continue);

        self.prev = cur;
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn fail_if_prev_incomplete(&mut self) {
        self.errors = _mm512_or_si512(self.errors, _mm512_subs_epu8(self.prev, self.fits));
    }

    /// Whether all the blocks were valid and the last one ended at a code point boundary.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn finish(mut self) -> bool {
        self.fail_if_prev_incomplete();
        _mm512_test_epi8_mask(self.errors, self.errors) == 0
    }
}

/// A 16-byte table in each 128-bit lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn table(t: [u8; 16]) -> __m512i {
    let lane = u128::from_le_bytes(t);
    let (lo, hi) = (lane as u64 as i64, (lane >> 64) as u64 as i64);
    _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo)
}

#[cfg(test)]
mod tests {
    use super::is_valid;
    use proptest::prelude::*;

    /// `is_valid` agrees with `core::str::from_utf8` on `bytes`.
    fn agrees(bytes: &[u8]) -> bool {
        is_valid(bytes).is_none_or(|v| v == core::str::from_utf8(bytes).is_ok())
    }

    /// With `std`, exactly when the processor has the instructions; without it (no run-time
    /// detection), exactly when the build enables them.
    #[test]
    fn available_exactly_when_the_processor_has_avx512bw() {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        let has = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw");
        #[cfg(all(target_arch = "x86_64", not(feature = "std")))]
        let has = cfg!(all(target_feature = "avx512f", target_feature = "avx512bw"));
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        // A Miri build with the features enabled runs the vector code (`scripts/miri.sh`).
        if cfg!(all(
            miri,
            target_feature = "avx512f",
            target_feature = "avx512bw"
        )) {
            assert!(has);
        }
        assert_eq!(is_valid(b"").is_some(), has);
        assert_eq!(is_valid("é".repeat(100).as_bytes()).is_some(), has);
    }

    /// Second bytes on and around every boundary of the RFC 3629 table, and others.
    const BOUNDARY: [u8; 10] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];

    /// The AND of the three tables is, for every pair of bytes, the set of the classes of the
    /// pair as the module documentation defines them on the bytes themselves.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_tables_are_the_pair_classes() {
        use super::*;
        let cont = |b: u8| (0x80..=0xBF).contains(&b);
        for prev in 0..=255u8 {
            for cur in 0..=255u8 {
                let classes = [
                    (TOO_SHORT, prev >= 0xC0 && !cont(cur)),
                    (TOO_LONG, prev < 0x80 && cont(cur)),
                    (OVERLONG_3, prev == 0xE0 && (0x80..=0x9F).contains(&cur)),
                    (TOO_LARGE, prev >= 0xF4 && (0x90..=0xBF).contains(&cur)),
                    (SURROGATE, prev == 0xED && (0xA0..=0xBF).contains(&cur)),
                    (OVERLONG_2, (prev == 0xC0 || prev == 0xC1) && cont(cur)),
                    (
                        OVERLONG_4_OR_TOO_LARGE_80,
                        (prev == 0xF0 || prev >= 0xF5) && (0x80..=0x8F).contains(&cur),
                    ),
                    (TWO_CONTINUATIONS, cont(prev) && cont(cur)),
                ];
                let want = classes
                    .iter()
                    .filter(|(_, holds)| *holds)
                    .fold(0, |bits, (bit, _)| bits | bit);
                let got = PREV_HIGH[usize::from(prev >> 4)]
                    & PREV_LOW[usize::from(prev & 0xF)]
                    & CUR_HIGH[usize::from(cur >> 4)];
                assert_eq!(got, want, "{prev:02x} {cur:02x}");
            }
        }
    }

    /// The checks of the module documentation, one byte at a time: `pair(i) ^ must(i)` is zero
    /// at every position of the input between zeros.
    #[cfg(target_arch = "x86_64")]
    fn model_accepts(bytes: &[u8]) -> bool {
        use super::{CUR_HIGH, PREV_HIGH, PREV_LOW};
        let padded: Vec<u8> = [0u8; 3]
            .iter()
            .chain(bytes)
            .chain(&[0u8; 3])
            .copied()
            .collect();
        (3..padded.len()).all(|i| {
            let (prev, cur) = (padded[i - 1], padded[i]);
            let pair = PREV_HIGH[usize::from(prev >> 4)]
                & PREV_LOW[usize::from(prev & 0xF)]
                & CUR_HIGH[usize::from(cur >> 4)];
            let must = if padded[i - 2] >= 0xE0 || padded[i - 3] >= 0xF0 {
                0x80
            } else {
                0
            };
            pair ^ must == 0
        })
    }

    /// The checks accept exactly UTF-8, on every sequence of up to three bytes (in optimised
    /// builds; third bytes on the boundaries in debug builds) and on four-byte sequences around
    /// every boundary, whatever the processor.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_model_accepts_exactly_utf8() {
        let check = |bytes: &[u8]| {
            assert_eq!(
                model_accepts(bytes),
                core::str::from_utf8(bytes).is_ok(),
                "{bytes:x?}"
            );
        };
        let thirds: Vec<u8> = if cfg!(debug_assertions) {
            BOUNDARY.to_vec()
        } else {
            (0..=255).collect()
        };
        check(&[]);
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
                for &c in &thirds {
                    check(&[a, b, c]);
                }
            }
            for &b in &BOUNDARY {
                for &c in &BOUNDARY {
                    for &d in &BOUNDARY {
                        check(&[a, b, c, d]);
                    }
                }
            }
        }
    }

    #[test]
    fn every_one_and_two_byte_sequence() {
        for a in 0..=255u8 {
            assert!(agrees(&[a]), "{a:x}");
            for b in 0..=255u8 {
                assert!(agrees(&[a, b]), "{a:x} {b:x}");
            }
        }
    }

    #[test]
    fn three_byte_sequences() {
        // All of them in optimised builds; in debug builds every pair of first two bytes with
        // third bytes on the boundaries.
        let thirds: Vec<u8> = if cfg!(debug_assertions) {
            BOUNDARY.to_vec()
        } else {
            (0..=255).collect()
        };
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for &c in &thirds {
                    assert!(agrees(&[a, b, c]), "{a:x} {b:x} {c:x}");
                }
            }
        }
    }

    #[test]
    fn four_byte_sequences_around_every_boundary() {
        for a in 0xC0..=0xFFu8 {
            for &b in &BOUNDARY {
                for &c in &BOUNDARY {
                    for &d in &BOUNDARY {
                        assert!(agrees(&[a, b, c, d]), "{a:x} {b:x} {c:x} {d:x}");
                    }
                }
            }
        }
    }

    /// Valid and invalid sequences of each kind, including every code point on a boundary
    /// of the RFC 3629 table and each truncated.
    fn probes() -> Vec<Vec<u8>> {
        let mut probes: Vec<Vec<u8>> = Vec::new();
        for c in [
            '\0',
            '\x7F',
            '\u{80}',
            '\u{7FF}',
            '\u{800}',
            '\u{FFF}',
            '\u{1000}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFF}',
            '\u{10000}',
            '\u{3FFFF}',
            '\u{40000}',
            '\u{10FFFF}',
        ] {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            for n in 1..=bytes.len() {
                probes.push(bytes[..n].to_vec());
            }
        }
        probes.extend(
            [
                &[0x80][..],
                &[0xBF, 0xBF],
                &[0xC0, 0x80],
                &[0xC1, 0xBF],
                &[0xC2, 0x7F],
                &[0xC2, 0xC0],
                &[0xE0, 0x9F, 0x80],
                &[0xED, 0xA0, 0x80],
                &[0xED, 0xBF, 0xBF],
                &[0xE1, 0x80, 0x41],
                &[0xEF, 0xBF, 0xBF, 0xBF],
                &[0xF0, 0x8F, 0xBF, 0xBF],
                &[0xF4, 0x90, 0x80, 0x80],
                &[0xF5, 0x80, 0x80, 0x80],
                &[0xF8, 0x88, 0x80, 0x80, 0x80],
                &[0xFF],
                &[0xF1, 0x80, 0x80, 0x41],
                &[0xF1, 0x80, 0x41, 0x80],
                &[0xF1, 0x80, 0x80, 0x80, 0x80],
                &[0xE1, 0x80, 0x80, 0x80],
                &[0xC2, 0x80, 0x80],
            ]
            .map(<[u8]>::to_vec),
        );
        probes
    }

    /// `len` bytes of valid text: characters of every width (whole ones only), padded with
    /// ASCII; or ASCII only.
    fn filler(len: usize, multibyte: bool, phase: usize) -> Vec<u8> {
        let chars = ['é', '€', '😀', 'Ж', 'z', '\u{10FFFF}', '\u{800}'];
        let mut out = Vec::with_capacity(len);
        if multibyte {
            for c in chars.iter().cycle().skip(phase) {
                let mut buf = [0u8; 4];
                let c = c.encode_utf8(&mut buf).as_bytes();
                if out.len() + c.len() > len {
                    break;
                }
                out.extend_from_slice(c);
            }
        }
        out.resize(len, b'a');
        out
    }

    #[test]
    fn probes_at_every_offset_and_length() {
        for probe in probes() {
            for multibyte in [false, true] {
                for offset in 0..=130usize {
                    for len in offset + probe.len()..=200 {
                        let mut buf = filler(offset, multibyte, 0);
                        buf.extend_from_slice(&probe);
                        buf.extend(filler(len - buf.len(), multibyte, 3));
                        assert!(agrees(&buf), "{probe:x?} at {offset} of {len}, {multibyte}");
                    }
                }
            }
        }
    }

    /// Every input length from 0 to 200 (so every length of the masked tail, after no block,
    /// one block or pairs of blocks), ASCII and multi-byte, valid and with its last byte
    /// replaced by a lead byte, each input the whole of its allocation and a slice inside a
    /// larger one. Under Miri, which runs this test with AVX-512 enabled (`scripts/miri.sh`),
    /// a load outside the slice is an error even where the allocation goes on.
    #[test]
    fn every_length_in_bounds() {
        for len in 0..=200usize {
            for multibyte in [false, true] {
                let text = filler(len, multibyte, 1);
                let mut cut = text.clone();
                if let Some(last) = cut.last_mut() {
                    *last = 0xE2;
                }
                for bytes in [text, cut] {
                    // Exactly as long as its allocation.
                    let exact = bytes.clone().into_boxed_slice();
                    assert!(agrees(&exact), "{len} {multibyte} {bytes:x?}");
                    // Inside a larger allocation, with bytes on both sides that would change
                    // the answer if read.
                    let mut wide = vec![0x80u8; len + 130];
                    wide[64..64 + len].copy_from_slice(&bytes);
                    assert!(agrees(&wide[64..64 + len]), "{len} {multibyte} {bytes:x?}");
                }
            }
        }
    }

    #[test]
    fn code_point_cut_by_a_block_end_then_ascii() {
        // Each block or pair of blocks after the cut is all ASCII, so only the check that the
        // block before ends on a boundary can catch it.
        for cut in [
            &[0xC3][..],
            &[0xE2],
            &[0xE2, 0x82],
            &[0xF0],
            &[0xF0, 0x9F],
            &[0xF0, 0x9F, 0x98],
        ] {
            for multibyte in [false, true] {
                // Under Miri (slow), the first two block ends and lengths around them.
                for end in [64, 128, 192, 256]
                    .into_iter()
                    .take(if cfg!(miri) { 2 } else { 4 })
                {
                    let lens: Vec<usize> = if cfg!(miri) {
                        vec![end, end + 1, end + 63, end + 64, end + 65, end + 130]
                    } else {
                        (end..=end + 260).collect()
                    };
                    for len in lens {
                        let mut buf = filler(end - cut.len(), multibyte, 0);
                        buf.extend_from_slice(cut);
                        buf.resize(len, b'a');
                        assert!(agrees(&buf), "{cut:x?} ending at {end} of {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_pair_across_a_block_boundary_and_in_the_tail() {
        // Positions 62-63 and 63-64 straddle a block boundary; 126-127 end a 128-byte input
        // made of full blocks; 70-71 end an input in its tail.
        for (at, len) in [(62, 130), (63, 130), (126, 128), (70, 72), (0, 64)] {
            for multibyte in [false, true] {
                let base = {
                    let mut buf = filler(at, multibyte, 0);
                    buf.extend([0, 0]);
                    buf.extend(filler(len - at - 2, multibyte, 1));
                    buf
                };
                for a in 0..=255u8 {
                    for b in 0..=255u8 {
                        let mut buf = base.clone();
                        buf[at] = a;
                        buf[at + 1] = b;
                        assert!(agrees(&buf), "{a:x} {b:x} at {at} of {len}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert!(agrees(&bytes));
        }

        #[test]
        fn random_bytes_mostly_non_ascii(
            bytes in proptest::collection::vec(0x80u8..=0xFF, 0..300),
        ) {
            prop_assert!(agrees(&bytes));
        }

        /// Valid text with one byte changed, inserted or deleted.
        #[test]
        fn valid_text_with_one_edit(
            chars in proptest::collection::vec(any::<char>(), 0..120),
            at in any::<usize>(),
            byte in any::<u8>(),
            edit in 0..3u8,
        ) {
            let mut bytes = chars.into_iter().collect::<String>().into_bytes();
            prop_assert!(agrees(&bytes));
            let at = at % (bytes.len() + 1);
            match edit {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, byte),
            }
            prop_assert!(agrees(&bytes), "{:x?}", bytes);
        }

        #[test]
        fn valid_text_truncated_at_every_length(
            chars in proptest::collection::vec(any::<char>(), 0..80),
        ) {
            let bytes = chars.into_iter().collect::<String>().into_bytes();
            for n in 0..=bytes.len() {
                prop_assert!(agrees(&bytes[..n]), "{:x?}", &bytes[..n]);
                prop_assert!(agrees(&bytes[n..]), "{:x?}", &bytes[n..]);
            }
        }
    }
}
