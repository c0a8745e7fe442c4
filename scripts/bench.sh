#!/usr/bin/env bash
# Run the benchmarks and regenerate the figures in BENCHMARKS.md: the comparison with the peers
# (benches/compare.rs), the kernels (benches/kernels.rs: unmasking, UTF-8 validation, the accept
# key) and the memory per connection (benches/memory.rs).
#
#   scripts/bench.sh               run everything (about 14 minutes on 2 cores), then the tables
#   scripts/bench.sh decode_binary rerun only the comparison benchmarks matching a criterion
#                                  filter, then the tables
#   scripts/bench.sh --table-only  rebuild the tables from target/ without running anything
#   scripts/bench.sh --memory      rerun only benches/memory.rs (seconds) and replace only the
#                                  memory table
set -euo pipefail
cd "$(dirname "$0")/.."

# Short but stable enough on a small shared machine; criterion's defaults take ~4x longer.
CRITERION_ARGS=(--warm-up-time 1 --measurement-time 2 --sample-size 30)
KERNELS='^(unmask|utf8|accept_key)'

if [ "${1:-}" = "--memory" ]; then
  cargo bench --bench memory
  exec python3 scripts/bench_table.py --memory-only \
    --memory target/memory.json \
    --output BENCHMARKS.md \
    --command "scripts/bench.sh --memory  (= cargo bench --bench memory)"
elif [ "${1:-}" = "--table-only" ]; then
  shift
elif [ $# -gt 0 ]; then
  cargo bench --bench compare -- "${CRITERION_ARGS[@]}" "$@"
else
  # A full run replaces every figure: drop results of benchmarks that no longer exist.
  rm -rf target/criterion target/memory.json
  cargo bench --bench compare -- "${CRITERION_ARGS[@]}"
  cargo bench --bench kernels -- "${CRITERION_ARGS[@]}" "$KERNELS"
  cargo bench --bench memory
fi

python3 scripts/bench_table.py \
  --criterion-dir target/criterion \
  --memory target/memory.json \
  --output BENCHMARKS.md \
  --command "scripts/bench.sh  (= cargo bench --bench compare -- ${CRITERION_ARGS[*]}; cargo bench --bench kernels -- ${CRITERION_ARGS[*]} '$KERNELS'; cargo bench --bench memory)"
