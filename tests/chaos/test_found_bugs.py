"""Product bugs the chaos scenarios found, each shown by the smallest test that fails.

They are ``xfail(strict=True)``: the day the owner fixes one, its test passes, strict turns
that into a failure, and the marker (and the one on the chaos scenario) comes off.
"""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from functions.settings import Settings
from local.esm import EventSourceMapping


class _Msg:
    def __init__(self, offset: int):
        self._offset = offset

    def topic(self): return "tidings.chat"
    def partition(self): return 0
    def offset(self): return self._offset
    def key(self): return b"room-1"
    def value(self): return b"{}"
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

    def subscribe(self, topics): pass
    def close(self): pass

    def consume(self, num_messages, timeout):
        if self.batches:
            return self.batches.pop(0)[:num_messages]
        self.stopping.set()
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


@pytest.mark.xfail(strict=True, raises=KafkaException, reason=(
    "local/esm.py: a failed offset commit (broker restarting) escapes EventSourceMapping.run(), "
    "so the ESM process exits and stays down; seen in test_kill.py::test_acked_messages_survive_kill_9[kafka]"))
def test_esm_keeps_consuming_when_a_commit_fails_during_a_broker_restart():
    handled = []
    stopping = threading.Event()
    consumer = _BrokerRestartingConsumer(stopping)
    esm = EventSourceMapping(Settings(), lambda event, context: handled.append(event) or {"batchItemFailures": []},
                             sleep=lambda s: None, consumer=consumer, dlq=_Dlq())
    esm.stopping = stopping
    esm.run()   # the bug: KafkaException(_WAIT_COORD) comes out of here and ends the process
    assert len(handled) >= 1
    # Nothing is lost either way: the batch whose commit failed is handled again (the
    # worker is idempotent) or its commit is retried; the runner must simply go on.
    assert consumer.committed and consumer.committed[-1] == [(0, 2)]
