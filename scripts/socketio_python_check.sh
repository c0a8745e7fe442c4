#!/usr/bin/env bash
# Check examples/socketio_server.rs with a second real client: `python-socketio` from PyPI
# runs scripts/socketio_python_check.py (the suite's events, then the chat's with two
# clients) over long-polling with the upgrade, long-polling only and WebSocket only.
#
# Needs python3 with venv. The client and the packages it talks through are installed, at
# pinned versions, into a temporary virtual environment outside the repository. Bounded:
# each step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  python-socketio==5.13.0
  python-engineio==4.15.1
  requests==2.34.2
  websocket-client==1.9.2
)
ADDR=127.0.0.1:3000

source scripts/lib/example_server.sh
timeout 60 python3 -m venv "$work/venv"
timeout 300 "$work/venv/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"
start_example socketio socketio_server "$ADDR"
SOCKETIO_URL="http://$ADDR" timeout 120 "$work/venv/bin/python" scripts/socketio_python_check.py
