"""The STOMP adapter, after CONNECT/SEND/SUBSCRIBE (test_stomp_protocol.py): ACK and NACK,
transactions, DISCONNECT, grammar errors, and session outcomes rendered as frames."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from functions import contracts
from websocket_edge.protocol import Disconnect, Invalid, Reply, ServerEvent
from websocket_edge.stomp_protocol import Ref, StompProtocol, stomp_protocols
from stomp_protocol_kit import (ALICE, SETTINGS, error_of, frame, message_event, one, parse, parse_all, protocol,
                                subscribed)


# --- ACK / NACK / transactions / DISCONNECT -------------------------------------------------------

@pytest.mark.parametrize("command", ["ACK", "NACK"])
def test_ack_and_nack_are_accepted_with_a_receipt(command):
    p = protocol()
    reply = one(p, frame(command, ("id", "0/r1:7"), ("receipt", "k-1")))
    assert isinstance(reply, Reply) and parse(reply.frames[0]).get("receipt-id") == "k-1"
    assert one(p, frame(command, ("id", "0/r1:8"))) == Reply([])
    assert "id" in error_of(p, one(p, frame(command, ("receipt", "k-2")))).body.decode()


def test_stomp_11_ack_needs_message_id():
    p = protocol("v11.stomp")
    assert isinstance(one(p, frame("ACK", ("message-id", "r1:7"), ("subscription", "0"), version="1.1")), Reply)
    assert isinstance(one(p, frame("ACK", ("id", "x"), version="1.1")), Invalid)


@pytest.mark.parametrize("data", [
    frame("BEGIN", ("transaction", "t1"), ("receipt", "x-1")),
    frame("COMMIT", ("transaction", "t1"), ("receipt", "x-1")),
    frame("ABORT", ("transaction", "t1"), ("receipt", "x-1")),
    frame("SEND", ("destination", "/pub/chat/send/r1"), ("transaction", "t1"), ("receipt", "x-1"), body="a"),
])
def test_transactions_are_refused(data):
    p = protocol()
    error = error_of(p, one(p, data))
    assert "transactions not supported" in error.body.decode()
    assert error.get("receipt-id") == "x-1"


def test_disconnect_with_receipt():
    p = protocol()
    bye = one(p, frame("DISCONNECT", ("receipt", "bye-1")))
    assert bye == Disconnect(Ref("bye-1"))
    assert parse(p.render_disconnect(bye)[0]).get("receipt-id") == "bye-1"
    assert p.render_close(1000, "bye") == []
    assert p.render_disconnect(one(protocol(), frame("DISCONNECT"))) == []


# --- grammar errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, receipt", [
    (b"SEND\ndestination:/pub/chat/send/r1\nreceipt:g-1\nbad\\qescape:x\n\nhi\x00", "g-1"),
    (b"SEND\nreceipt:g-2\ncontent-length:zz\n\nhi\x00", "g-2"),
    (b"HELLO\n\n\x00", None),
    (b"MESSAGE\n\n\x00", None),        # a server frame from a client
])
def test_grammar_errors_get_error_with_receipt_id_and_close(data, receipt):
    p = protocol()
    action = one(p, data)
    assert action.code == contracts.ERR_BAD_FRAME and action.fatal
    error = error_of(p, action)
    assert error.get("receipt-id") == receipt
    assert p.error_is_fatal
    [after] = p.decode(b"\n")
    assert isinstance(after, Reply) and after.close[0] == 1002


def test_frame_over_the_size_limit():
    p = protocol(settings=dataclasses.replace(SETTINGS, max_message_bytes=2048))
    action = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("receipt", "big"), body="x" * 4096))
    assert error_of(p, action).get("receipt-id") == "big"


# --- events -----------------------------------------------------------------------------------------

def test_message_event_to_every_subscription_of_its_room():
    p = protocol()
    subscribed(p, "0", "r1")
    subscribed(p, "1", "r1", ack="client-individual")
    subscribed(p, "2", "r2")
    frames = parse_all(p.render_event(message_event()))
    assert [f.get("subscription") for f in frames] == ["0", "1"]
    for f in frames:
        assert f.command == "MESSAGE"
        assert f.get("destination") == "/sub/chat/r1"
        assert f.get("message-id") == "r1:7"
        assert f.get("content-type") == "application/json"
        assert f.get("seq") == "7"
        assert f.get("tidings-event") is None
        assert orjson.loads(f.body) == {"roomId": "r1", "senderId": "bob", "senderRole": "groomer",
                                        "content": "hi", "seq": 7, "messageId": "r1:7",
                                        "sentAt": 1700000000000, "clientMsgId": "c1"}
    assert frames[0].get("ack") is None            # auto
    assert frames[1].get("ack") == "1/r1:7"        # client-individual: the id to ACK
    assert p.render_event(message_event(room="r3")) == []


def test_headers_survive_escaping():
    p = protocol()
    subscribed(p, "a:b\\c", "r1")
    [out] = p.render_event(message_event(body="line1\nline2: x"))
    f = parse(out)
    assert f.get("subscription") == "a:b\\c"
    assert orjson.loads(f.body)["content"] == "line1\nline2: x"


@pytest.mark.parametrize("kind, data", [
    ("typing", {"userId": "bob", "role": "groomer", "at": 5}),
    ("presence", {"userId": "bob", "state": "join", "at": 5}),
])
def test_typing_and_presence_are_messages_marked_by_a_header(kind, data):
    p = protocol()
    subscribed(p, "0", "r1")
    [out] = p.render_event(ServerEvent({"type": kind, "room": "r1", **data}))
    f = parse(out)
    assert f.command == "MESSAGE" and f.get("subscription") == "0"
    assert f.get("tidings-event") == kind and f.get("message-id")
    assert orjson.loads(f.body) == {"type": kind, "roomId": "r1", **data}
    assert p.render_event(ServerEvent({"type": kind, "room": "r9", **data})) == []


def test_worker_error_on_a_subscribed_room_is_a_message_not_fatal():
    p = protocol()
    subscribed(p, "0", "r1")
    event = ServerEvent(contracts.error_event(contracts.ERR_FORBIDDEN, "not a member of room r1", "c-1", room="r1"))
    [out] = p.render_event(event)
    f = parse(out)
    assert f.command == "MESSAGE" and f.get("tidings-event") == "error"
    assert orjson.loads(f.body) == {"type": "error", "code": "forbidden", "message": "not a member of room r1",
                                    "ref": "c-1", "roomId": "r1"}
    assert p.decode(b"\n") == []   # the connection goes on


def test_worker_error_on_a_room_not_subscribed_is_an_error_frame():
    p = protocol()
    event = ServerEvent(contracts.error_event(contracts.ERR_UNKNOWN_ROOM, "room r5 does not exist", "c-2", room="r5"))
    f = parse(p.render_event(event)[0])
    assert f.command == "ERROR"
    assert (f.get("message"), f.get("tidings-ref")) == ("unknown_room", "c-2")
    assert f.body == b"room r5 does not exist"
    [after] = p.decode(b"\n")       # fatal: the next input closes if the session has not
    assert isinstance(after, Reply) and after.close is not None


def test_unknown_event_types_are_not_shown():
    p = protocol()
    subscribed(p, "0", "r1")
    assert p.render_event(ServerEvent({"type": "gossip", "room": "r1"})) == []


def test_raw_data_goes_on_the_oldest_subscription():
    p = protocol()
    assert p.render_raw(b"hello") == []
    subscribed(p, "0", "r1")
    subscribed(p, "1", "r2")
    [out] = p.render_raw(b"hello")
    f = parse(out)
    assert (f.command, f.get("subscription"), f.get("tidings-event"), f.body) == ("MESSAGE", "0", "raw", b"hello")
    assert f.get("content-type").startswith("text/plain")


def test_close_by_the_session_is_announced_with_an_error():
    p = protocol()
    f = parse(p.render_close(1001, "idle timeout")[0])
    assert f.command == "ERROR" and f.body == b"idle timeout"
    assert f.get("message") == contracts.ERR_UNAVAILABLE
    assert parse(protocol().render_close(4001, "token expired")[0]).get("message") == contracts.ERR_UNAUTHORIZED


def test_stomp_10_frames_are_not_escaped():
    p = protocol("v10.stomp")
    subscribed(p, "0", "r1")
    [out] = p.render_event(message_event())
    assert b"message-id:r1:7\n" in out     # 1.2 would send r1\c7


def test_registration_names_every_stomp_subprotocol():
    factories = stomp_protocols()
    assert set(factories) == {"v10.stomp", "v11.stomp", "v12.stomp"}
    for name, factory in factories.items():
        p = factory(ALICE, SETTINGS)
        assert isinstance(p, StompProtocol) and p.name == name and p.error_is_fatal
