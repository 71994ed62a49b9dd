"""chat_rules.ChatRules with fakes of its ports (ports.py) and of its Outbox: the rules alone,
without a socket, a greenlet of a session or a store."""

from __future__ import annotations

import time
from types import SimpleNamespace

import gevent
import orjson
import pytest
from gevent.event import AsyncResult

from functions import contracts
from functions.rooms import UnknownRoom
from functions.settings import Settings
from websocket_edge.chat_rules import ChatRules
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import OK
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.protocol import Send, ServerEvent, Subscribe, Typing, Unsubscribe

ROOM = "room-1"


class Outbox:
    """Records what the rules give the connection, rendered by the real JSON protocol."""

    connection_id = "conn-1"
    user_id = "alice"
    role = "customer"

    def __init__(self):
        self.protocol = JsonProtocol()
        self.frames: list[dict] = []
        self.closing = False
        self.later: list[tuple] = []

    def enqueue(self, frames, wait=False):
        self.frames.extend(orjson.loads(f) for f in frames)
        return OK

    def enqueue_events(self, events, wait=False):
        for event in events:
            self.enqueue(self.protocol.render_event(event))
        return OK

    def error(self, code, message, ref=None, action=None):
        self.enqueue(self.protocol.render_error(code, message, ref, action))

    def close_if_failed(self):
        pass

    def spawn(self, fn):
        fn()

    def spawn_later(self, seconds, fn, *args):
        self.later.append((seconds, fn, args))

    def of(self, kind):
        return [f for f in self.frames if f["type"] == kind]


class Producer:
    def __init__(self):
        self.records: list[tuple[dict, AsyncResult]] = []

    def publish(self, record, key=None):
        result = AsyncResult()
        self.records.append((record, result))
        return result

    def drain(self, deadline):
        return True

    def close(self, deadline=None):
        pass

    def kinds(self):
        return [r["type"] for r, _ in self.records]


class Subscriptions:
    def __init__(self, rooms):
        self.rooms, self.entries = rooms, set()

    def register(self, *args):
        pass

    def unregister(self, connection_id, rooms):
        pass

    def refresh(self, connection_id, rooms):
        return set()

    def subscribe(self, room_id, connection_id, user_id, role, edge_url):
        if room_id not in self.rooms:
            raise UnknownRoom(room_id)
        self.entries.add((room_id, connection_id))

    def unsubscribe(self, room_id, connection_id):
        self.entries.discard((room_id, connection_id))


class Membership:
    def __init__(self, rooms):
        self.rooms = rooms

    def is_member(self, room_id, user_id):
        if room_id not in self.rooms:
            raise UnknownRoom(room_id)
        return user_id in self.rooms[room_id]


class History:
    def __init__(self, rooms):
        self.rooms, self.stored = rooms, {ROOM: []}

    def committed_seq(self, room_id):
        return len(self.stored.get(room_id, []))

    def committed_seq_if_member(self, room_id, user_id):
        if room_id not in self.rooms:
            raise UnknownRoom(room_id)
        return self.committed_seq(room_id) if user_id in self.rooms[room_id] else None

    def messages_after(self, room_id, after_seq, upto=None):
        return [m for m in self.stored.get(room_id, []) if after_seq < m["seq"] <= (upto or 10**9)]

    def changed_up_to(self, room_id, seq):
        return []

    def add(self, *bodies):
        for body in bodies:
            seq = len(self.stored[ROOM]) + 1
            self.stored[ROOM].append({"roomId": ROOM, "seq": seq, "messageId": f"{ROOM}:{seq}",
                                      "clientMsgId": f"c{seq}", "senderId": "bob", "senderRole": "groomer",
                                      "body": body, "sentAt": seq})


@pytest.fixture
def w():
    rooms = {ROOM: {"alice", "bob"}}
    producer, subs, history = Producer(), Subscriptions(rooms), History(rooms)
    deps = EdgeDeps(settings=Settings(), producer=producer, connections=subs, rooms=Membership(rooms),
                    messages=history, clock=time.time)
    out = Outbox()
    return SimpleNamespace(rules=ChatRules(out, deps), out=out, producer=producer, subs=subs, history=history,
                           rooms=rooms, deps=deps)


def test_a_send_is_stamped_from_the_connection_and_acked_only_by_its_report(w):
    w.rules.send(Send(ROOM, "c-1", "hello"))
    (record, result), = w.producer.records
    assert (record["senderId"], record["senderRole"], record["connectionId"]) == ("alice", "customer", "conn-1")
    assert (record["type"], record["clientMsgId"], record["body"]) == (contracts.RECORD_SEND, "c-1", "hello")
    assert w.out.frames == []   # no ack before Kafka has it
    result.set((2, 41))
    gevent.sleep(0)
    assert w.out.of("ack") == [{"type": "ack", "clientMsgId": "c-1", "room": ROOM, "partition": 2, "offset": 41}]


def test_a_send_kafka_refused_is_answered_unavailable(w):
    w.rules.send(Send(ROOM, "c-1", "hello"))
    w.producer.records[0][1].set_exception(RuntimeError("broker away"))
    gevent.sleep(0)
    (error,) = w.out.of("error")
    assert (error["code"], error["ref"]) == (contracts.ERR_UNAVAILABLE, "c-1")


def test_the_workers_answer_to_a_send_waits_for_its_ack(w):
    """The worker can refuse a record before the edge polled its delivery report: the ack
    still goes first (a STOMP ERROR first would close the connection, RECEIPT never sent)."""
    w.rules.send(Send(ROOM, "c-1", "hello"))
    refusal = ServerEvent(contracts.error_event(contracts.ERR_FORBIDDEN, "not a member", "c-1"))
    other = ServerEvent(contracts.error_event(contracts.ERR_FORBIDDEN, "not a member", "c-2"))
    assert w.rules.deliver(refusal) == OK
    assert w.rules.deliver(other) is None   # no send of that id waits here: shown at once
    assert w.out.frames == []
    w.producer.records[0][1].set((0, 7))
    gevent.sleep(0)
    assert [(f["type"], f.get("ref") or f.get("clientMsgId")) for f in w.out.frames] == [("ack", "c-1"), ("error", "c-1")]
    assert w.rules.deliver(refusal) is None   # reported: later answers are not held


def test_an_answer_held_for_a_send_kafka_refused_follows_the_refusal(w):
    w.rules.send(Send(ROOM, "c-1", "hello"))
    w.rules.deliver(ServerEvent(contracts.error_event(contracts.ERR_FORBIDDEN, "not a member", "c-1")))
    w.producer.records[0][1].set_exception(RuntimeError("timed out"))
    gevent.sleep(0)
    assert [(f["type"], f["code"]) for f in w.out.frames] == [("error", contracts.ERR_UNAVAILABLE),
                                                              ("error", contracts.ERR_FORBIDDEN)]


def test_no_send_reaches_kafka_while_the_edge_drains(w):
    w.deps.state.accepting_sends = False
    w.rules.send(Send(ROOM, "c-1", "hello"))
    assert w.producer.records == []
    assert w.out.of("error")[0]["code"] == contracts.ERR_UNAVAILABLE


def test_typing_needs_a_subscription(w):
    w.rules.typing(Typing(ROOM))
    assert w.producer.records == [] and w.out.of("error")[0]["code"] == contracts.ERR_FORBIDDEN
    w.rules.subscribe(Subscribe(ROOM))
    w.rules.typing(Typing(ROOM))
    assert w.producer.kinds() == [contracts.RECORD_PRESENCE, contracts.RECORD_TYPING]


def test_subscribe_with_after_seq_catches_up_then_goes_live(w):
    w.history.add("one", "two")
    w.rules.subscribe(Subscribe(ROOM, after_seq=0))
    assert [f["body"] for f in w.out.of("message")] == ["one", "two"]
    assert w.out.of("subscribed")[0]["room"] == ROOM and (ROOM, "conn-1") in w.subs.entries
    w.rules.deliver(ServerEvent({"type": "message", "room": ROOM, "seq": 3, "messageId": f"{ROOM}:3",
                                 "senderId": "bob", "body": "three"}))
    assert [f["body"] for f in w.out.of("message")] == ["one", "two", "three"]
    assert w.out.later, "a new subscription re-reads the room once the workers' copies expired"


def test_a_stranger_is_refused_and_leaves_no_entry(w):
    w.rooms[ROOM].discard("alice")
    w.rules.subscribe(Subscribe(ROOM, after_seq=0))
    assert w.out.of("error")[0]["code"] == contracts.ERR_FORBIDDEN
    assert w.subs.entries == set() and w.rules.rooms == {} and w.producer.records == []


def test_an_unknown_room_is_named_as_such(w):
    w.rules.subscribe(Subscribe("no-such-room"))
    assert w.out.of("error")[0]["code"] == contracts.ERR_UNKNOWN_ROOM and w.rules.rooms == {}


def test_removal_ends_the_subscription_and_nothing_later_is_shown(w):
    w.rules.subscribe(Subscribe(ROOM))
    w.rules.deliver(ServerEvent({"type": contracts.EVENT_UNSUBSCRIBED, "room": ROOM,
                                 "reason": contracts.REASON_REMOVED}))
    assert w.out.of("unsubscribed")[-1] == {"type": "unsubscribed", "room": ROOM, "reason": "removed"}
    assert w.subs.entries == set() and ROOM not in w.rules.rooms
    w.rules.deliver(ServerEvent({"type": "message", "room": ROOM, "seq": 1, "messageId": f"{ROOM}:1", "body": "x"}))
    assert w.out.of("message") == []


def test_a_vanished_entry_comes_back_only_for_a_member(w):
    w.rules.subscribe(Subscribe(ROOM))
    w.subs.entries.clear()
    w.rules.restore_missing({ROOM})
    assert (ROOM, "conn-1") in w.subs.entries   # still a member: put back
    w.rooms[ROOM].discard("alice")
    w.subs.entries.clear()
    w.rules.restore_missing({ROOM})
    assert w.subs.entries == set() and ROOM not in w.rules.rooms
    assert w.out.of("unsubscribed")[-1]["reason"] == contracts.REASON_REMOVED


def test_unsubscribe_and_leaving_say_leave(w):
    w.rules.subscribe(Subscribe(ROOM))
    w.rules.unsubscribe(Unsubscribe(ROOM))
    assert w.out.of("unsubscribed")[-1]["room"] == ROOM and w.subs.entries == set()
    w.rules.subscribe(Subscribe(ROOM))
    assert w.rules.leave_all() == [ROOM] and w.rules.rooms == {}
    states = [r["state"] for r, _ in w.producer.records if r["type"] == contracts.RECORD_PRESENCE]
    assert states == ["join", "leave", "join"]
