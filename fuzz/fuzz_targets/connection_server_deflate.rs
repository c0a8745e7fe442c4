//! The server machine with permessage-deflate negotiated in a real handshake, fed arbitrary peer
//! bytes (frames with RSV1 and hostile DEFLATE data among them), the peer's real compressed
//! messages, intact or damaged, and its own sends (see the fuzz crate's `deflate` module for
//! the program format and the properties checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wsmachine_fuzz::deflate::run(wsmachine::Role::Server, data));
