"""What the STOMP adapter tests share: frames to feed it, a protocol after CONNECT, events."""

from __future__ import annotations

from functions import tokens
from functions.settings import Settings
from websocket_edge import stomp as s
from websocket_edge.protocol import Invalid, Reply, ServerEvent
from websocket_edge.stomp_protocol import StompProtocol

SETTINGS = Settings(heartbeat_ms=10000)
ALICE = tokens.Identity("alice", "customer", 2e9)


def frame(command: str, *headers: tuple[str, str], body: bytes | str = b"", version: str = "1.2") -> bytes:
    return s.serialize(s.Frame(command, list(headers), body.encode() if isinstance(body, str) else body), version)


def parse(data: bytes, version: str = "1.2") -> s.Frame:
    items = [i for i in s.parse(data, version=version, commands=s.SERVER_COMMANDS) if isinstance(i, s.Frame)]
    assert len(items) == 1, items
    return items[0]


def parse_all(frames: list[bytes]) -> list[s.Frame]:
    return [parse(f) for f in frames]


def connect_frame(*headers, command="CONNECT"):
    return frame(command, ("accept-version", "1.0,1.1,1.2"), ("host", "tidings"), *headers)


def protocol(subprotocol="v12.stomp", *, connect=True, settings=SETTINGS, **kwargs) -> StompProtocol:
    p = StompProtocol(ALICE, settings, subprotocol, **kwargs)
    if connect:
        [reply] = p.decode(connect_frame())
        assert isinstance(reply, Reply)
    return p


def one(p: StompProtocol, data: bytes):
    actions = p.decode(data)
    assert len(actions) == 1, actions
    return actions[0]


def error_of(p: StompProtocol, action: Invalid) -> s.Frame:
    assert isinstance(action, Invalid) and action.fatal
    [out] = p.render_error(action.code, action.message, action.ref, action)
    error = parse(out)
    assert error.command == "ERROR"
    return error


def message_event(room="r1", seq=7, body="hi", **extra) -> ServerEvent:
    return ServerEvent({"type": "message", "room": room, "seq": seq, "messageId": f"{room}:{seq}",
                        "clientMsgId": "c1", "senderId": "bob", "senderRole": "groomer", "body": body,
                        "sentAt": 1700000000000, **extra})


def subscribed(p: StompProtocol, sub_id: str, room: str, ack: str = "auto"):
    one(p, frame("SUBSCRIBE", ("id", sub_id), ("destination", f"/sub/chat/{room}"), ("ack", ack)))
