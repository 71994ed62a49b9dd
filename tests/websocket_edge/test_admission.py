"""Backpressure, unit level: the lag arithmetic and the admission control (no Kafka, no sockets).
End to end it is measured by `invoke loadtest` (BENCHMARKS.md), never timed here."""

from __future__ import annotations

import gevent
import pytest

from functions.settings import Settings
from websocket_edge.admission import ADMIT_FRACTION, MIN_LAG, MIN_RATE, Admission
from websocket_edge.pipeline_lag import LagReading, PipelineLag


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_lag_drain_and_ingest_come_from_two_readings():
    lag = PipelineLag(Settings(), reader_factory=lambda s: None)
    seen = []
    lag.subscribe(seen.append)
    first = lag.update(10.0, ends=1000, committed=400)
    assert (first.lag, first.drain_per_s, first.ingest_per_s) == (600, 0.0, 0.0)
    second = lag.update(11.0, ends=1600, committed=700)   # +600 produced, +300 handled in 1 s
    assert second.lag == 900
    assert second.ingest_per_s == pytest.approx(300.0) and second.drain_per_s == pytest.approx(150.0)
    assert second.delay_s == pytest.approx(6.0)
    assert seen == [first, second]
    assert LagReading(lag=5, drain_per_s=0).delay_s == float("inf") and LagReading().delay_s == 0.0


def _admission(**changes):
    windows = []
    settings = Settings(**{"backpressure_delay_s": 2.0, "backpressure_max_hold_s": 0.5, "flow_window": 16,
                           **changes})
    return Admission(settings, clock=Clock(), on_window=windows.append), windows


def test_sends_go_straight_through_while_the_pipeline_keeps_up():
    admission, windows = _admission()
    admission.on_reading(LagReading(lag=100, drain_per_s=1000, ingest_per_s=1000, at=1.0))
    assert admission.rate is None and admission.window == 16 and windows == []
    assert admission.admit() == 0.0
    # a small backlog with nothing drained in the last moment (a worker restarting) is no reason
    admission.on_reading(LagReading(lag=MIN_LAG - 1, drain_per_s=0, ingest_per_s=50, at=2.0))
    assert admission.rate is None and windows == []


def test_a_long_backlog_limits_this_edge_to_its_share_of_the_drain():
    admission, windows = _admission()
    admission.on_reading(LagReading(at=1.0))
    for _ in range(300):   # this edge produced 300 of the 1,000 records in the last second
        admission._produced += 1
    admission.on_reading(LagReading(lag=5000, drain_per_s=1000, ingest_per_s=1000, at=2.0))
    assert admission.rate == pytest.approx(ADMIT_FRACTION * 1000 * 0.3)
    assert admission.window == 1 and windows == [1]
    # caught up to under half the delay: open again, and clients are told
    admission.on_reading(LagReading(lag=500, drain_per_s=1000, ingest_per_s=1000, at=3.0))
    assert admission.rate is None and windows == [1, 16]


def test_a_stalled_worker_still_gets_the_minimum_and_holds_are_bounded():
    admission, _ = _admission()
    admission.on_reading(LagReading(lag=5000, drain_per_s=0, ingest_per_s=500, at=1.0))
    assert admission.rate == MIN_RATE
    admission._tokens = 0.0
    waited = [gevent.spawn(admission.admit) for _ in range(50)]
    gevent.joinall(waited, timeout=5)
    assert all(g.successful() for g in waited)   # nobody waits past max_hold
    assert admission.held > 0


def test_held_sends_are_released_in_order_when_the_backlog_clears():
    admission, _ = _admission(backpressure_max_hold_s=10.0)
    admission.on_reading(LagReading(lag=5000, drain_per_s=1, ingest_per_s=1, at=1.0))
    admission._tokens, admission.rate = 0.0, 1e-9   # nothing would be admitted on its own
    order = []

    def send(n):
        admission.admit()
        order.append(n)

    waiting = [gevent.spawn(send, n) for n in range(5)]
    gevent.sleep(0.05)
    assert order == []
    admission.on_reading(LagReading(lag=0, drain_per_s=100, ingest_per_s=0, at=2.0))
    gevent.joinall(waiting, timeout=5)
    assert order == [0, 1, 2, 3, 4]


def test_backpressure_can_be_turned_off():
    admission, windows = _admission()
    admission.delay_s = 0
    admission.on_reading(LagReading(lag=10**6, drain_per_s=1, ingest_per_s=1, at=1.0))
    assert admission.rate is None and windows == []


def test_stopping_releases_the_held_sends_at_once():
    admission, _ = _admission(backpressure_max_hold_s=30.0)
    admission.on_reading(LagReading(lag=5000, drain_per_s=1, ingest_per_s=1, at=1.0))
    admission._tokens, admission.rate = 0.0, 1e-9
    held = [gevent.spawn(admission.admit) for _ in range(3)]
    gevent.sleep(0.05)
    assert not any(g.ready() for g in held)
    admission.release_all()
    gevent.joinall(held, timeout=2)
    assert all(g.successful() for g in held)
    admission.on_reading(LagReading(lag=10**6, drain_per_s=1, ingest_per_s=1, at=2.0))
    assert admission.rate is None   # and it stays open while stopping


@pytest.mark.stack
def test_lag_reading_against_the_broker(stack_settings):
    """The reader's sums are the topic's end offsets and the group's commits (or the start)."""
    import dataclasses
    import uuid

    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"lag-{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(stack_settings, chat_topic=name, consumer_group=f"{name}-group")
    bootstrap = {"bootstrap.servers": settings.kafka_bootstrap}
    admin = AdminClient(bootstrap)   # kept alive until its future is done
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    producer = Producer(bootstrap)
    for i in range(5):
        producer.produce(name, b"x", partition=0)
    for i in range(3):
        producer.produce(name, b"y", partition=1)
    assert producer.flush(30) == 0
    lag = PipelineLag(settings)
    try:
        assert lag._offsets() == (8, 0)   # nothing committed: every record is behind
        committer = Consumer({**bootstrap, "group.id": settings.consumer_group, "enable.auto.commit": False})
        committer.commit(offsets=[TopicPartition(name, 0, 2)], asynchronous=False)
        committer.close()
        assert lag._offsets() == (8, 2)   # partition 0 handled up to 2, partition 1 from its start
        reading = lag.update(1.0, *lag._offsets())
        assert reading.lag == 6
    finally:
        lag.stop()


def test_the_open_window_shares_the_budget_among_the_connections():
    admission, windows = _admission(flow_budget=100)
    admission.set_connections(5)
    assert admission.window == 16 and windows == []      # 5 x 16 is within 100
    admission.set_connections(10)
    assert admission.window == 10 and windows == [10]    # 10 connections share 100
    admission.set_connections(1000)
    assert admission.window == 1 and windows == [10, 1]  # never below 1
    # holding back says 1 whatever the budget; caught up, the budget's window again
    admission.on_reading(LagReading(lag=5000, drain_per_s=100, ingest_per_s=100, at=1.0))
    admission.set_connections(20)
    assert admission.window == 1
    admission.on_reading(LagReading(lag=10, drain_per_s=100, ingest_per_s=100, at=2.0))
    assert admission.window == 5 and windows[-1] == 5
    admission.set_connections(0)
    assert admission.window == 16


def test_no_budget_keeps_the_configured_window():
    admission, windows = _admission(flow_budget=0)
    admission.set_connections(100_000)
    assert admission.window == 16 and windows == []
