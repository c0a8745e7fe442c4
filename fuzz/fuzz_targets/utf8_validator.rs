//! The incremental UTF-8 validator accepts pieces exactly when their concatenation is valid
//! UTF-8 (the connection hands validated text out without checking it again), and reports an
//! invalid byte at the same position wherever the pieces are cut; `as_str` accepts exactly
//! valid UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsmachine::__private::utf8::Utf8Validator;

fuzz_target!(|data: &[u8]| {
    // First byte: how many cut points follow (each one byte, scaled); then the text.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 8).min(rest.len());
    let (cut_bytes, text) = rest.split_at(n);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&c| c as usize * (text.len() + 1) / 256)
        .collect();
    cuts.sort_unstable();
    cuts.push(text.len());

    let mut v = Utf8Validator::new();
    let mut last = 0;
    let mut failed_at = None;
    for &c in &cuts {
        if let Err(e) = v.feed(&text[last..c]) {
            failed_at = Some(last + e.revealed_at());
            break;
        }
        last = c;
    }
    let accepted = failed_at.is_none() && v.is_complete();
    assert_eq!(accepted, std::str::from_utf8(text).is_ok(), "cuts {cuts:?}");
    // A whole frame checked at delivery (short text by the automaton, long text by the
    // AVX-512 validator where the processor has it) agrees too.
    assert_eq!(
        wsmachine::__private::utf8::as_str(text),
        std::str::from_utf8(text).ok()
    );

    // The whole text in one piece fails at the same byte.
    let mut whole = Utf8Validator::new();
    let whole_at = whole.feed(text).err().map(|e| e.revealed_at());
    assert_eq!(failed_at, whole_at, "cuts {cuts:?}");
});
