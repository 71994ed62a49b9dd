"""The edge's Kafka producer, made safe for one gevent hub.

confluent-kafka runs delivery callbacks inside `poll()`/`flush()` on the calling thread, and
any `poll(t>0)`, `flush()` or `close()` would freeze every socket of the worker. So:
- ONE poller greenlet calls `poll(0)` and sleeps a few ms when idle; delivery callbacks run
  there and only resolve an `AsyncResult` (never block);
- `publish(record, key)` returns that `AsyncResult` at once: `(partition, offset)` once the
  broker has the record (acks=all, idempotent), or a `ProduceError`. Acks to clients are sent
  from it, never earlier;
- a full local queue (`BufferError`) is waited out cooperatively, up to the produce timeout;
- `drain(deadline)` polls until every record has its report, then fails the stragglers, so
  every accepted message is acked or errored;
- a fatal producer error (idempotence broken) or a producer that cannot be built (broker
  address unresolvable) fails the pending records and builds a fresh producer: a broker
  outage costs errors, never the edge.

The configuration (acks, idempotence, MSK IAM auth) is functions/kafka_client.py's, shared
with the HTTP API's producer; without the IAM signer installed the edge refuses to start.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import gevent
from gevent.event import AsyncResult, Event

from functions import contracts, kafka_client
from functions.kafka_client import ProducerConfigError
from functions.settings import Settings

__all__ = ["ProduceError", "Producer", "ProducerConfigError", "producer_config"]

log = logging.getLogger("tidings.edge.producer")

_IDLE_SLEEP_S = 0.005
_BUFFER_SLEEP_S = 0.01
_ERROR_LOG_EVERY_S = 30.0


class ProduceError(Exception):
    """The record was not accepted by Kafka (timeout, broker down, too large...)."""

    def __init__(self, message: str, retriable: bool = True):
        super().__init__(message)
        self.retriable = retriable


def producer_config(settings: Settings) -> dict[str, Any]:
    """The edge's producer: functions.kafka_client's one configuration, named after the edge."""
    return kafka_client.producer_config(settings, f"tidings-{settings.edge_id}",
                                        logging.getLogger("tidings.edge.kafka"))


class Producer:
    def __init__(self, settings: Settings, *, factory: Callable[[dict], Any] = kafka_client.new_producer,
                 metrics=None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._factory = factory
        self._metrics = metrics
        if metrics is not None:   # read when scraped, not set on every record
            metrics.producer_queue.set_function(lambda: len(self._pending))
        self._clock = clock
        self._config = producer_config(settings)   # raises ProducerConfigError early
        self._config["error_cb"] = self._on_error
        self._client = None
        self._fatal: str | None = None
        self._pending: set[AsyncResult] = set()
        self._stop = Event()
        self._poller = None
        self._headers = [(contracts.HEADER_SCHEMA, str(contracts.SCHEMA_VERSION).encode()),
                         (contracts.HEADER_EDGE, settings.edge_id.encode())]
        self.last_error: str | None = None
        self._last_logged = 0.0

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> "Producer":
        if self._poller is None:
            self._ensure_client()
            self._poller = gevent.spawn(self._poll_loop)
        return self

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _ensure_client(self):
        if self._client is None:
            try:
                self._client = self._factory(dict(self._config))
            except Exception as exc:  # e.g. KafkaException for a config the broker side refuses
                self.last_error = f"producer not available: {exc}"
                log.warning("kafka producer could not be built: %s", exc)
                return None
        return self._client

    def _on_error(self, err) -> None:   # runs in the poller greenlet
        text = str(err)
        if kafka_client.is_fatal(err):
            self._fatal = text
            log.error("kafka producer fatal error: %s", text)
        elif text != self.last_error or self._clock() - self._last_logged > _ERROR_LOG_EVERY_S:
            log.warning("kafka: %s", text)   # a down broker repeats this every reconnect: say it once
            self._last_logged = self._clock()
        self.last_error = text

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            client = self._client
            served = 0
            if client is not None:
                try:
                    served = client.poll(0)   # never a timeout: it would block the hub
                except Exception:
                    log.exception("producer poll failed")
            if self._fatal is not None:
                self._replace_client()
            elif client is None:
                self._ensure_client()
            gevent.sleep(0 if served else _IDLE_SLEEP_S)

    def _replace_client(self) -> None:
        reason, self._fatal = self._fatal, None
        old, self._client = self._client, None
        self._fail_all(f"producer reset: {reason}")
        if old is not None:
            # Destroying a client joins librdkafka threads: do it off the hub.
            gevent.get_hub().threadpool.spawn(_destroy, [old])
        self._ensure_client()

    def _fail_all(self, message: str) -> None:
        pending, self._pending = self._pending, set()
        for result in pending:
            if not result.ready():
                result.set_exception(ProduceError(message))

    # --- producing ------------------------------------------------------------------------
    def publish(self, record: dict, key: str | None = None) -> AsyncResult:
        """Produce `record` (JSON) keyed by `key` (default: its roomId, so one room is one
        partition). Resolves from the delivery report: (partition, offset) or ProduceError."""
        key = record.get("roomId", "") if key is None else key
        result = AsyncResult()
        started = self._clock()
        kind = record.get("type", "?")
        value = contracts.encode(record)
        metrics = self._metrics

        def on_delivery(err, msg, result=result):   # in the poller greenlet: keep it tiny
            self._pending.discard(result)
            if result.ready():
                return
            if err is not None:
                result.set_exception(ProduceError(str(err), bool(getattr(err, "retriable", lambda: True)())))
                outcome = "error"
            else:
                result.set((msg.partition(), msg.offset()))
                outcome = "ok"
            if metrics is not None:
                metrics.produced_of(kind, outcome).inc()
                metrics.produce_latency.observe(self._clock() - started)

        deadline = started + self.settings.produce_timeout_s
        while True:
            client = self._client
            if client is None or self._stop.is_set():
                result.set_exception(ProduceError(self.last_error or "producer not available"))
                break
            try:
                client.produce(self.settings.chat_topic, value=value, key=key.encode(),
                               headers=self._headers, on_delivery=on_delivery)
            except BufferError:
                if self._clock() >= deadline:
                    result.set_exception(ProduceError("local producer queue full"))
                    break
                gevent.sleep(_BUFFER_SLEEP_S)   # the poller frees room meanwhile
                continue
            except Exception as exc:   # KafkaException: message too large, fatal state...
                result.set_exception(ProduceError(str(exc), retriable=False))
                break
            self._pending.add(result)
            break
        if result.ready() and metrics is not None:
            metrics.produced_of(kind, "refused").inc()
        return result

    # --- stopping -------------------------------------------------------------------------
    def drain(self, deadline: float) -> bool:
        """Poll (cooperatively) until every record has its report or `deadline` (monotonic)
        passes; then the rest fail. True if nothing had to be failed."""
        while self._pending and self._clock() < deadline:
            if self._poller is None and self._client is not None:
                self._client.poll(0)
            gevent.sleep(0.01)
        if self._pending:
            self._fail_all("edge shutting down before the broker answered")
            return False
        return True

    def close(self, deadline: float | None = None) -> None:
        if deadline is not None:
            self.drain(deadline)
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=1.0)
        self._fail_all("producer closed")
        holder, self._client = [self._client], None
        if holder[0] is not None:
            gevent.get_hub().threadpool.spawn(_destroy, holder)


def _destroy(holder: list) -> None:
    """Drop a client in a worker thread: librdkafka's destroy joins its threads."""
    client = holder.pop()
    try:
        client.purge(in_queue=True, in_flight=True, blocking=False)
    except Exception:
        pass
    del client
