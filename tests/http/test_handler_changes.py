"""PATCH/DELETE /rooms/{roomId}/messages/{seq} and POST .../reactions through the handler.

The producer is a stand-in (no Kafka here) that, when asked to, hands the record to the real
chat worker on the real store, the way the event source mapping would; everything else is real.
What the route does is checked through what it answers, what it produced, and the store."""

from __future__ import annotations

import base64
import itertools
from dataclasses import replace

import orjson
import pytest
from http_harness import Client, path

from functions import chat_worker, contracts
from functions.http.api import HttpApi
from functions.record_producer import ProduceError


class StandInProducer:
    """Records what is produced; `apply`: the chat worker handles each record at once (as
    `before` records first, to play a change that raced the check), so its commit passes."""

    def __init__(self, settings, ddb, apply: bool = True, fail: bool = False):
        self.settings, self.apply, self.fail = settings, apply, fail
        self.worker = chat_worker.make_handler(settings, client=ddb)
        self.offsets = itertools.count(0)
        self.produced: list[tuple[dict, str]] = []
        self.before: list[dict] = []

    def produce(self, record: dict, key: str) -> tuple[int, int]:
        if self.fail:
            raise ProduceError("broker down")
        self.produced.append((record, key))
        records = [*self.before, record]
        self.before = []
        offsets = [next(self.offsets) for _ in records]
        if self.apply:
            topic = self.settings.chat_topic
            self.worker({"eventSource": "SelfManagedKafka", "records": {f"{topic}-0": [
                {"topic": topic, "partition": 0, "offset": o, "timestamp": 0, "timestampType": "CREATE_TIME",
                 "key": base64.b64encode(key.encode()).decode(),
                 "value": base64.b64encode(orjson.dumps(r)).decode(), "headers": []}
                for o, r in zip(offsets, records)]}}, None)
        return 0, offsets[-1]


@pytest.fixture
def world(settings, ddb, uid, sender):
    """A room of alice (its creator) and bob, with alice's message 1 and bob's message 2, on a
    topic of this test's own (partition commits are shared by the store)."""
    mine = replace(settings, chat_topic=uid("http.changes"), http_change_wait_s=0.3)

    class World:
        producer = StandInProducer(mine, ddb)
        client = Client(HttpApi(mine, ddb, producer))
        alice, bob, eve = uid("alice"), uid("bob"), uid("eve")
        room = client.room(alice, {bob: "groomer"})
        settings = mine

        def message(self, seq):
            status, page = self.client.call("GET", path("rooms", self.room, "messages"), user=self.alice)
            return next(m for m in page["items"] if m["seq"] == seq)

    w = World()
    sender.send(w.room, w.alice)
    sender.send(w.room, w.bob, role="groomer")
    return w


def msg(w, seq, *rest):
    return path("rooms", w.room, "messages", str(seq), *rest)


def test_an_edit_is_produced_applied_by_the_worker_and_answered_with_the_new_state(world):
    w = world
    status, body = w.client.call("PATCH", msg(w, 1), user=w.alice, body={"content": "fixed", "clientMsgId": "e-1"})
    assert status == 200, body
    assert (body["body"], body["version"], body["seq"], body["senderId"]) == ("fixed", 2, 1, w.alice)
    [(record, key)] = w.producer.produced
    assert key == w.room
    assert record == {"v": 1, "type": contracts.RECORD_EDIT, "roomId": w.room, "senderId": w.alice,
                      "senderRole": "customer", "sentAt": record["sentAt"], "clientMsgId": "e-1",
                      "messageId": f"{w.room}:1", "body": "fixed"}
    assert w.message(1)["body"] == "fixed"
    # a resend with the same clientMsgId applies once: answered from the store, nothing produced
    status, again = w.client.call("PATCH", msg(w, 1), user=w.alice, body={"content": "fixed", "clientMsgId": "e-1"})
    assert (status, again["version"], len(w.producer.produced)) == (200, 2, 1)


def test_a_reaction_toggles_and_a_delete_leaves_a_tombstone(world):
    w = world
    status, body = w.client.call("POST", msg(w, 2, "reactions"), user=w.alice, body={"emoji": "👍"})
    assert (status, body["reactions"]) == (200, {"👍": [w.alice]})
    status, body = w.client.call("POST", msg(w, 2, "reactions"), user=w.alice, body={"emoji": "👍"})
    assert status == 200 and "reactions" not in body   # toggled off (a new clientMsgId each time)
    assert len({r["clientMsgId"] for r, _ in w.producer.produced}) == 2
    # the room's creator may delete anyone's message
    status, body = w.client.call("DELETE", msg(w, 2), user=w.alice, query={"clientMsgId": "d-1"})
    assert (status, body["deleted"], body["body"], body["deletedBy"]) == (200, True, None, w.alice)
    assert w.producer.produced[-1][0]["clientMsgId"] == "d-1" and "body" not in w.producer.produced[-1][0]


@pytest.mark.parametrize("method, seq, who, kwargs, status, code", [
    ("PATCH", 2, "alice", {"body": {"content": "mine now"}}, 403, "forbidden"),   # bob's message
    ("DELETE", 1, "bob", {}, 403, "forbidden"),           # neither alice's message's sender nor the creator
    ("PATCH", 9, "alice", {"body": {"content": "x"}}, 404, "not_found"),          # no such seq
    ("POST", 1, "alice", {"body": {"emoji": "👍👍"}}, 400, "bad_request"),         # not one emoji
    ("POST", 1, "alice", {"body": {"emoji": "no"}}, 400, "bad_request"),
    ("PATCH", 1, "alice", {"body": {"content": "  "}}, 400, "bad_request"),
    ("PATCH", 1, "alice", {"body": {"content": "x" * 8001}}, 413, "too_large"),
    ("PATCH", 1, "alice", {"body": {"content": "x", "extra": 1}}, 400, "bad_request"),
    ("PATCH", 1, "alice", {"body": {"content": "x", "clientMsgId": "a\n"}}, 400, "bad_request"),
    ("DELETE", 1, "alice", {"query": {"clientMsgId": "a b"}}, 400, "bad_request"),
    ("PATCH", 1, "alice", {"raw_body": "{"}, 400, "bad_frame"),
    ("PATCH", "0", "alice", {"body": {"content": "x"}}, 400, "bad_request"),
    ("PATCH", "01", "alice", {"body": {"content": "x"}}, 400, "bad_request"),
    ("PATCH", "1\n", "alice", {"body": {"content": "x"}}, 400, "bad_request"),
    ("PATCH", "1\r\n", "alice", {"body": {"content": "x"}}, 400, "bad_request"),
    ("PATCH", "1/../2", "alice", {"body": {"content": "x"}}, 400, "bad_request"),
])
def test_bad_input_is_refused_and_nothing_is_produced(world, method, seq, who, kwargs, status, code):
    w = world
    url = msg(w, seq, "reactions") if method == "POST" else msg(w, seq)
    answer = w.client.call(method, url, user=getattr(w, who), **kwargs)
    assert answer[0] == status and answer[1]["error"]["code"] == code, answer
    assert w.producer.produced == []
    assert w.message(1)["body"] == "message 1" and "version" not in w.message(1)


def test_non_members_unknown_rooms_and_tainted_room_ids(world, uid):
    w = world
    assert w.client.call("PATCH", msg(w, 1), user=w.eve, body={"content": "x"})[0] == 403
    assert w.client.call("DELETE", path("rooms", uid("room"), "messages", "1"), user=w.alice)[0] == 404
    assert w.client.call("DELETE", path("rooms", w.room + "\n", "messages", "1"), user=w.alice)[0] == 400
    assert w.producer.produced == []


def test_an_edit_after_the_window_is_too_late(world, ddb):
    w = world
    closed = Client(HttpApi(replace(w.settings, edit_window_s=0), ddb, w.producer))
    status, body = closed.call("PATCH", msg(w, 1), user=w.alice, body={"content": "late"})
    assert (status, body["error"]["code"]) == (409, "too_late")
    assert w.producer.produced == []


def test_not_stored_in_time_is_202_accepted(world):
    w = world
    w.producer.apply = False
    status, body = w.client.call("PATCH", msg(w, 1), user=w.alice, body={"content": "later", "clientMsgId": "slow"})
    assert (status, body) == (202, {"status": "accepted", "clientMsgId": "slow", "messageId": f"{w.room}:1"})


def test_kafka_not_taking_it_is_503_send_again(world):
    w = world
    w.producer.fail = True
    status, body = w.client.call("PATCH", msg(w, 1), user=w.alice, body={"content": "x"})
    assert (status, body["error"]["code"]) == (503, "unavailable") and "send again" in body["error"]["message"]


def test_a_change_the_worker_refused_after_the_check_names_why(world):
    """The message was deleted between the check and the worker (its record came first)."""
    w = world
    w.producer.before = [{"v": 1, "type": contracts.RECORD_DELETE, "roomId": w.room, "senderId": w.alice,
                          "senderRole": "customer", "sentAt": 1, "clientMsgId": "first", "messageId": f"{w.room}:1"}]
    status, body = w.client.call("PATCH", msg(w, 1), user=w.alice, body={"content": "too slow"})
    assert (status, body["error"]["code"]) == (404, "not_found") and "deleted" in body["error"]["message"]
    assert w.message(1)["deleted"] is True
