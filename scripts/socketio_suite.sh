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

source scripts/lib/example_server.sh
fetch_suite "$SUITE_REPO" "$SUITE_COMMIT" "${SOCKETIO_SUITE:-}"
start_example socketio socketio_server "$ADDR" \
  --ping-interval 300 --ping-timeout 200 --connect-timeout 1000
cd "$work/test-suite"
timeout 120 npx mocha test-suite.js
