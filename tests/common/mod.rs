//! Helpers shared by the integration tests: owned copies of events and a two-peer harness.
#![allow(dead_code)]

use wsmachine::{Connection, Event, ProtocolError};

/// An owned copy of an [`Event`], for comparing transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    HandshakeRequest,
    HttpRequest,
    HandshakeFailed(Option<u16>),
    Rejected,
    Open,
    Text(String),
    Binary(Vec<u8>),
    Data {
        data: Vec<u8>,
        text: bool,
        finished: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(ProtocolError),
}

pub fn owned(ev: Event<'_>) -> Ev {
    match ev {
        Event::HandshakeRequest(_) => Ev::HandshakeRequest,
        Event::HttpRequest(_) => Ev::HttpRequest,
        Event::HandshakeFailed(e) => Ev::HandshakeFailed(e.status()),
        Event::Rejected(_) => Ev::Rejected,
        Event::Open(_) => Ev::Open,
        Event::Text(t) => Ev::Text(t.to_owned()),
        Event::Binary(b) => Ev::Binary(b.to_vec()),
        Event::Data {
            data,
            text,
            message_finished,
        } => Ev::Data {
            data: data.to_vec(),
            text,
            finished: message_finished,
        },
        Event::Ping(p) => Ev::Ping(p.to_vec()),
        Event::Pong(p) => Ev::Pong(p.to_vec()),
        Event::Close { code, reason } => Ev::Close(code, reason.to_owned()),
        Event::ProtocolError(e) => Ev::Error(e),
        _ => panic!("unknown event"),
    }
}

/// Poll every event the connection has.
pub fn drain(conn: &mut Connection) -> Vec<Ev> {
    let mut v = Vec::new();
    while let Some(ev) = conn.poll_event() {
        v.push(owned(ev));
    }
    v
}

/// Take all pending output.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let out = conn.pending_output().to_vec();
    conn.advance_output(out.len());
    out
}

/// Feed `input` in pieces cut at `cuts` (positions, any order, out-of-range ignored), polling
/// events after every piece. Returns the events and all output produced.
pub fn feed_split(conn: &mut Connection, input: &[u8], cuts: &[usize]) -> (Vec<Ev>, Vec<u8>) {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c < input.len()).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut events = Vec::new();
    let mut output = Vec::new();
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(input.len())) {
        conn.receive(&input[start..end]);
        events.extend(drain(conn));
        output.extend(take_output(conn));
        start = end;
    }
    (events, output)
}

/// Feed `input` one byte at a time.
pub fn feed_bytewise(conn: &mut Connection, input: &[u8]) -> (Vec<Ev>, Vec<u8>) {
    let cuts: Vec<usize> = (1..input.len()).collect();
    feed_split(conn, input, &cuts)
}
