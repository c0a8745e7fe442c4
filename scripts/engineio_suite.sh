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

source scripts/lib/example_server.sh
fetch_suite "$SUITE_REPO" "$SUITE_COMMIT" "${ENGINEIO_SUITE:-}"
start_example engineio engineio_echo "$ADDR" \
  --ping-interval 300 --ping-timeout 200 --max-payload 1000000
cd "$work/test-suite"
timeout 120 npx mocha test-suite.js
