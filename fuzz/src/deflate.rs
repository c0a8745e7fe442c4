//! The connection with permessage-deflate negotiated (RFC 7692), driven by an arbitrary program:
//! the fuzzer shared by `connection_server_deflate` and `connection_client_deflate`.
//!
//! The machine under test (of the role given) and its peer (the other role) open through a real
//! handshake, both configured with the settings the first byte picks. Then each operation is
//! one byte (its kind) and its arguments:
//!
//! * raw bytes from the peer, in one read (through `receive` or the lent buffer);
//! * one frame built from the input: any FIN, RSV bits and opcode, any payload (masked when the
//!   peer is a client), so RSV1 on any frame and hostile DEFLATE data (invalid codes, distances
//!   beyond the window, stored blocks with bad lengths, bombs) are a few bytes away;
//! * a message the peer machine really sends (compressed by its compressor, in one frame or in
//!   pieces), delivered in two reads, optionally with one byte changed or cut short;
//! * the machine's own sends (text, binary, fragments), which its compressor takes;
//! * the machine's output carried to the peer, which must accept all of it;
//! * `release_buffers`, and the end of the transport.
//!
//! Checked after every operation: nothing panics; every message delivered, whole or as the sum
//! of its streamed pieces, is at most `max_message_size`; the output the peer's bytes cause is
//! at most three times their length plus a Close, whatever they inflate to, and a local send
//! adds at most its length plus DEFLATE's stored-block overhead; the buffers stay within a
//! bound derived from the limits (plus the two zlib-rs streams); the peer never sees a protocol
//! error in what the machine wrote. While only the peer's own intact messages have arrived,
//! each is delivered exactly as sent, and while only intact output reached the peer, it
//! receives exactly what the machine sent.

use std::collections::VecDeque;

use crate::{Input, MAX_FRAME, MAX_MESSAGE};
use wsmachine::__private::rng::FixedMasks;
use wsmachine::deflate::DeflateConfig;
use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Delivery, Event, MessageKind, Role, State};

/// The most both zlib-rs streams of one side can hold: window 15, memLevel 9 (494,720 bytes)
/// and the inflater (47,552 bytes), with room to spare.
const STREAMS: usize = 600 * 1024;

/// Both sides' settings, from the flags byte.
fn deflate_config(flags: u8) -> DeflateConfig {
    let window = 8 + (flags >> 3) % 8;
    DeflateConfig::default()
        .window_bits(window)
        .peer_window_bits(window)
        .no_context_takeover(flags & 2 != 0)
        .peer_no_context_takeover(flags & 4 != 0)
        .mem_level(if flags & 0x40 != 0 { 1 } else { 5 })
        .threshold(if flags & 0x80 != 0 { 0 } else { 64 })
}

/// Move all of `from`'s output into `to`.
fn carry(from: &mut Connection, to: &mut Connection) -> Vec<u8> {
    let out = from.pending_output().to_vec();
    from.advance_output(out.len());
    to.receive(&out);
    out
}

/// Open the machine of `role` and its peer through the opening handshake.
fn open(role: Role, flags: u8) -> (Connection, Connection) {
    let d = deflate_config(flags);
    let delivery = if flags & 1 == 0 {
        Delivery::Whole
    } else {
        Delivery::Streaming
    };
    let config = Config::default()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .delivery(delivery)
        .deflate(Some(d));
    // The peer takes whatever the machine may send: its limits are not under test.
    let peer_config = Config::default()
        .max_frame_size(1 << 20)
        .max_message_size(1 << 20)
        .deflate(Some(d));
    let (client_config, server_config) = match role {
        Role::Client => (config, peer_config),
        Role::Server => (peer_config, config),
    };
    let request = ClientRequest::new("example.com", "/").key([7; 16]);
    let mut client = Connection::client(&request, client_config);
    client.set_mask_source(Box::new(FixedMasks::new(vec![[1, 2, 3, 4], [9, 8, 7, 6]])));
    let mut server = Connection::server(server_config);
    carry(&mut client, &mut server);
    assert!(matches!(
        server.poll_event(),
        Some(Event::HandshakeRequest(_))
    ));
    server.accept(Accept::new()).expect("accept");
    assert!(matches!(server.poll_event(), Some(Event::Open(_))));
    carry(&mut server, &mut client);
    match client.poll_event() {
        Some(Event::Open(n)) => assert_eq!(n.extensions()[0].name, "permessage-deflate"),
        other => panic!("{other:?}"),
    }
    match role {
        Role::Client => (client, server),
        Role::Server => (server, client),
    }
}

/// A message as its receiver should see it.
#[derive(Debug, PartialEq)]
struct Message {
    text: bool,
    payload: Vec<u8>,
}

/// What the machine delivered, checked as it comes.
#[derive(Default)]
struct Delivered {
    /// Bytes of the message being streamed so far.
    streamed: usize,
    /// The message being streamed, kept while messages are compared.
    pieces: Vec<u8>,
    /// Complete messages, while compared.
    messages: Vec<Message>,
}

/// Poll every event of the machine: limits checked, messages collected.
fn drain(conn: &mut Connection, seen: &mut Delivered, compare: bool) {
    for _ in 0..100_000 {
        let Some(event) = conn.poll_event() else {
            return;
        };
        match event {
            Event::Text(t) => {
                assert!(t.len() <= MAX_MESSAGE, "{} bytes delivered", t.len());
                if compare {
                    seen.messages.push(Message {
                        text: true,
                        payload: t.as_bytes().to_vec(),
                    });
                }
            }
            Event::Binary(b) => {
                assert!(b.len() <= MAX_MESSAGE, "{} bytes delivered", b.len());
                if compare {
                    seen.messages.push(Message {
                        text: false,
                        payload: b.to_vec(),
                    });
                }
            }
            Event::Data {
                data,
                text,
                message_finished,
            } => {
                seen.streamed += data.len();
                assert!(
                    seen.streamed <= MAX_MESSAGE,
                    "{} bytes of one message streamed",
                    seen.streamed
                );
                if compare {
                    seen.pieces.extend_from_slice(data);
                }
                if message_finished {
                    seen.streamed = 0;
                    if compare {
                        let payload = std::mem::take(&mut seen.pieces);
                        seen.messages.push(Message { text, payload });
                    }
                }
            }
            Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= 125),
            Event::Close { reason, .. } => assert!(reason.len() <= 123),
            Event::ProtocolError(_) => {
                seen.streamed = 0;
                seen.pieces.clear();
            }
            _ => {}
        }
    }
    panic!("poll_event did not run dry");
}

/// The peer's events: it must never see a protocol error in what the machine wrote.
fn drain_peer(peer: &mut Connection, got: &mut Vec<Message>, compare: bool) {
    while let Some(event) = peer.poll_event() {
        match event {
            Event::ProtocolError(e) => panic!("the machine's output is invalid: {e:?}"),
            Event::Text(t) if compare => got.push(Message {
                text: true,
                payload: t.as_bytes().to_vec(),
            }),
            Event::Binary(b) if compare => got.push(Message {
                text: false,
                payload: b.to_vec(),
            }),
            _ => {}
        }
    }
}

/// One frame: FIN and RSV from `head`'s high nibble, its opcode from the low one; masked with
/// a fixed key when the sender is a client.
fn frame(head: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![head];
    let m = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(m | len as u8);
    } else {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let key = [0x5a, 0x01, 0xc3, 0x7e];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Feed `bytes` to the machine in one read, through `receive` or the lent buffer.
fn feed(conn: &mut Connection, bytes: &[u8], lent: bool) {
    if lent {
        conn.receive_buffer(bytes.len())[..bytes.len()].copy_from_slice(bytes);
        conn.commit_received(bytes.len());
    } else {
        conn.receive(bytes);
    }
}

/// Run one program against the machine of `role`.
pub fn run(role: Role, data: &[u8]) {
    let mut input = Input { data };
    let flags = input.byte().unwrap_or(0);
    let (mut conn, mut peer) = open(role, flags);
    let masked_in = role == Role::Server;

    let mut seen = Delivered::default();
    // The peer's intact messages not yet delivered, while only such messages have arrived.
    let mut sent_by_peer: Option<VecDeque<Message>> = Some(VecDeque::new());
    // The machine's messages not yet received by the peer, while its output reached the peer
    // intact and in order.
    let mut sent_by_conn: Option<Vec<Message>> = Some(Vec::new());
    let mut got_by_peer: Vec<Message> = Vec::new();
    // A fragmented message the machine is sending: its kind and bytes so far.
    let mut sending: Option<(bool, Vec<u8>)> = None;
    let mut largest_read = 0usize;

    while let Some(op) = input.byte() {
        let pending_before = conn.pending_output().len();
        // The most this operation may add to the output.
        let mut may_add = 0usize;
        match op % 8 {
            0 => {
                // Raw bytes from the peer.
                let n = input.byte().unwrap_or(0) as usize * (1 + (op as usize >> 5));
                let chunk = input.bytes(n);
                largest_read = largest_read.max(chunk.len());
                feed(&mut conn, chunk, op & 0x10 != 0);
                may_add = 3 * chunk.len() + 256;
                sent_by_peer = None;
            }
            1 => {
                // One frame built from the input.
                let head = input.byte().unwrap_or(0xc1);
                let n = input.byte().unwrap_or(0) as usize * (1 + (op as usize >> 5));
                let wire = frame(head, input.bytes(n), masked_in);
                largest_read = largest_read.max(wire.len());
                feed(&mut conn, &wire, op & 0x10 != 0);
                may_add = 3 * wire.len() + 256;
                sent_by_peer = None;
            }
            2 | 3 => {
                // A message the peer sends, possibly damaged on the way.
                let b = input.byte().unwrap_or(0);
                let n = input.byte().unwrap_or(0) as usize * (1 + (b as usize & 0x1f));
                let body = input.bytes(n);
                let text = b & 0x20 != 0;
                let payload = if text {
                    String::from_utf8_lossy(body).into_owned().into_bytes()
                } else {
                    body.to_vec()
                };
                let ok = if b & 0x40 != 0 && payload.len() >= 2 {
                    // In two fragments with a Ping between.
                    let kind = if text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    // Text pieces may split a code point: only the message must be UTF-8.
                    let cut = payload.len() / 2;
                    peer.send_fragment(kind, &payload[..cut], false).is_ok()
                        && peer.send_ping(b"p").is_ok()
                        && peer.send_fragment(kind, &payload[cut..], true).is_ok()
                } else if text {
                    peer.send_text(std::str::from_utf8(&payload).expect("lossy"))
                        .is_ok()
                } else {
                    peer.send_binary(&payload).is_ok()
                };
                let mut wire = peer.pending_output().to_vec();
                let written = wire.len();
                peer.advance_output(written);
                if op % 8 == 3 && !wire.is_empty() {
                    // Damaged: one byte changed, or the message cut short.
                    let at = input.byte().unwrap_or(0) as usize * wire.len() / 256;
                    let x = input.byte().unwrap_or(1);
                    if x == 0 {
                        wire.truncate(at);
                    } else {
                        wire[at] ^= x;
                    }
                    sent_by_peer = None;
                } else if ok && payload.len() <= MAX_MESSAGE {
                    if let Some(q) = &mut sent_by_peer {
                        q.push_back(Message { text, payload });
                    }
                } else {
                    sent_by_peer = None;
                }
                let cut = input.byte().unwrap_or(0) as usize * wire.len() / 256;
                largest_read = largest_read.max(wire.len());
                feed(&mut conn, &wire[..cut], op & 0x10 != 0);
                drain(&mut conn, &mut seen, sent_by_peer.is_some());
                feed(&mut conn, &wire[cut..], op & 0x80 != 0);
                may_add = 3 * wire.len() + 256;
            }
            4 | 5 => {
                // The machine sends: a message or a piece of one.
                let b = input.byte().unwrap_or(0);
                let n = input.byte().unwrap_or(0) as usize * (1 + (b as usize & 0x0f));
                let body = input.bytes(n);
                let text = b & 0x20 != 0;
                let payload = if text {
                    String::from_utf8_lossy(body).into_owned().into_bytes()
                } else {
                    body.to_vec()
                };
                let kind = if text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                may_add = payload.len() + payload.len() / 1000 + 128;
                if op % 8 == 4 {
                    let sent = if text {
                        conn.send_text(std::str::from_utf8(&payload).expect("lossy"))
                    } else {
                        conn.send_binary(&payload)
                    };
                    if sent.is_ok()
                        && let Some(q) = &mut sent_by_conn
                    {
                        q.push(Message { text, payload });
                    }
                } else {
                    let fin = b & 0x40 != 0;
                    if conn.send_fragment(kind, &payload, fin).is_ok() {
                        let (_, so_far) = sending.get_or_insert((text, Vec::new()));
                        so_far.extend_from_slice(&payload);
                        if fin {
                            let (text, payload) = sending.take().expect("a message");
                            if let Some(q) = &mut sent_by_conn {
                                q.push(Message { text, payload });
                            }
                        }
                    }
                }
            }
            6 => {
                // The machine's output reaches the peer (all of it, or the first bytes of it).
                let b = input.byte().unwrap_or(0);
                let pending = conn.pending_output();
                let n = if b & 1 == 0 {
                    pending.len()
                } else {
                    b as usize * pending.len() / 256
                };
                peer.receive(&pending[..n]);
                conn.advance_output(n);
                drain_peer(&mut peer, &mut got_by_peer, sent_by_conn.is_some());
                if op & 0x80 != 0 {
                    conn.release_buffers();
                }
            }
            _ => {
                if op & 0x80 != 0 {
                    conn.receive_eof();
                } else {
                    conn.release_buffers();
                    peer.release_buffers();
                }
            }
        }
        drain(&mut conn, &mut seen, sent_by_peer.is_some());

        // The output grows by no more than this operation may cause.
        let pending = conn.pending_output().len();
        assert!(
            pending <= pending_before + may_add,
            "{role:?}: output grew from {pending_before} to {pending} (at most {may_add} more)"
        );
        // Buffers within what the limits allow, plus the streams.
        let bound = 4 * (MAX_FRAME + 14 + largest_read) + 4 * MAX_MESSAGE + 64 * 1024;
        assert!(
            conn.buffered_capacity() <= bound + 2 * pending + STREAMS,
            "{role:?}: {} buffered bytes",
            conn.buffered_capacity()
        );
        // The peer's intact messages, delivered as sent and in order.
        if let Some(q) = &mut sent_by_peer {
            for m in seen.messages.drain(..) {
                assert_eq!(
                    Some(m),
                    q.pop_front(),
                    "{role:?}: delivered message differs"
                );
            }
        } else {
            seen.messages.clear();
        }
        if let Some(q) = &sent_by_conn {
            assert!(got_by_peer.len() <= q.len());
            for (got, sent) in got_by_peer.iter().zip(q) {
                assert_eq!(got, sent, "{role:?}: the peer received another message");
            }
        }
        if conn.state() == State::Closed {
            conn.receive(b"\x81\x00");
            assert!(conn.poll_event().is_none());
        }
    }
}
