"""A real Socket.IO client (python-socketio) against examples/socketio_server.rs, run by
scripts/socketio_python_check.sh.

For each transport setting: join `/` and `/custom` with an auth payload and get the `auth`
event back on both, echo text and binary through `message`/`message-back`, an acknowledged
event with a binary argument; then the chat's events with two clients: both join a room
(acknowledged), one says text and a file to it and the other gets `said` with the sender's
sid (the ack counts one recipient), binary comes back from `echo-binary`, a server
`question` is acknowledged and comes back as `answer`; both disconnect.

Exits 0 when every check passed, 1 otherwise; every wait is bounded.
"""

import os
import queue
import sys
import time

import socketio

URL = os.environ.get("SOCKETIO_URL", "http://127.0.0.1:3000")
WAIT = 5
# Every client made, to disconnect whatever a failed check left connected.
CLIENTS = []


def check(cond, what):
    if not cond:
        raise AssertionError(f"check failed: {what}")
    print(f"  ok: {what}", flush=True)


class Client:
    """A python-socketio client whose events land in queues, one per event name."""

    def __init__(self, names, namespaces=("/",)):
        self.sio = socketio.Client(reconnection=False)
        CLIENTS.append(self.sio)
        self.queues = {}
        for nsp in namespaces:
            for name in names:
                q = self.queues[(nsp, name)] = queue.Queue()
                self.sio.on(name, self._put(q), namespace=nsp)

    @staticmethod
    def _put(q):
        def handler(*args):
            q.put(args)

        return handler

    def next(self, name, nsp="/"):
        return self.queues[(nsp, name)].get(timeout=WAIT)


def suite_events(label, transports):
    print(label, flush=True)
    c = Client(["auth", "message-back"], namespaces=("/", "/custom"))
    c.sio.connect(
        URL,
        auth={"token": "t-1"},
        namespaces=["/", "/custom"],
        transports=transports,
        wait_timeout=WAIT,
    )
    (auth,) = c.next("auth")
    check(auth == {"token": "t-1"}, "the auth event carries the CONNECT payload")
    (auth,) = c.next("auth", "/custom")
    check(auth == {"token": "t-1"}, "/custom joined on the same connection")
    if transports is None:
        check(c.sio.transport() == "websocket", "upgraded to WebSocket")

    c.sio.emit("message", (1, "2", {"3": [True]}))
    check(c.next("message-back") == (1, "2", {"3": [True]}), "text arguments echoed")

    c.sio.emit("message", ({"file": b"\x01\x02\x03"}, b"\x04\x05"))
    check(
        c.next("message-back") == ({"file": b"\x01\x02\x03"}, b"\x04\x05"),
        "nested and top-level attachments echoed",
    )

    acked = c.sio.call("message-with-ack", ("a", b"\x09"), timeout=WAIT)
    check(acked == ("a", b"\x09"), "ack with the same arguments, binary included")
    c.sio.disconnect()


def chat(label, transports, room):
    """The chat's events in `room`, a room of this run's own: a client of an earlier run may
    still be in its room until the server has its DISCONNECT."""
    print(f"{label}: chat", flush=True)
    names = ["auth", "said", "echo-binary", "answer"]
    a, b = Client(names), Client(names)
    for c, who in ((a, "a"), (b, "b")):
        c.sio.connect(URL, auth={"name": who}, transports=transports, wait_timeout=WAIT)
        c.next("auth")
    a.sio.on("question", lambda value: ({"to": value}, "yes"))

    check(a.sio.call("join", room, timeout=WAIT) is True, "join acknowledged")
    check(b.sio.call("join", room, timeout=WAIT) is True, "second client joined")

    reached = a.sio.call("say", (room, "hello room"), timeout=WAIT)
    check(reached == 1, f"say acknowledged with one recipient (got {reached})")
    said = b.next("said")
    check(
        said == (room, "hello room", a.sio.get_sid("/")),
        "the other client got said from the sender",
    )

    file = {"name": "dot.png", "type": "image/png", "data": b"\x89PNG"}
    a.sio.emit("say", (room, file))
    check(b.next("said")[1] == file, "a file said as binary reached the room")

    a.sio.emit("echo-binary", b"\x00\xff\x01\xfe")
    check(a.next("echo-binary") == (b"\x00\xff\x01\xfe",), "echo-binary: the same bytes back")

    a.sio.emit("ask", "ready?")
    check(
        a.next("answer") == ({"to": "ready?"}, "yes"),
        "question acknowledged, answer carries the ack",
    )

    b.sio.disconnect()
    check(not b.sio.connected, "disconnected")
    # The server may not have the DISCONNECT yet: ask until it has.
    alone = None
    for _ in range(40):
        alone = a.sio.call("say", (room, "anyone?"), timeout=WAIT)
        if alone == 0:
            break
        time.sleep(0.05)
    check(alone == 0, "the room is empty once the other client left")
    a.sio.disconnect()


def main():
    try:
        for i, (label, transports) in enumerate(
            (
                ("polling, upgraded to WebSocket", None),
                ("polling only", ["polling"]),
                ("WebSocket only", ["websocket"]),
            )
        ):
            suite_events(label, transports)
            chat(label, transports, f"room-{i}")
    except (AssertionError, queue.Empty, socketio.exceptions.SocketIOError) as e:
        print(f"failed: {type(e).__name__} {e}", file=sys.stderr)
        for sio in CLIENTS:
            try:
                sio.disconnect()
            except Exception:
                pass
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
