"""The WebSocket framing helpers: unmasking and close payloads."""

from __future__ import annotations

import os
import struct

from websocket_edge.bounded import close_payload, unmask


def test_unmask_matches_per_byte_xor():
    for n in (0, 1, 3, 4, 5, 125, 4096 + 3):
        payload, mask = os.urandom(n), os.urandom(4)
        assert unmask(payload, mask) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_close_payload_carries_the_code():
    assert close_payload(1009, "too big") == struct.pack("!H", 1009) + b"too big"
    long_reason = "é" * 100   # 200 bytes: cut to <= 123 without splitting a character
    payload = close_payload(1000, long_reason)
    assert len(payload) <= 125
    payload[2:].decode("utf-8")
