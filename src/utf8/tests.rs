//! The UTF-8 validators against `core::str::from_utf8` and each other: the automaton, the
//! bulk and streaming validators, `as_str` and the proofs `ValidText` hands out.

use super::*;

fn feed_all(chunks: &[&[u8]]) -> Result<bool, usize> {
    let mut v = Utf8Validator::new();
    for (i, c) in chunks.iter().enumerate() {
        v.feed(c).map_err(|_| i)?;
    }
    Ok(v.is_complete())
}

/// `as_str` around its ASCII path (text of `SMALL` to `ASCII_SCAN` bytes): all ASCII, and
/// one byte changed at every position into a byte of each class (continuation, lead of a
/// 2-, 3- and 4-byte form, never valid), agrees with `core::str::from_utf8`.
#[test]
fn as_str_agrees_with_std_around_the_ascii_path() {
    for len in [
        SMALL - 1,
        SMALL,
        SMALL + 1,
        100,
        125,
        ASCII_SCAN - 1,
        ASCII_SCAN,
        ASCII_SCAN + 1,
    ] {
        let ascii: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert_eq!(as_str(&ascii), core::str::from_utf8(&ascii).ok(), "{len}");
        // Under Miri (which runs this for the unsafe block), a sample of the positions.
        for at in (0..len).step_by(if cfg!(miri) { 41 } else { 1 }) {
            for byte in [0x80, 0xC3, 0xE2, 0xF0, 0xFF] {
                let mut b = ascii.clone();
                b[at] = byte;
                assert_eq!(
                    as_str(&b),
                    core::str::from_utf8(&b).ok(),
                    "{len} {at} {byte:x}"
                );
            }
        }
    }
}

#[test]
fn split_code_points_complete() {
    let s = "aé€😀z".as_bytes();
    for a in 0..=s.len() {
        for b in a..=s.len() {
            assert_eq!(feed_all(&[&s[..a], &s[a..b], &s[b..]]), Ok(true), "{a} {b}");
        }
    }
}

#[test]
fn incomplete_at_end_is_not_complete() {
    assert_eq!(feed_all(&[b"ab", &[0xE2, 0x82]]), Ok(false));
    assert_eq!(feed_all(&[&[0xF0], &[0x9F], &[0x98]]), Ok(false));
}

#[test]
fn split_invalid_prefixes_fail_on_the_revealing_byte() {
    // Above U+10FFFF, surrogate, overlong 3- and 4-byte forms, lead without continuation.
    for pair in [
        [0xF4, 0x90],
        [0xED, 0xA0],
        [0xE0, 0x80],
        [0xF0, 0x80],
        [0xE2, 0x41],
    ] {
        assert_eq!(feed_all(&[&pair[..1], &pair[1..]]), Err(1), "{pair:x?}");
    }
    assert_eq!(feed_all(&[&[0xF0, 0x9F], &[0x41]]), Err(1));
    assert_eq!(feed_all(&[&[0xF0], &[0x9F], &[0x98], &[0xC0]]), Err(3));
}

/// Where feeding byte by byte fails, as an index into `bytes`.
fn bytewise_failure(bytes: &[u8]) -> Option<usize> {
    let mut v = Utf8Validator::new();
    (0..bytes.len()).find(|&i| v.feed(&bytes[i..i + 1]).is_err())
}

#[test]
fn error_position_is_the_revealing_byte_in_one_piece() {
    let cases: &[(&[u8], usize)] = &[
        (&[0x80], 0),
        (b"ab\xC0\x80", 2),
        (b"a\xF5", 1),
        (&[0x00, 0x80], 1),
        (&[0xE2, 0x41], 1),
        (&[0xE2, 0x82, 0x41], 2),
        (&[0xF0, 0x80, 0x80], 1),
        (&[0xED, 0xA0, 0x80], 1),
        (&[0xF4, 0x90], 1),
        ("é".as_bytes(), usize::MAX),
    ];
    for &(bytes, at) in cases {
        let got = Utf8Validator::new()
            .feed(bytes)
            .err()
            .map(|e| e.revealed_at());
        let want = (at != usize::MAX).then_some(at);
        assert_eq!(got, want, "{bytes:x?}");
        assert_eq!(bytewise_failure(bytes), want, "{bytes:x?} bytewise");
    }
    // Within a code point left pending by an earlier piece.
    let mut v = Utf8Validator::new();
    v.feed(b"x\xF0").unwrap();
    assert_eq!(v.feed(&[0x9F, 0x41]).unwrap_err().revealed_at(), 1);
    let mut v = Utf8Validator::new();
    v.feed(&[0xE2]).unwrap();
    assert_eq!(
        v.feed(&[0x82, 0xAC, b'z', 0xFF]).unwrap_err().revealed_at(),
        3
    );
}

/// `bytes` with `stray` inserted at `at` (taken modulo `bytes.len() + 1`).
fn with_stray(mut bytes: Vec<u8>, stray: u8, at: usize) -> Vec<u8> {
    let at = at % (bytes.len() + 1);
    bytes.insert(at, stray);
    bytes
}

/// `bytes` fed to one validator in two pieces cut at `cut` (taken modulo
/// `bytes.len() + 1`): the offset in `bytes` of the reported failure, and whether the
/// validator ended complete.
fn feed_in_two(bytes: &[u8], cut: usize) -> (Option<usize>, bool) {
    let cut = cut % (bytes.len() + 1);
    let mut v = Utf8Validator::new();
    let failed = match v.feed(&bytes[..cut]) {
        Err(e) => Some(e.revealed_at()),
        Ok(()) => v.feed(&bytes[cut..]).err().map(|e| cut + e.revealed_at()),
    };
    (failed, v.is_complete())
}

proptest::proptest! {
    /// Fed whole or split at any point, the failure is reported at the same byte as when
    /// the text arrives one byte at a time.
    #[test]
    fn error_position_does_not_depend_on_the_split(
        text in "\\PC{0,24}",
        stray in proptest::prelude::any::<u8>(),
        at in proptest::prelude::any::<usize>(),
        cut in proptest::prelude::any::<usize>(),
    ) {
        // Valid text with one arbitrary byte inserted anywhere, often mid code point.
        let bytes = with_stray(text.into_bytes(), stray, at);
        proptest::prop_assert_eq!(feed_in_two(&bytes, cut).0, bytewise_failure(&bytes));
    }
}

#[test]
fn long_piece_ending_inside_a_code_point() {
    // Pieces of 32 bytes and more go through the bulk check; the end of each is cut off
    // and checked byte by byte when it starts a code point that does not fit.
    let ends: &[&[u8]] = &[
        &[],
        &[0xC3],
        &[0xE2],
        &[0xE2, 0x82],
        &[0xF0],
        &[0xF0, 0x9F],
        &[0xF0, 0x9F, 0x98],
        &[0xF4, 0x8F, 0xBF],
        &[0xC0],
        &[0xC1],
        &[0xF5],
        &[0xF8],
        &[0xFF],
        &[0x80],
        &[0xE0, 0x80],
        &[0xE0, 0xA0],
        &[0xED, 0xA0],
        &[0xED, 0x9F],
        &[0xF0, 0x8F],
        &[0xF4, 0x90],
        &[0xE2, 0x41],
        &[0xF0, 0x9F, 0x41],
        &[0xF0, 0x9F, 0xC0],
        &[0xC3, 0xA9],
        &[0xE2, 0x82, 0xAC],
        &[0xF0, 0x9F, 0x98, 0x80],
        &[0xE2, 0x82, 0xAC, 0x80],
    ];
    // Under Miri (slow; `scripts/miri.sh` runs this test for the AVX-512 validator's
    // sake), pieces below and past 64 bytes, and one ending of each kind.
    let (extras, ends): (&[usize], &[&[u8]]) = if cfg!(miri) {
        (
            &[0, 24],
            &[ends[0], ends[3], ends[6], ends[8], ends[16], ends[26]],
        )
    } else {
        (&(0..70).collect::<Vec<_>>(), ends)
    };
    for prefix in ["a".repeat(40), "é".repeat(20), "€😀".repeat(9)] {
        for &extra in extras {
            for &end in ends {
                let mut bytes = prefix.clone().into_bytes();
                bytes.resize(bytes.len() + extra, b'z');
                bytes.extend_from_slice(end);
                let mut v = Utf8Validator::new();
                let got = v.feed(&bytes).err().map(|e| e.revealed_at());
                assert_eq!(got, bytewise_failure(&bytes), "{bytes:x?}");
                if got.is_none() {
                    assert_eq!(
                        v.is_complete(),
                        core::str::from_utf8(&bytes).is_ok(),
                        "{bytes:x?}"
                    );
                }
                assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
            }
        }
    }
}

proptest::proptest! {
    /// As `error_position_does_not_depend_on_the_split`, with pieces long enough for the
    /// bulk check.
    #[test]
    fn long_text_error_position_does_not_depend_on_the_split(
        chars in proptest::collection::vec(proptest::prelude::any::<char>(), 30..200),
        stray in proptest::prelude::any::<u8>(),
        at in proptest::prelude::any::<usize>(),
        cut in proptest::prelude::any::<usize>(),
    ) {
        let bytes = with_stray(chars.into_iter().collect::<String>().into_bytes(), stray, at);
        let (got, complete) = feed_in_two(&bytes, cut);
        proptest::prop_assert_eq!(got, bytewise_failure(&bytes));
        let accepted = got.is_none() && complete;
        proptest::prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
        proptest::prop_assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
    }
}

/// Accepted when fed as `bytes[..cut]` then `bytes[cut..]`, for every cut.
fn accepted_at_every_cut(bytes: &[u8]) -> bool {
    let verdicts: Vec<bool> = (0..=bytes.len())
        .map(|cut| {
            let mut v = Utf8Validator::new();
            v.feed(&bytes[..cut]).is_ok() && v.feed(&bytes[cut..]).is_ok() && v.is_complete()
        })
        .collect();
    assert!(verdicts.iter().all(|&x| x == verdicts[0]), "{bytes:x?}");
    verdicts[0]
}

#[test]
fn agrees_with_std_on_every_short_sequence_split_anywhere() {
    for a in 0..=255u8 {
        for b in 0..=255u8 {
            let pair = [a, b];
            assert_eq!(
                accepted_at_every_cut(&pair),
                core::str::from_utf8(&pair).is_ok(),
                "{pair:x?}"
            );
        }
    }
    // Three and four bytes: every lead of a multi-byte code point with second bytes
    // around each boundary of the RFC 3629 table, and continuations in and out of range.
    let seconds = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];
    let tails = [0x41, 0x80, 0xBF, 0xC0];
    for lead in 0xC0..=0xFFu8 {
        for &b in &seconds {
            for &c in &tails {
                let three = [lead, b, c];
                assert_eq!(
                    accepted_at_every_cut(&three),
                    core::str::from_utf8(&three).is_ok(),
                    "{three:x?}"
                );
                for &d in &tails {
                    let four = [lead, b, c, d];
                    assert_eq!(
                        accepted_at_every_cut(&four),
                        core::str::from_utf8(&four).is_ok(),
                        "{four:x?}"
                    );
                }
            }
        }
    }
}

/// Mostly valid text with stray bytes: up to `parts` pieces, each a valid string of up to
/// `chars` characters, a few non-ASCII bytes, or a few arbitrary bytes, concatenated.
fn rough_text(chars: usize, parts: usize) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::strategy::Strategy as _;
    proptest::collection::vec(
        proptest::prop_oneof![
            proptest::string::string_regex(&format!("\\PC{{0,{chars}}}"))
                .expect("valid regex")
                .prop_map(String::into_bytes),
            proptest::collection::vec(0x80u8..=0xFF, 0..4),
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        ],
        0..parts,
    )
    .prop_map(|parts| parts.concat())
}

proptest::proptest! {
    /// The validator accepts pieces exactly when their concatenation is valid UTF-8,
    /// wherever the cuts fall; the connection relies on it to hand out text unchecked.
    #[test]
    fn accepts_exactly_valid_utf8_at_any_split(
        bytes in rough_text(12, 8),
        cuts in proptest::collection::vec(proptest::prelude::any::<usize>(), 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut v = Utf8Validator::new();
        let mut last = 0;
        let mut ok = true;
        for c in cuts.into_iter().chain([bytes.len()]) {
            if v.feed(&bytes[last..c]).is_err() {
                ok = false;
                break;
            }
            last = c;
        }
        let accepted = ok && v.is_complete();
        proptest::prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
    }
}

/// The bulk validation as it was before short pieces went to the automaton: simdutf8's
/// std-compatible validator (the long path's fallback), whose error gives the revealing
/// byte.
fn validate_bulk_reference(bytes: &[u8]) -> Result<usize, usize> {
    validate_compat(bytes).map_err(|e| e.revealed_at())
}

/// The short-text paths agree with `core::str::from_utf8` and with the reference bulk
/// validation on `bytes`.
fn check_short(bytes: &[u8]) {
    assert!(bytes.len() < SMALL);
    let std = core::str::from_utf8(bytes);
    assert_eq!(short_is_valid(bytes), std.is_ok(), "{bytes:x?}");
    assert_eq!(as_str(bytes), std.ok(), "{bytes:x?}");
    assert_eq!(
        validate_short(bytes).map_err(|e| e.revealed_at()),
        validate_bulk_reference(bytes),
        "{bytes:x?}"
    );
}

#[test]
fn automaton_table_follows_rfc_3629() {
    // Each state's field in a row is a state, and ERROR stays ERROR.
    let states = [
        ERROR, ACCEPT, CONT1, CONT2, CONT3, AFTER_E0, AFTER_ED, AFTER_F0, AFTER_F4,
    ];
    for b in 0..=255u8 {
        for &s in &states {
            assert!(states.contains(&(step(s, b) & 63)), "{b:x} from {s}");
        }
        assert_eq!(step(ERROR, b) & 63, ERROR);
    }
}

#[test]
fn short_paths_agree_with_std_on_every_string_of_up_to_three_bytes() {
    check_short(&[]);
    for a in 0..=255u8 {
        check_short(&[a]);
        for b in 0..=255u8 {
            check_short(&[a, b]);
            for c in 0..=255u8 {
                let three = [a, b, c];
                // All three checks on the multi-byte starts; the ASCII ones only repeat
                // a case of two bytes after an ASCII byte.
                if a >= 0x80 || b >= 0x80 || c >= 0x80 {
                    check_short(&three);
                } else {
                    assert!(short_is_valid(&three));
                }
            }
        }
    }
}

/// Bytes at and around each boundary of the RFC 3629 table.
const BOUNDARIES: [u8; 24] = [
    0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
    0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
];

#[test]
fn short_paths_agree_with_std_on_four_bytes_around_every_boundary() {
    let tails = [0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xFF];
    for lead in 0..=255u8 {
        for &b in &BOUNDARIES {
            for &c in &tails {
                for &d in &tails {
                    check_short(&[lead, b, c, d]);
                }
            }
        }
    }
}

#[test]
fn short_paths_agree_with_std_on_sequences_embedded_anywhere() {
    // Four-byte sequences (and, cut by the end of the text, their prefixes) around the
    // boundaries, inside ASCII and multi-byte text of every length up to `SMALL - 1`.
    let leads = [
        0x41, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0x80,
    ];
    let seconds = [0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0];
    let tails = [0x7F, 0x80, 0xBF, 0xC0];
    let ascii = b"The quick brown fox jumps over the lazy dog; 0123456789! etc.".repeat(2);
    let multi = "Привет, мир! 你好，世界 🙂 ещё булок 日本語 "
        .repeat(2)
        .into_bytes();
    let mut text = Vec::with_capacity(SMALL);
    for &lead in &leads {
        for &b in &seconds {
            for &c in &tails {
                for &d in &tails {
                    let seq = [lead, b, c, d];
                    for context in [&ascii, &multi] {
                        for len in 1..SMALL {
                            // Every position for a few lengths, a few positions for all.
                            let every = matches!(len, 4 | 15 | 16 | 17 | 33) || len == SMALL - 1;
                            for at in 0..len {
                                if !every && at != 0 && at != len / 2 && at + 4 < len {
                                    continue;
                                }
                                text.clear();
                                text.extend_from_slice(&context[..at]);
                                text.extend_from_slice(&seq);
                                text.extend_from_slice(&context[at..]);
                                text.truncate(len);
                                check_short(&text);
                            }
                        }
                    }
                }
            }
        }
    }
}

proptest::proptest! {
    /// Short and long pieces around `SMALL`: the bulk validation gives what the reference
    /// gives, and `as_str` what `core::str::from_utf8` gives.
    #[test]
    fn bulk_validation_agrees_with_reference(bytes in rough_text(20, 10)) {
        proptest::prop_assert_eq!(
            validate_bulk(&bytes).map_err(|e| e.revealed_at()),
            validate_bulk_reference(&bytes)
        );
        proptest::prop_assert_eq!(as_str(&bytes), core::str::from_utf8(&bytes).ok());
    }
}

/// Text handed out through `ValidText` is the text validated, from a validator fed in
/// pieces (code points split between them) or from one check of the whole text, short or
/// long; invalid or incomplete text gives no `ValidText`.
#[test]
fn valid_text_hands_out_the_validated_bytes() {
    let texts = [
        "".to_owned(),
        "plain ascii".to_owned(),
        "aé€😀z".repeat(3),
        "κόσμε €😀 ".repeat(12),
    ];
    for text in &texts {
        let bytes = text.as_bytes();
        for cut in [
            0,
            1,
            2,
            bytes.len() / 2,
            bytes.len().saturating_sub(1),
            bytes.len(),
        ] {
            let cut = cut.min(bytes.len());
            let mut v = Utf8Validator::new();
            v.feed(&bytes[..cut]).unwrap();
            v.feed(&bytes[cut..]).unwrap();
            let valid = v.finish().expect("complete text");
            assert_eq!(valid.as_str(bytes), text.as_str());
        }
        let valid = ValidText::check(bytes).expect("valid text");
        assert_eq!(valid.as_str(bytes), text.as_str());
    }
    let mut v = Utf8Validator::new();
    v.feed("é".as_bytes()).unwrap();
    v.feed(&[0xE2, 0x82]).unwrap();
    assert_eq!(v.finish(), None);
    assert_eq!(ValidText::check(b"\xED\xA0\x80"), None);
    let mut long = "€".repeat(30).into_bytes();
    long[40] = 0xFF;
    assert_eq!(ValidText::check(&long), None);
}

/// Text known to hold a byte that is not ASCII skips the all-ASCII scan and is judged as
/// `from_utf8` judges it, at every length around the automaton's and the scan's bounds.
#[test]
fn text_known_not_to_be_ascii_is_judged_as_any_text() {
    for len in [
        1,
        2,
        SMALL - 1,
        SMALL,
        SMALL + 1,
        125,
        ASCII_SCAN - 1,
        ASCII_SCAN,
        2000,
    ] {
        let mut text = "é".repeat(len / 2 + 1).into_bytes();
        text.truncate(len);
        for (i, bad) in [(None, 0), (Some(len / 2), 0xFF), (Some(len - 1), 0xC3)] {
            let mut bytes = text.clone();
            if let Some(i) = i {
                bytes[i] = bad;
            }
            let want = core::str::from_utf8(&bytes).ok();
            for ascii in [Ascii::NotAll, Ascii::Unknown] {
                let got = ValidText::check_unless_ascii(&bytes, ascii);
                assert_eq!(
                    got.map(|v| v.as_str(&bytes)),
                    want,
                    "{len} bytes, {ascii:?}, {i:?}"
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "text handed out is not the text validated")]
fn valid_text_refuses_other_bytes() {
    let valid = ValidText::check(b"abc").unwrap();
    let _ = valid.as_str(b"abcd");
}

#[test]
fn reset_forgets_pending() {
    let mut v = Utf8Validator::new();
    v.feed(&[0xE2]).unwrap();
    assert!(!v.is_complete());
    v.reset();
    assert!(v.is_complete());
    v.feed(b"A").unwrap();
    assert!(v.is_complete());
}
