//! The client side of the Autobahn TestSuite: echo every message of every case.
//!
//! ```text
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 AGENT
//! ```
//!
//! Start a fuzzing server first (`autobahn/run.sh client` does both). The client asks
//! `/getCaseCount`, runs each case on `/runCase?case=N&agent=AGENT` (echoing text and binary
//! messages until the server closes), then asks `/updateReports?agent=AGENT` so that the
//! server writes its reports. A blocking socket per connection is all it needs.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::ClientRequest;
use wsmachine::{Config, Connection, Event};

/// A case that sends nothing for this long is given up (the suite's own timers are shorter).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 64 * 1024;

fn config() -> Config {
    // Autobahn 9.* sends messages of up to 16 MiB, in one frame or many. permessage-deflate is
    // offered unless `--no-deflate` is given (cases 12.* and 13.* need it). The offer says
    // `client_no_context_takeover` so that a server may answer with every combination the 13.*
    // cases try (the suite's server grants that parameter only when it was offered); this
    // client then compresses each message with an empty window. Short messages are compressed
    // too (threshold 0), as the echo server does.
    let deflate = !std::env::args().any(|a| a == "--no-deflate");
    Config::default()
        .max_frame_size(16 << 20)
        .max_message_size(16 << 20)
        .deflate(deflate.then(|| {
            DeflateConfig::default()
                .no_context_takeover(true)
                .threshold(0)
        }))
}

/// What a connection left behind: the first text message, and the close code seen.
#[derive(Default)]
struct Outcome {
    first_text: Option<String>,
    close_code: Option<u16>,
}

/// Open a WebSocket connection to `url` and run it to its end, echoing messages if `echo`.
fn run(url: &str, echo: bool) -> io::Result<Outcome> {
    let request = ClientRequest::from_url(url)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{url}: {e}")))?;
    let mut stream = TcpStream::connect((request.host(), request.effective_port()))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut conn = Connection::client(&request, config());
    let mut outcome = Outcome::default();
    let mut text = String::new();
    let mut binary = Vec::new();

    loop {
        // Write what the machine queued (the request, echoes, Pongs, the Close).
        let out = conn.pending_output();
        if !out.is_empty() {
            stream.write_all(out)?;
            let n = out.len();
            conn.advance_output(n);
        }
        if conn.should_close_transport() {
            return Ok(outcome);
        }
        match stream.read(conn.receive_buffer(READ_CHUNK)) {
            Ok(0) => conn.receive_eof(),
            Ok(n) => conn.commit_received(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A peer that closes its socket with our last frames unread (or before our Close
            // echo arrives) makes its kernel answer with a reset: that too ends the transport,
            // and whatever was received before it has already been read.
            Err(e) if is_reset(&e) => conn.receive_eof(),
            Err(e) => return Err(e),
        }
        loop {
            // Copy the payload out: the event borrows the connection.
            let (is_text, has_reply) = match conn.poll_event() {
                None => break,
                Some(Event::Text(t)) => {
                    if outcome.first_text.is_none() {
                        outcome.first_text = Some(t.to_owned());
                    }
                    text.clear();
                    text.push_str(t);
                    (true, echo)
                }
                Some(Event::Binary(b)) => {
                    binary.clear();
                    binary.extend_from_slice(b);
                    (false, echo)
                }
                Some(Event::Close { code, .. }) => {
                    outcome.close_code = Some(code);
                    (false, false)
                }
                Some(Event::Rejected(r)) => {
                    let status = r.status();
                    return Err(io::Error::other(format!("{url}: refused with {status}")));
                }
                Some(Event::HandshakeFailed(e)) => {
                    return Err(io::Error::other(format!("{url}: {e}")));
                }
                // Pings are answered by the machine; a protocol error has queued its Close.
                Some(_) => (false, false),
            };
            if has_reply {
                let sent = if is_text {
                    conn.send_text(&text)
                } else {
                    conn.send_binary(&binary)
                };
                if let Err(e) = sent {
                    eprintln!("autobahn_client: {url}: {e}");
                }
            }
        }
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--no-deflate")
        .collect();
    let [base, agent] = args.as_slice() else {
        eprintln!("usage: autobahn_client ws://HOST:PORT AGENT [--no-deflate]");
        return ExitCode::from(2);
    };
    let base = base.trim_end_matches('/');

    let count = match run(&format!("{base}/getCaseCount"), false) {
        Ok(Outcome {
            first_text: Some(t),
            ..
        }) => match t.trim().parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("autobahn_client: case count {t:?} is not a number");
                return ExitCode::FAILURE;
            }
        },
        Ok(_) => {
            eprintln!("autobahn_client: no case count received");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("autobahn_client: getCaseCount: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("autobahn_client: {count} cases");

    for case in 1..=count {
        match run(&format!("{base}/runCase?case={case}&agent={agent}"), true) {
            Ok(o) => println!("case {case}: close code {:?}", o.close_code),
            // The server grades the case; a broken connection is one of its possible outcomes.
            Err(e) => println!("case {case}: {e}"),
        }
    }

    // The server answers with 101 and then drops the connection without a Close: that is
    // its way of finishing, not an error.
    match run(&format!("{base}/updateReports?agent={agent}"), false) {
        Ok(_) => println!("autobahn_client: reports updated"),
        Err(e) => println!("autobahn_client: updateReports ended with: {e}"),
    }
    ExitCode::SUCCESS
}
