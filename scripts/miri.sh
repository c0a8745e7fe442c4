#!/usr/bin/env bash
# Miri over the unit tests that reach the crate's unsafe blocks and SIMD kernels (README.md,
# "Unsafe code", says which blocks Miri reaches and what checks the others).
#
# One build with AVX-512F and AVX-512BW enabled: run-time detection under Miri reports only
# the features a build enables, so this is what makes the AVX-512 UTF-8 validator (and the
# `as_str` that trusts it) and the head parser's AVX-512 marks run; SSE2 is part of every x86-64 build (the HTTP head scans).
# The AVX2 masking calls are compiled out of such a build, and Miri has no SHA instructions:
# both take their portable path here. Under `cfg(miri)` the tests take small samples of
# their inputs. Needs the nightly toolchain with the miri and rust-src components.
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=(
  # http.rs: the SSE2 blocks of the header name and value scans.
  http::tests::request_head_and_trailing_bytes
  http::tests::value_end_matches_bytewise
  http::tests::prefix_scan_matches_bytewise
  http::tests::tchar_bits_match_bytewise
  http::tests::fast_path_agrees_with_the_general_path
  # http/marks.rs: the AVX-512 marking's masked loads at every length of a last step, lines
  # either side of a word and the end of the marks.
  http::tests::marks_agree_with_the_general_path
  http::marks::tests::the_kernel_marks_as_the_bytes_say
  # utf8_simd.rs: the AVX-512 validator's loads, every tail length, inside larger buffers.
  utf8_simd::tests::available_exactly_when_the_processor_has_avx512bw
  utf8_simd::tests::every_length_in_bounds
  utf8_simd::tests::code_point_cut_by_a_block_end_then_ascii
  # utf8.rs: text handed out as &str (short: the automaton; long: the AVX-512 validator;
  # pieces: the incremental validator).
  utf8::tests::valid_text_hands_out_the_validated_bytes
  utf8::tests::valid_text_refuses_other_bytes
  utf8::tests::as_str_agrees_with_std_around_the_ascii_path
  utf8::tests::long_piece_ending_inside_a_code_point
  utf8::tests::split_code_points_complete
  # sha1.rs: the portable path, which is what runs under Miri.
  sha1::tests::rfc_example
  # ingest.rs: reads into the receive buffer's uninitialised room (the tokio adapter's).
  ingest::tests::reads_into_uninitialised_room_are_taken_as_written
  ingest::tests::an_idle_buffer_shrinks_around_an_unfinished_frame
)

export RUSTFLAGS="${RUSTFLAGS:-} -Ctarget-feature=+avx512f,+avx512bw"
# Its own target directory: these flags would otherwise rebuild the ordinary Miri build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri-avx512"
# The proptests among the selected ones run a handful of cases.
export PROPTEST_CASES="${PROPTEST_CASES:-4}"
cargo +nightly miri test --lib -- --exact "${TESTS[@]}"
