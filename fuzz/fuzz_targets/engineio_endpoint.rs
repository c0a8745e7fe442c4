//! The Engine.IO endpoint fed arbitrary requests: handshakes, polls and POSTs on the sids it
//! handed out (and on made-up ones), WebSockets opened, fed and dropped, time jumps, held polls
//! cancelled, messages sent by the application, and requests with arbitrary methods and
//! targets. Nothing may panic, the session count stays within its cap, every held poll is
//! answered at most once (and never after it was cancelled), and every error response carries
//! the protocol's JSON body `{"code":N,"message":".."}` with a known code (the 404 off the
//! endpoint's path excepted).
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use wsmachine::engineio::{
    Endpoint, EndpointConfig, EngineEvent, Reply, Request, RequestId, Sid, SocketId,
};
use wsmachine::handshake::Response;

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
    // Held polls not yet answered nor cancelled; every poll handed out, to spot a reused id.
    let mut held: Vec<RequestId> = Vec::new();
    let mut seen: HashSet<RequestId> = HashSet::new();
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
                answer(&mut held, &mut seen, ep.handle_request(&req, b"", now));
            }
            1 => {
                let target = format!("/engine.io/?EIO=4&transport=polling&sid={}", sid(&sids));
                answer(
                    &mut held,
                    &mut seen,
                    ep.handle_request(&Request::new("GET", target), b"", now),
                );
            }
            2 => {
                let target = format!("/engine.io/?EIO=4&transport=polling&sid={}", sid(&sids));
                let body = take(usize::from(arg) * 4).to_vec();
                answer(
                    &mut held,
                    &mut seen,
                    ep.handle_request(&Request::new("POST", target), &body, now),
                );
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
                    answer(
                        &mut held,
                        &mut seen,
                        ep.handle_request(&Request::new(method, raw), b"", now),
                    );
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
            let at = held.iter().position(|h| h == &id);
            let at = at.unwrap_or_else(|| {
                panic!("{id:?} answered twice, after its cancel, or never held")
            });
            held.remove(at);
            check_response(&resp);
        }
        while ep.poll_transmit().is_some() {}
        assert!(
            ep.session_count() <= MAX_SESSIONS,
            "{} sessions",
            ep.session_count()
        );
    }
});

fn answer(held: &mut Vec<RequestId>, seen: &mut HashSet<RequestId>, reply: Reply) {
    match reply {
        Reply::Respond(resp) => check_response(&resp),
        Reply::Held(id) => {
            assert!(seen.insert(id), "request id {id:?} handed out twice");
            held.push(id);
        }
    }
}

/// A success, the endpoint's 404 off its path, or an error with the protocol's JSON body
/// whose code matches the status.
fn check_response(resp: &Response) {
    let status = resp.status();
    let body = std::str::from_utf8(resp.body_bytes()).expect("a UTF-8 body");
    match status {
        200 | 204 => {}
        404 => assert_eq!(body, "Not Found"),
        400 | 403 | 413 | 503 => {
            let rest = body
                .strip_prefix("{\"code\":")
                .unwrap_or_else(|| panic!("{status} without a code: {body:?}"));
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let code: u8 = rest[..digits]
                .parse()
                .unwrap_or_else(|_| panic!("bad code in {body:?}"));
            assert!(
                rest[digits..].starts_with(",\"message\":\"") && body.ends_with("\"}"),
                "{body:?}"
            );
            let expected: &[u8] = match status {
                403 => &[4],
                413 | 503 => &[3],
                _ => &[0, 1, 2, 3, 5],
            };
            assert!(expected.contains(&code), "{status} with code {code}");
        }
        _ => panic!("unexpected status {status}: {body:?}"),
    }
}
