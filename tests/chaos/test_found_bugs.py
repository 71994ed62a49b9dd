"""Product bugs the chaos scenarios (test_kill.py) found, each shown by the smallest test.

An open bug is ``xfail(strict=True)``: the day its owner fixes it, the test passes, strict
turns that into a failure, and the marker (and the one on its chaos scenario) comes off.
A fixed bug keeps its test, unmarked, as a regression test.
"""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import pytest
from confluent_kafka import KafkaError, KafkaException

from functions import contracts
from functions.chat_worker import ChatWorker
from functions.rooms import Rooms
from functions.settings import Settings
from functions.store import Store
from functions.tokens import mint
from local.demo.client import ChatClient
from local.emulators.esm import EventSourceMapping
from local.emulators.esm_event import build_event


class _Msg:
    """What confluent-kafka's Message offers to the runner and to build_event()."""

    def __init__(self, offset: int, value: bytes = b"{}", key: bytes = b"room-1", topic: str = "tidings.chat"):
        self._offset, self._value, self._key, self._topic = offset, value, key, topic

    def topic(self): return self._topic
    def partition(self): return 0
    def offset(self): return self._offset
    def key(self): return self._key
    def value(self): return self._value
    def headers(self): return []
    def timestamp(self): return (1, 1_700_000_000_000)
    def error(self): return None


class _BrokerRestartingConsumer:
    """Hands out one batch; the commit of it fails the way librdkafka fails a synchronous
    commit while the broker (the group coordinator) is down; later commits succeed."""

    def __init__(self, stopping: threading.Event):
        self.stopping = stopping
        self.batches = [[_Msg(0), _Msg(1)], [_Msg(0), _Msg(1)]]   # the uncommitted batch comes again
        self.commit_calls = 0
        self.committed = []

    def subscribe(self, topics, **callbacks): pass
    def close(self): pass

    def consume(self, num_messages, timeout):
        if self.batches:
            return self.batches.pop(0)[:num_messages]
        if self.committed:   # batches are handled on their partition's lane: stop once one committed
            self.stopping.set()
        time.sleep(0.001)
        return []

    def poll(self, timeout):   # the runner's "window 0" mode: the first record, then consume()
        if self.batches and len(self.batches[0]) > 1:
            return self.batches[0].pop(0)
        got = self.consume(1, timeout)
        return got[0] if got else None

    def commit(self, offsets, asynchronous=True):
        self.commit_calls += 1
        if self.commit_calls == 1:
            raise KafkaException(KafkaError(KafkaError._WAIT_COORD, "Commit failed: Local: Waiting for coordinator"))
        self.committed.append([(tp.partition, tp.offset) for tp in offsets])


class _Dlq:
    def produce(self, *args, **kwargs): pass
    def flush(self, timeout=None): return 0


# Fixed in 03912b3 (local/emulators/esm.py now waits out a failed commit). Found by the kafka scenario:
# a synchronous commit failing with _WAIT_COORD or UNKNOWN_MEMBER_ID while the broker restarted
# escaped EventSourceMapping.run(), the runner process exited, and nothing was stored until
# someone restarted it by hand.
def test_esm_keeps_consuming_when_a_commit_fails_during_a_broker_restart():
    handled = []
    stopping = threading.Event()
    consumer = _BrokerRestartingConsumer(stopping)
    esm = EventSourceMapping(Settings(), lambda event, context: handled.append(event) or {"batchItemFailures": []},
                             sleep=lambda s: None, consumer=consumer, dlq=_Dlq())
    esm.stopping = stopping
    esm.run()   # the bug was: KafkaException(_WAIT_COORD) came out of here and ended the process
    offsets = [record["offset"] for event in handled for record in event["records"]["tidings.chat-0"]]
    assert offsets[:2] == [0, 1]   # the batch the consumer handed out, in order
    # Nothing is lost either way: the batch whose commit failed is handled again (the
    # worker is idempotent) or its commit is retried; the runner must simply go on.
    assert consumer.committed and consumer.committed[-1] == [(0, 2)]


class _GatedStore(Store):
    """The real store, except that the first batch_write waits until the test opens the gate:
    the worker has read the room (with its subscribers) and has not written the message yet."""

    def __init__(self, settings):
        super().__init__(settings)
        self.reached, self.gate = threading.Event(), threading.Event()

    def batch_write(self, *args, **kwargs):
        if not self.gate.is_set():
            self.reached.set()
            assert self.gate.wait(30), "the test never opened the gate"
        return super().batch_write(*args, **kwargs)


# Fixed in 65b70f1 (the worker reads the subscribers after it stores; the edge fills a live
# seq jump from the store). Found by the edge-a scenario: a member that reconnected with
# afterSeq while a batch was in flight never got that batch (a hole in its seqs). The gate
# holds the worker between its read of the room and its write, which forces the interleaving.
def test_a_member_subscribing_while_a_batch_is_in_flight_gets_every_message(local_stack):
    settings = local_stack.settings
    tag = uuid.uuid4().hex[:8]
    room, alice, bob = f"race-{tag}", f"alice-{tag}", f"bob-{tag}"
    Rooms(settings).create(room, "race", alice, {alice: "customer", bob: "groomer"})
    endpoints = local_stack.endpoints()
    edge_a = endpoints["edge-a"]["delivery"]

    def record(offset: int, n: int) -> _Msg:   # what edge-a would produce for alice
        value = {"v": contracts.SCHEMA_VERSION, "type": contracts.RECORD_SEND, "roomId": room,
                 "clientMsgId": f"m{n}-{tag}", "senderId": alice, "senderRole": "customer", "body": f"#{n}",
                 "sentAt": int(time.time() * 1000), "connectionId": f"gone-{tag}", "edgeUrl": edge_a}
        return _Msg(offset, orjson.dumps(value), room.encode(), topic=f"chaos-race-{tag}")

    store = _GatedStore(settings)
    worker = ChatWorker(settings, store=store)
    first = threading.Thread(target=worker, args=(build_event([record(0, 1)], settings.kafka_bootstrap),))
    first.start()
    assert store.reached.wait(30)                   # message 1 read the room, not written yet
    client = ChatClient(endpoints["edge-b"]["websocket"], mint(settings, bob, "groomer"))
    try:
        assert client.subscribe(room, after_seq=0)["type"] == "subscribed"   # catch-up: nothing yet
        store.gate.set()
        first.join(30)                              # message 1 stored as seq 1
        worker(build_event([record(1, 2)], settings.kafka_bootstrap))    # message 2: seq 2
        got = []
        try:
            got = client.wait_messages(room, 2, timeout=5)
        except TimeoutError:
            got = client.messages(room)
        assert [m["seq"] for m in got] == [1, 2], f"bob got seqs {[m['seq'] for m in got]} of 1..2"
    finally:
        client.close()
