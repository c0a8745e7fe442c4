//! The Engine.IO endpoint fed arbitrary requests: handshakes, polls and POSTs on the sids it
//! handed out (and on made-up ones), WebSockets opened, fed and dropped, time jumps, held polls
//! cancelled, messages sent by the application, and requests with arbitrary methods and
//! targets. Nothing may panic, the session count stays within its cap, and every answer is a
//! well-formed HTTP status.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use wsmachine::engineio::{
    EndpointConfig, EngineEvent, Endpoint, Reply, Request, RequestId, Sid, SocketId,
};

const MAX_SESSIONS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let config = EndpointConfig::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(4096)
        .max_sessions(MAX_SESSIONS)
        .max_queue(16, 8192);
    let mut ep = Endpoint::new(config);
    let mut now = Instant::now();
    let mut sids: Vec<Sid> = Vec::new();
    let mut held: Vec<RequestId> = Vec::new();
    let mut sockets: Vec<SocketId> = Vec::new();
    let mut input = data;
    let mut take = |n: usize| {
        let n = n.min(input.len());
        let (a, b) = input.split_at(n);
        input = b;
        a
    };
    for _ in 0..64 {
        let op = take(2);
        let [op, arg] = *op else {
            break;
        };
        let sid = |sids: &[Sid]| -> String {
            match sids.get(usize::from(arg) % (sids.len() + 1)) {
                Some(s) => s.as_str().to_owned(),
                None => "AAAAAAAAAAAAAAAAAAAA".to_owned(),
            }
        };
        match op % 9 {
            0 => {
                let req = Request::new("GET", "/engine.io/?EIO=4&transport=polling");
                answer(&mut held, ep.handle_request(&req, b"", now));
            }
            1 => {
                let target = format!("/engine.io/?EIO=4&transport=polling&sid={}", sid(&sids));
                answer(&mut held, ep.handle_request(&Request::new("GET", target), b"", now));
            }
            2 => {
                let target = format!("/engine.io/?EIO=4&transport=polling&sid={}", sid(&sids));
                let body = take(usize::from(arg) * 4).to_vec();
                answer(&mut held, ep.handle_request(&Request::new("POST", target), &body, now));
            }
            3 => {
                let target = if arg & 1 == 0 {
                    format!("/engine.io/?EIO=4&transport=websocket&sid={}", sid(&sids))
                } else {
                    "/engine.io/?EIO=4&transport=websocket".to_owned()
                };
                if let Ok(s) = ep.open_websocket(&Request::new("GET", target), now) {
                    sockets.push(s);
                }
            }
            4 => {
                if let Some(&s) = sockets.get(usize::from(arg) % sockets.len().max(1)) {
                    let text = String::from_utf8_lossy(take(usize::from(arg))).into_owned();
                    if arg & 1 == 0 {
                        ep.websocket_text(s, &text, now);
                    } else {
                        ep.websocket_binary(s, text.as_bytes(), now);
                    }
                }
            }
            5 => {
                if !sockets.is_empty() {
                    let s = sockets.remove(usize::from(arg) % sockets.len());
                    ep.websocket_closed(s, now);
                }
            }
            6 => {
                now += Duration::from_millis(u64::from(arg) * 8);
                ep.handle_timeout(now);
            }
            7 => {
                if !held.is_empty() {
                    let id = held.remove(usize::from(arg) % held.len());
                    ep.cancel_request(id, now);
                }
            }
            _ => {
                if let Some(s) = sids.get(usize::from(arg) % sids.len().max(1)) {
                    let _ = ep.send_text(s, "from the application");
                } else {
                    let raw = String::from_utf8_lossy(take(usize::from(arg % 32))).into_owned();
                    let method = if arg & 0x80 == 0 { "GET" } else { "PUT" };
                    answer(&mut held, ep.handle_request(&Request::new(method, raw), b"", now));
                }
            }
        }
        while let Some(ev) = ep.poll_event() {
            match ev {
                EngineEvent::Open { sid, .. } => sids.push(sid),
                EngineEvent::Closed { sid, .. } => sids.retain(|s| s != &sid),
                _ => {}
            }
        }
        while let Some((id, resp)) = ep.poll_response() {
            held.retain(|h| h != &id);
            check_status(resp.status());
        }
        while ep.poll_transmit().is_some() {}
        assert!(ep.session_count() <= MAX_SESSIONS, "{} sessions", ep.session_count());
    }
});

fn answer(held: &mut Vec<RequestId>, reply: Reply) {
    match reply {
        Reply::Respond(resp) => check_status(resp.status()),
        Reply::Held(id) => held.push(id),
    }
}

fn check_status(status: u16) {
    assert!((100..600).contains(&status), "status {status}");
}
