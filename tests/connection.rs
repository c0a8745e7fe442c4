//! The open connection: frames, messages, control frames and the closing handshake.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wsmachine::__private::rng::FixedMasks;
use wsmachine::{
    Config, Connection, Delivery, MessageKind, ProtocolError, Role, State, UsageError,
};

fn server() -> Connection {
    Connection::from_upgraded(Role::Server, Config::default())
}

fn client() -> Connection {
    let mut c = Connection::from_upgraded(Role::Client, Config::default());
    c.set_mask_source(Box::new(FixedMasks::new(vec![[0x37, 0xfa, 0x21, 0x3d]])));
    c
}

/// A masked frame as a client would send it.
fn masked(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut v = vec![first];
    let len = payload.len();
    if len < 126 {
        v.push(0x80 | len as u8);
    } else if len < 65536 {
        v.push(0x80 | 126);
        v.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        v.push(0x80 | 127);
        v.extend_from_slice(&(len as u64).to_be_bytes());
    }
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

const K: [u8; 4] = [1, 2, 3, 4];

#[test]
fn rfc_5_7_masked_hello_reaches_server_as_text() {
    let mut s = server();
    s.receive(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(drain(&mut s), vec![Ev::Text("Hello".into())]);
}

#[test]
fn client_sends_rfc_5_7_masked_hello() {
    let mut c = client();
    c.send_text("Hello").unwrap();
    assert_eq!(
        take_output(&mut c),
        vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
}

#[test]
fn rfc_5_7_unmasked_fragments_reach_client() {
    let mut c = client();
    c.receive(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(drain(&mut c), vec![Ev::Text("Hello".into())]);
}

#[test]
fn server_sends_unmasked_frames() {
    let mut s = server();
    s.send_text("Hello").unwrap();
    s.send_ping(b"Hello").unwrap();
    assert_eq!(
        take_output(&mut s),
        [
            &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f][..],
            &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
        ]
        .concat()
    );
}

#[test]
fn ping_between_fragments_is_answered_and_message_reassembled() {
    let mut s = server();
    let input = [
        masked(0x01, "héllo ".as_bytes(), K),
        masked(0x89, b"p", K),
        masked(0x00, &"wörld".as_bytes()[..2], K),
        masked(0x80, &"wörld".as_bytes()[2..], K),
    ]
    .concat();
    let (events, out) = feed_split(&mut s, &input, &[]);
    assert_eq!(
        events,
        vec![Ev::Ping(b"p".to_vec()), Ev::Text("héllo wörld".into())]
    );
    assert_eq!(out, vec![0x8a, 0x01, b'p']);
}

#[test]
fn unmasked_frame_to_server_fails_with_1002() {
    let mut s = server();
    s.receive(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(drain(&mut s), vec![Ev::Error(ProtocolError::UnmaskedFrame)]);
    let out = take_output(&mut s);
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xea]);
    assert!(s.should_close_transport());
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn masked_frame_to_client_fails_with_1002() {
    let mut c = client();
    c.receive(&masked(0x82, b"x", K));
    assert_eq!(drain(&mut c), vec![Ev::Error(ProtocolError::MaskedFrame)]);
    assert!(c.should_close_transport());
}

#[test]
fn invalid_utf8_fails_fast_in_the_middle_of_a_frame() {
    let mut s = server();
    // A 20-byte text frame whose 3rd byte is invalid; only 5 payload bytes arrive.
    let mut payload = b"ab\xffdefghijklmnopqrst".to_vec();
    payload.truncate(20);
    let frame = masked(0x81, &payload, K);
    s.receive(&frame[..6 + 5]);
    assert_eq!(drain(&mut s), vec![Ev::Error(ProtocolError::InvalidUtf8)]);
    let out = take_output(&mut s);
    assert_eq!(&out[2..4], &1007u16.to_be_bytes());
}

#[test]
fn code_point_split_across_frames_is_accepted() {
    let mut s = server();
    let euro = "€".as_bytes();
    let input = [
        masked(0x01, &euro[..1], K),
        masked(0x00, &euro[1..2], K),
        masked(0x80, &euro[2..], K),
    ]
    .concat();
    let (events, _) = feed_bytewise(&mut s, &input);
    assert_eq!(events, vec![Ev::Text("€".into())]);
}

#[test]
fn truncated_code_point_at_message_end_is_1007() {
    let mut s = server();
    s.receive(&masked(0x81, &"€".as_bytes()[..2], K));
    assert_eq!(drain(&mut s), vec![Ev::Error(ProtocolError::InvalidUtf8)]);
}

#[test]
fn continuation_without_message_and_new_message_inside_fragments_are_1002() {
    let mut s = server();
    s.receive(&masked(0x80, b"x", K));
    assert_eq!(
        drain(&mut s),
        vec![Ev::Error(ProtocolError::UnexpectedContinuation)]
    );
    let mut s = server();
    s.receive(&[masked(0x01, b"a", K), masked(0x81, b"b", K)].concat());
    assert_eq!(
        drain(&mut s),
        vec![Ev::Error(ProtocolError::ExpectedContinuation)]
    );
}

#[test]
fn frame_and_message_limits_give_1009() {
    let mut s = Connection::from_upgraded(Role::Server, Config::default().max_frame_size(10));
    s.receive(&masked(0x82, &[0; 11], K)[..8]);
    assert_eq!(
        drain(&mut s),
        vec![Ev::Error(ProtocolError::FrameTooLarge { limit: 10 })]
    );
    assert_eq!(&take_output(&mut s)[2..4], &1009u16.to_be_bytes());

    let mut s = Connection::from_upgraded(Role::Server, Config::default().max_message_size(10));
    s.receive(&[masked(0x02, &[0; 6], K), masked(0x80, &[0; 6], K)].concat());
    assert_eq!(
        drain(&mut s),
        vec![Ev::Error(ProtocolError::MessageTooLarge { limit: 10 })]
    );
}

#[test]
fn messages_before_an_error_are_delivered_and_replies_kept() {
    let mut s = server();
    let input = [
        masked(0x81, b"one", K),
        masked(0x89, b"p", K),
        masked(0x83, b"bad", K),
    ]
    .concat();
    let (events, out) = feed_split(&mut s, &input, &[]);
    assert_eq!(
        events,
        vec![
            Ev::Text("one".into()),
            Ev::Ping(b"p".to_vec()),
            Ev::Error(ProtocolError::ReservedOpcode(3))
        ]
    );
    // The pong comes first, then the Close 1002.
    assert_eq!(&out[..3], &[0x8a, 0x01, b'p']);
    assert_eq!(out[3], 0x88);
    assert_eq!(&out[5..7], &1002u16.to_be_bytes());
}

#[test]
fn close_handshake_initiated_by_client() {
    let mut c = client();
    let mut s = server();
    c.close(1000, "bye").unwrap();
    assert_eq!(c.state(), State::Closing);
    assert_eq!(c.send_text("late"), Err(UsageError::AlreadyClosing));
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::Close(1000, "bye".into())]);
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
    // The echo carries the same code and reason.
    let echo = take_output(&mut s);
    assert_eq!(echo, vec![0x88, 0x05, 0x03, 0xe8, b'b', b'y', b'e']);
    c.receive(&echo);
    assert_eq!(drain(&mut c), vec![Ev::Close(1000, "bye".into())]);
    assert_eq!(c.state(), State::Closed);
    // The client waits for the server to close the TCP connection.
    assert!(!c.should_close_transport());
    c.receive_eof();
    assert!(c.should_close_transport());
    assert_eq!(drain(&mut c), vec![]);
}

#[test]
fn close_handshake_initiated_by_server_and_data_still_delivered_while_closing() {
    let mut c = client();
    let mut s = server();
    s.close(1001, "").unwrap();
    c.send_text("in flight").unwrap();
    let from_client = take_output(&mut c);
    s.receive(&from_client);
    assert_eq!(drain(&mut s), vec![Ev::Text("in flight".into())]);
    c.receive(&take_output(&mut s));
    assert_eq!(drain(&mut c), vec![Ev::Close(1001, String::new())]);
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::Close(1001, String::new())]);
    assert!(s.should_close_transport());
}

#[test]
fn empty_close_is_reported_as_1005_and_echoed_empty() {
    let mut s = server();
    s.receive(&masked(0x88, b"", K));
    assert_eq!(drain(&mut s), vec![Ev::Close(1005, String::new())]);
    assert_eq!(take_output(&mut s), vec![0x88, 0x00]);
}

#[test]
fn invalid_close_payloads() {
    for (payload, err) in [
        (vec![0x03], ProtocolError::InvalidClosePayload),
        (
            999u16.to_be_bytes().to_vec(),
            ProtocolError::InvalidCloseCode(999),
        ),
        (
            1005u16.to_be_bytes().to_vec(),
            ProtocolError::InvalidCloseCode(1005),
        ),
        (
            [&1000u16.to_be_bytes()[..], b"\xff"].concat(),
            ProtocolError::InvalidUtf8,
        ),
    ] {
        let mut s = server();
        s.receive(&masked(0x88, &payload, K));
        assert_eq!(drain(&mut s), vec![Ev::Error(err)]);
        let out = take_output(&mut s);
        assert_eq!(&out[2..4], &err.close_code().to_be_bytes());
    }
}

#[test]
fn eof_without_close_reports_1006_after_buffered_messages() {
    let mut s = server();
    s.receive(&masked(0x81, b"last", K));
    s.receive(&masked(0x81, b"partial", K)[..5]);
    s.receive_eof();
    assert_eq!(
        drain(&mut s),
        vec![Ev::Text("last".into()), Ev::Close(1006, String::new())]
    );
    assert!(s.should_close_transport());
}

#[test]
fn local_misuse_is_a_usage_error() {
    let mut s = server();
    assert_eq!(
        s.send_ping(&[0; 126]),
        Err(UsageError::ControlPayloadTooLong)
    );
    assert_eq!(s.close(1005, ""), Err(UsageError::InvalidCloseCode(1005)));
    assert_eq!(
        s.close(1000, &"x".repeat(124)),
        Err(UsageError::CloseReasonTooLong)
    );
    s.send_fragment(MessageKind::Text, b"a", false).unwrap();
    assert_eq!(s.send_text("b"), Err(UsageError::MessageInProgress));
    assert_eq!(
        s.send_fragment(MessageKind::Binary, b"a", true),
        Err(UsageError::MessageInProgress)
    );
    assert_eq!(
        s.send_fragment(MessageKind::Text, b"\xe2\x82", true),
        Err(UsageError::InvalidUtf8)
    );
    s.send_fragment(MessageKind::Text, b"\xe2\x82\xac", true)
        .unwrap();
    s.close(1000, "").unwrap();
    assert_eq!(s.close(1000, ""), Err(UsageError::AlreadyClosing));
    let mut fresh = Connection::server(Config::default());
    assert_eq!(fresh.send_text("x"), Err(UsageError::NotOpen));
}

#[test]
fn streaming_delivers_pieces_as_they_arrive() {
    let mut s = Connection::from_upgraded(
        Role::Server,
        Config::default().delivery(Delivery::Streaming),
    );
    let frame = masked(0x82, b"abcdef", K);
    s.receive(&frame[..9]);
    let mut got = drain(&mut s);
    s.receive(&frame[9..]);
    got.extend(drain(&mut s));
    s.receive(&frame);
    got.extend(drain(&mut s));
    assert_eq!(
        got,
        vec![
            Ev::Data {
                data: b"abc".to_vec(),
                text: false,
                finished: false
            },
            Ev::Data {
                data: b"def".to_vec(),
                text: false,
                finished: true
            },
            Ev::Data {
                data: b"abcdef".to_vec(),
                text: false,
                finished: true
            },
        ]
    );
}

#[test]
fn streaming_hands_out_the_valid_text_before_an_invalid_byte_however_it_is_split() {
    // "héllo" with a stray continuation byte after "hé": the valid bytes before it are
    // delivered, then the connection fails with 1007, whether the frame arrives whole or
    // byte by byte.
    let payload = [b"h\xC3\xA9".as_slice(), &[0x80], b"llo"].concat();
    let frame = masked(0x81, &payload, K);
    let streaming = || {
        Connection::from_upgraded(
            Role::Server,
            Config::default().delivery(Delivery::Streaming),
        )
    };
    let mut whole = streaming();
    whole.receive(&frame);
    let got_whole = drain(&mut whole);
    assert_eq!(
        got_whole,
        vec![
            Ev::Data {
                data: b"h\xC3\xA9".to_vec(),
                text: true,
                finished: false
            },
            Ev::Error(ProtocolError::InvalidUtf8),
        ]
    );
    let mut bytewise = streaming();
    let mut pieces = Vec::new();
    for b in &frame {
        bytewise.receive(std::slice::from_ref(b));
        pieces.extend(drain(&mut bytewise));
    }
    let delivered: Vec<u8> = pieces
        .iter()
        .filter_map(|e| match e {
            Ev::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(delivered, b"h\xC3\xA9");
    assert_eq!(pieces.last(), Some(&Ev::Error(ProtocolError::InvalidUtf8)));
    // Both queue the same Close (1007).
    assert_eq!(whole.pending_output(), bytewise.pending_output());
    assert_eq!(&whole.pending_output()[2..4], &1007u16.to_be_bytes());
}

/// A byte that is not ASCII, valid or not, anywhere in a large text frame (unmasked during
/// the copy or in place, read in pieces or whole, in one frame or two), is judged as UTF-8
/// although the ASCII around it skips the check; all-ASCII text arrives intact. (That the
/// check is skipped is shown by `connection::text_tests`, which counts the bytes checked.)
#[test]
fn text_is_judged_as_utf8_wherever_a_byte_that_is_not_ascii_falls() {
    let n = 70_000;
    let ascii: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
    let mut cases = vec![(ascii.clone(), true)];
    for at in [0, 3, 4_095, 16_384, 40_000, n - 2] {
        let mut t = ascii.clone();
        t[at..at + 2].copy_from_slice("é".as_bytes());
        cases.push((t.clone(), true));
        t[at + 1] = b'x'; // a lead byte without its continuation
        cases.push((t.clone(), false));
        t[at] = 0xff;
        cases.push((t, false));
    }
    let mut cut = ascii.clone();
    cut[n - 1] = 0xc3; // a code point cut by the end of the message
    cases.push((cut, false));
    for (payload, valid) in cases {
        let want = if valid {
            vec![Ev::Text(String::from_utf8(payload.clone()).unwrap())]
        } else {
            vec![Ev::Error(ProtocolError::InvalidUtf8)]
        };
        let whole = masked(0x81, &payload, K);
        let split = n / 3;
        let fragments = [
            masked(0x01, &payload[..split], K),
            masked(0x80, &payload[split..], K),
        ]
        .concat();
        for wire in [&whole, &fragments] {
            for read in [wire.len(), 64 * 1024, 16 * 1024 + 3, 1_000] {
                // Copied in by `receive`: large frames are unmasked during the copy.
                let mut s = server();
                for chunk in wire.chunks(read) {
                    s.receive(chunk);
                }
                assert_eq!(drain(&mut s), want, "receive, reads of {read}");
                // Read into the lent buffer: unmasked in place.
                let mut s = server();
                for chunk in wire.chunks(read) {
                    let buf = s.receive_buffer(chunk.len());
                    buf[..chunk.len()].copy_from_slice(chunk);
                    s.commit_received(chunk.len());
                }
                assert_eq!(drain(&mut s), want, "lent, reads of {read}");
            }
        }
    }
}

#[test]
fn lent_receive_buffer_is_equivalent_to_receive() {
    let input = [masked(0x81, b"hello", K), masked(0x82, &[7; 300], K)].concat();
    let mut s = server();
    for chunk in input.chunks(7) {
        let buf = s.receive_buffer(chunk.len());
        buf[..chunk.len()].copy_from_slice(chunk);
        s.commit_received(chunk.len());
    }
    assert_eq!(
        drain(&mut s),
        vec![Ev::Text("hello".into()), Ev::Binary(vec![7; 300])]
    );
}

#[test]
fn release_buffers_frees_idle_memory() {
    let mut s = server();
    s.receive(&masked(0x82, &[1; 5000], K));
    assert_eq!(drain(&mut s).len(), 1);
    s.send_binary(&[0; 100]).unwrap();
    take_output(&mut s);
    assert!(s.buffered_capacity() > 0);
    s.release_buffers();
    assert_eq!(s.buffered_capacity(), 0);
    s.receive(&masked(0x81, b"again", K));
    assert_eq!(drain(&mut s), vec![Ev::Text("again".into())]);
}

/// What a client application does; replayed against both roles.
#[derive(Debug, Clone)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Fragments(bool, Vec<Vec<u8>>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        ".{0,40}".prop_map(Op::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        (
            any::<bool>(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4)
        )
            .prop_map(|(t, parts)| Op::Fragments(t, parts)),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::Ping),
        proptest::collection::vec(any::<u8>(), 0..125).prop_map(Op::Pong),
    ]
}

/// Apply ops to `sender`; return the events the receiver is expected to report.
fn apply(sender: &mut Connection, ops: &[Op]) -> Vec<Ev> {
    let mut expected = Vec::new();
    for op in ops {
        match op {
            Op::Text(t) => {
                sender.send_text(t).unwrap();
                expected.push(Ev::Text(t.clone()));
            }
            Op::Binary(b) => {
                sender.send_binary(b).unwrap();
                expected.push(Ev::Binary(b.clone()));
            }
            Op::Fragments(text, parts) => {
                let whole: Vec<u8> = parts.concat();
                if *text {
                    // Text fragments: split a valid string at the same lengths.
                    let s: String = whole.iter().map(|b| (b'a' + b % 26) as char).collect();
                    let mut at = 0;
                    for (i, p) in parts.iter().enumerate() {
                        sender
                            .send_fragment(
                                MessageKind::Text,
                                &s.as_bytes()[at..at + p.len()],
                                i + 1 == parts.len(),
                            )
                            .unwrap();
                        at += p.len();
                    }
                    expected.push(Ev::Text(s));
                } else {
                    for (i, p) in parts.iter().enumerate() {
                        sender
                            .send_fragment(MessageKind::Binary, p, i + 1 == parts.len())
                            .unwrap();
                    }
                    expected.push(Ev::Binary(whole));
                }
            }
            Op::Ping(p) => {
                sender.send_ping(p).unwrap();
                expected.push(Ev::Ping(p.clone()));
            }
            Op::Pong(p) => {
                sender.send_pong(p).unwrap();
                expected.push(Ev::Pong(p.clone()));
            }
        }
    }
    expected
}

proptest! {
    #[test]
    fn any_frames_round_trip_at_any_split(
        ops in proptest::collection::vec(op(), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        from_client in any::<bool>(),
    ) {
        let (mut tx, mut rx) = if from_client { (client(), server()) } else { (server(), client()) };
        let expected = apply(&mut tx, &ops);
        let wire = take_output(&mut tx);
        let cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
        let (events, _) = feed_split(&mut rx, &wire, &cuts);
        prop_assert_eq!(&events, &expected);
        // Byte by byte gives the same events.
        let mut rx2 = if from_client { server() } else { client() };
        let (events2, _) = feed_bytewise(&mut rx2, &wire);
        prop_assert_eq!(events2, expected);
    }

    #[test]
    fn arbitrary_input_never_panics_and_chunking_never_changes_events(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        role_server in any::<bool>(),
        streaming in any::<bool>(),
    ) {
        let make = || small_limits(role_server, streaming);
        reads_do_not_matter(make, &input, &cuts, streaming)?;
    }
}

/// One frame of hostile but mostly well-formed input: any opcode (reserved ones included), FIN,
/// RSV bits now and then, masked or not, a payload that is often text with a stray byte.
fn rough_frame() -> impl Strategy<Value = (u8, bool, bool, Vec<u8>)> {
    let opcode = prop_oneof![
        6 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]),
        1 => 0u8..16,
    ];
    let rsv = prop_oneof![9 => Just(0u8), 1 => prop::sample::select(vec![0x10u8, 0x20, 0x40])];
    let payload = prop_oneof![
        "\\PC{0,40}".prop_map(String::into_bytes),
        ("\\PC{0,40}", any::<u8>(), any::<usize>()).prop_map(|(t, b, at)| {
            let mut v = t.into_bytes();
            let at = at % (v.len() + 1);
            v.insert(at, b);
            v
        }),
        prop::collection::vec(any::<u8>(), 0..260),
    ];
    (
        opcode,
        rsv,
        any::<bool>(),
        prop_oneof![9 => Just(true), 1 => Just(false)],
        payload,
    )
        .prop_map(|(op, rsv, fin, mask, payload)| (op | rsv, fin, mask, payload))
}

/// A frame with a payload large enough to be unmasked while it is copied in (32 KiB and
/// more): binary, or text repeated from a short string, now and then with a stray byte, masked
/// or not.
fn large_frame() -> impl Strategy<Value = (u8, bool, bool, Vec<u8>)> {
    (
        prop::sample::select(vec![0u8, 1, 2]),
        any::<bool>(),
        prop_oneof![9 => Just(true), 1 => Just(false)],
        "\\PC{1,8}",
        32 * 1024..34 * 1024usize,
        proptest::option::weighted(0.3, (any::<u8>(), any::<usize>())),
    )
        .prop_map(|(op, fin, mask, unit, len, stray)| {
            let mut payload = unit.as_bytes().repeat(len / unit.len() + 1);
            payload.truncate(len);
            if let Some((b, at)) = stray {
                payload[at % len] = b;
            }
            (op, fin, mask, payload)
        })
}

fn encode_rough(frames: &[(u8, bool, bool, Vec<u8>)], key: [u8; 4]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (first, fin, mask, payload) in frames {
        let first = first | if *fin { 0x80 } else { 0 };
        let mut f = masked(first, payload, key);
        if !mask {
            // Same frame without the mask bit and key: the payload goes in clear.
            f = [
                vec![f[0], f[1] & 0x7f],
                f[2..f.len() - payload.len() - 4].to_vec(),
                payload.clone(),
            ]
            .concat();
        }
        wire.extend_from_slice(&f);
    }
    wire
}

proptest! {
    #[test]
    fn rough_frames_chunking_never_changes_events(
        frames in proptest::collection::vec(rough_frame(), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        role_server in any::<bool>(),
        streaming in any::<bool>(),
    ) {
        // Frames come masked to a server and in clear to a client, unless the case says not.
        let frames: Vec<_> = frames
            .into_iter()
            .map(|(first, fin, ok, payload)| (first, fin, ok == role_server, payload))
            .collect();
        let input = encode_rough(&frames, K);
        reads_do_not_matter(|| small_limits(role_server, streaming), &input, &cuts, streaming)?;
    }
}

proptest! {
    /// Large frames in large reads are unmasked while they are copied in; the events, the
    /// replies and the errors are those of the same bytes read one at a time (which are
    /// unmasked in place), and of the same reads through the lent buffer.
    #[test]
    fn unmasking_during_the_copy_never_changes_events(
        frames in proptest::collection::vec(
            prop_oneof![2 => rough_frame(), 1 => large_frame()],
            0..6,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
        streaming in any::<bool>(),
    ) {
        let make = || {
            let config = Config::default()
                .max_frame_size(40_000)
                .max_message_size(100_000)
                .delivery(if streaming { Delivery::Streaming } else { Delivery::Whole });
            Connection::from_upgraded(Role::Server, config)
        };
        // Masked, as a server expects, unless the case says not (then the parser fails it).
        let input = encode_rough(&frames, [0x5a, 0x11, 0xc3, 0x7e]);
        reads_do_not_matter(make, &input, &cuts, streaming)?;
    }
}

/// A machine of either role with small limits and fixed masks.
fn small_limits(role_server: bool, streaming: bool) -> Connection {
    let config = Config::default()
        .max_frame_size(200)
        .max_message_size(300)
        .delivery(if streaming {
            Delivery::Streaming
        } else {
            Delivery::Whole
        });
    let mut c = Connection::from_upgraded(
        if role_server {
            Role::Server
        } else {
            Role::Client
        },
        config,
    );
    c.set_mask_source(Box::new(FixedMasks::new(vec![[9, 8, 7, 6]])));
    c
}

/// `input` read whole, in the reads `cuts` describe (through `receive`, and through the lent
/// buffer), and byte by byte, by fresh machines from `make`: the same events (streaming pieces
/// merged) and the same output.
fn reads_do_not_matter(
    make: impl Fn() -> Connection,
    input: &[u8],
    cuts: &[usize],
    streaming: bool,
) -> Result<(), TestCaseError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let (whole, out_whole) = feed_split(&mut make(), input, &[]);
    let (split, out_split) = feed_split(&mut make(), input, &cuts);
    let (bytewise, out_bytewise) = feed_bytewise(&mut make(), input);
    let mut c = make();
    let mut lent = Vec::new();
    let mut last = 0;
    for &cut in cuts.iter().chain([input.len()].iter()) {
        let piece = &input[last..cut];
        last = cut;
        let n = piece.len();
        if n > 0 {
            c.receive_buffer(n)[..n].copy_from_slice(piece);
            c.commit_received(n);
        }
        lent.extend(drain(&mut c));
    }
    let out_lent = take_output(&mut c);
    for (name, events, out) in [
        ("split", &split, &out_split),
        ("bytewise", &bytewise, &out_bytewise),
        ("lent", &lent, &out_lent),
    ] {
        prop_assert_eq!(&out_whole, out, "output, whole vs {}", name);
        if streaming {
            prop_assert_eq!(flatten(&whole), flatten(events), "whole vs {}", name);
        } else {
            prop_assert_eq!(&whole, events, "whole vs {}", name);
        }
    }
    Ok(())
}

/// Merge adjacent streaming pieces of one message, for comparison across chunkings.
fn flatten(events: &[Ev]) -> Vec<Ev> {
    let mut v: Vec<Ev> = Vec::new();
    for e in events {
        if let Ev::Data {
            data,
            text,
            finished,
        } = e
        {
            if let Some(Ev::Data {
                data: d,
                finished: f,
                ..
            }) = v.last_mut()
                && !*f
            {
                d.extend_from_slice(data);
                *f = *finished;
                continue;
            }
            v.push(Ev::Data {
                data: data.clone(),
                text: *text,
                finished: *finished,
            });
        } else {
            v.push(e.clone());
        }
    }
    v
}

#[test]
fn written_output_is_reclaimed_whoever_queued_it() {
    // Only automatic Pongs are queued here, and output is written a little at a time: the
    // buffer must not keep the written prefix.
    let mut s = server();
    let mut written = Vec::new();
    for _ in 0..2000 {
        s.receive(&masked(0x89, &[7; 100], K));
        assert_eq!(drain(&mut s).len(), 1);
        // All but the last byte: the buffer is never empty, so only reclaiming the written
        // prefix keeps it small.
        let n = s.pending_output().len() - 1;
        written.extend_from_slice(&s.pending_output()[..n]);
        s.advance_output(n);
    }
    written.extend_from_slice(s.pending_output());
    // Every Pong arrived, in order.
    assert_eq!(written.len(), 2000 * 102);
    assert!(
        written
            .chunks(102)
            .all(|f| f[..2] == [0x8a, 100] && f[2..] == [7; 100])
    );
    // What is kept is bounded by what is pending, not by what was ever written.
    let pending = s.pending_output().len();
    assert!(
        s.buffered_capacity() < 4 * (pending + 102) + 64 * 1024,
        "{} bytes held for {pending} pending",
        s.buffered_capacity()
    );
}

/// A request that cannot be sent is reported at the first poll, not when (or if) server bytes
/// arrive: nothing is queued and the transport is to be closed.
#[test]
fn an_invalid_client_request_is_reported_at_once() {
    let mut c = Connection::client(
        &wsmachine::handshake::ClientRequest::new("bad host", "/"),
        Config::default(),
    );
    assert!(c.pending_output().is_empty());
    assert_eq!(c.state(), State::Closed);
    assert!(c.should_close_transport());
    let got: Vec<String> =
        std::iter::from_fn(|| c.poll_event().map(|e| format!("{e:?}"))).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("HandshakeFailed(InvalidClientRequest("),
        "{got:?}"
    );
}

/// Nothing goes out after this side's Close: data, Pings and Pongs are usage errors.
#[test]
fn nothing_is_sent_after_close() {
    let mut s = server();
    s.close(1000, "").unwrap();
    let queued = s.pending_output().to_vec();
    assert_eq!(s.send_ping(b"x"), Err(UsageError::AlreadyClosing));
    assert_eq!(s.send_pong(b"x"), Err(UsageError::AlreadyClosing));
    assert_eq!(s.send_binary(b"x"), Err(UsageError::AlreadyClosing));
    assert_eq!(s.pending_output(), &queued[..]);
}

/// `Delivery::StreamAbove(n)`: small messages whole, a large one in pieces from the header that
/// shows it large — its first frame's, or a later fragment's, after the part reassembled so
/// far — the same however the input is split.
#[test]
fn messages_above_the_threshold_are_streamed_the_rest_whole() {
    let long: Vec<u8> = (0..150u8).map(|i| b'a' + i % 26).collect();
    let wire = [
        masked(0x81, b"small", K),
        masked(0x82, &long, K),
        // 60 + 60 bytes: whole until the second fragment's header passes 100.
        masked(0x01, &long[..60], K),
        masked(0x89, b"p", K),
        masked(0x80, &long[60..120], K),
        masked(0x81, b"after", K),
    ]
    .concat();
    for cut in 0..=wire.len() {
        let mut s = Connection::from_upgraded(
            Role::Server,
            Config::default().delivery(Delivery::StreamAbove(100)),
        );
        let (events, _) = feed_split(&mut s, &wire, &[cut]);
        // Merge the streamed pieces of each message to compare what they carry.
        let mut merged: Vec<Ev> = Vec::new();
        for ev in events {
            match (ev, merged.last_mut()) {
                (
                    Ev::Data {
                        data,
                        text,
                        finished,
                    },
                    Some(Ev::Data {
                        data: acc,
                        finished: f,
                        ..
                    }),
                ) if !*f => {
                    acc.extend_from_slice(&data);
                    *f = finished;
                    let _ = text;
                }
                (ev, _) => merged.push(ev),
            }
        }
        assert_eq!(
            merged,
            vec![
                Ev::Text("small".into()),
                Ev::Data {
                    data: long.clone(),
                    text: false,
                    finished: true
                },
                Ev::Ping(b"p".to_vec()),
                Ev::Data {
                    data: long[..120].to_vec(),
                    text: true,
                    finished: true
                },
                Ev::Text("after".into()),
            ],
            "cut {cut}"
        );
    }
}

/// The part reassembled before the threshold is passed comes as the first piece, whole.
#[test]
fn the_reassembled_part_is_the_first_piece() {
    let mut s = Connection::from_upgraded(
        Role::Server,
        Config::default().delivery(Delivery::StreamAbove(100)),
    );
    s.receive(&masked(0x01, &[b'x'; 60], K));
    assert_eq!(drain(&mut s), vec![]);
    s.receive(&masked(0x80, &[b'y'; 60], K));
    assert_eq!(
        drain(&mut s),
        vec![
            Ev::Data {
                data: vec![b'x'; 60],
                text: true,
                finished: false
            },
            Ev::Data {
                data: vec![b'y'; 60],
                text: true,
                finished: true
            },
        ]
    );
}
