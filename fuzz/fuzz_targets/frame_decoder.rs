//! Frame header decoding on arbitrary bytes: never panics, never claims more bytes than it was
//! given or than a header can hold, gives the same answer for every shorter prefix that holds
//! the whole header, and every header it accepts re-encodes to bytes that decode to it again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::__private::frame::{MAX_HEADER_LEN, decode_header, encode_header};

fuzz_target!(|input: &[u8]| {
    // First byte: decoder options; the rest: the wire bytes.
    let Some((&opts, data)) = input.split_first() else {
        return;
    };
    let expect_masked = opts & 0x80 != 0;
    let allowed_rsv = opts & 0b111;

    let result = decode_header(data, expect_masked, allowed_rsv);
    match result {
        Ok(Some((h, n))) => {
            assert!(n <= data.len() && n <= MAX_HEADER_LEN);
            assert!(n >= 2);
            assert_eq!(h.mask.is_some(), expect_masked);
            assert_eq!(h.rsv & !allowed_rsv, 0);
            assert!(h.payload_len < 1 << 63);
            if h.opcode.is_control() {
                assert!(h.fin && h.payload_len <= 125);
            }
            // Bytes after the header do not matter; fewer than the header only ask for more.
            assert_eq!(
                decode_header(&data[..n], expect_masked, allowed_rsv),
                result
            );
            for k in 0..n {
                assert_eq!(
                    decode_header(&data[..k], expect_masked, allowed_rsv),
                    Ok(None)
                );
            }
            let mut wire = [0u8; MAX_HEADER_LEN];
            let m = encode_header(&mut wire, h.fin, h.rsv, h.opcode, h.mask, h.payload_len);
            assert!(m <= n, "the encoding is minimal, the input may not be");
            assert_eq!(
                decode_header(&wire[..m], expect_masked, allowed_rsv),
                Ok(Some((h, m)))
            );
        }
        Ok(None) => assert!(data.len() < MAX_HEADER_LEN),
        Err(e) => {
            // An error never waits for the full header: a longer input fails the same way.
            let mut longer = data.to_vec();
            longer.extend_from_slice(&[0u8; MAX_HEADER_LEN]);
            assert_eq!(decode_header(&longer, expect_masked, allowed_rsv), Err(e));
        }
    }
});
