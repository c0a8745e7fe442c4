//! wsmachine: a WebSocket (RFC 6455) implementation as a pure **sans-IO** state machine.
//!
//! The core is `no_std` with `alloc` (`default-features = false`); the `std` feature, on by
//! default, adds `std::time::Instant` wherever time goes in or comes out, run-time SIMD
//! detection, and the layers that need it. See README.md, "Without std".
//!
//! A [`Connection`] never touches a socket, a clock, a thread or a runtime. You feed it the
//! bytes you read and the time; it gives back [`Event`]s and the bytes to write. The same
//! machine serves a blocking socket, a hand-written epoll/mio loop, an async runtime, a fuzzer
//! and a unit test, in either [`Role`].
//!
//! # The driving loop
//!
//! Four steps, repeated: **feed** input (bytes, EOF, time), **poll events** until `None`,
//! **write** the pending output, **close** the transport when told.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::time::Instant;
//! use wsmachine::handshake::Accept;
//! use wsmachine::{Config, Connection, Event};
//!
//! fn serve(mut sock: std::net::TcpStream) -> std::io::Result<()> {
//!     let mut conn = Connection::server(Config::default());
//!     conn.handle_timeout(Instant::now()); // arms the handshake deadline
//!     loop {
//!         // 1. Feed: read straight into the machine's buffer (no copy), or use receive(&buf).
//!         if let Some(deadline) = conn.poll_timeout() {
//!             let wait = deadline.saturating_duration_since(Instant::now());
//!             sock.set_read_timeout(Some(wait.max(std::time::Duration::from_millis(1))))?;
//!         }
//!         // Reads of up to 16 KiB, fewer when that ends the read with a large frame.
//!         let n = conn.read_size_hint(16 * 1024);
//!         match sock.read(&mut conn.receive_buffer(n)[..n]) {
//!             Ok(0) => conn.receive_eof(),
//!             Ok(n) => conn.commit_received(n),
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
//!                 || e.kind() == std::io::ErrorKind::TimedOut => {}
//!             Err(e) => return Err(e),
//!         }
//!         conn.handle_timeout(Instant::now());
//!         // 2. Poll events until none.
//!         while let Some(event) = conn.poll_event() {
//!             match event {
//!                 Event::HandshakeRequest(_) => conn.accept(Accept::new()).expect("valid step"),
//!                 Event::Text(text) => {
//!                     let reply = text.to_uppercase();
//!                     conn.send_text(&reply).ok();
//!                 }
//!                 Event::Binary(data) => {
//!                     let copy = data.to_vec();
//!                     conn.send_binary(&copy).ok();
//!                 }
//!                 _ => {} // pongs, closes and errors are already answered by the machine
//!             }
//!         }
//!         // 3. Write what the machine queued.
//!         while !conn.pending_output().is_empty() {
//!             let n = sock.write(conn.pending_output())?;
//!             conn.advance_output(n);
//!         }
//!         // 4. Close the transport when told: shut down the write side first and drain
//!         //    what the peer still sends, so that the kernel does not answer unread input
//!         //    with a reset that destroys the Close frame just written.
//!         if conn.should_close_transport() {
//!             sock.shutdown(std::net::Shutdown::Write)?;
//!             sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))?;
//!             let mut sink = [0u8; 4096];
//!             while matches!(sock.read(&mut sink), Ok(n) if n > 0) {}
//!             return Ok(());
//!         }
//!     }
//! }
//! ```
//!
//! Large payloads can skip the copy into the output: [`Connection::send_unbuffered`] (a
//! server; [`Connection::send_unbuffered_mut`] for a client, which masks in place, and
//! [`Connection::send_unbuffered_string`] for text given up as a `String`) queues only
//! the frame header, the caller keeps the payload, and `Connection::output_slices` (with
//! `std`; [`Connection::output_parts`] in any build) gives the header, the payload and what
//! follows as slices for one vectored write, whose count [`Connection::advance_output`] takes.
//!
//! The same loop without any I/O, a client and a server wired together in memory:
//!
//! ```
//! use wsmachine::handshake::{Accept, ClientRequest};
//! use wsmachine::{Config, Connection, Event, State};
//!
//! let mut client = Connection::client(&ClientRequest::new("example.com", "/chat"), Config::default());
//! let mut server = Connection::server(Config::default());
//! let mut said = Vec::new();
//! for round in 0..4 {
//!     // The client's bytes reach the server...
//!     let bytes = client.pending_output().to_vec();
//!     client.advance_output(bytes.len());
//!     server.receive(&bytes);
//!     while let Some(event) = server.poll_event() {
//!         match event {
//!             Event::HandshakeRequest(req) => {
//!                 assert_eq!(req.target(), "/chat");
//!                 server.accept(Accept::new()).unwrap();
//!             }
//!             Event::Text(t) => {
//!                 let echo = format!("echo: {t}");
//!                 server.send_text(&echo).unwrap();
//!             }
//!             _ => {}
//!         }
//!     }
//!     // ...and the server's bytes reach the client.
//!     let bytes = server.pending_output().to_vec();
//!     server.advance_output(bytes.len());
//!     client.receive(&bytes);
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Open(_) => client.send_text("hello").unwrap(),
//!             Event::Text(t) => {
//!                 said.push(t.to_owned());
//!                 client.close(1000, "bye").unwrap();
//!             }
//!             _ => {}
//!         }
//!     }
//!     if round == 3 {
//!         assert_eq!(said, ["echo: hello"]);
//!         assert_eq!(server.state(), State::Closed);
//!         assert!(server.should_close_transport());
//!     }
//! }
//! ```
//!
//! # What is public
//!
//! At the crate root: the machine, [`Connection`], with its [`Role`] and [`MessageKind`]; its
//! [`Config`] and [`Delivery`]; the [`Event`]s it reports; its lifecycle [`State`]; the two
//! error families [`ProtocolError`] and [`UsageError`]; [`MaskSource`], where a client's
//! masking keys come from ([`Connection::set_mask_source`]); and [`Timestamp`], the time the
//! caller reports (`std::time::Instant` converts into it). Beside them, four modules:
//!
//! | module | what |
//! |---|---|
//! | [`handshake`] | the opening handshake (§4) on its own, its requests, responses and errors |
//! | [`extension`] | the `Sec-WebSocket-Extensions` grammar (§9.1) |
//! | [`close`] | close codes and Close payloads (§5.5.1, §7.4) |
//! | [`admission`] | per-address limits in front of the handshake |
//!
//! Frame headers, masking and UTF-8 validation are internal: the connection applies them to
//! every frame, and nothing in the API takes or returns them.
//!
//! # Layers, one file per RFC section
//!
//! | file | RFC 6455 | public as |
//! |---|---|---|
//! | `handshake/` (server, accept, client, response, url, key, error; with the `http/` head parser and the `sha1.rs` accept-key digest), `extension.rs` | §4 opening handshake, §9 extension grammar and the extension stage's interface | [`handshake`], [`extension`] |
//! | `frame.rs` | §5.2 frame header codec | internal |
//! | `mask.rs`, `ingest.rs`, `rng.rs` | §5.3 masking; the receive buffer, unmasking while received bytes are copied in; masking keys | [`MaskSource`] |
//! | `utf8.rs` (with the `utf8_simd.rs` AVX-512 validator) | §8.1 UTF-8 validation | internal |
//! | `close.rs` | §5.5.1, §7.4 close codes | [`close`] |
//! | `state.rs` | §4.1, §7 the lifecycle: one enum, every transition | [`State`] |
//! | `connection/` (mod, recv, send, timers) | §5.4–§7 the machine: receive and send pipelines with the extension stage, deadlines | [`Connection`], [`Role`], [`MessageKind`] |
//! | `deflate/` (feature `deflate`) | RFC 7692 permessage-deflate | `deflate` |
//! | `engineio/` (feature `engineio`) | Engine.IO v4, the transport under Socket.IO | `engineio` |
//! | `socketio/` (feature `socketio`) | Socket.IO v5 server: namespaces, events, acks, rooms | `socketio` |
//! | `upgrade/` (feature `http`) | §4.2 for HTTP server frameworks: `http::Request` validated, `http::Response` built; RFC 8441 and 9220, the extended CONNECT of HTTP/2 and HTTP/3 (`connect.rs`) | `upgrade` |
//! | `tokio/` (feature `tokio`) | the machine over tokio's `AsyncRead + AsyncWrite`: async recv/send, Stream/Sink, split halves, timers | `tokio` |
//! | `event.rs`, `error.rs`, `config.rs` | | [`Event`], [`ProtocolError`], [`UsageError`], [`Config`], [`Delivery`] |
//! | `admission.rs` | | [`admission`] |
//! | `time.rs` | | [`Timestamp`], the time the caller reports |
//!
//! # Errors
//!
//! A peer's violation is a [`ProtocolError`] reported as [`Event::ProtocolError`], carrying its
//! close code; the machine has already queued that Close. The application's misuse is a
//! [`UsageError`] returned by the call, and changes nothing. Handshake failures are
//! [`handshake::HandshakeError`]s, carrying the HTTP status a server answered with.
// Unsafe code is denied everywhere but in the blocks listed in README.md ("Unsafe code"): calls
// into SIMD builds after run-time detection (`mask.rs`, `sha1.rs`, `utf8_simd.rs`) or under a
// cfg that guarantees the instructions (`http/lines.rs`, SSE2), the AVX-512 validator's loads, and
// handing out as `&str` text already validated (`utf8.rs`).
#![deny(unsafe_code)]
// docs.rs builds with every feature and `--cfg docsrs` (Cargo.toml's
// `package.metadata.docs.rs`): each item a feature enables says which.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// The core needs only `core` and `alloc`; `std` (a default feature) adds conversions from
// `std::time::Instant`, run-time detection of SIMD instructions and the layers that need an
// operating system. Unit tests run with std's prelude whatever the features.
#![cfg_attr(not(test), no_std)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// Whether the processor has the x86 target features named: detected at run time with `std`;
/// without it, known only where the build enables them at compile time.
#[cfg(target_arch = "x86_64")]
macro_rules! x86_has {
    ($first:tt $(, $rest:tt)*) => {{
        #[cfg(feature = "std")]
        let has = std::arch::is_x86_feature_detected!($first)
            $(&& std::arch::is_x86_feature_detected!($rest))*;
        #[cfg(not(feature = "std"))]
        let has = cfg!(all(target_feature = $first $(, target_feature = $rest)*));
        has
    }};
}

pub mod admission;
pub mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
#[cfg(feature = "engineio")]
#[cfg_attr(docsrs, doc(cfg(feature = "engineio")))]
pub mod engineio;
mod error;
mod event;
pub mod extension;
mod frame;
pub mod handshake;
mod http;
mod ingest;
mod mask;
mod rng;
mod role;
mod sha1;
#[cfg(feature = "socketio")]
#[cfg_attr(docsrs, doc(cfg(feature = "socketio")))]
pub mod socketio;
mod state;
mod time;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod upgrade;
mod utf8;
mod utf8_simd;

pub use config::{Config, Delivery};
pub use connection::{Connection, MessageKind, Role};
pub use error::{ProtocolError, UsageError};
pub use event::Event;
pub use rng::MaskSource;
pub use state::State;
pub use time::Timestamp;

// The building blocks under the connection (the frame header codec, the masking kernels, the
// UTF-8 validators, a fixed sequence of masking keys) are not part of the API. The crate's own
// kernel benchmark (`benches/kernels.rs`), the frame-level integration tests (`tests/frames.rs`,
// `tests/connection.rs`) and the fuzz targets (`fuzz/`, a crate of its own) test and measure
// them through `__private`: hidden from the documentation, with no stability promise, and
// holding only what those targets use.
//
// A cargo feature (say `internals`, off by default) would keep these items out of ordinary
// builds, but a package cannot turn on one of its own features for its tests and benchmarks:
// they would need `required-features`, and a plain `cargo test` or `cargo bench` would then
// skip them without a failure. The hidden module keeps every target building with the plain
// commands, at the cost of a few functions that ordinary builds compile anyway.
#[doc(hidden)]
pub mod __private {
    /// The frame header codec (RFC 6455 §5.2).
    pub mod frame {
        pub use crate::frame::{
            FrameHeader, MAX_HEADER_LEN, OpCode, decode_header, encode_header, write_frame,
        };
    }
    /// The masking kernels (§5.3) and their bytewise reference.
    pub mod mask {
        pub use crate::mask::{apply_mask, apply_mask_bytewise, mask_into};
    }
    /// Masking keys from a fixed list, for reproducible transcripts.
    pub mod rng {
        pub use crate::rng::FixedMasks;
    }
    /// The incremental UTF-8 validator and the whole-text check (§8.1).
    pub mod utf8 {
        pub use crate::utf8::{Utf8Validator, as_str};
    }
    /// The AVX-512 UTF-8 validator alone.
    pub mod utf8_simd {
        pub use crate::utf8_simd::is_valid;
    }
}
