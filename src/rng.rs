//! Randomness for client masking keys and handshake nonces.
//!
//! RFC 6455 §5.3 requires masking keys that the application cannot predict, and §4.1 a random
//! 16-byte key nonce. Both come from a client's [`MaskSource`] (the nonce as four keys). With
//! the `getrandom` feature the default source is `OsRandom`, ChaCha12 keyed from the operating
//! system's CSPRNG, so that a frame costs no system call; without it the application supplies
//! the source, and a client without one sends nothing. Tests and fuzzers use [`FixedMasks`].

use alloc::vec::Vec;

#[cfg(feature = "getrandom")]
use rand_chacha::ChaCha12Rng;
#[cfg(feature = "getrandom")]
use rand_chacha::rand_core::{RngCore as _, SeedableRng as _};

/// A source of 4-byte masking keys for a client's frames (RFC 6455 §5.3).
///
/// A client connection takes one key per frame it sends, and four for its handshake's key
/// nonce (§4.1) unless the request sets one. With the `getrandom` feature (on by default) the
/// keys come from ChaCha12 keyed by the operating system's CSPRNG unless the application
/// supplies a source:
/// [`Connection::client_with_mask_source`](crate::Connection::client_with_mask_source) or
/// [`Connection::set_mask_source`](crate::Connection::set_mask_source), for instance with
/// fixed keys so that a test's output is the same on every run. Without the feature there is
/// no default: a target without an operating system supplies its hardware generator (or a
/// CSPRNG seeded from it) this way, `Connection::client` does not exist, and a client made by
/// [`Connection::from_upgraded`](crate::Connection::from_upgraded) refuses to send with
/// [`UsageError::NoMaskSource`](crate::UsageError::NoMaskSource) until it is given a source. Outside tests, keys must stay unpredictable to the application and to whoever
/// sees the traffic (§10.3): masking is what keeps a payload chosen by a script from reading
/// as another protocol to a proxy on the way.
///
/// ```
/// use wsmachine::{Config, Connection, MaskSource, Role};
///
/// /// One key for every frame: reproducible output for a test, never for real traffic.
/// struct SameKey([u8; 4]);
///
/// impl MaskSource for SameKey {
///     fn next_mask(&mut self) -> [u8; 4] {
///         self.0
///     }
/// }
///
/// let mut client = Connection::from_upgraded(Role::Client, Config::default());
/// client.set_mask_source(Box::new(SameKey([1, 2, 3, 4])));
/// client.send_text("hi").unwrap();
/// // FIN + text, MASK + length 2, the key, "hi" XOR the key.
/// assert_eq!(client.pending_output(), [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
/// ```
pub trait MaskSource: Send {
    /// The next masking key.
    fn next_mask(&mut self) -> [u8; 4];
}

/// Masking keys from ChaCha12 keyed by the operating system's CSPRNG: 32 bytes of OS
/// randomness key the generator on the first use, and again after every
/// [`RESEED_AFTER`](Self::RESEED_AFTER) keys (64 KiB of key stream).
///
/// This is the construction `rand`'s `ThreadRng` uses, the source tungstenite and
/// fastwebsockets mask with. Reading every key from the operating system costs a system call
/// per 64 keys and about 2 ns per byte in the kernel, 12–15 ns a key here: more than masking a
/// 125-byte frame (figures in `BENCHMARKS.md`, "Design measurements"); a key from ChaCha12
/// costs about 2.4 ns, and reading its position in the stream 1 ns more.
#[cfg(feature = "getrandom")]
pub struct OsRandom {
    /// Keyed with zeros until the first key is asked for; its position in the key stream
    /// says when to key it again (a counter of its own would take the connection's idle
    /// record past 1 KiB: the generator is 320 bytes, aligned to 16).
    rng: ChaCha12Rng,
}

#[cfg(feature = "getrandom")]
impl OsRandom {
    /// Keys given between two reads of the operating system's CSPRNG.
    pub const RESEED_AFTER: u32 = 16 * 1024;

    /// A new source; the first key triggers the first read from the operating system.
    pub fn new() -> Self {
        OsRandom {
            rng: ChaCha12Rng::from_seed([0; 32]),
        }
    }
}

#[cfg(feature = "getrandom")]
impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "getrandom")]
impl core::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OsRandom")
    }
}

#[cfg(feature = "getrandom")]
impl MaskSource for OsRandom {
    #[inline]
    fn next_mask(&mut self) -> [u8; 4] {
        // Position 0: never used since it was keyed, which only the zero key of `new` is at
        // this point (a reseed below is used at once).
        let pos = self.rng.get_word_pos();
        if pos == 0 || pos >= u128::from(Self::RESEED_AFTER) {
            self.reseed();
        }
        self.rng.next_u32().to_ne_bytes()
    }
}

#[cfg(feature = "getrandom")]
impl OsRandom {
    #[cold]
    fn reseed(&mut self) {
        let mut seed = [0u8; 32];
        fill_random(&mut seed);
        self.rng = ChaCha12Rng::from_seed(seed);
    }
}

/// A fixed sequence of masking keys, repeated: for tests and reproducible transcripts.
#[derive(Debug, Clone)]
pub struct FixedMasks {
    keys: Vec<[u8; 4]>,
    next: usize,
}

impl FixedMasks {
    /// Keys taken in order, starting over after the last. An empty list means the all-zero key.
    pub fn new(keys: Vec<[u8; 4]>) -> Self {
        FixedMasks { keys, next: 0 }
    }
}

impl MaskSource for FixedMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        if self.keys.is_empty() {
            return [0; 4];
        }
        let k = self.keys[self.next % self.keys.len()];
        self.next = self.next.wrapping_add(1);
        k
    }
}

/// A client handshake's key nonce (§4.1): four keys from `source`.
pub(crate) fn key_nonce(source: &mut dyn MaskSource) -> [u8; 16] {
    let mut key = [0u8; 16];
    for chunk in key.chunks_exact_mut(4) {
        chunk.copy_from_slice(&source.next_mask());
    }
    key
}

/// Fill `buf` from the operating system's CSPRNG.
///
/// # Panics
/// Only if the operating system cannot provide randomness at all, which on supported platforms
/// does not happen after boot; there is no safe fallback for a masking key.
#[cfg(feature = "getrandom")]
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("operating system randomness unavailable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "getrandom")]
    #[test]
    fn os_random_keys_differ() {
        let mut r = OsRandom::new();
        let keys: Vec<[u8; 4]> = (0..200).map(|_| r.next_mask()).collect();
        let mut dedup = keys.clone();
        dedup.sort();
        dedup.dedup();
        // 200 draws from 2^32 values: a collision is about 5e-6 likely; all-equal is impossible
        // for a working source.
        assert!(dedup.len() >= 199, "keys repeat: {keys:?}");
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn os_random_is_keyed_from_the_system_and_rekeyed() {
        // Two sources keyed independently: equal streams would mean a fixed key.
        let (mut a, mut b) = (OsRandom::new(), OsRandom::new());
        let first: Vec<[u8; 4]> = (0..8).map(|_| a.next_mask()).collect();
        let second: Vec<[u8; 4]> = (0..8).map(|_| b.next_mask()).collect();
        assert_ne!(first, second);
        // The generator is keyed again once RESEED_AFTER keys have been given.
        for _ in 8..OsRandom::RESEED_AFTER {
            a.next_mask();
        }
        let before = a.rng.get_seed();
        assert_eq!(a.rng.get_word_pos(), u128::from(OsRandom::RESEED_AFTER));
        a.next_mask();
        assert_eq!(a.rng.get_word_pos(), 1);
        assert_ne!(a.rng.get_seed(), before);
        assert_ne!(before, [0; 32]);
    }

    #[test]
    fn key_nonce_takes_four_keys_in_order() {
        let mut f = FixedMasks::new(vec![[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]);
        let key = key_nonce(&mut f);
        assert_eq!(key, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4]);
        assert_eq!(f.next_mask(), [5, 6, 7, 8]);
    }

    #[test]
    fn fixed_masks_cycle() {
        let mut f = FixedMasks::new(vec![[1, 2, 3, 4], [5, 6, 7, 8]]);
        assert_eq!(f.next_mask(), [1, 2, 3, 4]);
        assert_eq!(f.next_mask(), [5, 6, 7, 8]);
        assert_eq!(f.next_mask(), [1, 2, 3, 4]);
    }
}
