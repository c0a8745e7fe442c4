//! The output bound (`Config::max_output_buffer`): data sends past it are refused with
//! `UsageError::OutputFull`, nothing is queued by a refusal, control frames always go out,
//! and writing the output makes room again.

use wsmachine::{Config, Connection, MessageKind, Role, UsageError};

fn server(limit: usize) -> Connection {
    Connection::from_upgraded(Role::Server, Config::default().max_output_buffer(limit))
}

#[test]
fn an_empty_output_takes_a_message_of_any_size() {
    let mut conn = server(100);
    conn.send_binary(&[1; 1000]).unwrap();
    assert_eq!(conn.queued_output(), 1000 + 4);
}

#[test]
fn a_send_past_the_bound_is_refused_and_queues_nothing() {
    let mut conn = server(100);
    conn.send_binary(&[1; 50]).unwrap();
    let queued = conn.queued_output();
    assert_eq!(queued, 52);
    assert_eq!(
        conn.send_binary(&[2; 49]),
        Err(UsageError::OutputFull { queued, limit: 100 })
    );
    assert_eq!(
        conn.send_text("x".repeat(49).as_str()),
        Err(UsageError::OutputFull { queued, limit: 100 })
    );
    assert_eq!(
        conn.send_fragment(MessageKind::Binary, &[3; 49], false),
        Err(UsageError::OutputFull { queued, limit: 100 })
    );
    assert_eq!(
        conn.send_uncompressed(MessageKind::Binary, &[3; 49]),
        Err(UsageError::OutputFull { queued, limit: 100 })
    );
    assert_eq!(conn.queued_output(), queued);
    // Up to the bound is taken.
    conn.send_binary(&[2; 48]).unwrap();
    assert_eq!(conn.queued_output(), 52 + 50);
}

#[test]
fn a_refused_fragment_leaves_the_message_where_it_was() {
    let mut conn = server(100);
    conn.send_fragment(MessageKind::Text, "é".as_bytes(), false)
        .unwrap();
    conn.send_binary(&[0; 0]).unwrap_err(); // a message is in progress
    let queued = conn.queued_output();
    assert!(matches!(
        conn.send_fragment(MessageKind::Text, &[b'a'; 200], true),
        Err(UsageError::OutputFull { .. })
    ));
    // Written out, the same piece goes, and continues the text message.
    conn.advance_output(queued);
    conn.send_fragment(MessageKind::Text, &[b'a'; 200], true)
        .unwrap();
    assert_eq!(conn.pending_output()[0], 0x80); // FIN + continuation
}

#[test]
fn control_frames_are_never_refused() {
    let mut conn = server(10);
    conn.send_binary(&[1; 100]).unwrap();
    conn.send_ping(b"p").unwrap();
    conn.send_pong(b"q").unwrap();
    conn.close(1000, "bye").unwrap();
    assert_eq!(conn.queued_output(), 102 + 3 + 3 + 7);
}

#[test]
fn writing_makes_room() {
    let mut conn = server(100);
    conn.send_binary(&[1; 90]).unwrap();
    assert!(conn.send_binary(&[1; 90]).is_err());
    conn.advance_output(50);
    assert_eq!(conn.queued_output(), 42);
    conn.send_binary(&[1; 50]).unwrap();
    assert_eq!(conn.queued_output(), 42 + 52);
}

#[test]
fn the_default_bound_is_16_mib() {
    assert_eq!(Config::default().max_output_buffer, 16 << 20);
    let mut conn = Connection::from_upgraded(Role::Server, Config::default());
    conn.send_binary(&vec![0; 10 << 20]).unwrap();
    conn.send_binary(&vec![0; 6 << 20]).unwrap_err();
    conn.send_binary(&vec![0; (6 << 20) - 20]).unwrap();
}

#[test]
fn unbuffered_payloads_do_not_count() {
    let mut conn = server(100);
    let payload = vec![0u8; 1000];
    conn.send_unbuffered(MessageKind::Binary, &payload, true)
        .unwrap();
    assert_eq!(conn.queued_output(), 4);
    conn.send_ping(b"").unwrap();
    assert_eq!(conn.queued_output(), 6);
}
