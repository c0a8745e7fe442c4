//! The machine on an async transport: one `Driver` owns the stream, the [`Connection`] and
//! the timer, and every poll (of a receiving or a sending task) moves all three as far as
//! they go — deadlines fired, output written, input read — before it returns.
//!
//! The transport and the timer are polled with one waker of the driver's own, which wakes
//! every task waiting on the connection (at most two: the receiving one and the sending one,
//! after `split`). A transport keeps one waker per direction, and a receiving task also writes
//! (Pongs, the Close echo) while a sending task writes too: with the tasks' own wakers, the
//! second registration would replace the first and a wake-up would be lost.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::time::Sleep;

use super::{CloseFrame, Error, Message};
use crate::{Connection, Event, MessageKind, State, UsageError, close};

/// Bytes of room lent for each read from the transport, in the machine's receive buffer. A
/// 16 KiB message is 16 392 bytes on the wire: read 16 KiB at a time it took two reads, and
/// the end-to-end echo three `recvfrom` calls per message (the last one finding nothing)
/// where the peers make two (`strace -c`, BENCHMARKS.md "Design measurements").
const READ_SIZE: usize = 64 * 1024;

/// Text and binary messages from this many bytes are sent without a copy: the machine queues
/// the header, and the payload is written from the message's own buffer by a vectored write
/// (`Connection::send_unbuffered_mut`, `send_unbuffered_string`). Smaller ones are copied into
/// the output, where several can go out in one write: below 16 KiB the copy cost no more than
/// the vectored write (BENCHMARKS.md, "Design measurements").
const UNBUFFERED_MIN: usize = 16 * 1024;

/// Which task is waiting.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot {
    /// The task receiving messages.
    Recv = 0,
    /// The task sending messages.
    Send = 1,
}

/// The tasks waiting on a connection; woken all together by the transport or the timer.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Waiters {
    fn register(&self, slot: Slot, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match &mut slots[slot as usize] {
            Some(w) if w.will_wake(waker) => {}
            other => *other = Some(waker.clone()),
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.slots.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// The time as the machine takes it: tokio's clock (paused and advanced in tests), as a
/// `std` instant.
pub(super) fn now() -> Instant {
    ::tokio::time::Instant::now().into_std()
}

/// A connection, its transport and its timer.
pub(super) struct Driver<S> {
    pub(super) io: S,
    pub(super) conn: Connection,
    /// Woken by the transport and the timer; wakes the waiting tasks.
    waiters: Arc<Waiters>,
    waker: Waker,
    /// The timer, created on first use (a `Sleep` needs the runtime), and the deadline it
    /// is set to.
    sleep: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    /// Bytes were written since the transport was last flushed.
    unflushed: bool,
    /// The transport's input ended.
    eof: bool,
    /// The transport was shut down, or failed: nothing more is read or written.
    done: bool,
    /// A message refused for the output bound, sent once the output has room.
    pub(super) stash: Option<Message>,
    /// The payloads of messages sent without a copy and not yet written whole, oldest first
    /// (in the machine's order: `unbuffered_payloads` counts them).
    held: VecDeque<Vec<u8>>,
    /// A message arriving in pieces (a connection built with streaming delivery).
    partial: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// Drive `conn` over `io`. Reports the time to the machine, which arms its deadlines.
    pub(super) fn new(io: S, mut conn: Connection) -> Self {
        conn.handle_timeout(now());
        let waiters = Arc::new(Waiters::default());
        Driver {
            io,
            conn,
            waker: Waker::from(waiters.clone()),
            waiters,
            sleep: None,
            armed: None,
            unflushed: false,
            eof: false,
            done: false,
            stash: None,
            held: VecDeque::new(),
            partial: Vec::new(),
        }
    }

    /// Note the task polling in `cx` as waiting in `slot`.
    pub(super) fn register(&self, slot: Slot, cx: &Context<'_>) {
        self.waiters.register(slot, cx.waker());
    }

    /// Fire the machine's deadlines that have passed, and set the timer to the next one.
    /// Returns whether one fired.
    fn poll_timer(&mut self) -> bool {
        let Some(deadline) = self.conn.poll_timeout() else {
            return false;
        };
        let now = now();
        if deadline <= now {
            self.conn.handle_timeout(now);
            return true;
        }
        let at = ::tokio::time::Instant::from_std(deadline);
        if self.armed != Some(deadline) || self.sleep.is_none() {
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(at),
                None => self.sleep = Some(Box::pin(::tokio::time::sleep_until(at))),
            }
            self.armed = Some(deadline);
        }
        let mut cx = Context::from_waker(&self.waker);
        let fired = self
            .sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(&mut cx).is_ready());
        if fired {
            // The timer says the deadline passed, whatever the clock's rounding.
            self.conn.handle_timeout(now.max(deadline));
        }
        fired
    }

    /// Write the machine's output and flush it. Ready once all of it is written.
    pub(super) fn poll_write_out(&mut self) -> Poll<std::io::Result<()>> {
        if self.done && self.output_left() {
            // Queued after the transport was shut down or failed: it cannot go out.
            return Poll::Ready(Err(std::io::ErrorKind::NotConnected.into()));
        }
        let mut cx = Context::from_waker(&self.waker);
        while self.output_left() && !self.done {
            let written = match self.held.front() {
                // The output queued before the oldest held payload, what is left of that
                // payload, and the output queued after it.
                Some(payload) => Pin::new(&mut self.io)
                    .poll_write_vectored(&mut cx, &self.conn.output_slices(payload)),
                None => Pin::new(&mut self.io).poll_write(&mut cx, self.conn.pending_output()),
            };
            match written {
                Poll::Ready(Ok(0)) => {
                    self.done = true;
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    self.conn.advance_output(n);
                    // Payloads written whole are dropped.
                    while self.held.len() > self.conn.unbuffered_payloads() {
                        self.held.pop_front();
                    }
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed && !self.done {
            match Pin::new(&mut self.io).poll_flush(&mut cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Whether output is left to write: queued bytes or held payloads.
    fn output_left(&self) -> bool {
        self.conn.queued_output() > 0 || !self.held.is_empty()
    }

    /// Read once, straight into the machine's receive buffer (uninitialised room, so nothing
    /// is zeroed or copied on the way: the machine unmasks in place as it hands frames out).
    /// Ready when input (or its end) arrived. When the transport has nothing, the machine gives
    /// back the buffers that hold nothing, so that a connection waiting for its peer holds no
    /// more than the machine's struct and what an unfinished frame needs.
    fn poll_read(&mut self) -> Poll<std::io::Result<()>> {
        let mut cx = Context::from_waker(&self.waker);
        // `READ_SIZE` bytes, but the rest of a large frame being received, however long, so
        // that the read ends with it (in one read, if the transport has it all): the next
        // frame then starts at the buffer's start, and the buffer stays about a frame long.
        let want = match self.conn.read_size_hint(usize::MAX) {
            usize::MAX => READ_SIZE,
            rest => rest,
        };
        let room = self.conn.receive_uninit(READ_SIZE.min(want));
        let n = want.min(room.len());
        let mut buf = ReadBuf::uninit(&mut room[..n]);
        match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n == 0 {
                    self.eof = true;
                    self.conn.receive_eof();
                } else {
                    // SAFETY: `ReadBuf` keeps its filled part initialised (safe code cannot
                    // de-initialise it), and the filled part starts the lent room.
                    #[allow(unsafe_code)]
                    unsafe {
                        self.conn.commit_uninit(n)
                    };
                }
                // The timers measure time since input was last seen.
                self.conn.handle_timeout(now());
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                self.done = true;
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                self.conn.release_buffers();
                Poll::Pending
            }
        }
    }

    /// Move the connection on: fire deadlines, write, read. Ready when the machine may have
    /// something new to report (input arrived, a deadline fired, the input ended) or the
    /// transport failed; Pending when it waits for the transport or the timer.
    pub(super) fn poll_io(&mut self) -> Poll<std::io::Result<()>> {
        if self.done {
            return Poll::Ready(Ok(()));
        }
        if self.poll_timer() {
            return Poll::Ready(Ok(()));
        }
        if let Poll::Ready(Err(e)) = self.poll_write_out() {
            return Poll::Ready(Err(e));
        }
        if self.eof {
            return Poll::Ready(Ok(()));
        }
        self.poll_read()
    }

    /// Write what is left, then shut the transport's write side down (errors are of no
    /// consequence then: the connection is over). Ready once done.
    pub(super) fn poll_shutdown(&mut self) -> Poll<()> {
        if !self.done {
            if self.poll_write_out().is_pending() {
                return Poll::Pending;
            }
            let mut cx = Context::from_waker(&self.waker);
            if Pin::new(&mut self.io).poll_shutdown(&mut cx).is_pending() {
                return Poll::Pending;
            }
            self.done = true;
        }
        Poll::Ready(())
    }

    /// Whether no more input can arrive: the transport ended or is gone.
    pub(super) fn input_over(&self) -> bool {
        self.eof || self.done
    }

    /// Whether the connection is over: the machine said to close the transport, or the
    /// transport is gone.
    fn over(&self) -> bool {
        self.done || self.conn.should_close_transport()
    }

    /// The next message received, driving the transport until one is ready; `None` once the
    /// connection is over and its transport shut down.
    pub(super) fn poll_recv(&mut self) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Some(item) = self.next_message() {
                return Poll::Ready(Some(item));
            }
            if self.over() || (self.eof && self.conn.state() == State::Closed) {
                return self.poll_shutdown().map(|()| None);
            }
            match self.poll_io() {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(Error::Io(e)))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The machine's next event as a message, or as the error that ended the connection.
    fn next_message(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let item = match self.conn.poll_event()? {
                Event::Text(t) => Ok(Message::Text(t.to_owned())),
                Event::Binary(b) => Ok(Message::Binary(b.to_vec())),
                Event::Data {
                    data,
                    text,
                    message_finished,
                } => {
                    self.partial.extend_from_slice(data);
                    if !message_finished {
                        continue;
                    }
                    let data = std::mem::take(&mut self.partial);
                    Ok(match text {
                        // Validated by the machine as it arrived; checked again rather than
                        // trusted, as a panic-free conversion.
                        true => match String::from_utf8(data) {
                            Ok(t) => Message::Text(t),
                            Err(_) => {
                                return Some(Err(Error::Protocol(
                                    crate::ProtocolError::InvalidUtf8,
                                )));
                            }
                        },
                        false => Message::Binary(data),
                    })
                }
                Event::Ping(p) => Ok(Message::Ping(p.to_vec())),
                Event::Pong(p) => Ok(Message::Pong(p.to_vec())),
                Event::Close { code, .. } if code == close::ABNORMAL => Err(Error::AbnormalClosure),
                Event::Close { code, .. } if code == close::NO_STATUS => Ok(Message::Close(None)),
                Event::Close { code, reason } => Ok(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.to_owned(),
                }))),
                Event::ProtocolError(e) => Err(Error::Protocol(e)),
                Event::HandshakeFailed(e) => Err(Error::Handshake(e)),
                Event::Rejected(r) => Err(Error::Rejected(Box::new(r.clone()))),
                // The handshake's events are taken by the functions that run it.
                _ => continue,
            };
            return Some(item);
        }
    }

    /// Queue `msg` in the machine, or give it back with the reason it was refused. A Close
    /// once the closing handshake has begun (either side sent Close) is already done: Ok.
    pub(super) fn queue(&mut self, msg: Message) -> Result<(), (UsageError, Message)> {
        let payload = match msg {
            Message::Binary(mut b) if self.sends_unbuffered(b.len()) => {
                let sent = self.check_held_room(b.len()).and_then(|()| {
                    self.conn
                        .send_unbuffered_mut(MessageKind::Binary, &mut b, true)
                });
                match sent {
                    Ok(()) => b,
                    Err(e) => return Err((e, Message::Binary(b))),
                }
            }
            Message::Text(t) if self.sends_unbuffered(t.len()) => {
                if let Err(e) = self.check_held_room(t.len()) {
                    return Err((e, Message::Text(t)));
                }
                match self.conn.send_unbuffered_string(t, true) {
                    Ok(bytes) => bytes,
                    Err((e, t)) => return Err((e, Message::Text(t))),
                }
            }
            msg => return self.queue_copy(&msg).map_err(|e| (e, msg)),
        };
        // Not empty: at least `UNBUFFERED_MIN` bytes, so the machine counts it as held too.
        self.held.push_back(payload);
        Ok(())
    }

    /// Whether a text or binary message of `len` bytes goes out without a copy: a large one
    /// that the extension stage leaves as it is.
    fn sends_unbuffered(&self, len: usize) -> bool {
        len >= UNBUFFERED_MIN && !self.conn.transforms(len)
    }

    /// Held payloads count against the output bound as queued bytes do, so that a slow peer
    /// still slows the sender down: refused as `send_*` would be when over it.
    fn check_held_room(&self, len: usize) -> Result<(), UsageError> {
        let limit = self.conn.config().max_output_buffer;
        let queued = self.queued_with_held();
        if queued > 0 && queued.saturating_add(len) > limit {
            return Err(UsageError::OutputFull { queued, limit });
        }
        Ok(())
    }

    /// Bytes queued in the machine and held here, not yet written (of a held payload partly
    /// written, what is left of it).
    pub(super) fn queued_with_held(&self) -> usize {
        self.conn.queued_output() + self.conn.unbuffered_bytes()
    }

    /// Queue `msg` in the machine, copied into its output.
    fn queue_copy(&mut self, msg: &Message) -> Result<(), UsageError> {
        match msg {
            Message::Text(t) => self.conn.send_text(t),
            Message::Binary(b) => self.conn.send_binary(b),
            Message::Ping(p) => self.conn.send_ping(p),
            Message::Pong(p) => self.conn.send_pong(p),
            Message::Close(frame) => match self.conn.state() {
                State::Open => match frame {
                    Some(f) => self.conn.close(f.code, &f.reason),
                    None => self.conn.close(close::NORMAL, ""),
                },
                State::Connecting => Err(UsageError::NotOpen),
                State::Closing | State::Closed => Ok(()),
            },
        }
    }

    /// Sink readiness: the stashed message, if any, is queued (writing output until it fits).
    pub(super) fn poll_ready(&mut self) -> Poll<Result<(), Error>> {
        loop {
            // Deadlines run for a connection that only sends, too.
            self.poll_timer();
            let Some(msg) = self.stash.take() else {
                return Poll::Ready(Ok(()));
            };
            match self.queue(msg) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err((UsageError::OutputFull { .. }, msg)) => {
                    self.stash = Some(msg);
                    match self.poll_write_out() {
                        Poll::Ready(Ok(())) if self.done => {
                            return Poll::Ready(Err(Error::Usage(UsageError::Closed)));
                        }
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err((e, _)) => return Poll::Ready(Err(Error::Usage(e))),
            }
        }
    }

    /// Sink: queue `msg`, or keep it for [`poll_ready`](Self::poll_ready) when the output has
    /// no room for it yet.
    pub(super) fn start_send(&mut self, msg: Message) -> Result<(), Error> {
        if self.stash.is_some() {
            // `poll_ready` was not awaited: the one slot is taken.
            return Err(Error::Usage(UsageError::OutputFull {
                queued: self.queued_with_held(),
                limit: self.conn.config().max_output_buffer,
            }));
        }
        match self.queue(msg) {
            Ok(()) => Ok(()),
            Err((UsageError::OutputFull { .. }, msg)) => {
                self.stash = Some(msg);
                Ok(())
            }
            Err((e, _)) => Err(Error::Usage(e)),
        }
    }

    /// Sink: everything sent so far is written and flushed.
    pub(super) fn poll_flush(&mut self) -> Poll<Result<(), Error>> {
        match self.poll_ready() {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        self.poll_write_out().map_err(Error::Io)
    }
}
