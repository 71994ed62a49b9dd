"""STOMP 1.2 through a real edge and the whole stack (the adapter's own tests are unit tests)."""

from __future__ import annotations

import time

import orjson
import pytest
import websocket

from edge_harness import APP_ORIGIN, read_until_close, uid
from websocket_edge import stomp


def frame(command: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    return stomp.serialize(stomp.Frame(command, list(headers.items()), body))


class StompClient:
    def __init__(self, edge, user: str, subprotocols=("v12.stomp",)):
        self.ws = websocket.create_connection(edge.ws_url(edge.token(user)), origin=APP_ORIGIN,
                                              subprotocols=list(subprotocols), timeout=10)
        self.parser = stomp.Parser()
        self.pending: list[stomp.Frame] = []

    def send(self, command, headers, body=b""):
        self.ws.send(frame(command, headers, body).decode())

    def next(self, timeout=20.0) -> stomp.Frame:
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            data = self.ws.recv()
            if data == "":
                raise AssertionError("closed")
            self.pending.extend(f for f in self.parser.feed(data.encode() if isinstance(data, str) else data)
                                if f is not stomp.HEARTBEAT)
        return self.pending.pop(0)

    def until(self, predicate, timeout=20.0) -> stomp.Frame:
        deadline = time.monotonic() + timeout
        while True:
            f = self.next(max(0.1, deadline - time.monotonic()))
            if predicate(f):
                return f

    def connect(self):
        self.send("CONNECT", {"accept-version": "1.2", "host": "tidings", "heart-beat": "0,0"})
        connected = self.next()
        assert connected.command == "CONNECTED", connected
        assert connected.get("version") == "1.2"
        return connected


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.ws.close()


def test_stomp_send_receipt_and_message(edge, room_with, clients):
    alice, bob = uid("alice"), uid("bob")
    room = room_with(alice, bob)
    a, b = StompClient(edge, alice), StompClient(edge, bob)
    clients += [a, b]
    assert a.ws.getsubprotocol() == "v12.stomp"
    a.connect()
    b.connect()
    b.send("SUBSCRIBE", {"id": "0", "destination": f"/sub/chat/{room}", "receipt": "s-0"})
    assert b.next().get("receipt-id") == "s-0"
    a.send("SEND", {"destination": f"/pub/chat/send/{room}", "content-type": "application/json",
                    "receipt": "m-1"}, orjson.dumps({"content": "hello", "senderId": "mallory"}))
    receipt = a.until(lambda f: f.command == "RECEIPT")
    assert receipt.get("receipt-id") == "m-1"
    message = b.until(lambda f: f.command == "MESSAGE" and f.get("tidings-event") is None, timeout=30)
    assert message.get("subscription") == "0"
    body = orjson.loads(message.body)
    assert body["content"] == "hello" and body["senderId"] == alice
    assert message.get("seq") == str(body["seq"])


def test_stomp_error_then_close(edge, clients):
    c = StompClient(edge, uid("u"))
    clients.append(c)
    c.send("SEND", {"destination": "/pub/chat/send/r1"}, b"too early")
    error = c.next()
    assert error.command == "ERROR"
    _, code, _ = read_until_close(c.ws)
    assert code == 1002


def test_json_preferred_order_and_stomp_choice(edge, clients):
    c = StompClient(edge, uid("u"), subprotocols=("tidings.json", "v10.stomp", "v11.stomp"))
    clients.append(c)
    assert c.ws.getsubprotocol() == "v11.stomp"
