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

use alloc::vec::Vec;

use crate::frame::{MAX_HEADER_LEN, parse_header};
use crate::mask::{apply_mask, apply_mask_ascii, mask_into_ascii};
use crate::utf8::Ascii;

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
    /// every payload byte in the buffer is unmasked. `*ascii` is raised past every piece of
    /// payload written that is not all ASCII, so that the payload bytes from it to `*plain`
    /// are ASCII.
    pub(crate) fn copy_in(
        &mut self,
        buf: &mut [u8],
        end: &mut usize,
        mut src: &[u8],
        plain: &mut usize,
        ascii: &mut usize,
    ) -> Fuse {
        while !src.is_empty() {
            match *self {
                Self::Payload { key, offset, left } => {
                    let n = src.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    if !mask_into_ascii(&mut buf[*end..*end + n], &src[..n], key, offset as usize) {
                        *ascii = *end + n;
                    }
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
                    match parse_header(&buf[at..*end], true, 0b111) {
                        // Incomplete: `src` is empty (a header is at most MAX_HEADER_LEN long).
                        Ok(None) => {}
                        Ok(Some((h, len))) => match h.mask() {
                            Some(key) if h.payload_len >= FUSE_MIN_FRAME => {
                                // Payload bytes copied with the header: unmask them in place.
                                let early = *end - (at + len);
                                if !apply_mask_ascii(&mut buf[at + len..*end], key, 0) {
                                    *ascii = *end;
                                }
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

/// Reads from this size on are copied in with the unmasking of large frames fused in; smaller
/// ones are copied as they are.
const FUSE_MIN_READ: usize = 1024;

/// The receive buffer doubles rather than move a long run of buffered bytes while it stays
/// within this size ...
const GROW_BEFORE_MOVING: usize = 1 << 20;
/// ... and below this many times the bytes it must hold (those buffered, the rest of their
/// frame and the read asked for).
const SLACK: usize = 4;

/// Smallest growth of the receive buffer.
const MIN_READ: usize = 4096;

/// Where the connection's frame parser stands, for fused unmasking to start from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ParserAt {
    /// The parser may not be followed (a client, a closed connection, the handshake).
    Unfollowable,
    /// The next byte starts a frame header.
    Header,
    /// Inside a frame's payload, `done` of `len` bytes received.
    Payload {
        /// The frame's masking key, if it has one.
        mask: Option<[u8; 4]>,
        /// Payload bytes received so far.
        done: usize,
        /// The payload length.
        len: usize,
    },
}

/// The receive buffer and what is known of its bytes: `buf[start..end]` holds bytes received
/// and not yet consumed by the frame parser; the room past `end`, up to the vector's capacity,
/// is free. Free room is zeroed only when [`lend`](Self::lend) hands it out as `&mut [u8]`:
/// bytes copied in ([`append`](Self::append)) and reads into uninitialised room
/// ([`lend_uninit`](Self::lend_uninit)) extend the vector without writing the room twice. A
/// buffer given back when idle and taken again for every message was zeroed every time
/// (a pass over the room before the copy: 1.4 % of an echo server's time at 16 KiB).
///
/// Payload bytes below `plain_until` were unmasked as they were copied in (by a
/// [`FusedUnmask`] following the frames); from it on, bytes are as received and
/// [`unmask`](Self::unmask) unmasks them in place. Of those unmasked on their way in, the
/// payload bytes from `ascii_from` to `plain_until` were found to be ASCII by the same pass
/// (every piece that was not moved `ascii_from` past it), so that text there needs no UTF-8
/// check ([`unmask_ascii`](Self::unmask_ascii)). This type is the only one that moves bytes
/// in the buffer, so the positions stay true when it compacts.
#[derive(Debug, Default)]
pub(crate) struct RecvBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    plain_until: usize,
    ascii_from: usize,
    fused: Option<FusedUnmask>,
}

impl RecvBuf {
    /// Bytes received and not consumed.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every received byte was consumed.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Position in the buffer of the first unconsumed byte; positions stay valid until the
    /// next input is taken in.
    #[inline]
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// The unconsumed bytes.
    #[inline]
    pub(crate) fn unconsumed(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The bytes at positions `from..to`.
    #[inline]
    pub(crate) fn bytes(&self, from: usize, to: usize) -> &[u8] {
        &self.buf[from..to]
    }

    /// Mark `n` more bytes consumed.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
    }

    /// Append bytes from the caller's slice. A read of at least [`FUSE_MIN_READ`] bytes, with
    /// the parser at `at` and every earlier byte consumed, starts fused unmasking.
    pub(crate) fn append(&mut self, data: &[u8], frame_rest: usize, at: impl FnOnce() -> ParserAt) {
        if data.is_empty() {
            return;
        }
        self.make_room(data.len(), frame_rest);
        if self.fused.is_none() && data.len() >= FUSE_MIN_READ && self.is_empty() {
            self.fused = match at() {
                ParserAt::Header => Some(FusedUnmask::Header { at: self.end }),
                ParserAt::Payload {
                    mask: Some(key),
                    done,
                    len,
                } => FusedUnmask::in_payload(key, done, len),
                ParserAt::Payload { mask: None, .. } | ParserAt::Unfollowable => None,
            };
            if self.fused.is_some() {
                self.plain_until = self.end;
                self.ascii_from = self.end;
            }
        }
        let need = self.end + data.len();
        if let Some(fused) = &mut self.fused {
            // The fused copy writes into initialised bytes.
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
            let fuse = fused.copy_in(
                &mut self.buf,
                &mut self.end,
                data,
                &mut self.plain_until,
                &mut self.ascii_from,
            );
            if fuse == Fuse::Stopped {
                self.fused = None;
            }
            return;
        }
        if self.buf.len() >= need {
            self.buf[self.end..need].copy_from_slice(data);
        } else {
            // Within the capacity `make_room` reserved: no reallocation, nothing zeroed.
            self.buf.truncate(self.end);
            self.buf.extend_from_slice(data);
        }
        self.end = need;
    }

    /// Lend at least `min` bytes of spare room to read into; [`commit`](Self::commit) then says
    /// how many were read. Bytes read this way arrive masked: fused unmasking stops.
    pub(crate) fn lend(&mut self, min: usize, frame_rest: usize) -> &mut [u8] {
        self.fused = None;
        self.make_room(min.max(1), frame_rest);
        let cap = self.buf.capacity();
        if self.buf.len() < cap {
            self.buf.resize(cap, 0);
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into the lent room (clamped to it); returns the count taken.
    pub(crate) fn commit(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len() - self.end);
        self.end += n;
        n
    }

    /// [`lend`](Self::lend) without zeroing, for a reader that fills memory it is given
    /// uninitialised (tokio's `ReadBuf`); [`commit_uninit`](Self::commit_uninit) then says how
    /// many bytes it wrote. The room is at least `min` bytes when nothing is buffered; with
    /// bytes buffered (an unfinished frame), at least [`MIN_READ`] and the rest of the frame:
    /// the buffer [`release`](Self::release) shrank around an unfinished frame is not grown
    /// back to `min` by every small read, and shrunk again when the connection idles.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn lend_uninit(
        &mut self,
        min: usize,
        frame_rest: usize,
    ) -> &mut [core::mem::MaybeUninit<u8>] {
        self.fused = None;
        let min = if self.is_empty() {
            min
        } else {
            min.min(MIN_READ)
        };
        self.make_room(min.max(1), frame_rest);
        // The bytes past `end` hold nothing: the vector ends where the received bytes do.
        self.buf.truncate(self.end);
        self.buf.spare_capacity_mut()
    }

    /// `n` bytes were written into the room [`lend_uninit`](Self::lend_uninit) lent (clamped
    /// to it); returns the count taken.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the slice `lend_uninit` returned, with no other call on this
    /// buffer in between, have been initialised.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn commit_uninit(&mut self, n: usize) -> usize {
        debug_assert_eq!(
            self.buf.len(),
            self.end,
            "commit_uninit without lend_uninit"
        );
        let n = n.min(self.buf.capacity() - self.buf.len());
        // SAFETY: `lend_uninit` lent `buf[len..capacity]` and the caller guarantees that its
        // first `n` bytes (`n` is within it) were initialised since.
        unsafe { self.buf.set_len(self.buf.len() + n) };
        self.end = self.buf.len();
        n
    }

    /// Unmask the `n` payload bytes at position `at`, the first at payload offset `offset`,
    /// skipping those that were unmasked on their way in. Always inlined: small (the kernel
    /// past one block is out of line), and the one-frame lane's short unmask must not sit
    /// behind a call (the release build did not inline it: 16-byte frames 180 → 156 M/s).
    #[inline(always)]
    pub(crate) fn unmask(&mut self, at: usize, n: usize, key: [u8; 4], offset: usize) {
        if self.plain_until <= at {
            // Nothing of it was unmasked on its way in (always so for small frames): the
            // offset stays the caller's, a constant where a whole frame is unmasked.
            apply_mask(&mut self.buf[at..at + n], key, offset);
        } else {
            let skip = (self.plain_until - at).min(n);
            apply_mask(&mut self.buf[at + skip..at + n], key, offset + skip);
        }
    }

    /// [`unmask_ascii`](Self::unmask_ascii) for a text payload, [`unmask`](Self::unmask) for
    /// a binary one (reported [`Ascii::Unknown`]: no check waits on it).
    #[inline(always)]
    pub(crate) fn unmask_payload(
        &mut self,
        text: bool,
        at: usize,
        n: usize,
        key: [u8; 4],
        offset: usize,
    ) -> Ascii {
        if text {
            self.unmask_ascii(at, n, key, offset)
        } else {
            self.unmask(at, n, key, offset);
            Ascii::Unknown
        }
    }

    /// [`unmask`](Self::unmask) for text: also whether every one of the `n` bytes is ASCII, as
    /// far as the unmasking now and on the bytes' way in tells.
    #[inline(always)]
    pub(crate) fn unmask_ascii(
        &mut self,
        at: usize,
        n: usize,
        key: [u8; 4],
        offset: usize,
    ) -> Ascii {
        if self.plain_until <= at {
            if apply_mask_ascii(&mut self.buf[at..at + n], key, offset) {
                Ascii::All
            } else {
                Ascii::NotAll
            }
        } else {
            let skip = (self.plain_until - at).min(n);
            let known = self.ascii_from <= at;
            match apply_mask_ascii(&mut self.buf[at + skip..at + n], key, offset + skip) {
                false => Ascii::NotAll,
                true if known => Ascii::All,
                true => Ascii::Unknown,
            }
        }
    }

    /// Make the free room past `end` at least `n` bytes. The buffered bytes move to the start only
    /// when the consumed prefix is at least as long as they are (so each byte is moved at most
    /// once on average) and the room left would not hold both `n` bytes and the `frame_rest`
    /// bytes the frame being received still needs, which must follow it in one piece. A long
    /// run (more than half a read) is not moved while the buffer may instead double within
    /// [`GROW_BEFORE_MOVING`] and [`SLACK`] times what it must hold: a read that ends inside
    /// the next large frame leaves nearly a whole frame to move, and with room for a few
    /// frames that move comes once every few frames. The trade is memory while large frames
    /// arrive (64 KiB frames read 64 KiB at a time: a 512 KiB buffer instead of 128 KiB, given
    /// back by `release_buffers` once empty) for a whole pass over each payload (figures in
    /// `BENCHMARKS.md`, "Design measurements").
    fn make_room(&mut self, n: usize, frame_rest: usize) {
        let len = self.end - self.start;
        let room = self.buf.capacity();
        let short = room - self.end < n.saturating_add(frame_rest);
        // A long run of bytes is not moved while the buffer may still grow to hold a few
        // frames: the buffer doubles instead, and the next compaction comes frames later.
        let grow_instead = len > n / 2
            && room.saturating_mul(2) <= GROW_BEFORE_MOVING
            && room < SLACK * (len + frame_rest + n);
        if len == 0 || (self.start > 0 && self.start >= len && short && !grow_instead) {
            self.compact();
        }
        if room - self.end < n {
            let want = (self.end + n).max(room * 2).max(MIN_READ);
            // Only the received bytes are carried over: the free room past them holds nothing.
            self.buf.truncate(self.end);
            self.buf.reserve_exact(want - self.end);
        }
    }

    /// Give back the memory when nothing is buffered. With bytes buffered (part of a frame),
    /// give back the room past them when it is at least four times what they, the
    /// `frame_rest` bytes the frame still needs and one [`MIN_READ`] take: a large read room
    /// lent for a read that brought a few bytes is not held while the peer is silent. The
    /// bytes are copied once per shrink; the next read fits in what is kept, and the buffer
    /// grows again only as bytes arrive, so the copies stay within the bytes received.
    pub(crate) fn release(&mut self, frame_rest: usize) {
        if self.is_empty() {
            *self = RecvBuf::default();
            return;
        }
        let len = self.len();
        let keep = len.saturating_add(frame_rest).saturating_add(MIN_READ);
        if self.buf.capacity() / 4 < keep {
            return;
        }
        self.compact();
        self.buf.truncate(len);
        self.buf.shrink_to(keep);
    }

    /// Move the buffered bytes to the buffer's start, with the positions that refer to them.
    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        let by = self.start;
        self.end -= by;
        self.start = 0;
        self.plain_until = self.plain_until.saturating_sub(by);
        self.ascii_from = self.ascii_from.saturating_sub(by);
        if let Some(f) = &mut self.fused {
            f.shift(by);
        }
    }

    /// Heap bytes held.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
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
        let (buf, plain, _, fuse) = copy_ascii(wire, cuts);
        (buf, plain, fuse)
    }

    /// [`copy`], with the position from which the payload copied in is ASCII: checked after
    /// each piece against the payload bytes, and returned.
    fn copy_ascii(wire: &[u8], cuts: &[usize]) -> (Vec<u8>, usize, usize, Fuse) {
        let mut buf = vec![0u8; wire.len()];
        let (mut end, mut plain, mut ascii) = (0, 0, 0);
        let payload = payload_bytes(wire);
        let mut fused = FusedUnmask::Header { at: 0 };
        let mut last = 0;
        let mut fuse = Fuse::Continue;
        for &c in cuts.iter().chain([wire.len()].iter()) {
            let c = c.clamp(last, wire.len());
            if fuse == Fuse::Continue {
                fuse = fused.copy_in(&mut buf, &mut end, &wire[last..c], &mut plain, &mut ascii);
                let stray = (ascii..plain).find(|&i| payload[i] && !buf[i].is_ascii());
                assert_eq!(stray, None, "ASCII from {ascii} to {plain}");
            } else {
                buf[end..end + c - last].copy_from_slice(&wire[last..c]);
                end = c;
            }
            last = c;
        }
        assert_eq!(end, wire.len());
        (buf, plain, ascii, fuse)
    }

    /// Which bytes of `wire`, a run of masked frames, are payload.
    fn payload_bytes(wire: &[u8]) -> Vec<bool> {
        let mut is = vec![false; wire.len()];
        let mut at = 0;
        while let Ok(Some((h, len))) = parse_header(&wire[at..], true, 0b111) {
            let end = (at + len + h.payload_len as usize).min(wire.len());
            is[at + len..end].fill(true);
            at = end;
        }
        is
    }

    #[test]
    fn ascii_payload_is_found_as_it_is_unmasked() {
        let n = FUSE_MIN_FRAME as usize + 100;
        let text: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        let key = [0x81, 0x02, 0xfe, 0x7f];
        // Two frames: a run never spans the header between them.
        let one = frame(&text, key);
        let wire = [&one[..], &one[..]].concat();
        // Where the second frame's payload starts.
        let second = one.len() + (one.len() - n);
        for cuts in [
            &[][..],
            &[1],
            &[20],
            &[second - 3, second + 5],
            &[40_000, 50_000],
        ] {
            let (_, plain, ascii, _) = copy_ascii(&wire, cuts);
            assert_eq!(plain, wire.len());
            // Every piece of both payloads was ASCII: all of it is known to be.
            assert_eq!(ascii, 0, "cuts {cuts:?}");
        }
        // A byte that is not ASCII moves the mark past it, at most to where the piece
        // holding it ends, in either frame.
        for at in [0, 1, 5, 6, 9_000, n - 1] {
            let mut t = text.clone();
            t[at] = 0xc3;
            for (wire, base) in [
                ([frame(&text, key), frame(&t, key)].concat(), second),
                (
                    [frame(&t, key), frame(&text, key)].concat(),
                    second - one.len(),
                ),
            ] {
                let cuts = [base + 8_000, base + 16_000];
                let (_, _, ascii, _) = copy_ascii(&wire, &cuts);
                let piece_end = cuts
                    .iter()
                    .copied()
                    .find(|&c| c > base + at)
                    .unwrap_or(wire.len());
                assert!(
                    base + at < ascii && ascii <= piece_end,
                    "non-ASCII at {at} of the payload at {base}: ASCII from {ascii}"
                );
            }
        }
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
        fused.copy_in(&mut buf, &mut end, &wire[8 + 7..], &mut plain, &mut 0);
        assert!(buf == p[7..]);
        assert_eq!(fused, FusedUnmask::Header { at: 993 });
    }

    /// Read `n` bytes into the lent room (their values do not matter here).
    fn read(rx: &mut RecvBuf, n: usize, rest: usize) {
        let room = rx.lend(n, rest);
        assert!(room.len() >= n);
        rx.commit(n);
    }

    /// `unmask_ascii` says `All` only of text it saw entirely (unmasked now, or unmasked and
    /// found ASCII on its way in), `NotAll` of text holding a byte that is not ASCII, and
    /// `Unknown` where bytes unmasked on their way in were not judged; the bytes end up in
    /// clear whatever it says.
    #[test]
    fn unmask_ascii_tells_all_not_all_or_unknown() {
        let key = [0x9c, 0x01, 0x7f, 0xe3];
        let ascii: Vec<u8> = (0..200u32).map(|i| b' ' + (i % 90) as u8).collect();
        let mut mixed = ascii.clone();
        mixed[150] = 0xc3;
        // (payload, bytes already in clear, whether those were found ASCII, verdict)
        let cases = [
            (&ascii, 0, false, Ascii::All),
            (&mixed, 0, false, Ascii::NotAll),
            (&ascii, 64, true, Ascii::All),
            (&ascii, 64, false, Ascii::Unknown),
            (&mixed, 64, true, Ascii::NotAll),
            (&mixed, 64, false, Ascii::NotAll),
            (&ascii, 200, true, Ascii::All),
            (&ascii, 200, false, Ascii::Unknown),
            // The byte that is not ASCII was unmasked on its way in, unjudged.
            (&mixed, 160, false, Ascii::Unknown),
        ];
        // The payload sits past a 6-byte header, as in a received frame.
        let at = 6;
        for (payload, clear, known, want) in cases {
            let mut wire = vec![0u8; at];
            let mut masked = payload.clone();
            apply_mask(&mut masked, key, 0);
            wire.extend_from_slice(&payload[..clear]);
            wire.extend_from_slice(&masked[clear..]);
            let mut rx = RecvBuf {
                end: wire.len(),
                buf: wire,
                plain_until: at + clear,
                ascii_from: if known { at } else { at + clear },
                ..RecvBuf::default()
            };
            let got = rx.unmask_ascii(at, payload.len(), key, 0);
            assert_eq!(got, want, "{clear} bytes in clear, judged: {known}");
            assert!(rx.bytes(at, at + payload.len()) == &payload[..]);
        }
    }

    /// The buffered bytes stay where they are while the room holds the read and the rest of
    /// their frame; a long run is not moved while the buffer may double; at the limit, or for
    /// a short run, they move to the start.
    #[test]
    fn bytes_move_only_when_the_room_is_short_and_growing_is_done() {
        const R: usize = 64 * 1024;
        let mut rx = RecvBuf::default();
        read(&mut rx, R, 0);
        read(&mut rx, R, 0);
        rx.consume(R + 100);
        // R - 100 bytes of a frame of R + 14 are left after a consumed frame.
        let (start, cap) = (rx.start(), rx.buf.capacity());
        read(&mut rx, R, 114);
        assert_eq!(
            rx.start(),
            start,
            "room enough, or the buffer grew: nothing moved"
        );
        assert!(rx.buf.capacity() >= cap);
        // Reads that leave short runs behind: the buffer does not grow past its limit.
        for _ in 0..32 {
            rx.consume(rx.len() - 10);
            read(&mut rx, R, 0);
        }
        assert!(
            rx.buf.capacity() <= GROW_BEFORE_MOVING,
            "{}",
            rx.buf.capacity()
        );
        // A short run (at most half a read) moves rather than the buffer growing.
        rx.consume(rx.len() - 10);
        let cap = rx.buf.capacity();
        while rx.buf.capacity() - rx.end >= R {
            read(&mut rx, R, 0);
            rx.consume(rx.len() - 10);
        }
        read(&mut rx, R, 0);
        assert_eq!(
            rx.buf.capacity(),
            cap,
            "a short run moved instead of the buffer growing"
        );
        assert_eq!(rx.start(), 0);
        assert_eq!(rx.len(), 10 + R);
    }

    /// Bytes written into the uninitialised room arrive as received, after those buffered.
    #[test]
    #[allow(unsafe_code)]
    fn reads_into_uninitialised_room_are_taken_as_written() {
        let mut rx = RecvBuf::default();
        rx.append(b"head", 0, || ParserAt::Unfollowable);
        let room = rx.lend_uninit(100, 0);
        assert!(room.len() >= 100);
        for (i, b) in room[..5].iter_mut().enumerate() {
            b.write(b'0' + i as u8);
        }
        // SAFETY: the first five bytes of the lent room were written just above.
        assert_eq!(unsafe { rx.commit_uninit(5) }, 5);
        assert_eq!(rx.unconsumed(), b"head01234");
        // The zeroed room `lend` hands out follows on.
        let room = rx.lend(3, 0);
        room[..3].copy_from_slice(b"xyz");
        rx.commit(3);
        assert_eq!(rx.unconsumed(), b"head01234xyz");
    }

    /// A large room lent for a read that brought a few bytes of a frame is given back when
    /// the connection idles, keeping the bytes; a small read then does not grow it back.
    #[test]
    fn an_idle_buffer_shrinks_around_an_unfinished_frame() {
        const R: usize = 64 * 1024;
        let mut rx = RecvBuf::default();
        let room = rx.lend(R, 0);
        room[..10].copy_from_slice(b"0123456789");
        rx.commit(10);
        rx.consume(4);
        assert!(rx.capacity() >= R);
        rx.release(100);
        assert_eq!(rx.unconsumed(), b"456789");
        assert_eq!(rx.start(), 0);
        assert!(rx.capacity() <= MIN_READ + 106, "{}", rx.capacity());
        // The next read gets the room the buffer has (at least MIN_READ), not R.
        let cap = rx.capacity();
        assert!(rx.lend_uninit(R, 100).len() >= MIN_READ - 6);
        assert_eq!(rx.capacity(), cap);
        assert_eq!(rx.unconsumed(), b"456789");
    }

    /// Bytes that, with the rest of their frame, need most of the room keep it.
    #[test]
    fn an_idle_buffer_keeps_the_room_its_frame_needs() {
        const R: usize = 64 * 1024;
        let mut rx = RecvBuf::default();
        read(&mut rx, R, 0);
        rx.consume(R - 1000);
        let cap = rx.capacity();
        // 1000 bytes buffered, 20 000 more to come for the frame, and a read: over a quarter
        // of the room.
        rx.release(20_000);
        assert_eq!(rx.capacity(), cap);
        assert_eq!(rx.len(), 1000);
        // Nothing buffered: everything is given back.
        rx.consume(1000);
        rx.release(0);
        assert_eq!(rx.capacity(), 0);
    }
}
