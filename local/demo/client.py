"""A small blocking client of tidings' JSON protocol, for `invoke demo` and the tests.

It keeps every frame it receives, so a caller can wait for the one it expects while
others (acks, presence, typing) keep arriving in any interleaving.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable

import orjson
import websocket


class ChatClient:
    """`auth` says where the token goes: "header" (Authorization at the handshake, what a
    native client does), "frame" (a first `auth` frame, what a browser does) or "query"
    (`?access_token=`, kept for old clients; it ends up in access logs)."""

    def __init__(self, url: str, token: str | None = None, *, origin: str | None = None,
                 subprotocols: list[str] | None = None, timeout: float = 10.0, auth: str = "header") -> None:
        if auth not in ("header", "frame", "query"):
            raise ValueError(f"auth must be header, frame or query, not {auth!r}")
        target = f"{url}?access_token={token}" if token and auth == "query" else url
        header = [f"Authorization: Bearer {token}"] if token and auth == "header" else None
        self.ws = websocket.create_connection(target, timeout=timeout, origin=origin, header=header,
                                              subprotocols=subprotocols, enable_multithread=True)
        self.timeout = timeout
        self.frames: list[dict] = []
        self.closed: tuple[int | None, str] | None = None
        if token and auth == "frame":
            self.send_json({"type": "auth", "token": token})
            self.wait_for(lambda f: f["type"] in ("authenticated", "error"))

    # -- sending ---------------------------------------------------------------------------
    def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def send_json(self, frame: dict) -> None:
        self.ws.send(orjson.dumps(frame).decode())

    def subscribe(self, room: str, after_seq: int | None = None, wait: bool = True) -> dict | None:
        frame: dict[str, Any] = {"type": "subscribe", "room": room}
        if after_seq is not None:
            frame["afterSeq"] = after_seq
        self.send_json(frame)
        if not wait:
            return None
        return self.wait_for(lambda f: (f["type"] == "subscribed" and f.get("room") == room)
                             or (f["type"] == "error" and f.get("ref") == room))

    def send(self, room: str, body: str, client_msg_id: str | None = None, **extra: Any) -> str:
        client_msg_id = client_msg_id or uuid.uuid4().hex
        self.send_json({"type": "send", "room": room, "clientMsgId": client_msg_id, "body": body, **extra})
        return client_msg_id

    def send_and_ack(self, room: str, body: str, client_msg_id: str | None = None) -> dict:
        cid = self.send(room, body, client_msg_id)
        return self.wait_for(lambda f: f.get("clientMsgId") == cid and f["type"] in ("ack", "error")
                             or f.get("ref") == cid)

    # -- receiving -------------------------------------------------------------------------
    def _read_one(self, deadline: float) -> dict | None:
        self.ws.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            self.closed = (code, data[2:].decode("utf-8", "replace"))
            raise ConnectionClosed(*self.closed)
        frame = orjson.loads(data)
        self.frames.append(frame)
        return frame

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float | None = None,
                 seen_ok: bool = True) -> dict:
        """The first frame (already received or arriving) that matches."""
        if seen_ok:
            for frame in self.frames:
                if predicate(frame):
                    return frame
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            frame = self._read_one(deadline)
            if frame is not None and predicate(frame):
                return frame
        raise TimeoutError(f"no matching frame within {timeout or self.timeout}s; got {self.frames[-5:]}")

    def messages(self, room: str) -> list[dict]:
        return [f for f in self.frames if f.get("type") == "message" and f.get("room") == room]

    def wait_messages(self, room: str, count: int, timeout: float | None = None) -> list[dict]:
        """Wait until `count` distinct messages of `room` arrived; returns them in arrival order."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len({m["messageId"] for m in self.messages(room)}) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages(room))} of {count} messages in {room}")
            self._read_one(deadline)
        return self.messages(room)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read_one(deadline)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


class ConnectionClosed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed by server: {code} {reason}")
        self.code, self.reason = code, reason
