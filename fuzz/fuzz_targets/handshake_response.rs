//! Client side of the opening handshake on arbitrary response bytes.
//!
//! The first byte picks the limits and how many following bytes give chunk sizes; the rest is
//! the server's response. It is fed whole, one byte at a time, and in the chosen chunks: no run
//! may panic, and all must agree on the outcome and on how many bytes belonged to the response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::Config;
use wsmachine::extension::ExtensionOffer;
use wsmachine::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, Negotiated, Response, ResponseProgress,
};

#[derive(Debug, PartialEq)]
enum Outcome {
    Partial,
    Accepted(Negotiated, usize),
    Rejected(Response, usize),
    Failed(HandshakeError),
}

fn run(input: &[u8], config: &Config, sizes: &mut dyn Iterator<Item = usize>) -> Outcome {
    // The key "the sample nonce" makes the expected accept value s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
    let request = ClientRequest::new("server.example.com", "/chat")
        .protocol("chat")
        .protocol("superchat")
        .extension(ExtensionOffer::new("permessage-deflate").flag("client_max_window_bits"))
        .extension(ExtensionOffer::new("x-a"))
        .key(*b"the sample nonce");
    let mut out = Vec::new();
    let mut client = ClientHandshake::new(&request, config, &mut out);
    assert!(!out.is_empty());
    let mut start = 0;
    loop {
        let end = (start + sizes.next().unwrap_or(usize::MAX).max(1)).min(input.len());
        let chunk = &input[start..end];
        let outcome = match client.receive(chunk) {
            ResponseProgress::Partial => None,
            ResponseProgress::Accepted {
                negotiated,
                consumed,
            } => {
                assert!(consumed > 0 && consumed <= chunk.len());
                assert_eq!(negotiated.rsv_bits(), 0);
                Some(Outcome::Accepted(negotiated, start + consumed))
            }
            ResponseProgress::Rejected { response, consumed } => {
                assert!(consumed <= chunk.len());
                assert_ne!(response.status(), 101);
                assert!(response.body_bytes().len() <= config.max_response_body);
                Some(Outcome::Rejected(response, start + consumed))
            }
            ResponseProgress::Failed(e) => {
                assert_eq!(e.status(), None, "client errors carry no status: {e:?}");
                Some(Outcome::Failed(e))
            }
        };
        if let Some(outcome) = outcome {
            assert!(matches!(client.receive(b"x"), ResponseProgress::Failed(_)));
            return outcome;
        }
        if end == input.len() {
            return Outcome::Partial;
        }
        start = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let config = if control & 0x80 != 0 {
        Config::default()
            .max_header_bytes(200)
            .max_headers(6)
            .max_response_body(16)
    } else {
        Config::default()
    };
    let n = usize::from(control & 0x0f).min(rest.len());
    let (seeds, input) = rest.split_at(n);

    let whole = run(input, &config, &mut std::iter::empty());
    assert_eq!(whole, run(input, &config, &mut std::iter::repeat(1)));
    if !seeds.is_empty() {
        let mut sizes = seeds.iter().map(|&s| usize::from(s)).cycle();
        assert_eq!(whole, run(input, &config, &mut sizes));
    }
});
