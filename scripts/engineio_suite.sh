#!/usr/bin/env bash
# Run the Engine.IO protocol's own test suite (socketio/engine.io-protocol, test-suite/)
# against examples/engineio_echo.rs, with the parameters the suite expects.
#
#   scripts/engineio_suite.sh                 clone the suite at the pinned commit into a
#                                             temporary directory
#   ENGINEIO_SUITE=/path/to/test-suite scripts/engineio_suite.sh
#                                             use a copy already on the machine (it is copied
#                                             to a temporary directory, never written to)
#
# Needs git (without ENGINEIO_SUITE), node and npm. The suite's files stay outside the
# repository: they are fetched or copied into a temporary directory, where `npm ci` installs
# the package set its package-lock.json pins. Bounded: each step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_REPO=https://github.com/socketio/engine.io-protocol
SUITE_COMMIT=f21de7b00ed09b3bbad2807db718ea5d6bc36aba
ADDR=127.0.0.1:3000

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${ENGINEIO_SUITE:-}" ]; then
  cp -R "$ENGINEIO_SUITE" "$work/test-suite"
else
  timeout 120 git clone --quiet "$SUITE_REPO" "$work/repo"
  git -C "$work/repo" checkout --quiet "$SUITE_COMMIT"
  mv "$work/repo/test-suite" "$work/test-suite"
fi

(cd "$work/test-suite" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

cargo build --quiet --features engineio --example engineio_echo
target/debug/examples/engineio_echo --addr "$ADDR" \
  --ping-interval 300 --ping-timeout 200 --max-payload 1000000 &
server_pid=$!
# Wait for the listener.
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; then break; fi
  sleep 0.1
done

cd "$work/test-suite"
timeout 120 npx mocha test-suite.js
