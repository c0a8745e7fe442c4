//! The one-step lane (`single_frame`) takes only what the general pipeline would deliver the
//! same way: its bound (`lane_end`) keeps to every limit and to streamed delivery.

use super::hint_tests::masked;
use super::*;
use crate::config::Delivery;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// What the server makes of one binary frame of `len` bytes under `config`: the payload
/// delivered whole, the pieces it was streamed in, or the error.
#[derive(Debug, PartialEq)]
enum Seen {
    Whole(Vec<u8>),
    Pieces(Vec<u8>),
    Error(ProtocolError),
}

fn one_frame(config: Config, len: usize) -> (Seen, Vec<u8>) {
    let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let mut conn = Connection::from_upgraded(Role::Server, config);
    conn.receive(&masked(0x2, &payload, KEY));
    let mut pieces = Vec::new();
    let mut seen = None;
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::Binary(b) => seen = Some(Seen::Whole(b.to_vec())),
            Event::Data { data, .. } => pieces.extend_from_slice(data),
            Event::ProtocolError(e) => seen = Some(Seen::Error(e)),
            other => panic!("unexpected {other:?}"),
        }
    }
    (seen.unwrap_or(Seen::Pieces(pieces)), payload)
}

#[test]
fn the_lane_keeps_to_the_message_and_frame_limits() {
    for limit in [0, 1, 125, 126, 1000, 65_534, 65_535] {
        for config in [
            Config::default().max_message_size(limit),
            Config::default().max_frame_size(limit),
        ] {
            let (seen, payload) = one_frame(config, limit);
            assert_eq!(seen, Seen::Whole(payload), "{limit} bytes, {config:?}");
            let (seen, _) = one_frame(config, limit + 1);
            assert!(
                matches!(
                    seen,
                    Seen::Error(
                        ProtocolError::MessageTooLarge { .. } | ProtocolError::FrameTooLarge { .. }
                    )
                ),
                "{} bytes, {config:?}: {seen:?}",
                limit + 1
            );
        }
    }
}

#[test]
fn the_lane_leaves_streamed_messages_to_the_pipeline() {
    for n in [0, 10, 125, 126, 4096] {
        let config = Config::default().delivery(Delivery::StreamAbove(n));
        let (seen, payload) = one_frame(config, n);
        assert_eq!(seen, Seen::Whole(payload), "{n} bytes");
        let (seen, payload) = one_frame(config, n + 1);
        assert_eq!(seen, Seen::Pieces(payload), "{} bytes", n + 1);
    }
    let (seen, payload) = one_frame(Config::default().delivery(Delivery::Streaming), 16);
    assert_eq!(seen, Seen::Pieces(payload));
}

#[test]
fn frames_at_the_end_of_16_bit_lengths_arrive_whole() {
    // 65 535 bytes is past the lane's bound and goes through the general pipeline.
    for len in [65_534, 65_535, 65_536] {
        let (seen, payload) = one_frame(Config::default(), len);
        assert_eq!(seen, Seen::Whole(payload), "{len} bytes");
    }
}
