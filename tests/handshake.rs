//! Opening handshake tests: RFC 6455 examples, malformed requests and their responses,
//! negotiation, client validation, and a differential check against httparse.
//!
//! Every handshake input is run whole, one byte at a time, cut at every position (small inputs)
//! and at proptest-chosen random cuts; all runs must give the same outcome and the same bytes.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestRunner};
use wsmachine::Config;
use wsmachine::UsageError;
use wsmachine::extension::{ExtensionOffer, parse_extensions};
use wsmachine::handshake::*;

// ---------------------------------------------------------------------------------------------
// Split-invariance drivers
// ---------------------------------------------------------------------------------------------

/// What a server made of an input: the parse result, where the head ended (counted from the
/// start of the input), and the bytes it answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerOutcome {
    result: Option<Result<HandshakeRequest, HandshakeError>>,
    head_len: Option<usize>,
    response: Vec<u8>,
}

/// Feed `input` cut at `cuts` to a server: parse, check the origin, then answer with the 101
/// (`Accept::new()` under `policy`) or the error response.
fn server_run(
    input: &[u8],
    config: &Config,
    policy: &ServerPolicy,
    cuts: &[usize],
) -> ServerOutcome {
    let mut parser = RequestParser::new(config);
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut start = 0;
    for end in bounds {
        let chunk = &input[start..end];
        match parser.receive(chunk) {
            RequestProgress::Partial => {}
            RequestProgress::Plain { .. } => unreachable!("plain HTTP is off"),
            RequestProgress::Complete { request, consumed } => {
                assert!(consumed <= chunk.len());
                assert!(
                    end == start || consumed > 0,
                    "head ended in an earlier chunk"
                );
                // The parser is finished.
                assert_eq!(
                    parser.receive(b"x"),
                    RequestProgress::Failed(HandshakeError::AlreadyComplete)
                );
                let mut response = Vec::new();
                let result = match policy.check_origin(&request) {
                    Ok(()) => {
                        write_accept(&request, &Accept::new(), policy, &mut response)
                            .expect("accept");
                        Ok(request)
                    }
                    Err(e) => {
                        e.write_response(&mut response);
                        Err(e)
                    }
                };
                return ServerOutcome {
                    result: Some(result),
                    head_len: Some(start + consumed),
                    response,
                };
            }
            RequestProgress::Failed(e) => {
                assert_eq!(parser.receive(b"x"), RequestProgress::Failed(e.clone()));
                let mut response = Vec::new();
                e.write_response(&mut response);
                return ServerOutcome {
                    result: Some(Err(e)),
                    head_len: None,
                    response,
                };
            }
        }
        start = end;
    }
    ServerOutcome {
        result: None,
        head_len: None,
        response: Vec::new(),
    }
}

/// Cut points for `len` bytes: sorted positions, possibly repeated (empty chunks).
fn cuts_strategy(len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0..=len, 0..12)
}

fn prop_runner() -> TestRunner {
    TestRunner::new(PropConfig {
        cases: 48,
        failure_persistence: None,
        ..PropConfig::default()
    })
}

/// Run `f` on every way of splitting `len` bytes that the tests use, and assert that each
/// gives the same result as the whole input.
fn assert_split_invariant<T: PartialEq + std::fmt::Debug>(
    len: usize,
    f: impl Fn(&[usize]) -> T,
) -> T {
    let whole = f(&[]);
    let bytewise: Vec<usize> = (1..len).collect();
    assert_eq!(f(&bytewise), whole, "byte by byte");
    if len <= 600 {
        for cut in 0..=len {
            assert_eq!(f(&[cut]), whole, "cut at {cut}");
        }
    }
    prop_runner()
        .run(&cuts_strategy(len), |cuts| {
            prop_assert_eq!(&f(&cuts), &whole, "cuts {:?}", cuts);
            Ok(())
        })
        .unwrap();
    whole
}

/// The server outcome for `input`, checked to be the same under every split.
fn server(input: &[u8], config: &Config, policy: &ServerPolicy) -> ServerOutcome {
    assert_split_invariant(input.len(), |cuts| server_run(input, config, policy, cuts))
}

fn server_default(input: &[u8]) -> ServerOutcome {
    server(input, &Config::default(), &ServerPolicy::default())
}

/// What a client made of the server's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientOutcome {
    Partial,
    Accepted {
        negotiated: Negotiated,
        head_len: usize,
    },
    Rejected {
        response: Response,
        len: usize,
    },
    Failed(HandshakeError),
}

fn client_run(
    request: &ClientRequest,
    config: &Config,
    input: &[u8],
    cuts: &[usize],
) -> ClientOutcome {
    let mut out = Vec::new();
    let mut client = ClientHandshake::new(request, config, &mut out);
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut start = 0;
    for end in bounds {
        let chunk = &input[start..end];
        let outcome = match client.receive(chunk) {
            ResponseProgress::Partial => {
                start = end;
                continue;
            }
            ResponseProgress::Accepted {
                negotiated,
                consumed,
            } => {
                assert!(consumed <= chunk.len());
                ClientOutcome::Accepted {
                    negotiated,
                    head_len: start + consumed,
                }
            }
            ResponseProgress::Rejected { response, consumed } => {
                assert!(consumed <= chunk.len());
                ClientOutcome::Rejected {
                    response,
                    len: start + consumed,
                }
            }
            ResponseProgress::Failed(e) => {
                assert_eq!(e.status(), None, "client errors have no status");
                ClientOutcome::Failed(e)
            }
        };
        assert!(matches!(client.receive(b"x"), ResponseProgress::Failed(_)));
        return outcome;
    }
    ClientOutcome::Partial
}

/// The client outcome for `input`, checked to be the same under every split.
fn client(request: &ClientRequest, config: &Config, input: &[u8]) -> ClientOutcome {
    assert_split_invariant(input.len(), |cuts| client_run(request, config, input, cuts))
}

// ---------------------------------------------------------------------------------------------
// RFC 6455 examples
// ---------------------------------------------------------------------------------------------

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n";

/// The 16 bytes whose base64 is the RFC's example key.
const RFC_NONCE: [u8; 16] = *b"the sample nonce";

fn rfc_client_request() -> ClientRequest {
    ClientRequest::new("server.example.com", "/chat")
        .origin("http://example.com")
        .protocol("chat")
        .protocol("superchat")
        .key(RFC_NONCE)
}

#[test]
fn rfc6455_section_1_3_accept_key_vector() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc6455_example_request_is_parsed_and_answered() {
    let policy = ServerPolicy::default().protocols(["chat"]);
    let outcome = server(RFC_REQUEST, &Config::default(), &policy);
    let req = outcome.result.unwrap().unwrap();
    assert_eq!(req.method(), "GET");
    assert_eq!(req.target(), "/chat");
    assert_eq!(req.http_version(), (1, 1));
    assert_eq!(req.host(), "server.example.com");
    assert_eq!(req.origin(), Some("http://example.com"));
    assert_eq!(req.protocols(), ["chat", "superchat"]);
    assert!(req.extensions().is_empty());
    assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(req.version(), 13);
    assert_eq!(req.headers().len(), 7);
    assert_eq!(
        req.headers().nth(5),
        Some(("Sec-WebSocket-Protocol", "chat, superchat"))
    );
    assert_eq!(
        req.header("sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert_eq!(req.header("cookie"), None);
    assert_eq!(outcome.head_len, Some(RFC_REQUEST.len()));
    assert_eq!(outcome.response, RFC_RESPONSE);
}

/// The header fields read the same from either end, with CRLF or bare LF line ends, empty
/// values and surrounding whitespace.
#[test]
fn headers_iterate_from_both_ends() {
    let input = b"GET /a HTTP/1.1\r\nHost: h\nUpgrade:websocket\r\nConnection: \t Upgrade \r\n\
X-Empty:\r\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
X-Last:\tz\n\n";
    let req = server_default(input).result.unwrap().unwrap();
    let expected = [
        ("Host", "h"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("X-Empty", ""),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("X-Last", "z"),
    ];
    assert_eq!(req.headers().collect::<Vec<_>>(), expected);
    let mut back = req.headers().rev().collect::<Vec<_>>();
    back.reverse();
    assert_eq!(back, expected);
    // Taken from both ends at once, every field comes out once.
    let mut it = req.headers();
    assert_eq!(it.len(), 7);
    assert_eq!(it.next(), Some(expected[0]));
    assert_eq!(it.next_back(), Some(expected[6]));
    assert_eq!(it.len(), 5);
    assert_eq!(it.clone().collect::<Vec<_>>(), &expected[1..6]);
    assert_eq!(it.rev().collect::<Vec<_>>().len(), 5);
    assert_eq!(req.header("x-empty"), Some(""));
    assert_eq!(req.header_values("X-LAST").collect::<Vec<_>>(), ["z"]);
}

#[test]
fn rfc6455_example_request_is_what_the_client_writes() {
    let mut out = Vec::new();
    let hs = ClientHandshake::new(&rfc_client_request(), &Config::default(), &mut out);
    assert!(hs.failure().is_none());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        String::from_utf8(RFC_REQUEST.to_vec()).unwrap()
    );
}

#[test]
fn rfc6455_example_response_is_accepted_by_the_client() {
    let outcome = client(&rfc_client_request(), &Config::default(), RFC_RESPONSE);
    let ClientOutcome::Accepted {
        negotiated,
        head_len,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(head_len, RFC_RESPONSE.len());
    assert_eq!(negotiated.protocol(), Some("chat"));
    assert!(negotiated.extensions().is_empty());
    assert_eq!(negotiated.rsv_bits(), 0);
}

// ---------------------------------------------------------------------------------------------
// Malformed requests and the exact responses
// ---------------------------------------------------------------------------------------------

/// A valid request with the header lines `headers` (each `Name: value`) instead of the usual
/// ones; `{}` in `request_line` position is replaced.
fn request_with(request_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut s = format!("{request_line}\r\n");
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

const GOOD: &[&str] = &[
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// `GOOD` with the header starting `replace` replaced by `with` (or removed when `with` is
/// empty), or `with` appended when no header starts with `replace`.
fn good_but(replace: &str, with: &str) -> Vec<u8> {
    let mut headers: Vec<&str> = Vec::new();
    let mut replaced = false;
    for h in GOOD {
        if !replace.is_empty() && h.starts_with(replace) {
            replaced = true;
            if !with.is_empty() {
                headers.push(with);
            }
        } else {
            headers.push(h);
        }
    }
    if !replaced && !with.is_empty() {
        headers.push(with);
    }
    request_with("GET /chat HTTP/1.1", &headers)
}

/// Parse a server's error response with httparse: status, headers, body.
fn parse_response(bytes: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(n) = resp.parse(bytes).unwrap() else {
        panic!("incomplete response");
    };
    assert_eq!(resp.version, Some(1));
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8(h.value.to_vec()).unwrap(),
            )
        })
        .collect();
    (resp.code.unwrap(), headers, bytes[n..].to_vec())
}

struct Case {
    name: &'static str,
    input: Vec<u8>,
    config: Config,
    policy: ServerPolicy,
    status: u16,
    extra_headers: &'static [(&'static str, &'static str)],
    error: HandshakeError,
}

fn case(name: &'static str, input: Vec<u8>, status: u16, error: RequestError) -> Case {
    Case {
        name,
        input,
        config: Config::default(),
        policy: ServerPolicy::default(),
        status,
        extra_headers: &[],
        error: HandshakeError::Request(error),
    }
}

#[test]
fn malformed_requests_get_the_exact_response() {
    use RequestError as E;
    let many_headers: Vec<String> = (0..70).map(|i| format!("X-H{i}: v")).collect();
    let mut many: Vec<&str> = GOOD.to_vec();
    many.extend(many_headers.iter().map(String::as_str));
    let cases = vec![
        case("missing Host", good_but("Host", ""), 400, E::MissingHost),
        case(
            "two Hosts",
            good_but("Upgrade", "Upgrade: websocket\r\nHost: example.com"),
            400,
            E::InvalidHost,
        ),
        case(
            "Host with space",
            good_but("Host", "Host: a b"),
            400,
            E::InvalidHost,
        ),
        case(
            "Host bad port",
            good_but("Host", "Host: a:99999"),
            400,
            E::InvalidHost,
        ),
        case("Host empty", good_but("Host", "Host:"), 400, E::InvalidHost),
        case(
            "no Upgrade",
            good_but("Upgrade", ""),
            400,
            E::MissingUpgrade,
        ),
        case(
            "Upgrade: h2c",
            good_but("Upgrade", "Upgrade: h2c"),
            400,
            E::MissingUpgrade,
        ),
        case(
            "Upgrade token inside another",
            good_but("Upgrade", "Upgrade: websockets"),
            400,
            E::MissingUpgrade,
        ),
        case(
            "no Connection",
            good_but("Connection", ""),
            400,
            E::MissingConnectionUpgrade,
        ),
        case(
            "Connection: keep-alive",
            good_but("Connection", "Connection: keep-alive"),
            400,
            E::MissingConnectionUpgrade,
        ),
        case(
            "no key",
            good_but("Sec-WebSocket-Key", ""),
            400,
            E::InvalidKey,
        ),
        case(
            "key of 15 bytes",
            good_but(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",
            ),
            400,
            E::InvalidKey,
        ),
        case(
            "key not base64",
            good_but(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ*=",
            ),
            400,
            E::InvalidKey,
        ),
        case(
            "two keys",
            good_but("", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
            400,
            E::InvalidKey,
        ),
        case(
            "HTTP/1.0",
            request_with("GET /chat HTTP/1.0", GOOD),
            400,
            E::HttpVersionTooLow,
        ),
        case(
            "target without slash",
            request_with("GET chat HTTP/1.1", GOOD),
            400,
            E::InvalidTarget,
        ),
        case(
            "whitespace before colon",
            good_but("Host", "Host : example.com"),
            400,
            E::Malformed("whitespace before colon"),
        ),
        case(
            "obs-fold",
            good_but("", "X-A: 1\r\n  2"),
            400,
            E::Malformed("obsolete line folding"),
        ),
        case(
            "bare CR in value",
            good_but("", "X-A: 1\r2"),
            400,
            E::Malformed("invalid character in header value"),
        ),
        case(
            "NUL in value",
            good_but("", "X-A: 1\x002"),
            400,
            E::Malformed("invalid character in header value"),
        ),
        case(
            "request line with two spaces",
            request_with("GET  /chat HTTP/1.1", GOOD),
            400,
            E::Malformed("invalid request target"),
        ),
        case(
            "HTTP/2.0 request line",
            request_with("GET /chat HTTP/2.0", GOOD),
            400,
            E::Malformed("HTTP version is not HTTP/1.x"),
        ),
        case(
            "request with a body",
            good_but("", "Content-Length: 5"),
            400,
            E::Malformed("a handshake request has no body"),
        ),
        case(
            "request with chunked body",
            good_but("", "Transfer-Encoding: chunked"),
            400,
            E::Malformed("a handshake request has no body"),
        ),
        case(
            "bad extension header",
            good_but(
                "",
                "Sec-WebSocket-Extensions: permessage-deflate; x=\"a b\"",
            ),
            400,
            E::InvalidExtensions("quoted parameter value is not a token"),
        ),
        case(
            "bad protocol header",
            good_but("", "Sec-WebSocket-Protocol: chat, a/b"),
            400,
            E::InvalidProtocols,
        ),
        Case {
            extra_headers: &[("Allow", "GET")],
            ..case(
                "POST",
                request_with("POST /chat HTTP/1.1", GOOD),
                405,
                E::MethodNotAllowed("POST".into()),
            )
        },
        Case {
            extra_headers: &[("Allow", "GET")],
            // Refused as soon as the request line is known, before the head is complete.
            ..case(
                "get (methods are case-sensitive), head incomplete",
                b"get /chat HTTP/1.1\r\nHost: a\r\n".to_vec(),
                405,
                E::MethodNotAllowed("get".into()),
            )
        },
        Case {
            extra_headers: &[("Sec-WebSocket-Version", "13")],
            ..case(
                "no version",
                good_but("Sec-WebSocket-Version", ""),
                426,
                E::UnsupportedVersion,
            )
        },
        Case {
            extra_headers: &[("Sec-WebSocket-Version", "13")],
            ..case(
                "version 8",
                good_but("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
                426,
                E::UnsupportedVersion,
            )
        },
        Case {
            config: Config::default().max_header_bytes(100),
            ..case(
                "head over max_header_bytes",
                good_but("", "Cookie: a=1"),
                431,
                E::TooLarge { limit: 100 },
            )
        },
        Case {
            // The limit is hit before the head ends: the rest never needs to arrive.
            ..case(
                "endless header line",
                [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 9000]].concat(),
                431,
                E::TooLarge { limit: 8192 },
            )
        },
        case(
            "more than max_headers",
            request_with("GET /chat HTTP/1.1", &many),
            431,
            E::TooManyHeaders { limit: 64 },
        ),
        Case {
            policy: ServerPolicy::default().allow_origin("https://good.example"),
            ..case(
                "origin not on the allowlist",
                good_but("", "Origin: https://evil.example"),
                403,
                E::OriginRefused(Some("https://evil.example".into())),
            )
        },
        Case {
            policy: ServerPolicy::default().allow_origin("https://good.example"),
            ..case(
                "no origin with an allowlist",
                good_but("", ""),
                403,
                E::OriginRefused(None),
            )
        },
        Case {
            policy: ServerPolicy::default()
                .origin_predicate(|o| o.is_some_and(|o| o.ends_with(".good.example"))),
            ..case(
                "origin refused by the predicate",
                good_but("", "Origin: https://good.example.evil"),
                403,
                E::OriginRefused(Some("https://good.example.evil".into())),
            )
        },
    ];
    for c in cases {
        let outcome = server(&c.input, &c.config, &c.policy);
        assert_eq!(outcome.result, Some(Err(c.error.clone())), "{}", c.name);
        assert_eq!(c.error.status(), Some(c.status), "{}", c.name);
        let (status, headers, body) = parse_response(&outcome.response);
        assert_eq!(status, c.status, "{}", c.name);
        let mut expected = vec![(
            "Content-Type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        )];
        expected.extend(
            c.extra_headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string())),
        );
        expected.push(("Content-Length".into(), body.len().to_string()));
        expected.push(("Connection".into(), "close".into()));
        assert_eq!(headers, expected, "{}", c.name);
        assert_eq!(body, format!("{}\n", c.error).into_bytes(), "{}", c.name);
    }
}

#[test]
fn lenient_but_valid_requests_are_accepted() {
    let inputs = [
        // Token lists, any case, several fields, bare LF line ends, OWS around values.
        request_with(
            "GET /chat?room=1 HTTP/1.1",
            &[
                "host:example.com:8080",
                "UPGRADE: WebSocket",
                "Connection: keep-alive",
                "connection:\t Upgrade \t",
                "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13",
            ],
        ),
        b"GET / HTTP/1.1\nHost: [::1]:9\nUpgrade: websocket\nConnection: Upgrade\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"
            .to_vec(),
        request_with("GET ws://example.com/chat HTTP/1.1", GOOD),
    ];
    for input in inputs {
        let outcome = server_default(&input);
        assert!(matches!(outcome.result, Some(Ok(_))), "{outcome:?}");
        assert_eq!(outcome.head_len, Some(input.len()));
        assert!(
            outcome
                .response
                .starts_with(b"HTTP/1.1 101 Switching Protocols\r\n")
        );
    }
}

#[test]
fn head_exactly_at_the_limit_is_accepted_one_byte_more_is_431() {
    let input = good_but("", "Cookie: a=1");
    let at = server(
        &input,
        &Config::default().max_header_bytes(input.len()),
        &ServerPolicy::default(),
    );
    assert!(matches!(at.result, Some(Ok(_))));
    let over = server(
        &input,
        &Config::default().max_header_bytes(input.len() - 1),
        &ServerPolicy::default(),
    );
    assert!(
        over.response
            .starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );
    let headers = server(
        &input,
        &Config::default().max_headers(6),
        &ServerPolicy::default(),
    );
    assert!(matches!(headers.result, Some(Ok(_))));
    let headers = server(
        &input,
        &Config::default().max_headers(5),
        &ServerPolicy::default(),
    );
    assert_eq!(
        headers.result,
        Some(Err(HandshakeError::Request(RequestError::TooManyHeaders {
            limit: 5
        })))
    );
}

#[test]
fn handshake_types_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RequestParser>();
    send_sync::<ClientHandshake>();
    send_sync::<ServerPolicy>();
    send_sync::<HandshakeRequest>();
    send_sync::<HandshakeError>();
    send_sync::<RequestError>();
    send_sync::<ResponseError>();
    send_sync::<Response>();
    send_sync::<Negotiated>();
}

#[test]
fn incomplete_request_stays_partial() {
    let input = good_but("", "");
    let outcome = server_default(&input[..input.len() - 1]);
    assert_eq!(outcome.result, None);
    assert!(outcome.response.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Bytes after the head
// ---------------------------------------------------------------------------------------------

#[test]
fn server_reports_where_the_head_ends_before_the_first_frame() {
    // A masked text frame "Hi" in the same packet as the head.
    let frame = [0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
    let head = good_but("", "");
    let input = [head.as_slice(), &frame].concat();
    let outcome = server_default(&input);
    assert!(matches!(outcome.result, Some(Ok(_))));
    assert_eq!(outcome.head_len, Some(head.len()));
    assert_eq!(&input[head.len()..], frame);
}

#[test]
fn client_reports_where_the_101_ends_before_the_first_frame() {
    let frame = [0x81, 0x02, b'H', b'i'];
    let input = [RFC_RESPONSE, &frame].concat();
    let outcome = client(&rfc_client_request(), &Config::default(), &input);
    assert!(
        matches!(outcome, ClientOutcome::Accepted { head_len, .. } if head_len == RFC_RESPONSE.len())
    );
}

// ---------------------------------------------------------------------------------------------
// Subprotocols
// ---------------------------------------------------------------------------------------------

fn offered(protocol_lines: &[&str]) -> HandshakeRequest {
    let mut headers = GOOD.to_vec();
    headers.extend_from_slice(protocol_lines);
    let outcome = server_default(&request_with("GET / HTTP/1.1", &headers));
    outcome.result.unwrap().unwrap()
}

fn accept_bytes(
    req: &HandshakeRequest,
    accept: &Accept,
    policy: &ServerPolicy,
) -> Result<(Negotiated, String), UsageError> {
    let mut out = b"previous".to_vec();
    match write_accept(req, accept, policy, &mut out) {
        Ok(n) => Ok((n, String::from_utf8(out[8..].to_vec()).unwrap())),
        Err(e) => {
            assert_eq!(out, b"previous", "nothing is written on error");
            Err(e)
        }
    }
}

#[test]
fn protocols_are_merged_across_fields_and_trimmed() {
    let req = offered(&[
        "Sec-WebSocket-Protocol: a ,, b",
        "Sec-WebSocket-Protocol:",
        "sec-websocket-protocol: c",
    ]);
    assert_eq!(req.protocols(), ["a", "b", "c"]);
}

#[test]
fn server_preference_order_selects_the_protocol() {
    let req = offered(&["Sec-WebSocket-Protocol: v1, v2, v3"]);
    let policy = ServerPolicy::default().protocols(["v3", "v2"]);
    let (n, text) = accept_bytes(&req, &Accept::new(), &policy).unwrap();
    assert_eq!(n.protocol(), Some("v3"));
    assert_eq!(text.matches("Sec-WebSocket-Protocol").count(), 1);
    assert!(text.contains("\r\nSec-WebSocket-Protocol: v3\r\n"));

    let policy = ServerPolicy::default().protocols(["v9"]);
    let (n, text) = accept_bytes(&req, &Accept::new(), &policy).unwrap();
    assert_eq!(n.protocol(), None);
    assert!(!text.contains("Sec-WebSocket-Protocol"));
}

#[test]
fn selector_callback_selects_the_protocol() {
    let req = offered(&["Sec-WebSocket-Protocol: v1, v2"]);
    let policy = ServerPolicy::default()
        .protocols(["v1"])
        .protocol_selector(|offers| offers.last().cloned());
    let (n, _) = accept_bytes(&req, &Accept::new(), &policy).unwrap();
    assert_eq!(n.protocol(), Some("v2"));
    let rogue = ServerPolicy::default().protocol_selector(|_| Some("zz".into()));
    assert_eq!(
        accept_bytes(&req, &Accept::new(), &rogue).unwrap_err(),
        UsageError::SubprotocolNotOffered("zz".into())
    );
}

#[test]
fn explicit_protocol_overrides_the_policy_and_must_be_offered() {
    let req = offered(&["Sec-WebSocket-Protocol: v1, v2"]);
    let policy = ServerPolicy::default().protocols(["v1"]);
    let (n, text) = accept_bytes(&req, &Accept::new().protocol("v2"), &policy).unwrap();
    assert_eq!(n.protocol(), Some("v2"));
    assert!(text.contains("\r\nSec-WebSocket-Protocol: v2\r\n"));
    assert_eq!(
        accept_bytes(&req, &Accept::new().protocol("v3"), &policy).unwrap_err(),
        UsageError::SubprotocolNotOffered("v3".into())
    );
}

#[test]
fn no_protocol_offered_means_no_protocol_header() {
    let req = offered(&[]);
    let policy = ServerPolicy::default().protocols(["chat"]);
    let (n, text) = accept_bytes(&req, &Accept::new(), &policy).unwrap();
    assert_eq!(n.protocol(), None);
    assert!(!text.to_ascii_lowercase().contains("sec-websocket-protocol"));
    assert!(accept_bytes(&req, &Accept::new().protocol("chat"), &policy).is_err());
}

/// A connection's 101 is byte for byte what `write_accept` writes for the same request, whether
/// it is shorter or longer than the request, and an accept refused for a protocol not offered
/// writes nothing and leaves the request to accept again.
#[test]
fn connection_accept_writes_what_write_accept_writes() {
    use wsmachine::{Connection, Event};
    let input = request_with(
        "GET /x HTTP/1.1",
        &[GOOD, &["Sec-WebSocket-Protocol: a, b"]].concat(),
    );
    let policy = ServerPolicy::default();
    let long = "v".repeat(2 * input.len());
    for accept in [
        Accept::new(),
        Accept::new().protocol("b").header("Set-Cookie", "id=1"),
        Accept::new().header("X-Long", long.as_str()),
    ] {
        let req = server_default(&input).result.unwrap().unwrap();
        let mut expected = Vec::new();
        let negotiated = write_accept(&req, &accept, &policy, &mut expected).unwrap();

        let mut conn = Connection::server(Config::default());
        conn.receive(&input);
        assert!(matches!(
            conn.poll_event(),
            Some(Event::HandshakeRequest(_))
        ));
        assert_eq!(
            conn.accept(Accept::new().protocol("zz")),
            Err(UsageError::SubprotocolNotOffered("zz".into()))
        );
        assert!(conn.pending_output().is_empty());
        conn.accept(accept).unwrap();
        assert_eq!(conn.pending_output(), &expected[..]);
        assert!(matches!(conn.poll_event(), Some(Event::Open(n)) if *n == negotiated));
    }
}

// ---------------------------------------------------------------------------------------------
// Extensions
// ---------------------------------------------------------------------------------------------

#[test]
fn extension_offers_are_parsed_from_every_field() {
    let req = offered(&[
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\"",
        "Sec-WebSocket-Extensions: x-custom;a=1;b",
    ]);
    assert_eq!(
        req.extensions(),
        [
            ExtensionOffer::new("permessage-deflate").flag("client_max_window_bits"),
            ExtensionOffer::new("permessage-deflate").param("server_max_window_bits", "10"),
            ExtensionOffer::new("x-custom").param("a", "1").flag("b"),
        ]
    );
}

#[test]
fn extension_quoted_string_cases() {
    let ok = parse_extensions(r#"e; a="x\y"; b = "1""#).unwrap();
    assert_eq!(
        ok,
        [ExtensionOffer::new("e").param("a", "xy").param("b", "1")]
    );
    for bad in [r#"e; a="x y""#, r#"e; a="x"#, r#"e; a="""#, "e; a=\"\t\""] {
        assert!(parse_extensions(bad).is_err(), "{bad}");
    }
}

#[test]
fn extension_hook_is_written_and_negotiated() {
    let req = offered(&["Sec-WebSocket-Extensions: x-a, x-b; p=1, x-c"]);
    let policy = ServerPolicy::default().extension_hook(|offers| {
        offers
            .iter()
            .filter(|o| o.name != "x-c")
            .map(|o| AcceptedExtension {
                name: o.name.clone(),
                params: o.params.clone(),
                rsv_bits: if o.name == "x-a" { 0b100 } else { 0b010 },
            })
            .collect()
    });
    let (n, text) = accept_bytes(&req, &Accept::new(), &policy).unwrap();
    assert!(
        text.contains("\r\nSec-WebSocket-Extensions: x-a, x-b; p=1\r\n"),
        "{text}"
    );
    assert_eq!(n.extensions().len(), 2);
    assert_eq!(n.rsv_bits(), 0b110);

    // Accepting one not offered, twice, or overlapping RSV bits is refused.
    for accepted in [
        vec![AcceptedExtension::new("x-z")],
        vec![AcceptedExtension::new("x-a"), AcceptedExtension::new("x-a")],
        vec![
            AcceptedExtension {
                rsv_bits: 0b100,
                ..AcceptedExtension::new("x-a")
            },
            AcceptedExtension {
                rsv_bits: 0b100,
                ..AcceptedExtension::new("x-b")
            },
        ],
        vec![AcceptedExtension {
            rsv_bits: 0b1000,
            ..AcceptedExtension::new("x-a")
        }],
        vec![AcceptedExtension {
            params: vec![("p".into(), Some("a b".into()))],
            ..AcceptedExtension::new("x-a")
        }],
    ] {
        let policy = ServerPolicy::default().extension_hook(move |_| accepted.clone());
        assert!(matches!(
            accept_bytes(&req, &Accept::new(), &policy),
            Err(UsageError::InvalidHeader(_))
        ));
    }
}

#[test]
fn no_extension_header_without_a_hook_or_offers() {
    let req = offered(&["Sec-WebSocket-Extensions: x-a"]);
    let (n, text) = accept_bytes(&req, &Accept::new(), &ServerPolicy::default()).unwrap();
    assert!(n.extensions().is_empty());
    assert!(!text.contains("Extensions"));
}

// ---------------------------------------------------------------------------------------------
// Accept headers, rejections
// ---------------------------------------------------------------------------------------------

#[test]
fn accept_writes_extra_headers_last() {
    let req = offered(&[]);
    let accept = Accept::new()
        .header("Set-Cookie", "id=1; HttpOnly")
        .header("X-Server", "wsm");
    let (_, text) = accept_bytes(&req, &accept, &ServerPolicy::default()).unwrap();
    assert_eq!(
        text,
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSet-Cookie: id=1; HttpOnly\r\nX-Server: wsm\r\n\r\n",
            accept_key(req.key().as_bytes())
        )
    );
}

#[test]
fn accept_refuses_invalid_or_reserved_headers() {
    let req = offered(&[]);
    for (name, value) in [
        ("Set Cookie", "a"),
        ("", "a"),
        ("X", "a\r\nInjected: 1"),
        ("X", "a\0"),
        ("X", "a\n"),
        ("Sec-WebSocket-Accept", "x"),
        ("connection", "close"),
    ] {
        let accept = Accept::new().header(name, value);
        assert!(
            matches!(
                accept_bytes(&req, &accept, &ServerPolicy::default()),
                Err(UsageError::InvalidHeader(_))
            ),
            "{name:?}: {value:?}"
        );
    }
}

#[test]
fn rejection_response_bytes() {
    let mut out = Vec::new();
    let r = Response::new(401)
        .header("WWW-Authenticate", "Basic realm=\"ws\"")
        .body("who are you?");
    assert!(r.check().is_ok());
    r.write(&mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\n\
Content-Length: 12\r\nConnection: close\r\n\r\nwho are you?"
    );
    assert_eq!(r.status(), 401);
    assert_eq!(r.reason(), "Unauthorized");
    assert_eq!(
        r.header_value("www-authenticate"),
        Some("Basic realm=\"ws\"")
    );
    assert_eq!(r.body_bytes(), b"who are you?");

    // An unknown status has an empty reason; invalid headers are refused by check() and left out
    // by write().
    let r = Response::new(599)
        .header("X\r\nY", "1")
        .header("Content-Length", "3");
    assert!(r.check().is_err());
    let mut out = Vec::new();
    r.write(&mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert!(Response::new(101).check().is_err());
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

fn client_101(extra: &[&str]) -> Vec<u8> {
    let mut s = String::from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
    );
    for h in extra {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

#[test]
fn client_rejects_invalid_101s() {
    use ResponseError as E;
    let req = rfc_client_request().extension(ExtensionOffer::new("x-a"));
    let cases: Vec<(Vec<u8>, ResponseError)> = vec![
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                .to_vec(),
            E::MissingAccept,
        ),
        (
            b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".to_vec(),
            E::WrongAccept,
        ),
        (
            client_101(&["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]),
            E::WrongAccept,
        ),
        (
            b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".to_vec(),
            E::MissingUpgrade,
        ),
        (
            b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n".to_vec(),
            E::MissingConnectionUpgrade,
        ),
        (client_101(&["Sec-WebSocket-Protocol: mqtt"]), E::ProtocolNotOffered("mqtt".into())),
        (client_101(&["Sec-WebSocket-Protocol: chat, superchat"]), E::MultipleProtocols),
        (
            client_101(&["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"]),
            E::MultipleProtocols,
        ),
        (client_101(&["Sec-WebSocket-Extensions: x-b"]), E::ExtensionNotOffered("x-b".into())),
        (
            client_101(&["Sec-WebSocket-Extensions: x-a;"]),
            E::InvalidExtensions("expected a parameter name"),
        ),
        (
            b"HTTP/1.0 101 Switching Protocols\r\n\r\n".to_vec(),
            E::Malformed("101 response is not HTTP/1.1"),
        ),
        (b"HTTP/1.1 10 OK\r\n\r\n".to_vec(), E::Malformed("invalid status line")),
        (b"ICY 200 OK\r\n\r\n".to_vec(), E::Malformed("HTTP version is not HTTP/1.x")),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n".to_vec(),
            E::Malformed("invalid Content-Length"),
        ),
        (
            [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 9000]].concat(),
            E::TooLarge { limit: 8192 },
        ),
        (
            client_101(&["X: 1"; 64]),
            E::TooManyHeaders { limit: 64 },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(
            client(&req, &Config::default(), &input),
            ClientOutcome::Failed(HandshakeError::Response(error)),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn client_accepts_offered_extensions_and_protocol_case_insensitive_tokens() {
    let req = rfc_client_request()
        .extension(ExtensionOffer::new("x-a").flag("p"))
        .extension(ExtensionOffer::new("x-b"));
    let input = client_101(&[
        "upgrade: WebSocket",
        "connection: keep-alive, upgrade",
        "Sec-WebSocket-Protocol: superchat",
        "Sec-WebSocket-Extensions: x-b; q=\"2\"",
    ]);
    let ClientOutcome::Accepted { negotiated, .. } = client(&req, &Config::default(), &input)
    else {
        panic!()
    };
    assert_eq!(negotiated.protocol(), Some("superchat"));
    assert_eq!(
        negotiated.extensions(),
        [AcceptedExtension {
            name: "x-b".into(),
            params: vec![("q".into(), Some("2".into()))],
            rsv_bits: 0
        }]
    );
}

#[test]
fn client_surfaces_non_101_with_body_and_trailing_bytes() {
    let input = b"HTTP/1.1 302 Found\r\nLocation: ws://other.example/\r\nContent-Length: 5\r\n\r\nmovedEXTRA";
    let outcome = client(&rfc_client_request(), &Config::default(), input);
    let ClientOutcome::Rejected { response, len } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(len, input.len() - 5);
    assert_eq!(response.status(), 302);
    assert_eq!(response.reason(), "Found");
    assert_eq!(
        response.header_value("location"),
        Some("ws://other.example/")
    );
    assert_eq!(response.body_bytes(), b"moved");
}

#[test]
fn client_response_body_is_capped_and_optional() {
    let config = Config::default().max_response_body(4);
    let input = b"HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\n0123456789";
    let ClientOutcome::Rejected { response, len } = client(&rfc_client_request(), &config, input)
    else {
        panic!()
    };
    assert_eq!(response.reason(), "Oops");
    assert_eq!(response.body_bytes(), b"0123");
    assert_eq!(len, input.len() - 6);

    // Without Content-Length the body is empty and the head alone completes the response.
    let input = b"HTTP/1.1 403 Forbidden\r\n\r\nignored";
    let ClientOutcome::Rejected { response, len } =
        client(&rfc_client_request(), &Config::default(), input)
    else {
        panic!()
    };
    assert_eq!(response.body_bytes(), b"");
    assert_eq!(len, input.len() - 7);

    // A body still on its way leaves the handshake partial.
    let input = b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n0123";
    assert_eq!(
        client(&rfc_client_request(), &Config::default(), input),
        ClientOutcome::Partial
    );
}

#[test]
fn client_request_bytes_and_validation() {
    let req = ClientRequest::new("::1", "")
        .port(9001)
        .extension(ExtensionOffer::new("permessage-deflate").flag("client_max_window_bits"))
        .header("Cookie", "a=b")
        .key([0; 16]);
    let mut out = Vec::new();
    ClientHandshake::new(&req, &Config::default(), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET / HTTP/1.1\r\nHost: [::1]:9001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nCookie: a=b\r\n\r\n"
    );

    // Default keys are random, 16 bytes, and differ between handshakes.
    let mut keys = Vec::new();
    for _ in 0..2 {
        let mut out = Vec::new();
        ClientHandshake::new(&ClientRequest::new("h", "/"), &Config::default(), &mut out);
        let mut parser = RequestParser::new(&Config::default());
        let RequestProgress::Complete { request, .. } = parser.receive(&out) else {
            panic!()
        };
        keys.push(request.key().to_owned());
    }
    assert_ne!(keys[0], keys[1]);

    for bad in [
        ClientRequest::new("a b", "/"),
        ClientRequest::new("h", "no-slash"),
        ClientRequest::new("h", "/a b"),
        ClientRequest::new("h", "/").header("X", "a\r\nb: c"),
        ClientRequest::new("h", "/").header("Sec-WebSocket-Key", "x"),
        ClientRequest::new("h", "/").protocol("a,b"),
        ClientRequest::new("h", "/").extension(ExtensionOffer::new("x").param("p", "a b")),
        ClientRequest::new("h", "/").origin("http://a\r\n"),
    ] {
        let err = bad.validate().unwrap_err();
        let mut out = Vec::new();
        let mut hs = ClientHandshake::new(&bad, &Config::default(), &mut out);
        assert!(out.is_empty());
        let expected = HandshakeError::InvalidClientRequest(err);
        assert_eq!(hs.failure(), Some(&expected));
        assert_eq!(hs.receive(RFC_RESPONSE), ResponseProgress::Failed(expected));
    }
}

#[test]
fn client_request_from_url() {
    let r = ClientRequest::from_url("ws://example.com/chat?x=1").unwrap();
    assert_eq!(
        (r.host(), r.effective_port(), r.path(), r.is_secure()),
        ("example.com", 80, "/chat?x=1", false)
    );
    let r = ClientRequest::from_url("WSS://[::1]:8443").unwrap();
    assert_eq!(
        (r.host(), r.effective_port(), r.path(), r.is_secure()),
        ("::1", 8443, "/", true)
    );
    let r = ClientRequest::from_url("ws://h:80?q").unwrap();
    assert_eq!((r.effective_port(), r.path()), (80, "/?q"));
    let mut out = Vec::new();
    ClientHandshake::new(&r.key([0; 16]), &Config::default(), &mut out);
    assert!(out.starts_with(b"GET /?q HTTP/1.1\r\nHost: h\r\n"));
    let r = ClientRequest::from_url("wss://h:443/").unwrap();
    let mut out = Vec::new();
    ClientHandshake::new(&r, &Config::default(), &mut out);
    assert!(out.starts_with(b"GET / HTTP/1.1\r\nHost: h\r\n"));
    for bad in [
        "http://h/",
        "ws://h/#frag",
        "ws://u@h/",
        "ws://h:0/",
        "ws://h:65536/",
        "ws://h:x/",
        "ws:///path",
        "ws://[::1/",
        "ws://h/a b",
    ] {
        assert!(ClientRequest::from_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn client_and_server_agree_end_to_end() {
    let req = ClientRequest::from_url("ws://localhost:9001/echo")
        .unwrap()
        .origin("http://localhost")
        .protocol("b")
        .protocol("a")
        .extension(ExtensionOffer::new("x-a"))
        .header("Authorization", "Bearer t");
    let mut request_bytes = Vec::new();
    let mut hs = ClientHandshake::new(&req, &Config::default(), &mut request_bytes);
    let policy = ServerPolicy::default()
        .allow_origin("HTTP://LOCALHOST")
        .protocols(["a", "b"])
        .extension_hook(|o| {
            vec![AcceptedExtension {
                rsv_bits: 0b100,
                ..AcceptedExtension::new(o[0].name.clone())
            }]
        });
    let outcome = server(&request_bytes, &Config::default(), &policy);
    let request = outcome.result.unwrap().unwrap();
    assert_eq!(request.host(), "localhost:9001");
    assert_eq!(request.header("authorization"), Some("Bearer t"));
    let ResponseProgress::Accepted {
        negotiated,
        consumed,
    } = hs.receive(&outcome.response)
    else {
        panic!()
    };
    assert_eq!(consumed, outcome.response.len());
    assert_eq!(negotiated.protocol(), Some("a"));
    assert_eq!(negotiated.extensions()[0].name, "x-a");
}

// ---------------------------------------------------------------------------------------------
// Differential test against httparse
// ---------------------------------------------------------------------------------------------

fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}"
}

proptest! {
    #![proptest_config(PropConfig { cases: 256, failure_persistence: None, ..PropConfig::default() })]

    /// Valid request heads: same method, target and headers as httparse.
    #[test]
    fn differential_against_httparse(
        method in prop_oneof![3 => Just("GET".to_string()), 1 => token()],
        target in "/[!-~]{0,30}",
        extra in proptest::collection::vec(
            (token(), "[ \t]{0,2}", "([!-~]([ -~]{0,20}[!-~])?)?", "[ \t]{0,2}"),
            0..10,
        ),
        bare_lf in any::<bool>(),
        cuts in cuts_strategy(1500),
    ) {
        let eol = if bare_lf { "\n" } else { "\r\n" };
        let mut head = format!("{method} {target} HTTP/1.1{eol}");
        for h in GOOD {
            head.push_str(h);
            head.push_str(eol);
        }
        for (name, ows1, value, ows2) in &extra {
            head.push_str(&format!("X-{name}:{ows1}{value}{ows2}{eol}"));
        }
        head.push_str(eol);
        let input = head.as_bytes();

        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut reference = httparse::Request::new(&mut headers);
        let status = reference.parse(input).unwrap();
        prop_assert_eq!(status, httparse::Status::Complete(input.len()));

        let ours = server_run(input, &Config::default(), &ServerPolicy::default(), &cuts);
        if method == "GET" {
            let request = ours.result.unwrap().unwrap();
            prop_assert_eq!(ours.head_len, Some(input.len()));
            prop_assert_eq!(Some(request.method()), reference.method);
            prop_assert_eq!(Some(request.target()), reference.path);
            let theirs: Vec<(String, String)> = reference
                .headers
                .iter()
                .map(|h| (h.name.to_string(), String::from_utf8(h.value.to_vec()).unwrap()))
                .collect();
            let ours: Vec<(String, String)> = request
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            prop_assert_eq!(ours, theirs);
        } else {
            prop_assert_eq!(
                ours.result,
                Some(Err(HandshakeError::Request(RequestError::MethodNotAllowed(
                    reference.method.unwrap().to_string()
                ))))
            );
        }
    }

    /// Arbitrary bytes never panic and give the same outcome however they are split.
    #[test]
    fn arbitrary_requests_are_split_invariant(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in cuts_strategy(300),
    ) {
        let input = [b"GET / HTTP/1.1\r\n".as_slice(), &body, b"\r\n\r\n"].concat();
        let config = Config::default().max_header_bytes(150).max_headers(4);
        let whole = server_run(&input, &config, &ServerPolicy::default(), &[]);
        prop_assert_eq!(server_run(&input, &config, &ServerPolicy::default(), &cuts), whole);
    }

    /// Arbitrary response bytes never panic and give the same outcome however they are split.
    #[test]
    fn arbitrary_responses_are_split_invariant(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in cuts_strategy(300),
    ) {
        let input = [&client_101(&[])[..client_101(&[]).len() - 2], &body].concat();
        let config = Config::default().max_header_bytes(300).max_headers(6);
        let req = rfc_client_request();
        let whole = client_run(&req, &config, &input, &[]);
        prop_assert_eq!(client_run(&req, &config, &input, &cuts), whole);
    }
}
