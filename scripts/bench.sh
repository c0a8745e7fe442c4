#!/usr/bin/env bash
# Run the benchmarks and regenerate the figures in BENCHMARKS.md: the comparison with the peers
# (benches/compare.rs; the handshake also alternated with its floor, benches/handshake.rs), the
# kernels (benches/kernels.rs: unmasking, UTF-8 validation, the accept key), the memory per
# connection (benches/memory.rs) and server CPU per message end to end on loopback
# (benches/e2e.rs).
#
#   scripts/bench.sh               run everything (about 40 minutes on 2 cores), then the tables;
#                                  the comparison runs twice: the bench profile (release) and
#                                  bench-lto (fat LTO, one codegen unit)
#   scripts/bench.sh decode_binary rerun only the comparison benchmarks matching a criterion
#                                  filter, then the tables (a filter selecting the handshake
#                                  also reruns benches/handshake.rs)
#   scripts/bench.sh --table-only  rebuild the tables from target/ without running anything
#   scripts/bench.sh --memory      rerun only benches/memory.rs (seconds) and replace only the
#                                  memory table
#   scripts/bench.sh --e2e         rerun only benches/e2e.rs (about 3 minutes) and replace only
#                                  the end-to-end table
#   scripts/bench.sh --turns       rerun only the comparison in turns (COMPARE_TURNS, about a
#                                  minute a build once built) and replace only its table
#   scripts/bench.sh --handshake-orders
#                                  rerun only the handshake against its floor relinked in
#                                  HANDSHAKE_ORDERS (8) function orders under both profiles
#                                  (about a minute once built) and replace only that table
set -euo pipefail
cd "$(dirname "$0")/.."
RERUN=()

# Short but stable enough on a small shared machine; criterion's defaults take ~4x longer.
CRITERION_ARGS=(--warm-up-time 1 --measurement-time 2 --sample-size 30)
KERNELS='^(unmask|utf8|accept_key)'

# glibc copies large blocks with `rep movsb` (above 2 KiB by default). On AMD Zen 3 under KVM
# such a copy of 64 KiB ran 10 to 20 times slower for some placements of source and
# destination, which change with every allocation: the in-memory socket's copies, which every
# implementation pays, then decided a row (64 KiB encode measured 0.12x one run, 1.02x the
# next). Vector moves instead, for every implementation alike.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.cpu.x86_rep_movsb_threshold=1099511627776"

# The comparison with the implementations taking turns, under both profiles.
turns() {
  COMPARE_TURNS=target/turns.json cargo bench --bench compare
  COMPARE_TURNS=target/turns-lto.json cargo bench --profile bench-lto --bench compare
}

# The server handshake and its floor alternated in one process, under both profiles.
handshake_interleaved() {
  cargo bench --bench handshake
  HANDSHAKE_JSON=target/handshake-lto.json cargo bench --profile bench-lto --bench handshake
}

# The same, relinked by rust-lld with its sections (one a function) shuffled, once per seed: a
# ratio of two implementations in one binary moves by several percent with where the linker
# puts their functions alone, and the median over a few orders does not hang on one of them.
# The binaries run in rounds, each in turn, so that a slow stretch of the machine falls on all.
handshake_orders() {
  local gccld
  gccld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
  if [ ! -x "$gccld/ld.lld" ]; then
    echo "bench.sh: no rust-lld in $gccld; the handshake across function orders is skipped" >&2
    return
  fi
  local out=target/handshake-orders profile dir label seed exe pass
  rm -rf "$out"
  mkdir -p "$out/bin"
  for profile in bench bench-lto; do
    dir=release label=release
    [ "$profile" = bench-lto ] && dir=bench-lto label=lto
    for seed in $(seq "${HANDSHAKE_ORDERS:-8}"); do
      cargo rustc --profile "$profile" --bench handshake -- -C "link-arg=-B$gccld" \
        -C link-arg=-fuse-ld=lld -C "link-arg=-Wl,--shuffle-sections=*=$seed"
      exe=$(ls -t target/"$dir"/deps/handshake-* | grep -v '\.d$' | head -1)
      cp "$exe" "$out/bin/$label-$seed"
    done
  done
  for pass in $(seq 9); do
    for exe in "$out"/bin/*; do
      HANDSHAKE_ROUNDS=300 HANDSHAKE_JSON="$out/$(basename "$exe")-$pass.json" "$exe"
    done
  done
}

if [ "${1:-}" = "--memory" ]; then
  cargo bench --bench memory
  exec python3 scripts/bench_table.py --memory-only \
    --memory target/memory.json \
    --output BENCHMARKS.md \
    --command "scripts/bench.sh --memory  (= cargo bench --bench memory)"
elif [ "${1:-}" = "--e2e" ]; then
  cargo build --release --example echo_server
  cargo bench --bench e2e --features tokio
  exec python3 scripts/bench_table.py --e2e-only \
    --e2e target/e2e.json \
    --output BENCHMARKS.md \
    --command "scripts/bench.sh --e2e  (= cargo build --release --example echo_server; cargo bench --bench e2e --features tokio)"
elif [ "${1:-}" = "--turns" ]; then
  turns
  exec python3 scripts/bench_table.py --turns-only \
    --turns target/turns.json \
    --output BENCHMARKS.md \
    --command "scripts/bench.sh --turns"
elif [ "${1:-}" = "--handshake-orders" ]; then
  handshake_orders
  exec python3 scripts/bench_table.py --orders-only \
    --orders target/handshake-orders \
    --output BENCHMARKS.md \
    --command "scripts/bench.sh --handshake-orders"
elif [ "${1:-}" = "--table-only" ]; then
  shift
elif [ $# -gt 0 ]; then
  cargo bench --bench compare -- "${CRITERION_ARGS[@]}" "$@"
  CRITERION_HOME="$PWD/target/criterion-lto" \
    cargo bench --profile bench-lto --bench compare -- "${CRITERION_ARGS[@]}" "$@"
  # A filter that selects the handshake reruns its interleaved measurement too.
  if [[ "$*" == *handshake* || handshake == *"$*"* ]]; then
    handshake_interleaved
  fi
  RERUN=(--rerun "$*")
else
  # A full run replaces every figure: drop results of benchmarks that no longer exist.
  rm -rf target/criterion target/criterion-lto target/memory.json target/handshake*.json \
    target/turns*.json target/handshake-orders
  cargo bench --bench compare -- "${CRITERION_ARGS[@]}"
  # The same comparison built with fat LTO and one codegen unit (profile bench-lto).
  CRITERION_HOME="$PWD/target/criterion-lto" \
    cargo bench --profile bench-lto --bench compare -- "${CRITERION_ARGS[@]}"
  turns
  handshake_interleaved
  handshake_orders
  cargo bench --bench kernels -- "${CRITERION_ARGS[@]}" "$KERNELS"
  cargo bench --bench memory
  # End to end on loopback, with the mio example among the servers.
  cargo build --release --example echo_server
  cargo bench --bench e2e --features tokio
fi

python3 scripts/bench_table.py "${RERUN[@]}" \
  --criterion-dir target/criterion \
  --lto-dir target/criterion-lto \
  --memory target/memory.json \
  --e2e target/e2e.json \
  --output BENCHMARKS.md \
  --command "scripts/bench.sh  (= cargo bench --bench compare -- ${CRITERION_ARGS[*]}; the same with --profile bench-lto; both again with COMPARE_TURNS; cargo bench --bench handshake, and with --profile bench-lto, and relinked in 8 function orders; cargo bench --bench kernels -- ${CRITERION_ARGS[*]} '$KERNELS'; cargo bench --bench memory; cargo bench --bench e2e --features tokio)"
