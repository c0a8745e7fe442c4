//! Two machines wired together: whole conversations from the opening handshake to the close.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use std::sync::Arc;

use common::*;
use wsmachine::handshake::Response;
use wsmachine::handshake::{Accept, ClientRequest, ServerPolicy};
use wsmachine::{Config, Connection, Event, ProtocolError, State};

/// Move bytes both ways until neither side has output; collect each side's events.
fn pump(c: &mut Connection, s: &mut Connection) -> (Vec<Ev>, Vec<Ev>) {
    let (mut ce, mut se) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let to_s = take_output(c);
        let to_c = take_output(s);
        if to_s.is_empty() && to_c.is_empty() {
            break;
        }
        s.receive(&to_s);
        while let Some(ev) = s.poll_event() {
            let auto = matches!(ev, Event::HandshakeRequest(_));
            se.push(owned(ev));
            if auto {
                s.accept(Accept::new()).unwrap();
            }
        }
        c.receive(&to_c);
        ce.extend(drain(c));
    }
    (ce, se)
}

fn request() -> ClientRequest {
    ClientRequest::new("example.com", "/chat").key(*b"0123456789abcdef")
}

#[test]
fn handshake_messages_and_close_from_the_client() {
    let mut c = Connection::client(&request(), Config::default());
    let mut s = Connection::server(Config::default());
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!(ce, vec![Ev::Open]);
    assert_eq!(se, vec![Ev::HandshakeRequest, Ev::Open]);
    assert_eq!((c.state(), s.state()), (State::Open, State::Open));

    c.send_text("hello").unwrap();
    s.send_binary(&[1, 2, 3]).unwrap();
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!(ce, vec![Ev::Binary(vec![1, 2, 3])]);
    assert_eq!(se, vec![Ev::Text("hello".into())]);

    c.close(1000, "done").unwrap();
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!(se, vec![Ev::Close(1000, "done".into())]);
    assert_eq!(ce, vec![Ev::Close(1000, "done".into())]);
    assert!(s.should_close_transport());
    c.receive_eof();
    assert!(c.should_close_transport());
}

#[test]
fn first_frame_in_the_same_packet_as_the_request_is_kept() {
    let mut c = Connection::client(&request(), Config::default());
    let mut s = Connection::server(Config::default());
    let mut head = take_output(&mut c);
    // The client's machine may only send after Open; build the frame with a second client.
    let mut other = Connection::from_upgraded(wsmachine::Role::Client, Config::default());
    other.send_text("early").unwrap();
    head.extend(take_output(&mut other));
    s.receive(&head);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open, Ev::Text("early".into())]);
}

#[test]
fn server_push_in_the_same_packet_as_the_101_is_kept() {
    let mut c = Connection::client(&request(), Config::default());
    let mut s = Connection::server(Config::default());
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    s.send_text("welcome").unwrap();
    let out = take_output(&mut s);
    let (events, _) = feed_bytewise(&mut c, &out);
    assert_eq!(events, vec![Ev::Open, Ev::Text("welcome".into())]);
}

#[test]
fn refused_origin_gets_403_and_the_transport_closes() {
    let policy = Arc::new(ServerPolicy::new().allow_origin("https://good.example"));
    let mut c = Connection::client(&request().origin("https://evil.example"), Config::default());
    let mut s = Connection::server_with_policy(Config::default(), policy);
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(403))]);
    assert!(s.should_close_transport());
    let out = take_output(&mut s);
    assert!(out.starts_with(b"HTTP/1.1 403 "));
    c.receive(&out);
    assert_eq!(drain(&mut c), vec![Ev::Rejected]);
    assert!(c.should_close_transport());
}

#[test]
fn application_rejection_is_surfaced_to_the_client_with_status_headers_and_body() {
    let mut c = Connection::client(&request(), Config::default());
    let mut s = Connection::server(Config::default());
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.reject(
        Response::new(302)
            .header("Location", "/elsewhere")
            .body(&b"moved"[..]),
    )
    .unwrap();
    assert!(s.should_close_transport());
    assert_eq!(
        s.accept(Accept::new()),
        Err(wsmachine::UsageError::WrongHandshakeStep)
    );
    c.receive(&take_output(&mut s));
    match c.poll_event() {
        Some(Event::Rejected(r)) => {
            assert_eq!(r.status(), 302);
            assert_eq!(r.header_value("location"), Some("/elsewhere"));
            assert_eq!(r.body_bytes(), b"moved");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn subprotocol_is_negotiated_end_to_end() {
    let policy = Arc::new(ServerPolicy::new().protocols(["v2.chat", "v1.chat"]));
    let mut c = Connection::client(
        &request().protocol("v1.chat").protocol("v2.chat"),
        Config::default(),
    );
    let mut s = Connection::server_with_policy(Config::default(), policy);
    pump(&mut c, &mut s);
    assert_eq!(c.negotiated().unwrap().protocol(), Some("v2.chat"));
    assert_eq!(s.negotiated().unwrap().protocol(), Some("v2.chat"));
}

#[test]
fn plain_http_get_is_served_when_enabled_and_400_otherwise() {
    let req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nAccept: text/html\r\n\r\n";
    let policy = Arc::new(ServerPolicy::new().plain_http(true));
    let mut s = Connection::server_with_policy(Config::default(), policy);
    s.receive(req);
    match s.poll_event() {
        Some(Event::HttpRequest(r)) => {
            assert_eq!(r.target(), "/");
            assert_eq!(r.header("accept"), Some("text/html"));
        }
        other => panic!("expected an HTTP request, got {other:?}"),
    }
    s.respond(Response::new(200).body(&b"<html></html>"[..]))
        .unwrap();
    assert!(s.should_close_transport());
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 200 "));

    let mut s = Connection::server(Config::default());
    s.receive(req);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(400))]);
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 400 "));
}

#[test]
fn invalid_101_fails_the_client() {
    let mut c = Connection::client(&request(), Config::default());
    take_output(&mut c);
    c.receive(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    );
    assert_eq!(drain(&mut c), vec![Ev::HandshakeFailed(None)]);
    assert!(c.should_close_transport());
    assert!(c.pending_output().is_empty());
}

#[test]
fn protocol_error_mid_conversation_keeps_earlier_messages() {
    let mut c = Connection::client(&request(), Config::default());
    let mut s = Connection::server(Config::default());
    pump(&mut c, &mut s);
    c.send_text("fine").unwrap();
    let mut wire = take_output(&mut c);
    wire.extend_from_slice(&[0x81, 0x01, b'x']); // unmasked: a client must mask
    s.receive(&wire);
    assert_eq!(
        drain(&mut s),
        vec![
            Ev::Text("fine".into()),
            Ev::Error(ProtocolError::UnmaskedFrame)
        ]
    );
    c.receive(&take_output(&mut s));
    assert_eq!(
        drain(&mut c),
        vec![Ev::Close(1002, "client frame not masked".into())]
    );
}

#[test]
fn eof_during_handshake_reports_1006() {
    let mut s = Connection::server(Config::default());
    s.receive(b"GET / HTTP/1.1\r\nHo");
    s.receive_eof();
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.should_close_transport());
}

#[test]
fn admission_refusal_is_a_complete_response_then_close() {
    use std::time::Instant;
    use wsmachine::admission::{Admission, AdmissionConfig};
    let mut table = Admission::new(AdmissionConfig::default().max_per_ip(1));
    let ip = "127.0.0.1".parse().unwrap();
    let now = Instant::now();
    let ticket = table.on_connect(ip, now).unwrap();
    let refusal = table.on_connect(ip, now).unwrap_err();
    let mut s = Connection::server_refusing(Config::default(), &refusal.response());
    let out = take_output(&mut s);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(text.contains("Retry-After: 5\r\n"), "{text}");
    assert!(s.should_close_transport());
    // Input to a refused connection is ignored.
    s.receive(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(drain(&mut s), vec![]);
    table.release(ticket);
    assert!(table.on_connect(ip, now).is_ok());
}
