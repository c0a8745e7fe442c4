//! [`WebSocketStream`]: a connection over an async transport, received from with
//! [`recv`](WebSocketStream::recv) or as a `Stream`, sent to with
//! [`send`](WebSocketStream::send) or as a `Sink`, and [`split`](WebSocketStream::split)
//! into halves for two tasks.
//!
//! Both halves share one [`Driver`] behind a mutex that is held only while a poll runs,
//! never across an `.await`: each poll does the connection's work and returns. No task is
//! spawned, so any executor's tasks can use the halves and the transport need not be
//! `'static`; and there is no queue between the application and the machine, so the output
//! bound applies to what the application sends as it is. A driver task with channels would
//! add both a copy of every message and a second buffer to bound.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Driver, Slot};
use super::{CloseFrame, Error, Message};
use crate::handshake::Negotiated;
use crate::{Connection, State};

/// The state both halves share.
struct Shared<S> {
    driver: Mutex<Driver<S>>,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Driver<S>> {
        // A panic while the lock was held (in the application's waker, say) leaves the
        // driver as consistent as between two polls: carry on with it.
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A WebSocket connection over an async transport `S` (a `TcpStream`, a TLS stream, a
/// `tokio::io::DuplexStream`, hyper's `Upgraded` through its tokio adapter, …).
///
/// Receive with [`recv`](Self::recv) or as a `futures` `Stream` of
/// `Result<Message, Error>`; send with [`send`](Self::send) or as a `Sink<Message>`. The
/// machine's deadlines (handshake, keep-alive, closing handshake) run while a receive or a
/// send is pending, with tokio's timer. Ping are answered by the machine; the Close
/// handshake too: the stream ends (`None`) once it is complete and the transport shut down.
pub struct WebSocketStream<S> {
    shared: Arc<Shared<S>>,
}

impl<S> core::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocketStream").finish_non_exhaustive()
    }
}

/// Shared accessors of the whole stream and its halves.
macro_rules! accessors {
    () => {
        /// The connection's lifecycle state.
        pub fn state(&self) -> State {
            self.shared.lock().conn.state()
        }

        /// What the opening handshake settled (subprotocol, extensions), if it ran here.
        pub fn negotiated(&self) -> Option<Negotiated> {
            self.shared.lock().conn.negotiated().cloned()
        }

        /// Bytes queued and not yet written to the transport
        /// ([`Connection::queued_output`]), with the large messages sent without a copy
        /// that are not yet written whole.
        pub fn queued_output(&self) -> usize {
            self.shared.lock().queued_with_held()
        }

        /// Heap bytes the connection's buffers hold
        /// ([`Connection::buffered_capacity`]): 0 (without compression contexts) while the
        /// connection waits for its peer with nothing half-received or unsent, as the buffers
        /// are given back whenever a read finds nothing to read.
        pub fn buffered_capacity(&self) -> usize {
            self.shared.lock().conn.buffered_capacity()
        }
    };
}

/// The receiving side.
macro_rules! receiving {
    () => {
        /// The next message, or the error that ended the connection; `None` once the
        /// connection is over and the transport shut down. The same as `StreamExt::next`.
        ///
        /// A Ping is reported after its Pong was queued, the peer's Close after its echo was:
        /// keep receiving until `None` to let the closing handshake complete.
        pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
            std::future::poll_fn(|cx| poll_recv(&self.shared, cx)).await
        }
    };
}

/// The sending side.
macro_rules! sending {
    () => {
        /// Send `msg` and flush it to the transport. Waits while the output is at its bound
        /// ([`Config::max_output_buffer`](crate::Config::max_output_buffer)): a peer that
        /// reads slowly slows the sender down rather than growing its memory.
        ///
        /// `Message::Close` starts the closing handshake, and is Ok when it has already begun
        /// (this side closed, or the peer's Close arrived and was answered); then receive
        /// until `None` to see it complete.
        pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
            let shared = &self.shared;
            std::future::poll_fn(|cx| poll_ready(shared, cx)).await?;
            start_send(shared, msg)?;
            std::future::poll_fn(|cx| poll_flush(shared, cx)).await
        }

        /// Start (or, after the peer's Close, complete) the closing handshake: the same as
        /// `send(Message::Close(frame))`. Never an error once the peer has closed.
        pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
            self.send(Message::Close(frame)).await
        }

        /// Write and flush everything queued.
        pub async fn flush(&mut self) -> Result<(), Error> {
            std::future::poll_fn(|cx| poll_flush(&self.shared, cx)).await
        }
    };
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Drive `conn` over `stream`, in whatever state it is: built after an HTTP server
    /// framework did the handshake (by `upgrade::upgraded`, feature `http`, with what the
    /// handshake negotiated, or by [`Connection::from_upgraded`] when it negotiated nothing;
    /// the bytes read past the request fed by [`Connection::receive`]), or a handshake still
    /// to run (whose events `recv` skips). A connection with
    /// [`Delivery::Streaming`](crate::Delivery::Streaming) has its pieces reassembled.
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        Self::from_driver(Driver::new(stream, conn))
    }

    pub(super) fn from_driver(driver: Driver<S>) -> Self {
        WebSocketStream {
            shared: Arc::new(Shared {
                driver: Mutex::new(driver),
            }),
        }
    }

    receiving!();
    sending!();
    accessors!();

    /// Split into a sending and a receiving half, for two tasks (the order of
    /// `StreamExt::split`: sink first).
    pub fn split(self) -> (SendHalf<S>, RecvHalf<S>) {
        (
            SendHalf {
                shared: self.shared.clone(),
            },
            RecvHalf {
                shared: self.shared,
            },
        )
    }
}

/// The sending half of a [`WebSocketStream`]: [`send`](Self::send) or a `Sink<Message>`.
pub struct SendHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The receiving half of a [`WebSocketStream`]: [`recv`](Self::recv) or a `Stream`.
pub struct RecvHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S> core::fmt::Debug for SendHalf<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SendHalf").finish_non_exhaustive()
    }
}

impl<S> core::fmt::Debug for RecvHalf<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecvHalf").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SendHalf<S> {
    sending!();
    accessors!();

    /// Whether `other` is the receiving half split from the same stream.
    pub fn is_pair_of(&self, other: &RecvHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Put the halves back together; `Err` gives them back when they are not a pair.
    pub fn reunite(self, other: RecvHalf<S>) -> Result<WebSocketStream<S>, (Self, RecvHalf<S>)> {
        if !self.is_pair_of(&other) {
            return Err((self, other));
        }
        drop(other);
        Ok(WebSocketStream {
            shared: self.shared,
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> RecvHalf<S> {
    receiving!();
    accessors!();
}

fn poll_recv<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Message, Error>>> {
    let mut driver = shared.lock();
    driver.register(Slot::Recv, cx);
    driver.poll_recv()
}

fn poll_ready<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    let mut driver = shared.lock();
    driver.register(Slot::Send, cx);
    driver.poll_ready()
}

fn start_send<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    msg: Message,
) -> Result<(), Error> {
    shared.lock().start_send(msg)
}

fn poll_flush<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    let mut driver = shared.lock();
    driver.register(Slot::Send, cx);
    driver.poll_flush()
}

/// Sink close: what was sent before is flushed, then the closing handshake is started (or
/// found already begun) and its Close flushed.
fn poll_close<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    let mut driver = shared.lock();
    driver.register(Slot::Send, cx);
    match driver.poll_flush() {
        Poll::Ready(Ok(())) => {}
        other => return other,
    }
    // A Close is never refused for the output bound, and is Ok once closing has begun.
    driver
        .queue(Message::Close(None))
        .map_err(|(e, _)| Error::Usage(e))?;
    driver.poll_write_out().map_err(Error::Io)
}

macro_rules! stream_impl {
    ($t:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for $t<S> {
            type Item = Result<Message, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                poll_recv(&self.shared, cx)
            }
        }
    };
}

macro_rules! sink_impl {
    ($t:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for $t<S> {
            type Error = Error;

            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_ready(&self.shared, cx)
            }

            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                start_send(&self.shared, item)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_flush(&self.shared, cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_close(&self.shared, cx)
            }
        }
    };
}

stream_impl!(WebSocketStream);
stream_impl!(RecvHalf);
sink_impl!(WebSocketStream);
sink_impl!(SendHalf);
