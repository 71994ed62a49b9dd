"""websocket_edge.producer with a stand-in librdkafka client (unit level; real Kafka: test_send.py).

The stand-in behaves as confluent-kafka documents: `produce` queues, raises BufferError past
its capacity, and delivery callbacks run only inside `poll()`.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import gevent
import pytest

from functions.settings import Settings
from websocket_edge import producer as producer_mod
from websocket_edge.metrics import EdgeMetrics
from websocket_edge.producer import ProduceError, Producer, ProducerConfigError, producer_config
from kafka_reports import Err, Msg


class StandIn:
    instances: list["StandIn"] = []

    def __init__(self, config, capacity=3):
        self.config = config
        self.capacity = capacity
        self.queued = []          # (value, key, headers, callback)
        self.answer = None        # None: keep; "ok" / Err: deliver on poll
        self.offset = 0
        self.polls = 0
        self.purged = False
        StandIn.instances.append(self)

    def produce(self, topic, value, key, headers, on_delivery):
        if len(self.queued) >= self.capacity:
            raise BufferError("Local: Queue full")
        self.queued.append((value, key, headers, on_delivery))

    def poll(self, timeout):
        assert timeout == 0, "poll with a timeout would block the hub"
        self.polls += 1
        if self.answer is None or not self.queued:
            return 0
        served, self.queued = self.queued, []
        for _, _, _, cb in served:
            if self.answer == "ok":
                cb(None, Msg(1, self.offset))
                self.offset += 1
            else:
                cb(self.answer, None)
        return len(served)

    def purge(self, **kwargs):
        self.purged = True

    def __len__(self):
        return len(self.queued)


def wait_until(condition, timeout: float = 5.0) -> None:
    """Let the other greenlets (the poller) run until condition() holds or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        gevent.sleep(0.001)


@pytest.fixture
def make():
    StandIn.instances = []
    made = []

    def build(**changes):
        settings = dataclasses.replace(Settings(), **changes)
        p = Producer(settings, factory=StandIn, metrics=EdgeMetrics()).start()
        made.append(p)
        return p

    yield build
    for p in made:
        p.close()


def test_config_is_idempotent_acks_all():
    config = producer_config(Settings())
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["compression.type"] in ("lz4", "zstd") and config["linger.ms"] <= 10
    assert config["message.timeout.ms"] == int(Settings().produce_timeout_s * 1000)


def test_iam_without_the_signer_is_a_clear_startup_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", None)   # as if not installed
    with pytest.raises(ProducerConfigError, match="aws-msk-iam-sasl-signer-python"):
        producer_config(Settings(kafka_security="iam"))


def test_publish_resolves_from_the_report_only(make):
    p = make()
    client = StandIn.instances[0]
    result = p.publish({"type": "chat.send", "roomId": "r"}, "r")
    value, key, headers, _ = client.queued[0]
    assert key == b"r" and b'"roomId":"r"' in value
    assert dict(headers)["tidings-schema"] == b"1"
    polled = client.polls
    wait_until(lambda: client.polls >= polled + 2)   # the poller looked for a report twice
    assert not result.ready()        # no report, no answer
    client.answer = "ok"
    assert result.get(timeout=1) == (1, 0)
    assert p.pending == 0


def test_metrics_count_reports_and_show_what_waits(make):
    p = make()
    registry = p._metrics.registry
    client = StandIn.instances[0]
    for _ in range(2):
        p.publish({"type": "chat.send", "roomId": "r"}, "r")
    assert registry.get_sample_value("tidings_edge_producer_queue") == 2   # read when scraped
    client.answer = "ok"
    wait_until(lambda: p.pending == 0)
    assert registry.get_sample_value("tidings_edge_producer_queue") == 0
    assert registry.get_sample_value("tidings_edge_produced_total", {"type": "chat.send", "outcome": "ok"}) == 2
    assert registry.get_sample_value("tidings_edge_produce_seconds_count") == 2


def test_error_report_is_a_produce_error(make):
    p = make()
    StandIn.instances[0].answer = Err("Local: Message timed out")
    with pytest.raises(ProduceError, match="timed out"):
        p.publish({"type": "chat.send"}, "r").get(timeout=1)


def test_full_queue_waits_cooperatively_then_gives_up(make):
    p = make(produce_timeout_s=0.3)
    client = StandIn.instances[0]
    results = [p.publish({"n": i}, "r") for i in range(3)]
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(100)])
    started = time.monotonic()
    late = p.publish({"n": 3}, "r")   # BufferError: waits (the hub keeps running), then fails
    assert 0.25 < time.monotonic() - started < 1.0
    assert len(ticks) > 10
    with pytest.raises(ProduceError, match="queue full"):
        late.get(timeout=0)
    client.answer = "ok"
    assert [r.get(timeout=1)[1] for r in results] == [0, 1, 2]
    ticker.kill()


def test_full_queue_recovers_when_the_poller_drains(make):
    p = make()
    client = StandIn.instances[0]
    [p.publish({"n": i}, "r") for i in range(3)]
    gevent.spawn_later(0.05, setattr, client, "answer", "ok")
    assert p.publish({"n": 3}, "r").get(timeout=2) == (1, 3)


def test_drain_fails_the_stragglers(make):
    p = make()
    result = p.publish({"n": 1}, "r")
    started = time.monotonic()
    assert p.drain(time.monotonic() + 0.2) is False
    assert time.monotonic() - started < 1
    with pytest.raises(ProduceError, match="shutting down"):
        result.get(timeout=0)


def test_drain_waits_for_reports(make):
    p = make()
    result = p.publish({"n": 1}, "r")
    gevent.spawn_later(0.05, setattr, StandIn.instances[0], "answer", "ok")
    assert p.drain(time.monotonic() + 2) is True
    assert result.ready() and result.successful()


def test_fatal_error_replaces_the_client(make):
    p = make()
    first = StandIn.instances[0]
    pending = p.publish({"n": 1}, "r")
    p._on_error(Err("Broker: fenced", fatal=True))
    wait_until(pending.ready)        # the poller's next turn fails what was pending and replaces the client
    with pytest.raises(ProduceError, match="reset"):
        pending.get(timeout=0)
    assert len(StandIn.instances) == 2 and p._client is StandIn.instances[1]
    gevent.get_hub().threadpool.join()
    assert first.purged
    StandIn.instances[1].answer = "ok"
    assert p.publish({"n": 2}, "r").get(timeout=1) == (1, 0)


def test_closed_producer_refuses(make):
    p = make()
    p.close()
    with pytest.raises(ProduceError):
        p.publish({"n": 1}, "r").get(timeout=0)


def test_factory_failure_is_retried(monkeypatch):
    calls = []

    def flaky(config):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("bootstrap unresolvable")
        return StandIn(config)

    p = Producer(Settings(), factory=flaky).start()
    try:
        with pytest.raises(ProduceError, match="not available"):
            p.publish({"n": 1}, "r").get(timeout=0)
        wait_until(lambda: p._client is not None)   # the poller retries the factory
        assert p._client is not None
    finally:
        p.close()


def test_module_never_calls_blocking_kafka_apis():
    source = open(producer_mod.__file__).read()
    assert ".flush(" not in source and ".close()" not in source.replace("p.close()", "")
    assert "poll(0)" in source
