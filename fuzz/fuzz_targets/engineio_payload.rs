//! The Engine.IO packet codec and long-polling payload decoder on arbitrary bytes.
//!
//! The first byte picks a limit; the rest is a request body. Decoding it must never panic,
//! a body over the limit must be refused, and every decoded packet must come back the same
//! from its encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::engineio::{Packet, decode_payload, encode_payload};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let limit = if first & 0x80 == 0 {
        usize::MAX
    } else {
        usize::from(first & 0x3f) * 4
    };
    let whole = decode_payload(body, limit);
    if let Ok(packets) = whole {
        assert!(
            body.len() <= limit,
            "{} bytes over a limit of {limit}",
            body.len()
        );
        for p in &packets {
            assert_eq!(Packet::decode(&p.to_text()).as_ref(), Ok(p));
        }
        let mut again = String::new();
        encode_payload(&packets, &mut again);
        assert_eq!(
            decode_payload(again.as_bytes(), usize::MAX).as_ref(),
            Ok(&packets)
        );
    }
});
