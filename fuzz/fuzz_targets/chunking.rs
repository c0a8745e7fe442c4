//! The same peer bytes read whole, in arbitrary reads and byte by byte give the same events and
//! output (see the fuzz crate's library for the input format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wsmachine_fuzz::chunking(data));
