"""functions/record_producer.py with a stand-in librdkafka client: (partition, offset) only from
the delivery report, ProduceError for everything else, a fresh client after a fatal error."""

from __future__ import annotations

import pytest

from functions import contracts
from functions.record_producer import ProduceError, RecordProducer
from functions.settings import Settings
from kafka_reports import Err, Msg


class StandIn:
    """A confluent_kafka.Producer: reports come from poll(), after `polls_before_report` polls."""

    def __init__(self, config, report=None, polls_before_report=2, raise_on_produce=None):
        self.config, self.report, self.wait = config, report, polls_before_report
        self.raise_on_produce = raise_on_produce
        self.queued, self.polls = [], 0
        self.on_poll = None   # what else happens in a poll (librdkafka's error callback)

    def produce(self, topic, value, key, headers, on_delivery):
        if self.raise_on_produce is not None:
            raise self.raise_on_produce
        self.queued.append((topic, value, key, headers, on_delivery))

    def poll(self, timeout):
        self.polls += 1
        if self.on_poll is not None:
            self.on_poll()
        if self.polls > self.wait and self.queued and self.report is not None:
            *_, callback = self.queued.pop(0)
            callback(*self.report)
        return 0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.05   # each look at the clock: one poll's worth of time
        return self.now


def make(report=None, **kw):
    made = []

    def factory(config):
        made.append(StandIn(config, report, **kw))
        return made[-1]
    settings = Settings(produce_timeout_s=2.0, chat_topic="t.chat")
    return RecordProducer(settings, factory=factory, clock=Clock()), made


def test_the_offset_comes_from_the_delivery_report():
    producer, made = make((None, Msg(2, 41)))
    assert producer.produce({"type": "chat.edit", "roomId": "r1"}, "r1") == (2, 41)
    [client] = made
    assert client.polls == 3   # polled until the report came, not a fixed wait
    config = client.config
    assert (config["acks"], config["enable.idempotence"], config["client.id"]) == ("all", True, "tidings-http-api")
    assert producer.produce({"type": "chat.edit", "roomId": "r1"}, "r1") == (2, 41)
    assert len(made) == 1   # one client per warm container


def test_record_key_topic_and_headers():
    producer, made = make((None, Msg(0, 1)), polls_before_report=10**9)
    with pytest.raises(ProduceError, match="no delivery report in time"):
        producer.produce({"type": "chat.edit", "roomId": "r1"}, "r1")
    topic, value, key, headers, _ = made[0].queued[0]
    assert (topic, key, contracts.decode(value)) == ("t.chat", b"r1", {"type": "chat.edit", "roomId": "r1"})
    assert dict(headers) == {contracts.HEADER_SCHEMA: b"1", contracts.HEADER_EDGE: b"http-api"}


@pytest.mark.parametrize("raised, message", [(BufferError(), "queue full"), (ValueError("too large"), "too large")])
def test_a_refused_produce_is_a_produce_error(raised, message):
    producer, _ = make(raise_on_produce=raised)
    with pytest.raises(ProduceError, match=message):
        producer.produce({"roomId": "r1"}, "r1")


def test_a_failed_report_is_a_produce_error():
    producer, _ = make((Err("Broker: Not enough in-sync replicas"), None))
    with pytest.raises(ProduceError, match="in-sync"):
        producer.produce({"roomId": "r1"}, "r1")


def test_a_fatal_error_fails_the_call_and_the_next_one_gets_a_fresh_client():
    producer, made = make((None, Msg(1, 9)), polls_before_report=10**9)
    producer._producer().on_poll = lambda: producer._on_error(Err("idempotence broken", fatal=True))
    with pytest.raises(ProduceError, match="idempotence broken"):
        producer.produce({"roomId": "r1"}, "r1")
    assert len(made) == 1
    made_before = len(made)
    producer._factory = lambda config: made.append(StandIn(config, (None, Msg(1, 9)), 0)) or made[-1]
    assert producer.produce({"roomId": "r1"}, "r1") == (1, 9) and len(made) == made_before + 1


def test_a_producer_that_cannot_be_built_is_a_produce_error():
    def factory(config):
        raise RuntimeError("no such host")
    producer = RecordProducer(Settings(), factory=factory)
    with pytest.raises(ProduceError, match="producer not available: no such host"):
        producer.produce({"roomId": "r1"}, "r1")
