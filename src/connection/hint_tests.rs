//! [`Connection::read_size_hint`]: reads that end with a large frame.

use super::*;
use crate::config::Delivery;

/// A masked client frame with FIN set (a 64-bit length from 64 KiB on).
pub(super) fn masked(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut v = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => v.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(0x80 | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

/// The frames' bytes back to back, and where each frame ends.
fn stream(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut ends = Vec::new();
    let mut all = Vec::new();
    for f in frames {
        all.extend_from_slice(f);
        ends.push(all.len());
    }
    (all, ends)
}

/// Read `wire` into the lent buffer in reads of `size(conn)` bytes, polling after each;
/// returns the binary messages' payloads, the read sizes and the largest buffer seen.
fn read_all(
    conn: &mut Connection,
    wire: &[u8],
    size: impl Fn(&Connection) -> usize,
) -> (Vec<Vec<u8>>, Vec<usize>, usize) {
    let (mut got, mut reads, mut most) = (Vec::new(), Vec::new(), 0);
    let mut at = 0;
    while at < wire.len() {
        let n = size(conn).min(wire.len() - at);
        conn.receive_buffer(n)[..n].copy_from_slice(&wire[at..at + n]);
        conn.commit_received(n);
        at += n;
        reads.push(n);
        most = most.max(conn.rx.capacity());
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Binary(b) => got.push(b.to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (got, reads, most)
}

const READ: usize = 64 * 1024;

/// Frames of 64 KiB read 64 KiB at a time: with the hint every read that ends inside a frame
/// is followed by one that ends exactly with it, the buffer stays within two reads, and the
/// messages are the frames'; without it the buffer grows to hold several frames.
#[test]
fn reads_following_the_hint_end_with_each_large_frame() {
    let payloads: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; READ]).collect();
    let frames: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| masked(0x2, p, [i as u8, 7, 0x55, 0xAA]))
        .collect();
    let (wire, ends) = stream(&frames);

    let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    let (got, reads, most) = read_all(&mut conn, &wire, |c| c.read_size_hint(READ));
    assert_eq!(got, payloads);
    // Each read of fewer than READ bytes ended where a frame ends.
    let mut at = 0;
    for n in reads {
        at += n;
        if n < READ && at < wire.len() {
            assert!(
                ends.contains(&at),
                "a shortened read ended at {at}, inside a frame"
            );
        }
    }
    assert!(most <= 2 * READ + 4096, "buffer grew to {most} bytes");

    let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    let (got, _, unhinted) = read_all(&mut conn, &wire, |_| READ);
    assert_eq!(got, payloads);
    assert!(
        unhinted > 2 * READ + 4096,
        "{unhinted} bytes without the hint"
    );
}

/// The hint is `max` unless a large frame handed out whole is partly received: not for a
/// small frame, a streamed message or between frames; and never more than `max`.
#[test]
fn only_a_partly_received_large_whole_frame_shortens_the_read() {
    let big = masked(0x2, &vec![1; READ], [1, 2, 3, 4]);
    let small = masked(0x2, &[1; 1000], [1, 2, 3, 4]);
    let receive = |config: Config, bytes: &[u8]| {
        let mut conn = Connection::from_upgraded(Role::Server, config);
        conn.receive(bytes);
        while conn.poll_event().is_some() {}
        conn
    };
    let conn = receive(Config::default(), &[]);
    assert_eq!(conn.read_size_hint(READ), READ);
    // 14 header bytes and 1 000 payload bytes in: the rest of the payload.
    let conn = receive(Config::default(), &big[..1014]);
    assert_eq!(conn.read_size_hint(READ), READ - 1000);
    assert_eq!(conn.read_size_hint(500), 500);
    let conn = receive(Config::default(), &small[..500]);
    assert_eq!(conn.read_size_hint(READ), READ);
    let streamed = Config::default().delivery(Delivery::Streaming);
    let conn = receive(streamed, &big[..1014]);
    assert_eq!(conn.read_size_hint(READ), READ);
    // The frame complete and handed out: nothing pending.
    let conn = receive(Config::default(), &big);
    assert_eq!(conn.read_size_hint(READ), READ);
}
