//! The core as a target without `std` drives it: fixed-size buffers, a tick counter for the
//! time and the application's own source of randomness.
//!
//! A client and a server machine talk through a "wire" of 256 bytes, read 64 bytes at a
//! time into a fixed array, the way a UART or a small TCP window behaves on a microcontroller.
//! The client sends messages larger than both, so that every frame is split across reads and
//! writes; the server echoes them; the client checks each echo, lets its keep-alive Ping go
//! out while idle, then closes. Time is a millisecond tick counter reported as
//! [`Timestamp`]s, and the client's key nonce and masking keys come from a [`MaskSource`] the
//! application supplies.
//!
//! Nothing here needs more of wsmachine than `default-features = false` gives (the example
//! itself runs on the host, so that `cargo run` shows it):
//!
//! ```sh
//! cargo run --example no_std_loop --no-default-features
//! ```
//!
//! `cargo test` runs it too (`test = true` in Cargo.toml).

use core::time::Duration;

use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Event, MaskSource, Timestamp};

/// The wire's capacity: what the transport can hold between the two sides.
const WIRE: usize = 256;
/// How much one read takes off the wire.
const READ: usize = 64;
/// Messages the client sends, and the largest one.
const MESSAGES: usize = 8;
const MAX_MESSAGE: usize = 300;
/// Ticks (milliseconds) the client stays idle after the last echo, so that keep-alive runs.
const IDLE_MS: u64 = 120;
/// The loop's bound: the conversation takes a few hundred ticks.
const MAX_TICKS: u64 = 5_000;

/// A bounded byte pipe in one direction, on a fixed array.
struct Wire {
    buf: [u8; WIRE],
    len: usize,
}

impl Wire {
    const fn new() -> Self {
        Wire {
            buf: [0; WIRE],
            len: 0,
        }
    }

    /// Move what fits of `from`'s output onto the wire.
    fn send_from(&mut self, from: &mut Connection) {
        let out = from.pending_output();
        let n = out.len().min(WIRE - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&out[..n]);
        self.len += n;
        from.advance_output(n);
    }

    /// One read of at most `READ` bytes into a fixed array, fed to `to`.
    fn deliver_to(&mut self, to: &mut Connection) {
        let mut read = [0u8; READ];
        let n = self.len.min(READ);
        read[..n].copy_from_slice(&self.buf[..n]);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        if n > 0 {
            to.receive(&read[..n]);
        }
    }
}

/// The application's randomness. It stands in for a device's hardware generator (or a CSPRNG
/// seeded from it) and is seeded with a constant only so that the example runs anywhere:
/// a real client's keys must be unpredictable (RFC 6455 §10.3).
struct DeviceRng(u64);

impl MaskSource for DeviceRng {
    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let word = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let [a, b, c, d, ..] = word.to_le_bytes();
        [a, b, c, d]
    }
}

/// Message `i`, written into `buf`: `len` bytes of one letter, longer than a read and, from
/// the third on, than the wire.
fn message(i: usize, buf: &mut [u8; MAX_MESSAGE]) -> &str {
    let len = 100 + i * 200 / MESSAGES;
    buf[..len].fill(b'a' + i as u8);
    core::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// What the conversation came to, for the checks at the end.
#[derive(Debug, Default)]
struct Outcome {
    echoes: usize,
    pongs: usize,
    close_code: Option<u16>,
    ticks: u64,
}

fn run() -> Outcome {
    // The client's key nonce and every masking key come from this source.
    let client_rng = DeviceRng(0x9e37_79b9_7f4a_7c15);
    let mut client = Connection::client_with_mask_source(
        &ClientRequest::new("device.local", "/echo"),
        Config::default().keepalive(Duration::from_millis(40), Duration::from_millis(40)),
        Box::new(client_rng),
    );
    let mut server = Connection::server(Config::default());
    let (mut up, mut down) = (Wire::new(), Wire::new());
    let mut sent = [0u8; MAX_MESSAGE];
    let mut echo = [0u8; MAX_MESSAGE];
    let mut outcome = Outcome::default();
    let mut idle_since = None;
    let mut server_closed_transport = false;

    for tick in 0..MAX_TICKS {
        outcome.ticks = tick;
        let now = Timestamp::from_millis(tick);
        client.handle_timeout(now);
        server.handle_timeout(now);

        up.send_from(&mut client);
        up.deliver_to(&mut server);
        while let Some(event) = server.poll_event() {
            match event {
                Event::HandshakeRequest(_) => {
                    server.accept(Accept::new()).expect("a fresh request")
                }
                Event::Text(text) => {
                    // Copy out of the machine's buffer (the event borrows it), then echo.
                    let n = text.len().min(MAX_MESSAGE);
                    echo[..n].copy_from_slice(&text.as_bytes()[..n]);
                    let reply = core::str::from_utf8(&echo[..n]).unwrap_or_default();
                    server.send_text(reply).expect("open");
                }
                _ => {}
            }
        }
        down.send_from(&mut server);
        if server.should_close_transport() && down.len == 0 && !server_closed_transport {
            // The server's transport closes once its output is on the wire.
            server_closed_transport = true;
            down.deliver_to(&mut client);
            client.receive_eof();
        }
        down.deliver_to(&mut client);
        while let Some(event) = client.poll_event() {
            match event {
                Event::Open(_) => client.send_text(message(0, &mut sent)).expect("open"),
                Event::Text(text) => {
                    assert_eq!(
                        text,
                        message(outcome.echoes, &mut sent),
                        "echo {}",
                        outcome.echoes
                    );
                    outcome.echoes += 1;
                    if outcome.echoes < MESSAGES {
                        client
                            .send_text(message(outcome.echoes, &mut sent))
                            .expect("open");
                    } else {
                        idle_since = Some(tick);
                    }
                }
                Event::Pong(_) => outcome.pongs += 1,
                Event::Close { code, .. } => outcome.close_code = Some(code),
                other => panic!("unexpected client event {other:?}"),
            }
        }
        if idle_since.is_some_and(|t| tick >= t + IDLE_MS) {
            idle_since = None;
            client.close(1000, "done").expect("open");
        }
        if client.should_close_transport() && server_closed_transport {
            break;
        }
    }
    outcome
}

/// The echoes came back intact and in order, keep-alive ran, the close was clean, in bound.
fn check(outcome: &Outcome) {
    assert_eq!(outcome.echoes, MESSAGES, "{outcome:?}");
    assert!(outcome.pongs >= 2, "keep-alive ran while idle: {outcome:?}");
    assert_eq!(outcome.close_code, Some(1000), "{outcome:?}");
    assert!(
        outcome.ticks < MAX_TICKS,
        "finished within the bound: {outcome:?}"
    );
}

fn main() {
    let outcome = run();
    check(&outcome);
    println!(
        "{} messages echoed through a {WIRE}-byte wire read {READ} bytes at a time, {} keep-alive \
         pongs, closed with {} after {} ms",
        outcome.echoes,
        outcome.pongs,
        outcome.close_code.unwrap_or(0),
        outcome.ticks
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_conversation_completes_through_fixed_buffers() {
        super::check(&super::run());
    }
}
