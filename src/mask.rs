//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, repeating from the payload's start.
//!
//! Masking is its own inverse, so the same function masks outgoing client frames and unmasks
//! received ones.

/// The key rotated so that its byte 0 applies to payload position `offset`.
///
/// Done on a `u32` (one rotate instruction): rotating the byte array itself goes through the
/// generic slice rotation and costs more than masking a small frame.
#[inline(always)]
fn phase_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian: byte i of the word is key[i]; rotating right by 8·p makes byte i key[i + p].
    u32::from_le_bytes(key)
        .rotate_right(8 * (offset & 3) as u32)
        .to_le_bytes()
}

/// XOR `buf` in place with `key`, where `buf[0]` is at position `offset` of the frame payload (so
/// the key phase is `offset % 4`).
///
/// Works a block at a time in code the compiler vectorises; equal to [`apply_mask_bytewise`] for
/// every input. A payload shorter than one block is a few word XORs inlined at the call (a
/// call and the dispatch below were a third of a 16-byte frame's time); longer ones go to the
/// out-of-line kernel, which on x86-64 processors with AVX2 runs the same code compiled for
/// 256-bit registers from `AVX2_THRESHOLD` (512) bytes.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    if buf.len() < BLOCK {
        apply_mask_words(buf, phase_key(key, offset));
        return;
    }
    apply_mask_blocks(buf, key, offset);
}

/// [`apply_mask`] for payloads of at least one block.
#[inline(never)]
fn apply_mask_blocks(buf: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    if buf.len() >= AVX2_THRESHOLD && x86_has!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: `apply_mask_avx2` only requires the AVX2 instructions to exist, which
        // `x86_has!` just confirmed on this processor; it is otherwise the
        // safe portable code below.
        unsafe {
            apply_mask_avx2(buf, key, offset)
        };
        return;
    }
    apply_mask_portable(buf, key, offset);
}

/// [`apply_mask`], also telling whether every byte it wrote is ASCII: for text, whose UTF-8
/// check such bytes make needless, found in the same pass (one OR a word, where the loop's
/// time is its loads and stores).
///
/// The ORs are kept over the first [`TELL_FIRST`] bytes, and over the rest only when those
/// were all ASCII: multi-byte text pays for them on one kibibyte, not on the whole payload.
#[inline]
pub(crate) fn apply_mask_ascii(buf: &mut [u8], key: [u8; 4], offset: usize) -> bool {
    if buf.len() < BLOCK {
        return apply_mask_words(buf, phase_key(key, offset)) & HIGH_BITS == 0;
    }
    apply_mask_ascii_blocks(buf, key, offset)
}

/// [`apply_mask_ascii`] for payloads of at least one block, out of line as
/// [`apply_mask_blocks`] is (inlined, it slowed 16-byte text frames by a tenth).
#[inline(never)]
fn apply_mask_ascii_blocks(buf: &mut [u8], key: [u8; 4], offset: usize) -> bool {
    tell_ascii(buf.len(), |range, seen| {
        let at = offset + range.start;
        if seen {
            apply_mask_seen(&mut buf[range], key, at)
        } else {
            apply_mask(&mut buf[range], key, at);
            0
        }
    })
}

/// Bytes of a payload over which [`apply_mask_ascii`] and [`mask_into_ascii`] keep the ORs of
/// the bytes written whatever they find; past them only while every byte was ASCII.
const TELL_FIRST: usize = 1024;

/// Whether the `len` bytes a kernel writes are all ASCII: `step(range, true)` writes the
/// bytes of `range` and returns their OR, `step(range, false)` only writes them. The first
/// [`TELL_FIRST`] bytes are ORed whatever they hold, the rest only while all was ASCII.
#[inline(always)]
fn tell_ascii(len: usize, mut step: impl FnMut(core::ops::Range<usize>, bool) -> u64) -> bool {
    let first = len.min(TELL_FIRST);
    let ascii = step(0..first, true) & HIGH_BITS == 0;
    if first == len {
        return ascii;
    }
    if ascii {
        step(first..len, true) & HIGH_BITS == 0
    } else {
        step(first..len, false);
        false
    }
}

/// [`apply_mask`] returning the OR of every byte written, spread over a word.
#[inline(never)]
fn apply_mask_seen(buf: &mut [u8], key: [u8; 4], offset: usize) -> u64 {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    if buf.len() >= AVX2_THRESHOLD && x86_has!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: as in `apply_mask_blocks`.
        return unsafe { apply_mask_ascii_avx2(buf, key, offset) };
    }
    apply_mask_portable(buf, key, offset)
}

/// The high bit of every byte of a word: set in an OR of bytes when one of them is not ASCII.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Write `src` into `dst`, XORed with `key`, where `src[0]` is at position `offset` of the
/// frame payload: a copy and an unmask in one pass over the bytes, for payload that arrives in
/// a caller's buffer and must be copied anyway. Equal to `dst.copy_from_slice(src)`, then
/// [`apply_mask`].
///
/// # Panics
///
/// If `dst` and `src` differ in length, as `copy_from_slice` does: a shorter one would
/// otherwise leave payload bytes unwritten or unread without a sign.
#[inline]
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    assert_eq!(dst.len(), src.len(), "mask_into: lengths differ");
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    if src.len() >= AVX2_THRESHOLD && x86_has!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: as in `apply_mask`: the AVX2 build of safe code, called after run-time
        // detection confirmed the processor has AVX2.
        unsafe {
            mask_into_avx2(dst, src, key, offset)
        };
        return;
    }
    mask_into_portable(dst, src, key, offset);
}

/// [`mask_into`], also telling whether every byte it wrote is ASCII (see
/// [`apply_mask_ascii`]).
///
/// # Panics
///
/// As `mask_into`, if `dst` and `src` differ in length.
#[inline]
pub(crate) fn mask_into_ascii(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> bool {
    assert_eq!(dst.len(), src.len(), "mask_into: lengths differ");
    tell_ascii(src.len(), |range, seen| {
        let at = offset + range.start;
        let (dst, src) = (&mut dst[range.clone()], &src[range]);
        if seen {
            mask_into_seen(dst, src, key, at)
        } else {
            mask_into(dst, src, key, at);
            0
        }
    })
}

/// [`mask_into`] returning the OR of the bytes written.
#[inline]
fn mask_into_seen(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> u64 {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    if src.len() >= AVX2_THRESHOLD && x86_has!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: as in `mask_into`.
        return unsafe { mask_into_ascii_avx2(dst, src, key, offset) };
    }
    mask_into_portable(dst, src, key, offset)
}

/// [`mask_into_portable`] compiled with AVX2 enabled.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn mask_into_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    mask_into_portable(dst, src, key, offset);
}

/// [`mask_into_portable`] compiled with AVX2 enabled, its OR of the bytes written kept.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn mask_into_ascii_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> u64 {
    mask_into_portable(dst, src, key, offset)
}

/// The copy and unmask of [`mask_into`]; returns the OR of every byte written, spread over a
/// word (callers that do not need it drop it, and the compiler with it).
#[inline(always)]
fn mask_into_portable(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) -> u64 {
    // As `apply_mask_portable`: up to the destination's first cache-line boundary first, then
    // runs of four blocks as one loop body.
    let mut seen = 0;
    let (dst, src, key) = if dst.len() >= ALIGN_FROM {
        let head = lead_len(dst.as_ptr(), dst.len());
        let (lead, dst) = dst.split_at_mut(head);
        let (lead_src, src) = src.split_at(head);
        seen |= mask_into_words(lead, lead_src, phase_key(key, offset));
        (dst, src, phase_key(key, offset + head))
    } else {
        (dst, src, phase_key(key, offset))
    };
    let k8 = key_word(key);
    let mut d = dst.chunks_exact_mut(UNROLL * BLOCK);
    let mut s = src.chunks_exact(UNROLL * BLOCK);
    for (dr, sr) in (&mut d).zip(&mut s) {
        seen |= xor_words_into(dr, sr, k8);
    }
    // Each run is a multiple of 4 bytes long, so the tail starts at key phase 0.
    seen | mask_into_words(d.into_remainder(), s.remainder(), key)
}

/// `mask_into` from key phase 0, a word at a time: a lead, a tail, or a short payload. Returns
/// the OR of the bytes written.
#[inline(always)]
fn mask_into_words(dst: &mut [u8], src: &[u8], key: [u8; 4]) -> u64 {
    let whole = dst.len() & !7;
    let (words, rest) = dst.split_at_mut(whole);
    let mut seen = xor_words_into(words, &src[..whole], key_word(key));
    // Words are 8 bytes, so the rest starts at key phase 0 too.
    for (i, (o, x)) in rest.iter_mut().zip(&src[whole..]).enumerate() {
        *o = *x ^ key[i & 3];
        seen |= u64::from(*o);
    }
    seen
}

/// Below this length the AVX2 path does not pay for its dispatch and wider tail.
#[cfg_attr(
    not(all(target_arch = "x86_64", not(target_feature = "avx2"))),
    allow(dead_code)
)]
const AVX2_THRESHOLD: usize = 512;

/// [`apply_mask_portable`] compiled with AVX2 enabled (the code is the same; the compiler
/// vectorises it to 256-bit registers).
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
    apply_mask_portable(buf, key, offset);
}

/// [`apply_mask_portable`] compiled with AVX2 enabled, its OR of the bytes written kept.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
#[target_feature(enable = "avx2")]
fn apply_mask_ascii_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) -> u64 {
    apply_mask_portable(buf, key, offset)
}

/// The unmask of [`apply_mask`]; returns the OR of every byte written, spread over a word
/// (callers that do not need it drop it, and the compiler with it).
#[inline(always)]
fn apply_mask_portable(buf: &mut [u8], key: [u8; 4], offset: usize) -> u64 {
    // A long buffer's bytes before its first cache-line boundary first, so that no store of
    // the block loop straddles two lines (64 KiB in place: ~100 GB/s unaligned, ~160 aligned).
    let mut seen = 0;
    let (buf, key) = if buf.len() >= ALIGN_FROM {
        let head = lead_len(buf.as_ptr(), buf.len());
        let (lead, rest) = buf.split_at_mut(head);
        seen |= apply_mask_words(lead, phase_key(key, offset));
        (rest, phase_key(key, offset + head))
    } else {
        (buf, phase_key(key, offset))
    };
    // Each run is a multiple of 4 bytes long, so each starts at key phase 0. A run is four
    // blocks written out as one loop body rather than left to the loop unroller, which a
    // fat-LTO build did not run on this loop (64 KiB: ~110 GB/s against ~160).
    let k8 = key_word(key);
    let mut runs = buf.chunks_exact_mut(UNROLL * BLOCK);
    for run in &mut runs {
        seen |= xor_words(run, k8);
    }
    // What is left, a block at a time while a block is left (a payload under four blocks
    // is mostly this).
    let mut blocks = runs.into_remainder().chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        seen |= xor_words(block, k8);
    }
    seen | apply_mask_words(blocks.into_remainder(), key)
}

/// The key repeated in a word, in memory order: one multiply puts the key's four bytes in
/// both halves of the `u64`, whatever the byte order (rebuilding it from the bytes costs a
/// shift and an OR per byte, a fifth of a 16-byte frame's unmasking).
#[inline(always)]
fn key_word(key: [u8; 4]) -> u64 {
    u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001
}

/// XOR each whole 8-byte word of `buf` with `k8` (bytes past the last whole word are left);
/// returns the OR of the words written.
#[inline(always)]
fn xor_words(buf: &mut [u8], k8: u64) -> u64 {
    let mut seen = 0;
    for word in buf.chunks_exact_mut(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_ne_bytes(w) ^ k8;
        seen |= x;
        word.copy_from_slice(&x.to_ne_bytes());
    }
    seen
}

/// Write each whole 8-byte word of `src` XORed with `k8` to `dst` (of the same length);
/// returns the OR of the words written.
#[inline(always)]
fn xor_words_into(dst: &mut [u8], src: &[u8], k8: u64) -> u64 {
    let mut seen = 0;
    for (o, i) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(i);
        let x = u64::from_ne_bytes(w) ^ k8;
        seen |= x;
        o.copy_from_slice(&x.to_ne_bytes());
    }
    seen
}

/// XOR `buf`, starting at key phase 0, a word at a time: what is left after the blocks, and
/// the whole of a payload too short for them. Returns the OR of the bytes written.
#[inline(always)]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4]) -> u64 {
    let k4 = u32::from_ne_bytes(key);
    let whole = buf.len() & !7;
    let (words, mut rest) = buf.split_at_mut(whole);
    let mut seen = xor_words(words, key_word(key));
    if rest.len() >= 4 {
        let (four, tail) = rest.split_at_mut(4);
        let w = u32::from_ne_bytes([four[0], four[1], four[2], four[3]]) ^ k4;
        seen |= u64::from(w);
        four.copy_from_slice(&w.to_ne_bytes());
        rest = tail;
    }
    for (b, k) in rest.iter_mut().zip(key) {
        *b ^= k;
        seen |= u64::from(*b);
    }
    seen
}

/// Bytes XORed per iteration of the vectorised loop (chosen by measurement: `BENCHMARKS.md`,
/// "Design measurements").
const BLOCK: usize = 32;

/// Blocks XORed per iteration of the in-place loop.
const UNROLL: usize = 4;

/// Alignment the in-place block loop starts at: a cache line.
const ALIGN: usize = 64;

/// Buffers from this length on are aligned before the block loop: the AVX2 path's threshold.
/// At 1 KiB aligning measured 70 → 108 GB/s for a buffer 16 bytes off a line; shorter
/// buffers were not measured and keep the loop as it was.
const ALIGN_FROM: usize = 512;

/// How many of the `len` bytes at `ptr` lie before the next `ALIGN`-byte boundary (all of
/// them if the boundary is past the end).
#[inline(always)]
fn lead_len(ptr: *const u8, len: usize) -> usize {
    ptr.align_offset(ALIGN).min(len)
}

/// XOR `buf` in place with `key` one byte at a time, where `buf[0]` is at position `offset` of
/// the frame payload: the reference [`apply_mask`] is checked against.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example_key() {
        // §5.7: "Hello" masked with 37 fa 21 3d.
        let mut p = *b"Hello";
        apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(p, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    /// `apply_mask` equals the bytewise reference for every length and offset given.
    fn check_against_bytewise(lengths: impl Iterator<Item = usize>, key: [u8; 4], offsets: usize) {
        for len in lengths {
            for offset in 0..offsets {
                let orig: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = orig.clone();
                let mut slow = orig;
                apply_mask(&mut fast, key, offset);
                apply_mask_bytewise(&mut slow, key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn matches_bytewise_across_block_boundaries() {
        check_against_bytewise(0..(3 * BLOCK + 9), [0x12, 0x34, 0x56, 0x78], 8);
    }

    #[test]
    fn wide_path_matches_bytewise() {
        // Lengths around and well above AVX2_THRESHOLD, so that the run-time selected build is
        // checked against the reference on machines that have AVX2.
        let lengths = (AVX2_THRESHOLD - 40..AVX2_THRESHOLD + 200).chain([4096, 65_537]);
        check_against_bytewise(lengths, [0x9a, 0x01, 0xff, 0x42], 4);
    }

    #[test]
    fn mask_into_equals_copy_then_mask() {
        let key = [0x9a, 0x01, 0xff, 0x42];
        let lengths = (0..3 * BLOCK + 9)
            .chain(AVX2_THRESHOLD - 40..AVX2_THRESHOLD + 80)
            .chain([4096, 65_537]);
        for len in lengths {
            for offset in 0..5 {
                let src: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                let mut want = src.clone();
                apply_mask_bytewise(&mut want, key, offset);
                let mut got = vec![0u8; len];
                mask_into(&mut got, &src, key, offset);
                assert_eq!(got, want, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn mask_into_refuses_slices_of_different_lengths() {
        mask_into(&mut [0u8; 8], &[0u8; 9], [1, 2, 3, 4], 0);
    }

    #[test]
    fn any_start_address_keeps_the_key_phase() {
        // Long buffers are masked from their first cache-line boundary on after the bytes
        // before it: start them at every distance from a boundary.
        let key = [0x0f, 0xf0, 0x55, 0xaa];
        let backing: Vec<u8> = (0..ALIGN_FROM + 4 * ALIGN + 300)
            .map(|i| (i * 31 + 7) as u8)
            .collect();
        for len in [
            ALIGN_FROM - 1,
            ALIGN_FROM,
            ALIGN_FROM + 77,
            ALIGN_FROM + 2 * ALIGN + 3,
        ] {
            for start in 0..2 * ALIGN {
                for offset in 0..4 {
                    let src = &backing[start..start + len];
                    let mut want = src.to_vec();
                    apply_mask_bytewise(&mut want, key, offset);
                    let mut inplace = backing.clone();
                    apply_mask(&mut inplace[start..start + len], key, offset);
                    assert_eq!(
                        &inplace[start..start + len],
                        &want[..],
                        "len {len} start {start}"
                    );
                    let mut into = backing.clone();
                    mask_into(&mut into[start..start + len], src, key, offset);
                    assert_eq!(
                        &into[start..start + len],
                        &want[..],
                        "len {len} start {start}"
                    );
                    // Bytes around the slice are left alone.
                    for out in [&inplace, &into] {
                        assert_eq!(&out[..start], &backing[..start]);
                        assert_eq!(&out[start + len..], &backing[start + len..]);
                    }
                }
            }
        }
    }

    #[test]
    fn ascii_is_told_exactly_in_both_kernels() {
        // Text that unmasks to ASCII, but for one byte (or none) at every place a kernel
        // treats apart: the lead before a cache line, the runs, the blocks, the words, the
        // last bytes, and either side of the first kibibyte.
        let key = [0x93, 0x21, 0xc4, 0x7e];
        let backing: Vec<u8> = (0..3 * TELL_FIRST + 4 * ALIGN)
            .map(|i| b' ' + (i * 7 % 95) as u8)
            .collect();
        let lengths = [
            0,
            1,
            3,
            4,
            7,
            8,
            9,
            31,
            32,
            33,
            127,
            128,
            129,
            ALIGN_FROM + 77,
            TELL_FIRST - 1,
            TELL_FIRST,
            TELL_FIRST + 1,
            2 * TELL_FIRST + 77,
        ];
        for len in lengths {
            for start in [0, 1, 5, 16, 63] {
                for offset in 0..4 {
                    let highs = [
                        None,
                        Some(0),
                        Some(len / 2),
                        Some(len.saturating_sub(1)),
                        Some(TELL_FIRST - 1),
                        Some(TELL_FIRST),
                    ];
                    for high in highs {
                        let mut plain = backing[start..start + len].to_vec();
                        if let Some(at) = high.filter(|&at| at < len) {
                            plain[at] |= 0x80;
                        }
                        let ascii = plain.is_ascii();
                        let mut wire = plain.clone();
                        apply_mask_bytewise(&mut wire, key, offset);
                        let mut inplace = backing.clone();
                        inplace[start..start + len].copy_from_slice(&wire);
                        let got = apply_mask_ascii(&mut inplace[start..start + len], key, offset);
                        assert_eq!(&inplace[start..start + len], &plain[..]);
                        assert_eq!(got, ascii, "in place: len {len} start {start} {high:?}");
                        let mut into = backing.clone();
                        let got =
                            mask_into_ascii(&mut into[start..start + len], &wire, key, offset);
                        assert_eq!(&into[start..start + len], &plain[..]);
                        assert_eq!(got, ascii, "into: len {len} start {start} {high:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn split_masking_equals_whole() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let orig: Vec<u8> = (0..200u8).collect();
        let mut whole = orig.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..orig.len() {
            let mut parts = orig.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            assert_eq!(parts, whole, "cut {cut}");
        }
    }
}
