//! SHA-1 of a handshake key followed by the WebSocket GUID (RFC 6455 §4.2.2, FIPS 180-4 §6.1),
//! the input of `Sec-WebSocket-Accept`.
//!
//! `sha1_smol` computes it on any processor. A valid key is always 24 bytes (the base64 of a
//! 16-byte nonce), so the message is always 60 bytes: two blocks, the second of them padding
//! alone. On x86-64 processors with the SHA extensions those two blocks run on the SHA
//! instructions instead (figures: `BENCHMARKS.md`, "Design measurements").

/// The GUID appended to the key before hashing (§1.3).
pub(crate) const GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// SHA-1 of `key` followed by [`GUID`].
#[inline]
pub(crate) fn key_digest(key: &[u8]) -> [u8; 20] {
    #[cfg(target_arch = "x86_64")]
    if let Ok(key) = <&[u8; 24]>::try_from(key)
        && x86::available()
    {
        #[allow(unsafe_code)]
        // SAFETY: `digest_60` only needs the processor features it is compiled for (SHA,
        // SSE2, SSE4.1), which `available` has just confirmed at run time.
        return unsafe { x86::digest_60(key) };
    }
    portable(key)
}

/// [`key_digest`] with `sha1_smol`, for any processor and any key length.
pub(crate) fn portable(key: &[u8]) -> [u8; 20] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    sha.digest().bytes()
}

#[cfg(target_arch = "x86_64")]
/// The SHA-1 initial hash value (FIPS 180-4 §5.3.1).
const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

#[cfg(target_arch = "x86_64")]
/// The 16 words of the first block of a 60-byte message `key ‖ GUID`: six words of key, nine
/// of GUID, then the padding's 1 bit (FIPS 180-4 §5.1.1) in the last byte of the block's 61st.
fn first_block(key: &[u8; 24]) -> [u32; 16] {
    let mut w = [0u32; 16];
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    for (i, word) in w.iter_mut().enumerate().take(6) {
        *word = be(&key[4 * i..]);
    }
    for (i, word) in w.iter_mut().enumerate().skip(6).take(9) {
        *word = be(&GUID[4 * (i - 6)..]);
    }
    w[15] = 0x8000_0000;
    w
}

#[cfg(target_arch = "x86_64")]
/// The second block: zeros, then the message length in bits (60 × 8).
const SECOND_BLOCK: [u32; 16] = {
    let mut w = [0u32; 16];
    w[15] = 60 * 8;
    w
};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_set_epi32, _mm_sha1msg1_epu32,
        _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32, _mm_xor_si128,
    };

    use super::{H0, SECOND_BLOCK, first_block};

    /// Whether the processor has what [`digest_60`] is compiled for (detection is cached).
    /// Never under Miri, which cannot execute the SHA instructions (the portable path runs
    /// there instead, even in a build that enables them).
    #[inline]
    pub(super) fn available() -> bool {
        if cfg!(miri) {
            return false;
        }
        x86_has!("sha", "sse4.1")
    }

    /// SHA-1 of the 60-byte message `key ‖ GUID` with the SHA instructions.
    #[target_feature(enable = "sha,sse2,sse4.1")]
    pub(super) fn digest_60(key: &[u8; 24]) -> [u8; 20] {
        // The state as the instructions hold it: A, B, C, D from the highest lane down, and E
        // in the highest lane of its own register.
        let abcd = _mm_set_epi32(H0[0] as i32, H0[1] as i32, H0[2] as i32, H0[3] as i32);
        let e = _mm_set_epi32(H0[4] as i32, 0, 0, 0);
        let (abcd, e) = compress(abcd, e, &first_block(key));
        let (abcd, e) = compress(abcd, e, &SECOND_BLOCK);
        let h = [
            _mm_extract_epi32::<3>(abcd),
            _mm_extract_epi32::<2>(abcd),
            _mm_extract_epi32::<1>(abcd),
            _mm_extract_epi32::<0>(abcd),
            _mm_extract_epi32::<3>(e),
        ];
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// Four message words, the first in the highest lane.
    #[inline]
    #[target_feature(enable = "sha,sse2,sse4.1")]
    fn words(w: &[u32]) -> __m128i {
        _mm_set_epi32(w[0] as i32, w[1] as i32, w[2] as i32, w[3] as i32)
    }

    /// The 80 rounds on one block (FIPS 180-4 §6.1.2) as 20 steps of four rounds: step `s`
    /// uses round function `s / 5` and message words `4s..4s+4`, the first four steps' from
    /// the block, the others expanded from the previous four steps' words.
    #[inline]
    #[target_feature(enable = "sha,sse2,sse4.1")]
    fn compress(abcd: __m128i, e: __m128i, block: &[u32; 16]) -> (__m128i, __m128i) {
        let mut w = [
            words(&block[0..4]),
            words(&block[4..8]),
            words(&block[8..12]),
            words(&block[12..16]),
        ];
        // E plus the step's words, for each step: the first from the saved E, then from A of
        // two states back (which `sha1nexte` rotates into E).
        let mut e_plus_w = _mm_add_epi32(e, w[0]);
        let mut state = abcd;
        let mut before = abcd;
        macro_rules! step {
            ($s:expr, $f:expr) => {
                if $s > 0 {
                    if $s >= 4 {
                        let expanded = _mm_sha1msg2_epu32(
                            _mm_xor_si128(
                                _mm_sha1msg1_epu32(w[$s % 4], w[($s + 1) % 4]),
                                w[($s + 2) % 4],
                            ),
                            w[($s + 3) % 4],
                        );
                        w[$s % 4] = expanded;
                    }
                    e_plus_w = _mm_sha1nexte_epu32(before, w[$s % 4]);
                }
                before = state;
                state = _mm_sha1rnds4_epu32::<$f>(state, e_plus_w);
            };
        }
        step!(0, 0);
        step!(1, 0);
        step!(2, 0);
        step!(3, 0);
        step!(4, 0);
        step!(5, 1);
        step!(6, 1);
        step!(7, 1);
        step!(8, 1);
        step!(9, 1);
        step!(10, 2);
        step!(11, 2);
        step!(12, 2);
        step!(13, 2);
        step!(14, 2);
        step!(15, 3);
        step!(16, 3);
        step!(17, 3);
        step!(18, 3);
        step!(19, 3);
        (_mm_add_epi32(state, abcd), _mm_sha1nexte_epu32(before, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_example() {
        // RFC 6455 §1.3: the key's digest, which base64 writes as s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
        let want = [
            0xb3, 0x7a, 0x4f, 0x2c, 0xc0, 0x62, 0x4f, 0x16, 0x90, 0xf6, 0x46, 0x06, 0xcf, 0x38,
            0x59, 0x45, 0xb2, 0xbe, 0xc4, 0xea,
        ];
        assert_eq!(key_digest(b"dGhlIHNhbXBsZSBub25jZQ=="), want);
        assert_eq!(portable(b"dGhlIHNhbXBsZSBub25jZQ=="), want);
    }

    /// The processor path is the one these tests exercise wherever the processor has it (with
    /// `std`; without it, wherever the build also enables the instructions).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sha_instructions_detected_as_the_processor_reports() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if cpuinfo.split_whitespace().any(|flag| flag == "sha_ni") {
            let enabled = cfg!(feature = "std")
                || cfg!(all(target_feature = "sha", target_feature = "sse4.1"));
            assert_eq!(x86::available(), !cfg!(miri) && enabled);
        }
    }

    proptest! {
        #[test]
        fn equals_sha1_smol_for_any_key(key in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(key_digest(&key), portable(&key));
        }

        #[test]
        fn equals_sha1_smol_for_24_byte_keys(key in any::<[u8; 24]>()) {
            prop_assert_eq!(key_digest(&key), portable(&key));
        }
    }
}
