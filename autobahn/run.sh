#!/usr/bin/env bash
# Autobahn TestSuite conformance run of wsmachine, both roles, with kosoku (see autobahn/README.md).
#
#   autobahn/run.sh [all|server|client]
#
# server: kosoku -m fuzzingclient drives examples/echo_server.
# client: kosoku -m fuzzingserver serves the cases to examples/autobahn_client.
# Then autobahn/check.py compares every case with autobahn/expected.json; the exit status is
# the checker's (non-zero on any mismatch, missing report or failed step).
#
# Environment (all optional):
#   AUTOBAHN_TIMEOUT      seconds allowed for each kosoku mode (default 900)
#   AUTOBAHN_OUT          report directory (default reports/autobahn)
#   AUTOBAHN_VENV         virtualenv holding kosoku (default .venv)
#   AUTOBAHN_README       also rewrite the results table in this README
#   AUTOBAHN_SERVER_CMD   server under test instead of the echo_server example; it is given
#                         `--addr 127.0.0.1:PORT`
#   AUTOBAHN_CLIENT_CMD   client under test instead of the autobahn_client example; it is given
#                         `ws://127.0.0.1:PORT wsmachine`
# Only loopback addresses are used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ROLE="${1:-all}"
case "$ROLE" in
    all) ROLES=(server client) ;;
    server | client) ROLES=("$ROLE") ;;
    *)
        echo "usage: $0 [all|server|client]" >&2
        exit 2
        ;;
esac

KOSOKU_VERSION=0.1.0
HOST=127.0.0.1
AGENT=wsmachine
RUN_TIMEOUT="${AUTOBAHN_TIMEOUT:-900}"
OUT="${AUTOBAHN_OUT:-$ROOT/reports/autobahn}"
VENV="${AUTOBAHN_VENV:-$ROOT/.venv}"
EXCLUDES=() # every case, permessage-deflate's (12.*, 13.*) included
STARTUP_SECONDS=30             # for a listener to accept connections
FINISH_SECONDS=30              # for the fuzzingserver to write its reports once the client is done

log() { echo "autobahn: $*" >&2; }

# Background processes started here; all of them are stopped on exit, however it happens.
PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop "$pid"
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# forget PID: drop it from PIDS once it has been reaped, so that a recycled id is never signalled.
forget() {
    local pid kept=()
    for pid in "${PIDS[@]}"; do
        [[ "$pid" == "$1" ]] || kept+=("$pid")
    done
    PIDS=("${kept[@]}")
}

# stop PID: SIGTERM, then SIGKILL if it is still alive after 5 s; then reap it.
stop() {
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# bounded SECONDS CMD...: run CMD under `timeout` and return its status (124 when time ran out).
# CMD runs in the background and is waited for, so that a signal to this script is handled at
# once (bash defers traps while a foreground command runs) and the EXIT trap stops CMD.
bounded() {
    local limit=$1 pid rc=0
    shift
    timeout "$limit" "$@" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget "$pid"
    return "$rc"
}

# wait_exit PID SECONDS: succeed once PID has exited, fail if it still runs after SECONDS.
wait_exit() {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# wait_port PORT PID: succeed once 127.0.0.1:PORT accepts; fail if PID dies or time runs out.
wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + STARTUP_SECONDS))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A WebSocket opening handshake on /updateReports: tells the fuzzingserver the run is over,
# so it writes the reports of the cases that did run.
send_update_reports() {
    python3 - "$HOST" "$1" "$AGENT" <<'EOF'
import socket, sys
host, port, agent = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with socket.create_connection((host, port), timeout=10) as s:
    s.sendall((f"GET /updateReports?agent={agent} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    s.recv(1024)
EOF
}

setup_kosoku() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV"
        bounded 300 python3 -m venv "$VENV"
    fi
    local have
    have="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kosoku"))' 2>/dev/null || true)"
    if [[ "$have" != "$KOSOKU_VERSION" ]]; then
        log "installing kosoku==$KOSOKU_VERSION"
        bounded 600 "$VENV/bin/pip" install --disable-pip-version-check -q "kosoku==$KOSOKU_VERSION"
    fi
}

build() {
    if [[ -n "${AUTOBAHN_SERVER_CMD:-}" && -n "${AUTOBAHN_CLIENT_CMD:-}" ]]; then
        return 0
    fi
    log "building the examples"
    bounded 1800 cargo build --release --example echo_server --example autobahn_client
}

# Wsmachine as server: kosoku fuzzingclient against the echo server.
run_server_role() {
    local dir="$OUT/server" port pid rc=0
    local -a cmd
    if [[ -n "${AUTOBAHN_SERVER_CMD:-}" ]]; then
        read -r -a cmd <<<"$AUTOBAHN_SERVER_CMD"
    else
        cmd=("$ROOT/target/release/examples/echo_server")
    fi
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    port="$(free_port)" || return 1
    log "server role: ${cmd[*]} --addr $HOST:$port"
    timeout $((RUN_TIMEOUT + 60)) "${cmd[@]}" --addr "$HOST:$port" >"$OUT/echo_server.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        log "server role: the echo server did not accept connections on $HOST:$port"
        tail -n 20 "$OUT/echo_server.log" >&2 || true
        return 1
    fi
    local start=$SECONDS
    bounded "$RUN_TIMEOUT" "$VENV/bin/kosoku" -m fuzzingclient "${EXCLUDES[@]}" -o "$dir" "$HOST:$port" \
        >"$OUT/kosoku-fuzzingclient.log" 2>&1 || rc=$?
    log "server role: kosoku finished in $((SECONDS - start)) s (exit $rc)"
    if ((rc == 124)); then
        log "server role: kosoku was stopped after ${RUN_TIMEOUT} s; no report was written"
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        log "server role: the echo server exited during the run"
        tail -n 20 "$OUT/echo_server.log" >&2 || true
    fi
    stop "$pid"
}

# Wsmachine as client: kosoku fuzzingserver serving the cases to the Autobahn client.
run_client_role() {
    local dir="$OUT/client" port pid rc=0 client_rc=0
    local -a cmd
    if [[ -n "${AUTOBAHN_CLIENT_CMD:-}" ]]; then
        read -r -a cmd <<<"$AUTOBAHN_CLIENT_CMD"
    else
        cmd=("$ROOT/target/release/examples/autobahn_client")
    fi
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    port="$(free_port)" || return 1
    timeout $((RUN_TIMEOUT + FINISH_SECONDS + 30)) "$VENV/bin/kosoku" -m fuzzingserver "${EXCLUDES[@]}" \
        -o "$dir" "$HOST:$port" >"$OUT/kosoku-fuzzingserver.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        log "client role: kosoku fuzzingserver did not accept connections on $HOST:$port"
        tail -n 20 "$OUT/kosoku-fuzzingserver.log" >&2 || true
        return 1
    fi
    log "client role: ${cmd[*]} ws://$HOST:$port $AGENT"
    local start=$SECONDS
    bounded "$RUN_TIMEOUT" "${cmd[@]}" "ws://$HOST:$port" "$AGENT" >"$OUT/autobahn_client.log" 2>&1 || client_rc=$?
    log "client role: the client finished in $((SECONDS - start)) s (exit $client_rc)"
    if ! wait_exit "$pid" "$FINISH_SECONDS"; then
        # The client never reported the end of the run: end it here so the cases that did
        # run are still reported (the others show up as missing).
        log "client role: kosoku still waits for /updateReports; sending it"
        send_update_reports "$port" || true
        if ! wait_exit "$pid" "$FINISH_SECONDS"; then
            log "client role: kosoku did not finish; stopping it"
            stop "$pid"
            rc=124
        fi
    fi
    if ((rc == 0)); then
        wait "$pid" 2>/dev/null || rc=$?
        forget "$pid"
    fi
    log "client role: kosoku exit $rc"
    if ((client_rc != 0)); then
        log "client role: the client failed (exit $client_rc)"
        tail -n 20 "$OUT/autobahn_client.log" >&2 || true
        return 1
    fi
}

mkdir -p "$OUT"
setup_kosoku
build

status=0
# A failed role does not stop the other; errexit is off inside these calls, so the role
# functions check their steps themselves.
for role in "${ROLES[@]}"; do
    case "$role" in
        server) run_server_role || status=1 ;;
        client) run_client_role || status=1 ;;
    esac
done

check=(python3 "$ROOT/autobahn/check.py" --roles "$(
    IFS=,
    echo "${ROLES[*]}"
)" --server-index "$OUT/server/index.json" --client-index "$OUT/client/index.json")
if [[ -n "${AUTOBAHN_README:-}" ]]; then
    check+=(--write-readme "$AUTOBAHN_README")
fi
"${check[@]}" || status=$?
exit "$status"
