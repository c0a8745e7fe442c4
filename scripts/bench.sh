#!/usr/bin/env bash
# Run the comparison benchmarks (benches/compare.rs) and regenerate the figures in
# BENCHMARKS.md from criterion's JSON output.
#
#   scripts/bench.sh               run everything (about 10 minutes on 2 cores), then the table
#   scripts/bench.sh decode_binary run only the benchmarks matching a criterion filter
#   scripts/bench.sh --table-only  rebuild the table from target/criterion without running
set -euo pipefail
cd "$(dirname "$0")/.."

# Short but stable enough on a small shared machine; criterion's defaults take ~4x longer.
CRITERION_ARGS=(--warm-up-time 1 --measurement-time 2 --sample-size 30)

if [ "${1:-}" = "--table-only" ]; then
  shift
else
  if [ $# -eq 0 ]; then
    # A full run replaces every figure: drop results of benchmarks that no longer exist.
    rm -rf target/criterion
  fi
  cargo bench --bench compare -- "${CRITERION_ARGS[@]}" "$@"
fi

python3 scripts/bench_table.py \
  --criterion-dir target/criterion \
  --output BENCHMARKS.md \
  --command "scripts/bench.sh  (= cargo bench --bench compare -- ${CRITERION_ARGS[*]})"
