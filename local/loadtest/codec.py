"""The two client protocols of the edge, reduced to what a simulated user does.

Both codecs turn server frames into the same small event dicts (the JSON protocol's own
shape), so `client.User` has one code path:

    {"type": "subscribed", "room": R}
    {"type": "ack", "clientMsgId": C}
    {"type": "error", "code": ..., "ref": C or None, "message": ...}
    {"type": "message", "room": R, "seq": n, "clientMsgId": C, "body": B}
    {"type": "connected"}                      (STOMP CONNECTED)
    anything else is ignored (presence, typing, heart-beats).
"""

from __future__ import annotations

import orjson

SUBSCRIBE_REF = "sub-0"


class JsonCodec:
    name = "json"
    subprotocol = None
    needs_connect = False

    @staticmethod
    def connect(host: str) -> bytes | None:
        return None

    @staticmethod
    def subscribe(room: str) -> bytes:
        return orjson.dumps({"type": "subscribe", "room": room})

    @staticmethod
    def send(room: str, client_msg_id: str, body: str) -> bytes:
        return orjson.dumps({"type": "send", "room": room, "clientMsgId": client_msg_id, "body": body})

    @staticmethod
    def close_frame() -> bytes | None:
        return None

    @staticmethod
    def parse(payload: bytes) -> list[dict]:
        event = orjson.loads(payload)
        return [event] if isinstance(event, dict) else []


def _stomp_frame(command: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    out = [command]
    for name, value in headers:
        # STOMP 1.2 header escaping (values here are ids and paths; escape anyway)
        value = value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace(":", "\\c") \
            if command != "CONNECT" else value
        out.append(f"{name}:{value}")
    if body:
        out.append(f"content-length:{len(body)}")
    return ("\n".join(out) + "\n\n").encode("utf-8") + body + b"\x00"


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out, i = [], 0
    table = {"n": "\n", "r": "\r", "c": ":", "\\": "\\"}
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(table.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class StompCodec:
    """STOMP 1.2 over WebSocket (subprotocol v12.stomp), destinations of the old system."""

    name = "stomp"
    subprotocol = "v12.stomp"
    needs_connect = True

    @staticmethod
    def connect(host: str) -> bytes:
        return _stomp_frame("CONNECT", [("accept-version", "1.2"), ("host", host), ("heart-beat", "0,0")])

    @staticmethod
    def subscribe(room: str) -> bytes:
        return _stomp_frame("SUBSCRIBE", [("id", "0"), ("destination", f"/sub/chat/{room}"),
                                          ("ack", "auto"), ("receipt", SUBSCRIBE_REF)])

    @staticmethod
    def send(room: str, client_msg_id: str, body: str) -> bytes:
        payload = orjson.dumps({"content": body, "clientMsgId": client_msg_id})
        return _stomp_frame("SEND", [("destination", f"/pub/chat/send/{room}"),
                                     ("content-type", "application/json"),
                                     ("client-msg-id", client_msg_id),
                                     ("receipt", client_msg_id)], payload)

    @staticmethod
    def close_frame() -> bytes:
        return _stomp_frame("DISCONNECT", [])

    @staticmethod
    def parse(payload: bytes) -> list[dict]:
        events = []
        data = payload
        while data:
            data = data.lstrip(b"\r\n")          # heart-beats and frame trailers
            if not data:
                break
            head_end = data.find(b"\n\n")
            sep = 2
            crlf = data.find(b"\r\n\r\n")
            if crlf >= 0 and (head_end < 0 or crlf < head_end):
                head_end, sep = crlf, 4
            if head_end < 0:
                break
            lines = data[:head_end].decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
            command = lines[0]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = _unescape(name) if command != "CONNECTED" else name
                if name not in headers:
                    headers[name] = _unescape(value) if command != "CONNECTED" else value
            start = head_end + sep
            length = headers.get("content-length")
            if length is not None and length.isdigit():
                end = start + int(length)
            else:
                end = data.find(b"\x00", start)
                if end < 0:
                    end = len(data)
            body = data[start:end]
            data = data[end + 1:]
            events.append(_stomp_event(command, headers, body))
        return events


def _stomp_event(command: str, headers: dict[str, str], body: bytes) -> dict:
    if command == "MESSAGE":
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return {"type": "bad_frame"}
        if not isinstance(doc, dict):
            return {"type": "bad_frame"}
        event = headers.get("tidings-event")
        if event == "error":      # a per-message rejection on a subscribed room (not fatal)
            return {"type": "error", "code": doc.get("code") or "unknown", "ref": doc.get("ref"),
                    "message": doc.get("message")}
        if event is not None or "seq" not in doc:      # presence / typing on the same subscription
            return {"type": event or doc.get("type", "other")}
        return {"type": "message", "room": doc.get("roomId") or doc.get("room"), "seq": doc.get("seq"),
                "messageId": doc.get("messageId"), "clientMsgId": doc.get("clientMsgId"),
                "body": doc.get("content", doc.get("body"))}
    if command == "RECEIPT":
        rid = headers.get("receipt-id")
        if rid == SUBSCRIBE_REF:
            return {"type": "subscribed"}
        return {"type": "ack", "clientMsgId": rid}
    if command == "ERROR":
        # STOMP's one error frame; it ends the connection. `message` carries the error code.
        return {"type": "error", "code": headers.get("message", "stomp_error"),
                "ref": headers.get("tidings-ref") or headers.get("receipt-id"),
                "message": body.decode("utf-8", "replace")[:200]}
    if command == "CONNECTED":
        return {"type": "connected"}
    return {"type": "other"}


CODECS = {"json": JsonCodec, "stomp": StompCodec}
