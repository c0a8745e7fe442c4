//! Plain HTTP beside WebSocket on one port (`ServerPolicy::plain_http`): `GET` and `POST`
//! requests reported as `Event::HttpRequest`, a `POST`'s body read by the machine after the
//! head, within `Config::max_request_body`.

mod common;

use std::sync::Arc;

use common::*;
use wsmachine::handshake::{Response, ServerPolicy};
use wsmachine::{Config, Connection, Event};

fn server(config: Config) -> Connection {
    Connection::server_with_policy(config, Arc::new(ServerPolicy::new().plain_http(true)))
}

/// Feed `input` in pieces cut at `cuts`; return the request's method, target and body once
/// reported, and every status the machine answered with itself.
fn feed(conn: &mut Connection, input: &[u8], cuts: &[usize]) -> Option<(String, String, Vec<u8>)> {
    let mut last = 0;
    let mut got = None;
    for &c in cuts.iter().chain([input.len()].iter()) {
        conn.receive(&input[last..c.max(last)]);
        last = c.max(last);
        while let Some(ev) = conn.poll_event() {
            if let Event::HttpRequest(r) = ev {
                got = Some((
                    r.method().to_owned(),
                    r.target().to_owned(),
                    r.body().to_vec(),
                ));
            }
        }
    }
    got
}

const POST: &[u8] = b"POST /engine.io/?EIO=4&sid=x HTTP/1.1\r\nHost: h\r\n\
Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n4hello\x1e4you";

#[test]
fn a_post_body_is_read_whole_however_the_bytes_arrive() {
    for cut in 0..=POST.len() {
        for second in [cut, cut + 1, POST.len()] {
            let mut s = server(Config::default());
            let got = feed(&mut s, POST, &[cut, second.min(POST.len())]);
            assert_eq!(
                got,
                Some((
                    "POST".into(),
                    "/engine.io/?EIO=4&sid=x".into(),
                    b"4hello\x1e4you".to_vec()
                )),
                "cuts {cut} {second}"
            );
        }
    }
}

#[test]
fn the_request_is_reported_only_once_its_body_is_complete_and_then_answered() {
    let mut s = server(Config::default());
    s.receive(&POST[..POST.len() - 1]);
    assert_eq!(drain(&mut s), vec![]);
    s.receive(&POST[POST.len() - 1..]);
    let mut body = Vec::new();
    while let Some(ev) = s.poll_event() {
        if let Event::HttpRequest(r) = ev {
            body = r.body().to_vec();
        }
    }
    assert_eq!(body, b"4hello\x1e4you");
    s.respond(Response::new(200).body("ok")).unwrap();
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 200 "));
    assert!(s.should_close_transport());
}

#[test]
fn a_get_has_an_empty_body() {
    let mut s = server(Config::default());
    let got = feed(&mut s, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n", &[]);
    assert_eq!(got, Some(("GET".into(), "/x".into(), Vec::new())));
}

#[test]
fn bodies_the_machine_does_not_read_are_refused_with_their_status() {
    let cases: [(&[u8], u16); 5] = [
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            411,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
            411,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            411,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n",
            413,
        ),
        // An upgrade needs GET, plain HTTP served or not.
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            405,
        ),
    ];
    for (request, status) in cases {
        let mut s = server(Config::default().max_request_body(100));
        s.receive(request);
        assert_eq!(
            drain(&mut s),
            vec![Ev::HandshakeFailed(Some(status))],
            "{}",
            String::from_utf8_lossy(request)
        );
        assert!(s.should_close_transport());
    }
}

#[test]
fn any_method_reaches_the_application() {
    let mut s = server(Config::default());
    let got = feed(
        &mut s,
        b"PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
        &[],
    );
    assert_eq!(got, Some(("PUT".into(), "/x".into(), b"hi".to_vec())));
}

#[test]
fn without_plain_http_a_post_is_405() {
    let mut s = Connection::server(Config::default());
    s.receive(POST);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(405))]);
}

#[test]
fn the_transport_ending_inside_a_body_ends_the_connection() {
    let mut s = server(Config::default());
    s.receive(&POST[..POST.len() - 3]);
    s.receive_eof();
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.should_close_transport());
}

#[test]
fn a_slow_body_meets_the_handshake_deadline() {
    let t0 = wsmachine::Timestamp::from_secs(1);
    let mut s =
        server(Config::default().handshake_timeout(Some(std::time::Duration::from_secs(10))));
    s.handle_timeout(t0);
    s.receive(&POST[..POST.len() - 3]);
    s.handle_timeout(t0 + std::time::Duration::from_secs(10));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(408))]);
}
