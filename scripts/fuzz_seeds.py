#!/usr/bin/env python3
"""Write the generated seed inputs of the fuzz targets into fuzz/seeds/<target>/gen_*.

Each seed is an input in its target's own format (see the target's comment and fuzz/src/lib.rs):
a browser's upgrade request and the 101 that answers it, and frames of the kinds the Autobahn
TestSuite sends (text and binary at each length encoding, fragmented messages with control
frames between the fragments, pings, closes with and without a code, invalid UTF-8, reserved
bits and opcodes). The files are deterministic; rerun the script after changing it and commit
its output. `.ci/run` and `scripts/fuzz_campaign.sh` use every file under fuzz/seeds/.
"""

import base64
import hashlib
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# What a browser sends (the header set and order of a current Chromium).
BROWSER_KEY = b"x3JJHMbDL1EzLkh9GBhXDw=="
BROWSER_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: 127.0.0.1:9001\r\n"
    b"Connection: Upgrade\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/124.0.0.0 Safari/537.36\r\n"
    b"Upgrade: websocket\r\n"
    b"Origin: http://127.0.0.1:9001\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Sec-WebSocket-Key: " + BROWSER_KEY + b"\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"\r\n"
)


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def response_101(key: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key) + b"\r\n" + extra + b"\r\n"
    )


def frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask=None) -> bytes:
    """One frame; masked with `mask` (4 bytes) when given, as a client sends it."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n <= 0xFFFF:
        head += bytes([m | 126]) + struct.pack(">H", n)
    else:
        head += bytes([m | 127]) + struct.pack(">Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack(">H", code) + reason


# Conversations of frames, as (name, [(opcode, payload, fin, rsv)]), in the spirit of the
# Autobahn cases they are named after.
CONVERSATIONS = [
    ("1_text_lengths", [(1, b"*" * n, True, 0) for n in (0, 125, 126, 300)]),
    ("1_binary_16bit", [(2, bytes(range(256)) * 2, True, 0)]),
    ("2_pings", [(9, b"", True, 0), (9, b"ping payload", True, 0), (10, b"unsolicited", True, 0)]),
    ("2_ping_125", [(9, b"\xfe" * 125, True, 0)]),
    ("2_ping_126_invalid", [(9, b"\xfe" * 126, True, 0)]),
    ("3_rsv_set", [(1, b"Hello", True, 1)]),
    ("4_reserved_opcode", [(3, b"", True, 0), (11, b"x", True, 0)]),
    (
        "5_fragmented_with_ping",
        [(1, b"frag", False, 0), (9, b"p", True, 0), (0, b"ment", False, 0), (0, b"ed", True, 0)],
    ),
    ("5_continuation_first", [(0, b"orphan", True, 0)]),
    ("5_fragmented_ping", [(9, b"a", False, 0), (0, b"b", True, 0)]),
    ("6_utf8_valid", [(1, "κόσμε 😀 €".encode(), True, 0)]),
    ("6_utf8_split_code_point", [(1, b"\xce\xba\xe1", False, 0), (0, b"\xbd\xb9\xcf\x83", True, 0)]),
    ("6_utf8_invalid", [(1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", True, 0)]),
    ("6_utf8_overlong", [(1, b"\xc0\xaf", True, 0), (1, b"\xf4\x90\x80\x80", True, 0)]),
    ("7_close_normal", [(1, b"bye", True, 0), (8, close_payload(1000, b"done"), True, 0)]),
    ("7_close_empty", [(8, b"", True, 0)]),
    ("7_close_one_byte", [(8, b"\x03", True, 0)]),
    ("7_close_bad_code", [(8, close_payload(1005), True, 0)]),
    ("7_close_registered_codes", [(8, close_payload(1014, b"bad gateway"), True, 0)]),
    ("7_close_bad_reason", [(8, close_payload(1000, b"\xff"), True, 0)]),
    ("7_frame_after_close", [(8, close_payload(1001), True, 0), (1, b"late", True, 0)]),
    ("9_large_binary", [(2, bytes(i % 251 for i in range(4000)), True, 0)]),
]

MASK = b"\x37\xfa\x21\x3d"


def conversation_bytes(frames, masked: bool) -> bytes:
    return b"".join(frame(op, p, fin, rsv, MASK if masked else None) for op, p, fin, rsv in frames)


def receive_ops(data: bytes, lent: bool = False) -> bytes:
    """The connection program's receive operations for `data`: op 0xF0 takes byte × 16 bytes,
    op 0x00 byte × 1 (0x80 added: through the lent buffer)."""
    out = b""
    flag = 0x80 if lent else 0
    while data:
        if len(data) >= 16:
            k = min(len(data) // 16, 255)
            out += bytes([0xF0 | flag, k])
            out += data[: 16 * k]
            data = data[16 * k :]
        else:
            out += bytes([0x00 | flag, len(data)]) + data
            data = b""
    return out


# Local calls of the connection program (fuzz/src/lib.rs): op 4 send_text, 5 send_binary,
# 7 send_ping, 8 close, 9 time passes, 10 drain output, 11 EOF.
LOCAL_CALLS = (
    bytes([4, 5]) + b"hello"
    + bytes([5, 3, 1, 2, 3])
    + bytes([7, 1]) + b"p"
    + bytes([10, 255])
    + bytes([8, 0x03, 0xE8, 3]) + b"bye"
    + bytes([10, 255])
    + bytes([9, 60])
)


def write(target: str, name: str, data: bytes) -> None:
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "gen_" + name), "wb") as f:
        f.write(data)


def main() -> int:
    # The handshake targets: control byte (limits, number of chunk sizes), then the head.
    write("handshake_request", "browser", b"\x00" + BROWSER_REQUEST)
    write("handshake_request", "browser_chunks", b"\x03\x01\x07\x40" + BROWSER_REQUEST)
    write("handshake_request", "browser_small_limits", b"\x80" + BROWSER_REQUEST)
    # The response target's client sends the key "the sample nonce".
    sample_key = base64.b64encode(b"the sample nonce")
    deflate = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n"
    write("handshake_response", "deflate", b"\x00" + response_101(sample_key, deflate))
    write("handshake_response", "frames_after", b"\x02\x05\x30" + response_101(sample_key)
          + conversation_bytes(CONVERSATIONS[0][1], masked=False))

    # The connection targets: a flags byte (0: whole delivery, auto pong, handshake first).
    for name, frames in CONVERSATIONS:
        peer = BROWSER_REQUEST + conversation_bytes(frames, masked=True)
        write("connection_server", name, b"\x00" + receive_ops(peer) + LOCAL_CALLS + b"\x0b")
    # The client's key is [7; 16].
    client_key = base64.b64encode(bytes([7] * 16))
    for name, frames in CONVERSATIONS:
        peer = response_101(client_key) + conversation_bytes(frames, masked=False)
        write("connection_client", name, b"\x00" + receive_ops(peer) + LOCAL_CALLS + b"\x0b")
    # Streaming delivery, through the lent buffer, and an upgraded machine (flags 1, 4).
    frag = conversation_bytes(CONVERSATIONS[7][1], masked=True)
    write("connection_server", "streaming_lent", b"\x05" + receive_ops(frag, lent=True) + b"\x0b")
    frag = conversation_bytes(CONVERSATIONS[7][1], masked=False)
    write("connection_client", "streaming_lent", b"\x05" + receive_ops(frag, lent=True) + b"\x0b")

    # chunking: flags (bit 0 client, bit 1 streaming, bit 2 lent buffer), cut count, cuts.
    for name, frames in CONVERSATIONS:
        for role, masked in ((0, True), (1, False)):
            peer = conversation_bytes(frames, masked)
            cuts = [1, 3, len(peer) // 2, len(peer) - 1]
            head = bytes([role | 0x06, len(cuts)]) + b"".join(struct.pack(">H", c) for c in cuts)
            write("chunking", f"{name}_{'server' if masked else 'client'}", head + peer)

    # differential_tungstenite: a flags byte, then a client's frames.
    for name, frames in CONVERSATIONS:
        write("differential_tungstenite", name, b"\x00" + conversation_bytes(frames, masked=True))

    # frame_decoder: options (bit 7 expect masked, low bits allowed RSV), then a header.
    headers = [
        (0x80, frame(1, b"Hello", mask=MASK)),
        (0x80, frame(2, b"x" * 126, mask=MASK)[:8]),
        (0x80, frame(2, b"x" * 65536, mask=MASK)[:14]),
        (0x00, frame(9, b"ping")),
        (0x04, frame(1, b"z", rsv=4)),
        (0x00, frame(8, b"\x03\xe8")),
        (0x00, b"\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x00"),
        (0x00, b"\x89\x7e\x00\x7e"),
    ]
    for i, (opts, h) in enumerate(headers):
        write("frame_decoder", f"header_{i}", bytes([opts]) + h)

    # utf8_validator: cut count, cuts (scaled), then the text.
    texts = [
        "Hello-µ@ßöäüàá-UTF-8!!".encode(),
        "κόσμε".encode() * 20,
        "😀€é".encode() * 30,
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64",
        b"\xed\xa0\x80" + b"a" * 70,
        b"a" * 63 + b"\xe2\x82",
        b"a" * 127 + b"\xf0\x9f\x98\x80" + b"b" * 10,
    ]
    for i, t in enumerate(texts):
        write("utf8_validator", f"text_{i}", bytes([3, 1, 100, 200]) + t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
