//! Payloads sent unbuffered: the caller holds them, `output_slices` places them between the
//! output queued before and after them, `advance_output` splits each written count.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use std::collections::VecDeque;
use std::io::IoSlice;

use common::*;
use proptest::prelude::*;
use wsmachine::__private::rng::FixedMasks;
use wsmachine::{Config, Connection, MessageKind, Role, UsageError};

fn open(role: Role) -> Connection {
    let mut c = Connection::from_upgraded(role, Config::default());
    if role == Role::Client {
        c.set_mask_source(Box::new(FixedMasks::new(vec![
            [0x37, 0xfa, 0x21, 0x3d],
            [0x01, 0x80, 0xfe, 0x7f],
        ])));
    }
    c
}

fn peer_of(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// A transport whose `write_vectored` takes at most `step` bytes per call, from the slices in
/// order, as a socket with a full buffer does.
struct Short {
    step: usize,
    wire: Vec<u8>,
}

impl Short {
    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> usize {
        let mut room = self.step;
        for s in slices {
            let n = s.len().min(room);
            self.wire.extend_from_slice(&s[..n]);
            room -= n;
        }
        self.step - room
    }
}

/// Write everything `conn` has to write through `sock`, the held payloads (oldest first, as
/// the sends left them) in their places; each payload is dropped as `advance_output` reports
/// it written whole. Bounded: every call writes at least one byte.
fn write_all(conn: &mut Connection, held: &mut VecDeque<Vec<u8>>, sock: &mut Short) {
    let total: usize = conn.queued_output() + held.iter().map(Vec::len).sum::<usize>();
    for _ in 0..=total {
        assert_eq!(conn.unbuffered_payloads(), held.len());
        let oldest = held.front().map_or(&[][..], |p| &p[..]);
        let slices = conn.output_slices(oldest);
        if slices.iter().all(|s| s.is_empty()) {
            assert_eq!(conn.queued_output(), 0);
            assert!(held.is_empty(), "payloads left unwritten");
            return;
        }
        let n = sock.write_vectored(&slices);
        assert!(n > 0);
        conn.advance_output(n);
        let finished = held.len() - conn.unbuffered_payloads();
        assert!(finished <= 1, "one write finishes at most one payload");
        held.drain(..finished);
    }
    panic!("the output did not shrink");
}

/// What a client receives from the server `s`, whose output (with the payloads `held`) is
/// written `step` bytes per vectored write.
fn written_to_client<const N: usize>(
    s: &mut Connection,
    held: [Vec<u8>; N],
    step: usize,
) -> Vec<Ev> {
    let mut held = VecDeque::from(held);
    let mut sock = Short {
        step,
        wire: Vec::new(),
    };
    write_all(s, &mut held, &mut sock);
    let mut c = open(Role::Client);
    c.receive(&sock.wire);
    drain(&mut c)
}

/// What is sent: small messages, control frames and a fragmented message around three
/// unbuffered payloads, all outstanding at once. `text_kb` sets the size of the large text.
fn send_all(conn: &mut Connection, held: &mut VecDeque<Vec<u8>>, text_kb: usize) -> Vec<Ev> {
    let role = conn.role();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let text = "héllo wörld, привет 🙂 ".repeat(text_kb * 1024 / 34 + 1);
    let piece = vec![0x5au8; 300];

    conn.send_text("before").unwrap();
    let mut p = big.clone();
    match role {
        Role::Server => conn.send_unbuffered(MessageKind::Binary, &p, true).unwrap(),
        Role::Client => conn
            .send_unbuffered_mut(MessageKind::Binary, &mut p, true)
            .unwrap(),
    }
    held.push_back(p);
    conn.send_ping(b"p1").unwrap();
    conn.send_text("between").unwrap();
    let p = match role {
        Role::Server => {
            conn.send_unbuffered_text(&text, true).unwrap();
            text.clone().into_bytes()
        }
        // The text given up, masked in place.
        Role::Client => conn.send_unbuffered_string(text.clone(), true).unwrap(),
    };
    held.push_back(p);
    conn.send_pong(b"p2").unwrap();
    conn.send_fragment(MessageKind::Binary, b"a", false)
        .unwrap();
    let mut p = piece.clone();
    conn.send_unbuffered_mut(MessageKind::Binary, &mut p, false)
        .unwrap();
    held.push_back(p);
    conn.send_fragment(MessageKind::Binary, b"z", true).unwrap();
    conn.close(1000, "done").unwrap();
    assert_eq!(conn.unbuffered_payloads(), 3);

    let mut fragmented = b"a".to_vec();
    fragmented.extend_from_slice(&piece);
    fragmented.push(b'z');
    vec![
        Ev::Text("before".into()),
        Ev::Binary(big),
        Ev::Ping(b"p1".to_vec()),
        Ev::Text("between".into()),
        Ev::Text(text),
        Ev::Pong(b"p2".to_vec()),
        Ev::Binary(fragmented),
        Ev::Close(1000, "done".into()),
    ]
}

/// Written `step` bytes per vectored write, the output decodes in the peer to exactly what
/// was sent, in order.
fn round_trip(role: Role, step: usize, text_kb: usize) {
    let mut conn = open(role);
    let mut held = VecDeque::new();
    let expected = send_all(&mut conn, &mut held, text_kb);
    let mut sock = Short {
        step,
        wire: Vec::new(),
    };
    write_all(&mut conn, &mut held, &mut sock);
    let mut peer = Connection::from_upgraded(peer_of(role), Config::default());
    let mut events = Vec::new();
    for chunk in sock.wire.chunks(4096) {
        peer.receive(chunk);
        events.extend(drain(&mut peer));
    }
    assert_eq!(events, expected, "{role:?}, {step} bytes per write");
}

#[test]
fn server_written_one_byte_at_a_time() {
    round_trip(Role::Server, 1, 1);
}

#[test]
fn server_written_seven_bytes_at_a_time() {
    round_trip(Role::Server, 7, 8);
}

#[test]
fn server_written_all_at_once() {
    round_trip(Role::Server, usize::MAX, 64);
}

#[test]
fn client_written_one_byte_at_a_time() {
    round_trip(Role::Client, 1, 1);
}

#[test]
fn client_written_seven_bytes_at_a_time() {
    round_trip(Role::Client, 7, 8);
}

#[test]
fn client_written_all_at_once() {
    round_trip(Role::Client, usize::MAX, 64);
}

/// Written all at once, each `write_vectored` call still stops at the end of one payload and
/// the output after it: the slices never reach past the next payload.
#[test]
fn one_call_covers_at_most_one_payload() {
    let mut conn = open(Role::Server);
    let mut held = VecDeque::new();
    send_all(&mut conn, &mut held, 1);
    let mut after = Vec::new();
    while conn.unbuffered_payloads() > 0 {
        let slices = conn.output_slices(&held[0]);
        after.push(slices[2].len());
        let n: usize = slices.iter().map(|s| s.len()).sum();
        conn.advance_output(n + 100);
        assert_eq!(
            conn.unbuffered_payloads(),
            held.len() - 1,
            "clamped to the slices"
        );
        held.pop_front();
    }
    // After the first payload: the Ping, the text "between" and the second payload's header;
    // after the second: the Pong, the first piece and the third payload's header; after the
    // third: the last piece and the Close, then nothing.
    assert_eq!(after, [4 + 9 + 4, 4 + 3 + 4, 3 + 8]);
    assert_eq!(conn.queued_output(), 0);
    assert!(conn.output_slices(&[]).iter().all(|s| s.is_empty()));
}

#[test]
fn payloads_the_machine_may_not_change_are_refused_to_a_client() {
    let mut c = open(Role::Client);
    assert_eq!(
        c.send_unbuffered(MessageKind::Binary, b"abc", true),
        Err(UsageError::MaskingRequired)
    );
    assert_eq!(
        c.send_unbuffered_text("abc", true),
        Err(UsageError::MaskingRequired)
    );
    assert_eq!(c.queued_output(), 0);
    assert_eq!(c.unbuffered_payloads(), 0);
}

#[test]
fn a_client_masks_in_place_and_a_server_does_not() {
    let mut c = open(Role::Client);
    let mut p = b"hello, unbuffered".to_vec();
    c.send_unbuffered_mut(MessageKind::Text, &mut p, true)
        .unwrap();
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let masked: Vec<u8> = b"hello, unbuffered"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(p, masked);
    let mut s = open(Role::Server);
    let mut p = b"hello".to_vec();
    s.send_unbuffered_mut(MessageKind::Binary, &mut p, true)
        .unwrap();
    assert_eq!(p, b"hello");
}

#[test]
fn a_string_given_up_comes_back_masked_from_a_client_and_unchanged_from_a_server() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut c = open(Role::Client);
    let bytes = c
        .send_unbuffered_string("привет, unbuffered".to_string(), true)
        .unwrap();
    let masked: Vec<u8> = "привет, unbuffered"
        .bytes()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    assert_eq!(bytes, masked);
    assert_eq!(c.unbuffered_payloads(), 1);
    let mut s = open(Role::Server);
    let bytes = s.send_unbuffered_string("héllo".to_string(), true).unwrap();
    assert_eq!(bytes, "héllo".as_bytes());
    assert_eq!(
        written_to_client(&mut s, [bytes], 3),
        vec![Ev::Text("héllo".into())]
    );
}

#[test]
fn a_string_refused_is_handed_back_and_nothing_is_queued() {
    let mut s = open(Role::Server);
    s.send_fragment(MessageKind::Binary, b"open", false)
        .unwrap();
    let queued = s.queued_output();
    assert_eq!(
        s.send_unbuffered_string("text".to_string(), true),
        Err((UsageError::MessageInProgress, "text".to_string()))
    );
    assert_eq!((s.queued_output(), s.unbuffered_payloads()), (queued, 0));
    // Text after bytes that end inside a code point is refused too, as for a `&str`.
    let mut c = open(Role::Client);
    c.send_fragment(MessageKind::Text, &[0xc3], false).unwrap();
    let queued = c.queued_output();
    assert_eq!(
        c.send_unbuffered_string("b".to_string(), true),
        Err((UsageError::InvalidUtf8, "b".to_string()))
    );
    assert_eq!((c.queued_output(), c.unbuffered_payloads()), (queued, 0));
}

#[test]
fn text_is_checked_before_anything_is_queued_or_masked() {
    let mut c = open(Role::Client);
    let mut bad = vec![0xff, 0xfe];
    assert_eq!(
        c.send_unbuffered_mut(MessageKind::Text, &mut bad, true),
        Err(UsageError::InvalidUtf8)
    );
    assert_eq!(bad, [0xff, 0xfe]);
    assert_eq!((c.queued_output(), c.unbuffered_payloads()), (0, 0));
    let mut s = open(Role::Server);
    assert_eq!(
        s.send_unbuffered(MessageKind::Text, &[b'a', 0xc3], true),
        Err(UsageError::InvalidUtf8)
    );
    assert_eq!((s.queued_output(), s.unbuffered_payloads()), (0, 0));
}

/// A `&str` is not validated again, but it cannot finish a code point that earlier pieces,
/// sent as bytes, left open.
#[test]
fn a_str_piece_after_an_open_code_point_is_refused() {
    let mut s = open(Role::Server);
    s.send_fragment(MessageKind::Text, &[b'a', 0xc3], false)
        .unwrap();
    assert_eq!(
        s.send_unbuffered_text("b", true),
        Err(UsageError::InvalidUtf8)
    );
    s.send_fragment(MessageKind::Text, &[0xa9], false).unwrap();
    s.send_unbuffered_text("-ok", true).unwrap();
    assert_eq!(
        written_to_client(&mut s, [b"-ok".to_vec()], 5),
        vec![Ev::Text("aé-ok".into())]
    );
}

#[test]
fn unbuffered_payloads_wait_for_an_open_connection() {
    let mut s = open(Role::Server);
    s.close(1000, "").unwrap();
    assert_eq!(
        s.send_unbuffered(MessageKind::Binary, b"x", true),
        Err(UsageError::AlreadyClosing)
    );
    assert_eq!(s.unbuffered_payloads(), 0);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "the payload passed has 3 bytes, but the oldest one sent unbuffered")]
fn a_payload_of_another_length_panics_in_debug_builds() {
    let mut s = open(Role::Server);
    s.send_unbuffered(MessageKind::Binary, b"four", true)
        .unwrap();
    let _ = s.output_slices(b"fou");
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "the payload passed is not the one sent unbuffered")]
fn a_payload_with_other_bytes_panics_in_debug_builds() {
    let mut s = open(Role::Server);
    let first = vec![1u8; 1000];
    let mut second = vec![1u8; 1000];
    second[999] = 2;
    s.send_unbuffered(MessageKind::Binary, &first, true)
        .unwrap();
    s.send_unbuffered(MessageKind::Binary, &second, true)
        .unwrap();
    // The second payload where the first is due.
    let _ = s.output_slices(&second);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "masked for a client")]
fn a_client_payload_passed_unmasked_panics_in_debug_builds() {
    let mut c = open(Role::Client);
    let original = vec![9u8; 64];
    let mut p = original.clone();
    c.send_unbuffered_mut(MessageKind::Binary, &mut p, true)
        .unwrap();
    let _ = c.output_slices(&original);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "no payload sent unbuffered is waiting to be written")]
fn a_payload_when_none_is_due_panics_in_debug_builds() {
    let mut s = open(Role::Server);
    s.send_binary(b"buffered").unwrap();
    let _ = s.output_slices(b"stray");
}

/// In a release build a wrong payload is not checked: the bytes written are wrong, and
/// nothing panics or reads out of bounds.
#[cfg(not(debug_assertions))]
#[test]
fn a_wrong_payload_in_a_release_build_does_not_panic() {
    let mut s = open(Role::Server);
    s.send_unbuffered(MessageKind::Binary, &[1; 100], true)
        .unwrap();
    let slices = s.output_slices(&[2; 10]);
    assert!(slices[1].is_empty());
    let n: usize = slices.iter().map(|s| s.len()).sum();
    s.advance_output(n + 1000);
    assert_eq!(s.unbuffered_payloads(), 0);
    let _ = s.output_slices(&[]);
}

/// The held payloads do not count against the output bound; their headers do.
#[test]
fn payloads_do_not_count_against_the_output_bound() {
    let mut s = Connection::from_upgraded(Role::Server, Config::default().max_output_buffer(100));
    for _ in 0..10 {
        s.send_unbuffered(MessageKind::Binary, &[0; 1000], true)
            .unwrap();
    }
    assert_eq!(s.queued_output(), 10 * 4);
    assert_eq!(s.unbuffered_payloads(), 10);
}

/// `unbuffered_bytes` counts what is left of the held payloads: a payload partly written
/// counts its rest, one written whole nothing, and queued bytes are not in it.
#[test]
fn unbuffered_bytes_count_what_is_left_of_the_payloads() {
    let mut s = Connection::from_upgraded(Role::Server, Config::default());
    let (a, b) = (vec![1u8; 1000], vec![2u8; 300]);
    s.send_unbuffered(MessageKind::Binary, &a, true).unwrap();
    s.send_ping(b"x").unwrap();
    s.send_unbuffered(MessageKind::Binary, &b, true).unwrap();
    assert_eq!(s.unbuffered_bytes(), 1300);
    assert_eq!(s.queued_output(), 4 + 3 + 4);
    // The first header and 600 bytes of the first payload.
    s.advance_output(4 + 600);
    assert_eq!(s.unbuffered_bytes(), 400 + 300);
    assert_eq!(s.unbuffered_payloads(), 2);
    // The rest of it: written whole.
    s.advance_output(400);
    assert_eq!(s.unbuffered_bytes(), 300);
    let n: usize = s.output_parts(&b).iter().map(|p| p.len()).sum();
    assert_eq!(n, 3 + 4 + 300);
    // The Ping, the second header and 100 bytes of the second payload.
    s.advance_output(3 + 4 + 100);
    assert_eq!(s.unbuffered_bytes(), 200);
    s.advance_output(200);
    assert_eq!((s.unbuffered_bytes(), s.unbuffered_payloads()), (0, 0));
    assert_eq!(s.queued_output(), 0);
}

proptest! {
    /// Any mix of buffered and unbuffered sends, several outstanding, written in pieces of any
    /// size, puts on the wire exactly the bytes the buffered calls alone would have.
    #[test]
    fn unbuffered_sends_write_what_buffered_sends_write(
        sends in proptest::collection::vec(
            (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)),
            1..8,
        ),
        flush_every in 1usize..4,
        step in 1usize..400,
        from_client in any::<bool>(),
    ) {
        let role = if from_client { Role::Client } else { Role::Server };
        let (mut a, mut b) = (open(role), open(role));
        let mut held = VecDeque::new();
        let mut sock = Short { step, wire: Vec::new() };
        for (i, (unbuffered, fin, bytes)) in sends.iter().enumerate() {
            let fin = *fin || i + 1 == sends.len();
            if *unbuffered {
                let mut payload = bytes.clone();
                a.send_unbuffered_mut(MessageKind::Binary, &mut payload, fin).unwrap();
                if !payload.is_empty() {
                    held.push_back(payload);
                }
            } else {
                a.send_fragment(MessageKind::Binary, bytes, fin).unwrap();
            }
            b.send_fragment(MessageKind::Binary, bytes, fin).unwrap();
            if i % 3 == 0 {
                a.send_ping(b"between").unwrap();
                b.send_ping(b"between").unwrap();
            }
            if i % flush_every == 0 {
                write_all(&mut a, &mut held, &mut sock);
            }
        }
        write_all(&mut a, &mut held, &mut sock);
        prop_assert_eq!(sock.wire, take_output(&mut b));
    }
}
