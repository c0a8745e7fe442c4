//! The `upgrade` module (feature `http`): `http::Request` upgrades checked like the machine's
//! own parser checks them, the 101 and the refusals as `http::Response`s, and the machine run
//! on upgraded I/O with the bytes read past the request.
#![cfg(feature = "http")]

use wsmachine::handshake::{Accept, HandshakeError, RequestError, Response, ServerPolicy};
use wsmachine::{Config, Event, Role, State, upgrade};

fn upgrade_request() -> http::request::Builder {
    http::Request::get("/chat?room=1")
        .header("Host", "example.com")
        .header("Upgrade", "websocket")
        .header("Connection", "keep-alive, Upgrade")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("Sec-WebSocket-Version", "13")
}

fn refused(request: http::Request<()>, config: &Config, policy: &ServerPolicy) -> HandshakeError {
    upgrade::validate(&request, config, policy).unwrap_err()
}

#[test]
fn a_valid_request_gets_its_101() {
    let request = upgrade_request()
        .header("Sec-WebSocket-Protocol", "v1, chat")
        .header("Origin", "https://example.com")
        .body(())
        .unwrap();
    let policy = ServerPolicy::default()
        .allow_origin("https://example.com")
        .protocols(["chat"]);
    let valid = upgrade::validate(&request, &Config::default(), &policy).unwrap();
    assert_eq!(valid.target(), "/chat?room=1");
    assert_eq!(valid.host(), "example.com");
    assert_eq!(valid.protocols(), ["v1", "chat"]);
    let (response, negotiated) =
        upgrade::accept_response(&valid, &Accept::new().header("Set-Cookie", "a=b"), &policy)
            .unwrap();
    assert_eq!(negotiated.protocol(), Some("chat"));
    assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    let h = response.headers();
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["connection"], "Upgrade");
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(h["sec-websocket-protocol"], "chat");
    assert_eq!(h["set-cookie"], "a=b");
}

#[test]
fn parts_are_validated_the_same() {
    let (parts, ()) = upgrade_request().body(()).unwrap().into_parts();
    let valid =
        upgrade::validate_parts(&parts, &Config::default(), &ServerPolicy::default()).unwrap();
    assert_eq!(valid.key(), "dGhlIHNhbXBsZSBub25jZQ==");
}

#[test]
fn invalid_requests_get_the_parsers_statuses() {
    let config = Config::default();
    let policy = ServerPolicy::default();
    let cases: Vec<(http::Request<()>, u16)> = vec![
        (
            http::Request::post("/")
                .header("Host", "x")
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("Sec-WebSocket-Version", "13")
                .body(())
                .unwrap(),
            405,
        ),
        (
            upgrade_request()
                .header("Sec-WebSocket-Key", "c2hvcnQ=")
                .body(())
                .unwrap(),
            400,
        ),
        (
            http::Request::get("/")
                .header("Host", "x")
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("Sec-WebSocket-Version", "12")
                .body(())
                .unwrap(),
            426,
        ),
        (
            http::Request::get("/")
                .header("Host", "x")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("Sec-WebSocket-Version", "13")
                .body(())
                .unwrap(),
            400,
        ),
        (
            upgrade_request()
                .version(http::Version::HTTP_10)
                .body(())
                .unwrap(),
            400,
        ),
    ];
    for (request, status) in cases {
        let e = refused(request, &config, &policy);
        assert_eq!(e.status(), Some(status), "{e:?}");
        let answer = upgrade::error_response(&e);
        assert_eq!(answer.status().as_u16(), status);
        if status == 405 {
            assert_eq!(answer.headers()["allow"], "GET");
        }
        if status == 426 {
            assert_eq!(answer.headers()["sec-websocket-version"], "13");
        }
    }
}

#[test]
fn the_policy_and_the_limits_apply() {
    let policy = ServerPolicy::default().allow_origin("https://good.example");
    let e = refused(
        upgrade_request()
            .header("Origin", "https://evil.example")
            .body(())
            .unwrap(),
        &Config::default(),
        &policy,
    );
    assert!(matches!(
        e,
        HandshakeError::Request(RequestError::OriginRefused(_))
    ));
    assert_eq!(upgrade::error_response(&e).status(), 403);
    let e = refused(
        upgrade_request().body(()).unwrap(),
        &Config::default().max_headers(3),
        &ServerPolicy::default(),
    );
    assert_eq!(e.status(), Some(431));
}

#[test]
fn an_application_refusal_converts() {
    let answer = upgrade::response(
        &Response::new(302)
            .header("Location", "/login")
            .body("moved"),
    );
    assert_eq!(answer.status(), 302);
    assert_eq!(answer.headers()["location"], "/login");
    assert_eq!(answer.body(), b"moved");
}

#[test]
fn the_machine_takes_the_bytes_read_past_the_request() {
    // A masked text frame "hi" (key 0) the framework read along with the request.
    let leftover = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
    let mut conn = upgrade::upgraded(Role::Server, Config::default(), &leftover);
    assert_eq!(conn.state(), State::Open);
    assert!(matches!(conn.poll_event(), Some(Event::Text("hi"))));
}

/// A framework's upgrade, by hand: the request head read from the transport, checked, the 101
/// written, and the stream handed to the tokio adapter with what was read past the head.
#[cfg(feature = "tokio")]
#[tokio::test]
async fn the_tokio_adapter_runs_on_the_upgraded_io() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wsmachine::tokio::{Message, WebSocketStream};

    let (mut client, mut server_io) = tokio::io::duplex(4096);
    client
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\
              \x81\x82\0\0\0\0hi",
        )
        .await
        .unwrap();
    // The framework's side: parse the head into an http::Request.
    let mut buf = vec![0u8; 4096];
    let n = server_io.read(&mut buf).await.unwrap();
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = parsed.parse(&buf[..n]).unwrap() else {
        panic!("partial head");
    };
    let mut request = http::Request::builder()
        .method(parsed.method.unwrap())
        .uri(parsed.path.unwrap());
    for h in parsed.headers.iter() {
        request = request.header(h.name, h.value);
    }
    let request = request.body(()).unwrap();
    let policy = ServerPolicy::default();
    let valid = upgrade::validate(&request, &Config::default(), &policy).unwrap();
    let (response, _) = upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    for (name, value) in response.headers() {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    server_io.write_all(&head).await.unwrap();
    // The machine, with the frame that came with the head.
    let conn = upgrade::upgraded(Role::Server, Config::default(), &buf[head_len..n]);
    let mut ws = WebSocketStream::from_connection(server_io, conn);
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.send(Message::text("hello")).await.unwrap();
    let mut answer = vec![0u8; head.len() + 7];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer[head.len()..], b"\x81\x05hello");
}
