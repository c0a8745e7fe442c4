//! The Engine.IO packet codec and long-polling payload decoder on arbitrary bytes.
//!
//! The first byte picks a limit and a chunk size; the rest is a request body. Decoding it
//! whole and in chunks must agree (packets, or the same error), never panic, and every decoded
//! packet must come back the same from its encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::engineio::{Packet, PayloadDecoder, decode_payload, encode_payload};

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let limit = if first & 0x80 == 0 { usize::MAX } else { usize::from(first & 0x3f) * 4 };
    let chunk = usize::from(first & 0x0f) + 1;
    let whole = decode_payload(body, limit);
    let mut dec = PayloadDecoder::new(limit);
    let mut pieces = Ok(());
    for c in body.chunks(chunk) {
        pieces = dec.push(c);
        if pieces.is_err() {
            break;
        }
    }
    let split = pieces.and_then(|()| dec.finish());
    assert_eq!(whole, split);
    if let Ok(packets) = whole {
        for p in &packets {
            assert_eq!(Packet::decode(&p.to_text()).as_ref(), Ok(p));
        }
        let mut again = String::new();
        encode_payload(&packets, &mut again);
        assert_eq!(decode_payload(again.as_bytes(), usize::MAX).as_ref(), Ok(&packets));
    }
});
