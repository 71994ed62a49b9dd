"""STOMP clients of the old system against real edges on the real stack (Kafka, dynalite, the
event source mapping and two edges): stomp.py's WebSocket connection, and raw frames encoded
and parsed with stomp.py's own utilities (never our codec), to check bytes exactly."""

from __future__ import annotations

import queue
import signal
import struct
import time
import uuid
from urllib.parse import urlsplit

import orjson
import pytest
import stomp
import stomp.utils
import websocket

from functions import contracts

WAIT = 20.0   # a message goes edge → Kafka → event source mapping → worker → edges


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def port_of(url: str) -> int:
    return int(urlsplit(url).port)


# --- stomp.py over WebSocket -------------------------------------------------------------------

class Collector(stomp.ConnectionListener):
    def __init__(self):
        self.events: queue.Queue = queue.Queue()

    def on_connected(self, frame):
        self.events.put(("CONNECTED", frame))

    def on_message(self, frame):
        self.events.put(("MESSAGE", frame))

    def on_receipt(self, frame):
        self.events.put(("RECEIPT", frame))

    def on_error(self, frame):
        self.events.put(("ERROR", frame))

    def on_disconnected(self):
        self.events.put(("DISCONNECTED", None))

    def next(self, command: str, timeout: float = WAIT, where=None):
        """The next `command` frame matching `where` (default for MESSAGE: a chat message, not
        typing/presence); (frame, frames skipped before it)."""
        if where is None:
            where = (lambda f: "tidings-event" not in f.headers) if command == "MESSAGE" else (lambda f: True)
        skipped = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {command} in {timeout}s; saw {[(c, f and f.headers) for c, f in skipped]}")
            try:
                kind, frame = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if kind == command and where(frame):
                return frame, skipped
            skipped.append((kind, frame))

    def quiet(self, command: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                kind, frame = self.events.get(timeout=left)
            except queue.Empty:
                return
            assert kind != command, f"unexpected {command}: {frame}"


def stomp_client(url: str, user, heartbeats=(0, 0)):
    conn = stomp.WSStompConnection([("127.0.0.1", port_of(url))], ws_path=f"/ws?access_token={user.token}",
                                   header=["Sec-WebSocket-Protocol: v12.stomp"], heartbeats=heartbeats,
                                   reconnect_attempts_max=1, timeout=10)
    listener = Collector()
    conn.set_listener("collector", listener)
    conn.connect(wait=True)
    return conn, listener


def subscribe(conn, listener, room: str, sub_id: str = "0", **headers):
    receipt = uid("sub")
    conn.subscribe(f"/sub/chat/{room}", id=sub_id, ack="auto", headers={"receipt": receipt, **headers})
    return listener.next("RECEIPT", where=lambda f: f.headers.get("receipt-id") == receipt)


def chat_messages(frames) -> list[dict]:
    return [orjson.loads(f.body) for kind, f in frames if kind == "MESSAGE" and "tidings-event" not in f.headers]


# --- raw frames (stomp.py's encoder and parser) ------------------------------------------------------

class Raw:
    def __init__(self, url: str, user, subprotocol: str = "v12.stomp"):
        self.ws = websocket.create_connection(f"{url}?access_token={user.token}",
                                              subprotocols=[subprotocol], timeout=10)
        assert self.ws.getsubprotocol() == subprotocol

    def send(self, command: str, headers: dict | None = None, body: bytes | str = b"") -> None:
        frame = stomp.utils.Frame(command, dict(headers or {}), body)
        self.raw(stomp.utils.pack(stomp.utils.convert_frame(frame)))

    def raw(self, data: bytes) -> None:
        self.ws.send(data, websocket.ABNF.OPCODE_TEXT)

    def recv(self, timeout: float = WAIT):
        """A frame, "heartbeat", or ("close", code)."""
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return ("close", struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None)
        if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            return self.recv(timeout)   # ping / pong
        if not data.strip(b"\r\n"):
            return "heartbeat"
        assert data.endswith(b"\x00") or data.rstrip(b"\r\n").endswith(b"\x00"), data
        return stomp.utils.parse_frame(data[:data.rindex(b"\x00")])

    def frame(self, timeout: float = WAIT):
        while True:
            item = self.recv(timeout)
            if item != "heartbeat":
                return item

    def connect(self, **headers):
        self.send("CONNECT", {"accept-version": "1.2", "host": "tidings", **headers})
        connected = self.frame()
        assert connected.cmd == "CONNECTED", connected
        return connected

    def close(self):
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def raw_clients():
    opened = []

    def make(*args, **kwargs) -> Raw:
        client = Raw(*args, **kwargs)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def stomp_clients():
    opened = []

    def make(*args, **kwargs):
        conn, listener = stomp_client(*args, **kwargs)
        opened.append(conn)
        return conn, listener

    yield make
    for conn in opened:
        try:
            conn.disconnect()
        except Exception:  # noqa: BLE001
            pass


# --- the old clients' flow ---------------------------------------------------------------------------

def test_send_on_one_edge_reaches_subscribers_on_both_with_the_stamped_sender(
        edges, new_user, new_room, stomp_clients):
    alice, bob = new_user("customer", "alice"), new_user("groomer", "bob")
    room = new_room(alice, bob)
    a_conn, a = stomp_clients(edges["edge-a"], alice)
    b_conn, b = stomp_clients(edges["edge-b"], bob)
    subscribe(a_conn, a, room, "sub-a")
    subscribe(b_conn, b, room, "sub-b")

    receipt = uid("m")
    forged = {"content": "안녕하세요", "senderId": bob.id, "senderRole": "admin", "roomId": "elsewhere"}
    a_conn.send(f"/pub/chat/send/{room}", orjson.dumps(forged).decode(), content_type="application/json",
                headers={"receipt": receipt})
    a.next("RECEIPT", where=lambda f: f.headers.get("receipt-id") == receipt)

    for listener, sub_id in ((a, "sub-a"), (b, "sub-b")):
        frame, _ = listener.next("MESSAGE")
        h = frame.headers
        assert h["destination"] == f"/sub/chat/{room}"
        assert h["subscription"] == sub_id
        assert h["message-id"] == contracts.message_id(room, 1)
        assert h["content-type"] == "application/json"
        assert h["seq"] == "1"
        body = orjson.loads(frame.body)
        assert body["roomId"] == room
        assert (body["senderId"], body["senderRole"]) == (alice.id, "customer")   # from the token
        assert body["content"] == "안녕하세요"
        assert body["seq"] == 1 and body["messageId"] == h["message-id"]
        assert body["clientMsgId"] == receipt and isinstance(body["sentAt"], int)


def test_presence_and_typing_ride_the_subscription_marked_by_a_header(edges, new_user, new_room, stomp_clients,
                                                                     connect):
    alice, bob = new_user("customer", "alice"), new_user("groomer", "bob")
    room = new_room(alice, bob)
    conn, listener = stomp_clients(edges["edge-a"], alice)
    subscribe(conn, listener, room)
    json_bob = connect("edge-b", bob)              # a JSON client in the same room
    json_bob.subscribe(room)
    joined, _ = listener.next("MESSAGE", where=lambda f: f.headers.get("tidings-event") == "presence"
                              and orjson.loads(f.body).get("userId") == bob.id)
    assert orjson.loads(joined.body)["state"] == "join" and orjson.loads(joined.body)["roomId"] == room
    json_bob.send_json({"type": "typing", "room": room})
    typing, _ = listener.next("MESSAGE", where=lambda f: f.headers.get("tidings-event") == "typing")
    assert orjson.loads(typing.body)["userId"] == bob.id and typing.headers["subscription"] == "0"


def test_receipt_only_after_kafka_has_the_record(local_stack, edges, new_user, new_room, stomp_clients):
    alice = new_user("customer", "alice")
    room = new_room(alice)
    conn, listener = stomp_clients(edges["edge-a"], alice)
    subscribe(conn, listener, room)
    local_stack.kill("kafka", signal.SIGSTOP)
    try:
        receipt = uid("m")
        conn.send(f"/pub/chat/send/{room}", '{"content":"held"}', content_type="application/json",
                  headers={"receipt": receipt})
        listener.quiet("RECEIPT", 3.0)          # the broker cannot acknowledge: no receipt
    finally:
        local_stack.kill("kafka", signal.SIGCONT)
    frame, skipped = listener.next("RECEIPT", where=lambda f: f.headers.get("receipt-id") == receipt)
    assert frame.headers["client-msg-id"] == receipt
    assert not [k for k, _ in skipped if k == "ERROR"]
    message, _ = listener.next("MESSAGE")
    assert orjson.loads(message.body)["content"] == "held"


def test_resend_with_the_same_receipt_is_stored_once_and_catch_up_is_gapless(
        edges, new_user, new_room, stomp_clients):
    alice = new_user("customer", "alice")
    room = new_room(alice)
    conn, listener = stomp_clients(edges["edge-a"], alice)
    subscribe(conn, listener, room)
    seen = []
    for n, receipt in enumerate(["m-1", "m-2", "m-2", "m-3"]):   # m-2 sent twice (a resend)
        conn.send(f"/pub/chat/send/{room}", f'{{"content":"n{n}"}}', content_type="application/json",
                  headers={"receipt": receipt})
        _, skipped = listener.next("RECEIPT", where=lambda f, r=receipt: f.headers.get("receipt-id") == r)
        seen += chat_messages(skipped)   # messages may come before the next receipt
    while len({m["seq"] for m in seen}) < 3:
        frame, _ = listener.next("MESSAGE")
        seen.append(orjson.loads(frame.body))
    assert sorted({(m["seq"], m["clientMsgId"]) for m in seen}) == [(1, "m-1"), (2, "m-2"), (3, "m-3")]

    # a client coming back with the last seq it saw gets what followed, then the receipt
    late, late_listener = stomp_clients(edges["edge-b"], alice)
    receipt, before = subscribe(late, late_listener, room, "again", **{"after-seq": "1"})
    assert [m["seq"] for m in chat_messages(before)] == [2, 3]
    assert receipt.headers["last-seq"] == "3"


def test_a_send_refused_by_the_worker(edges, new_user, new_room, stomp_clients):
    alice, mallory = new_user("customer", "alice"), new_user("customer", "mallory")
    room = new_room(alice)
    elsewhere = new_room(mallory)
    conn, listener = stomp_clients(edges["edge-a"], mallory)
    subscribe(conn, listener, elsewhere)       # subscribed, but not to `room`
    receipt = uid("m")
    conn.send(f"/pub/chat/send/{room}", '{"content":"let me in"}', content_type="application/json",
              headers={"receipt": receipt})
    listener.next("RECEIPT", where=lambda f: f.headers.get("receipt-id") == receipt)   # Kafka took it
    error, _ = listener.next("ERROR")           # the worker refused it; no subscription there: ERROR
    assert error.headers["message"] == contracts.ERR_FORBIDDEN
    assert error.headers["tidings-ref"] == receipt


def test_subscribing_to_a_room_of_others_is_refused(edges, new_user, new_room, raw_clients):
    room = new_room(new_user("customer", "alice"))
    client = raw_clients(edges["edge-b"], new_user("customer", "mallory"))
    client.connect()
    client.send("SUBSCRIBE", {"id": "0", "destination": f"/sub/chat/{room}", "receipt": "s-1"})
    error = client.frame()
    assert (error.cmd, error.headers["message"], error.headers["receipt-id"]) == ("ERROR", "forbidden", "s-1")
    client.raw(b"\n")   # after an ERROR nothing more is taken: at the latest the next input closes
    assert client.frame() == ("close", 1002)


def test_an_error_from_the_session_is_followed_by_a_close(edges, new_user, new_room, raw_clients):
    room = new_room(new_user("customer", "alice"))
    client = raw_clients(edges["edge-a"], new_user("customer", "mallory"))
    client.connect()
    client.send("SUBSCRIBE", {"id": "0", "destination": f"/sub/chat/{room}"})
    assert client.frame().cmd == "ERROR"
    assert client.frame(timeout=5) == ("close", 1002)


# --- protocol details on the wire ------------------------------------------------------------------

def test_connect_negotiates_and_heartbeats_flow(settings, edges, new_user, raw_clients):
    client = raw_clients(edges["edge-a"], new_user())
    connected = client.connect(**{"heart-beat": "1000,1000"})
    hb = settings.heartbeat_ms
    assert connected.headers["version"] == "1.2"
    assert connected.headers["heart-beat"] == f"{max(hb, 1000)},{max(hb, 1000)}"
    assert connected.headers["server"].startswith("tidings/")
    assert connected.headers["session"]
    # the client beats every second; the edge's EOL comes within its period
    deadline = time.monotonic() + hb / 1000 + 5
    got = None
    while time.monotonic() < deadline and got != "heartbeat":
        client.raw(b"\n")
        try:
            got = client.recv(timeout=1.0)
        except websocket.WebSocketTimeoutException:
            continue
    assert got == "heartbeat"
    client.send("DISCONNECT", {"receipt": "bye"})
    assert client.frame().headers["receipt-id"] == "bye"
    assert client.frame() == ("close", 1000)


@pytest.mark.slow
def test_a_client_whose_heartbeats_stop_is_closed(settings, edges, new_user, raw_clients):
    client = raw_clients(edges["edge-a"], new_user())
    client.connect(**{"heart-beat": "1000,0"})     # promises a beat every second, then goes silent
    expect_ms = max(1000, settings.heartbeat_ms)
    # not reading at all (websocket-client answers pings only while reading): a dead peer
    time.sleep(expect_ms * 4 / 1000 + 2)
    # what the edge sent meanwhile, read without answering its pings (the socket is gone)
    client.ws.settimeout(5)
    texts, closed = [], None
    while closed is None:
        frame = client.ws.recv_frame()
        if frame.opcode == websocket.ABNF.OPCODE_TEXT:
            texts.append(frame.data)
        elif frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            closed = struct.unpack("!H", frame.data[:2])[0]
    assert closed == 1001
    error = stomp.utils.parse_frame(texts[-1][:texts[-1].rindex(b"\x00")])
    assert error.cmd == "ERROR" and "idle" in error.body.decode()


@pytest.mark.parametrize("subprotocol, accept, version", [("v11.stomp", "1.1", "1.1"), ("v10.stomp", None, "1.0")])
def test_older_versions(edges, new_user, raw_clients, subprotocol, accept, version):
    client = raw_clients(edges["edge-a"], new_user(), subprotocol)
    client.send("CONNECT", {"accept-version": accept} if accept else {})
    connected = client.frame()
    assert (connected.cmd, connected.headers["version"]) == ("CONNECTED", version)


def test_a_grammar_error_gets_error_with_receipt_id_then_close(edges, new_user, raw_clients):
    client = raw_clients(edges["edge-b"], new_user())
    client.connect()
    client.raw(b"SEND\ndestination:/pub/chat/send/r1\nreceipt:g-1\nbad\\qescape:1\n\nhi\x00")
    error = client.frame()
    assert (error.cmd, error.headers["message"], error.headers["receipt-id"]) == ("ERROR", "bad_frame", "g-1")
    assert "escape" in error.body.decode()
    assert client.frame() == ("close", 1002)


def test_a_frame_before_connect_gets_error_then_close(edges, new_user, raw_clients):
    client = raw_clients(edges["edge-a"], new_user())
    client.send("SUBSCRIBE", {"id": "0", "destination": "/sub/chat/r1"})
    error = client.frame()
    assert error.cmd == "ERROR" and "CONNECT" in error.body.decode()
    assert client.frame() == ("close", 1002)


def test_transactions_are_refused(edges, new_user, raw_clients):
    client = raw_clients(edges["edge-a"], new_user())
    client.connect()
    client.send("BEGIN", {"transaction": "t1", "receipt": "t-1"})
    error = client.frame()
    assert (error.cmd, error.headers["receipt-id"]) == ("ERROR", "t-1")
    assert "transactions not supported" in error.body.decode()
    assert client.frame() == ("close", 1002)
