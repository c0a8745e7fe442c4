//! Copying received bytes into the receive buffer, unmasking large frames on the way (§5.3).
//!
//! A server unmasks every payload byte a client sends. When the bytes come from the caller's
//! slice ([`crate::Connection::receive`]) they must be copied into the connection's buffer
//! anyway, and copying then unmasking in place walks the payload twice. [`FusedUnmask`] follows
//! the frame boundaries in the bytes as they are copied and writes the payload of large frames
//! already unmasked ([`crate::mask::mask_into`]): one pass over the bytes instead of two.
//!
//! The connection's frame parser stays the only judge of the frames: this module only reads a
//! header's length and masking key, and stops at the first header it cannot follow (an invalid
//! or unmasked one, which the parser will reject) or whose payload is small (below
//! [`FUSE_MIN_FRAME`], where the second pass costs less than following the boundaries). What
//! it has unmasked is reported as a position in the buffer: payload bytes below it are plain,
//! bytes from it on are still masked and the parser unmasks them as before.

use crate::frame::{MAX_HEADER_LEN, decode_header};
use crate::mask::{apply_mask, mask_into};

/// Frames with a payload below this size end fused unmasking: the parser unmasks them in
/// place, which costs less than following their boundaries during the copy (figures:
/// `BENCHMARKS.md`, "Design measurements").
pub(crate) const FUSE_MIN_FRAME: u64 = 32 * 1024;

/// Follows the frame sequence of a server's input while it is copied into the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FusedUnmask {
    /// The next frame's header starts at `at` in the buffer; the bytes from `at` to the end of
    /// the buffered data are a prefix of it.
    Header { at: usize },
    /// `left` payload bytes of the current frame are still to come; the next one is at position
    /// `offset` (mod 4) of the payload.
    Payload { key: [u8; 4], offset: u8, left: u64 },
}

/// Whether fused unmasking continues after a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fuse {
    /// Still following the frames: keep the state for the next copy.
    Continue,
    /// A small, invalid or unmasked frame was met: the parser takes over from here.
    Stopped,
}

impl FusedUnmask {
    /// Start at the payload of a frame of which `done` of `len` bytes were already received
    /// (`None` when none are left: a header comes next).
    pub(crate) fn in_payload(key: [u8; 4], done: usize, len: usize) -> Option<Self> {
        (done < len).then_some(Self::Payload {
            key,
            offset: (done & 3) as u8,
            left: (len - done) as u64,
        })
    }

    /// The buffer's contents moved `by` bytes towards its start.
    pub(crate) fn shift(&mut self, by: usize) {
        if let Self::Header { at } = self {
            *at = at.saturating_sub(by);
        }
    }

    /// Append `src` to `buf[*end..]` (which has room for it) and advance `*end`. Payload bytes
    /// of the frames followed are written unmasked; `*plain` is set to the position below which
    /// every payload byte in the buffer is unmasked.
    pub(crate) fn copy_in(
        &mut self,
        buf: &mut [u8],
        end: &mut usize,
        mut src: &[u8],
        plain: &mut usize,
    ) -> Fuse {
        while !src.is_empty() {
            match *self {
                Self::Payload { key, offset, left } => {
                    let n = src.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    mask_into(&mut buf[*end..*end + n], &src[..n], key, offset as usize);
                    *end += n;
                    src = &src[n..];
                    *plain = *end;
                    let left = left - n as u64;
                    *self = if left == 0 {
                        Self::Header { at: *end }
                    } else {
                        Self::Payload {
                            key,
                            offset: ((offset as usize + n) & 3) as u8,
                            left,
                        }
                    };
                }
                Self::Header { at } => {
                    // Copy as much as the header can still need, then read it in place.
                    let n = src
                        .len()
                        .min(MAX_HEADER_LEN - (*end - at).min(MAX_HEADER_LEN));
                    buf[*end..*end + n].copy_from_slice(&src[..n]);
                    *end += n;
                    src = &src[n..];
                    *plain = at;
                    match decode_header(&buf[at..*end], true, 0b111) {
                        // Incomplete: `src` is empty (a header is at most MAX_HEADER_LEN long).
                        Ok(None) => {}
                        Ok(Some((h, len))) => match h.mask {
                            Some(key) if h.payload_len >= FUSE_MIN_FRAME => {
                                // Payload bytes copied with the header: unmask them in place.
                                let early = *end - (at + len);
                                apply_mask(&mut buf[at + len..*end], key, 0);
                                *plain = *end;
                                *self = Self::Payload {
                                    key,
                                    offset: (early & 3) as u8,
                                    left: h.payload_len - early as u64,
                                };
                            }
                            _ => return stop(buf, end, src),
                        },
                        Err(_) => return stop(buf, end, src),
                    }
                }
            }
        }
        Fuse::Continue
    }
}

/// Copy the rest as it is, for the parser to unmask.
fn stop(buf: &mut [u8], end: &mut usize, src: &[u8]) -> Fuse {
    buf[*end..*end + src.len()].copy_from_slice(src);
    *end += src.len();
    Fuse::Stopped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{OpCode, encode_header};

    fn frame(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut h = [0u8; MAX_HEADER_LEN];
        let n = encode_header(
            &mut h,
            true,
            0,
            OpCode::Binary,
            Some(key),
            payload.len() as u64,
        );
        let mut v = h[..n].to_vec();
        let mut p = payload.to_vec();
        apply_mask(&mut p, key, 0);
        v.extend_from_slice(&p);
        v
    }

    /// Copy `wire` in the given pieces; return the buffer and the plain position.
    fn copy(wire: &[u8], cuts: &[usize]) -> (Vec<u8>, usize, Fuse) {
        let mut buf = vec![0u8; wire.len()];
        let (mut end, mut plain) = (0, 0);
        let mut fused = FusedUnmask::Header { at: 0 };
        let mut last = 0;
        let mut fuse = Fuse::Continue;
        for &c in cuts.iter().chain([wire.len()].iter()) {
            let c = c.clamp(last, wire.len());
            if fuse == Fuse::Continue {
                fuse = fused.copy_in(&mut buf, &mut end, &wire[last..c], &mut plain);
            } else {
                buf[end..end + c - last].copy_from_slice(&wire[last..c]);
                end = c;
            }
            last = c;
        }
        assert_eq!(end, wire.len());
        (buf, plain, fuse)
    }

    /// The frame with its payload in clear, as the buffer should hold it.
    fn plain(wire: &[u8], payload: &[u8]) -> Vec<u8> {
        [&wire[..wire.len() - payload.len()], payload].concat()
    }

    #[test]
    fn large_frames_arrive_unmasked_at_any_split() {
        let a: Vec<u8> = (0..FUSE_MIN_FRAME as u32 + 7).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..65_600u32).map(|i| (i * 7) as u8).collect();
        let (fa, fb) = (frame(&a, [1, 2, 3, 4]), frame(&b, [9, 8, 7, 6]));
        let wire = [&fa[..], &fb[..]].concat();
        let want = [plain(&fa, &a), plain(&fb, &b)].concat();
        let l = fa.len();
        for cut in [
            0,
            1,
            3,
            7,
            8,
            9,
            11,
            l - 1,
            l,
            l + 1,
            l + 9,
            l + 14,
            l + 15,
            20_000,
        ] {
            for second in [cut, cut + 1, cut + 13] {
                let (buf, plain, fuse) = copy(&wire, &[cut, second]);
                assert!(buf == want, "cuts {cut} {second}");
                assert_eq!(plain, wire.len());
                assert_eq!(fuse, Fuse::Continue);
            }
        }
    }

    #[test]
    fn a_small_frame_hands_over_to_the_parser() {
        let big: Vec<u8> = vec![0x55; FUSE_MIN_FRAME as usize];
        let first = frame(&big, [1, 2, 3, 4]);
        let wire = [
            &first[..],
            &frame(b"small", [5, 6, 7, 8]),
            &frame(&big, [1, 2, 3, 4]),
        ]
        .concat();
        let (buf, plain_until, fuse) = copy(&wire, &[]);
        assert_eq!(fuse, Fuse::Stopped);
        // Plain up to the small frame's header; everything from it on is as received.
        assert_eq!(plain_until, first.len());
        assert!(buf[..first.len()] == plain(&first, &big)[..]);
        assert!(buf[first.len()..] == wire[first.len()..]);
    }

    #[test]
    fn an_invalid_or_unmasked_header_hands_over_to_the_parser() {
        for bad in [[0x82u8, 0x7E, 0x02, 0x00], [0x83, 0xFE, 0x02, 0x00]] {
            let wire = [&bad[..], &vec![0u8; FUSE_MIN_FRAME as usize][..]].concat();
            let (buf, plain, fuse) = copy(&wire, &[1]);
            assert_eq!((plain, fuse), (0, Fuse::Stopped), "{bad:x?}");
            assert!(buf == wire, "{bad:x?}: bytes changed");
        }
    }

    #[test]
    fn starting_inside_a_payload_continues_its_key_phase() {
        let p: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let key = [0xde, 0xad, 0xbe, 0xef];
        let wire = frame(&p, key);
        // The first 7 payload bytes were received (and unmasked) earlier.
        let mut fused = FusedUnmask::in_payload(key, 7, 1000).unwrap();
        let mut buf = vec![0u8; 993];
        let (mut end, mut plain) = (0, 0);
        fused.copy_in(&mut buf, &mut end, &wire[8 + 7..], &mut plain);
        assert!(buf == p[7..]);
        assert_eq!(fused, FusedUnmask::Header { at: 993 });
    }
}
