//! Where a client's randomness comes from: the application's `MaskSource` when it gives one
//! (the only source without the `getrandom` feature), the operating system's otherwise.

use wsmachine::handshake::{Accept, ClientRequest};
use wsmachine::{Config, Connection, Event, MaskSource, Role, State};

/// Keys 1111, 2222, 3333, ...: predictable, so that the bytes on the wire can be checked.
struct Counting(u8);

impl MaskSource for Counting {
    fn next_mask(&mut self) -> [u8; 4] {
        self.0 += 1;
        [self.0; 4]
    }
}

/// Move every pending byte from `from` to `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    let bytes = from.pending_output().to_vec();
    from.advance_output(bytes.len());
    to.receive(&bytes);
}

/// The opening handshake between the two: the server accepts, the client opens.
fn open(client: &mut Connection, server: &mut Connection) {
    pump(client, server);
    assert!(matches!(
        server.poll_event(),
        Some(Event::HandshakeRequest(_))
    ));
    server.accept(Accept::new()).unwrap();
    pump(server, client);
    assert!(matches!(client.poll_event(), Some(Event::Open(_))));
}

#[test]
fn a_client_given_a_source_draws_its_key_nonce_and_masks_from_it() {
    let mut client = Connection::client_with_mask_source(
        &ClientRequest::new("example.com", "/"),
        Config::default(),
        Box::new(Counting(0)),
    );
    let request = String::from_utf8(client.pending_output().to_vec()).unwrap();
    // The nonce is the first four keys: 01 01 01 01 02 02 02 02 03 ... 04, in base64.
    assert!(
        request.contains("\r\nSec-WebSocket-Key: AQEBAQICAgIDAwMDBAQEBA==\r\n"),
        "{request}"
    );
    let mut server = Connection::server(Config::default());
    open(&mut client, &mut server);
    client.send_binary(b"ab").unwrap();
    // The first frame is masked with the fifth key.
    assert_eq!(
        client.pending_output(),
        [0x82, 0x82, 5, 5, 5, 5, b'a' ^ 5, b'b' ^ 5]
    );
    pump(&mut client, &mut server);
    assert!(matches!(server.poll_event(), Some(Event::Open(_))));
    assert!(matches!(server.poll_event(), Some(Event::Binary(b)) if b == b"ab"));
}

#[test]
fn a_key_set_by_the_request_takes_nothing_from_the_source() {
    let mut client = Connection::client_with_mask_source(
        &ClientRequest::new("example.com", "/").key([7; 16]),
        Config::default(),
        Box::new(Counting(0)),
    );
    let mut server = Connection::server(Config::default());
    open(&mut client, &mut server);
    assert_eq!(client.state(), State::Open);
    client.send_text("").unwrap();
    assert_eq!(client.pending_output(), [0x81, 0x80, 1, 1, 1, 1]);
}

/// Without the operating system's randomness, a client given no source sends nothing,
/// not even the frames the machine would send on its own, rather than frames unmasked or
/// masked with a key anyone could predict.
#[cfg(not(feature = "getrandom"))]
#[test]
fn without_a_source_a_client_refuses_to_send() {
    let mut client = Connection::from_upgraded(Role::Client, Config::default());
    assert_eq!(
        client.send_text("hi"),
        Err(wsmachine::UsageError::NoMaskSource)
    );
    assert_eq!(
        client.send_ping(b""),
        Err(wsmachine::UsageError::NoMaskSource)
    );
    assert_eq!(
        client.close(1000, ""),
        Err(wsmachine::UsageError::NoMaskSource)
    );
    // A Ping from the server would be answered with a Pong: not without a key.
    client.receive(&[0x89, 0x00]);
    while client.poll_event().is_some() {}
    assert!(client.pending_output().is_empty());
    client.set_mask_source(Box::new(Counting(0)));
    client.send_text("hi").unwrap();
    assert_eq!(
        client.pending_output(),
        [0x81, 0x82, 1, 1, 1, 1, b'h' ^ 1, b'i' ^ 1]
    );
}

/// With the operating system's randomness, every client has a source from the start.
#[cfg(feature = "getrandom")]
#[test]
fn with_getrandom_every_client_masks_from_the_start() {
    let mut client = Connection::from_upgraded(Role::Client, Config::default());
    client.send_text("hi").unwrap();
    let out = client.pending_output();
    assert_eq!(out.len(), 8);
    assert_eq!(out[1], 0x82, "mask bit and length");
}
