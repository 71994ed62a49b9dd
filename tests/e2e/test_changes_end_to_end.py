"""Edit, delete, reactions and replies end to end on the real stack (Kafka, dynalite, the event
source mapping, two edges), over JSON and STOMP: what members see live, what a client that
comes back sees, and every kind of bad input refused with nothing changed."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from functions import contracts
from functions.history import Messages
from harness import produce_sync
from test_stomp_clients import chat_messages, stomp_client, subscribe

WAIT = 40.0   # edge → Kafka → event source mapping → worker → edges, on a loaded 2-core machine


def cid(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def change(client, kind: str, room: str, **fields) -> str:
    """Send an edit / delete / react (or a send with fields) and wait for its ack."""
    client_msg_id = fields.pop("clientMsgId", None) or cid(kind)
    client.send_json({"type": kind, "room": room, "clientMsgId": client_msg_id, **fields})
    # the ack (Kafka has it); a worker's refusal may come before it (the record can reach the
    # worker before the edge hears the broker's answer), so only the ack is waited for
    client.wait_for(lambda f: f["type"] == "ack" and f.get("clientMsgId") == client_msg_id, timeout=WAIT)
    return client_msg_id


def event(client, kind: str, **match) -> dict:
    return client.wait_for(lambda f: f["type"] == kind and all(f.get(k) == v for k, v in match.items()),
                           timeout=WAIT)


def refusal(client, ref: str) -> dict:
    return client.wait_for(lambda f: f["type"] == "error" and f.get("ref") == ref, timeout=WAIT)


def history(settings, room: str) -> list[dict]:
    return list(Messages(settings).messages_after(room, 0))


def sent(client, room: str, body: str, **extra) -> dict:
    """Send a message and wait until it comes back stored; returns its message event."""
    client_msg_id = change(client, "send", room, body=body, **extra)
    return event(client, "message", room=room, clientMsgId=client_msg_id)


# --- JSON ----------------------------------------------------------------------------------------

def test_json_reply_edit_react_delete_reach_members_on_both_edges(chat, settings):
    first = sent(chat.c, chat.room, "Can you trim the ears too? " + "x" * 120)
    # a reply carries a short quote of what it answers
    reply = sent(chat.g, chat.room, "Sure!", replyTo=first["messageId"])
    quote = {"messageId": first["messageId"], "seq": first["seq"], "senderId": chat.customer.id,
             "quote": first["body"][:100]}
    assert reply["replyTo"] == quote
    assert event(chat.c, "message", seq=reply["seq"])["replyTo"] == quote

    edit_id = change(chat.c, "edit", chat.room, messageId=first["messageId"], body="Ears too, please")
    for client in (chat.c, chat.g):
        edited = event(client, "edited", messageId=first["messageId"])
        assert (edited["body"], edited["version"], edited["clientMsgId"]) == ("Ears too, please", 2, edit_id)
        assert isinstance(edited["editedAt"], int)

    change(chat.g, "react", chat.room, messageId=first["messageId"], emoji="👍")
    change(chat.c, "react", chat.room, messageId=first["messageId"], emoji="👍")
    for client in (chat.c, chat.g):
        counted = event(client, "reaction", userId=chat.customer.id)
        assert (counted["emoji"], counted["added"], counted["counts"]) == ("👍", True, {"👍": 2})
        assert counted["reactions"] == {"👍": [chat.groomer.id, chat.customer.id]}

    change(chat.c, "delete", chat.room, messageId=first["messageId"])
    for client in (chat.c, chat.g):
        gone = event(client, "deleted", messageId=first["messageId"])
        assert gone["deletedBy"] == chat.customer.id

    # the store: the tombstone has no body, the reply no longer quotes it
    stored = {m["seq"]: m for m in history(settings, chat.room)}
    assert stored[first["seq"]]["deleted"] is True and "body" not in stored[first["seq"]]
    assert "Ears" not in repr(stored) and "trim" not in repr(stored)
    assert stored[reply["seq"]]["replyTo"] == {"messageId": first["messageId"], "seq": first["seq"],
                                               "senderId": chat.customer.id, "deleted": True}


def test_a_client_that_comes_back_sees_the_final_state(chat, connect):
    seqs = [sent(chat.c, chat.room, f"m{n}")["seq"] for n in range(4)]
    room = chat.room
    event(chat.g, "message", seq=seqs[-1])
    chat.g.close()   # the groomer had everything up to seqs[-1]
    mid = [contracts.message_id(room, s) for s in seqs]
    change(chat.c, "edit", room, messageId=mid[0], body="m0 fixed")
    change(chat.c, "react", room, messageId=mid[1], emoji="🐶")
    change(chat.c, "delete", room, messageId=mid[2])
    last = sent(chat.c, room, "see above", replyTo=mid[0])

    # from the start: every message as it is now
    fresh = connect("edge-a", chat.groomer)   # the other edge this time
    assert fresh.subscribe(room, after_seq=0)["lastSeq"] == last["seq"]
    got = {m["seq"]: m for m in fresh.messages(room)}
    assert (got[seqs[0]]["body"], got[seqs[0]]["version"]) == ("m0 fixed", 2) and "editedAt" in got[seqs[0]]
    assert got[seqs[1]]["reactions"] == {"🐶": [chat.customer.id]}
    assert got[seqs[2]]["deleted"] is True and "body" not in got[seqs[2]]
    assert got[seqs[3]]["body"] == "m3" and "editedAt" not in got[seqs[3]]
    assert got[last["seq"]]["replyTo"]["quote"] == "m0 fixed"

    # from where it left off: what changed among the messages it had, then what is new
    back = connect("edge-b", chat.groomer)
    assert back.subscribe(room, after_seq=seqs[-1])["lastSeq"] == last["seq"]
    shown = [(f["type"], f.get("seq")) for f in back.frames if f.get("room") == room
             and f["type"] in ("message", *contracts.EVENT_CHANGES)]
    assert shown == [("edited", seqs[0]), ("reaction", seqs[0]), ("reaction", seqs[1]), ("deleted", seqs[2]),
                     ("message", last["seq"])]
    states = {(f["type"], f["seq"]): f for f in back.frames if f["type"] in contracts.EVENT_CHANGES}
    assert states[("edited", seqs[0])]["body"] == "m0 fixed"
    assert states[("reaction", seqs[1])]["counts"] == {"🐶": 1}


def test_json_bad_input_is_refused_and_changes_nothing(chat, connect, new_user, new_room, settings):
    room, c, g = chat.room, chat.c, chat.g
    mine = sent(c, room, "the customer's")
    other_room = new_room(chat.customer)
    elsewhere = sent(c, other_room, "in another room") if c.subscribe(other_room) else None

    # refused by the edge at once (nothing reaches Kafka)
    for frame, code in (
            ({"type": "react", "messageId": mine["messageId"], "emoji": "👍👍"}, "bad_request"),
            ({"type": "react", "messageId": mine["messageId"], "emoji": "ok"}, "bad_request"),
            ({"type": "send", "body": "re", "replyTo": elsewhere["messageId"]}, "bad_request"),
            ({"type": "edit", "messageId": f"{room}:1\n", "body": "x"}, "bad_request"),
            ({"type": "edit", "messageId": mine["messageId"]}, "bad_request"),
            ({"type": "delete", "messageId": f"{room}:0"}, "bad_request"),
            ({"type": "edit", "messageId": mine["messageId"], "body": "x" * 8001}, "too_large")):
        ref = cid("bad")
        g.send_json({"room": room, "clientMsgId": ref, **frame})
        assert refusal(g, ref)["code"] == code, frame
        assert not [f for f in g.frames if f["type"] == "ack" and f.get("clientMsgId") == ref]

    # refused by the worker, after the ack: an error to the sender only
    for kind, fields, code in (
            ("edit", {"messageId": mine["messageId"], "body": "not yours"}, "forbidden"),
            ("delete", {"messageId": mine["messageId"]}, "forbidden"),     # bob did not create the room
            ("edit", {"messageId": f"{room}:999", "body": "x"}, "not_found"),
            ("delete", {"messageId": f"{room}:999"}, "not_found"),
            ("react", {"messageId": f"{room}:999", "emoji": "👍"}, "not_found"),
            ("send", {"body": "re", "replyTo": f"{room}:999"}, "not_found")):
        ref = change(g, kind, room, **fields)
        error = refusal(g, ref)
        assert (error["code"], error["room"]) == (code, room), (kind, fields)
        assert error["message"]

    # a stranger cannot touch the room's messages
    stranger = new_user("customer", "mallory")
    s = connect("edge-b", stranger)
    ref = change(s, "delete", room, messageId=mine["messageId"])
    assert refusal(s, ref)["code"] == "forbidden"

    stored = history(settings, room)
    assert [(m["seq"], m["body"], m.get("editedAt"), m.get("deleted")) for m in stored] == [
        (mine["seq"], "the customer's", None, None)]
    assert not [f for f in c.frames if f["type"] in contracts.EVENT_CHANGES]


def test_an_edit_after_the_window_is_refused(chat, settings):
    """A message sent longer ago than TIDINGS_EDIT_WINDOW_S: produced as an edge would have,
    with its sentAt that long ago, then edited through the real edge."""
    old_id = cid("old")
    sent_at = int(time.time() * 1000) - (settings.edit_window_s + 5) * 1000
    record = {"v": 1, "type": contracts.RECORD_SEND, "roomId": chat.room, "clientMsgId": old_id,
              "senderId": chat.customer.id, "senderRole": "customer", "body": "long ago", "sentAt": sent_at,
              "connectionId": "gone", "edgeUrl": "http://127.0.0.1:9/"}
    produce_sync(settings, settings.chat_topic, [(chat.room, orjson.dumps(record))])
    old = event(chat.c, "message", clientMsgId=old_id)
    ref = change(chat.c, "edit", chat.room, messageId=old["messageId"], body="too late")
    assert refusal(chat.c, ref)["code"] == "too_late"
    fresh = sent(chat.c, chat.room, "just now")
    change(chat.c, "edit", chat.room, messageId=fresh["messageId"], body="fixed in time")
    event(chat.g, "edited", messageId=fresh["messageId"])
    assert [m["body"] for m in history(settings, chat.room)] == ["long ago", "fixed in time"]


def test_the_room_creator_may_delete_anyones_message(chat, settings):
    """new_room makes its first member (the customer) the creator."""
    theirs = sent(chat.g, chat.room, "the groomer's")
    change(chat.c, "delete", chat.room, messageId=theirs["messageId"])
    assert event(chat.g, "deleted", messageId=theirs["messageId"])["deletedBy"] == chat.customer.id
    assert history(settings, chat.room)[0]["deleted"] is True


# --- STOMP ---------------------------------------------------------------------------------------

class Seen:
    """A stomp.py listener plus the frames its waits skipped: a worker's answer to a SEND can
    come before the SEND's RECEIPT (the worker may read the record before the edge hears the
    broker's ack), so a wait for the RECEIPT must not lose it."""

    def __init__(self, listener):
        self.listener = listener
        self.skipped: list = []

    def next(self, command: str, where, timeout: float = WAIT):
        for index, (kind, frame) in enumerate(self.skipped):
            if kind == command and where(frame):
                del self.skipped[index]
                return frame
        frame, skipped = self.listener.next(command, timeout=timeout, where=where)
        self.skipped.extend(skipped)
        return frame


def stomp_send(conn, seen: Seen, destination: str, body: dict) -> str:
    receipt = cid("r")
    conn.send(destination, orjson.dumps(body).decode(), content_type="application/json",
              headers={"receipt": receipt})
    seen.next("RECEIPT", lambda f: f.headers.get("receipt-id") == receipt)
    return receipt


def stomp_event(seen: Seen, kind: str, **match):
    frame = seen.next("MESSAGE", lambda f: f.headers.get("tidings-event") == kind and all(
        orjson.loads(f.body).get(k) == v for k, v in match.items()))
    return frame, orjson.loads(frame.body)


def chat_message(seen: Seen, content: str | None = None):
    return seen.next("MESSAGE", lambda f: "tidings-event" not in f.headers
                     and (content is None or orjson.loads(f.body).get("content") == content))


@pytest.fixture
def stomp_pair(edges, new_user, new_room):
    """alice (customer, the room's creator) on edge A and bob (groomer) on edge B, subscribed."""
    alice, bob = new_user("customer", "alice"), new_user("groomer", "bob")
    room = new_room(alice, bob)
    opened = []
    pair = []
    for edge, user in (("edge-a", alice), ("edge-b", bob)):
        conn, listener = stomp_client(edges[edge], user)
        opened.append(conn)
        subscribe(conn, listener, room, "sub-0")
        pair.append((conn, Seen(listener)))
    yield room, alice, bob, pair
    for conn in opened:
        try:
            conn.disconnect()
        except Exception:  # noqa: BLE001
            pass


def test_stomp_reply_edit_react_delete(stomp_pair, edges):
    room, alice, bob, ((a_conn, a), (b_conn, b)) = stomp_pair
    first_receipt = stomp_send(a_conn, a, f"/pub/chat/send/{room}", {"content": "Is 3pm ok?"})
    first = orjson.loads(chat_message(b).body)
    assert first["clientMsgId"] == first_receipt
    mid = first["messageId"]

    stomp_send(b_conn, b, f"/pub/chat/send/{room}", {"content": "Yes", "replyTo": mid})
    reply = chat_message(a, "Yes")
    assert orjson.loads(reply.body)["replyTo"] == {"messageId": mid, "seq": first["seq"], "senderId": alice.id,
                                                   "quote": "Is 3pm ok?"}

    stomp_send(a_conn, a, f"/pub/chat/edit/{room}", {"messageId": mid, "content": "Is 4pm ok?"})
    frame, edited = stomp_event(b, "edited", messageId=mid)
    assert (edited["body"], edited["version"], edited["roomId"]) == ("Is 4pm ok?", 2, room)
    assert frame.headers["subscription"] == "sub-0"

    stomp_send(b_conn, b, f"/pub/chat/react/{room}", {"messageId": mid, "emoji": "✅"})
    _, reacted = stomp_event(a, "reaction", messageId=mid)
    assert (reacted["userId"], reacted["counts"]) == (bob.id, {"✅": 1})

    stomp_send(a_conn, a, f"/pub/chat/delete/{room}", {"messageId": mid})
    _, deleted = stomp_event(b, "deleted", messageId=mid)
    assert deleted["deletedBy"] == alice.id

    # a client coming back gets the messages as they are now
    late, late_listener = stomp_client(edges["edge-a"], bob)
    try:
        _, before = subscribe(late, late_listener, room, "again", **{"after-seq": "0"})
        messages = {m["seq"]: m for m in chat_messages(before)}
        assert messages[first["seq"]]["deleted"] is True and messages[first["seq"]]["content"] is None
        assert messages[first["seq"] + 1]["replyTo"]["deleted"] is True
    finally:
        late.disconnect()


def test_stomp_refusals(stomp_pair, settings):
    room, alice, bob, ((a_conn, a), (b_conn, b)) = stomp_pair
    stomp_send(a_conn, a, f"/pub/chat/send/{room}", {"content": "alice's"})
    mid = orjson.loads(chat_message(b).body)["messageId"]

    # refused by the worker on a room the client watches: a MESSAGE marked error, the connection lives
    ref = stomp_send(b_conn, b, f"/pub/chat/edit/{room}", {"messageId": mid, "content": "bob's now"})
    _, error = stomp_event(b, "error", ref=ref)
    assert (error["code"], error["roomId"]) == ("forbidden", room)
    ref = stomp_send(b_conn, b, f"/pub/chat/react/{room}", {"messageId": f"{room}:99", "emoji": "👍"})
    assert stomp_event(b, "error", ref=ref)[1]["code"] == "not_found"
    assert b_conn.is_connected()

    # refused by the edge: ERROR, then the close (STOMP's rule)
    receipt = cid("r")
    b_conn.send(f"/pub/chat/react/{room}", orjson.dumps({"messageId": mid, "emoji": "👍🏽👍"}).decode(),
                content_type="application/json", headers={"receipt": receipt})
    error_frame = b.next("ERROR", lambda f: True)
    assert (error_frame.headers["message"], error_frame.headers["receipt-id"]) == ("bad_request", receipt)
    assert "emoji" in error_frame.body

    stored = list(Messages(settings).messages_after(room, 0))
    assert [(m["body"], m.get("editedAt"), m.get("reactions")) for m in stored] == [("alice's", None, None)]
