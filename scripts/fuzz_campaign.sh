#!/usr/bin/env bash
# A longer fuzzing campaign on every target (or those named), under AddressSanitizer, whose
# findings are minimized into the committed corpus, fuzz/corpus/<target>/.
#
#   scripts/fuzz_campaign.sh SECONDS_PER_TARGET [TARGET...]
#
# Each target starts from its committed corpus and its seeds (fuzz/seeds/<target>/: the
# hand-written ones and those scripts/fuzz_seeds.py generates: a browser's handshake and
# Autobahn-like frames), fuzzes for the given time, then `cargo fuzz cmin` keeps a small set of
# inputs that reaches every edge all of them reached. Commit fuzz/corpus afterwards: `.ci/run`
# replays it on every run. A crash stops the campaign with the input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:?usage: scripts/fuzz_campaign.sh SECONDS_PER_TARGET [TARGET...]}"
shift
# Inputs longer than this are not kept: they are slow to replay and rarely reach more.
max_len="${FUZZ_MAX_LEN:-4096}"

python3 scripts/fuzz_seeds.py
cd fuzz
cargo +nightly fuzz build
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  echo "--- $t: ${seconds} s"
  mkdir -p "$work/$t" "corpus/$t"
  dirs=("$work/$t" "corpus/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  cargo +nightly fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -print_final_stats=1
  # What the run found, the corpus so far and the seeds, minimized together.
  find "$work/$t" -type f -size -"$((max_len + 1))"c -exec cp -t "corpus/$t" {} +
  [ -d "seeds/$t" ] && cp -t "corpus/$t" "seeds/$t"/*
  # Edges, not hit counts (-use_counters=0): a third of the inputs for the same edges.
  cargo +nightly fuzz cmin "$t" "corpus/$t" -- \
    -max_len="$max_len" -rss_limit_mb=2048 -use_counters=0
  echo "--- $t: $(find "corpus/$t" -type f | wc -l) inputs, $(du -sh "corpus/$t" | cut -f1)"
done
