//! The client machine driven by an arbitrary program of peer bytes and local calls (see the
//! fuzz crate's library for the program format and the properties checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wsmachine_fuzz::run(wsmachine::Role::Client, data));
