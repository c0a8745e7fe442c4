#!/usr/bin/env bash
# Run the Socket.IO protocol's own test suite (socketio/socket.io-protocol, test-suite/)
# against examples/socketio_server.rs, with the parameters the suite expects.
#
#   scripts/socketio_suite.sh                 clone the suite at the pinned commit into a
#                                             temporary directory
#   SOCKETIO_SUITE=/path/to/test-suite scripts/socketio_suite.sh
#                                             use a copy already on the machine (it is copied
#                                             to a temporary directory, never written to)
#
# Needs git (without SOCKETIO_SUITE), node and npm. The suite's files stay outside the
# repository: they are fetched or copied into a temporary directory, where `npm ci` installs
# the package set its package-lock.json pins. Bounded: each step runs under a timeout.
#
# The suite's client connects to localhost:3000 and expects pingInterval 300 ms, pingTimeout
# 200 ms and maxPayload 1000000 (the example's default); its last connect case waits for a
# connection that never sends CONNECT to be closed within mocha's 2 s, hence the connect
# timeout of 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE_REPO=https://github.com/socketio/socket.io-protocol
SUITE_COMMIT=4f633dd6a4445492d57af3b27ddd2d336014f1f1
ADDR=127.0.0.1:3000

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${SOCKETIO_SUITE:-}" ]; then
  cp -R "$SOCKETIO_SUITE" "$work/test-suite"
else
  timeout 120 git clone --quiet "$SUITE_REPO" "$work/repo"
  git -C "$work/repo" checkout --quiet "$SUITE_COMMIT"
  mv "$work/repo/test-suite" "$work/test-suite"
fi

(cd "$work/test-suite" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

cargo build --quiet --features socketio --example socketio_server
target/debug/examples/socketio_server --addr "$ADDR" \
  --ping-interval 300 --ping-timeout 200 --connect-timeout 1000 &
server_pid=$!
# Wait for the listener.
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; then break; fi
  sleep 0.1
done

cd "$work/test-suite"
timeout 120 npx mocha test-suite.js
