//! The tokio adapter: client and server over in-memory duplex streams (and TCP once), in both
//! API styles, split halves in two tasks, the machine's deadlines on a paused clock,
//! backpressure from a slow reader, and the closing handshake.
#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::Instant;
use wsmachine::handshake::{ClientRequest, HandshakeError, RequestError, Response, ServerPolicy};
use wsmachine::tokio::{
    CloseFrame, Error, Message, WebSocketStream, accept, accept_hdr_with, accept_with, connect,
    connect_with, connect_with_config,
};
use wsmachine::{Config, ProtocolError, State, UsageError};

fn request() -> ClientRequest {
    ClientRequest::new("localhost", "/chat")
}

/// A client and a server joined by a duplex stream of `buffer` bytes each way.
async fn pair_with(
    buffer: usize,
    server_config: Config,
    client_config: Config,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (c, s) = duplex(buffer);
    let server = tokio::spawn(accept_with(
        s,
        server_config,
        Arc::new(ServerPolicy::default()),
    ));
    let (client, _) = connect_with_config(c, &request(), client_config)
        .await
        .unwrap();
    (client, server.await.unwrap().unwrap())
}

async fn pair() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    pair_with(64 * 1024, Config::default(), Config::default()).await
}

/// Echo every data message until the connection ends; returns how it ended.
async fn echo(mut ws: WebSocketStream<DuplexStream>) -> Result<(), Error> {
    while let Some(msg) = ws.recv().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_connection_waiting_for_its_peer_holds_no_buffers() {
    // `Config::default` negotiates no compression: no contexts to keep.
    let (mut client, mut server) =
        pair_with(256 * 1024, Config::default(), Config::default()).await;
    let big = Message::binary(vec![7u8; 100 * 1024]);
    client.send(big.clone()).await.unwrap();
    assert_eq!(server.recv().await.unwrap().unwrap(), big);
    server.send(big.clone()).await.unwrap();
    assert_eq!(client.recv().await.unwrap().unwrap(), big);
    // Both sides now wait for the other: a receive that finds nothing gives the buffers back.
    for ws in [&mut server, &mut client] {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), ws.recv())
                .await
                .is_err()
        );
        assert_eq!(ws.buffered_capacity(), 0);
    }
    // And they are taken again for the next message.
    client.send(Message::text("again")).await.unwrap();
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::text("again")
    );
}

/// Reads go straight into the machine's buffer with room for 64 KiB; a connection left
/// waiting inside a frame after a read that brought a few bytes does not hold that room.
#[tokio::test]
async fn a_connection_waiting_inside_a_frame_holds_about_what_it_needs() {
    let mut client =
        wsmachine::Connection::from_upgraded(wsmachine::Role::Client, Config::default());
    client.send_binary(&[9u8; 100]).unwrap();
    let wire = client.pending_output().to_vec();
    let (mut peer, ours) = duplex(128 * 1024);
    let conn = wsmachine::Connection::from_upgraded(wsmachine::Role::Server, Config::default());
    let mut server = WebSocketStream::from_connection(ours, conn);
    peer.write_all(&wire[..10]).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(20), server.recv())
            .await
            .is_err()
    );
    let held = server.buffered_capacity();
    assert!(held > 0 && held <= 8 * 1024, "{held} bytes held");
    peer.write_all(&wire[10..]).await.unwrap();
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::binary(vec![9u8; 100])
    );
}

/// Large frames arriving back to back: each read that completes one ends with it
/// (`Connection::read_size_hint`), so the receive buffer stays about a frame and a read long
/// (reads of 64 KiB every time grew it to 512 KiB).
#[tokio::test]
async fn back_to_back_large_frames_keep_the_buffer_near_a_frame() {
    let mut client =
        wsmachine::Connection::from_upgraded(wsmachine::Role::Client, Config::default());
    let mut wire = Vec::new();
    for i in 0..12u8 {
        client.send_binary(&vec![i; 64 * 1024]).unwrap();
        wire.extend_from_slice(client.pending_output());
        client.advance_output(client.pending_output().len());
    }
    let (mut peer, ours) = duplex(wire.len());
    peer.write_all(&wire).await.unwrap();
    let conn = wsmachine::Connection::from_upgraded(wsmachine::Role::Server, Config::default());
    let mut server = WebSocketStream::from_connection(ours, conn);
    let mut most = 0;
    for i in 0..12u8 {
        assert_eq!(
            server.recv().await.unwrap().unwrap(),
            Message::binary(vec![i; 64 * 1024])
        );
        most = most.max(server.buffered_capacity());
    }
    assert!(most <= 160 * 1024, "{most} bytes held");
}

/// Through a transport that moves one byte at a time, every read ends inside a frame and
/// the next finds nothing: the receive buffer is lent thousands of times per message and
/// given back, or shrunk around a started frame, while the connection waits. Every message
/// still arrives whole, and a read inside a frame is lent a small room, not a read's 64 KiB.
#[tokio::test]
async fn messages_through_a_one_byte_transport_arrive_whole() {
    let (mut client, mut server) = pair_with(1, Config::default(), Config::default()).await;
    let messages = [
        Message::text("héllo"),
        Message::binary(vec![3u8; 5000]),
        Message::text("y".repeat(70 * 1024)),
        Message::binary(vec![]),
    ];
    let sent = messages.clone();
    let sender = tokio::spawn(async move {
        for m in sent {
            client.send(m).await.unwrap();
        }
        client
    });
    let mut most = 0;
    for m in &messages {
        let got = loop {
            match tokio::time::timeout(Duration::from_millis(1), server.recv()).await {
                Ok(got) => break got.unwrap().unwrap(),
                Err(_) => most = most.max(server.buffered_capacity()),
            }
        };
        assert_eq!(&got, m);
    }
    // The 70 KiB message, its header and one 4 KiB read, doubled by growth (128 KiB here).
    // Lending the full 64 KiB to every read inside a frame, as to the first, took 256 KiB.
    assert!(most <= 2 * (70 * 1024 + 14 + 4096), "{most} bytes held");
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn a_conversation_with_recv_and_send() {
    let (mut client, server) = pair().await;
    let server = tokio::spawn(echo(server));
    client.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    client.send(Message::Ping(b"p".to_vec())).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Pong(b"p".to_vec())
    );
    client
        .close(Some(CloseFrame::new(1000, "done")))
        .await
        .unwrap();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(1000, "done")))
    );
    // The server shut the transport down once the handshake was complete.
    assert!(client.recv().await.is_none());
    assert!(client.recv().await.is_none());
    assert_eq!(client.state(), State::Closed);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_conversation_as_stream_and_sink() {
    let (mut client, mut server) = pair().await;
    let server = tokio::spawn(async move {
        while let Some(msg) = server.next().await {
            let msg = msg?;
            if msg.is_text() || msg.is_binary() {
                server.send(msg).await?;
            }
        }
        Ok::<_, Error>(())
    });
    for i in 0..10 {
        client.feed(Message::text(format!("m{i}"))).await.unwrap();
    }
    client.flush().await.unwrap();
    for i in 0..10 {
        let got = client.next().await.unwrap().unwrap();
        assert_eq!(got.as_text(), Some(format!("m{i}").as_str()));
    }
    SinkExt::close(&mut client).await.unwrap();
    let rest: Vec<_> = client.collect().await;
    assert_eq!(rest.len(), 1);
    // Close(None) closes with 1000, which the server echoes.
    assert_eq!(
        rest[0].as_ref().unwrap(),
        &Message::Close(Some(CloseFrame::new(1000, "")))
    );
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn split_halves_in_two_tasks() {
    let (client, server) = pair().await;
    let server = tokio::spawn(echo(server));
    let (mut tx, mut rx) = client.split();
    let writer = tokio::spawn(async move {
        for i in 0..200u32 {
            tx.send(Message::binary(i.to_be_bytes().to_vec()))
                .await
                .unwrap();
        }
        tx
    });
    let reader = tokio::spawn(async move {
        let mut seen = 0u32;
        while let Some(msg) = rx.next().await {
            match msg.unwrap() {
                Message::Binary(b) => {
                    assert_eq!(b, seen.to_be_bytes());
                    seen += 1;
                    if seen == 200 {
                        break;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        (rx, seen)
    });
    let mut tx = writer.await.unwrap();
    let (rx, seen) = reader.await.unwrap();
    assert_eq!(seen, 200);
    tx.close(None).await.unwrap();
    let mut ws = tx.reunite(rx).unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(1000, "")))
    );
    assert!(ws.recv().await.is_none());
    server.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_are_sent_and_answered_without_the_application() {
    let config = Config::default().keepalive(Duration::from_secs(1), Duration::from_secs(1));
    let (mut client, server) = pair_with(64 * 1024, config, Config::default()).await;
    let server = tokio::spawn(echo(server));
    let start = Instant::now();
    let mut pings = 0;
    while let Some(msg) = client.recv().await {
        if let Message::Ping(_) = msg.unwrap() {
            pings += 1;
            if pings == 5 {
                client.close(None).await.unwrap();
            }
        }
    }
    assert_eq!(pings, 5);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_secs(5), "{elapsed:?}");
    // The server never saw the connection fail: every Ping was answered.
    server.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_keepalive_ends_the_connection() {
    let config = Config::default().keepalive(Duration::from_secs(1), Duration::from_secs(2));
    // The client is never polled again: it answers nothing.
    let (_client, mut server) = pair_with(64 * 1024, config, Config::default()).await;
    let start = Instant::now();
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::AbnormalClosure))
    ));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    assert!(server.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_closing_deadline_ends_a_close_never_answered() {
    let config = Config::default().close_timeout(Some(Duration::from_secs(5)));
    let (_client, mut server) = pair_with(64 * 1024, config, Config::default()).await;
    let start = Instant::now();
    server.close(None).await.unwrap();
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::AbnormalClosure))
    ));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(6),
        "{elapsed:?}"
    );
    assert!(server.recv().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_handshake_deadline_answers_408() {
    let (mut c, s) = duplex(4096);
    let start = Instant::now();
    let result = accept(s).await;
    assert!(
        matches!(
            result,
            Err(Error::Handshake(HandshakeError::Request(
                RequestError::Timeout
            )))
        ),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    let mut answer = String::new();
    c.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_makes_send_wait() {
    const LIMIT: usize = 16 * 1024;
    let config = Config::default().max_output_buffer(LIMIT);
    let (mut client, server) = pair_with(1024, config, Config::default()).await;
    let (mut tx, _rx) = server.split();
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        for i in 0..200u32 {
            // `send` flushes: the output bound under queued messages is the Sink test's.
            tx.send(Message::binary(vec![i as u8; 1000])).await.unwrap();
        }
        tx.close(None).await.unwrap();
        Instant::now()
    });
    // The reader takes one message every 10 ms; the duplex holds about one.
    let mut got = Vec::new();
    while let Some(msg) = client.recv().await {
        match msg.unwrap() {
            Message::Binary(b) => {
                assert_eq!(b, vec![got.len() as u8; 1000]);
                got.push(b[0]);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Message::Close(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let finished = sender.await.unwrap();
    assert_eq!(got.len(), 200);
    // The sender went at the reader's pace.
    assert!(
        finished - start >= Duration::from_millis(10 * 195),
        "{:?}",
        finished - start
    );
}

/// Feed the `i`-th message of `make` to the sink (which queues without flushing, so only the
/// output bound stops it) until a feed waits a second; returns how many were fed.
async fn feed_until_it_waits(
    ws: &mut WebSocketStream<DuplexStream>,
    make: impl Fn(usize) -> Message,
) -> usize {
    let mut fed = 0;
    while tokio::time::timeout(Duration::from_secs(1), ws.feed(make(fed)))
        .await
        .is_ok()
    {
        fed += 1;
        assert!(fed < 100, "feed never waited");
    }
    fed
}

#[tokio::test(start_paused = true)]
async fn a_slow_reader_makes_the_sink_wait_within_the_output_bound() {
    const LIMIT: usize = 8 * 1024;
    let config = Config::default().max_output_buffer(LIMIT);
    let (mut client, mut server) = pair_with(1024, config, Config::default()).await;
    let fed = feed_until_it_waits(&mut server, |_| Message::binary(vec![7; 500])).await;
    assert!(server.queued_output() <= LIMIT);
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(Ok(Message::Binary(_))) = client.next().await {
            n += 1;
            if n == fed {
                break;
            }
        }
        n
    });
    // The feed that timed out never got its message in; every one fed arrives.
    server.flush().await.unwrap();
    assert_eq!(server.queued_output(), 0);
    assert_eq!(reader.await.unwrap(), fed);
}

#[tokio::test]
async fn closing_the_sink_sends_what_was_fed_then_the_close() {
    const LIMIT: usize = 4 * 1024;
    let config = Config::default().max_output_buffer(LIMIT);
    let (mut client, mut server) = pair_with(1024, config, Config::default()).await;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(msg) = client.recv().await {
            got.push(msg.unwrap());
        }
        got
    });
    for i in 0..20u8 {
        server.feed(Message::binary(vec![i; 1000])).await.unwrap();
    }
    SinkExt::close(&mut server).await.unwrap();
    // Everything fed, the stashed message included, went out before the Close.
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(1000, "")))
    );
    assert!(server.recv().await.is_none());
    let got = reader.await.unwrap();
    assert_eq!(got.len(), 21);
    for (i, msg) in got[..20].iter().enumerate() {
        assert_eq!(msg, &Message::binary(vec![i as u8; 1000]));
    }
    assert_eq!(got[20], Message::Close(Some(CloseFrame::new(1000, ""))));
}

#[tokio::test]
async fn close_after_the_peers_close_is_ok() {
    let (mut client, mut server) = pair().await;
    client
        .send(Message::Close(Some(CloseFrame::new(4000, "bye"))))
        .await
        .unwrap();
    assert_eq!(
        server.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(4000, "bye")))
    );
    // The machine has queued the echo: close completes the handshake, twice over.
    server.close(None).await.unwrap();
    server.close(Some(CloseFrame::new(1000, ""))).await.unwrap();
    assert!(matches!(
        server.send(Message::text("late")).await,
        Err(Error::Usage(UsageError::AlreadyClosing))
    ));
    assert!(server.recv().await.is_none());
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(4000, "bye")))
    );
    assert!(client.recv().await.is_none());
    // After everything, close is still Ok.
    client.close(None).await.unwrap();
}

#[tokio::test]
async fn a_peer_violation_is_a_protocol_error() {
    let (mut c, s) = duplex(4096);
    let server = tokio::spawn(accept(s));
    let mut head = Vec::new();
    c.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut server = server.await.unwrap().unwrap();
    // An unmasked frame from a client (§5.1).
    c.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    assert!(matches!(
        server.recv().await,
        Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame)))
    ));
    assert!(server.recv().await.is_none());
    c.read_to_end(&mut head).await.unwrap();
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    // The Close with 1002 follows the 101.
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let close = &head[end..];
    assert_eq!(close[0], 0x88);
    assert_eq!(close.len(), 2 + close[1] as usize);
    assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1002);
}

#[tokio::test]
async fn a_refusal_reaches_both_sides() {
    let (c, s) = duplex(4096);
    let server = tokio::spawn(accept_hdr_with(
        s,
        Config::default(),
        Arc::new(ServerPolicy::default()),
        |req| {
            assert_eq!(req.target(), "/chat");
            Err(Response::new(401))
        },
    ));
    let client = connect_with(c, &request()).await;
    assert!(matches!(client, Err(Error::Rejected(r)) if r.status() == 401));
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(r)) if r.status() == 401));
}

#[tokio::test]
async fn connect_speaks_ws_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = accept(tcp).await.unwrap();
        let (mut tx, mut rx) = ws.split();
        while let Some(Ok(msg)) = rx.recv().await {
            if msg.is_text() {
                tx.send(msg).await.unwrap();
            }
        }
    });
    let (mut ws, negotiated) = connect(&format!("ws://{addr}/x")).await.unwrap();
    assert_eq!(negotiated.protocol(), None);
    ws.send(Message::text("over tcp")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over tcp"));
    ws.close(None).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(1000, "")))
    );
    assert!(ws.recv().await.is_none());
    server.await.unwrap();
    assert!(matches!(
        connect("wss://127.0.0.1:1/").await,
        Err(Error::TlsRequired)
    ));
    assert!(matches!(connect("http://x/").await, Err(Error::Url(_))));
}

/// A transport that counts the reads that brought bytes.
struct CountingReads {
    inner: DuplexStream,
    reads: Arc<std::sync::atomic::AtomicUsize>,
}

impl tokio::io::AsyncRead for CountingReads {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for CountingReads {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A 16 KiB message that is in the transport whole (16 392 bytes with its header) arrives in
/// one read: the adapter's reads are not shorter than a common large message.
#[tokio::test]
async fn a_16_kib_message_waiting_whole_takes_one_read() {
    let payload = vec![0xA5u8; 16 * 1024];
    let mut client =
        wsmachine::Connection::from_upgraded(wsmachine::Role::Client, Config::default());
    client.send_binary(&payload).unwrap();
    let wire = client.pending_output().to_vec();
    assert_eq!(wire.len(), 16 * 1024 + 8);

    let (mut peer, ours) = duplex(128 * 1024);
    peer.write_all(&wire).await.unwrap();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let transport = CountingReads {
        inner: ours,
        reads: reads.clone(),
    };
    let conn = wsmachine::Connection::from_upgraded(wsmachine::Role::Server, Config::default());
    let mut server = WebSocketStream::from_connection(transport, conn);
    let msg = server.recv().await.unwrap().unwrap();
    assert_eq!(msg, Message::Binary(payload));
    assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// Messages of 16 KiB and more are written from their own buffers (vectored writes through a
/// duplex that takes 1 KiB at a time), between small ones that are copied: every message
/// arrives whole and in order, both ways, text and binary, masked by the client.
#[tokio::test]
async fn large_messages_sent_without_a_copy_arrive_in_order_both_ways() {
    let (client, server) = pair_with(1024, Config::default(), Config::default()).await;
    let messages: Vec<Message> = (0..12u8)
        .map(|i| match i % 4 {
            0 => Message::binary(vec![i; 100 * 1024 + usize::from(i)]),
            1 => Message::text("é€😀".repeat(3000 + usize::from(i))),
            2 => Message::binary(vec![i; 10]),
            _ => Message::text(format!("small {i}")),
        })
        .collect();
    let (mut client, mut server) = (client, server);
    exchange(&mut client, &mut server, &messages).await;
    exchange(&mut server, &mut client, &messages).await;
}

/// `from` sends `messages` while `to` receives them; both must match.
async fn exchange(
    from: &mut WebSocketStream<DuplexStream>,
    to: &mut WebSocketStream<DuplexStream>,
    messages: &[Message],
) {
    let ((), received) = tokio::join!(
        async {
            for msg in messages {
                from.send(msg.clone()).await.unwrap();
            }
        },
        async {
            let mut got = Vec::new();
            for _ in 0..messages.len() {
                got.push(to.recv().await.unwrap().unwrap());
            }
            got
        }
    );
    assert_eq!(received, messages);
    assert_eq!(from.queued_output(), 0);
}

/// Large messages fed to the sink without a reader are held, not copied into the machine's
/// output, and count against the output bound while they are: feeding waits, and what was fed
/// then arrives whole.
#[tokio::test(start_paused = true)]
async fn held_large_messages_count_against_the_output_bound() {
    const LIMIT: usize = 64 * 1024;
    const SIZE: usize = 20 * 1024;
    let config = Config::default().max_output_buffer(LIMIT);
    let (mut client, mut server) = pair_with(1024, config, Config::default()).await;
    let before = server.buffered_capacity();
    let fed = feed_until_it_waits(&mut server, |i| Message::binary(vec![i as u8; SIZE])).await;
    assert!(server.queued_output() >= SIZE);
    assert!(server.queued_output() <= LIMIT);
    // The transport took its 1 KiB: the first header and the start of the first payload,
    // which counts only what is left of it (whole frames, less those 1024 bytes).
    assert_eq!((server.queued_output() + 1024) % (4 + SIZE), 0);
    // Held, not copied: the machine's buffers did not take the payloads in (copied, its
    // output would hold every one not yet written).
    assert!(
        server.buffered_capacity() < before + SIZE,
        "{} -> {}",
        before,
        server.buffered_capacity()
    );
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < fed {
            match client.next().await {
                Some(Ok(Message::Binary(b))) => got.push(b),
                other => panic!("{other:?}"),
            }
        }
        got
    });
    server.flush().await.unwrap();
    assert_eq!(server.queued_output(), 0);
    let got = reader.await.unwrap();
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b, &vec![i as u8; SIZE]);
    }
}
