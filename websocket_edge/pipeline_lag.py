"""How far the chat worker is behind, as an edge sees it from Kafka alone.

Every `interval_s` the edge reads the chat topic's end offsets and the worker's consumer group
committed offsets (the local runner and Lambda's event source mapping both commit after a
batch is stored and delivered). From two readings in a row:
- lag: records produced and not yet handled, summed over partitions;
- drain: records the worker handled per second; ingest: records produced per second.
No store, no worker, no other edge is asked: this works the same locally and on MSK.

The Kafka calls block, so they run on gevent's native thread pool; the greenlet that asks
only waits for the answer (a dead broker costs a timeout there, never the hub). They are a
plain consumer's synchronous calls (watermarks, committed offsets), never the AdminClient's
futures: those are completed from librdkafka's own thread, and completing a monkey-patched
future there crashed the edge with SIGSEGV while a broker was down.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import gevent

from functions.settings import Settings

log = logging.getLogger("tidings.edge.lag")

SMOOTHING = 0.5      # weight of the newest reading in the drain and ingest rates
TIMEOUT_S = 5.0
FAILING_WARN_S = 30.0   # readings failing this long: say so (then once a half minute)


@dataclass(frozen=True)
class LagReading:
    lag: int = 0                 # records produced and not yet handled
    drain_per_s: float = 0.0     # records handled per second (smoothed)
    ingest_per_s: float = 0.0    # records produced per second (smoothed)
    at: float = 0.0              # monotonic time of the reading; 0: none yet

    @property
    def delay_s(self) -> float:
        """How long the backlog takes to drain at the current rate (inf when stalled)."""
        if self.lag <= 0:
            return 0.0
        return self.lag / self.drain_per_s if self.drain_per_s > 0 else float("inf")


def _reader_factory(settings: Settings):
    """A consumer that only reads offsets: it never subscribes, so it never joins the group."""
    from confluent_kafka import Consumer

    from websocket_edge.producer import producer_config

    config = {k: v for k, v in producer_config(settings).items()
              if k in ("bootstrap.servers", "security.protocol", "sasl.mechanism", "oauth_cb")}
    config.update({"client.id": f"tidings-{settings.edge_id}-lag", "group.id": settings.consumer_group,
                   "enable.auto.commit": False,
                   # librdkafka's own lines (a broker away: one per reconnect) stay quiet: this
                   # client reads on a native thread, and a failed reading is reported by the loop
                   "log_level": 2})
    return Consumer(config)


class PipelineLag:
    def __init__(self, settings: Settings, *, interval_s: float = 0.5,
                 reader_factory: Callable[[Settings], Any] = _reader_factory,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.interval_s = interval_s
        self._reader_factory = reader_factory
        self._reader = None
        self._clock = clock
        self._partitions: list[int] = []
        self._previous: tuple[float, int, int] | None = None   # (at, end sum, committed sum)
        self.reading = LagReading()
        self._listeners: list[Callable[[LagReading], None]] = []
        self._greenlet = None
        self._failing_since: float | None = None
        self._warned_at = 0.0

    def subscribe(self, listener: Callable[[LagReading], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> "PipelineLag":
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _loop(self) -> None:
        pool = gevent.get_hub().threadpool
        while True:
            started = self._clock()
            try:
                ends, committed = pool.spawn(self._offsets).get()
            except Exception as exc:  # noqa: BLE001 - a reading is skipped, the edge goes on
                self._partitions = []   # read the topic again next time (the client reconnects itself)
                if self._failing_since is None:
                    self._failing_since = started
                if started - self._failing_since > FAILING_WARN_S and started - self._warned_at > FAILING_WARN_S:
                    self._warned_at = started
                    log.warning("no lag reading for %.0f s (backpressure keeps its last state): %s",
                                started - self._failing_since, exc)
            else:
                self._failing_since = None
                self.update(started, ends, committed)
            gevent.sleep(max(0.0, self.interval_s - (self._clock() - started)))

    def update(self, at: float, ends: int, committed: int) -> LagReading:
        """A new pair of sums (from `_offsets`, or a test)."""
        drain = ingest = 0.0
        if self._previous is not None and at > self._previous[0]:
            elapsed = at - self._previous[0]
            new_ingest = max(0, ends - self._previous[1]) / elapsed
            new_drain = max(0, committed - self._previous[2]) / elapsed
            old = self.reading
            ingest = SMOOTHING * new_ingest + (1 - SMOOTHING) * old.ingest_per_s
            drain = SMOOTHING * new_drain + (1 - SMOOTHING) * old.drain_per_s
        self._previous = (at, ends, committed)
        self.reading = LagReading(max(0, ends - committed), drain, ingest, at)
        for listener in self._listeners:
            listener(self.reading)
        return self.reading

    # --- on a native thread ---------------------------------------------------------------------
    def _offsets(self) -> tuple[int, int]:
        """(sum of end offsets, sum of committed offsets) over the chat topic's partitions."""
        s = self.settings
        if self._reader is None:
            self._reader = self._reader_factory(s)
            self._partitions = []
        return self._sums(s)

    def _sums(self, s: Settings) -> tuple[int, int]:
        from confluent_kafka import TopicPartition

        reader = self._reader
        reader.poll(0)   # serves the token callback (MSK IAM), if any; never a message
        if not self._partitions:
            topic = reader.list_topics(s.chat_topic, timeout=TIMEOUT_S).topics.get(s.chat_topic)
            if topic is None or topic.error is not None or not topic.partitions:
                raise RuntimeError(f"topic {s.chat_topic} not found")
            self._partitions = sorted(topic.partitions)
        parts = [TopicPartition(s.chat_topic, p) for p in self._partitions]
        committed = {tp.partition: tp.offset for tp in reader.committed(parts, timeout=TIMEOUT_S)}
        end_sum = committed_sum = 0
        for tp in parts:
            start, end = reader.get_watermark_offsets(tp, timeout=TIMEOUT_S, cached=False)
            done = committed.get(tp.partition, -1)
            end_sum += end
            committed_sum += done if done >= 0 else start   # nothing committed: from the start
        return end_sum, committed_sum
