//! The machine on tokio: a [`Connection`] driven over any `AsyncRead + AsyncWrite + Unpin`
//! transport (feature `tokio`).
//!
//! The sans-IO core does not depend on tokio; this module is the driving loop of the crate
//! documentation written once for async code. It runs in the caller's tasks (it spawns
//! nothing), reads into the machine's buffer, writes its output, and sets tokio's timer to
//! [`Connection::poll_timeout`], so the handshake deadline, keep-alive Pings and the closing
//! handshake's deadline run without the application doing anything, while a receive or a
//! send is pending.
//!
//! ```no_run
//! # async fn serve() -> Result<(), wsmachine::tokio::Error> {
//! use wsmachine::tokio::{Message, accept};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = accept(tcp).await?;
//! while let Some(msg) = ws.recv().await {
//!     match msg? {
//!         Message::Text(t) => ws.send(Message::Text(t)).await?,
//!         Message::Binary(b) => ws.send(Message::Binary(b)).await?,
//!         _ => {} // Pings are answered, the Close is echoed, by the machine
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Two styles
//!
//! [`WebSocketStream::recv`]/[`send`](WebSocketStream::send)/[`close`](WebSocketStream::close)
//! as async methods, or the `futures` traits: `Stream<Item = Result<Message, Error>>` and
//! `Sink<Message>`, for `StreamExt::next`, `SinkExt::send`, `forward` and the rest.
//! [`WebSocketStream::split`] gives a [`SendHalf`] and a [`RecvHalf`] for two tasks; both
//! styles work on the halves too.
//!
//! # Backpressure
//!
//! The machine refuses a data send that would take its queued output past
//! [`Config::max_output_buffer`] ([`UsageError::OutputFull`](crate::UsageError::OutputFull));
//! the adapter turns that into waiting: it writes the output, then sends again. A sender
//! facing a slow reader waits; its memory stays within the bound (plus one message).
//!
//! # Memory
//!
//! Each read goes straight into the machine's receive buffer, up to 64 KiB of uninitialised
//! room (nothing zeroed, nothing copied; the machine unmasks in place as it hands frames
//! out), or, while a large frame (32 KiB and more) is arriving, its rest, so that the read
//! ends with it ([`Connection::read_size_hint`](crate::Connection::read_size_hint)): large frames
//! back to back then keep the buffer about a frame and a read long (12 frames of 64 KiB:
//! 128 KiB held, where reads of 64 KiB each grew it to 512 KiB). When a read finds
//! nothing, the connection gives back its buffers
//! ([`Connection::release_buffers`](crate::Connection::release_buffers)): a connection
//! waiting for its peer holds the machine's struct and, with permessage-deflate and context
//! takeover, its compression contexts
//! ([`WebSocketStream::buffered_capacity`] shows it); one waiting inside a frame keeps the
//! bytes it has of it and room for the rest and one small read, at most about four times
//! that before the room is given back. The price is an allocation when input arrives after
//! such a pause; a connection whose reads always find more keeps its buffers.
//!
//! # Closing
//!
//! Receive until `None`: the machine answers the peer's Close, and a server shuts the
//! transport down once the handshake is complete (a client waits for the server to, or for
//! the closing deadline). [`WebSocketStream::close`] after the peer's Close is Ok: the echo is
//! already queued, `close` writes it. A connection that ends without a Close (the transport
//! ended, a keep-alive Ping unanswered, the closing deadline passed) ends with
//! [`Error::AbnormalClosure`].
//!
//! # TLS
//!
//! [`connect`] speaks `ws://` over TCP. For `wss://`, connect the TLS stream with the TLS
//! library of your choice and hand it to [`connect_with`]:
//!
//! ```ignore
//! let request = ClientRequest::from_url("wss://example.com/chat")?;
//! let tcp = tokio::net::TcpStream::connect((request.host(), request.effective_port())).await?;
//! let tls = tls_connector.connect(server_name, tcp).await?; // tokio-rustls, tokio-native-tls
//! let (ws, negotiated) = wsmachine::tokio::connect_with(tls, &request).await?;
//! ```
//!
//! # From tokio-tungstenite
//!
//! | tokio-tungstenite | wsmachine (feature `tokio`) |
//! |---|---|
//! | `accept_async(stream)` | [`accept(stream)`](accept) |
//! | `accept_hdr_async(stream, callback)` | [`accept_hdr_with(stream, config, policy, decide)`](accept_hdr_with): `decide(&HandshakeRequest)` returns an [`Accept`] or the [`Response`] to refuse with |
//! | `accept_async_with_config(stream, Some(config))` | [`accept_with(stream, config, policy)`](accept_with) |
//! | `connect_async(url)` → `(ws, response)` | [`connect(url)`](connect) → `(ws, Negotiated)` |
//! | `client_async(request, stream)` | [`connect_with(stream, &ClientRequest)`](connect_with) |
//! | `WebSocketStream::from_raw_socket(stream, role, config)` | [`WebSocketStream::from_connection(stream, Connection::from_upgraded(role, config))`](WebSocketStream::from_connection) |
//! | `Message::Text(Utf8Bytes)`, `Message::Binary(Bytes)` | [`Message::Text(String)`](Message::Text), [`Message::Binary(Vec<u8>)`](Message::Binary) |
//! | `Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason }))` | [`Message::Close(Some(CloseFrame { code: 1000, reason }))`](CloseFrame) (codes are `u16`; constants in [`crate::close`]) |
//! | `Message::Frame(_)` | none: frames are internal; [`Connection::send_fragment`] for pieces |
//! | `ws.next().await`, `ws.send(msg).await` (futures) | the same, or [`ws.recv().await`](WebSocketStream::recv), [`ws.send(msg).await`](WebSocketStream::send) |
//! | `ws.split()` (futures `BiLock`) | [`ws.split()`](WebSocketStream::split) → `(SendHalf, RecvHalf)`, the same order |
//! | `ws.close(None).await` | [`ws.close(None).await`](WebSocketStream::close), Ok after the peer's Close |
//! | `WebSocketConfig { max_message_size, max_frame_size, max_write_buffer_size, .. }` | [`Config`]: `max_message_size`, `max_frame_size`, `max_output_buffer`; plus deadlines and keep-alive |
//! | `Error::ConnectionClosed` / `AlreadyClosed` | `recv` returns `None`; a send after Close is [`Error::Usage`] |
//! | `Error::Protocol(ResetWithoutClosingHandshake)` | [`Error::AbnormalClosure`] |
//! | `Error::Capacity(_)`, `Error::Protocol(_)` from the peer | [`Error::Protocol`] (with its close code) |
//! | `Error::Http(response)` | [`Error::Rejected`] |
//! | keep-alive by hand (`interval` + `send(Ping)`) | [`Config::keepalive`] |

mod driver;
mod error;
mod message;
mod stream;

use alloc::boxed::Box;

use std::sync::Arc;

use ::tokio::io::{AsyncRead, AsyncWrite};
use ::tokio::net::TcpStream;

pub use error::Error;
pub use message::{CloseFrame, Message};
pub use stream::{RecvHalf, SendHalf, WebSocketStream};

use crate::handshake::{
    Accept, ClientRequest, HandshakeRequest, Negotiated, RequestError, Response, ServerPolicy,
};
use crate::{Config, Connection, Event};
use driver::Driver;

/// Server: run the opening handshake on `stream` with the default [`Config`] and
/// [`ServerPolicy`] (any origin, no subprotocol), and accept it.
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), Arc::new(ServerPolicy::default())).await
}

/// Server: run the opening handshake on `stream` with these limits and this policy (origins,
/// subprotocols, extensions; with feature `deflate`, `config.deflate` accepts
/// permessage-deflate), and accept every request the policy lets through.
pub async fn accept_with<S>(
    stream: S,
    config: Config,
    policy: Arc<ServerPolicy>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_hdr_with(stream, config, policy, |_| Ok(Accept::new())).await
}

/// Server: run the opening handshake, and let `decide` answer the request the policy let
/// through: `Ok(Accept)` (a subprotocol, extra headers such as `Set-Cookie`) or `Err(Response)`
/// to refuse it (401, 403, a redirect), which is sent before this returns
/// [`Error::Rejected`]. A request that fails validation is answered with its status (400,
/// 403, 405, 426, 431; 408 past the handshake deadline) and returns [`Error::Handshake`].
pub async fn accept_hdr_with<S, F>(
    stream: S,
    config: Config,
    policy: Arc<ServerPolicy>,
    decide: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Response>,
{
    let mut driver = Driver::new(stream, Connection::server_with_policy(config, policy));
    let mut decide = Some(decide);
    loop {
        let step = match driver.conn.poll_event() {
            None => None,
            // The machine reports the request once, and the handshake ends with its answer.
            Some(Event::HandshakeRequest(request)) => {
                let decide = decide.take().expect("the upgrade request is reported once");
                Some(Step::Decided(decide(request)))
            }
            // A policy serving plain HTTP here: the adapter serves WebSocket only. The 426 of a
            // request without the WebSocket version, naming the protocol to upgrade to
            // (RFC 9110 §15.5.22).
            Some(Event::HttpRequest(_)) => {
                Some(Step::Decided(Err(RequestError::UnsupportedVersion
                    .response()
                    .header("Upgrade", "websocket"))))
            }
            Some(Event::Open(_)) => Some(Step::Open),
            Some(Event::HandshakeFailed(e)) => Some(Step::Failed(Error::Handshake(e))),
            Some(_) => Some(Step::Failed(Error::AbnormalClosure)),
        };
        match step {
            None => progress(&mut driver).await?,
            Some(Step::Decided(Ok(accept))) => {
                if let Err(e) = driver.conn.accept(accept) {
                    // The application's choice cannot be sent (a subprotocol the client did
                    // not offer, an invalid header): the client is refused, the caller told.
                    let _ = driver.conn.reject(Response::new(500));
                    finish(&mut driver).await;
                    return Err(Error::Usage(e));
                }
            }
            Some(Step::Decided(Err(response))) => {
                let status = response.clone();
                driver.conn.reject(response)?;
                finish(&mut driver).await;
                return Err(Error::Rejected(Box::new(status)));
            }
            Some(Step::Open) => {
                // The 101 goes out now: a server that sends nothing first would leave the
                // client waiting.
                std::future::poll_fn(|cx| {
                    driver.register(driver::Slot::Send, cx);
                    driver.poll_write_out()
                })
                .await?;
                return Ok(WebSocketStream::from_driver(driver));
            }
            Some(Step::Failed(e)) => {
                finish(&mut driver).await;
                return Err(e);
            }
        }
    }
}

/// What the handshake's latest event asks for.
enum Step {
    Decided(Result<Accept, Response>),
    Open,
    Failed(Error),
}

/// Client: connect to a `ws://` URL over TCP and run the opening handshake with the default
/// [`Config`]. `wss://` is [`Error::TlsRequired`]: see the module documentation.
pub async fn connect(url: &str) -> Result<(WebSocketStream<TcpStream>, Negotiated), Error> {
    let request = ClientRequest::from_url(url).map_err(Error::Url)?;
    if request.is_secure() {
        return Err(Error::TlsRequired);
    }
    let tcp = TcpStream::connect((request.host(), request.effective_port())).await?;
    // Frames are written whole; waiting to coalesce them only adds latency.
    tcp.set_nodelay(true)?;
    connect_with(tcp, &request).await
}

/// Client: run the opening handshake for `request` on `stream` (TCP, TLS, in-memory), with
/// the default [`Config`].
pub async fn connect_with<S>(
    stream: S,
    request: &ClientRequest,
) -> Result<(WebSocketStream<S>, Negotiated), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    connect_with_config(stream, request, Config::default()).await
}

/// Client: [`connect_with`] with these limits, deadlines and (feature `deflate`) the
/// permessage-deflate offer. A non-101 answer is [`Error::Rejected`] with the response.
pub async fn connect_with_config<S>(
    stream: S,
    request: &ClientRequest,
    config: Config,
) -> Result<(WebSocketStream<S>, Negotiated), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut driver = Driver::new(stream, Connection::client(request, config));
    loop {
        let outcome = match driver.conn.poll_event() {
            None => None,
            Some(Event::Open(negotiated)) => Some(Ok(negotiated.clone())),
            Some(Event::HandshakeFailed(e)) => Some(Err(Error::Handshake(e))),
            Some(Event::Rejected(r)) => Some(Err(Error::Rejected(Box::new(r.clone())))),
            Some(_) => Some(Err(Error::AbnormalClosure)),
        };
        match outcome {
            None => progress(&mut driver).await?,
            Some(Ok(negotiated)) => return Ok((WebSocketStream::from_driver(driver), negotiated)),
            Some(Err(e)) => {
                finish(&mut driver).await;
                return Err(e);
            }
        }
    }
}

/// Drive the handshake's transport until the machine may have news.
async fn progress<S: AsyncRead + AsyncWrite + Unpin>(driver: &mut Driver<S>) -> Result<(), Error> {
    if driver.input_over() {
        // Nothing more can arrive, and the machine has nothing more to say.
        return Err(Error::AbnormalClosure);
    }
    std::future::poll_fn(|cx| {
        driver.register(driver::Slot::Recv, cx);
        driver.poll_io()
    })
    .await?;
    Ok(())
}

/// Write the failed handshake's answer and shut the transport down.
async fn finish<S: AsyncRead + AsyncWrite + Unpin>(driver: &mut Driver<S>) {
    std::future::poll_fn(|cx| {
        driver.register(driver::Slot::Send, cx);
        driver.poll_shutdown()
    })
    .await;
}
