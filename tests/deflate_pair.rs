//! permessage-deflate between two machines: negotiated in the opening handshake, then every
//! message through the extension stage both ways (RFC 7692).
#![cfg(feature = "deflate")]

mod common;

use common::*;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::{Accept, ClientRequest, HandshakeError, ResponseError};
use wsmachine::{Config, Connection, Delivery, Event, MessageKind, State};

fn request() -> ClientRequest {
    ClientRequest::new("example.com", "/chat").key(*b"0123456789abcdef")
}

fn deflating(d: DeflateConfig) -> Config {
    Config::default().deflate(Some(d))
}

/// Open a client and a server; return them with the bytes each wrote for the handshake.
fn open(client: Config, server: Config) -> (Connection, Connection) {
    let mut c = Connection::client(&request(), client);
    let mut s = Connection::server(server);
    s.receive(&take_output(&mut c));
    assert_eq!(drain(&mut s), vec![Ev::HandshakeRequest]);
    s.accept(Accept::new()).unwrap();
    assert_eq!(drain(&mut s), vec![Ev::Open]);
    c.receive(&take_output(&mut s));
    assert_eq!(drain(&mut c), vec![Ev::Open]);
    (c, s)
}

fn json(n: usize) -> String {
    let mut s = String::from("[");
    for i in 0..n {
        s.push_str(&format!(
            "{{\"id\":{i},\"name\":\"user{i}\",\"active\":true,\"score\":{}}},",
            i * 7
        ));
    }
    s.push(']');
    s
}

#[test]
fn negotiated_when_both_sides_want_it() {
    let (c, s) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()),
    );
    for side in [&c, &s] {
        let ext = &side.negotiated().unwrap().extensions()[0];
        assert_eq!(ext.name, "permessage-deflate");
        assert_eq!(ext.rsv_bits, 0b100);
    }
}

#[test]
fn not_negotiated_when_one_side_does_not_want_it() {
    for (client, server) in [
        (deflating(DeflateConfig::default()), Config::default()),
        (Config::default(), deflating(DeflateConfig::default())),
        (
            deflating(DeflateConfig::default()),
            deflating(DeflateConfig::default().enabled(false)),
        ),
    ] {
        let (mut c, mut s) = open(client, server);
        assert!(c.negotiated().unwrap().extensions().is_empty());
        assert!(s.negotiated().unwrap().extensions().is_empty());
        c.send_text(&json(20)).unwrap();
        let wire = take_output(&mut c);
        assert_eq!(wire[0], 0x81, "no RSV1 without the extension");
        s.receive(&wire);
        assert_eq!(drain(&mut s), vec![Ev::Text(json(20))]);
    }
}

#[test]
fn messages_are_compressed_both_ways_in_every_setting() {
    let settings = [
        DeflateConfig::default(),
        DeflateConfig::default().no_context_takeover(true),
        DeflateConfig::default().peer_no_context_takeover(true),
        DeflateConfig::default().window_bits(8).peer_window_bits(8),
        DeflateConfig::default()
            .window_bits(15)
            .level(9)
            .mem_level(9),
    ];
    for d in settings {
        for delivery in [Delivery::Whole, Delivery::Streaming] {
            let (mut c, mut s) = open(deflating(d), deflating(d).delivery(delivery));
            for round in 0..3 {
                let text = json(50 + round);
                c.send_text(&text).unwrap();
                let wire = take_output(&mut c);
                assert_eq!(wire[0], 0xC1, "{d:?}: FIN, RSV1, text");
                // A 256-byte window compresses with run-lengths only (no back-references
                // further than one byte): smaller, not half.
                let most = if d.window_bits == 8 {
                    text.len()
                } else {
                    text.len() / 2
                };
                assert!(wire.len() < most, "{d:?}: {} bytes", wire.len());
                s.receive(&wire);
                let got = drain(&mut s);
                let mut received = Vec::new();
                for ev in got {
                    match ev {
                        Ev::Text(t) => received.extend_from_slice(t.as_bytes()),
                        Ev::Data { data, .. } => received.extend_from_slice(&data),
                        other => panic!("{other:?}"),
                    }
                }
                assert_eq!(
                    received,
                    text.as_bytes(),
                    "{d:?} {delivery:?} round {round}"
                );
                // And back, from the server.
                s.send_binary(text.as_bytes()).unwrap();
                c.receive(&take_output(&mut s));
                assert_eq!(drain(&mut c), vec![Ev::Binary(text.clone().into_bytes())]);
            }
        }
    }
}

#[test]
fn a_message_sent_in_pieces_is_compressed_as_one() {
    let (mut c, mut s) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()),
    );
    let text = json(40);
    let (a, b) = text.as_bytes().split_at(1000);
    c.send_fragment(MessageKind::Text, a, false).unwrap();
    c.send_ping(b"between").unwrap();
    c.send_fragment(MessageKind::Text, b, true).unwrap();
    let wire = take_output(&mut c);
    assert_eq!(wire[0], 0x41, "RSV1 on the first frame");
    for cut in [1, 7, 100, wire.len() / 2, wire.len() - 1] {
        let (_, mut s2) = open(
            deflating(DeflateConfig::default()),
            deflating(DeflateConfig::default()),
        );
        s2.receive(&wire[..cut]);
        let mut got = drain(&mut s2);
        s2.receive(&wire[cut..]);
        got.extend(drain(&mut s2));
        assert_eq!(
            got,
            vec![Ev::Ping(b"between".to_vec()), Ev::Text(text.clone())],
            "cut {cut}"
        );
    }
    s.receive(&wire);
    assert_eq!(drain(&mut s).last(), Some(&Ev::Text(text)));
}

#[test]
fn a_frame_that_inflates_past_the_limit_fails_with_1009() {
    let big = "a".repeat(200_000);
    let (mut c, _) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()),
    );
    c.send_text(&big).unwrap();
    let wire = take_output(&mut c);
    assert!(wire.len() < 2_000, "{} bytes on the wire", wire.len());
    let (_, mut s) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()).max_message_size(100_000),
    );
    s.receive(&wire);
    let got = drain(&mut s);
    assert!(
        matches!(
            got.last(),
            Some(Ev::Error(wsmachine::ProtocolError::MessageTooLarge { .. }))
        ),
        "{got:?}"
    );
    let out = take_output(&mut s);
    assert_eq!(&out[2..4], &[0x03, 0xf1], "Close 1009");
    assert_eq!(s.state(), State::Closed);
}

#[test]
fn a_client_refuses_a_response_with_a_window_size_out_of_range() {
    let mut c = Connection::client(&request(), deflating(DeflateConfig::default()));
    let req = take_output(&mut c);
    let key_line = String::from_utf8_lossy(&req).to_string();
    assert!(key_line.contains("permessage-deflate"), "{key_line}");
    // A server reads the request for its key; the 101 is written by hand, with
    // server_max_window_bits below the 8 to 15 RFC 7692 allows.
    let mut s = Connection::server(Config::default());
    s.receive(&req);
    let Some(Event::HandshakeRequest(r)) = s.poll_event() else {
        panic!()
    };
    let accept = wsmachine::handshake::accept_key(r.key().as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n"
    );
    c.receive(response.as_bytes());
    let got = c.poll_event();
    assert!(
        matches!(
            got,
            Some(Event::HandshakeFailed(HandshakeError::Response(
                ResponseError::ExtensionParams(_)
            )))
        ),
        "{got:?}"
    );
    assert!(c.poll_event().is_none());
    assert!(c.should_close_transport());
}

#[test]
fn a_message_can_be_sent_uncompressed_on_a_compressing_connection() {
    let (mut c, mut s) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()),
    );
    let secret = json(20);
    c.send_uncompressed(MessageKind::Text, secret.as_bytes())
        .unwrap();
    let wire = take_output(&mut c);
    assert_eq!(wire[0], 0x81, "no RSV1: sent as it is");
    assert!(wire.len() > secret.len());
    s.receive(&wire);
    assert_eq!(drain(&mut s), vec![Ev::Text(secret.clone())]);
    // The next compressed message is unaffected.
    c.send_text(&secret).unwrap();
    let wire = take_output(&mut c);
    assert_eq!(wire[0], 0xC1);
    s.receive(&wire);
    assert_eq!(drain(&mut s), vec![Ev::Text(secret)]);
    assert_eq!(
        c.send_uncompressed(MessageKind::Text, &[0xff]),
        Err(wsmachine::UsageError::InvalidUtf8)
    );
}

#[test]
fn a_compressed_message_is_streamed_once_it_decodes_past_the_threshold() {
    let (mut c, mut s) = open(
        deflating(DeflateConfig::default()),
        deflating(DeflateConfig::default()).delivery(Delivery::StreamAbove(1000)),
    );
    let small = json(5);
    let large = json(400);
    assert!(
        small.len() < 1000 && large.len() > 20_000,
        "{} {}",
        small.len(),
        large.len()
    );
    c.send_text(&small).unwrap();
    c.send_text(&large).unwrap();
    c.send_text(&small).unwrap();
    s.receive(&take_output(&mut c));
    let got = drain(&mut s);
    assert_eq!(got.first(), Some(&Ev::Text(small.clone())));
    assert_eq!(got.last(), Some(&Ev::Text(small)));
    let mut streamed = Vec::new();
    for ev in &got[1..got.len() - 1] {
        let Ev::Data {
            data, text: true, ..
        } = ev
        else {
            panic!("{ev:?}")
        };
        streamed.extend_from_slice(data);
    }
    assert!(got.len() > 3, "the large message in pieces");
    assert_eq!(streamed, large.as_bytes());
}
