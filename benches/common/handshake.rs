//! The server handshake measured by `benches/compare.rs` (criterion, beside tungstenite) and by
//! `benches/handshake.rs` (alternated with its floor in one process): the request, wsmachine's
//! handshake and the floor, in one place so that both measure the same code.

use std::hint::black_box;

use wsmachine::{Config, Connection, Event};

/// A browser's upgrade request, as Chrome sends it (cookies, User-Agent, languages and a
/// permessage-deflate offer).
pub const REQUEST: &[u8] = b"GET /chat/socket?room=lobby&v=2 HTTP/1.1\r\n\
Host: app.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://app.example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,de-DE;q=0.8,de;q=0.7\r\n\
Cookie: session_id=3f9a7c1e2b8d4a6f9e0c1b2a3d4e5f60; theme=dark; _ga=GA1.1.1234567890.1718000000\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// wsmachine's server handshake: the 101 length, or `None` if the request never reached
/// `Event::Open`.
pub fn wsm_handshake(req: &[u8]) -> Option<usize> {
    let mut conn = Connection::server(Config::default());
    conn.receive(req);
    let mut open = false;
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::HandshakeRequest(_) => conn.accept(Default::default()).ok()?,
            Event::Open(_) => open = true,
            _ => return None,
        }
    }
    let out = conn.pending_output();
    open.then_some(black_box(out).len())
}

fn header_is(v: &[u8], token: &str) -> bool {
    v.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// A lower bound: parse with httparse, check the upgrade headers, compute the accept key and
/// write the 101 into a reused buffer.
pub fn lower_bound_handshake(req: &[u8], out: &mut Vec<u8>) -> usize {
    use base64::Engine as _;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(_) = r.parse(req).expect("request parses") else {
        panic!("incomplete request");
    };
    assert_eq!(r.method, Some("GET"));
    let (mut key, mut upgrade, mut connection, mut version) = (None, false, false, false);
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("sec-websocket-key") {
            key = Some(h.value);
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = header_is(h.value, "websocket");
        } else if h.name.eq_ignore_ascii_case("connection") {
            connection = header_is(h.value, "upgrade");
        } else if h.name.eq_ignore_ascii_case("sec-websocket-version") {
            version = h.value == b"13";
        }
    }
    assert!(upgrade && connection && version);
    use sha1::Digest as _;
    let mut sha = sha1::Sha1::new();
    sha.update(key.expect("key"));
    sha.update(GUID);
    let mut accept = [0u8; 28];
    base64::engine::general_purpose::STANDARD
        .encode_slice(sha.finalize(), &mut accept)
        .expect("28 bytes");
    out.clear();
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(&accept);
    out.extend_from_slice(b"\r\n\r\n");
    black_box(&out[..]).len()
}
