# Sourced by the scripts that check an example server against a real client or a protocol's
# own test suite: a temporary work directory outside the repository, removed on exit with the
# server stopped, and `start_example` to build and start an example and wait for its listener.
# The caller has `set -euo pipefail` and runs from the repository's root.

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_example FEATURE EXAMPLE ADDR [ARG...]: build the example with FEATURE, start it on ADDR
# (host:port, loopback) with the further arguments, and wait up to 5 s for its listener. Fails
# when the example exits first (its address taken, say: another server answering there is not
# the example) or no listener appears.
start_example() {
  local feature=$1 example=$2 addr=$3
  shift 3
  cargo build --quiet --features "$feature" --example "$example"
  "target/debug/examples/$example" --addr "$addr" "$@" &
  server_pid=$!
  for _ in $(seq 50); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "$example exited before listening on $addr" >&2
      server_pid=
      return 1
    fi
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$example: no listener on $addr" >&2
  return 1
}

# npm_install SPEC...: install npm packages at pinned versions into the work directory, as an
# ES module package.
npm_install() {
  echo '{"private":true,"type":"module"}' > "$work/package.json"
  (cd "$work" && timeout 300 npm install --no-audit --no-fund --loglevel=error "$@")
}

# fetch_suite REPO COMMIT LOCAL: the protocol repository's test-suite/ into the work directory
# (a copy of LOCAL when it is set, else a clone at COMMIT), with its locked npm packages.
fetch_suite() {
  local repo=$1 commit=$2 local_copy=$3
  if [ -n "$local_copy" ]; then
    cp -R "$local_copy" "$work/test-suite"
  else
    timeout 120 git clone --quiet "$repo" "$work/repo"
    git -C "$work/repo" checkout --quiet "$commit"
    mv "$work/repo/test-suite" "$work/test-suite"
  fi
  (cd "$work/test-suite" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
}
