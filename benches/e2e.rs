//! End to end on loopback: server CPU time per echoed message.
//!
//! Each server runs in its own process pinned to CPU 0 (`taskset`), on a current-thread tokio
//! runtime (or its own mio loop for `echo_server`); a load generator in another process,
//! pinned to CPU 1, opens `CONNECTIONS` connections and keeps one message in flight on each:
//! send, wait for the echo, check it, send again. After a warm-up, the server's CPU time
//! (user + system, from `/proc/PID/schedstat`) over a fixed window is divided by the messages
//! echoed in it. Each server is measured in several rounds, the servers taking turns (the
//! first one changing every round), and its row is the median round: on a shared machine one
//! window can be a quarter off the next. Compression is off everywhere (the peers have none).
//!
//! Servers, one task per connection, each echoing every text and binary message:
//! * `wsmachine_tokio`: `wsmachine::tokio::accept_with`, then `recv`/`send`;
//! * `tokio_tungstenite`: `accept_async`, then the `Stream`/`Sink`;
//! * `fastwebsockets`: the upgrade parsed and answered by hand (fastwebsockets leaves the
//!   handshake to an HTTP library), then `read_frame`/`write_frame` through a
//!   `FragmentCollector`;
//! * `floor`: a hand-written tokio loop doing only what an echo needs (the same hand-made
//!   handshake, then header, unmask, UTF-8, one write per read): the CPU no library can
//!   go below with the same system calls;
//! * `echo_server`: the repository's mio example (`--no-deflate`, admission opened for one
//!   address), when `target/release/examples/echo_server` is built.
//!
//! `cargo bench --bench e2e --features tokio` prints a table and writes `target/e2e.json`
//! (read by `scripts/bench_table.py`; `scripts/bench.sh --e2e` runs it and replaces only its
//! table). `E2E_SECONDS` sets each round's measured window (default 2), `E2E_ROUNDS` the
//! rounds (default 5); `E2E_SERVERS=name,name` measures only those servers.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 100;
const SIZES: [usize; 2] = [20, 16 * 1024];
const WARM_UP: Duration = Duration::from_secs(1);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--serve") => serve(&args[1]),
        Some("--load") => load(
            args[1].parse().expect("address"),
            args[2].parse().expect("size"),
            Duration::from_secs_f64(args[3].parse().expect("seconds")),
            args[4].parse().expect("server pid"),
        ),
        // `cargo bench` passes `--bench` (and any filter): run everything.
        _ => drive(),
    }
}

// ----- the driver ----------------------------------------------------------------------------

/// One server at one message size: what each round measured, and the median round.
struct Row {
    server: &'static str,
    size: usize,
    /// The round whose CPU per message is the median of the rounds'.
    messages: u64,
    cpu_ns: u64,
    seconds: f64,
    /// Every round's server CPU per message, in nanoseconds, in the order measured.
    rounds: Vec<f64>,
}

/// Settings from the environment: `name` parsed, or `default`.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn drive() {
    let seconds: f64 = setting("E2E_SECONDS", 2.0);
    let rounds: usize = setting("E2E_ROUNDS", 5).max(1);
    let me = std::env::current_exe().expect("current_exe");
    let echo_server = example_binary(&me, "echo_server");
    let mut servers: Vec<&'static str> = vec![
        "wsmachine_tokio",
        "tokio_tungstenite",
        "fastwebsockets",
        "floor",
    ];
    if echo_server.is_some() {
        servers.push("echo_server");
    } else {
        eprintln!("e2e: target/release/examples/echo_server not built; its rows are left out");
    }
    // `E2E_SERVERS=a,b` measures only those.
    if let Ok(only) = std::env::var("E2E_SERVERS") {
        servers.retain(|s| only.split(',').any(|o| o == *s));
    }
    let mut rows = Vec::new();
    for size in SIZES {
        // (messages, cpu_ns) of each round, per server.
        let mut measured: Vec<Vec<(u64, u64)>> = vec![Vec::new(); servers.len()];
        for round in 0..rounds {
            // The servers take turns, the first one changing every round: a drift of the
            // machine's speed over the run falls on all of them, not on whichever comes first.
            for k in 0..servers.len() {
                let i = (k + round) % servers.len();
                let server = servers[i];
                let (messages, cpu) = measure(&me, echo_server.as_deref(), server, size, seconds);
                println!(
                    "{server:>18} {size:>6} B, round {}: {:>8.0} msg/s, server CPU {:.2} µs/msg",
                    round + 1,
                    messages as f64 / seconds,
                    cpu as f64 / messages as f64 / 1e3
                );
                measured[i].push((messages, cpu));
            }
        }
        for (server, runs) in servers.iter().zip(measured) {
            let row = median_row(server, size, seconds, runs);
            let (lo, hi) = row
                .rounds
                .iter()
                .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            println!(
                "{server:>18} {size:>6} B: median {:.2} µs/msg (rounds {:.2}–{:.2})",
                row.cpu_ns as f64 / row.messages as f64 / 1e3,
                lo / 1e3,
                hi / 1e3
            );
            rows.push(row);
        }
    }
    write_json(&rows, Path::new("target/e2e.json"));
}

/// The row of `server` from its rounds: the round with the median CPU per message (the
/// upper one of an even count).
fn median_row(server: &'static str, size: usize, seconds: f64, runs: Vec<(u64, u64)>) -> Row {
    let per_msg = |&(m, c): &(u64, u64)| c as f64 / m.max(1) as f64;
    let rounds: Vec<f64> = runs.iter().map(per_msg).collect();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| rounds[a].total_cmp(&rounds[b]));
    let (messages, cpu_ns) = runs[order[order.len() / 2]];
    Row {
        server,
        size,
        messages,
        cpu_ns,
        seconds,
        rounds,
    }
}

/// Start `server`, load it with messages of `size` bytes for `seconds` after the warm-up,
/// stop it; returns the messages echoed in the window and the server's CPU time over it.
fn measure(
    me: &Path,
    echo_server: Option<&Path>,
    server: &str,
    size: usize,
    seconds: f64,
) -> (u64, u64) {
    let (mut child, addr) = match server {
        "echo_server" => spawn_echo_server(echo_server.expect("listed only when built")),
        _ => spawn_self(me, &["--serve", server]),
    };
    let out = Command::new("taskset")
        .args(["-c", "1"])
        .arg(me)
        .args([
            "--load",
            &addr.to_string(),
            &size.to_string(),
            &seconds.to_string(),
            &child.id().to_string(),
        ])
        .output()
        .expect("run the load generator");
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "load generator against {server} failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(|f| f.parse().expect("numbers"))
        .collect();
    assert!(fields[0] > 0, "no message echoed by {server}");
    (fields[0], fields[1])
}

/// The example built beside this benchmark (`target/<profile>/examples/<name>`).
fn example_binary(me: &Path, name: &str) -> Option<PathBuf> {
    let profile_dir = me.parent()?.parent()?;
    let path = profile_dir.join("examples").join(name);
    path.exists().then_some(path)
}

/// Start this program as a server pinned to CPU 0; it prints its address.
fn spawn_self(me: &Path, args: &[&str]) -> (Child, SocketAddr) {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0"]).arg(me).args(args);
    spawn_and_read_addr(cmd, |line| line.parse().ok())
}

fn spawn_echo_server(path: &Path) -> (Child, SocketAddr) {
    // A free port: bind, read it, release it for the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let n = (2 * CONNECTIONS).to_string();
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0"]).arg(path).args([
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--no-deflate",
        "--max-conns-per-ip",
        &n,
        "--max-conns",
        &n,
        "--rate",
        "100000",
        "--burst",
        "100000",
    ]);
    spawn_and_read_addr(cmd, |line| {
        line.contains("127.0.0.1")
            .then(|| SocketAddr::from(([127, 0, 0, 1], port)))
    })
}

fn spawn_and_read_addr(
    mut cmd: Command,
    parse: impl Fn(&str) -> Option<SocketAddr>,
) -> (Child, SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(addr) = parse(&line) {
                    // Keep draining its output so that the server never blocks on a full pipe.
                    std::thread::spawn(move || for _ in lines.by_ref() {});
                    return (child, addr);
                }
            }
            _ => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not say where it listens");
}

fn write_json(rows: &[Row], path: &Path) {
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let rounds: Vec<String> = r.rounds.iter().map(|ns| format!("{ns:.1}")).collect();
        s += &format!(
            "  {{\"server\": \"{}\", \"size\": {}, \"messages\": {}, \"cpu_ns\": {}, \"seconds\": {}, \"connections\": {}, \"rounds_ns\": [{}]}}{}\n",
            r.server,
            r.size,
            r.messages,
            r.cpu_ns,
            r.seconds,
            CONNECTIONS,
            rounds.join(", "),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    s += "]\n";
    if let Err(e) = std::fs::write(path, s) {
        eprintln!("e2e: cannot write {}: {e}", path.display());
    }
}

/// CPU time the process has run, in nanoseconds (`/proc/PID/schedstat`, first field).
fn cpu_ns(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("read the server's schedstat")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

// ----- the load generator --------------------------------------------------------------------

/// Keep one message in flight on each of `CONNECTIONS` connections; after the warm-up, count
/// the echoes over `window` and the server's CPU time over the same window. Prints
/// "messages cpu_ns".
fn load(addr: SocketAddr, size: usize, window: Duration, server: u32) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wsmachine::tokio::Message;

    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    let counting = Rc::new(Cell::new(false));
    let count = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    local.block_on(&rt, async {
        let mut tasks = Vec::new();
        for i in 0..CONNECTIONS {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
            tcp.set_nodelay(true).expect("nodelay");
            let request = wsmachine::handshake::ClientRequest::new("127.0.0.1", "/");
            // No permessage-deflate offer: `Config::default` has none.
            let config = wsmachine::Config::default().max_message_size(1 << 20);
            let (mut ws, _) = wsmachine::tokio::connect_with_config(tcp, &request, config)
                .await
                .expect("handshake");
            let (counting, count, stop) = (counting.clone(), count.clone(), stop.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let msg = if size <= 125 {
                    Message::text("x".repeat(size - 1) + &(i % 10).to_string())
                } else {
                    Message::binary((0..size).map(|j| (i + j) as u8).collect::<Vec<u8>>())
                };
                while !stop.get() {
                    ws.send(msg.clone()).await.expect("send");
                    let echo = ws.recv().await.expect("echo").expect("echo");
                    assert_eq!(echo, msg, "the echo differs from the message");
                    if counting.get() {
                        count.set(count.get() + 1);
                    }
                }
                let _ = ws.close(None).await;
            }));
        }
        tokio::time::sleep(WARM_UP).await;
        let cpu0 = cpu_ns(server);
        counting.set(true);
        tokio::time::sleep(window).await;
        counting.set(false);
        let cpu1 = cpu_ns(server);
        stop.set(true);
        let messages = count.get();
        println!("{messages} {}", cpu1 - cpu0);
        let _ = std::io::stdout().flush();
        // Let the connections finish their last round trip and close; do not wait long.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
    });
}

// ----- the servers ---------------------------------------------------------------------------

fn serve(which: &str) {
    let rt = runtime();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("address"));
        let _ = std::io::stdout().flush();
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            match which {
                "wsmachine_tokio" => tokio::task::spawn_local(wsmachine_echo(tcp)),
                "tokio_tungstenite" => tokio::task::spawn_local(tungstenite_echo(tcp)),
                "fastwebsockets" => tokio::task::spawn_local(fastwebsockets_echo(tcp)),
                "floor" => tokio::task::spawn_local(floor_echo(tcp)),
                other => panic!("no server {other}"),
            };
        }
    });
}

async fn wsmachine_echo(tcp: tokio::net::TcpStream) {
    use std::sync::Arc;
    let config = wsmachine::Config::default().max_message_size(1 << 20);
    let policy = Arc::new(wsmachine::handshake::ServerPolicy::default());
    let Ok(mut ws) = wsmachine::tokio::accept_with(tcp, config, policy).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.recv().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

async fn tungstenite_echo(tcp: tokio::net::TcpStream) {
    use futures_util::{SinkExt, StreamExt};
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

/// Read an upgrade request up to the end of its head (the client sends nothing more before
/// the 101) and answer it with a 101 and the accept key: the handshake done by hand, for the
/// servers that leave it to an HTTP library.
async fn hand_handshake(tcp: &mut tokio::net::TcpStream) -> Option<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let key = text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })?;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    tcp.write_all(response.as_bytes()).await.ok()
}

async fn fastwebsockets_echo(mut tcp: tokio::net::TcpStream) {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Role, WebSocket};
    if hand_handshake(&mut tcp).await.is_none() {
        return;
    }
    let mut ws = WebSocket::after_handshake(tcp, Role::Server);
    ws.set_max_message_size(1 << 20);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let Ok(frame) = ws.read_frame().await else {
            return;
        };
        match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                let echo = Frame::new(true, frame.opcode, None, frame.payload);
                if ws.write_frame(echo).await.is_err() {
                    return;
                }
            }
            OpCode::Close => return,
            _ => {}
        }
    }
}

/// The floor: a hand-written loop with only the work an echo needs. Read into one buffer,
/// take each whole masked FIN data frame, unmask it, validate text, and write it back
/// unmasked with one write per read; anything else ends the connection. No limits, no
/// control frames, no close handshake.
async fn floor_echo(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wsmachine::__private::mask::apply_mask;
    if hand_handshake(&mut tcp).await.is_none() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let (mut start, mut end) = (0, 0);
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        if end == buf.len() {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if end == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
        }
        match tcp.read(&mut buf[end..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => end += n,
        }
        loop {
            let b = &buf[start..end];
            if b.len() < 2 {
                break;
            }
            let (b0, b1) = (b[0], b[1]);
            if b0 & 0xf0 != 0x80 || !matches!(b0 & 0x0f, 1 | 2) || b1 & 0x80 == 0 {
                return;
            }
            let (len, at) = match b1 & 0x7f {
                126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
                127 if b.len() >= 10 => {
                    let mut be = [0; 8];
                    be.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(be) as usize, 10)
                }
                126 | 127 => break,
                n => (n as usize, 2),
            };
            if b.len() < at + 4 + len {
                break;
            }
            let key = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            let payload = &mut buf[start + at + 4..start + at + 4 + len];
            apply_mask(payload, key, 0);
            if b0 & 0x0f == 1 && simdutf8::basic::from_utf8(payload).is_err() {
                return;
            }
            out.push(b0);
            match len {
                0..=125 => out.push(len as u8),
                126..=0xffff => {
                    out.push(126);
                    out.extend_from_slice(&(len as u16).to_be_bytes());
                }
                _ => {
                    out.push(127);
                    out.extend_from_slice(&(len as u64).to_be_bytes());
                }
            }
            out.extend_from_slice(payload);
            start += at + 4 + len;
        }
        if start == end {
            (start, end) = (0, 0);
        }
        if !out.is_empty() {
            if tcp.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}
