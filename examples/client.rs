//! A line-oriented WebSocket client: each stdin line is sent as a text message, and what comes
//! back is printed.
//!
//! ```text
//! cargo run --example echo_server &
//! cargo run --example client -- ws://127.0.0.1:9001/
//! ```
//!
//! End of input (Ctrl-D, or the end of a pipe) starts the closing handshake once the server has
//! been quiet for half a second, so that the replies still due to the last lines are printed
//! (`echo hi | client ws://…` shows the echo: a server sends no data after it received Close).
//! A thread reads stdin; the main thread owns the socket and the [`Connection`], reading with a
//! short timeout so that it can pick up typed lines in between.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ClientRequest;
use wsmachine::{Config, Connection, Event};

fn main() -> ExitCode {
    let deflate = !std::env::args().any(|a| a == "--no-deflate");
    let Some(url) = std::env::args().skip(1).find(|a| a != "--no-deflate") else {
        eprintln!("usage: client ws://HOST[:PORT]/PATH [--no-deflate]");
        return ExitCode::from(2);
    };
    match run(&url, deflate) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// After the end of input, how long the server must have been quiet before the Close goes out.
const LINGER: Duration = Duration::from_millis(500);

fn run(url: &str, deflate: bool) -> io::Result<()> {
    let request =
        ClientRequest::from_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut stream = TcpStream::connect((request.host(), request.effective_port()))?;
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    // permessage-deflate is offered unless `--no-deflate` is given.
    let config = Config::default().deflate(deflate.then(DeflateConfig::default));
    let mut conn = Connection::client(&request, config);

    // `None` marks the end of input.
    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = lines_tx.send(None);
    });
    let mut open = false;
    let mut input_done = false;
    let mut close_sent = false;
    // When the last line went out or the last byte came in.
    let mut last_activity = Instant::now();

    loop {
        let out = conn.pending_output();
        if !out.is_empty() {
            stream.write_all(out)?;
            let n = out.len();
            conn.advance_output(n);
        }
        if conn.should_close_transport() {
            return Ok(());
        }
        match stream.read(conn.receive_buffer(16 * 1024)) {
            Ok(0) => conn.receive_eof(),
            Ok(n) => {
                conn.commit_received(n);
                last_activity = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A server that closes before reading our Close echo causes a reset: an end too.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => conn.receive_eof(),
            Err(e) => return Err(e),
        }
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Open(n) => {
                    open = true;
                    match n.protocol() {
                        Some(p) => println!("[open, subprotocol {p}]"),
                        None => println!("[open]"),
                    }
                }
                Event::Text(t) => println!("< {t}"),
                Event::Binary(b) => println!("< [{} bytes of binary]", b.len()),
                Event::Close { code, reason } => println!("[closed {code} {reason}]"),
                Event::Rejected(r) => println!("[refused: {} {}]", r.status(), r.reason()),
                Event::HandshakeFailed(e) => println!("[handshake failed: {e}]"),
                Event::ProtocolError(e) => println!("[protocol error: {e}]"),
                _ => {}
            }
        }
        // Lines typed so far; they wait in the channel until the handshake is done.
        while open && !input_done {
            match lines.try_recv() {
                Ok(Some(line)) => {
                    if let Err(e) = conn.send_text(&line) {
                        println!("[not sent: {e}]");
                    }
                    last_activity = Instant::now();
                }
                Ok(None) | Err(TryRecvError::Disconnected) => input_done = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        if input_done && !close_sent && last_activity.elapsed() >= LINGER {
            close_sent = true;
            let _ = conn.close(1000, "bye");
        }
    }
}
