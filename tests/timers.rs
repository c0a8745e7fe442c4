//! Deadlines on a virtual clock: time enters only through `handle_timeout(now)`.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Role, State, Timestamp};

const S: Duration = Duration::from_secs(1);

fn masked_text(t: &[u8]) -> Vec<u8> {
    let mut v = vec![0x81, 0x80 | t.len() as u8, 0, 0, 0, 0];
    v.extend_from_slice(t);
    v
}

#[test]
fn stalled_request_gets_408_and_close() {
    let t0 = Instant::now();
    let mut s = Connection::server(Config::default().handshake_timeout(Some(10 * S)));
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 10 * S));
    s.receive(b"GET /chat HTTP/1.1\r\nHost: x\r\n");
    s.handle_timeout(t0 + 9 * S);
    assert_eq!(drain(&mut s), vec![]);
    assert!(s.pending_output().is_empty());
    s.handle_timeout(t0 + 10 * S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(408))]);
    assert!(take_output(&mut s).starts_with(b"HTTP/1.1 408 "));
    assert!(s.should_close_transport());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn timestamps_of_the_callers_own_scale_drive_the_same_deadlines() {
    // A tick counter's scale, as a target without std reports it: no Instant involved.
    let t0 = Timestamp::from_millis(42);
    let mut s = Connection::server(Config::default().handshake_timeout(Some(10 * S)));
    s.handle_timeout(t0);
    assert_eq!(s.poll_deadline(), Some(t0 + 10 * S));
    s.receive(b"GET /chat HTTP/1.1\r\nHost: x\r\n");
    s.handle_timeout(t0 + 10 * S - Duration::from_nanos(1));
    assert_eq!(drain(&mut s), vec![]);
    // Earlier than a time already reported: taken as that one, nothing fires.
    s.handle_timeout(Timestamp::ZERO);
    assert_eq!(drain(&mut s), vec![]);
    s.handle_timeout(t0 + 10 * S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(408))]);
    assert_eq!(s.poll_deadline(), None);
}

#[test]
fn instants_and_their_timestamps_name_the_same_deadlines() {
    let t0 = Instant::now();
    let mut s = Connection::server(Config::default().handshake_timeout(Some(10 * S)));
    s.handle_timeout(Timestamp::from(t0));
    assert_eq!(s.poll_timeout(), Some(t0 + 10 * S));
    assert_eq!(s.poll_deadline(), Some(Timestamp::from(t0 + 10 * S)));
    assert_eq!(
        s.poll_deadline().and_then(Timestamp::to_instant),
        s.poll_timeout()
    );
}

#[test]
fn client_handshake_deadline() {
    let t0 = Instant::now();
    let mut c = Connection::client(
        &ClientRequest::new("h", "/"),
        Config::default().handshake_timeout(Some(3 * S)),
    );
    c.handle_timeout(t0);
    c.handle_timeout(t0 + 3 * S);
    assert_eq!(drain(&mut c), vec![Ev::HandshakeFailed(None)]);
    assert!(c.should_close_transport());
}

#[test]
fn a_machine_never_told_the_time_runs_no_timers() {
    let s = Connection::server(Config::default());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn close_deadline_closes_the_transport_when_the_peer_never_answers() {
    let t0 = Instant::now();
    let mut s =
        Connection::from_upgraded(Role::Server, Config::default().close_timeout(Some(5 * S)));
    s.handle_timeout(t0);
    s.close(1000, "").unwrap();
    // Not armed yet: ask to be called now.
    assert!(s.poll_timeout().unwrap() <= t0);
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 5 * S));
    s.handle_timeout(t0 + 4 * S);
    assert_eq!(s.state(), State::Closing);
    s.handle_timeout(t0 + 5 * S);
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.should_close_transport());
}

#[test]
fn client_gives_up_waiting_for_the_servers_eof() {
    let t0 = Instant::now();
    let mut c =
        Connection::from_upgraded(Role::Client, Config::default().close_timeout(Some(2 * S)));
    c.handle_timeout(t0);
    c.receive(&[0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(drain(&mut c), vec![Ev::Close(1000, String::new())]);
    assert!(!c.should_close_transport());
    c.handle_timeout(t0 + S);
    assert!(!c.should_close_transport());
    c.handle_timeout(t0 + 3 * S);
    assert!(c.should_close_transport());
    // Already closed: no second Close event.
    assert_eq!(drain(&mut c), vec![]);
}

#[test]
fn keepalive_pings_after_idle_input_and_fails_without_answer() {
    let t0 = Instant::now();
    let mut s =
        Connection::from_upgraded(Role::Server, Config::default().keepalive(30 * S, 10 * S));
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 30 * S));
    // Input at t0+20 pushes the ping back.
    s.receive(&masked_text(b"hi"));
    drain(&mut s);
    s.handle_timeout(t0 + 20 * S);
    assert_eq!(s.poll_timeout(), Some(t0 + 50 * S));
    s.handle_timeout(t0 + 50 * S);
    assert_eq!(take_output(&mut s), vec![0x89, 0x00]);
    assert_eq!(s.poll_timeout(), Some(t0 + 60 * S));
    // The pong arrives: the connection lives on.
    s.receive(&[0x8a, 0x80, 0, 0, 0, 0]);
    assert_eq!(drain(&mut s), vec![Ev::Pong(vec![])]);
    s.handle_timeout(t0 + 55 * S);
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.poll_timeout(), Some(t0 + 85 * S));
    // Next ping goes unanswered.
    s.handle_timeout(t0 + 85 * S);
    assert_eq!(take_output(&mut s), vec![0x89, 0x00]);
    s.handle_timeout(t0 + 95 * S);
    assert_eq!(drain(&mut s), vec![Ev::Close(1006, String::new())]);
    assert!(s.should_close_transport());
}

#[test]
fn idle_timeout_starts_the_closing_handshake_with_1001() {
    let t0 = Instant::now();
    let mut s =
        Connection::from_upgraded(Role::Server, Config::default().idle_timeout(Some(60 * S)));
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + 60 * S));
    s.handle_timeout(t0 + 60 * S);
    assert_eq!(s.state(), State::Closing);
    let out = take_output(&mut s);
    assert_eq!(&out[..4], &[0x88, 2 + 12, 0x03, 0xe9]);
}

#[test]
fn accepted_connection_has_no_handshake_deadline() {
    let t0 = Instant::now();
    let mut c = Connection::client(&ClientRequest::new("h", "/"), Config::default());
    let mut s = Connection::server(Config::default());
    s.handle_timeout(t0);
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    s.handle_timeout(t0 + 100 * S);
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    assert_eq!(s.state(), State::Open);
    assert_eq!(s.poll_timeout(), None);
}

/// Frames received before a keep-alive deadline passed are delivered before the 1006.
#[test]
fn frames_received_before_a_deadline_are_delivered_first() {
    let t0 = Instant::now();
    let mut s = Connection::from_upgraded(Role::Server, Config::default().keepalive(10 * S, 5 * S));
    s.handle_timeout(t0);
    s.receive(&masked_text(b"early"));
    s.handle_timeout(t0 + S);
    // Never polled: the message stays buffered while the keep-alive runs its course.
    s.handle_timeout(t0 + 11 * S);
    assert!(
        take_output(&mut s).starts_with(&[0x89, 0x00]),
        "keep-alive Ping"
    );
    s.handle_timeout(t0 + 16 * S);
    assert_eq!(
        drain(&mut s),
        vec![Ev::Text("early".into()), Ev::Close(1006, String::new())]
    );
    assert!(s.should_close_transport());
}

/// The peer's Close received before the closing deadline passed ends the connection cleanly.
#[test]
fn a_close_received_before_the_close_deadline_is_a_clean_close() {
    let t0 = Instant::now();
    let mut s =
        Connection::from_upgraded(Role::Server, Config::default().close_timeout(Some(5 * S)));
    s.handle_timeout(t0);
    s.close(1000, "").unwrap();
    s.handle_timeout(t0);
    s.receive(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    s.handle_timeout(t0 + 6 * S);
    assert_eq!(drain(&mut s), vec![Ev::Close(1000, String::new())]);
    assert_eq!(s.state(), State::Closed);
    assert!(s.should_close_transport());
}

/// A time earlier than one already reported fires nothing early and does not panic.
#[test]
fn time_going_backwards_fires_nothing_early() {
    let t0 = Instant::now() + 100 * S;
    let mut s = Connection::server(Config::default().handshake_timeout(Some(10 * S)));
    s.handle_timeout(t0);
    s.handle_timeout(t0 - 50 * S);
    s.handle_timeout(t0 + 9 * S);
    assert_eq!(drain(&mut s), vec![]);
    s.handle_timeout(t0 + 10 * S);
    assert_eq!(drain(&mut s), vec![Ev::HandshakeFailed(Some(408))]);
}
