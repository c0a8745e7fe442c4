//! The example echo server as a black box on loopback: stalled clients, admission limits.
//!
//! `cargo test` builds the examples; these tests start `echo_server` from the same target
//! directory on an ephemeral port, and every loop is bounded in count and time.

// Clients whose randomness comes from the operating system, and times given as `Instant`s.
#![cfg(all(feature = "std", feature = "getrandom"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wsmachine::handshake::ClientRequest;
use wsmachine::{Config, Connection, Event};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example_binary() -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/echo_server
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("echo_server{}", std::env::consts::EXE_SUFFIX))
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(example_binary())
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("echo_server example built by cargo test");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "echo_server: listening on ws://127.0.0.1:PORT/"
    let addr = line
        .trim()
        .rsplit("ws://")
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    Server { child, addr }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// A real client: handshake, one echo, and the open connection back.
fn echo_once(addr: &str, text: &str) -> Result<(TcpStream, Connection), String> {
    let mut sock = connect(addr);
    let mut conn = Connection::client(&ClientRequest::new("127.0.0.1", "/"), Config::default());
    let mut buf = [0u8; 4096];
    let mut sent = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let out = conn.pending_output().to_vec();
        sock.write_all(&out).map_err(|e| e.to_string())?;
        conn.advance_output(out.len());
        let n = sock.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive(&buf[..n]);
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                Event::Open(_) => sent = true,
                Event::Text(t) => {
                    assert_eq!(t, text);
                    return Ok((sock, conn));
                }
                Event::Rejected(r) => return Err(format!("rejected {}", r.status())),
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        if sent {
            conn.send_text(text).unwrap();
            sent = false;
        }
    }
    Err("no echo in time".into())
}

/// Read until EOF (bounded); return what arrived.
fn read_to_close(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    got
}

#[test]
fn stalled_clients_do_not_block_a_fresh_one_and_get_408() {
    let server = start(&["--handshake-timeout", "2"]);
    // 64 clients that send half a request line and stall.
    let mut stalled: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = connect(&server.addr);
            s.write_all(b"GET /chat HT").unwrap();
            s
        })
        .collect();
    let (_sock, _conn) = echo_once(&server.addr, "still served").unwrap();
    // The fresh client was served while every stalled one was still pending: none has been
    // answered (or dropped) yet, so the echo did not wait for their deadline.
    for s in &stalled {
        s.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 1];
        let pending =
            matches!(s.peek(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(
            pending,
            "a stalled client was answered before the fresh echo finished"
        );
        s.set_nonblocking(false).unwrap();
    }
    // Each stalled client is answered 408 and dropped after the deadline.
    for s in stalled.iter_mut() {
        let got = read_to_close(s);
        assert!(
            got.starts_with(b"HTTP/1.1 408 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
}

/// With `cap` connections from this address open, the next one gets 503 with a Retry-After
/// while the open ones keep being served; once one leaves, a newcomer gets in.
fn assert_cap_holds(server: &Server, cap: usize) {
    let mut open: Vec<(TcpStream, Connection)> = (0..cap)
        .map(|i| echo_once(&server.addr, &format!("client {i}")).unwrap())
        .collect();
    let mut refused = connect(&server.addr);
    let got = read_to_close(&mut refused);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(text.contains("Retry-After: "), "{text}");
    // The admitted ones keep working.
    for (i, (sock, conn)) in open.iter_mut().enumerate() {
        conn.send_text(&format!("again {i}")).unwrap();
        let out = conn.pending_output().to_vec();
        sock.write_all(&out).unwrap();
        conn.advance_output(out.len());
        let mut buf = [0u8; 256];
        let n = sock.read(&mut buf).unwrap();
        conn.receive(&buf[..n]);
        match conn.poll_event() {
            Some(Event::Text(t)) => assert_eq!(t, format!("again {i}")),
            other => panic!("{other:?}"),
        }
    }
    // One leaves; its slot is freed once the server sees the close.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match echo_once(&server.addr, "newcomer") {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                assert!(e.contains("503"), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("slot never freed: {e}"),
        }
    }
}

#[test]
fn fourth_connection_from_one_address_gets_503_until_one_closes() {
    assert_cap_holds(&start(&["--max-conns-per-ip", "3"]), 3);
}

#[test]
fn plain_get_serves_the_page() {
    let server = start(&[]);
    let mut s = connect(&server.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let got = read_to_close(&mut s);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("new WebSocket("), "{text}");
}

#[test]
fn per_address_cap_holds_across_event_loops() {
    // Two loops, each with its own listener on the port: the kernel spreads the connections
    // over both (with eight, all on one loop has a chance of 1 in 128), and the one admission
    // table they share still counts eight and refuses the ninth; a slot freed on one loop is
    // free for a connection accepted by either.
    assert_cap_holds(&start(&["--threads", "2", "--max-conns-per-ip", "8"]), 8);
}
