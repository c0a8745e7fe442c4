//! Frame-level building blocks: RFC 6455 §5.7 examples, header validation, masking, UTF-8
//! validation and close codes.

use proptest::prelude::*;
use wsmachine::__private::frame::{
    FrameHeader, MAX_HEADER_LEN, OpCode, decode_header, encode_header, write_frame,
};
use wsmachine::__private::mask::{apply_mask, apply_mask_bytewise};
use wsmachine::__private::utf8::Utf8Validator;
use wsmachine::ProtocolError;
use wsmachine::close::{self, is_sendable_code, is_valid_received_code, parse_close_payload};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Decode `wire` as one complete frame and return its header and unmasked payload.
fn decode_frame(wire: &[u8], expect_masked: bool) -> (FrameHeader, Vec<u8>) {
    let (h, n) = decode_header(wire, expect_masked, 0)
        .expect("valid header")
        .expect("complete header");
    assert_eq!(wire.len() - n, h.payload_len as usize, "payload length");
    let mut payload = wire[n..].to_vec();
    if let Some(key) = h.mask {
        apply_mask(&mut payload, key, 0);
    }
    (h, payload)
}

fn frame(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, fin, 0, opcode, mask, payload);
    out
}

fn header(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Vec<u8> {
    let mut dst = [0u8; MAX_HEADER_LEN];
    let n = encode_header(&mut dst, fin, 0, opcode, mask, payload_len);
    dst[..n].to_vec()
}

// ---- RFC 6455 §5.7 examples ----

#[test]
fn rfc_single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (h, p) = decode_frame(&wire, false);
    assert!(h.fin);
    assert_eq!(h.opcode, OpCode::Text);
    assert_eq!(h.mask, None);
    assert_eq!(p, b"Hello");
    assert_eq!(frame(true, OpCode::Text, None, b"Hello"), wire);
}

#[test]
fn rfc_single_frame_masked_text() {
    let wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (h, p) = decode_frame(&wire, true);
    assert!(h.fin);
    assert_eq!(h.opcode, OpCode::Text);
    assert_eq!(h.mask, Some(KEY));
    assert_eq!(p, b"Hello");
    assert_eq!(frame(true, OpCode::Text, Some(KEY), b"Hello"), wire);
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
    let second = [0x80, 0x02, 0x6c, 0x6f];
    let (h1, p1) = decode_frame(&first, false);
    assert!(!h1.fin);
    assert_eq!(h1.opcode, OpCode::Text);
    assert_eq!(p1, b"Hel");
    let (h2, p2) = decode_frame(&second, false);
    assert!(h2.fin);
    assert_eq!(h2.opcode, OpCode::Continuation);
    assert_eq!(p2, b"lo");
    assert_eq!(frame(false, OpCode::Text, None, b"Hel"), first);
    assert_eq!(frame(true, OpCode::Continuation, None, b"lo"), second);
}

#[test]
fn rfc_unmasked_ping() {
    let wire = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let (h, p) = decode_frame(&wire, false);
    assert_eq!(h.opcode, OpCode::Ping);
    assert!(h.fin);
    assert_eq!(p, b"Hello");
    assert_eq!(frame(true, OpCode::Ping, None, b"Hello"), wire);
}

#[test]
fn rfc_masked_pong() {
    let wire = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (h, p) = decode_frame(&wire, true);
    assert_eq!(h.opcode, OpCode::Pong);
    assert_eq!(h.mask, Some(KEY));
    assert_eq!(p, b"Hello");
    assert_eq!(frame(true, OpCode::Pong, Some(KEY), b"Hello"), wire);
}

#[test]
fn rfc_256_byte_binary_header() {
    let wire = [0x82, 0x7E, 0x01, 0x00];
    let (h, n) = decode_header(&wire, false, 0).unwrap().unwrap();
    assert_eq!(n, 4);
    assert_eq!(h.opcode, OpCode::Binary);
    assert_eq!(h.payload_len, 256);
    assert_eq!(header(true, OpCode::Binary, None, 256), wire);
}

#[test]
fn rfc_64kib_binary_header() {
    let wire = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    let (h, n) = decode_header(&wire, false, 0).unwrap().unwrap();
    assert_eq!(n, 10);
    assert_eq!(h.opcode, OpCode::Binary);
    assert_eq!(h.payload_len, 65536);
    assert_eq!(header(true, OpCode::Binary, None, 65536), wire);
}

// ---- decode_header validation ----

/// Check that `wire` fails with `err`, that its first `min` bytes already fail the same way, and
/// that fewer bytes only ask for more.
fn assert_fails_early(
    wire: &[u8],
    expect_masked: bool,
    allowed_rsv: u8,
    min: usize,
    err: ProtocolError,
) {
    for n in min..=wire.len() {
        assert_eq!(
            decode_header(&wire[..n], expect_masked, allowed_rsv),
            Err(err),
            "{wire:02x?} with {n} bytes"
        );
    }
    for n in 0..min {
        assert_eq!(
            decode_header(&wire[..n], expect_masked, allowed_rsv),
            Ok(None),
            "{wire:02x?} with {n} bytes"
        );
    }
}

#[test]
fn reserved_opcodes_fail_on_first_byte() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        let wire = [0x80 | op, 0x80, 1, 2, 3, 4];
        assert_fails_early(&wire, true, 0, 1, ProtocolError::ReservedOpcode(op));
    }
}

#[test]
fn rsv_bits_outside_allowed_fail_on_first_byte() {
    for rsv in 1u8..=7 {
        let wire = [0x81 | (rsv << 4), 0x80, 1, 2, 3, 4];
        assert_fails_early(&wire, true, 0, 1, ProtocolError::ReservedBitsSet);
        // Allowed bits pass; any bit beyond them fails.
        assert!(decode_header(&wire, true, rsv).unwrap().is_some());
        assert_eq!(decode_header(&wire, true, rsv).unwrap().unwrap().0.rsv, rsv);
        for allowed in 0u8..=7 {
            let r = decode_header(&wire, true, allowed);
            if rsv & !allowed == 0 {
                assert!(
                    matches!(r, Ok(Some(_))),
                    "rsv {rsv:03b} allowed {allowed:03b}"
                );
            } else {
                assert_eq!(r, Err(ProtocolError::ReservedBitsSet));
            }
        }
    }
}

#[test]
fn control_frames_without_fin_fail_on_first_byte() {
    for op in [0x8, 0x9, 0xA] {
        let wire = [op, 0x80, 1, 2, 3, 4];
        assert_fails_early(&wire, true, 0, 1, ProtocolError::FragmentedControlFrame);
    }
}

#[test]
fn control_frames_over_125_fail_on_second_byte() {
    for op in [0x88, 0x89, 0x8A] {
        let wire16 = [op, 0x80 | 126, 0x00, 0x7E, 1, 2, 3, 4];
        assert_fails_early(&wire16, true, 0, 2, ProtocolError::ControlFrameTooLong);
        let wire64 = [op, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0x7E, 1, 2, 3, 4];
        assert_fails_early(&wire64, true, 0, 2, ProtocolError::ControlFrameTooLong);
        // 125 is the limit and is fine.
        let ok = [op, 0x80 | 125, 1, 2, 3, 4];
        assert_eq!(
            decode_header(&ok, true, 0).unwrap().unwrap().0.payload_len,
            125
        );
    }
}

#[test]
fn length_with_msb_set_fails_on_third_byte() {
    let wire = [0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert_fails_early(&wire, true, 0, 3, ProtocolError::InvalidPayloadLength);
    // The largest valid length is accepted.
    let max = [
        0x82,
        0x80 | 127,
        0x7F,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        0xFF,
        1,
        2,
        3,
        4,
    ];
    let (h, n) = decode_header(&max, true, 0).unwrap().unwrap();
    assert_eq!((h.payload_len, n), (u64::MAX >> 1, 14));
}

#[test]
fn masking_mismatch_fails_on_second_byte() {
    let unmasked = [0x81, 0x05];
    assert_fails_early(&unmasked, true, 0, 2, ProtocolError::UnmaskedFrame);
    let masked = [0x81, 0x85, 1, 2, 3, 4];
    assert_fails_early(&masked, false, 0, 2, ProtocolError::MaskedFrame);
}

#[test]
fn error_precedence_follows_byte_order() {
    // Reserved opcode beats RSV and masking.
    assert_eq!(
        decode_header(&[0x73, 0x05], true, 0),
        Err(ProtocolError::ReservedOpcode(3))
    );
    // RSV beats a fragmented control frame.
    assert_eq!(
        decode_header(&[0x49, 0x05], true, 0),
        Err(ProtocolError::ReservedBitsSet)
    );
    // A fragmented control frame beats its too-long length.
    assert_eq!(
        decode_header(&[0x09, 0xFE], true, 0),
        Err(ProtocolError::FragmentedControlFrame)
    );
    // Too long beats the masking mismatch.
    assert_eq!(
        decode_header(&[0x89, 0x7E], true, 0),
        Err(ProtocolError::ControlFrameTooLong)
    );
    // The masking mismatch (byte 1) beats the invalid 64-bit length (byte 2), so the outcome does
    // not depend on how many bytes have arrived.
    let wire = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0];
    for n in 2..=wire.len() {
        assert_eq!(
            decode_header(&wire[..n], true, 0),
            Err(ProtocolError::UnmaskedFrame)
        );
    }
}

#[test]
fn non_minimal_lengths_are_accepted() {
    let w16 = [0x82, 126, 0x00, 0x05];
    assert_eq!(
        decode_header(&w16, false, 0)
            .unwrap()
            .unwrap()
            .0
            .payload_len,
        5
    );
    let w64 = [0x82, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00];
    assert_eq!(
        decode_header(&w64, false, 0)
            .unwrap()
            .unwrap()
            .0
            .payload_len,
        256
    );
}

#[test]
fn every_prefix_of_a_valid_header_needs_more() {
    let cases: &[(&[u8], bool)] = &[
        (&[0x81, 0x05], false),
        (&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d], true),
        (&[0x82, 0x7E, 0x01, 0x00], false),
        (&[0x82, 0xFE, 0x01, 0x00, 9, 8, 7, 6], true),
        (&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], false),
        (&[0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 8, 7, 6], true),
    ];
    for &(wire, masked) in cases {
        for n in 0..wire.len() {
            assert_eq!(
                decode_header(&wire[..n], masked, 0),
                Ok(None),
                "{wire:02x?}[..{n}]"
            );
        }
        let (_, len) = decode_header(wire, masked, 0).unwrap().unwrap();
        assert_eq!(len, wire.len());
        // Trailing payload bytes do not change the header length.
        let mut longer = wire.to_vec();
        longer.extend_from_slice(&[0xAB; 20]);
        assert_eq!(
            decode_header(&longer, masked, 0).unwrap().unwrap().1,
            wire.len()
        );
    }
}

// ---- close codes ----

#[test]
fn close_code_tables() {
    for code in 0..=u16::MAX {
        let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(is_valid_received_code(code), expected, "{code}");
        assert_eq!(is_sendable_code(code), expected, "{code}");
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
        assert!(!is_valid_received_code(code), "{code}");
    }
    for code in [1000, 1003, 1007, 1014, 3000, 4999] {
        assert!(is_valid_received_code(code), "{code}");
    }
    assert_eq!(close::NORMAL, 1000);
    assert_eq!(close::GOING_AWAY, 1001);
    assert_eq!(close::PROTOCOL_ERROR, 1002);
    assert_eq!(close::UNSUPPORTED_DATA, 1003);
    assert_eq!(close::NO_STATUS, 1005);
    assert_eq!(close::ABNORMAL, 1006);
    assert_eq!(close::INVALID_PAYLOAD, 1007);
    assert_eq!(close::POLICY_VIOLATION, 1008);
    assert_eq!(close::MESSAGE_TOO_BIG, 1009);
    assert_eq!(close::MANDATORY_EXTENSION, 1010);
    assert_eq!(close::INTERNAL_ERROR, 1011);
}

#[test]
fn close_payload_parsing() {
    assert_eq!(parse_close_payload(&[]), Ok(None));
    assert_eq!(
        parse_close_payload(&[0x03]),
        Err(ProtocolError::InvalidClosePayload)
    );
    assert_eq!(parse_close_payload(&[0x03, 0xE8]), Ok(Some((1000, ""))));
    assert_eq!(
        parse_close_payload(b"\x0f\xa0bye \xc3\xa9"),
        Ok(Some((4000, "bye é")))
    );
    assert_eq!(
        parse_close_payload(&[0x03, 0xED]),
        Err(ProtocolError::InvalidCloseCode(1005))
    );
    assert_eq!(
        parse_close_payload(&[0x00, 0x00, b'x']),
        Err(ProtocolError::InvalidCloseCode(0))
    );
    assert_eq!(
        parse_close_payload(&[0x03, 0xE8, 0xFF]),
        Err(ProtocolError::InvalidUtf8)
    );
    // A reason cut inside a code point is invalid: the payload is the whole reason.
    assert_eq!(
        parse_close_payload(&[0x03, 0xE8, 0xC3]),
        Err(ProtocolError::InvalidUtf8)
    );
}

// ---- properties ----

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

fn any_header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<bool>(),
        0u8..8,
        opcode(),
        any::<Option<[u8; 4]>>(),
        prop_oneof![0u64..130, 120u64..70_000, 0u64..(1 << 63)],
    )
        .prop_map(|(fin, rsv, opcode, mask, len)| {
            let control = opcode.is_control();
            FrameHeader {
                fin: fin || control,
                rsv,
                opcode,
                mask,
                payload_len: if control { len % 126 } else { len },
            }
        })
}

/// Feed `data` to a fresh validator in the pieces given by `cuts`; returns the index of the
/// first failing piece, or whether the message is complete.
fn feed_pieces(data: &[u8], cuts: &[usize]) -> (Vec<(usize, usize)>, Result<bool, usize>) {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    bounds.push(0);
    bounds.push(data.len());
    bounds.sort_unstable();
    let pieces: Vec<(usize, usize)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let mut v = Utf8Validator::new();
    for (i, &(a, b)) in pieces.iter().enumerate() {
        if v.feed(&data[a..b]).is_err() {
            return (pieces, Err(i));
        }
    }
    let complete = v.is_complete();
    (pieces, Ok(complete))
}

/// Mostly-UTF-8 byte strings with occasional corruption, so that both outcomes are common.
fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        (any::<String>(), any::<usize>(), any::<u8>()).prop_map(|(s, at, b)| {
            let mut v = s.into_bytes();
            if !v.is_empty() {
                let i = at % v.len();
                v[i] = b;
            }
            v
        }),
        (any::<String>(), 0usize..4).prop_map(|(s, cut)| {
            let mut v = s.into_bytes();
            v.truncate(v.len().saturating_sub(cut));
            v
        }),
        proptest::collection::vec(
            prop_oneof![
                Just(0x41u8),
                0x80u8..=0xBF,
                0xC0u8..=0xFF,
                Just(0xED),
                Just(0xF4)
            ],
            0..24
        ),
    ]
}

proptest! {
    #[test]
    fn header_round_trips(h in any_header(), trailing in proptest::collection::vec(any::<u8>(), 0..4)) {
        let mut dst = [0u8; MAX_HEADER_LEN];
        let n = encode_header(&mut dst, h.fin, h.rsv, h.opcode, h.mask, h.payload_len);
        let mut wire = dst[..n].to_vec();
        wire.extend_from_slice(&trailing);
        let decoded = decode_header(&wire, h.mask.is_some(), 0b111).unwrap();
        prop_assert_eq!(decoded, Some((h, n)));
        for k in 0..n {
            prop_assert_eq!(decode_header(&wire[..k], h.mask.is_some(), 0b111), Ok(None));
        }
    }

    #[test]
    fn write_frame_round_trips(
        fin in any::<bool>(),
        mask in any::<Option<[u8; 4]>>(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut out = vec![1, 2, 3];
        write_frame(&mut out, fin, 0, OpCode::Binary, mask, &payload);
        prop_assert_eq!(&out[..3], &[1, 2, 3]);
        let (h, p) = decode_frame(&out[3..], mask.is_some());
        prop_assert_eq!(h.fin, fin);
        prop_assert_eq!(h.mask, mask);
        prop_assert_eq!(p, payload);
    }

    #[test]
    fn fast_mask_equals_bytewise(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
    ) {
        let mut fast = data.clone();
        let mut slow = data.clone();
        apply_mask(&mut fast, key, offset);
        apply_mask_bytewise(&mut slow, key, offset);
        prop_assert_eq!(&fast, &slow);
        apply_mask(&mut fast, key, offset);
        prop_assert_eq!(&fast, &data);
    }

    #[test]
    fn utf8_validator_agrees_with_std_and_fails_fast(
        data in text_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let (pieces, outcome) = feed_pieces(&data, &cuts);
        match std::str::from_utf8(&data) {
            Ok(_) => prop_assert_eq!(outcome, Ok(true)),
            Err(e) => match e.error_len() {
                // A valid prefix cut inside a code point: never an error, but not complete.
                None => prop_assert_eq!(outcome, Ok(false)),
                Some(len) => {
                    let Err(failed) = outcome else {
                        return Err(TestCaseError::fail(format!("{data:02x?} accepted")));
                    };
                    // The byte that shows the error is at most this index, and at least the
                    // first byte of the invalid sequence.
                    let deadline = (e.valid_up_to() + len).min(data.len() - 1);
                    let (start, end) = pieces[failed];
                    prop_assert!(start <= deadline, "failed late: piece {:?}, deadline {}", (start, end), deadline);
                    prop_assert!(end > e.valid_up_to(), "failed early: piece {:?}, valid up to {}", (start, end), e.valid_up_to());
                }
            },
        }
    }
}
