#!/usr/bin/env bash
# Check examples/socketio_server.rs with a real client: the `socket.io-client` package from
# npm runs scripts/socketio_client_check.mjs (the suite's events, then the chat's with two
# clients) over long-polling with the upgrade, long-polling only and WebSocket only.
#
# Needs node and npm. The package is installed, at a pinned version, into a temporary
# directory outside the repository. Bounded: each step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT_VERSION=4.8.4
ADDR=127.0.0.1:3000

source scripts/lib/example_server.sh
cp scripts/socketio_client_check.mjs "$work/check.mjs"
npm_install "socket.io-client@$CLIENT_VERSION"
start_example socketio socketio_server "$ADDR"
SOCKETIO_URL="http://$ADDR" timeout 60 node "$work/check.mjs"
