//! The Socket.IO packet decoder, and the server behind it, on arbitrary bytes.
//!
//! The bytes are one packet's text: decoding must never panic, and a decoded packet must
//! decode the same from its own encoding. Then the same bytes, as the body of a long-polling
//! POST, go to a server with a joined client: whatever they hold, the server answers and
//! reports without panicking, and a second client on the same server still works.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use wsmachine::engineio::{Reply, Request, Sid};
use wsmachine::socketio::{Event, Packet, Payload, Server, ServerConfig};

fn open(io: &mut Server, now: Instant) -> Sid {
    let req = Request::new("GET", "/socket.io/?EIO=4&transport=polling");
    let Reply::Respond(resp) = io.engine_mut().handle_request(&req, b"", now) else {
        panic!("handshake held")
    };
    Sid::parse(std::str::from_utf8(&resp.body_bytes()[9..29]).unwrap()).unwrap()
}

fn post(io: &mut Server, sid: &Sid, body: &[u8], now: Instant) {
    let req = Request::new(
        "POST",
        format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    );
    let _ = io.engine_mut().handle_request(&req, body, now);
    while let Some(e) = io.poll_event(now) {
        if let Event::Connect(req) = e {
            let _ = io.accept(&req);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(p) = Packet::decode(text, 10)
    {
        assert_eq!(Packet::decode(&p.encode(), 10).as_ref(), Ok(&p));
    }
    let mut io = Server::new(ServerConfig::default().max_attachments(4, 256));
    let now = Instant::now();
    let hostile = open(&mut io, now);
    let other = open(&mut io, now);
    post(&mut io, &hostile, b"40", now);
    post(&mut io, &other, b"40", now);
    post(&mut io, &hostile, data, now);
    assert!(io.engine().session_count() >= 1);
    let req = Request::new(
        "POST",
        format!("/socket.io/?EIO=4&transport=polling&sid={other}"),
    );
    let Reply::Respond(ok) = io.engine_mut().handle_request(&req, b"42[\"x\"]", now) else {
        panic!("POST not answered")
    };
    assert_eq!(ok.status(), 200);
    let mut seen = false;
    while let Some(e) = io.poll_event(now) {
        if let Event::Message { socket, .. } = e {
            seen = io.emit(&socket, "y", Payload::default()).is_ok();
        }
    }
    assert!(seen);
});
