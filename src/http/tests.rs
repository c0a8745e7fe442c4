//! The head parser's tests: syntax, limits, chunking and linear work.

use super::lines::*;
use super::syntax::*;
use super::*;

#[test]
fn content_length_values() {
    assert_eq!(content_length(b"0"), Some(0));
    assert_eq!(
        content_length(b"0011"),
        Some(11),
        "leading zeros are allowed"
    );
    let max = usize::MAX.to_string();
    assert_eq!(content_length(max.as_bytes()), Some(usize::MAX));
    let over = format!("{max}0");
    assert_eq!(content_length(over.as_bytes()), None, "overflow");
    for bad in [&b""[..], b"-1", b"1 ", b"0x10", b"1e3", b"+5"] {
        assert_eq!(content_length(bad), None, "{bad:?}");
    }
}

fn parse_all(kind: HeadKind, input: &[u8]) -> HeadProgress {
    HeadParser::new(kind, 8192, 64).receive(input)
}

fn owned_fields(head: &Head) -> Vec<(String, String)> {
    head.fields()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn request_head_and_trailing_bytes() {
    let input =
        b"GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nX-Empty:\r\nX:  v w \t\r\n\r\n\x81\x00";
    let HeadProgress::Complete { head, consumed } = parse_all(HeadKind::Request, input) else {
        panic!("incomplete");
    };
    assert_eq!(consumed, input.len() - 2);
    assert_eq!(head.buf, &input[..consumed]);
    let StartLine::Request { method, target } = head.start else {
        panic!("not a request");
    };
    assert_eq!((head.text(method), head.text(target)), ("GET", "/chat?x=1"));
    assert_eq!(head.minor_version, 1);
    assert_eq!(
        owned_fields(&head),
        vec![
            ("Host".into(), "a.example".into()),
            ("X-Empty".into(), "".into()),
            ("X".into(), "v w".into())
        ]
    );
    assert_eq!(head.values("x").collect::<Vec<_>>(), ["v w"]);
}

/// Every split of a head into two or three chunks gives the same head as one call.
#[test]
fn any_split_gives_the_same_head() {
    let input = "GET /a HTTP/1.1\r\nHost: h\r\nX-Long: caf\u{e9} \t au lait, \
                 0123456789abcdef\r\nY:\tz\n\r\n"
        .as_bytes();
    let HeadProgress::Complete { head: whole, .. } = parse_all(HeadKind::Request, input) else {
        panic!("incomplete");
    };
    assert_eq!(
        owned_fields(&whole)[1],
        (
            "X-Long".into(),
            "caf\u{e9} \t au lait, 0123456789abcdef".into()
        )
    );
    for a in 0..=input.len() {
        for b in a..=input.len() {
            let mut p = HeadParser::new(HeadKind::Request, 8192, 64);
            let mut done = None;
            for chunk in [&input[..a], &input[a..b], &input[b..]] {
                match p.receive(chunk) {
                    HeadProgress::Partial => {}
                    HeadProgress::Complete { head, consumed } => {
                        assert_eq!(consumed, chunk.len());
                        done = Some(head);
                        break;
                    }
                    HeadProgress::Failed(e) => panic!("{e:?} at {a}/{b}"),
                }
            }
            assert_eq!(done.as_ref(), Some(&whole), "split at {a}/{b}");
        }
    }
}

#[test]
fn bare_lf_accepted_bare_cr_refused() {
    assert!(matches!(
        parse_all(HeadKind::Request, b"GET / HTTP/1.1\nHost: a\n\n"),
        HeadProgress::Complete { consumed: 24, .. }
    ));
    assert_eq!(
        parse_all(HeadKind::Request, b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"),
        HeadProgress::Failed(HeadError::Malformed("invalid character in header value"))
    );
}

/// The word-at-a-time case-insensitive comparison agrees with the standard one for every
/// byte but CR at every position, for every length it takes.
#[test]
fn eq_lower_matches_eq_ignore_ascii_case() {
    let names: &[&[u8]] = &[
        b"",
        b"a",
        b"ab-",
        b"host",
        b"origin",
        b"upgrade",
        b"websocket",
        b"connection",
        b"content-length",
        b"sec-websocket-key",
        b"transfer-encoding",
        b"sec-websocket-version",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
    ];
    for lower in names {
        assert!(eq_lower(lower, lower));
        assert!(eq_lower(&lower.to_ascii_uppercase(), lower));
        assert!(!eq_lower(&[lower, &b"x"[..]].concat(), lower));
        for at in 0..lower.len() {
            for b in (0..=255u8).filter(|&b| b != b'\r') {
                let mut s = lower.to_vec();
                s[at] = b;
                assert_eq!(eq_lower(&s, lower), s.eq_ignore_ascii_case(lower), "{s:?}");
            }
        }
    }
    assert!(list_has(b"keep-alive, UPGRADE", b"upgrade"));
    assert!(!list_has(b"keep-alive, upgrades", b"upgrade"));
}

// Miri runs the tests of the SSE2 blocks (`scripts/miri.sh`) to check them for undefined
// behaviour, not for the answers, which the native runs check on every input; it is slow,
// so under it these tests take a sample.

/// Every byte value; under Miri, one of each class the SSE2 blocks tell apart (controls,
/// HTAB, LF, CR, SP, `-`, digits, `:`, letters of both cases, DEL, non-ASCII).
fn byte_values() -> Vec<u8> {
    if cfg!(miri) {
        vec![
            0x00, 0x09, 0x0A, 0x0D, 0x20, 0x2D, 0x30, 0x3A, 0x41, 0x61, 0x7A, 0x7F, 0x80, 0xFF,
        ]
    } else {
        (0..=255).collect()
    }
}

/// Lengths around the 8- and 16-byte blocks; under Miri, two that hold a 16-byte block.
fn block_lengths(all: &'static [usize]) -> &'static [usize] {
    if cfg!(miri) { &[17, 33] } else { all }
}

/// Every position in `len` bytes; under Miri, the first and last and those around the
/// first 16-byte block's end.
fn positions(len: usize) -> Vec<usize> {
    if cfg!(miri) {
        let mut at = vec![0, 15, 16, len.saturating_sub(1)];
        at.retain(|&i| i < len);
        at.dedup();
        at
    } else {
        (0..len).collect()
    }
}

/// The word-at-a-time value check agrees with the bytewise one for every byte value at
/// every position of a word and of the tail.
#[test]
fn value_check_matches_bytewise() {
    for len in [1, 7, 8, 9, 16, 19] {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut v = vec![b'a'; len];
                v[at] = b;
                let expected = if is_field_value_byte(b) {
                    Ok(b >= 0x80)
                } else {
                    Err(())
                };
                assert_eq!(check_value_bytes(&v), expected, "{len} {at} {b:#x}");
            }
        }
    }
}

/// The block-at-a-time search for a value's end agrees with a bytewise one for every byte
/// value at every position of 16- and 8-byte blocks and of the tail, with and without a
/// non-ASCII byte before it.
#[test]
fn value_end_matches_bytewise() {
    for &len in block_lengths(&[0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40]) {
        for at in positions(len) {
            for high_at in [None, Some(0), Some(at.saturating_sub(1)), Some(len - 1)] {
                for b in byte_values() {
                    let mut v = vec![b'a'; len];
                    if let Some(h) = high_at {
                        v[h] = 0xC3;
                    }
                    v[at] = b;
                    let i = v
                        .iter()
                        .position(|&c| !is_field_value_byte(c))
                        .unwrap_or(len);
                    let expected = (i, v[..i].iter().any(|&c| c >= 0x80));
                    assert_eq!(value_end(&v), expected, "{v:x?}");
                }
            }
        }
    }
}

/// The word-at-a-time prefix scan agrees with the bytewise one.
#[test]
fn prefix_scan_matches_bytewise() {
    for class in [TCHAR, TARGET] {
        for &len in block_lengths(&[0, 1, 7, 8, 9, 15, 16, 17, 25, 31, 32, 33, 40]) {
            for at in positions(len) {
                for b in byte_values() {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let expected = s
                        .iter()
                        .position(|&c| CLASS[c as usize] & class == 0)
                        .unwrap_or(len);
                    assert_eq!(prefix_len(&s, class), expected, "{len} {at} {b:#x}");
                    if class == TCHAR {
                        let colon = s.get(expected) == Some(&b':');
                        assert_eq!(name_end(&s), (expected, colon), "{len} {at} {b:#x}");
                    }
                    if class == TARGET {
                        assert_eq!(target_prefix_len(&s), expected, "{len} {at} {b:#x}");
                    }
                }
            }
        }
    }
}

/// The tchar mask has a bit for exactly the tchars, every byte value at every position of
/// every length up to 64 (blocks of sixteen, the last overlapping, or bytewise).
#[test]
fn tchar_bits_match_bytewise() {
    for &len in block_lengths(&[0, 1, 15, 16, 17, 31, 32, 43, 48, 63, 64]) {
        for at in positions(len) {
            for b in byte_values() {
                let mut s: Vec<u8> = (0..len).map(|i| b"a;b=c, d\t\"e"[i % 11]).collect();
                s[at] = b;
                let expected = s
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, &c)| m | u64::from(is_tchar(c)) << i);
                assert_eq!(tchar_bits(&s), expected, "{len} {at} {b:#x}");
            }
        }
    }
}

/// The fast path takes exactly the complete lines the general path accepts, with the same
/// result, and never claims that bytes up to an LF hold none.
#[test]
fn fast_path_agrees_with_the_general_path() {
    let lines: [&[u8]; 7] = [
        b"Name: value with spaces\r\nNext: x\r\n",
        b"X:\t a\tb \t\r\n",
        "K: caf\u{e9}, na\u{ef}ve 0123456789\n".as_bytes(),
        b"A:\r\n",
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nX: y\r\n",
        "Accept-Language-Preferences-X: d\u{e9}j\u{e0}-vu 0123456789abcdef\r\n".as_bytes(),
    ];
    // Under Miri, one line of each kind (the longest ones cross a 16-byte block).
    let lines = if cfg!(miri) { &lines[4..6] } else { &lines[..] };
    for line in lines {
        for at in positions(line.len()) {
            for b in byte_values() {
                let mut s = line.to_vec();
                s[at] = b;
                let lf = s.iter().position(|&c| c == b'\n');
                match fast_field(&s) {
                    Ok((name, value, len)) => {
                        assert_eq!(Some(len - 1), lf, "{s:?}");
                        assert_eq!(
                            parse_header_line(
                                0,
                                s[..len - 1].strip_suffix(b"\r").unwrap_or(&s[..len - 1])
                            ),
                            Ok(Field {
                                name: Span::at(0, name),
                                value: Span::at(0, value)
                            }),
                            "{s:?}"
                        );
                    }
                    Err(clear) => {
                        assert!(lf.is_none_or(|lf| clear <= lf), "{s:?}");
                        if let Some(lf) = lf {
                            let l = &s[..lf];
                            let l = l.strip_suffix(b"\r").unwrap_or(l);
                            // Whatever the fast path leaves, the general path refuses, or
                            // it is the empty line.
                            assert!(l.is_empty() || parse_header_line(0, l).is_err(), "{s:?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn syntax_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"GET  / HTTP/1.1\r\n", "invalid request target"),
        (b"GET / HTTP/1.1 \r\n", "invalid request line"),
        (b"GET / HTTP/2.0\r\n", "HTTP version is not HTTP/1.x"),
        (
            b"\r\nGET / HTTP/1.1\r\n",
            "empty line before the start line",
        ),
        (b"G(T / HTTP/1.1\r\n", "invalid request line"),
        (b"GET / HTTP/1.1\r\nHost : a\r\n", "whitespace before colon"),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n",
            "obsolete line folding",
        ),
        (b"GET / HTTP/1.1\r\n: a\r\n", "invalid header name"),
        (b"GET / HTTP/1.1\r\nA\0: a\r\n", "invalid header name"),
        (
            b"GET / HTTP/1.1\r\nA: \0\r\n",
            "invalid character in header value",
        ),
        (
            b"GET / HTTP/1.1\r\nA: 0123456789\x7f\r\n",
            "invalid character in header value",
        ),
        (
            b"GET / HTTP/1.1\r\nA: \xff\r\n",
            "header value is not UTF-8",
        ),
        (
            b"GET / HTTP/1.1\r\nA: 0123456789\xc3\r\n",
            "header value is not UTF-8",
        ),
    ];
    for (input, reason) in cases {
        assert_eq!(
            parse_all(HeadKind::Request, input),
            HeadProgress::Failed(HeadError::Malformed(reason)),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn status_lines() {
    let HeadProgress::Complete { head, .. } =
        parse_all(HeadKind::Response, b"HTTP/1.1 101\r\n\r\n")
    else {
        panic!()
    };
    let StartLine::Response { status, reason } = head.start else {
        panic!("not a response");
    };
    assert_eq!((status, head.bytes(reason)), (101, &b""[..]));
    let HeadProgress::Complete { head, .. } = parse_all(
        HeadKind::Response,
        b"HTTP/1.0 404 Not \xe9 Found\r\nA: b\r\n\r\n",
    ) else {
        panic!()
    };
    let StartLine::Response { status, reason } = head.start else {
        panic!("not a response");
    };
    assert_eq!((status, head.bytes(reason)), (404, &b"Not \xe9 Found"[..]));
    assert_eq!(head.minor_version, 0);
    for bad in [
        &b"HTTP/1.1 1011 X\r\n"[..],
        b"HTTP/1.1 01 X\r\n",
        b"HTTP/1.1  101\r\n",
    ] {
        assert!(matches!(
            parse_all(HeadKind::Response, bad),
            HeadProgress::Failed(HeadError::Malformed(_))
        ));
    }
}

#[test]
fn limits_enforced_as_bytes_arrive() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    // Exactly at the limit: accepted.
    let mut p = HeadParser::new(HeadKind::Request, head.len(), 64);
    assert!(matches!(p.receive(head), HeadProgress::Complete { .. }));
    // One byte less: refused once the byte past the limit arrives, without buffering it.
    let mut p = HeadParser::new(HeadKind::Request, head.len() - 1, 64);
    let mut outcome = HeadProgress::Partial;
    for (i, b) in head.iter().enumerate() {
        outcome = p.receive(core::slice::from_ref(b));
        if outcome != HeadProgress::Partial {
            assert_eq!(i, head.len() - 1);
            break;
        }
    }
    assert_eq!(outcome, HeadProgress::Failed(HeadError::TooLarge));
    assert!(p.buf.len() < head.len());
    assert!(p.buf.capacity() < head.len());
    // The request line stays readable after the failure.
    assert_eq!(p.request_line(), Some(("GET", "/", 1)));
    // A line without end that is longer than the limit fails at once, and nothing past the
    // limit is kept.
    let mut p = HeadParser::new(HeadKind::Request, 100, 64);
    assert_eq!(
        p.receive(&[b'a'; 1000]),
        HeadProgress::Failed(HeadError::TooLarge)
    );
    assert!(p.buf.capacity() <= 100);
    // Fed in small chunks, the buffer grows to the limit and no further.
    let mut p = HeadParser::new(HeadKind::Request, 100, 64);
    let mut outcome = HeadProgress::Partial;
    for chunk in [b'a'; 1000].chunks(7) {
        outcome = p.receive(chunk);
        if outcome != HeadProgress::Partial {
            break;
        }
    }
    assert_eq!(outcome, HeadProgress::Failed(HeadError::TooLarge));
    assert!(p.buf.capacity() <= 100);

    let mut p = HeadParser::new(HeadKind::Request, 8192, 1);
    assert_eq!(
        p.receive(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"),
        HeadProgress::Failed(HeadError::TooManyHeaders)
    );
    assert_eq!(p.request_line(), Some(("GET", "/", 1)));
}

/// Fed one byte at a time, a head of the maximum size is searched and validated exactly
/// once per byte: the work is linear, not quadratic.
#[test]
fn work_is_linear_byte_by_byte() {
    let limit = 8192;
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    let mut i = 0;
    while head.len() + 40 < limit {
        head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(15)).as_bytes());
        i += 1;
    }
    head.extend_from_slice(b"X-Last: ");
    while head.len() + 2 + 2 < limit {
        head.push(b'z');
    }
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), limit);
    let mut p = HeadParser::new(HeadKind::Request, limit, 1000);
    work::take();
    for (n, b) in head.iter().enumerate() {
        let r = p.receive(core::slice::from_ref(b));
        if n + 1 < head.len() {
            assert_eq!(r, HeadProgress::Partial);
        } else {
            assert!(matches!(r, HeadProgress::Complete { consumed: 1, .. }));
        }
    }
    let work = work::take();
    assert_eq!(work.scanned, head.len());
    assert_eq!(work.validated, head.len());
    assert!(work.probed <= head.len());
}

/// Fed in one call, or in chunks that cut every line, the same counts hold.
#[test]
fn work_is_linear_in_any_chunking() {
    let head = b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: 0123456789\r\nX-B: b\r\n\r\n";
    for size in 1..=head.len() {
        let mut p = HeadParser::new(HeadKind::Request, 8192, 64);
        let mut complete = false;
        work::take();
        for chunk in head.chunks(size) {
            if let HeadProgress::Complete { head: h, .. } = p.receive(chunk) {
                assert_eq!(h.buf, head);
                complete = true;
            }
        }
        assert!(complete);
        let work = work::take();
        assert_eq!(
            (work.scanned, work.validated),
            (head.len(), head.len()),
            "{size}"
        );
        assert!(work.probed <= head.len(), "{size}");
    }
}

/// Where the processor has AVX-512BW, the marks take a line only when the general path
/// accepts it, with the same result: each byte value at each position of lines that start
/// at either side of a 64-bit word of marks; and they take the common lines unchanged,
/// wherever they start, except one whose end is past the marks.
#[test]
fn marks_agree_with_the_general_path() {
    let mut probe = marks::Marks::NONE;
    if !probe.mark(b"probe") {
        return;
    }
    let lines: [&[u8]; 6] = [
        b"Name: value with spaces\r\nNext: x\r\n",
        b"X:\t a\tb \t\r\n",
        "K: caf\u{e9}, na\u{ef}ve 0123456789\n".as_bytes(),
        b"A:\r\n",
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nX: y\r\n",
        "Accept-Language-Preferences-X: d\u{e9}j\u{e0}-vu 0123456789abcdef\r\n".as_bytes(),
    ];
    let taken = |block: &[u8], at: usize| {
        let mut m = marks::Marks::NONE;
        assert!(m.mark(block));
        m.field(block, at)
    };
    // Under Miri, one long line, and a sample of the places and bytes.
    let lines = if cfg!(miri) { &lines[4..5] } else { &lines[..] };
    let starts: &[usize] = if cfg!(miri) {
        &[0, 60]
    } else {
        &[0, 1, 60, 64, 100]
    };
    for line in lines {
        // The line's end: its CR, or a bare LF.
        let stop = line
            .iter()
            .position(|&c| c == b'\r' || c == b'\n')
            .expect("a complete line");
        for &at in starts {
            for i in positions(line.len()) {
                for b in byte_values() {
                    let mut block = vec![b'a'; at];
                    block.extend_from_slice(line);
                    block[at + i] = b;
                    block.resize(block.len() + 40, b'z');
                    let s = &block[at..];
                    let Some((name, value, len)) = taken(&block, at) else {
                        continue;
                    };
                    let lf = s.iter().position(|&c| c == b'\n');
                    assert_eq!(Some(len - 1), lf, "{s:?}");
                    let l = &s[..len - 1];
                    assert_eq!(
                        parse_header_line(0, l.strip_suffix(b"\r").unwrap_or(l)),
                        Ok(Field {
                            name: Span::at(0, name),
                            value: Span::at(0, value)
                        }),
                        "{s:?}"
                    );
                }
            }
        }
        let ats: Vec<usize> = if cfg!(miri) {
            vec![
                0,
                63,
                marks::BLOCK - stop - 1,
                marks::BLOCK - stop,
                marks::BLOCK - 1,
            ]
        } else {
            (0..marks::BLOCK).collect()
        };
        for at in ats {
            let mut block = vec![b'a'; at];
            block.extend_from_slice(line);
            block.resize(block.len().max(marks::BLOCK) + 64, b'z');
            let s = &block[at..];
            let fast = fast_field(s).expect("a valid line");
            if at + stop < marks::BLOCK {
                assert_eq!(taken(&block, at), Some(fast), "{at}");
            } else if at < marks::BLOCK {
                assert_eq!(taken(&block, at), None, "{at}");
            }
        }
    }
}

/// A browser's head with a long cookie, past one block of marks, gives the same head in one
/// call as fed byte by byte or in chunks of any of several sizes, with every byte searched
/// and validated once and marked at most once.
#[test]
fn a_long_head_is_the_same_however_it_arrives() {
    let cookie: String = (0..2_500)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let input = format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux \
         x86_64) AppleWebKit/537.36\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: \
         id={cookie}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX_Rare: tchar\r\n\
         Accept-Language: d\u{e9}j\u{e0}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let input = input.as_bytes();
    work::take();
    let HeadProgress::Complete { head: whole, .. } = parse_all(HeadKind::Request, input) else {
        panic!("incomplete");
    };
    let work = work::take();
    assert_eq!((work.scanned, work.validated), (input.len(), input.len()));
    assert!(work.marked <= input.len());
    assert_eq!(whole.fields.len(), 9);
    assert_eq!(whole.values("x_rare").collect::<Vec<_>>(), ["tchar"]);
    for size in [1, 2, 3, 7, 64, 127, 128, 129, 1000, 1024, 1025] {
        let mut p = HeadParser::new(HeadKind::Request, 8192, 64);
        let mut done = None;
        for chunk in input.chunks(size) {
            match p.receive(chunk) {
                HeadProgress::Partial => {}
                HeadProgress::Complete { head, .. } => done = Some(head),
                HeadProgress::Failed(e) => panic!("{e:?} in chunks of {size}"),
            }
        }
        let work = work::take();
        assert_eq!(done.as_ref(), Some(&whole), "chunks of {size}");
        assert_eq!(
            (work.scanned, work.validated),
            (input.len(), input.len()),
            "{size}"
        );
        assert!(work.marked <= input.len(), "{size}");
    }
}
