#!/usr/bin/env bash
# Load soak of the echo server on loopback: examples/soak.rs drives examples/echo_server with
# CONNS concurrent connections (default 10 000): idle, chatty and slow-reading clients and a
# share of hostile ones (slowloris heads, oversized frames, invalid UTF-8, a compressed bomb,
# resets). The server runs once with one event loop and once with one per core (--threads).
# The soak reads the server's RSS and CPU time from /proc at its phase boundaries and reports
# RSS per idle and per active connection, CPU per message, echo latency, every echo checked,
# and each hostile connection's close code; it exits non-zero on a lost echo or a failed check.
#
#   scripts/soak.sh [CONNS]
#
# Environment: SOAK_ACTIVE_SECS (default 20), SOAK_IDLE_SECS (3), SOAK_THINK_MS (a chatty
# client's pause after each echo, 500), SOAK_THREADS (the loop counts to run, default "1 N"
# with N the number of cores, at least 2).
# Each run is bounded (timeout), and the server is stopped when the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=${1:-10000}
active=${SOAK_ACTIVE_SECS:-20}
idle=${SOAK_IDLE_SECS:-3}
think=${SOAK_THINK_MS:-500}
cores=$(nproc)
threads=${SOAK_THREADS:-"1 $((cores < 2 ? 2 : cores))"}
handshake_timeout=5

# One file descriptor per connection in each process, and a few more: raise the soft limit
# (the hard limit is the ceiling; the soak says so if it is still too low).
need=$((conns + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "soak: $conns connections need $need open files, the hard limit is $hard" >&2
  exit 2
fi
ulimit -n "$need"

cargo build --quiet --release --example echo_server --example soak

server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# The echo server has no admission limits unless given flags. The soak gives it limits (the
# library's defaults, 32 connections per address, would refuse a load that all comes from
# 127.0.0.1): every connection admitted, the admission table in use.
admission=(--max-conns-per-ip $((conns + 1000)) --max-conns $((conns + 1000))
  --rate "$conns" --burst $((conns + 1000)))

status=0
for n in $threads; do
  echo "=== echo_server --threads $n, $conns connections ==="
  log=$(mktemp)
  out=$(mktemp)
  # Port 0: the kernel picks a free one, which the server's first line names.
  target/release/examples/echo_server --addr 127.0.0.1:0 --threads "$n" \
    --handshake-timeout "$handshake_timeout" "${admission[@]}" >"$out" 2>"$log" &
  server_pid=$!
  addr=
  for _ in $(seq 50); do
    addr=$(sed -n 's#.*listening on ws://\(127\.0\.0\.1:[0-9]*\)/.*#\1#p' "$out")
    if [ -n "$addr" ]; then break; fi
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "soak: echo_server did not start" >&2
    cat "$log" >&2
    exit 1
  fi
  bound=$((60 + idle + active + handshake_timeout + 60 + conns / 100))
  if ! timeout "$bound" target/release/examples/soak --addr "$addr" --conns "$conns" \
    --server-pid "$server_pid" --idle-secs "$idle" --active-secs "$active" --think-ms "$think" \
    --handshake-timeout "$handshake_timeout" --clk-tck "$(getconf CLK_TCK)"; then
    status=1
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "soak: echo_server exited during the run" >&2
    status=1
  fi
  echo "server stderr: $(wc -l <"$log") lines (the resets and refused writes it logs)"
  rm -f "$log" "$out"
  cleanup
  server_pid=
done
exit "$status"
