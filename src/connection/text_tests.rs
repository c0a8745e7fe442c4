//! Text that the unmasking found to be ASCII is taken without a UTF-8 check, on every receive
//! path; other text still gets one. The events are checked by `tests/connection.rs`; here the
//! validator's own count (`utf8::checked`, test builds only) shows which bytes were checked.

use super::*;
use crate::frame::{MAX_HEADER_LEN, OpCode, encode_header};
use crate::mask::apply_mask;
use crate::utf8::checked;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client's masked frame.
fn masked(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut h = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&mut h, fin, 0, opcode, Some(KEY), payload.len() as u64);
    let mut p = payload.to_vec();
    apply_mask(&mut p, KEY, 0);
    [&h[..n], &p[..]].concat()
}

/// The message whole, and in two fragments cut a third of the way in.
fn wires(payload: &[u8]) -> [Vec<u8>; 2] {
    let cut = payload.len() / 3;
    [
        masked(true, OpCode::Text, payload),
        [
            masked(false, OpCode::Text, &payload[..cut]),
            masked(true, OpCode::Continuation, &payload[cut..]),
        ]
        .concat(),
    ]
}

/// Feed `wire` to a new server in reads of `read` bytes, through `receive` or the lent
/// buffer; the text of the one message it gives, and the bytes validated meanwhile.
fn receive(wire: &[u8], read: usize, lent: bool) -> (String, usize) {
    let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    checked::take();
    let mut text = String::new();
    for chunk in wire.chunks(read) {
        if lent {
            conn.receive_buffer(chunk.len())[..chunk.len()].copy_from_slice(chunk);
            conn.commit_received(chunk.len());
        } else {
            conn.receive(chunk);
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Text(t) => text.push_str(t),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    (text, checked::take())
}

fn ascii(n: usize) -> String {
    (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

#[test]
fn ascii_text_is_taken_without_a_check_on_every_path() {
    for n in [1, 16, 125, 1_000, 1_025, 5_000, 70_000] {
        let payload = ascii(n);
        for wire in wires(payload.as_bytes()) {
            for read in [wire.len(), 64 * 1024, 16 * 1024 + 3, 1_000, 7] {
                for lent in [false, true] {
                    let (text, validated) = receive(&wire, read, lent);
                    assert_eq!(text, payload, "{n} B, reads of {read}, lent {lent}");
                    assert_eq!(validated, 0, "{n} B, reads of {read}, lent {lent}");
                }
            }
        }
    }
}

#[test]
fn text_with_other_bytes_is_checked() {
    for n in [16, 1_000, 5_000, 70_000] {
        for at in [0, n / 2, n - 2] {
            let mut payload = ascii(n);
            payload.replace_range(at..at + 2, "é");
            for wire in wires(payload.as_bytes()) {
                for read in [wire.len(), 16 * 1024 + 3, 1_000] {
                    for lent in [false, true] {
                        let (text, validated) = receive(&wire, read, lent);
                        assert_eq!(text, payload, "{n} B, é at {at}, reads of {read}");
                        // At least the piece holding the two-byte code point was checked.
                        assert!(
                            validated >= 2,
                            "{n} B, é at {at}, reads of {read}, lent {lent}: {validated}"
                        );
                    }
                }
            }
        }
    }
}
