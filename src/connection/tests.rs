//! The extension stage, driven by a toy extension: a run-length code whose decoded size can be
//! far larger than its input, as a compressed message's can.

use super::*;
use crate::config::Delivery;
use crate::extension::Decoded;
use crate::rng::FixedMasks;

/// Encodes each byte as the pair (1, byte); decodes each pair (n, byte) as n copies of byte.
/// RSV1 marks a transformed message; RSV1 on a continuation is the peer's error.
#[derive(Debug, Default)]
struct Rle {
    /// A pair's count byte, when the input ended between the two.
    count: Option<u8>,
    /// What is left of a run that did not fit the output.
    run: Option<(u8, usize)>,
}

impl Extension for Rle {
    fn rsv_bits(&self) -> u8 {
        0b100
    }

    fn inbound_frame(&mut self, rsv: u8, first: bool) -> Result<bool, ProtocolError> {
        match (first, rsv) {
            (true, r) => Ok(r == 0b100),
            (false, 0) => Ok(false),
            (false, _) => Err(ProtocolError::ReservedBitsSet),
        }
    }

    fn decode(
        &mut self,
        input: &[u8],
        end: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Decoded, ProtocolError> {
        let mut consumed = 0;
        loop {
            if let Some((b, n)) = self.run.take() {
                let fit = n.min(limit.saturating_sub(out.len()));
                out.resize(out.len() + fit, b);
                if fit < n {
                    self.run = Some((b, n - fit));
                    return Ok(Decoded {
                        consumed,
                        finished: false,
                    });
                }
            }
            let Some(&byte) = input.get(consumed) else {
                break;
            };
            consumed += 1;
            match self.count.take() {
                None => self.count = Some(byte),
                Some(n) => self.run = Some((byte, n as usize)),
            }
        }
        if end && self.count.is_some() {
            return Err(ProtocolError::InvalidPayloadLength);
        }
        Ok(Decoded {
            consumed,
            finished: end,
        })
    }

    fn outbound_wants(&self, len: usize) -> bool {
        len >= 2
    }

    fn encode(&mut self, payload: &[u8], first: bool, _fin: bool, out: &mut Vec<u8>) -> u8 {
        for &b in payload {
            out.extend_from_slice(&[1, b]);
        }
        if first { 0b100 } else { 0 }
    }

    fn release_buffers(&mut self) {}

    fn heap_size(&self) -> usize {
        0
    }
}

fn with_rle(role: Role, config: Config) -> Connection {
    let mut c = Connection::from_upgraded(role, config);
    let mut negotiated = Negotiated::default();
    let mut rle = crate::extension::AcceptedExtension::new("x-rle");
    rle.rsv_bits = 0b100;
    negotiated.push_extension(rle);
    c.install(negotiated, Some(Box::<Rle>::default()));
    if role == Role::Client {
        c.set_mask_source(Box::new(FixedMasks::new(vec![[0x37, 0xfa, 0x21, 0x3d]])));
    }
    c
}

/// A frame as a client sends it (masked with a zero key, so the payload reads as it is).
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![first];
    match payload.len() {
        n @ 0..=125 => v.push(0x80 | n as u8),
        n => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

#[derive(Debug, PartialEq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Data(Vec<u8>, bool),
    Error(ProtocolError),
    Other,
}

fn events(c: &mut Connection) -> Vec<Got> {
    let mut v = Vec::new();
    while let Some(e) = c.poll_event() {
        v.push(match e {
            Event::Text(t) => Got::Text(t.to_owned()),
            Event::Binary(b) => Got::Binary(b.to_vec()),
            Event::Data {
                data,
                message_finished,
                ..
            } => Got::Data(data.to_vec(), message_finished),
            Event::ProtocolError(e) => Got::Error(e),
            _ => Got::Other,
        });
    }
    v
}

#[test]
fn a_message_passes_the_stage_both_ways() {
    let mut client = with_rle(Role::Client, Config::default());
    let mut server = with_rle(Role::Server, Config::default());
    client.send_text("hello").unwrap();
    let wire = client.pending_output().to_vec();
    assert_eq!(
        wire[0], 0xC1,
        "FIN, RSV1 and text on the transformed message"
    );
    assert_eq!(wire[1] & 0x7f, 10, "each byte encoded as a pair");
    server.receive(&wire);
    assert_eq!(events(&mut server), [Got::Text("hello".into())]);
    // Below the stage's threshold a message goes as it is, without RSV1.
    client.advance_output(wire.len());
    client.send_binary(b"x").unwrap();
    let wire = client.pending_output().to_vec();
    assert_eq!(wire[0], 0x82);
    server.receive(&wire);
    assert_eq!(events(&mut server), [Got::Binary(b"x".to_vec())]);
}

#[test]
fn rsv1_only_on_the_first_frame_of_a_message_sent_in_pieces() {
    let mut server = with_rle(Role::Server, Config::default());
    server
        .send_fragment(MessageKind::Text, b"ab", false)
        .unwrap();
    server.send_ping(b"").unwrap();
    server.send_fragment(MessageKind::Text, b"c", true).unwrap();
    let wire = server.pending_output().to_vec();
    assert_eq!(
        wire,
        [
            &[0x41, 4, 1, b'a', 1, b'b'][..],
            &[0x89, 0],
            &[0x80, 2, 1, b'c'],
        ]
        .concat()
    );
    let mut client = with_rle(Role::Client, Config::default());
    client.receive(&wire);
    assert_eq!(events(&mut client), [Got::Other, Got::Text("abc".into())]);
}

#[test]
fn every_split_of_a_fragmented_transformed_message_gives_the_same_events() {
    // "xxxéé!" as runs, cut inside a pair and inside a code point, a Ping between frames.
    let wire = [
        client_frame(0x41, &[3, b'x', 1, 0xc3]),
        client_frame(0x89, b"p"),
        client_frame(0x00, &[1]),
        client_frame(0x80, &[0xa9, 1, 0xc3, 1, 0xa9, 1, b'!']),
    ]
    .concat();
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        for cut in 0..=wire.len() {
            let mut server = with_rle(Role::Server, Config::default().delivery(delivery));
            server.receive(&wire[..cut]);
            let mut got = events(&mut server);
            server.receive(&wire[cut..]);
            got.extend(events(&mut server));
            if delivery == Delivery::Whole {
                assert_eq!(
                    got,
                    [Got::Other, Got::Text("xxx\u{e9}\u{e9}!".into())],
                    "cut {cut}"
                );
                continue;
            }
            let mut text = Vec::new();
            for g in &got {
                if let Got::Data(d, _) = g {
                    text.extend_from_slice(d);
                }
            }
            assert_eq!(text, "xxx\u{e9}\u{e9}!".as_bytes(), "cut {cut}");
            assert!(
                matches!(got.last(), Some(Got::Data(_, true))),
                "cut {cut}: {got:?}"
            );
        }
    }
}

#[test]
fn decoded_text_fails_at_the_first_invalid_byte() {
    // 0xc3 then 'x': invalid as soon as the 'x' is decoded, before the message ends.
    let wire = client_frame(0x41, &[2, b'a', 1, 0xc3, 1, b'x']);
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        let mut server = with_rle(Role::Server, Config::default().delivery(delivery));
        server.receive(&wire);
        let got = events(&mut server);
        assert_eq!(
            got.last(),
            Some(&Got::Error(ProtocolError::InvalidUtf8)),
            "{delivery:?}"
        );
        if delivery == Delivery::Streaming {
            // Up to the byte that revealed it: a valid prefix, cut code point included.
            assert_eq!(
                got[0],
                Got::Data(b"aa\xc3".to_vec(), false),
                "the valid bytes first"
            );
        }
        assert_eq!(&server.pending_output()[2..4], &[0x03, 0xef], "Close 1007");
    }
}

#[test]
fn a_small_frame_that_decodes_past_the_limit_fails_with_1009_within_the_limit() {
    let max = 10_000;
    let payload: Vec<u8> = [255u8, b'a'].repeat(60); // 120 bytes decoding to 15 300
    for delivery in [Delivery::Whole, Delivery::Streaming] {
        let mut server = with_rle(
            Role::Server,
            Config::default().max_message_size(max).delivery(delivery),
        );
        server.receive(&client_frame(0xC2, &payload));
        let got = events(&mut server);
        assert_eq!(
            got.last(),
            Some(&Got::Error(ProtocolError::MessageTooLarge { limit: max })),
            "{delivery:?}"
        );
        let delivered: usize = got
            .iter()
            .map(|g| match g {
                Got::Data(d, _) => d.len(),
                _ => 0,
            })
            .sum();
        assert!(
            delivered <= max,
            "{delivery:?}: {delivered} bytes handed out"
        );
        assert!(
            server.assembled.capacity() <= 2 * (max + 1),
            "{delivery:?}: the buffer grew to {}",
            server.assembled.capacity()
        );
        let out = server.pending_output();
        assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xf1], "Close 1009");
    }
}

#[test]
fn streaming_hands_out_a_large_decoded_message_in_bounded_pieces() {
    let payload: Vec<u8> = [255u8, b'z'].repeat(400); // 102 000 bytes decoded
    let mut server = with_rle(
        Role::Server,
        Config::default().delivery(Delivery::Streaming),
    );
    server.receive(&client_frame(0xC2, &payload));
    let got = events(&mut server);
    let mut total = 0;
    for (i, g) in got.iter().enumerate() {
        let Got::Data(d, finished) = g else {
            panic!("{g:?}")
        };
        assert!(d.len() <= recv::DECODED_PIECE);
        assert!(d.iter().all(|&b| b == b'z'));
        assert_eq!(*finished, i == got.len() - 1);
        total += d.len();
    }
    assert_eq!(total, 102_000);
    assert!(got.len() >= 102_000 / recv::DECODED_PIECE);
}

#[test]
fn rsv1_on_a_continuation_or_a_control_frame_is_a_protocol_error() {
    for wire in [
        [
            client_frame(0x41, &[1, b'a']),
            client_frame(0xC0, &[1, b'b']),
        ]
        .concat(),
        client_frame(0xC9, b""),
    ] {
        let mut server = with_rle(Role::Server, Config::default());
        server.receive(&wire);
        assert_eq!(
            events(&mut server),
            [Got::Error(ProtocolError::ReservedBitsSet)]
        );
        assert_eq!(&server.pending_output()[2..4], &[0x03, 0xea], "Close 1002");
    }
}

#[test]
fn a_message_without_rsv1_is_not_transformed() {
    let mut server = with_rle(Role::Server, Config::default());
    server.receive(&client_frame(0x81, b"plain"));
    assert_eq!(events(&mut server), [Got::Text("plain".into())]);
}

#[test]
fn an_error_of_the_stage_fails_the_connection() {
    let mut server = with_rle(Role::Server, Config::default());
    server.receive(&client_frame(0xC2, &[1, b'a', 7]));
    assert_eq!(
        events(&mut server),
        [Got::Error(ProtocolError::InvalidPayloadLength)]
    );
}

/// The two-word form of the next event keeps any start and length a buffer can hold, and
/// tells waiting and parked apart from messages, in every pointer width.
#[test]
fn ready_keeps_every_place_a_buffer_can_hold() {
    use super::recv::{Got, Ready};
    let max = isize::MAX as usize;
    for (start, end) in [(0, 0), (5, 21), (0, max), (max - 1, max), (max, max)] {
        match Ready::binary(start, end).get() {
            Got::Binary(s, e) => assert_eq!((s, e), (start, end)),
            _ => panic!("not binary: {start} {end}"),
        }
    }
    let text = b"caf\xc3\xa9";
    let valid = crate::utf8::ValidText::check(text).expect("valid");
    match Ready::text(max - 5, max, valid).get() {
        Got::Text(s, e, v) => {
            assert_eq!((s, e), (max - 5, max));
            assert_eq!(v.as_str(text), "café");
        }
        _ => panic!("not text"),
    }
    assert!(matches!(Ready::IDLE.get(), Got::Idle));
    assert!(matches!(Ready::PARKED.get(), Got::Parked));
}
