//! The Engine.IO endpoint driven by hand, on a virtual clock: handshakes, heartbeat, the
//! upgrade step by step, limits and hostile input; proptests of the packet codec and of the
//! long-polling payload decoder against the payload rule.
#![cfg(feature = "engineio")]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use wsmachine::engineio::{
    CloseReason, Endpoint, EndpointConfig, EngineError, EngineEvent, Frame, Message, OriginPolicy,
    Packet, PayloadError, Reply, Request, SendError, Sid, SocketId, TransportKind, decode_payload,
    encode_payload,
};
use wsmachine::handshake::Response;

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(200);

fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig::default()
            .ping_interval(INTERVAL)
            .ping_timeout(TIMEOUT)
            .max_payload(1000),
    )
}

fn target(sid: &Sid) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

fn body(resp: &Response) -> &str {
    std::str::from_utf8(resp.body_bytes()).unwrap()
}

fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Respond(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Open a long-polling session; its sid and the open packet's text.
fn open_polling(ep: &mut Endpoint, now: Instant) -> (Sid, String) {
    let req = Request::new("GET", "/engine.io/?EIO=4&transport=polling");
    let resp = respond(ep.handle_request(&req, b"", now));
    assert_eq!(resp.status(), 200);
    let Some(EngineEvent::Open { sid, transport }) = ep.poll_event() else {
        panic!("no open event")
    };
    assert_eq!(transport, TransportKind::Polling);
    (sid, body(&resp).to_owned())
}

fn get(ep: &mut Endpoint, sid: &Sid, now: Instant) -> Reply {
    ep.handle_request(&Request::new("GET", target(sid)), b"", now)
}

fn post(ep: &mut Endpoint, sid: &Sid, data: &[u8], now: Instant) -> Response {
    respond(ep.handle_request(&Request::new("POST", target(sid)), data, now))
}

fn error_code(resp: &Response) -> String {
    body(resp).to_owned()
}

fn transmits(ep: &mut Endpoint) -> Vec<(SocketId, Frame)> {
    std::iter::from_fn(|| ep.poll_transmit()).collect()
}

fn events(ep: &mut Endpoint) -> Vec<EngineEvent> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

#[test]
fn open_packet_carries_the_parameters() {
    let mut ep = endpoint();
    let (sid, open) = open_polling(&mut ep, Instant::now());
    assert_eq!(
        open,
        format!(
            "0{{\"sid\":\"{sid}\",\"upgrades\":[\"websocket\"],\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000}}"
        )
    );
}

#[test]
fn bad_handshakes_get_the_protocol_errors() {
    let mut ep = endpoint();
    let now = Instant::now();
    let cases = [
        ("GET", "/engine.io/?transport=polling", 400, 5),
        ("GET", "/engine.io/?EIO=3&transport=polling", 400, 5),
        ("GET", "/engine.io/?EIO=4", 400, 0),
        ("GET", "/engine.io/?EIO=4&transport=abc", 400, 0),
        ("POST", "/engine.io/?EIO=4&transport=polling", 400, 2),
        ("PUT", "/engine.io/?EIO=4&transport=polling", 400, 2),
        (
            "GET",
            "/engine.io/?EIO=4&transport=polling&sid=nope",
            400,
            1,
        ),
        (
            "GET",
            "/engine.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
            400,
            1,
        ),
    ];
    for (method, t, status, code) in cases {
        let resp = respond(ep.handle_request(&Request::new(method, t), b"", now));
        assert_eq!(resp.status(), status, "{method} {t}");
        assert!(
            error_code(&resp).starts_with(&format!("{{\"code\":{code},")),
            "{method} {t}: {}",
            error_code(&resp)
        );
        assert_eq!(resp.header_value("content-type"), Some("application/json"));
    }
    let other = respond(ep.handle_request(&Request::new("GET", "/other"), b"", now));
    assert_eq!(other.status(), 404);
    assert_eq!(ep.session_count(), 0);
}

#[test]
fn polling_messages_in_both_directions() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    let ok = post(&mut ep, &sid, b"4hello\x1ebAQIDBA==", now);
    assert_eq!((ok.status(), body(&ok)), (200, "ok"));
    assert_eq!(
        events(&mut ep),
        [
            EngineEvent::Message {
                sid,
                message: Message::Text("hello".into())
            },
            EngineEvent::Message {
                sid,
                message: Message::Binary(vec![1, 2, 3, 4])
            },
        ]
    );
    // A poll with nothing queued is held, and completed by the next send.
    let Reply::Held(id) = get(&mut ep, &sid, now) else {
        panic!("poll not held")
    };
    ep.send_text(&sid, "a").unwrap();
    let (done, resp) = ep.poll_response().unwrap();
    assert_eq!((done, body(&resp)), (id, "4a"));
    // Packets queued between polls go out together.
    ep.send_text(&sid, "b").unwrap();
    ep.send_binary(&sid, &[9]).unwrap();
    assert_eq!(body(&respond(get(&mut ep, &sid, now))), "4b\x1ebCQ==");
}

#[test]
fn heartbeat_on_polling_follows_the_virtual_clock() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (sid, _) = open_polling(&mut ep, t0);
    assert_eq!(ep.poll_timeout(), Some(t0 + INTERVAL));
    let Reply::Held(id) = get(&mut ep, &sid, t0) else {
        panic!()
    };
    ep.handle_timeout(t0 + INTERVAL - Duration::from_millis(1));
    assert!(ep.poll_response().is_none());
    ep.handle_timeout(t0 + INTERVAL);
    let (done, resp) = ep.poll_response().unwrap();
    assert_eq!((done, body(&resp)), (id, "2"));
    assert_eq!(ep.poll_timeout(), Some(t0 + INTERVAL + TIMEOUT));
    // The pong moves the next ping to a full interval after it.
    let t1 = t0 + INTERVAL + Duration::from_millis(50);
    post(&mut ep, &sid, b"3", t1);
    assert_eq!(ep.poll_timeout(), Some(t1 + INTERVAL));
    // No pong this time: the session ends exactly at the ping's time plus the timeout.
    ep.handle_timeout(t1 + INTERVAL);
    let dead = t1 + INTERVAL + TIMEOUT;
    ep.handle_timeout(dead - Duration::from_millis(1));
    assert_eq!(ep.session_count(), 1);
    ep.handle_timeout(dead);
    assert_eq!(
        events(&mut ep),
        [EngineEvent::Closed {
            sid,
            reason: CloseReason::PingTimeout
        }]
    );
    assert_eq!(ep.poll_timeout(), None);
    assert_eq!(respond(get(&mut ep, &sid, dead)).status(), 400);
}

#[test]
fn a_late_request_sees_the_timeout_first() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (sid, _) = open_polling(&mut ep, t0);
    // Nobody called handle_timeout; the request itself brings the time.
    let resp = respond(get(&mut ep, &sid, t0 + INTERVAL + TIMEOUT));
    assert_eq!(resp.status(), 400);
}

#[test]
fn heartbeat_on_websocket() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let ws = Request::new("GET", "/engine.io/?EIO=4&transport=websocket");
    let socket = ep.open_websocket(&ws, t0).unwrap();
    let out = transmits(&mut ep);
    assert_eq!(out.len(), 1);
    let Frame::Text(open) = &out[0].1 else {
        panic!()
    };
    assert!(open.starts_with("0{") && open.contains("\"upgrades\":[]"));
    assert!(matches!(
        ep.poll_event(),
        Some(EngineEvent::Open {
            transport: TransportKind::WebSocket,
            ..
        })
    ));
    for round in 0..3u32 {
        let at = t0 + INTERVAL * (round + 1);
        ep.handle_timeout(at);
        assert_eq!(transmits(&mut ep), [(socket, Frame::Text("2".into()))]);
        ep.websocket_text(socket, "3", at);
    }
    ep.handle_timeout(t0 + INTERVAL * 4);
    ep.handle_timeout(t0 + INTERVAL * 4 + TIMEOUT);
    assert_eq!(
        transmits(&mut ep),
        [
            (socket, Frame::Text("2".into())),
            (socket, Frame::Close(1000, ""))
        ]
    );
    assert!(matches!(
        ep.poll_event(),
        Some(EngineEvent::Closed {
            reason: CloseReason::PingTimeout,
            ..
        })
    ));
}

#[test]
fn websocket_messages_and_bad_packets() {
    let mut ep = endpoint();
    let now = Instant::now();
    let ws = Request::new("GET", "/engine.io/?EIO=4&transport=websocket");
    let socket = ep.open_websocket(&ws, now).unwrap();
    let sid = match ep.poll_event() {
        Some(EngineEvent::Open { sid, .. }) => sid,
        other => panic!("{other:?}"),
    };
    transmits(&mut ep);
    ep.websocket_binary(socket, &[1, 2], now);
    ep.send_binary(&sid, &[1, 2]).unwrap();
    ep.send_text(&sid, "x").unwrap();
    assert_eq!(
        transmits(&mut ep),
        [
            (socket, Frame::Binary(vec![1, 2])),
            (socket, Frame::Text("4x".into()))
        ]
    );
    ep.websocket_text(socket, "abc", now);
    assert_eq!(transmits(&mut ep), [(socket, Frame::Close(1008, ""))]);
    let evs = events(&mut ep);
    assert_eq!(
        evs.last(),
        Some(&EngineEvent::Closed {
            sid,
            reason: CloseReason::ParseError
        })
    );
    // Refusals of a WebSocket carry a close code.
    let bad = Request::new("GET", "/engine.io/?EIO=abc&transport=websocket");
    assert_eq!(
        ep.open_websocket(&bad, now),
        Err(EngineError::UnsupportedProtocolVersion)
    );
    let bad = Request::new("GET", "/engine.io/?EIO=4");
    assert_eq!(
        ep.open_websocket(&bad, now),
        Err(EngineError::UnknownTransport)
    );
    assert_eq!(EngineError::UnknownTransport.close_code(), 1008);
}

#[test]
fn upgrade_step_by_step() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    let Reply::Held(held) = get(&mut ep, &sid, now) else {
        panic!()
    };
    let ws = Request::new(
        "GET",
        format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"),
    );
    let socket = ep.open_websocket(&ws, now).unwrap();
    // No open packet on an upgrading socket; the session is still on polling.
    assert!(transmits(&mut ep).is_empty());
    assert_eq!(ep.transport(&sid), Some(TransportKind::Polling));
    // A second WebSocket while one is probing is refused.
    assert_eq!(ep.open_websocket(&ws, now), Err(EngineError::BadRequest));

    ep.websocket_text(socket, "2probe", now);
    assert_eq!(transmits(&mut ep), [(socket, Frame::Text("3probe".into()))]);
    let (done, resp) = ep.poll_response().unwrap();
    assert_eq!((done, body(&resp)), (held, "6"));
    // Between the probe and the upgrade, a poll is answered with a noop at once, and
    // messages wait for the new transport.
    ep.send_text(&sid, "queued").unwrap();
    assert_eq!(body(&respond(get(&mut ep, &sid, now))), "6");

    ep.websocket_text(socket, "5", now);
    assert_eq!(ep.poll_event(), Some(EngineEvent::Upgraded { sid }));
    assert_eq!(
        transmits(&mut ep),
        [(socket, Frame::Text("4queued".into()))]
    );
    assert_eq!(ep.transport(&sid), Some(TransportKind::WebSocket));

    // After the upgrade: polling with the sid is refused, and so is another WebSocket.
    let resp = respond(get(&mut ep, &sid, now));
    assert_eq!(resp.status(), 400);
    assert_eq!(body(&resp), "{\"code\":3,\"message\":\"Bad request\"}");
    assert_eq!(post(&mut ep, &sid, b"4x", now).status(), 400);
    assert_eq!(ep.open_websocket(&ws, now), Err(EngineError::BadRequest));
    ep.websocket_text(socket, "4hello", now);
    assert_eq!(
        ep.poll_event(),
        Some(EngineEvent::Message {
            sid,
            message: Message::Text("hello".into())
        })
    );
    // The end of the WebSocket ends the session.
    ep.websocket_closed(socket, now);
    assert_eq!(
        ep.poll_event(),
        Some(EngineEvent::Closed {
            sid,
            reason: CloseReason::TransportClose
        })
    );
}

#[test]
fn failed_upgrades_leave_the_session_on_polling() {
    let mut ep = endpoint();
    let t0 = Instant::now();
    let (sid, _) = open_polling(&mut ep, t0);
    let ws = Request::new(
        "GET",
        format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"),
    );
    // Something else than the probe closes the attempt.
    let socket = ep.open_websocket(&ws, t0).unwrap();
    ep.websocket_text(socket, "4early", t0);
    assert_eq!(
        transmits(&mut ep),
        [(socket, Frame::Close(1008, "invalid upgrade"))]
    );
    assert!(ep.poll_event().is_none());
    // An upgrade before the probe, likewise.
    let socket = ep.open_websocket(&ws, t0).unwrap();
    ep.websocket_text(socket, "5", t0);
    assert_eq!(transmits(&mut ep).len(), 1);
    // A socket that goes away.
    let socket = ep.open_websocket(&ws, t0).unwrap();
    ep.websocket_closed(socket, t0);
    // And one that never completes, within the upgrade timeout.
    let config = EndpointConfig::default()
        .ping_interval(Duration::from_secs(60))
        .upgrade_timeout(Duration::from_secs(1));
    let mut ep2 = Endpoint::new(config);
    let (sid2, _) = open_polling(&mut ep2, t0);
    let ws2 = Request::new(
        "GET",
        format!("/engine.io/?EIO=4&transport=websocket&sid={sid2}"),
    );
    let s2 = ep2.open_websocket(&ws2, t0).unwrap();
    assert_eq!(ep2.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    ep2.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(
        transmits(&mut ep2),
        [(s2, Frame::Close(1008, "upgrade timeout"))]
    );
    assert_eq!(ep2.transport(&sid2), Some(TransportKind::Polling));
    assert_eq!(ep.transport(&sid), Some(TransportKind::Polling));
    assert_eq!(body(&post(&mut ep, &sid, b"4still", t0)), "ok");
}

#[test]
fn duplicate_polls_close_the_session() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    let Reply::Held(first) = get(&mut ep, &sid, now) else {
        panic!()
    };
    assert_eq!(respond(get(&mut ep, &sid, now)).status(), 400);
    let (done, resp) = ep.poll_response().unwrap();
    assert_eq!((done, body(&resp)), (first, "1"));
    assert_eq!(
        ep.poll_event(),
        Some(EngineEvent::Closed {
            sid,
            reason: CloseReason::DuplicateRequest
        })
    );
}

#[test]
fn client_close_releases_the_poll_with_a_noop() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    let Reply::Held(held) = get(&mut ep, &sid, now) else {
        panic!()
    };
    assert_eq!(body(&post(&mut ep, &sid, b"1", now)), "ok");
    let (done, resp) = ep.poll_response().unwrap();
    assert_eq!((done, body(&resp)), (held, "6"));
    assert_eq!(respond(get(&mut ep, &sid, now)).status(), 400);
}

#[test]
fn server_close_goes_out_on_the_next_poll() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    ep.send_text(&sid, "bye").unwrap();
    ep.close(&sid).unwrap();
    assert_eq!(ep.send_text(&sid, "late"), Err(SendError::UnknownSid));
    assert_eq!(body(&respond(get(&mut ep, &sid, now))), "4bye\x1e1");
    assert_eq!(
        ep.poll_event(),
        Some(EngineEvent::Closed {
            sid,
            reason: CloseReason::ServerClose
        })
    );
    assert_eq!(ep.session_count(), 0);
}

#[test]
fn hostile_bodies() {
    let mut ep = endpoint();
    let now = Instant::now();
    for (bad, status) in [
        (&b"abc"[..], 400),
        (b"", 400),
        (b"4ok\x1e", 400),
        (b"4\xff\xfe", 400),
        (b"b!!!!", 400),
        (b"0{}", 200),
    ] {
        let (sid, _) = open_polling(&mut ep, now);
        let resp = post(&mut ep, &sid, bad, now);
        assert_eq!(resp.status(), status, "{bad:?}");
        // Every one of them ends the session (an open packet from a client included).
        assert_eq!(ep.session_count(), 0, "{bad:?}");
        events(&mut ep);
    }
    // Over max_payload.
    let (sid, _) = open_polling(&mut ep, now);
    let resp = post(&mut ep, &sid, &[b'4'; 1200], now);
    assert_eq!(resp.status(), 413);
    assert_eq!(
        events(&mut ep).last(),
        Some(&EngineEvent::Closed {
            sid,
            reason: CloseReason::PayloadTooLarge
        })
    );
    // A WebSocket message over max_payload.
    let ws = Request::new("GET", "/engine.io/?EIO=4&transport=websocket");
    let socket = ep.open_websocket(&ws, now).unwrap();
    transmits(&mut ep);
    ep.websocket_binary(socket, &[0; 1001], now);
    assert_eq!(transmits(&mut ep), [(socket, Frame::Close(1009, ""))]);
}

#[test]
fn limits_on_sessions_and_queues() {
    let mut ep = Endpoint::new(EndpointConfig::default().max_sessions(2).max_queue(3, 100));
    let now = Instant::now();
    let (sid, _) = open_polling(&mut ep, now);
    open_polling(&mut ep, now);
    let req = Request::new("GET", "/engine.io/?EIO=4&transport=polling");
    let full = respond(ep.handle_request(&req, b"", now));
    assert_eq!(full.status(), 503);
    let ws = Request::new("GET", "/engine.io/?EIO=4&transport=websocket");
    assert_eq!(
        ep.open_websocket(&ws, now),
        Err(EngineError::TooManySessions)
    );
    for _ in 0..3 {
        ep.send_text(&sid, "x").unwrap();
    }
    assert_eq!(ep.send_text(&sid, "x"), Err(SendError::QueueFull));
    respond(get(&mut ep, &sid, now));
    assert_eq!(
        ep.send_text(&sid, &"y".repeat(100)),
        Err(SendError::QueueFull)
    );
    ep.send_text(&sid, "y").unwrap();
}

#[test]
fn cors_follows_the_origin_policy() {
    let config =
        EndpointConfig::default().origins(OriginPolicy::List(vec!["https://app.example".into()]));
    let mut ep = Endpoint::new(config);
    let now = Instant::now();
    let open = "/engine.io/?EIO=4&transport=polling";
    let allowed = Request::new("GET", open).header("Origin", "https://app.example");
    let resp = respond(ep.handle_request(&allowed, b"", now));
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.header_value("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        resp.header_value("access-control-allow-credentials"),
        Some("true")
    );
    let preflight = Request::new("OPTIONS", open).header("Origin", "https://app.example");
    let resp = respond(ep.handle_request(&preflight, b"", now));
    assert_eq!(resp.status(), 204);
    assert!(resp.header_value("access-control-allow-methods").is_some());
    let other = Request::new("GET", open).header("Origin", "https://evil.example");
    let resp = respond(ep.handle_request(&other, b"", now));
    assert_eq!(resp.status(), 403);
    assert_eq!(body(&resp), "{\"code\":4,\"message\":\"Forbidden\"}");
    let ws = Request::new("GET", "/engine.io/?EIO=4&transport=websocket")
        .header("Origin", "https://evil.example");
    assert_eq!(ep.open_websocket(&ws, now), Err(EngineError::Forbidden));
    // The default policy refuses other hosts and accepts its own.
    let mut same = Endpoint::new(EndpointConfig::default());
    let own = Request::new("GET", open)
        .header("Host", "app.example")
        .header("Origin", "https://app.example");
    assert_eq!(respond(same.handle_request(&own, b"", now)).status(), 200);
    let cross = Request::new("GET", open)
        .header("Host", "app.example")
        .header("Origin", "https://evil.example");
    assert_eq!(respond(same.handle_request(&cross, b"", now)).status(), 403);
}

fn packet() -> impl Strategy<Value = Packet> {
    // Text without the record separator (the protocol assumes it never occurs in data).
    let text = "[^\u{1e}]{0,12}";
    prop_oneof![
        text.prop_map(Packet::Open),
        Just(Packet::Close),
        text.prop_map(Packet::Ping),
        text.prop_map(Packet::Pong),
        text.prop_map(Packet::Message),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Packet::Binary),
        Just(Packet::Upgrade),
        Just(Packet::Noop),
    ]
}

/// The payload rule stated record by record: the records whose separator lies within the
/// limit are decoded in order, the first invalid one reported; then a body over the limit is
/// refused; else its last record is decoded too.
fn decode_reference(body: &[u8], limit: usize) -> Result<Vec<Packet>, PayloadError> {
    let records: Vec<&[u8]> = body.split(|&b| b == 0x1e).collect();
    let mut end = 0;
    let mut packets = Vec::new();
    for (i, r) in records.iter().enumerate() {
        end += r.len();
        let last = i + 1 == records.len();
        if last && body.len() > limit || !last && end >= limit {
            return Err(PayloadError::TooLarge);
        }
        packets.push(Packet::decode_bytes(r).map_err(PayloadError::Packet)?);
        end += 1;
    }
    Ok(packets)
}

proptest! {
    #[test]
    fn packets_round_trip(p in packet()) {
        let text = p.to_text();
        prop_assert_eq!(text.len(), p.encoded_len());
        prop_assert_eq!(Packet::decode(&text), Ok(p));
    }

    #[test]
    fn payloads_round_trip(packets in proptest::collection::vec(packet(), 1..8)) {
        let mut body = String::new();
        encode_payload(&packets, &mut body);
        prop_assert_eq!(decode_payload(body.as_bytes(), usize::MAX), Ok(packets));
    }

    #[test]
    fn arbitrary_bodies_decode_by_the_payload_rule(
        body in proptest::collection::vec(
            prop_oneof![Just(0x1eu8), Just(b'4'), Just(b'b'), any::<u8>()], 0..64),
        limit in 0usize..80,
    ) {
        prop_assert_eq!(decode_payload(&body, limit), decode_reference(&body, limit));
    }

    #[test]
    fn arbitrary_requests_never_panic(
        method in prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            Just("OPTIONS".to_owned()),
            "[A-Z]{0,6}",
        ],
        query in "[a-zA-Z0-9=&%_-]{0,40}",
        data in proptest::collection::vec(any::<u8>(), 0..64),
        texts in proptest::collection::vec(".{0,16}", 0..6),
    ) {
        let mut ep = endpoint();
        let now = Instant::now();
        let (sid, _) = open_polling(&mut ep, now);
        let t = format!("/engine.io/?{query}");
        let _ = ep.handle_request(&Request::new(method.as_str(), t.as_str()), &data, now);
        let _ = ep.handle_request(&Request::new(method.as_str(), format!("{}&{query}", target(&sid))), &data, now);
        let ws = Request::new("GET", format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"));
        if let Ok(socket) = ep.open_websocket(&ws, now) {
            for t in &texts {
                ep.websocket_text(socket, t, now);
            }
            ep.websocket_binary(socket, &data, now);
        }
        ep.handle_timeout(now + Duration::from_secs(5));
        while ep.poll_event().is_some() || ep.poll_transmit().is_some() || ep.poll_response().is_some() {}
        prop_assert_eq!(ep.session_count(), 0);
    }
}
