"""A minimal STOMP 1.2 client over a WebSocket, frame by frame, for the security tests.

It logs in the way the Spring clients tidings replaces do: no token in the URL, the JWT in
the CONNECT frame (`Authorization: Bearer`, or as `passcode`). Frames are parsed with the
edge's own codec (websocket_edge.stomp) configured for server frames.
"""

from __future__ import annotations

import time

import websocket

from websocket_edge import stomp

class StompWire:
    def __init__(self, url: str, token: str | None, *, how: str = "authorization", timeout: float = 10.0,
                 connect: bool = True):
        self.ws = websocket.create_connection(url, subprotocols=["v12.stomp"], timeout=timeout)
        self.timeout = timeout
        self._parser = stomp.Parser(commands=stomp.SERVER_COMMANDS)
        self._pending: list[stomp.Frame] = []
        self.closed_code: int | None = None
        if connect:
            headers = {"accept-version": "1.2", "host": "tidings"}
            if token and how == "authorization":
                headers["Authorization"] = f"Bearer {token}"
            elif token and how == "passcode":
                headers.update(login="user", passcode=token)
            self.send("CONNECT", headers)
            self.connected = self.next_frame()

    def send(self, command: str, headers: dict[str, str], body: str = "") -> None:
        lines = [command, *(f"{k}:{v}" for k, v in headers.items())]
        self.ws.send("\n".join(lines) + "\n\n" + body + "\x00")

    def next_frame(self, timeout: float | None = None) -> stomp.Frame:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self._pending:
            self.ws.settimeout(max(0.01, deadline - time.monotonic()))
            opcode, data = self.ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                raise ConnectionError(f"closed {self.closed_code}")
            for item in self._parser.feed(data):
                if item is not stomp.HEARTBEAT:
                    self._pending.append(item)
        return self._pending.pop(0)

    def next_message(self, timeout: float | None = None) -> stomp.Frame:
        while True:
            frame = self.next_frame(timeout)
            if frame.command == "MESSAGE" and frame.get("tidings-event") is None:
                return frame

    def subscribe(self, room: str, sub_id: str = "0", after_seq: int | None = None) -> stomp.Frame:
        """SUBSCRIBE with a receipt: the RECEIPT, or the ERROR that refused it."""
        headers = {"id": sub_id, "destination": f"/sub/chat/{room}", "receipt": f"sub-{sub_id}"}
        if after_seq is not None:
            headers["after-seq"] = str(after_seq)
        self.send("SUBSCRIBE", headers)
        while True:
            frame = self.next_frame()
            if frame.command in ("RECEIPT", "ERROR"):
                return frame

    def send_message(self, room: str, content: str, receipt: str) -> stomp.Frame:
        self.send("SEND", {"destination": f"/pub/chat/send/{room}", "content-type": "application/json",
                           "receipt": receipt}, '{"content": "%s"}' % content)
        while True:
            frame = self.next_frame()
            if frame.command in ("RECEIPT", "ERROR"):
                return frame

    def closed_within(self, seconds: float) -> bool:
        """True when the server closes the socket within `seconds` (frames before are skipped)."""
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                self.next_frame(timeout=max(0.05, deadline - time.monotonic()))
        except ConnectionError:
            return True
        except websocket.WebSocketTimeoutException:
            return False
        except OSError:
            return True
        return False

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
