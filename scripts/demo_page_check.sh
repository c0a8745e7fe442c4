#!/usr/bin/env bash
# Check the page examples/echo_server.rs serves at `/` in a real browser: headless Chromium
# (Debian's `chromium` package), driven by the `playwright-core` package from npm, runs
# scripts/demo_page_check.mjs against the server twice, with permessage-deflate and with
# --no-deflate.
#
# Needs node, npm and /usr/bin/chromium (.ci/run installs it with apt-get when missing). The
# package is installed, at a pinned version, into a temporary directory outside the repository.
# Bounded: each step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=1.65.1
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PROTOCOL=echo.v1

if [ ! -x "$CHROMIUM" ]; then
  echo "demo_page_check: $CHROMIUM not found (apt-get install -y chromium)" >&2
  exit 1
fi

source scripts/lib/example_server.sh
cp scripts/demo_page_check.mjs "$work/check.mjs"
npm_install "playwright-core@$PLAYWRIGHT_VERSION"

# A port no listener holds now, on the loopback.
free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

for deflate in 1 0; do
  addr="127.0.0.1:$(free_port)"
  args=(--protocol "$PROTOCOL")
  if [ "$deflate" = 0 ]; then args+=(--no-deflate); fi
  echo "--- echo_server ${args[*]} on $addr"
  start_example deflate echo_server "$addr" "${args[@]}"
  DEMO_URL="http://$addr/" DEMO_DEFLATE=$deflate DEMO_PROTOCOL=$PROTOCOL DEMO_TMP="$work" \
    CHROMIUM="$CHROMIUM" timeout 180 node "$work/check.mjs"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
