//! The order of events when causes pile up between two polls.
//!
//! The driving loop documented in `lib.rs` feeds every input of a round (bytes, EOF, time)
//! before polling events. So a request can complete and a deadline pass, a request complete and
//! the transport end, or the peer's Close arrive and the close deadline pass, with no
//! `poll_event` in between. The machine must then report what happened in the order it
//! happened, with exactly one terminal event: bytes already read are reported, a deadline
//! reported after them does not erase them (the handshake deadline bounds the reading of the
//! head only), and the application's answer to a handshake that has already ended is refused.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use wsmachine::handshake::{Accept, ClientRequest, Response, ServerPolicy};
use wsmachine::{Config, Connection, State};

const S: Duration = Duration::from_secs(1);

fn request() -> ClientRequest {
    ClientRequest::new("example.com", "/chat").key(*b"0123456789abcdef")
}

/// The client's upgrade request, as a server receives it.
fn request_bytes() -> Vec<u8> {
    take_output(&mut Connection::client(&request(), Config::default()))
}

/// A valid 101 for [`request`], written by a server machine.
fn response_101() -> Vec<u8> {
    let mut s = Connection::server(Config::default());
    s.receive(&request_bytes());
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    take_output(&mut s)
}

fn config() -> Config {
    Config::default().handshake_timeout(Some(10 * S))
}

/// After the handshake failed, answering the request is a usage error that queues nothing.
fn answers_are_refused(s: &mut Connection) {
    let before = s.pending_output().to_vec();
    assert!(s.accept(Accept::new()).is_err(), "accept after the failure");
    assert!(
        s.reject(Response::new(403)).is_err(),
        "reject after the failure"
    );
    assert!(
        s.respond(Response::new(200)).is_err(),
        "respond after the failure"
    );
    assert_eq!(
        s.pending_output(),
        &before[..],
        "a refused call queued output"
    );
    assert_eq!(s.state(), State::Closed);
    assert_eq!(drain(s), vec![], "a refused call produced an event");
}

/// A server's request completes at t0 + 1 s; the application is told about it only at the next
/// poll, and by the time the driver reports the time again (t0 + 11 s) the 10 s handshake
/// deadline has passed. The loop of `lib.rs` then polls.
///
/// The deadline bounds the reading of the head (`Config::handshake_timeout`), and the head was
/// read in time: the request is reported, nothing else, and the application can accept it. No
/// 408 for a client that sent its request in time, no `Close { code: 1006 }`, no panic.
#[test]
fn request_then_handshake_deadline_before_poll_is_reported_and_accepted() {
    let t0 = Instant::now();
    let mut s = Connection::server(config());
    s.handle_timeout(t0);
    s.receive(&request_bytes());
    s.handle_timeout(t0 + S);
    s.handle_timeout(t0 + 11 * S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    assert_eq!(s.state(), State::Connecting);
    assert!(take_output(&mut s).is_empty(), "no 408");
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 101 "));
}

/// The same with the request and the late time in one round (read, `handle_timeout`, poll).
#[test]
fn request_and_late_time_in_one_round_report_the_request() {
    let t0 = Instant::now();
    let mut s = Connection::server(config());
    s.handle_timeout(t0);
    s.receive(&request_bytes());
    s.handle_timeout(t0 + 11 * S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
}

/// An ordinary HTTP request (a policy serving plain HTTP) read in time is reported and can be
/// answered with `respond`, whatever time is reported before the poll.
#[test]
fn plain_http_request_then_deadline_before_poll_is_reported_and_answered() {
    let t0 = Instant::now();
    let policy = Arc::new(ServerPolicy::new().plain_http(true));
    let mut s = Connection::server_with_policy(config(), policy);
    s.handle_timeout(t0);
    s.receive(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    s.handle_timeout(t0 + 11 * S);
    assert_eq!(drain(&mut s), vec![Ev::HttpRequest]);
    s.respond(Response::new(200)).unwrap();
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 200 "));
    assert!(s.should_close_transport());
}

/// While the application decides on a reported request, no deadline runs: the machine asks for
/// no time, and a late answer is taken.
#[test]
fn an_application_deciding_is_not_timed() {
    let t0 = Instant::now();
    let mut s = Connection::server(config());
    s.handle_timeout(t0);
    s.receive(&request_bytes());
    s.handle_timeout(t0 + S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t0 + 3600 * S);
    assert_eq!(drain(&mut s), vec![]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
}

/// The transport ends after the request completed and before the poll: the request is
/// reported, then the abnormal end (1006), once. The connection is closed, so the application
/// can no longer accept: no `Open` after the `Close`, no 101 written to a closed transport.
#[test]
fn request_then_eof_before_poll_reports_request_then_1006_and_refuses_accept() {
    let t0 = Instant::now();
    let mut s = Connection::server(config());
    s.handle_timeout(t0);
    s.receive(&request_bytes());
    s.receive_eof();
    s.handle_timeout(t0 + S);
    assert_eq!(
        drain(&mut s),
        vec![Ev::HandshakeRequest, Ev::Close(1006, String::new())]
    );
    assert!(s.should_close_transport());
    assert!(take_output(&mut s).is_empty());
    answers_are_refused(&mut s);
}

/// The client analogue: the 101 arrives before the deadline, and the time reported next is
/// past it. The 101 completed the client's handshake when it was read (a client has no
/// decision to wait for), so the deadline no longer applies: `Open`, and the connection stays
/// open.
#[test]
fn client_101_then_handshake_deadline_before_poll_opens() {
    let t0 = Instant::now();
    let mut c = Connection::client(&request(), config());
    take_output(&mut c);
    c.handle_timeout(t0);
    c.receive(&response_101());
    c.handle_timeout(t0 + 11 * S);
    assert_eq!(drain(&mut c), vec![Ev::Open]);
    assert_eq!(c.state(), State::Open);
    assert!(!c.should_close_transport());
    assert!(c.pending_output().is_empty());
    assert_eq!(c.poll_timeout(), None);
}

/// A client's rejection (a 302 instead of the 101) that arrives before the deadline is the one
/// terminal event; the deadline passing afterwards adds nothing.
#[test]
fn client_rejection_then_handshake_deadline_before_poll_is_one_rejection() {
    let t0 = Instant::now();
    let mut c = Connection::client(&request(), config());
    take_output(&mut c);
    c.handle_timeout(t0);
    c.receive(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n");
    c.handle_timeout(t0 + 11 * S);
    assert_eq!(drain(&mut c), vec![Ev::Rejected]);
    assert!(c.should_close_transport());
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    v.extend_from_slice(payload);
    v
}

/// A server that started the closing handshake, with its close deadline armed.
fn closing_server(t0: Instant) -> Connection {
    let mut s = Connection::from_upgraded(
        wsmachine::Role::Server,
        Config::default().close_timeout(Some(5 * S)),
    );
    s.handle_timeout(t0);
    s.close(1000, "").unwrap();
    s.handle_timeout(t0);
    take_output(&mut s);
    s
}

/// The closing handshake's analogue of the request and the handshake deadline: in one round
/// of the loop, the read brings a message and the peer's Close, and the time reported next is
/// past the close deadline. The bytes were read before the deadline was reported, so they are
/// reported first, in order: the message (data is still delivered while closing), then the
/// peer's Close, which completes the closing handshake. That is the terminal event; the
/// deadline then has nothing left to end, so no `Close { code: 1006 }`.
#[test]
fn peers_close_read_before_the_close_deadline_is_reported_instead_of_1006() {
    let t0 = Instant::now();
    let mut s = closing_server(t0);
    let mut wire = masked(0x81, b"late");
    wire.extend(masked(0x88, &[0x03, 0xe8]));
    s.receive(&wire);
    s.handle_timeout(t0 + 6 * S);
    assert_eq!(
        drain(&mut s),
        vec![Ev::Text("late".into()), Ev::Close(1000, String::new())]
    );
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
}

/// The same with the transport's EOF right after the Close: events for bytes already received
/// are still delivered (`receive_eof`), whatever deadline is reported before the poll.
#[test]
fn peers_close_then_eof_then_close_deadline_reports_the_peers_close() {
    let t0 = Instant::now();
    let mut s = closing_server(t0);
    let mut wire = masked(0x81, b"late");
    wire.extend(masked(0x88, &[0x03, 0xe8]));
    s.receive(&wire);
    s.receive_eof();
    s.handle_timeout(t0 + 6 * S);
    assert_eq!(
        drain(&mut s),
        vec![Ev::Text("late".into()), Ev::Close(1000, String::new())]
    );
    assert!(s.should_close_transport());
}
