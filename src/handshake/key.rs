//! The handshake's key (RFC 6455 §4.1, §4.2.2): the check of a client's `Sec-WebSocket-Key`
//! and the `Sec-WebSocket-Accept` value derived from it.

use alloc::string::String;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (§1.3, §4.2.2): the base64 of the
/// SHA-1 of the key (as sent, base64 text) followed by the WebSocket GUID.
///
/// ```
/// assert_eq!(
///     wsmachine::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    accept_key_bytes(key)
        .iter()
        .map(|&b| char::from(b))
        .collect()
}

/// [`accept_key`] as its 28 base64 bytes, without allocating.
pub(super) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    base64_digest(&crate::sha1::key_digest(key))
}

/// The standard base64 alphabet (RFC 4648 §4).
const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The padded base64 of a 20-byte digest: six groups of three bytes, then two bytes and `=`.
fn base64_digest(digest: &[u8; 20]) -> [u8; 28] {
    let mut out = [b'='; 28];
    let sextet = |n: u32, shift: u32| BASE64_ALPHABET[(n >> shift & 0x3f) as usize];
    for (group, chars) in digest.chunks(3).zip(out.chunks_mut(4)) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // A group of two bytes gives three characters and keeps its padding.
        for (i, c) in chars.iter_mut().take(group.len() + 1).enumerate() {
            *c = sextet(n, 18 - 6 * i as u32);
        }
    }
    out
}

/// Whether a `Sec-WebSocket-Key` is the base64 of exactly 16 bytes (RFC 4648 §4, padded and
/// canonical, as the standard base64 engine decodes it): 21 alphabet characters, a 22nd that
/// carries only two bits (the 16th byte's last four bits are padding and must be zero), `==`.
pub(super) fn valid_key(key: &[u8]) -> bool {
    match key {
        [body @ .., last, b'=', b'='] if body.len() == 21 => {
            body.iter().fold(0, |acc, &c| acc | SEXTET[c as usize]) & NOT_BASE64 == 0
                && SEXTET[*last as usize] & (NOT_BASE64 | 0xf) == 0
        }
        _ => false,
    }
}

/// Set in [`SEXTET`] for a byte outside the base64 alphabet.
const NOT_BASE64: u8 = 0x80;

/// The 6-bit value of every base64 alphabet byte (RFC 4648 §4); [`NOT_BASE64`] for the others.
static SEXTET: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => NOT_BASE64,
        };
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;

    /// The base64 of a digest agrees with the base64 engine's, for 256 digests of one repeated
    /// byte and for pseudo-random ones.
    #[test]
    fn digest_base64_agrees_with_base64() {
        use base64::Engine as _;
        let mut digest = [0u8; 20];
        for seed in 0..2000u32 {
            for (i, b) in digest.iter_mut().enumerate() {
                *b = (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32 * 3) >> 7) as u8
                    ^ (i as u8).wrapping_mul(37);
            }
            if seed < 256 {
                digest = [seed as u8; 20];
            }
            let expected = base64::engine::general_purpose::STANDARD.encode(digest);
            assert_eq!(
                &base64_digest(&digest)[..],
                expected.as_bytes(),
                "{digest:?}"
            );
        }
    }

    /// The key check agrees with the standard base64 decoder on every one-byte change of a
    /// valid key, and of a key of each other length up to 26.
    #[test]
    fn key_check_agrees_with_base64() {
        use base64::Engine as _;
        let decodes_to_16 = |k: &[u8]| {
            base64::engine::general_purpose::STANDARD
                .decode(k)
                .is_ok_and(|v| v.len() == 16)
        };
        let mut keys: Vec<Vec<u8>> = vec![b"dGhlIHNhbXBsZSBub25jZQ==".to_vec()];
        keys.extend((0..=26).map(|n| b"AQIDBAUGBwgJCgsMDQ4PEA==AB"[..n].to_vec()));
        let mut accepted = 0;
        for key in keys {
            for at in 0..key.len() {
                for b in 0..=255u8 {
                    let mut k = key.clone();
                    k[at] = b;
                    assert_eq!(valid_key(&k), decodes_to_16(&k), "{k:?}");
                    accepted += usize::from(valid_key(&k));
                }
            }
        }
        assert!(accepted > 100);
    }

    /// The stack-only key check agrees with decoding by the base64 engine: every byte value at
    /// every position of valid keys, and every length around 24.
    #[test]
    fn key_check_matches_base64_decoding() {
        let reference = |k: &[u8]| BASE64.decode(k).is_ok_and(|d| d.len() == 16);
        let keys: Vec<Vec<u8>> = [[0u8; 16], [0xff; 16], *b"the sample nonce"]
            .iter()
            .map(|k| BASE64.encode(k).into_bytes())
            .collect();
        for key in &keys {
            assert!(valid_key(key));
            for at in 0..key.len() {
                for b in 0..=255u8 {
                    let mut k = key.clone();
                    k[at] = b;
                    assert_eq!(
                        valid_key(&k),
                        reference(&k),
                        "{:?}",
                        String::from_utf8_lossy(&k)
                    );
                }
            }
            for len in 0..=key.len() + 8 {
                let k: Vec<u8> = key.iter().copied().cycle().take(len).collect();
                assert_eq!(valid_key(&k), reference(&k), "{len}");
                let mut padded = key[..len.min(22)].to_vec();
                padded.resize(len, b'=');
                assert_eq!(valid_key(&padded), reference(&padded), "{len}=");
            }
        }
    }

    #[test]
    fn accept_key_bytes_match_the_rfc_example() {
        assert_eq!(
            &accept_key_bytes(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
