"""A small RFC 6455 WebSocket client on a bare asyncio transport (no extra dependency).

Why not websocket-client (with or without gevent): one user there is one blocked greenlet
or thread, and every frame costs several small `recv` calls (header, length, payload) plus
a switch. Here one `data_received` call parses every frame that arrived in one read, and a
send is one `transport.write`. Measured numbers are in docs/loadtest.md.

Only what a load generator needs: the opening handshake (with the check of
Sec-WebSocket-Accept and the chosen subprotocol), text/binary frames (fragmented ones
reassembled), ping → pong, the closing handshake. Client frames are masked as required.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
from typing import Protocol

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HANDSHAKE_BYTES = 64 * 1024
MAX_FRAME_BYTES = 16 * 1024 * 1024

CONNECTING, OPEN, CLOSING, CLOSED = range(4)

_rand32 = random.Random().getrandbits


class Listener(Protocol):  # what a WebSocket reports to
    def on_open(self, subprotocol: str | None) -> None: ...
    def on_message(self, payload: bytes) -> None: ...
    def on_closed(self, reason: str, expected: bool) -> None: ...


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with the 4-byte key, as one big-integer operation (fast for chat-sized frames)."""
    n = len(payload)
    if not n:
        return b""
    keys = (key * ((n >> 2) + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


class WebSocket(asyncio.Protocol):
    """One client connection. Create it with `loop.create_connection(lambda: WebSocket(...))`."""

    __slots__ = ("listener", "host", "port", "path", "subprotocol", "origin", "state",
                 "transport", "_key", "_buf", "_frag", "_closing_expected", "status")

    def __init__(self, listener: Listener, host: str, port: int, path: str,
                 subprotocol: str | None = None, origin: str | None = None):
        self.listener = listener
        self.host, self.port, self.path = host, port, path
        self.subprotocol = subprotocol
        self.origin = origin
        self.state = CONNECTING
        self.transport: asyncio.Transport | None = None
        self._key = base64.b64encode(os.urandom(16)).decode("ascii")
        self._buf = bytearray()
        self._frag: list[bytes] | None = None
        self._closing_expected = False
        self.status = ""   # why it closed, for the listener

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: tidings-loadtest",
        ]
        if self.origin:
            lines.append(f"Origin: {self.origin}")
        if self.subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {self.subprotocol}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def data_received(self, data: bytes) -> None:
        if self.state == CONNECTING:
            self._buf += data
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HANDSHAKE_BYTES:
                    self._fail("handshake_too_large")
                return
            head = bytes(self._buf[:end]).decode("latin-1")
            rest = bytes(self._buf[end + 4:])
            self._buf = bytearray()
            if not self._handshake(head):
                return
            if not rest:
                return
            data = rest
        if self.state == CLOSED:
            return
        buf = self._buf
        if buf:
            buf += data
        else:
            buf = bytearray(data)
        n = len(buf)
        pos = 0
        listener = self.listener
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
                if length > MAX_FRAME_BYTES:
                    self._fail("frame_too_large")
                    return
            masked = b1 & 0x80
            if masked:
                head += 4
            end = pos + head + length
            if end > n:
                break
            payload = bytes(buf[pos + head:end])
            if masked:  # servers must not mask, but tolerate it
                payload = mask(payload, bytes(buf[pos + head - 4:pos + head]))
            pos = end
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == 1 or opcode == 2:
                if fin:
                    listener.on_message(payload)
                else:
                    self._frag = [payload]
            elif opcode == 0:
                if self._frag is None:
                    self._fail("protocol_error")
                    return
                self._frag.append(payload)
                if fin:
                    whole = b"".join(self._frag)
                    self._frag = None
                    listener.on_message(whole)
            elif opcode == 9:
                self._write_frame(0x8A, payload)
            elif opcode == 10:
                pass
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                self.status = f"close_{code}" + (f" {reason}" if reason else "")
                if self.state == OPEN:
                    self._write_frame(0x88, payload[:2])
                self.state = CLOSING
                if self.transport is not None:
                    self.transport.close()
                return
            else:
                self._fail("protocol_error")
                return
            if self.state == CLOSED:
                return
        if pos:
            del buf[:pos]
        self._buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.state
        self.state = CLOSED
        if not self.status:
            if was == CONNECTING:
                self.status = "closed_during_handshake"
            elif exc is not None:
                self.status = f"reset: {type(exc).__name__}"
            else:
                self.status = "closed_by_server"
        self.listener.on_closed(self.status, self._closing_expected)

    # -- handshake --------------------------------------------------------------------------
    def _handshake(self, head: str) -> bool:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            self._fail("bad_handshake_response")
            return False
        if parts[1] != "101":
            self._fail(f"http_{parts[1]}")
            return False
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            self._fail("bad_accept_key")
            return False
        chosen = headers.get("sec-websocket-protocol") or None
        if self.subprotocol and chosen != self.subprotocol:
            self._fail(f"subprotocol_refused:{chosen}")
            return False
        self.state = OPEN
        self.listener.on_open(chosen)
        return True

    # -- sending ----------------------------------------------------------------------------
    def _write_frame(self, first: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            header = bytes((first, 0x80 | n))
        elif n < 65536:
            header = bytes((first, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((first, 0xFF)) + n.to_bytes(8, "big")
        key = _rand32(32).to_bytes(4, "big")
        transport.write(header + key + mask(payload, key))

    def send_text(self, payload: bytes) -> bool:
        """Queue one text frame. False when the connection is not open."""
        if self.state != OPEN:
            return False
        self._write_frame(0x81, payload)
        return True

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (the server answers and closes the TCP connection)."""
        self._closing_expected = True
        if self.state == OPEN:
            self._write_frame(0x88, code.to_bytes(2, "big"))
            self.state = CLOSING
        elif self.state == CONNECTING and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._closing_expected = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, reason: str) -> None:
        self.status = reason
        if self.transport is not None:
            self.transport.abort()

    @property
    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0
