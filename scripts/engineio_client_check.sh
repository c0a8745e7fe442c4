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

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo '{"private":true,"type":"module"}' > "$work/package.json"
cp scripts/engineio_client_check.mjs "$work/check.mjs"
(cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
  "engine.io-client@$CLIENT_VERSION")

cargo build --quiet --features engineio --example engineio_echo
target/debug/examples/engineio_echo --addr "$ADDR" &
server_pid=$!
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; then break; fi
  sleep 0.1
done

ENGINEIO_URL="http://$ADDR" timeout 60 node "$work/check.mjs"
