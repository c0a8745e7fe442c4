//! The tokio adapter against tokio-tungstenite, in process over in-memory pipes: wsmachine's
//! server with tokio-tungstenite's client, wsmachine's client with tokio-tungstenite's server.
//! Text, binary, fragmented messages (with a Ping between the fragments), Pings, and the
//! closing handshake started by either side. tokio-tungstenite sends fragments as raw frames;
//! wsmachine sends them with `Connection::send_fragment`, driven sans-IO on the pipe, as the
//! adapter sends whole messages only.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::Message as TtMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TtCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::tokio::{CloseFrame, Message};
use wsmachine::{Config, Connection, Event, MessageKind};

/// Every test's whole conversation is bounded by this.
const LIMIT: Duration = Duration::from_secs(10);

fn pipe() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(64 * 1024)
}

/// A fragment as tokio-tungstenite writes it: a raw frame.
fn fragment(data: &'static str, first: bool, fin: bool) -> TtMessage {
    let opcode = if first {
        OpCode::Data(Data::Text)
    } else {
        OpCode::Data(Data::Continue)
    };
    TtMessage::Frame(Frame::message(data.as_bytes().to_vec(), opcode, fin))
}

/// The next message tokio-tungstenite reads, its error unwrapped.
async fn tt_next<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<TtMessage>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.next().await.map(|m| m.unwrap())
}

fn tt_close(code: u16, reason: &str) -> TtCloseFrame {
    TtCloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

#[tokio::test]
async fn wsmachine_server_with_a_tungstenite_client() {
    tokio::time::timeout(LIMIT, async {
        let (client_io, server_io) = pipe();
        // The server echoes data and records everything it receives.
        let server = tokio::spawn(async move {
            let mut ws = wsmachine::tokio::accept(server_io).await.unwrap();
            let mut received = Vec::new();
            while let Some(msg) = ws.recv().await {
                let msg = msg.unwrap();
                if msg.is_text() || msg.is_binary() {
                    ws.send(msg.clone()).await.unwrap();
                }
                received.push(msg);
            }
            received
        });
        let (mut tt, response) = tokio_tungstenite::client_async("ws://localhost/chat", client_io)
            .await
            .unwrap();
        assert_eq!(response.status(), 101);

        tt.send(TtMessage::text("hello")).await.unwrap();
        assert_eq!(tt_next(&mut tt).await, Some(TtMessage::text("hello")));
        tt.send(TtMessage::binary(vec![0u8, 1, 254, 255]))
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::binary(vec![0u8, 1, 254, 255]))
        );
        tt.send(fragment("frag", true, false)).await.unwrap();
        tt.send(TtMessage::Ping(b"between".to_vec().into()))
            .await
            .unwrap();
        tt.send(fragment("men", false, false)).await.unwrap();
        tt.send(fragment("ted", false, true)).await.unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::Pong(b"between".to_vec().into()))
        );
        assert_eq!(tt_next(&mut tt).await, Some(TtMessage::text("fragmented")));
        tt.send(TtMessage::Ping(b"p".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::Pong(b"p".to_vec().into()))
        );

        // The client closes; the machine echoes the code.
        tt.close(Some(tt_close(1000, "bye"))).await.unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::Close(Some(tt_close(1000, "bye"))))
        );
        assert_eq!(tt.next().await.map(|m| m.is_ok()), None);

        let received = server.await.unwrap();
        assert_eq!(
            received,
            [
                Message::text("hello"),
                Message::Binary(vec![0, 1, 254, 255]),
                Message::Ping(b"between".to_vec()),
                Message::text("fragmented"),
                Message::Ping(b"p".to_vec()),
                Message::Close(Some(CloseFrame::new(1000, "bye"))),
            ]
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn wsmachine_server_closes_a_tungstenite_client() {
    tokio::time::timeout(LIMIT, async {
        let (client_io, server_io) = pipe();
        let server = tokio::spawn(async move {
            let mut ws = wsmachine::tokio::accept(server_io).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("close"));
            // Ok once the peer's Close came back.
            ws.close(Some(CloseFrame::new(4000, "server done")))
                .await
                .unwrap();
            // The peer's answering Close, then the end.
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Close(Some(CloseFrame::new(4000, "server done")))
            );
            ws.recv().await.map(|m| m.is_ok())
        });
        let (mut tt, _) = tokio_tungstenite::client_async("ws://localhost/", client_io)
            .await
            .unwrap();
        tt.send(TtMessage::text("close")).await.unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::Close(Some(tt_close(4000, "server done"))))
        );
        // tokio-tungstenite answered the Close as it read it; the server ends the stream.
        assert_eq!(tt.next().await.map(|m| m.is_ok()), None);
        assert_eq!(server.await.unwrap(), None);
    })
    .await
    .unwrap();
}

/// A tokio-tungstenite server: echoes data; "fragments" is answered with a text in three
/// frames with a Ping between them, "close" with a Close 4001. Returns what it received.
async fn tungstenite_server(io: DuplexStream) -> Vec<TtMessage> {
    let mut ws = tokio_tungstenite::accept_async(io).await.unwrap();
    let mut received = Vec::new();
    while let Some(msg) = ws.next().await {
        let Ok(msg) = msg else { break };
        match &msg {
            TtMessage::Text(t) if t.as_str() == "fragments" => {
                ws.send(fragment("in ", true, false)).await.unwrap();
                ws.send(TtMessage::Ping(b"mid".to_vec().into()))
                    .await
                    .unwrap();
                ws.send(fragment("three ", false, false)).await.unwrap();
                ws.send(fragment("parts", false, true)).await.unwrap();
            }
            TtMessage::Text(t) if t.as_str() == "close" => {
                ws.close(Some(tt_close(4001, "server bye"))).await.unwrap();
            }
            TtMessage::Text(_) | TtMessage::Binary(_) => ws.send(msg.clone()).await.unwrap(),
            _ => {}
        }
        received.push(msg);
    }
    received
}

#[tokio::test]
async fn wsmachine_client_with_a_tungstenite_server() {
    tokio::time::timeout(LIMIT, async {
        let (client_io, server_io) = pipe();
        let server = tokio::spawn(tungstenite_server(server_io));
        let request = ClientRequest::new("localhost", "/chat");
        let (mut ws, _) = wsmachine::tokio::connect_with(client_io, &request)
            .await
            .unwrap();

        ws.send(Message::text("héllo")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("héllo"));
        ws.send(Message::Binary(vec![9; 70_000])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Binary(vec![9; 70_000])
        );
        ws.send(Message::text("fragments")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Ping(b"mid".to_vec())
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("in three parts")
        );
        ws.send(Message::Ping(b"are you there".to_vec()))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(b"are you there".to_vec())
        );

        ws.close(Some(CloseFrame::new(1000, "client bye")))
            .await
            .unwrap();
        // The peer's answering Close, then the end.
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Close(Some(CloseFrame::new(1000, "client bye")))
        );
        assert_eq!(ws.recv().await.map(|m| m.is_ok()), None);
        let received = server.await.unwrap();
        assert_eq!(received.len(), 6, "{received:?}");
        assert_eq!(
            received[5],
            TtMessage::Close(Some(tt_close(1000, "client bye")))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_tungstenite_server_closes_the_wsmachine_client() {
    tokio::time::timeout(LIMIT, async {
        let (client_io, server_io) = pipe();
        let server = tokio::spawn(tungstenite_server(server_io));
        let (mut ws, _) =
            wsmachine::tokio::connect_with(client_io, &ClientRequest::new("localhost", "/"))
                .await
                .unwrap();
        ws.send(Message::text("close")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Close(Some(CloseFrame::new(4001, "server bye")))
        );
        assert_eq!(ws.recv().await.map(|m| m.is_ok()), None);
        let received = server.await.unwrap();
        assert_eq!(
            received.last(),
            Some(&TtMessage::Close(Some(tt_close(4001, "server bye"))))
        );
    })
    .await
    .unwrap();
}

/// What a sans-IO machine reported, owned.
#[derive(Debug, PartialEq)]
enum Got {
    Open,
    Text(String),
    Pong(Vec<u8>),
    Close(u16),
}

/// Drive `conn` on `io` until it reports one of the events above: its output written, the
/// upgrade request accepted, input read as needed.
async fn next_event(conn: &mut Connection, io: &mut DuplexStream) -> Got {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let out = conn.pending_output().to_vec();
        if !out.is_empty() {
            io.write_all(&out).await.unwrap();
            conn.advance_output(out.len());
        }
        let got = match conn.poll_event() {
            Some(Event::HandshakeRequest(_)) => {
                conn.accept(Accept::new()).unwrap();
                None
            }
            Some(Event::Open(_)) => Some(Got::Open),
            Some(Event::Text(t)) => Some(Got::Text(t.to_owned())),
            Some(Event::Pong(p)) => Some(Got::Pong(p.to_vec())),
            Some(Event::Close { code, .. }) => Some(Got::Close(code)),
            Some(other) => panic!("unexpected {other:?}"),
            None => {
                let n = io.read(&mut buf).await.unwrap();
                if n == 0 {
                    conn.receive_eof();
                } else {
                    conn.receive(&buf[..n]);
                }
                None
            }
        };
        if let Some(got) = got {
            return got;
        }
    }
}

/// Queue "wsmachine in pieces" as three fragments with a Ping between them.
fn send_in_pieces(conn: &mut Connection) {
    conn.send_fragment(MessageKind::Text, "wsmachine ".as_bytes(), false)
        .unwrap();
    conn.send_ping(b"mid").unwrap();
    conn.send_fragment(MessageKind::Text, "in ".as_bytes(), false)
        .unwrap();
    conn.send_fragment(MessageKind::Text, "pieces".as_bytes(), true)
        .unwrap();
}

#[tokio::test]
async fn wsmachine_fragments_reach_tungstenite_in_both_roles() {
    tokio::time::timeout(LIMIT, async {
        // wsmachine as the server, tokio-tungstenite's client.
        let (client_io, mut server_io) = pipe();
        let server = tokio::spawn(async move {
            let mut conn = Connection::server(Config::default());
            assert_eq!(next_event(&mut conn, &mut server_io).await, Got::Open);
            send_in_pieces(&mut conn);
            let pong = next_event(&mut conn, &mut server_io).await;
            assert_eq!(pong, Got::Pong(b"mid".to_vec()));
            let close = next_event(&mut conn, &mut server_io).await;
            assert_eq!(close, Got::Close(1005));
            let out = conn.pending_output().to_vec();
            server_io.write_all(&out).await.unwrap();
        });
        let (mut tt, _) = tokio_tungstenite::client_async("ws://localhost/", client_io)
            .await
            .unwrap();
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::Ping(b"mid".to_vec().into()))
        );
        assert_eq!(
            tt_next(&mut tt).await,
            Some(TtMessage::text("wsmachine in pieces"))
        );
        tt.close(None).await.unwrap();
        server.await.unwrap();

        // wsmachine as the client, tokio-tungstenite's echoing server.
        let (mut client_io, server_io) = pipe();
        let server = tokio::spawn(tungstenite_server(server_io));
        let mut conn = Connection::client(&ClientRequest::new("localhost", "/"), Config::default());
        assert_eq!(next_event(&mut conn, &mut client_io).await, Got::Open);
        send_in_pieces(&mut conn);
        // The Ping is answered by tokio-tungstenite (its Pong before or after the echo), the
        // reassembled text echoed, the Close answered.
        let mut got = Vec::new();
        loop {
            let event = next_event(&mut conn, &mut client_io).await;
            if let Got::Text(_) = event {
                conn.close(1000, "").unwrap();
            }
            let closed = event == Got::Close(1000);
            got.push(event);
            if closed {
                break;
            }
        }
        got.sort_by_key(|g| format!("{g:?}"));
        assert_eq!(
            got,
            [
                Got::Close(1000),
                Got::Pong(b"mid".to_vec()),
                Got::Text("wsmachine in pieces".into()),
            ]
        );
        let received = server.await.unwrap();
        assert_eq!(received[1], TtMessage::text("wsmachine in pieces"));
    })
    .await
    .unwrap();
}
