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

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo '{"private":true,"type":"module"}' > "$work/package.json"
cp scripts/socketio_client_check.mjs "$work/check.mjs"
(cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
  "socket.io-client@$CLIENT_VERSION")

cargo build --quiet --features socketio --example socketio_server
target/debug/examples/socketio_server --addr "$ADDR" &
server_pid=$!
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; then break; fi
  sleep 0.1
done

SOCKETIO_URL="http://$ADDR" timeout 60 node "$work/check.mjs"
