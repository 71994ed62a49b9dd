"""A synchronous Kafka producer for functions (the HTTP API's changes to a message).

One per warm Lambda container, built on first use: `produce(record, key)` returns
(partition, offset) once the broker has the record (acks=all, idempotent), polling on the
calling thread until its delivery report comes, or raises `ProduceError` ("not accepted, send
again"). The configuration is functions/kafka_client.py's, the edge's too. A fatal producer
error (idempotence broken) or one that cannot be built drops the client: the next call builds
a fresh one, so a broker outage costs 503s, never the container.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from functions import contracts, kafka_client
from functions.settings import Settings

log = logging.getLogger("tidings.http.producer")

_POLL_S = 0.05
_GRACE_S = 1.0   # past message.timeout.ms librdkafka has reported; this only covers the poll itself


class ProduceError(Exception):
    """The record was not accepted by Kafka (timeout, broker down, too large...)."""


class RecordProducer:
    def __init__(self, settings: Settings, *, source: str = "http-api",
                 factory: Callable[[dict], Any] = kafka_client.new_producer, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._config = kafka_client.producer_config(settings, f"tidings-{source}",
                                                    logging.getLogger("tidings.http.kafka"))
        self._config["error_cb"] = self._on_error
        self._factory, self._clock = factory, clock
        self._client = None
        self._fatal: str | None = None
        self._headers = [(contracts.HEADER_SCHEMA, str(contracts.SCHEMA_VERSION).encode()),
                         (contracts.HEADER_EDGE, source.encode())]

    def _on_error(self, err) -> None:   # runs inside poll()
        if kafka_client.is_fatal(err):
            self._fatal = str(err)
        log.warning("kafka: %s", err)

    def _producer(self):
        if self._fatal is not None:
            log.error("kafka producer fatal error, building a new one: %s", self._fatal)
            self._client, self._fatal = None, None
        if self._client is None:
            try:
                self._client = self._factory(dict(self._config))
            except Exception as exc:
                raise ProduceError(f"producer not available: {exc}") from exc
        return self._client

    def produce(self, record: dict, key: str) -> tuple[int, int]:
        """(partition, offset) of `record` (JSON) keyed by `key`, once Kafka has it."""
        client = self._producer()
        report: list = []
        try:
            client.produce(self.settings.chat_topic, value=contracts.encode(record), key=key.encode(),
                           headers=self._headers, on_delivery=lambda err, msg: report.append((err, msg)))
        except BufferError as exc:
            raise ProduceError("local producer queue full") from exc
        except Exception as exc:   # KafkaException: message too large, fatal state...
            raise ProduceError(str(exc)) from exc
        deadline = self._clock() + self.settings.produce_timeout_s + _GRACE_S
        while not report:
            if self._fatal is not None or self._clock() >= deadline:
                raise ProduceError(self._fatal or "no delivery report in time")
            client.poll(_POLL_S)
        err, msg = report[0]
        if err is not None:
            raise ProduceError(str(err))
        return msg.partition(), msg.offset()
