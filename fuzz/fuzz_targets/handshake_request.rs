//! Server side of the opening handshake on arbitrary bytes.
//!
//! The first byte picks the limits and how many following bytes give chunk sizes; the rest is
//! the request. The request is fed whole, one byte at a time, and in the chosen chunks: no run
//! may panic, and all must agree on the outcome, on where the head ends, and on the bytes of the
//! answer (the 101, or the error response).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::Config;
use wsmachine::handshake::{
    Accept, AcceptedExtension, HandshakeError, HandshakeRequest, RequestParser, RequestProgress,
    ServerPolicy, write_accept,
};

#[derive(Debug, PartialEq)]
struct Outcome {
    result: Option<Result<HandshakeRequest, HandshakeError>>,
    head_len: Option<usize>,
    answer: Vec<u8>,
}

fn policy() -> ServerPolicy {
    ServerPolicy::default()
        .protocols(["chat", "superchat"])
        .origin_predicate(|o| o != Some("null"))
        .extension_hook(|offers| {
            let mut accepted: Vec<AcceptedExtension> = Vec::new();
            for o in offers {
                if !accepted.iter().any(|a| a.name == o.name) {
                    accepted.push(AcceptedExtension {
                        name: o.name.clone(),
                        params: o.params.clone(),
                        rsv_bits: 0,
                    });
                }
            }
            accepted
        })
}

fn run(
    input: &[u8],
    config: &Config,
    policy: &ServerPolicy,
    sizes: &mut dyn Iterator<Item = usize>,
) -> Outcome {
    let mut parser = RequestParser::new(config);
    let mut start = 0;
    loop {
        let end = (start + sizes.next().unwrap_or(usize::MAX).max(1)).min(input.len());
        let chunk = &input[start..end];
        match parser.receive(chunk) {
            RequestProgress::Partial => {}
            RequestProgress::Plain { .. } => unreachable!("plain HTTP is off"),
            RequestProgress::Complete { request, consumed } => {
                assert!(consumed > 0 && consumed <= chunk.len());
                assert!(matches!(parser.receive(b"x"), RequestProgress::Failed(_)));
                let mut answer = Vec::new();
                let result = match policy.check_origin(&request) {
                    Ok(()) => {
                        write_accept(&request, &Accept::new(), policy, &mut answer)
                            .expect("the policy only accepts what was offered");
                        Ok(request)
                    }
                    Err(e) => {
                        assert_eq!(e.status(), Some(403));
                        e.write_response(&mut answer);
                        Err(e)
                    }
                };
                return Outcome {
                    result: Some(result),
                    head_len: Some(start + consumed),
                    answer,
                };
            }
            RequestProgress::Failed(e) => {
                assert!(e.status().is_some(), "server errors carry a status: {e:?}");
                let mut answer = Vec::new();
                e.write_response(&mut answer);
                assert!(answer.starts_with(b"HTTP/1.1 4"));
                return Outcome {
                    result: Some(Err(e)),
                    head_len: None,
                    answer,
                };
            }
        }
        if end == input.len() {
            return Outcome {
                result: None,
                head_len: None,
                answer: Vec::new(),
            };
        }
        start = end;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let config = if control & 0x80 != 0 {
        Config::default().max_header_bytes(200).max_headers(6)
    } else {
        Config::default()
    };
    let n = usize::from(control & 0x0f).min(rest.len());
    let (seeds, input) = rest.split_at(n);
    let policy = policy();

    let whole = run(input, &config, &policy, &mut std::iter::empty());
    let bytewise = run(input, &config, &policy, &mut std::iter::repeat(1));
    assert_eq!(whole, bytewise);
    if !seeds.is_empty() {
        let mut sizes = seeds.iter().map(|&s| usize::from(s)).cycle();
        assert_eq!(whole, run(input, &config, &policy, &mut sizes));
    }
});
