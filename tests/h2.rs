//! WebSocket over HTTP/2 (RFC 8441), end to end in memory: a hyper 1.x HTTP/2 server with
//! the extended CONNECT enabled, answering through the examples' hyper glue
//! (`wsmachine::upgrade::validate_connect`, a 200, the machine on the stream), and an h2
//! client that opens the stream with `:protocol websocket` and runs a client machine on it,
//! sans-IO: the stream's DATA frames in, the machine's output out.
#![cfg(all(feature = "tokio", feature = "http"))]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wsmachine::handshake::ServerPolicy;
use wsmachine::tokio::{CloseFrame, Message};
use wsmachine::{Config, Connection, Event, MessageKind, Role};

#[path = "../examples/common/hyper_upgrade.rs"]
mod hyper_upgrade;

/// Every wait of these tests is bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

/// The server's WebSocket: echo data, close with 4001 when told "close please".
async fn serve(mut ws: hyper_upgrade::HyperWebSocket) {
    while let Some(Ok(msg)) = ws.recv().await {
        if msg == Message::text("close please") {
            let _ = ws.close(Some(CloseFrame::new(4001, "bye"))).await;
        } else if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

fn handle(request: hyper::Request<Incoming>, config: Config) -> hyper::Response<Full<Bytes>> {
    let response = if hyper_upgrade::wants_websocket(&request) {
        hyper_upgrade::upgrade(request, config, &ServerPolicy::default(), serve)
    } else {
        let mut not_found = hyper::Response::new(Vec::new());
        *not_found.status_mut() = hyper::StatusCode::NOT_FOUND;
        not_found
    };
    response.map(|body| Full::new(Bytes::from(body)))
}

/// A hyper HTTP/2 server on one end of an in-memory pipe, an h2 client on the other, ready
/// once the server's SETTINGS allowed the extended CONNECT.
async fn connect(config: Config) -> h2::client::SendRequest<Bytes> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let service =
            service_fn(move |request| async move { Ok::<_, Infallible>(handle(request, config)) });
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .enable_connect_protocol()
            .serve_connection(TokioIo::new(server_io), service)
            .await;
    });
    ready_client(client_io).await
}

/// An h2 client on `io`, once the server's SETTINGS allowed the extended CONNECT.
async fn ready_client<T>(io: T) -> h2::client::SendRequest<Bytes>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    // The server's SETTINGS arrive with the connection's first exchange.
    for _ in 0..100 {
        if client.is_extended_connect_protocol_enabled() {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        client = client.ready().await.unwrap();
    }
    panic!("the server did not enable the extended CONNECT");
}

fn websocket_connect(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::connect("http://localhost/chat")
        .version(http::Version::HTTP_2)
        .extension(h2::ext::Protocol::from_static("websocket"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap()
}

/// What the client machine reported, owned.
#[derive(Debug, PartialEq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Failed(String),
}

/// A client machine on an HTTP/2 stream.
struct StreamClient {
    conn: Connection,
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    ended: bool,
}

impl StreamClient {
    async fn open(client: &mut h2::client::SendRequest<Bytes>) -> Self {
        let (response, send) = client
            .send_request(websocket_connect(&[("sec-websocket-version", "13")]), false)
            .unwrap();
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        for absent in ["sec-websocket-accept", "upgrade", "connection"] {
            assert!(response.headers().get(absent).is_none(), "{absent}");
        }
        StreamClient {
            conn: Connection::from_upgraded(Role::Client, Config::default()),
            send,
            recv: response.into_body(),
            ended: false,
        }
    }

    /// Write what the machine queued as DATA on the stream.
    fn flush(&mut self) {
        let out = self.conn.pending_output().to_vec();
        if !out.is_empty() {
            self.conn.advance_output(out.len());
            self.send.send_data(Bytes::from(out), false).unwrap();
        }
    }

    /// The next event, reading the stream as needed.
    async fn next(&mut self) -> Got {
        loop {
            self.flush();
            if let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Text(t) => return Got::Text(t.to_owned()),
                    Event::Binary(b) => return Got::Binary(b.to_vec()),
                    Event::Pong(p) => return Got::Pong(p.to_vec()),
                    Event::Close { code, reason } => return Got::Close(code, reason.to_owned()),
                    Event::ProtocolError(e) => return Got::Failed(e.to_string()),
                    _ => continue,
                }
            }
            assert!(!self.ended, "the stream ended with no event left");
            match tokio::time::timeout(LIMIT, self.recv.data()).await.unwrap() {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.conn.receive(&data);
                }
                Some(Err(e)) => panic!("stream: {e}"),
                None => {
                    self.ended = true;
                    self.conn.receive_eof();
                }
            }
        }
    }

    /// Wait for the server's end of the stream (after the closing handshake).
    async fn stream_ends(&mut self) {
        self.flush();
        while !self.ended {
            match tokio::time::timeout(LIMIT, self.recv.data()).await.unwrap() {
                Some(Ok(data)) => self.conn.receive(&data),
                Some(Err(e)) => panic!("stream: {e}"),
                None => {
                    self.ended = true;
                    self.conn.receive_eof();
                }
            }
        }
    }
}

#[tokio::test]
async fn messages_pings_and_a_client_close_on_an_http2_stream() {
    let mut client = connect(Config::default()).await;
    let mut ws = StreamClient::open(&mut client).await;

    ws.conn.send_text("héllo over h2").unwrap();
    assert_eq!(ws.next().await, Got::Text("héllo over h2".into()));
    ws.conn.send_binary(&[0, 1, 2, 255]).unwrap();
    assert_eq!(ws.next().await, Got::Binary(vec![0, 1, 2, 255]));
    // Three fragments, a Ping between them: the Pong first, then the message whole.
    ws.conn
        .send_fragment(MessageKind::Text, b"frag", false)
        .unwrap();
    ws.conn.send_ping(b"are you there").unwrap();
    ws.conn
        .send_fragment(MessageKind::Text, b"men", false)
        .unwrap();
    ws.conn
        .send_fragment(MessageKind::Text, b"ted", true)
        .unwrap();
    assert_eq!(ws.next().await, Got::Pong(b"are you there".to_vec()));
    assert_eq!(ws.next().await, Got::Text("fragmented".into()));
    // A message larger than the pipe and the stream's first window.
    let big = vec![7u8; 200 * 1024];
    ws.conn.send_binary(&big).unwrap();
    assert_eq!(ws.next().await, Got::Binary(big));

    ws.conn.close(1000, "done").unwrap();
    assert_eq!(ws.next().await, Got::Close(1000, "done".into()));
    ws.stream_ends().await;
    assert!(ws.conn.should_close_transport());
}

#[tokio::test]
async fn the_server_closes_an_http2_stream() {
    let mut client = connect(Config::default()).await;
    let mut ws = StreamClient::open(&mut client).await;
    ws.conn.send_text("close please").unwrap();
    assert_eq!(ws.next().await, Got::Close(4001, "bye".into()));
    // The machine echoed the Close; the server ends its side of the stream.
    ws.stream_ends().await;
    // The connection still opens other streams.
    let mut second = StreamClient::open(&mut client).await;
    second.conn.send_text("still here").unwrap();
    assert_eq!(second.next().await, Got::Text("still here".into()));
}

#[tokio::test]
async fn refusals_are_http2_statuses() {
    let mut client = connect(Config::default()).await;
    // No Sec-WebSocket-Version: 426, with the version to use.
    let (response, _send) = client.send_request(websocket_connect(&[]), true).unwrap();
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    // Another protocol over CONNECT: 400.
    let mut request = websocket_connect(&[("sec-websocket-version", "13")]);
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("not-websocket"));
    let (response, _send) = client.send_request(request, true).unwrap();
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 400);
    // An ordinary GET is the application's.
    let get = http::Request::get("http://localhost/")
        .version(http::Version::HTTP_2)
        .body(())
        .unwrap();
    let (response, _send) = client.send_request(get, true).unwrap();
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_is_negotiated_on_the_stream() {
    use wsmachine::deflate::DeflateConfig;

    let config = Config::default().deflate(Some(DeflateConfig::default()));
    let mut client = connect(config).await;
    let (response, mut send) = client
        .send_request(
            websocket_connect(&[
                ("sec-websocket-version", "13"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]),
            false,
        )
        .unwrap();
    let response = tokio::time::timeout(LIMIT, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(answer.starts_with("permessage-deflate"), "{answer}");
    // An uncompressed message (RSV1 clear) is valid under permessage-deflate; the echo comes
    // back compressed.
    let mut conn = Connection::from_upgraded(Role::Client, Config::default());
    let text = "say it again, say it again. ".repeat(40);
    conn.send_text(&text).unwrap();
    send.send_data(Bytes::from(conn.pending_output().to_vec()), false)
        .unwrap();
    let mut recv = response.into_body();
    let mut echo = Vec::new();
    while echo.len() < 2 {
        let data = tokio::time::timeout(LIMIT, recv.data())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        echo.extend_from_slice(&data);
    }
    assert_eq!(echo[0], 0xc1, "FIN, RSV1, text");
    let len = usize::from(echo[1] & 0x7f);
    assert!(len < text.len() / 4, "{len} bytes for {}", text.len());
}

/// axum 0.8: `axum::serve` enables the extended CONNECT, and a route registered with `any`
/// receives the CONNECT, with hyper's `:protocol` among its extensions.
#[tokio::test]
async fn an_axum_route_takes_an_http2_websocket() {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::any;

    async fn route(request: Request) -> axum::response::Response {
        hyper_upgrade::upgrade(request, Config::default(), &ServerPolicy::default(), serve)
            .map(Body::from)
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/chat", any(route));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut client = tokio::time::timeout(LIMIT, ready_client(tcp))
        .await
        .unwrap();
    let mut ws = StreamClient::open(&mut client).await;
    ws.conn.send_text("through axum").unwrap();
    assert_eq!(ws.next().await, Got::Text("through axum".into()));
    ws.conn.close(1000, "").unwrap();
    assert_eq!(ws.next().await, Got::Close(1000, String::new()));
    ws.stream_ends().await;
    server.abort();
}
