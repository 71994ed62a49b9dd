"""`BoundedWebSocket`: gevent-websocket's `WebSocket` with the limits and fixes the edge needs.

Installed on the library's own object with `ws.__class__ = BoundedWebSocket` right after the
upgrade (no second `WebSocket` is built: its `__del__` would write a close frame on the live
socket). Per-connection state lives in a `Transport` object on the handler
(`handler.ws_transport`), because `WebSocket` has `__slots__` and cannot grow attributes.

What it changes (gevent-websocket 0.10.1, see shared/notes/gevent-edge.md):
- a frame or a fragmented message longer than the cap is refused from its header, before
  its payload is read: close 1009;
- client frames must be masked (RFC 6455 5.1); unmasking is one big-int XOR, not per byte;
- a text message is validated with a single `bytes.decode('utf-8')`: close 1007;
- `close(code, reason)` really writes the code (the library drops it);
- every frame write holds the per-socket send lock, with a timeout: the library's automatic
  pong from the reading greenlet and the session's writer greenlet never write at once.
  A write that cannot get the lock in time means the peer stopped reading: the socket is
  aborted rather than left to hang.
"""

from __future__ import annotations

import socket
import struct
import time

import gevent
from gevent.lock import Semaphore
from geventwebsocket.exceptions import ProtocolError, WebSocketError
from geventwebsocket.websocket import Header, WebSocket

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESTART = 1012
CLOSE_TRY_AGAIN = 1013

# After we refuse a message, the peer may still be pushing its payload: read and discard
# this much for this long before closing, so the peer reads our close frame instead of a RST.
_DRAIN_BYTES = 4 * 1024 * 1024
_DRAIN_SECONDS = 1.0


class MessageTooBig(Exception):
    """Not a socket.error on purpose: the library's receive() would swallow that as 1002."""


class InvalidText(Exception):
    """A text message that is not UTF-8."""


class SendTimeout(WebSocketError):
    """The send lock was not free in time: the peer is not reading."""


class Transport:
    """Per-socket state the bounded websocket and the session share (lives on the handler)."""

    __slots__ = ("max_message_bytes", "send_lock", "send_timeout_s", "last_frame_at",
                 "frames_in", "bytes_in", "close_code", "close_reason")

    def __init__(self, max_message_bytes: int, send_timeout_s: float = 10.0):
        self.max_message_bytes = max_message_bytes
        self.send_lock = Semaphore()
        self.send_timeout_s = send_timeout_s
        self.last_frame_at = time.monotonic()   # any frame, pongs included (for idle timeouts)
        self.frames_in = 0
        self.bytes_in = 0
        self.close_code: int | None = None      # what we (or the peer) closed with
        self.close_reason = ""


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR `payload` with the 4-byte `mask`, as one integer operation."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def close_payload(code: int, reason: str | bytes = b"") -> bytes:
    if isinstance(reason, str):
        reason = reason.encode("utf-8", "replace")
    reason = bytes(reason[:123])
    # Cutting at 123 bytes may split a UTF-8 sequence: drop the broken tail.
    reason = reason.decode("utf-8", "ignore").encode("utf-8")
    return struct.pack("!H", code) + reason


class BoundedWebSocket(WebSocket):
    __slots__ = ()

    @property
    def transport(self) -> Transport:
        return self.handler.ws_transport

    # --- reading ------------------------------------------------------------------------
    def _read_payload(self, header: Header) -> bytes:
        if not header.length:
            return b""
        try:
            payload = self.raw_read(header.length)
        except (OSError, ValueError, AttributeError):
            payload = b""
        if len(payload) != header.length:
            raise WebSocketError("Unexpected EOF reading frame payload")
        return unmask(payload, header.mask)

    def read_message(self):
        """The next text (str) or binary (bytes) message; None once the peer closed."""
        transport = self.transport
        limit = transport.max_message_bytes
        stream = self.stream
        opcode = None
        message = bytearray()
        while True:
            header = Header.decode_header(stream)
            transport.last_frame_at = time.monotonic()
            transport.frames_in += 1
            if header.flags:
                raise ProtocolError("reserved bits set")
            if not header.mask:
                raise ProtocolError("client frames must be masked")
            f_opcode = header.opcode
            if f_opcode in (self.OPCODE_TEXT, self.OPCODE_BINARY):
                if opcode:
                    raise ProtocolError("new message before the last one ended")
                opcode = f_opcode
            elif f_opcode == self.OPCODE_CONTINUATION:
                if not opcode:
                    raise ProtocolError("continuation without a message")
            elif f_opcode in (self.OPCODE_PING, self.OPCODE_PONG, self.OPCODE_CLOSE):
                payload = self._read_payload(header)   # <= 125 bytes, checked by decode_header
                if f_opcode == self.OPCODE_PING:
                    if not self.closed:   # after our close frame, no more data frames
                        self.send_frame(payload, self.OPCODE_PONG)
                    continue
                if f_opcode == self.OPCODE_PONG:
                    continue
                self.handle_close(header, payload)
                return None
            else:
                raise ProtocolError(f"unexpected opcode {f_opcode}")

            if len(message) + header.length > limit:
                raise MessageTooBig(f"message over {limit} bytes")
            message += self._read_payload(header)
            transport.bytes_in += header.length
            if header.fin:
                break

        if opcode == self.OPCODE_TEXT:
            try:
                return message.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidText(str(exc)) from None
        return bytes(message)

    def handle_close(self, header, payload):
        """The peer's close: echo its code (properly encoded), then report closed."""
        code, reason = CLOSE_NORMAL, b""
        if payload:
            if len(payload) < 2:
                raise ProtocolError("close frame with a 1-byte payload")
            code = struct.unpack("!H", payload[:2])[0]
            reason = payload[2:]
            try:
                reason.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidText("close reason is not UTF-8") from None
            if not self._is_valid_close_code(code) and not 1012 <= code <= 1014:
                raise ProtocolError(f"invalid close code {code}")
        transport = self.transport
        if transport.close_code is None:
            transport.close_code, transport.close_reason = code, reason.decode("utf-8", "replace")
        self.close(code if payload else CLOSE_NORMAL, b"")

    def receive(self):
        """Like the library's, but bounded, and never raising for a closed socket."""
        if self.closed and self.stream is None:
            return None
        try:
            return self.read_message()
        except MessageTooBig as exc:
            self.fail(CLOSE_TOO_BIG, str(exc))
        except InvalidText:
            self.fail(CLOSE_INVALID_DATA, "invalid UTF-8")
        except ProtocolError as exc:
            self.fail(CLOSE_PROTOCOL_ERROR, str(exc) or "protocol error")
        except (OSError, AttributeError, ValueError):
            # EOF, reset, or the stream torn down by abort(): the connection is gone.
            self.closed = True
        return None

    # --- writing ------------------------------------------------------------------------
    @staticmethod
    def _encoded(message, opcode) -> bytes:
        if isinstance(message, str):
            message = message.encode("utf-8")
        elif not isinstance(message, bytes):
            message = bytes(message)
        return bytes(Header.encode_header(True, opcode, b"", len(message), 0)) + message

    def send_frame(self, message, opcode):
        if self.closed and opcode != self.OPCODE_CLOSE:
            raise WebSocketError("Connection is already closed")
        self._write(self._encoded(message, opcode))

    def send_frames(self, frames) -> None:
        """Several (message, opcode) frames in one write: one lock and one system call for
        what the session's queue holds, instead of one each."""
        if self.closed:
            raise WebSocketError("Connection is already closed")
        self._write(b"".join([self._encoded(message, opcode) for message, opcode in frames]))

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if not transport.send_lock.acquire(timeout=transport.send_timeout_s):
            raise SendTimeout("send lock not free: the peer is not reading")
        try:
            write = self.raw_write
            if write is None:
                raise WebSocketError("Socket is dead")
            write(data)
        except OSError as exc:
            if isinstance(exc, WebSocketError):
                raise
            raise WebSocketError("Socket is dead") from exc
        finally:
            transport.send_lock.release()

    def send(self, message, binary=None):
        if binary is None:
            binary = not isinstance(message, str)
        self.send_frame(message, self.OPCODE_BINARY if binary else self.OPCODE_TEXT)

    def ping(self, payload: bytes = b"") -> None:
        self.send_frame(payload, self.OPCODE_PING)

    def close(self, code: int = CLOSE_NORMAL, message: str | bytes = b""):
        """Send a close frame carrying `code` (once); the socket itself stays to the handler."""
        if self.closed:
            return
        transport = self.transport
        if transport.close_code is None:
            transport.close_code = code
            transport.close_reason = message.decode("utf-8", "replace") if isinstance(message, (bytes, bytearray)) else str(message)
        try:
            self.send_frame(close_payload(code, message), self.OPCODE_CLOSE)
        except SendTimeout:
            self.abort()
        except WebSocketError:
            pass  # the peer is gone; nothing to tell it
        finally:
            self.closed = True

    def fail(self, code: int, reason: str) -> None:
        """Refuse the peer's input: close with `code`, stop writing, drain a bounded amount."""
        self.close(code, reason)
        sock = getattr(self.handler, "socket", None)
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        deadline = time.monotonic() + _DRAIN_SECONDS
        drained = 0
        try:
            while drained < _DRAIN_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                with gevent.Timeout(left, False):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    drained += len(chunk)
                    continue
                break
        except OSError:
            pass
        self.stream = None

    def abort(self) -> None:
        """Tear the TCP connection down now: wakes a reader blocked on it and a stuck writer."""
        self.closed = True
        sock = getattr(self.handler, "socket", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
