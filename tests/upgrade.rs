//! The `upgrade` module (feature `http`): `http::Request` upgrades checked like the machine's
//! own parser checks them, the 101 and the refusals as `http::Response`s, and the machine run
//! on upgraded I/O with the bytes read past the request.
#![cfg(feature = "http")]

use wsmachine::handshake::{
    Accept, HandshakeError, Negotiated, RequestError, Response, ServerPolicy,
};
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
    let mut conn = upgrade::upgraded(
        Role::Server,
        Config::default(),
        Negotiated::default(),
        &leftover,
    );
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
    let (response, negotiated) = upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
    let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    for (name, value) in response.headers() {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    server_io.write_all(&head).await.unwrap();
    // The machine, with the frame that came with the head.
    let conn = upgrade::upgraded(
        Role::Server,
        Config::default(),
        negotiated,
        &buf[head_len..n],
    );
    let mut ws = WebSocketStream::from_connection(server_io, conn);
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    ws.send(Message::text("hello")).await.unwrap();
    let mut answer = vec![0u8; head.len() + 7];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer[head.len()..], b"\x81\x05hello");
}

/// An RFC 8441 extended CONNECT as hyper hands it over: the authority in the URI, no `Host`,
/// no `Upgrade`, `Connection` or key; `:protocol` apart.
fn connect_request() -> http::request::Builder {
    http::Request::connect("https://example.com/chat?room=1")
        .version(http::Version::HTTP_2)
        .header("Sec-WebSocket-Version", "13")
}

#[test]
fn an_extended_connect_gets_a_200_without_a_key() {
    let request = connect_request()
        .header("Sec-WebSocket-Protocol", "v1, chat")
        .header("Origin", "https://example.com")
        .body(())
        .unwrap();
    let policy = ServerPolicy::default()
        .allow_origin("https://example.com")
        .protocols(["chat"]);
    let valid = upgrade::validate_connect(&request, Some("websocket"), &Config::default(), &policy)
        .unwrap();
    assert_eq!(valid.form(), upgrade::Form::ExtendedConnect);
    assert_eq!(valid.version(), http::Version::HTTP_2);
    assert_eq!(valid.method(), "CONNECT");
    assert_eq!(valid.target(), "/chat?room=1");
    assert_eq!(valid.host(), "example.com");
    assert_eq!(valid.key(), "");
    assert_eq!(valid.protocols(), ["v1", "chat"]);
    let (response, negotiated) =
        upgrade::accept_response(&valid, &Accept::new().header("Set-Cookie", "a=b"), &policy)
            .unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(negotiated.protocol(), Some("chat"));
    let h = response.headers();
    for absent in ["upgrade", "connection", "sec-websocket-accept"] {
        assert!(h.get(absent).is_none(), "{absent} in a 200 to a CONNECT");
    }
    assert_eq!(h["sec-websocket-protocol"], "chat");
    assert_eq!(h["set-cookie"], "a=b");
    // The parts are validated the same; a Host header stands in for the authority.
    let (parts, ()) = http::Request::connect("/chat")
        .version(http::Version::HTTP_3)
        .header("Host", "h3.example")
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap()
        .into_parts();
    let valid = upgrade::validate_connect_parts(
        &parts,
        Some("websocket"),
        &Config::default(),
        &ServerPolicy::default(),
    )
    .unwrap();
    assert_eq!(valid.host(), "h3.example");
    assert_eq!(valid.version(), http::Version::HTTP_3);
}

#[test]
fn extended_connect_refusals_carry_their_status() {
    let config = Config::default();
    let policy = ServerPolicy::default().allow_origin("https://good.example");
    let good = || connect_request().header("Origin", "https://good.example");
    let cases: Vec<(http::Request<()>, Option<&str>, u16)> = vec![
        // A GET routed here, a plain CONNECT, another protocol: 400.
        (
            http::Request::get("https://example.com/")
                .version(http::Version::HTTP_2)
                .header("Sec-WebSocket-Version", "13")
                .body(())
                .unwrap(),
            Some("websocket"),
            400,
        ),
        (good().body(()).unwrap(), None, 400),
        (good().body(()).unwrap(), Some("webtransport"), 400),
        // RFC 8441 is for HTTP/2 (and RFC 9220 HTTP/3), not HTTP/1.1.
        (
            good().version(http::Version::HTTP_11).body(()).unwrap(),
            Some("websocket"),
            400,
        ),
        // No authority and no Host.
        (
            http::Request::connect("/chat")
                .version(http::Version::HTTP_2)
                .header("Sec-WebSocket-Version", "13")
                .body(())
                .unwrap(),
            Some("websocket"),
            400,
        ),
        // The version is required over HTTP/2 too.
        (
            http::Request::connect("https://example.com/")
                .version(http::Version::HTTP_2)
                .header("Origin", "https://good.example")
                .body(())
                .unwrap(),
            Some("websocket"),
            426,
        ),
        (
            good()
                .header("Sec-WebSocket-Extensions", "permessage-deflate; =")
                .body(())
                .unwrap(),
            Some("websocket"),
            400,
        ),
        (
            connect_request()
                .header("Origin", "https://evil.example")
                .body(())
                .unwrap(),
            Some("websocket"),
            403,
        ),
    ];
    for (request, protocol, status) in cases {
        let e = upgrade::validate_connect(&request, protocol, &config, &policy).unwrap_err();
        assert_eq!(e.status(), Some(status), "{request:?} {protocol:?}: {e}");
        let answer = upgrade::error_response(&e);
        assert_eq!(answer.status(), status);
        if status == 426 {
            assert_eq!(answer.headers()["sec-websocket-version"], "13");
        }
    }
    // The head limits apply as for HTTP/1.1.
    let e = upgrade::validate_connect(
        &good().header("a", "1").header("b", "2").body(()).unwrap(),
        Some("websocket"),
        &Config::default().max_headers(3),
        &policy,
    )
    .unwrap_err();
    assert_eq!(e.status(), Some(431));
    // And an HTTP/2 request given to the HTTP/1.1 check is refused, not misread.
    let e = upgrade::validate(&good().body(()).unwrap(), &config, &policy).unwrap_err();
    assert_eq!(e.status(), Some(400));
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use wsmachine::deflate::DeflateConfig;
    use wsmachine::handshake::{ClientRequest, ResponseProgress};

    fn deflating() -> Config {
        Config::default().deflate(Some(DeflateConfig::default()))
    }

    /// A wsmachine client's request, as the framework's http::Request.
    fn client_request(client: &mut wsmachine::Connection) -> http::Request<()> {
        let bytes = client.pending_output().to_vec();
        client.advance_output(bytes.len());
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut parsed = httparse::Request::new(&mut headers);
        assert!(parsed.parse(&bytes).unwrap().is_complete());
        let mut request = http::Request::builder()
            .method(parsed.method.unwrap())
            .uri(parsed.path.unwrap());
        for h in parsed.headers.iter() {
            request = request.header(h.name, h.value);
        }
        request.body(()).unwrap()
    }

    fn as_head(response: &http::Response<()>) -> Vec<u8> {
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for (name, value) in response.headers() {
            head.extend_from_slice(format!("{name}: ").as_bytes());
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    #[test]
    fn the_upgraded_connection_compresses() {
        let mut client = wsmachine::Connection::client(&ClientRequest::new("x", "/"), deflating());
        let request = client_request(&mut client);
        let policy = ServerPolicy::default();
        let valid = upgrade::validate(&request, &deflating(), &policy).unwrap();
        let (response, negotiated) =
            upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
        let offered = &response.headers()["sec-websocket-extensions"];
        assert!(offered.to_str().unwrap().starts_with("permessage-deflate"));
        assert_eq!(negotiated.extensions()[0].name, "permessage-deflate");
        assert_eq!(negotiated.rsv_bits(), 0b100);
        client.receive(&as_head(&response));
        assert!(matches!(client.poll_event(), Some(Event::Open(_))));
        let mut server = upgrade::upgraded(Role::Server, deflating(), negotiated, &[]);
        assert_eq!(server.negotiated().unwrap().rsv_bits(), 0b100);

        let text = "the same words again and again; ".repeat(64);
        client.send_text(&text).unwrap();
        let frame = client.pending_output().to_vec();
        client.advance_output(frame.len());
        assert_eq!(frame[0] & 0x40, 0x40, "the client compressed (RSV1)");
        assert!(frame.len() < text.len() / 4);
        server.receive(&frame);
        match server.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t, text),
            other => panic!("{other:?}"),
        }
        server.send_text(&text).unwrap();
        let frame = server.pending_output().to_vec();
        server.advance_output(frame.len());
        assert_eq!(frame[0] & 0x40, 0x40, "the server compressed (RSV1)");
        assert!(frame.len() < text.len() / 4);
        client.receive(&frame);
        match client.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t, text),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_extended_connect_negotiates_it_too() {
        let request = connect_request()
            .header(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits",
            )
            .body(())
            .unwrap();
        let policy = ServerPolicy::default();
        let valid =
            upgrade::validate_connect(&request, Some("websocket"), &deflating(), &policy).unwrap();
        let (response, negotiated) =
            upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
        assert_eq!(response.status(), 200);
        // The answer a connection's own handshake gives to the same offer.
        let (answer, _) =
            wsmachine::deflate::accept_offers(&DeflateConfig::default(), valid.extensions())
                .unwrap();
        assert_eq!(
            response.headers()["sec-websocket-extensions"],
            answer.to_string().as_str()
        );
        assert_eq!(negotiated.rsv_bits(), 0b100);
    }

    #[test]
    fn a_config_without_it_negotiates_nothing() {
        let mut client = wsmachine::Connection::client(&ClientRequest::new("x", "/"), deflating());
        let request = client_request(&mut client);
        let policy = ServerPolicy::default();
        let valid = upgrade::validate(&request, &Config::default(), &policy).unwrap();
        let (response, negotiated) =
            upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
        assert!(response.headers().get("sec-websocket-extensions").is_none());
        assert!(negotiated.extensions().is_empty());
        // The client sees a 101 without the extension and does not compress.
        client.receive(&as_head(&response));
        assert!(matches!(client.poll_event(), Some(Event::Open(_))));
        assert!(client.negotiated().unwrap().extensions().is_empty());
        client.send_text(&"compressible ".repeat(50)).unwrap();
        assert_eq!(client.pending_output()[0] & 0x40, 0, "no RSV1");
    }

    #[test]
    fn a_negotiated_deflate_without_the_config_refuses_compressed_frames() {
        let mut client = wsmachine::Connection::client(&ClientRequest::new("x", "/"), deflating());
        let request = client_request(&mut client);
        let policy = ServerPolicy::default();
        let valid = upgrade::validate(&request, &deflating(), &policy).unwrap();
        let (response, negotiated) =
            upgrade::accept_response(&valid, &Accept::new(), &policy).unwrap();
        client.receive(&as_head(&response));
        assert!(matches!(client.poll_event(), Some(Event::Open(_))));
        // The machine is started with a config that has permessage-deflate off.
        let mut server = upgrade::upgraded(Role::Server, Config::default(), negotiated, &[]);
        client.send_text(&"compressible ".repeat(50)).unwrap();
        let frame = client.pending_output().to_vec();
        server.receive(&frame);
        match server.poll_event() {
            Some(Event::ProtocolError(e)) => assert_eq!(e.close_code(), 1002),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_client_upgraded_by_a_framework_inflates() {
        // The client's handshake done by other means: the machine is given the 101's
        // extensions and inflates what the server compresses.
        let mut to_server = Vec::new();
        let mut hs = wsmachine::handshake::ClientHandshake::new(
            &ClientRequest::new("x", "/")
                .extension(wsmachine::deflate::offer(&DeflateConfig::default()).unwrap()),
            &deflating(),
            &mut to_server,
        );
        let mut server = wsmachine::Connection::server(deflating());
        server.receive(&to_server);
        assert!(matches!(
            server.poll_event(),
            Some(Event::HandshakeRequest(_))
        ));
        server.accept(Accept::new()).unwrap();
        let head = server.pending_output().to_vec();
        server.advance_output(head.len());
        let ResponseProgress::Accepted { negotiated, .. } = hs.receive(&head) else {
            panic!("101 refused");
        };
        let mut client = upgrade::upgraded(Role::Client, deflating(), negotiated, &[]);
        while server.poll_event().is_some() {}
        let text = "over and over ".repeat(100);
        server.send_text(&text).unwrap();
        let frame = server.pending_output().to_vec();
        assert_eq!(frame[0] & 0x40, 0x40);
        client.receive(&frame);
        match client.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t, text),
            other => panic!("{other:?}"),
        }
    }
}
