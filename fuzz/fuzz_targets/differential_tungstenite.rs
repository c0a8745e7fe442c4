//! The same client bytes into a wsmachine server and a tungstenite server (its frame and
//! message layer, over an in-memory stream, after the handshake): both must deliver the same
//! messages, pings, pongs and Close, in the same order, and end the same way: a Close, or a
//! failure of the same class (protocol: 1002, invalid UTF-8: 1007, too big: 1009, or the input
//! ending without a Close: 1006).
//!
//! Both get the same limits (4096-byte frames, 16 KiB messages) and deliver whole messages.
//! The differences accepted, each because RFC 6455 leaves the choice open or because the two
//! report one outcome in two forms:
//!
//! * A Close whose code may not be sent on the wire (1004-1006, 1015, below 1000, unassigned
//!   ones): wsmachine fails the connection (1002); tungstenite hands the Close out with code
//!   1002 and reason "Protocol violation" in its place, and answers it so. Both close with 1002.
//! * Close code 1014 (Bad Gateway, in IANA's registry of codes, §11.7): wsmachine hands it
//!   out; tungstenite counts it among the codes that may not be sent (as above).
//! * A header that declares more than the frame limit and also breaks the protocol (a 64-bit
//!   length with its top bit set, a control frame over 125 bytes, …): tungstenite checks the
//!   size first (1009), wsmachine the protocol first (1002). Accepted when wsmachine fails at
//!   that header.
//! * A control frame whose length takes the 16- or 64-bit form, even for 125 bytes or less:
//!   wsmachine fails it at the header (1002: §5.5 caps control payloads at 125 bytes, which
//!   the 7-bit form holds, and §5.2 requires the minimal form); tungstenite reads the length.
//! * A Close with a code that may not be sent and a reason that is not UTF-8: wsmachine checks
//!   the code first (1002), tungstenite the reason (1007).
//! * A frame whose header alone breaks the protocol or a limit (a reserved opcode or bit, no
//!   mask, a control frame over 125 bytes or without FIN, a continuation out of place, a frame
//!   over the limit) or text that is already invalid UTF-8 before the frame ends: wsmachine
//!   fails as soon as it has read that much; tungstenite reads the whole frame first, so when
//!   the input ends inside that frame it reports the end of input instead. The target then
//!   completes the frame with zeros for tungstenite, which must fail the same way.
//!
//! The first input byte's low bit makes both read the input one byte at a time (wsmachine
//! polling its events after each); the rest is the client's bytes, frames only.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use tungstenite::protocol::{Message, Role as TRole, WebSocket, WebSocketConfig};
use tungstenite::{Error, error::ProtocolError as TProtocolError};
use wsmachine::{Config, Connection, Delivery, Event, ProtocolError, Role};

const MAX_FRAME: usize = 4096;
const MAX_MESSAGE: usize = 16 * 1024;

/// What a server reported, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A Close frame's code (1005 for none) and reason.
    Close(u16, String),
    /// wsmachine: a Close frame with a code that may not be sent.
    InvalidCloseCode,
    Failed(Class),
}

/// The close code a failure is reported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Protocol,
    Utf8,
    TooBig,
    /// The input ended without a Close.
    Ended,
}

fn wsmachine(input: &[u8], bytewise: bool) -> Vec<Item> {
    let config = Config::default()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .delivery(Delivery::Whole);
    let mut conn = Connection::from_upgraded(Role::Server, config);
    let mut items = Vec::new();
    let pieces: Vec<&[u8]> = if bytewise {
        input.chunks(1).collect()
    } else {
        vec![input]
    };
    // Each piece, then the end of input.
    for piece in pieces.into_iter().map(Some).chain([None]) {
        match piece {
            Some(p) => conn.receive(p),
            None => conn.receive_eof(),
        }
        while let Some(event) = conn.poll_event() {
            let item = match event {
                Event::Text(t) => Item::Text(t.to_owned()),
                Event::Binary(b) => Item::Binary(b.to_vec()),
                Event::Ping(p) => Item::Ping(p.to_vec()),
                Event::Pong(p) => Item::Pong(p.to_vec()),
                Event::Close { code: 1006, .. } => Item::Failed(Class::Ended),
                Event::Close { code, reason } => Item::Close(code, reason.to_owned()),
                Event::ProtocolError(ProtocolError::InvalidCloseCode(_)) => Item::InvalidCloseCode,
                Event::ProtocolError(e) => Item::Failed(match e.close_code() {
                    1007 => Class::Utf8,
                    1009 => Class::TooBig,
                    _ => Class::Protocol,
                }),
                other => panic!("unexpected event {other:?}"),
            };
            let last = matches!(
                item,
                Item::Close(..) | Item::InvalidCloseCode | Item::Failed(_)
            );
            items.push(item);
            if last {
                return items;
            }
        }
    }
    panic!("no terminal event: {items:?}");
}

/// The client's bytes to read, then end of stream; what tungstenite writes is dropped.
struct Wire<'a> {
    input: &'a [u8],
    bytewise: bool,
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if self.bytewise {
            buf.len().min(1)
        } else {
            buf.len()
        };
        self.input.read(&mut buf[..n])
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tungstenite(input: &[u8], bytewise: bool) -> Vec<Item> {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(MAX_FRAME))
        .max_message_size(Some(MAX_MESSAGE));
    let mut ws = WebSocket::from_raw_socket(Wire { input, bytewise }, TRole::Server, Some(config));
    let mut items = Vec::new();
    loop {
        let item = match ws.read() {
            Ok(Message::Text(t)) => Item::Text(t.as_str().to_owned()),
            Ok(Message::Binary(b)) => Item::Binary(b.to_vec()),
            Ok(Message::Ping(p)) => Item::Ping(p.to_vec()),
            Ok(Message::Pong(p)) => Item::Pong(p.to_vec()),
            Ok(Message::Close(None)) => Item::Close(1005, String::new()),
            Ok(Message::Close(Some(f))) => Item::Close(f.code.into(), f.reason.as_str().to_owned()),
            Ok(Message::Frame(_)) => unreachable!("read returns no raw frames"),
            Err(Error::Protocol(TProtocolError::ResetWithoutClosingHandshake)) => {
                Item::Failed(Class::Ended)
            }
            Err(Error::Protocol(_)) => Item::Failed(Class::Protocol),
            Err(Error::Utf8(_)) => Item::Failed(Class::Utf8),
            Err(Error::Capacity(_)) => Item::Failed(Class::TooBig),
            Err(e) => panic!("unexpected tungstenite error {e:?} after {items:?}"),
        };
        let last = matches!(item, Item::Close(..) | Item::Failed(_));
        items.push(item);
        if last {
            return items;
        }
    }
}

/// Whether tungstenite's `got` is wsmachine's `want` but for an accepted difference in the
/// last item.
fn same_end(want: &Item, got: &Item) -> bool {
    match (want, got) {
        (Item::InvalidCloseCode | Item::Close(1014, _), Item::Close(1002, reason)) => {
            reason == "Protocol violation"
        }
        (w, g) => w == g,
    }
}

fn agree(want: &[Item], got: &[Item]) -> bool {
    want.len() == got.len()
        && want[..want.len() - 1] == got[..got.len() - 1]
        && same_end(want.last().unwrap(), got.last().unwrap())
}

/// A frame as its header describes it, found by walking the frames by their lengths alone.
struct Walked {
    opcode: u8,
    /// The 7-bit length field: 126 and 127 announce a 16- and a 64-bit length.
    len7: u8,
    /// Where the header ends in the input.
    header_end: usize,
    len: u64,
    /// The unmasked payload, when the input holds all of it.
    payload: Option<Vec<u8>>,
}

/// The frames of `input`, up to the first header it does not hold whole.
fn walk(input: &[u8]) -> Vec<Walked> {
    let mut frames = Vec::new();
    let mut at = 0usize;
    while let (Some(&b0), Some(&b1)) = (input.get(at), input.get(at + 1)) {
        let (len, mut end) = match b1 & 0x7f {
            126 => match input.get(at + 2..at + 4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), at + 4),
                None => break,
            },
            127 => match input.get(at + 2..at + 10) {
                Some(b) => (u64::from_be_bytes(b.try_into().unwrap()), at + 10),
                None => break,
            },
            n => (u64::from(n), at + 2),
        };
        let mut key = [0u8; 4];
        if b1 & 0x80 != 0 {
            match input.get(end..end + 4) {
                Some(k) => key.copy_from_slice(k),
                None => break,
            }
            end += 4;
        }
        let payload = usize::try_from(len)
            .ok()
            .and_then(|n| input.get(end..end.checked_add(n)?))
            .map(|p| p.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect());
        let whole = payload.is_some();
        frames.push(Walked {
            opcode: b0 & 0x0f,
            len7: b1 & 0x7f,
            header_end: end,
            len,
            payload,
        });
        if !whole {
            break;
        }
        at = end + len as usize;
    }
    frames
}

/// Whether tungstenite's `got` for `input` is wsmachine's `want`, or differs from it only as
/// the module documentation accepts.
fn explained(input: &[u8], want: &[Item], got: &[Item]) -> bool {
    let wsmachine = |input| wsmachine(input, false);
    if agree(want, got) {
        return true;
    }
    // A header over the frame limit that also breaks the protocol: tungstenite checks the
    // size first, wsmachine the protocol. wsmachine must fail there already.
    if let (Some(Item::Failed(Class::Protocol)), Some(Item::Failed(Class::TooBig))) =
        (want.last(), got.last())
        && want[..want.len() - 1] == got[..got.len() - 1]
        && let Some(f) = walk(input).iter().find(|f| f.len > MAX_FRAME as u64)
    {
        return wsmachine(&input[..f.header_end]) == want;
    }
    // A control frame whose length takes the 16- or 64-bit form: wsmachine refuses the
    // header, tungstenite reads on. wsmachine must fail there, after the same items.
    if let Some(Item::Failed(Class::Protocol)) = want.last()
        && got.len() >= want.len()
        && want[..want.len() - 1] == got[..want.len() - 1]
        && let Some(f) = walk(input)
            .iter()
            .find(|f| f.opcode >= 0x8 && f.len7 >= 126)
    {
        return wsmachine(&input[..f.header_end]) == want;
    }
    // A Close with a code that may not be sent and a reason that is not UTF-8: wsmachine
    // reports the code, tungstenite the reason.
    if let (Some(Item::InvalidCloseCode), Some(Item::Failed(Class::Utf8))) =
        (want.last(), got.last())
        && want[..want.len() - 1] == got[..got.len() - 1]
        && let Some(f) = walk(input).iter().find(|f| f.opcode == 0x8)
        && let Some(payload) = &f.payload
    {
        return payload.len() > 2 && std::str::from_utf8(&payload[2..]).is_err();
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, input)) = data.split_first() else {
        return;
    };
    let bytewise = flags & 1 != 0;
    let want = wsmachine(input, bytewise);
    let got = tungstenite(input, bytewise);
    if explained(input, &want, &got) {
        return;
    }
    // wsmachine failed inside a frame that tungstenite had not finished reading when the
    // input ended: complete that frame (and no more than the limits allow) with zeros.
    if let (Some(Item::Failed(class)), Some(Item::Failed(Class::Ended))) = (want.last(), got.last())
        && *class != Class::Ended
    {
        let mut padded = input.to_vec();
        padded.resize(input.len() + MAX_FRAME + 14, 0);
        let got = tungstenite(&padded, bytewise);
        assert!(
            explained(&padded, &want, &got),
            "wsmachine {want:?}\ntungstenite, frame completed {got:?}"
        );
        return;
    }
    panic!("wsmachine {want:?}\ntungstenite {got:?}");
});
