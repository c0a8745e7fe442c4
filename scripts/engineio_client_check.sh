#!/usr/bin/env bash
# Check examples/engineio_echo.rs with a real client: the `engine.io-client` package from
# npm runs scripts/engineio_client_check.mjs with its default transports (long-polling, then
# the upgrade to WebSocket).
#
# Needs node and npm. The package is installed, at a pinned version, into a temporary
# directory outside the repository. Bounded: each step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT_VERSION=6.6.8
ADDR=127.0.0.1:3001

source scripts/lib/example_server.sh
cp scripts/engineio_client_check.mjs "$work/check.mjs"
npm_install "engine.io-client@$CLIENT_VERSION"
start_example engineio engineio_echo "$ADDR"
ENGINEIO_URL="http://$ADDR" timeout 60 node "$work/check.mjs"
