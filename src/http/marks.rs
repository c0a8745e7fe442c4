//! Many header lines at once: one pass over up to [`BLOCK`] bytes of the head sets a bit for
//! every byte that cannot be in a common field name and for every byte that cannot be in a
//! field value (RFC 9112 §5, RFC 9110 §5.5); each header line in the block is then found and
//! validated with a few bit scans instead of a loop over its bytes, whose end, a different
//! place on every line, the processor cannot predict.
//!
//! The pass takes 64 bytes per step with AVX-512 (where the processor has it: run-time
//! detection with `std`, the build's target features without); elsewhere there are no marks,
//! and every line goes through [`fast_field`](super::lines::fast_field) as before. A line the
//! marks do not take — a name with a rarer tchar, an error, a line not complete in the block,
//! the empty line — goes there too, so the marks only ever take lines the general parser
//! accepts, with the same result.

use core::ops::Range;

use super::lines::ows_trimmed;

/// The bytes marked at most in one pass.
pub(super) const BLOCK: usize = 1024;

const WORDS: usize = BLOCK / 64;

/// A window shorter than this is left to the line-by-line path: marking pays off over lines.
pub(super) const MIN_MARKED: usize = 128;

/// The marks of the first [`len`](Marks::len) bytes of a run of the head.
pub(super) struct Marks {
    /// Bit `i`: byte `i` is not an ASCII letter, digit or `-`, the bytes of nearly every field
    /// name (so the `:` after a name is the first such byte).
    odd: [u64; WORDS],
    /// Bit `i`: byte `i` cannot be in a field value: a control other than HTAB (so CR and LF),
    /// or DEL.
    stop: [u64; WORDS],
    /// Bytes marked. The bits past them in their last word are set for both kinds; later
    /// words may hold an earlier block's bits, so a search that ends at or past `len` has
    /// found nothing.
    len: usize,
    /// Whether any marked byte is non-ASCII (then a value's bytes are looked at once more).
    high: bool,
}

impl Marks {
    /// No marks: [`field`](Self::field) takes no line until [`mark`](Self::mark) succeeds.
    pub(super) const NONE: Marks = Marks {
        odd: [!0; WORDS],
        stop: [!0; WORDS],
        len: 0,
        high: false,
    };

    /// Mark the first [`BLOCK`] bytes of `s` (all of them, if fewer); `false`, marking
    /// nothing, where the processor lacks AVX-512BW.
    #[inline]
    pub(super) fn mark(&mut self, s: &[u8]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if x86_has!("avx512f", "avx512bw") {
            #[allow(unsafe_code)]
            // SAFETY: `avx512::mark` needs only AVX-512F and AVX-512BW, which `x86_has!` just
            // confirmed; its loads are masked to the bytes of `s`.
            unsafe {
                avx512::mark(self, &s[..s.len().min(BLOCK)])
            };
            return true;
        }
        let _ = s;
        false
    }

    /// Bytes marked.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The first set bit of `bits` at `from` or after it, or [`BLOCK`] if there is none.
    #[inline(always)]
    fn next(&self, bits: &[u64; WORDS], from: usize) -> usize {
        let mut w = from / 64;
        if w >= WORDS {
            return BLOCK;
        }
        let mut word = bits[w] & (!0u64 << (from % 64));
        while word == 0 {
            w += 1;
            if w == WORDS {
                return BLOCK;
            }
            word = bits[w];
        }
        w * 64 + word.trailing_zeros() as usize
    }

    /// The header line at `at` of the marked bytes `s`, if it is complete within the marks,
    /// its name is made of letters, digits and `-`, and it is valid: as
    /// [`fast_field`](super::lines::fast_field), the name's and the value's ranges and the
    /// line's length with its line end, relative to `at`. `None` leaves the line to the
    /// line-by-line path.
    #[inline(always)]
    pub(super) fn field(&self, s: &[u8], at: usize) -> Option<(Range<usize>, Range<usize>, usize)> {
        debug_assert!(at < self.len);
        // Name bytes are unmarked; the first marked byte must be the colon. Neither they nor
        // the colon can end a value, so the first byte that can (the line end) is searched
        // from the line's start, alongside.
        let colon = self.next(&self.odd, at);
        let stop = self.next(&self.stop, at);
        if stop >= self.len || colon >= stop || colon == at || s[colon] != b':' {
            return None;
        }
        let end = match s[stop] {
            b'\n' => stop + 1,
            b'\r' if s.get(stop + 1) == Some(&b'\n') => stop + 2,
            _ => return None,
        };
        let value = &s[colon + 1..stop];
        let (start, stop_trimmed) = ows_trimmed(value);
        if self.high && core::str::from_utf8(&value[start..stop_trimmed]).is_err() {
            return None;
        }
        let value_at = colon + 1 - at;
        Some((
            0..colon - at,
            value_at + start..value_at + stop_trimmed,
            end - at,
        ))
    }
}

/// The marks [`Marks::mark`] sets, one byte at a time: what the tests compare the kernel with.
#[cfg(test)]
pub(super) fn mark_bytes(marks: &mut Marks, s: &[u8]) {
    let s = &s[..s.len().min(BLOCK)];
    marks.len = s.len();
    for w in 0..s.len().div_ceil(64) {
        let (mut odd, mut stop) = (0u64, 0u64);
        for bit in 0..64 {
            // Past the bytes: marked for both kinds, as the kernels mark them.
            let Some(&b) = s.get(w * 64 + bit) else {
                odd |= 1 << bit;
                stop |= 1 << bit;
                continue;
            };
            if !(b.is_ascii_alphanumeric() || b == b'-') {
                odd |= 1 << bit;
            }
            if (b.is_ascii_control() && b != b'\t') || b == 0x7f {
                stop |= 1 << bit;
            }
        }
        marks.odd[w] = odd;
        marks.stop[w] = stop;
    }
    marks.high = !s.is_ascii();
}

#[cfg(test)]
impl Marks {
    /// The marks of the bytes marked, and whether one of them is non-ASCII.
    pub(super) fn bits(&self) -> (&[u64], &[u64], bool) {
        let words = self.len.div_ceil(64);
        (&self.odd[..words], &self.stop[..words], self.high)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    use super::{BLOCK, Marks};

    /// Marks of `s` (at most [`BLOCK`] bytes), 64 bytes per step; the last step's load is
    /// masked to the bytes that remain, and the zeros it reads in their place are marked.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn mark(marks: &mut Marks, s: &[u8]) {
        debug_assert!(s.len() <= BLOCK);
        marks.len = s.len();
        let mut high = 0u64;
        for (w, chunk) in s.chunks(64).enumerate() {
            let keep = if chunk.len() == 64 {
                !0u64
            } else {
                (1u64 << chunk.len()) - 1
            };
            #[allow(unsafe_code)]
            // SAFETY: the load reads only the bytes its mask selects, the `chunk.len()` bytes
            // of `chunk`; masked-off bytes are neither read nor faulted on, and come back 0.
            let x = unsafe { _mm512_maskz_loadu_epi8(keep, chunk.as_ptr().cast()) };
            // Letters: `x | 0x20` in `a..=z`; digits: `x` in `0..=9`; unsigned range tests.
            let folded = _mm512_or_si512(x, _mm512_set1_epi8(0x20));
            let letter = _mm512_cmple_epu8_mask(
                _mm512_sub_epi8(folded, _mm512_set1_epi8(b'a' as i8)),
                _mm512_set1_epi8(25),
            );
            let digit = _mm512_cmple_epu8_mask(
                _mm512_sub_epi8(x, _mm512_set1_epi8(b'0' as i8)),
                _mm512_set1_epi8(9),
            );
            let dash = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(b'-' as i8));
            let control = _mm512_cmple_epu8_mask(x, _mm512_set1_epi8(0x1f));
            let tab = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(b'\t' as i8));
            let del = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(0x7f));
            marks.odd[w] = !(letter | digit | dash) | !keep;
            marks.stop[w] = (control & !tab) | del | !keep;
            high |= _mm512_movepi8_mask(x);
        }
        marks.high = high != 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the processor has AVX-512BW, the kernel sets the marks the bytes call for: every
    /// byte value at every position of a 64-byte step, and every length of a last, shorter
    /// step (whose missing bytes are marked for both kinds and are never non-ASCII, though a
    /// non-ASCII byte follows them).
    #[test]
    fn the_kernel_marks_as_the_bytes_say() {
        #[cfg(target_arch = "x86_64")]
        if x86_has!("avx512f", "avx512bw") {
            let shifts: &[usize] = if cfg!(miri) {
                &[0]
            } else {
                &[0, 1, 5, 64, 200]
            };
            let lens: Vec<usize> = if cfg!(miri) {
                vec![0, 1, 31, 63, 64, 100, BLOCK]
            } else {
                (0..=BLOCK).collect()
            };
            for &shift in shifts {
                // 7 is coprime to 256 and to 64: every value lands on every residue.
                let block: Vec<u8> = (0..BLOCK + 1)
                    .map(|i| ((i * 7 + shift) % 256) as u8)
                    .collect();
                for &len in &lens {
                    let mut s = block[..len + 1].to_vec();
                    s[len] = 0xff;
                    let s = &s[..len];
                    let (mut want, mut got) = (Marks::NONE, Marks::NONE);
                    mark_bytes(&mut want, s);
                    #[allow(unsafe_code)]
                    // SAFETY: the processor has AVX-512F and AVX-512BW, checked above.
                    unsafe {
                        avx512::mark(&mut got, s)
                    };
                    assert_eq!((got.len(), got.bits()), (len, want.bits()), "{shift} {len}");
                }
            }
            let mut m = Marks::NONE;
            assert!(m.mark(&[b'a'; 300]));
            assert_eq!(m.len(), 300);
            return;
        }
        // Elsewhere `mark` marks nothing.
        let mut m = Marks::NONE;
        assert!(!m.mark(&[b'a'; 300]));
        assert_eq!(m.len(), 0);
    }
}
