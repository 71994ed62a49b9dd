"""The STOMP adapter on its own: frames in → actions, session outcomes → frames."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from functions import contracts, tokens
from websocket_edge.protocol import Invalid, Reply, Send, Subscribe, Unsubscribe
from websocket_edge.stomp_protocol import Ref, StompProtocol
from websocket_edge.stomp_send import client_msg_id_from_receipt
from stomp_protocol_kit import (ALICE, SETTINGS, connect_frame, error_of, frame, message_event, one, parse, protocol,
                                subscribed)


# --- CONNECT ------------------------------------------------------------------------------

def test_connect_negotiates_version_heartbeat_and_answers_connected():
    p = StompProtocol(ALICE, SETTINGS, "v12.stomp", new_id=lambda: "sess-1")
    [reply] = p.decode(connect_frame(("heart-beat", "4000,20000")))
    assert isinstance(reply, Reply) and reply.close is None
    connected = parse(reply.frames[0])
    assert connected.command == "CONNECTED"
    assert connected.get("version") == "1.2"
    # we send every max(10000, 20000) ms, expect the client every max(4000, 10000) ms
    assert connected.get("heart-beat") == "20000,10000"
    assert connected.get("server").startswith("tidings/")
    assert connected.get("session") == "sess-1"
    assert (p.heartbeat_out_ms, p.heartbeat_in_ms) == (20000, 10000)
    assert p.heartbeat() == b"\n"


@pytest.mark.parametrize("client_hb, expected", [
    (None, (0, 0)), ("0,0", (0, 0)), ("0,5000", (10000, 0)), ("5000,0", (0, 10000)),
    ("30000,1000", (10000, 30000)),
])
def test_heartbeat_numbers(client_hb, expected):
    p = protocol(connect=False)
    headers = [] if client_hb is None else [("heart-beat", client_hb)]
    [reply] = p.decode(connect_frame(*headers))
    assert (p.heartbeat_out_ms, p.heartbeat_in_ms) == expected
    assert parse(reply.frames[0]).get("heart-beat") == f"{expected[0]},{expected[1]}"
    # no EOLs agreed: the session uses a WebSocket ping instead
    assert p.heartbeat() == (b"\n" if expected[0] else None)


def test_stomp_command_works_like_connect():
    p = protocol(connect=False)
    [reply] = p.decode(connect_frame(command="STOMP"))
    assert parse(reply.frames[0]).command == "CONNECTED"


@pytest.mark.parametrize("subprotocol, accept, version", [
    ("v12.stomp", "1.0,1.1,1.2", "1.2"), ("v11.stomp", "1.0,1.1,1.2", "1.1"),
    ("v10.stomp", "1.0,1.1,1.2", "1.0"), ("v12.stomp", "1.1,1.2", "1.2"), (None, "1.1", "1.1"),
])
def test_version_follows_accept_version_and_subprotocol(subprotocol, accept, version):
    p = StompProtocol(ALICE, SETTINGS, subprotocol)
    [reply] = p.decode(frame("CONNECT", ("accept-version", accept)))
    assert parse(reply.frames[0]).get("version") == version
    assert p.version == version


def test_no_common_version_is_an_error_naming_ours():
    p = protocol("v12.stomp", connect=False)
    action = one(p, frame("CONNECT", ("accept-version", "1.1")))
    error = error_of(p, action)
    assert error.get("message") == contracts.ERR_BAD_REQUEST
    assert error.get("version") == "1.0,1.1,1.2"


def test_missing_accept_version_means_1_0():
    p = protocol("v12.stomp", connect=False)     # 1.0 only, but the subprotocol says 1.2
    assert isinstance(one(p, frame("CONNECT")), Invalid)
    p = protocol("v10.stomp", connect=False)
    [reply] = p.decode(frame("CONNECT"))
    assert parse(reply.frames[0], "1.0").get("version") == "1.0"


def test_bad_heartbeat_header_is_an_error():
    p = protocol(connect=False)
    action = one(p, connect_frame(("heart-beat", "soon")))
    assert "heart-beat" in error_of(p, action).body.decode()


@pytest.mark.parametrize("command", ["SEND", "SUBSCRIBE", "UNSUBSCRIBE", "ACK", "DISCONNECT", "BEGIN"])
def test_any_frame_before_connect_is_an_error_and_closes(command):
    p = protocol(connect=False)
    action = one(p, frame(command, ("destination", "/pub/chat/send/r1"), ("receipt", "77"), body="x"))
    error = error_of(p, action)
    assert "CONNECT" in error.body.decode()
    assert error.get("receipt-id") == "77"
    # nothing more is accepted: the next input asks the session to close
    [after] = p.decode(connect_frame())
    assert isinstance(after, Reply) and after.close is not None


def test_heartbeats_before_and_after_connect_are_no_actions():
    p = protocol(connect=False)
    assert p.decode(b"\n") == []
    assert isinstance(one(p, connect_frame()), Reply)
    assert p.decode(b"\r\n") == []


def test_a_second_connect_is_an_error():
    p = protocol()
    assert "already connected" in error_of(p, one(p, connect_frame())).body.decode()


def test_connect_token_must_match_the_handshake_identity():
    def verify(settings, token):
        if token == "bob-token":
            return tokens.Identity("bob", "groomer", 2e9)
        if token == "alice.token.x":
            return ALICE
        raise tokens.TokenError("invalid token")

    p = protocol(connect=False, verify=verify)
    assert isinstance(one(p, connect_frame(("Authorization", "Bearer bob-token"))), Invalid)
    p = protocol(connect=False, verify=verify)
    error = error_of(p, one(p, connect_frame(("Authorization", "Bearer nonsense"))))
    assert error.get("message") == contracts.ERR_UNAUTHORIZED
    p = protocol(connect=False, verify=verify)
    assert isinstance(one(p, connect_frame(("passcode", "alice.token.x"))), Reply)
    # a passcode that is no JWT (old clients send "guest" and the like) is not looked at
    p = protocol(connect=False, verify=verify)
    assert isinstance(one(p, connect_frame(("login", "guest"), ("passcode", "guest"))), Reply)


# --- SEND ---------------------------------------------------------------------------------

def test_send_json_body_to_the_old_destination():
    p = protocol()
    body = orjson.dumps({"content": "hello", "senderId": "mallory", "senderRole": "admin", "roomId": "other"})
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("content-type", "application/json"),
                        ("receipt", "m-1"), body=body))
    # forged sender fields are dropped: only the content travels (the session stamps the sender)
    assert send == Send("r1", "m-1", "hello", Ref("m-1"))


def test_send_to_the_typing_destination_is_a_typing_indicator():
    from websocket_edge.protocol import Typing

    p = protocol()
    assert one(p, frame("SEND", ("destination", "/pub/chat/typing/r1"))) == Typing("r1")


def test_send_plain_text_body():
    p = protocol()
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"),
                        ("content-type", "text/plain;charset=utf-8"), body="héllo {not json"))
    assert send.room == "r1" and send.body == "héllo {not json"


def test_send_body_in_a_declared_charset():
    p = protocol()
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"),
                        ("content-type", "text/plain; charset=latin-1"), body="café".encode("latin-1")))
    assert send.body == "café"


def test_send_without_content_type_takes_json_or_text():
    p = protocol()
    dest = ("destination", "/pub/chat/send/r1")
    assert one(p, frame("SEND", dest, body='{"content":"a"}')).body == "a"
    assert one(p, frame("SEND", dest, body="just text")).body == "just text"
    assert one(p, frame("SEND", dest, body="42")).body == "42"


def test_client_msg_id_header_then_receipt_then_fresh():
    ids = iter(["sess", "fresh-1", "fresh-2"])
    p = protocol(new_id=lambda: next(ids))
    dest = ("destination", "/pub/chat/send/r1")
    assert one(p, frame("SEND", dest, ("client-msg-id", "c-9"), ("receipt", "r-9"), body="a")).client_msg_id == "c-9"
    assert one(p, frame("SEND", dest, ("receipt", "r-9"), body="a")).client_msg_id == "r-9"
    assert one(p, frame("SEND", dest, body="a")).client_msg_id == "fresh-1"
    assert one(p, frame("SEND", dest, body="a")).client_msg_id == "fresh-2"


def test_a_receipt_that_is_no_valid_client_msg_id_is_digested_stably():
    weird = "message 1 / 2"
    assert client_msg_id_from_receipt(weird) == client_msg_id_from_receipt(weird)
    assert contracts.CLIENT_MSG_ID.valid(client_msg_id_from_receipt(weird))
    assert client_msg_id_from_receipt(weird) != client_msg_id_from_receipt("message 2 / 2")
    p = protocol()
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("receipt", weird), body="a"))
    assert send.client_msg_id == client_msg_id_from_receipt(weird)
    assert send.receipt == Ref(weird)


@pytest.mark.parametrize("headers, body, code, words", [
    ((("destination", "/topic/x"),), "a", contracts.ERR_BAD_REQUEST, "unknown destination"),
    ((), "a", contracts.ERR_BAD_REQUEST, "missing destination"),
    ((("destination", "/pub/chat/send/bad room"),), "a", contracts.ERR_BAD_REQUEST, "unknown destination"),
    ((("destination", "/pub/chat/send/r1"), ("content-type", "application/json")), "{oops",
     contracts.ERR_BAD_REQUEST, "not valid JSON"),
    ((("destination", "/pub/chat/send/r1"), ("content-type", "application/json")), '{"text":"a"}',
     contracts.ERR_BAD_REQUEST, '"content"'),
    ((("destination", "/pub/chat/send/r1"), ("content-type", "application/json")), '["a"]',
     contracts.ERR_BAD_REQUEST, "object"),
    ((("destination", "/pub/chat/send/r1"), ("content-type", "image/png")), "a",
     contracts.ERR_BAD_REQUEST, "content-type"),
    ((("destination", "/pub/chat/send/r1"),), '{"content":"   "}', contracts.ERR_BAD_REQUEST, "non-empty"),
    ((("destination", "/pub/chat/send/r1"),), "", contracts.ERR_BAD_REQUEST, "non-empty"),
    ((("destination", "/pub/chat/send/r1"),), "x" * (contracts.MAX_BODY_CHARS + 1),
     contracts.ERR_TOO_LARGE, "over"),
    ((("destination", "/pub/chat/send/r1"), ("client-msg-id", "has space")), "a",
     contracts.ERR_BAD_REQUEST, "client-msg-id"),
])
def test_bad_sends_get_an_error_with_their_receipt(headers, body, code, words):
    p = protocol()
    action = one(p, frame("SEND", *headers, ("receipt", "m-5"), body=body))
    error = error_of(p, action)
    assert error.get("message") == code
    assert words in error.body.decode()
    assert error.get("receipt-id") == "m-5"


def test_body_not_in_its_charset_is_a_frame_error():
    p = protocol()
    action = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("receipt", "m-6"), body=b"\xff\xfe"))
    error = error_of(p, action)
    assert error.get("message") == contracts.ERR_BAD_FRAME and error.get("receipt-id") == "m-6"


def test_receipt_only_from_render_ack():
    p = protocol()
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("receipt", "m-1"), body="a"))
    receipt = parse(p.render_ack(send, 2, 41)[0])
    assert receipt.command == "RECEIPT"
    assert receipt.get("receipt-id") == "m-1"
    assert receipt.get("client-msg-id") == "m-1"
    quiet = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), body="a"))
    assert p.render_ack(quiet, 2, 42) == []


def test_a_failed_send_is_an_error_with_its_receipt():
    p = protocol()
    send = one(p, frame("SEND", ("destination", "/pub/chat/send/r1"), ("receipt", "m-1"), body="a"))
    error = parse(p.render_error(contracts.ERR_UNAVAILABLE, "not accepted, send again", send.client_msg_id, send)[0])
    assert error.command == "ERROR"
    assert (error.get("message"), error.get("receipt-id"), error.get("tidings-ref")) == \
        (contracts.ERR_UNAVAILABLE, "m-1", "m-1")
    assert error.body == b"not accepted, send again"
    assert p.render_close(1002, "x") == []   # the ERROR already said it


def test_several_frames_in_one_message_and_a_frame_split_over_two():
    p = protocol()
    data = (frame("SEND", ("destination", "/pub/chat/send/r1"), body="a")
            + b"\n" + frame("SEND", ("destination", "/pub/chat/send/r2"), body="b"))
    assert [a.room for a in p.decode(data)] == ["r1", "r2"]
    data = frame("SEND", ("destination", "/pub/chat/send/r3"), body="c")
    assert p.decode(data[:10]) == []
    assert one(p, data[10:]).room == "r3"


def test_frames_after_a_fatal_one_in_the_same_message_are_ignored():
    p = protocol()
    data = frame("BEGIN", ("transaction", "t1")) + frame("SEND", ("destination", "/pub/chat/send/r1"), body="a")
    [action] = p.decode(data)
    assert isinstance(action, Invalid)


# --- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------------

def test_subscribe_keeps_id_to_room():
    p = protocol()
    sub = one(p, frame("SUBSCRIBE", ("id", "0"), ("destination", "/sub/chat/r1"), ("ack", "client"),
                       ("receipt", "s-0")))
    assert sub == Subscribe("r1", None, Ref("s-0", "0"))
    assert p.subscriptions["0"].room == "r1" and p.subscriptions["0"].ack == "client"
    sub = one(p, frame("SUBSCRIBE", ("id", "1"), ("destination", "/sub/chat/r2"), ("after-seq", "12")))
    assert (sub.room, sub.after_seq) == ("r2", 12)
    receipt = parse(p.render_subscribed(Subscribe("r1", None, Ref("s-0", "0")), None)[0])
    assert (receipt.command, receipt.get("receipt-id"), receipt.get("last-seq")) == ("RECEIPT", "s-0", None)
    assert parse(p.render_subscribed(Subscribe("r1", 3, Ref("s-9", "0")), 15)[0]).get("last-seq") == "15"
    assert p.render_subscribed(sub, 15) == []   # no receipt asked


@pytest.mark.parametrize("headers, words", [
    ((("destination", "/sub/chat/r1"),), "id"),
    ((("id", "0"), ("destination", "/topic/r1")), "unknown destination"),
    ((("id", "0"), ("destination", "/sub/chat/r1"), ("ack", "sometimes")), "ack mode"),
    ((("id", "0"), ("destination", "/sub/chat/r1"), ("after-seq", "-1")), "after-seq"),
    ((("id", "0"), ("destination", "/sub/chat/r1"), ("after-seq", "x")), "after-seq"),
])
def test_bad_subscribes(headers, words):
    p = protocol()
    error = error_of(p, one(p, frame("SUBSCRIBE", *headers, ("receipt", "s-1"))))
    assert words in error.body.decode() and error.get("receipt-id") == "s-1"
    assert p.subscriptions == {}


def test_subscription_ids_are_unique():
    p = protocol()
    one(p, frame("SUBSCRIBE", ("id", "0"), ("destination", "/sub/chat/r1")))
    assert "already in use" in error_of(p, one(p, frame("SUBSCRIBE", ("id", "0"),
                                                        ("destination", "/sub/chat/r2")))).body.decode()


def test_subscription_ids_are_capped_even_on_one_room():
    p = protocol(settings=dataclasses.replace(SETTINGS, max_subscriptions_per_connection=3))
    for n in range(3):
        subscribed(p, str(n), "r1")
    assert "too many subscriptions" in error_of(p, one(p, frame("SUBSCRIBE", ("id", "3"),
                                                               ("destination", "/sub/chat/r1")))).body.decode()


def test_stomp_10_subscribe_without_id_uses_the_destination():
    p = protocol("v10.stomp")
    sub = one(p, frame("SUBSCRIBE", ("destination", "/sub/chat/r1"), version="1.0"))
    assert sub.room == "r1" and p.subscriptions["/sub/chat/r1"].room == "r1"
    unsub = one(p, frame("UNSUBSCRIBE", ("destination", "/sub/chat/r1"), version="1.0"))
    assert unsub == Unsubscribe("r1", Ref(None))


def test_unsubscribe_by_id():
    p = protocol()
    one(p, frame("SUBSCRIBE", ("id", "a"), ("destination", "/sub/chat/r1")))
    one(p, frame("SUBSCRIBE", ("id", "b"), ("destination", "/sub/chat/r1")))
    # the room stays subscribed under "b": answered here, nothing for the session
    reply = one(p, frame("UNSUBSCRIBE", ("id", "a"), ("receipt", "u-1")))
    assert isinstance(reply, Reply) and parse(reply.frames[0]).get("receipt-id") == "u-1"
    unsub = one(p, frame("UNSUBSCRIBE", ("id", "b"), ("receipt", "u-2")))
    assert unsub == Unsubscribe("r1", Ref("u-2"))
    assert parse(p.render_unsubscribed(unsub)[0]).get("receipt-id") == "u-2"
    assert p.subscriptions == {}
    # an id that is gone already: idempotent, a receipt if asked
    reply = one(p, frame("UNSUBSCRIBE", ("id", "b"), ("receipt", "u-3")))
    assert isinstance(reply, Reply) and parse(reply.frames[0]).get("receipt-id") == "u-3"
    assert "id" in error_of(p, one(p, frame("UNSUBSCRIBE", ("destination", "/sub/chat/r1")))).body.decode()


def test_a_refused_subscribe_is_forgotten():
    p = protocol()
    sub = one(p, frame("SUBSCRIBE", ("id", "0"), ("destination", "/sub/chat/r1"), ("receipt", "s-1")))
    error = parse(p.render_error(contracts.ERR_FORBIDDEN, "not a member of this room", "r1", sub)[0])
    assert (error.get("message"), error.get("receipt-id")) == (contracts.ERR_FORBIDDEN, "s-1")
    assert p.subscriptions == {}
    assert p.render_event(message_event()) == []
