"""The rules of edit, delete, reactions and replies on their own (functions/message_changes.py),
the ids and emoji they take (functions/contracts.py), the records the worker accepts
(functions/chat_records.py) and the frames both protocols turn into change records."""

from __future__ import annotations

import orjson
import pytest

from functions import contracts as c
from functions import message_changes as changes
from functions.chat_records import invalid_reason
from functions.message_items import message_event, message_item
from websocket_edge import stomp as s
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Invalid, Send, ServerEvent
from websocket_edge.stomp_protocol import StompProtocol

from stomp_protocol_kit import ALICE, SETTINGS, connect_frame, frame


def item(seq=1, sender="alice", body="hello there", sent_at=1_000_000):
    rec = {"clientMsgId": f"m{seq}", "senderId": sender, "senderRole": "customer", "body": body, "sentAt": sent_at}
    return message_item("r1", seq, rec, "t-0", 10 + seq, sent_at + 5)


# --- ids and emoji ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("r1:44", ("r1", 44)), ("a:b:c:7", ("a:b:c", 7)), ("r.1-x_y:1", ("r.1-x_y", 1)),
    ("r1:0", None), ("r1:07", None), ("r1:", None), (":4", None), ("r1", None), ("r1:4\n", None),
    ("r1\n:4", None), ("r 1:4", None), ("r1:-4", None), ("r1:4.0", None), ("r1:" + "9" * 17, None),
    ("x" * 129 + ":1", None), (44, None), (None, None), (["r1:4"], None)])
def test_parse_message_id(value, expected):
    assert c.parse_message_id(value) == expected


@pytest.mark.parametrize("value", ["👍", "👍🏽", "❤️", "❤", "👨‍👩‍👧", "🇫🇷", "🐶", "#️⃣"])
def test_single_emoji(value):
    assert c.is_single_emoji(value)


@pytest.mark.parametrize("value", ["", "a", "ok", "👍👍", " 👍", "👍\n", ":thumbsup:", "1", None, 1, ["👍"]])
def test_not_a_single_emoji(value):
    assert not c.is_single_emoji(value)


# --- the rules -----------------------------------------------------------------------------------

def test_edit_by_the_sender_within_the_window():
    message = item()
    event = changes.edit(message, "alice", {"body": "hello!", "sentAt": 1_000_000 + 900_000, "clientMsgId": "e"},
                         "d", 20, 900_000)
    assert (message["body"], message["version"], message["editedAt"]) == ("hello!", 2, 1_900_000)
    assert event == {"type": "edited", "room": "r1", "seq": 1, "messageId": "r1:1", "clientMsgId": "e",
                     "body": "hello!", "editedAt": 1_900_000, "version": 2}
    changes.edit(message, "alice", {"body": "third", "sentAt": 1_000_001}, "d2", 21, 900_000)
    assert message["version"] == 3 and changes.applied_at(message, "d") == 20


@pytest.mark.parametrize("who, late, code", [("bob", 0, c.ERR_FORBIDDEN), ("alice", 1, c.ERR_TOO_LATE)])
def test_edit_refusals_leave_the_message_alone(who, late, code):
    message = item()
    before = dict(message)
    with pytest.raises(changes.Refused) as refused:
        changes.edit(message, who, {"body": "x", "sentAt": 1_000_000 + 900_000 + late}, "d", 20, 900_000)
    assert refused.value.code == code and message == before


def test_delete_by_the_sender_or_the_creator_only():
    message = item(sender="bob")
    with pytest.raises(changes.Refused) as refused:
        changes.delete(message, "carol", {"sentAt": 5}, "d", 20, creator="alice")
    assert refused.value.code == c.ERR_FORBIDDEN and message["body"] == "hello there"
    changes.react(message, "carol", {"emoji": "👍"}, "r", 19)
    message["replyTo"] = {"messageId": "r1:0", "seq": 1, "senderId": "x", "quote": "private"}
    event = changes.delete(message, "alice", {"sentAt": 5, "clientMsgId": "del"}, "d", 20, creator="alice")
    assert event["deletedBy"] == "alice" and event["clientMsgId"] == "del"
    assert "body" not in message and "reactions" not in message and "private" not in repr(message)
    assert message_event(message)["deleted"] is True and "body" not in message_event(message)
    for rule, args in ((changes.edit, ({"body": "x", "sentAt": 5}, "e", 21, 900_000)),
                       (changes.react, ({"emoji": "👍"}, "e", 21)),
                       (changes.delete, ({"sentAt": 5}, "e", 21, "alice"))):
        with pytest.raises(changes.Refused) as refused:
            rule(message, "bob", *args)
        assert refused.value.code == c.ERR_NOT_FOUND


def test_reactions_toggle_and_count():
    message = item()
    assert changes.react(message, "bob", {"emoji": "👍"}, "a", 1)["counts"] == {"👍": 1}
    assert changes.react(message, "alice", {"emoji": "👍"}, "b", 2)["counts"] == {"👍": 2}
    off = changes.react(message, "bob", {"emoji": "👍"}, "c", 3)
    assert (off["added"], off["counts"], off["reactions"]) == (False, {"👍": 1}, {"👍": ["alice"]})
    changes.react(message, "alice", {"emoji": "👍"}, "d", 4)
    assert "reactions" not in message


def test_a_message_takes_a_bounded_number_of_different_emoji():
    message = item()
    emoji = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗",
             "😙", "🥲", "😚", "🙂", "🤗", "🤩", "🤔", "🫡", "🤨", "😐", "😑", "😶", "🫥", "🙄", "😏", "😣"]
    assert len(set(emoji)) == c.MAX_REACTION_KINDS
    for n, e in enumerate(emoji):
        changes.react(message, "bob", {"emoji": e}, f"d{n}", n)
    with pytest.raises(changes.Refused) as refused:
        changes.react(message, "bob", {"emoji": "🐶"}, "x", 99)
    assert refused.value.code == c.ERR_BAD_REQUEST
    changes.react(message, "carol", {"emoji": "😀"}, "y", 100)   # one already there: fine
    assert len(message["reactions"]) == c.MAX_REACTION_KINDS


def test_remembered_changes_are_bounded():
    message = item()
    for n in range(changes.MAX_OPS + 5):
        changes.react(message, "bob", {"emoji": "👍"}, f"d{n}", n)
    assert len(message["ops"]) == changes.MAX_OPS
    assert changes.applied_at(message, "d0") is None and changes.applied_at(message, f"d{changes.MAX_OPS}") == 64


def test_quote_is_short_and_refused_for_a_deleted_message():
    message = item(body="x" * 150)
    assert changes.quote_of(message) == {"messageId": "r1:1", "seq": 1, "senderId": "alice", "quote": "x" * 100}
    changes.delete(message, "alice", {"sentAt": 1}, "d", 2, None)
    with pytest.raises(changes.Refused):
        changes.quote_of(message)


def test_state_events_of_a_changed_message():
    message = item()
    assert changes.state_events(message) == [{"type": "reaction", "room": "r1", "seq": 1, "messageId": "r1:1",
                                              "counts": {}, "reactions": {}}]
    changes.edit(message, "alice", {"body": "new", "sentAt": 1_000_001}, "d", 2, 900_000)
    assert [e["type"] for e in changes.state_events(message)] == ["edited", "reaction"]
    message["replyTo"] = changes.scrubbed({"messageId": "r1:0", "seq": 9, "senderId": "bob", "quote": "q"})
    assert changes.state_events(message)[0] == {"type": "deleted", "room": "r1", "seq": 9, "messageId": "r1:0"}
    changes.delete(message, "alice", {"sentAt": 3}, "e", 3, None)
    assert [e["type"] for e in changes.state_events(message)] == ["deleted"]


# --- records -------------------------------------------------------------------------------------

def record(kind, **fields):
    value = {"v": 1, "type": kind, "roomId": "r1", "senderId": "alice", "senderRole": "customer", "sentAt": 1,
             "connectionId": "c1", "edgeUrl": "http://edge", "clientMsgId": "m1"}
    value.update(fields)
    return value


@pytest.mark.parametrize("value, reason", [
    (record(c.RECORD_EDIT, messageId="r1:1", body="x"), None),
    (record(c.RECORD_EDIT, messageId="r1:1"), "body must be non-empty text"),
    (record(c.RECORD_EDIT, messageId="r1:1", body="x" * 8001), "body longer than 8000 characters"),
    (record(c.RECORD_DELETE, messageId="r1:1"), None),
    (record(c.RECORD_DELETE, messageId="r2:1"), "messageId is not a message of this room"),
    (record(c.RECORD_DELETE), "invalid messageId"),
    (record(c.RECORD_DELETE, messageId="r1:1", clientMsgId="a\n"), "invalid clientMsgId"),
    (record(c.RECORD_REACT, messageId="r1:1", emoji="👍"), None),
    (record(c.RECORD_REACT, messageId="r1:1", emoji="👍👍"), "a reaction is exactly one emoji"),
    (record(c.RECORD_SEND, body="x", replyTo="r1:1"), None),
    (record(c.RECORD_SEND, body="x", replyTo="r2:1"), "replyTo is not a message of this room"),
    (record(c.RECORD_SEND, body="x", replyTo="r1:1\n"), "invalid replyTo"),
])
def test_change_records_are_checked(value, reason):
    assert invalid_reason(value, b"r1") == reason


# --- the protocols -------------------------------------------------------------------------------

def json_decode(obj):
    [action] = JsonProtocol(ALICE, SETTINGS).decode(orjson.dumps(obj))
    return action


def test_json_change_frames_become_change_records():
    edit = json_decode({"type": "edit", "room": "r1", "clientMsgId": "e1", "messageId": "r1:4", "body": "b",
                        "senderId": "mallory"})
    assert edit == Send("r1", "e1", "b", kind=c.RECORD_EDIT, fields=(("messageId", "r1:4"),))
    assert edit.record_fields() == {"clientMsgId": "e1", "messageId": "r1:4", "body": "b"}
    delete = json_decode({"type": "delete", "room": "r1", "clientMsgId": "d1", "messageId": "r1:4"})
    assert delete.record_fields() == {"clientMsgId": "d1", "messageId": "r1:4"}
    react = json_decode({"type": "react", "room": "r1", "clientMsgId": "x", "messageId": "r1:4", "emoji": "🐶"})
    assert (react.kind, dict(react.fields)) == (c.RECORD_REACT, {"messageId": "r1:4", "emoji": "🐶"})
    reply = json_decode({"type": "send", "room": "r1", "clientMsgId": "s", "body": "b", "replyTo": "r1:2"})
    assert reply.record_fields() == {"clientMsgId": "s", "replyTo": "r1:2", "body": "b"}


@pytest.mark.parametrize("obj, code", [
    ({"type": "edit", "messageId": "r1:4"}, c.ERR_BAD_REQUEST),
    ({"type": "edit", "messageId": "r1:4", "body": "x" * 8001}, c.ERR_TOO_LARGE),
    ({"type": "edit", "messageId": "r2:4", "body": "b"}, c.ERR_BAD_REQUEST),
    ({"type": "delete"}, c.ERR_BAD_REQUEST),
    ({"type": "delete", "messageId": "r1:4\u2028"}, c.ERR_BAD_REQUEST),
    ({"type": "react", "messageId": "r1:4", "emoji": "👍🏽👍"}, c.ERR_BAD_REQUEST),
    ({"type": "react", "messageId": "r1:4"}, c.ERR_BAD_REQUEST),
    ({"type": "send", "body": "b", "replyTo": "other:4"}, c.ERR_BAD_REQUEST),
    ({"type": "send", "body": "b", "replyTo": 4}, c.ERR_BAD_REQUEST),
])
def test_json_bad_change_frames(obj, code):
    action = json_decode({"room": "r1", "clientMsgId": "ref-1", **obj})
    assert isinstance(action, Invalid) and (action.code, action.ref) == (code, "ref-1")


def stomp_send(destination, body, *headers):
    p = StompProtocol(ALICE, SETTINGS, "v12.stomp")
    p.decode(connect_frame())
    [action] = p.decode(frame("SEND", ("destination", destination), ("receipt", "rc-1"),
                              ("content-type", "application/json"), *headers, body=orjson.dumps(body)))
    return action


def test_stomp_change_destinations():
    edit = stomp_send("/pub/chat/edit/r1", {"messageId": "r1:4", "content": "new"})
    assert edit == Send("r1", "rc-1", "new", edit.receipt, kind=c.RECORD_EDIT, fields=(("messageId", "r1:4"),))
    delete = stomp_send("/pub/chat/delete/r1", {"messageId": "r1:4"}, ("client-msg-id", "d-1"))
    assert (delete.kind, delete.client_msg_id, delete.body) == (c.RECORD_DELETE, "d-1", None)
    react = stomp_send("/pub/chat/react/r1", {"messageId": "r1:4", "emoji": "✅"})
    assert dict(react.fields) == {"messageId": "r1:4", "emoji": "✅"}
    reply = stomp_send("/pub/chat/send/r1", {"content": "yes", "replyTo": "r1:4"})
    assert (reply.kind, dict(reply.fields)) == (c.RECORD_SEND, {"replyTo": "r1:4"})


@pytest.mark.parametrize("destination, body", [
    ("/pub/chat/edit/r1", {"messageId": "r1:4"}),
    ("/pub/chat/edit/r1", {"messageId": "r2:4", "content": "x"}),
    ("/pub/chat/delete/r1", {}),
    ("/pub/chat/delete/r1", ["r1:4"]),
    ("/pub/chat/react/r1", {"messageId": "r1:4", "emoji": "no"}),
    ("/pub/chat/send/r1", {"content": "x", "replyTo": "r1:x"}),
])
def test_stomp_bad_changes_are_errors(destination, body):
    action = stomp_send(destination, body)
    assert isinstance(action, Invalid) and action.fatal and action.code == c.ERR_BAD_REQUEST


def test_stomp_renders_changes_and_state():
    p = StompProtocol(ALICE, SETTINGS, "v12.stomp")
    p.decode(connect_frame())
    p.decode(frame("SUBSCRIBE", ("id", "0"), ("destination", "/sub/chat/r1")))
    message = item()
    changes.edit(message, "alice", {"body": "new", "sentAt": 1_000_001}, "d", 2, 900_000)
    [chat] = p.render_event(ServerEvent(message_event(message)))
    body = orjson.loads(s.parse(chat, version="1.2", commands=s.SERVER_COMMANDS)[0].body)
    assert (body["content"], body["version"], body["editedAt"]) == ("new", 2, 1_000_001)
    [edited] = p.render_event(ServerEvent(changes.edited_event(message)))
    parsed = s.parse(edited, version="1.2", commands=s.SERVER_COMMANDS)[0]
    assert parsed.get("tidings-event") == "edited" and parsed.get("seq") is None
    assert orjson.loads(parsed.body)["roomId"] == "r1"
