"""The local event source mapping: what Lambda's Kafka ESM does, as one process.

Consumes the chat topic in a consumer group and hands each partition's records to its own
lane (local/emulators/esm_lanes.py), which gathers batches (batch size + batching window), invokes the
handler with Lambda's exact event, and commits the partition's offset only after the whole
batch is handled. Failures follow the ESM's options: partial batch responses,
bisect on error (not counted as a retry), bounded retries, maximum record age, then the
failing records go to the on-failure destination (the dead-letter topic) and the
partition moves on. One difference, on purpose: infrastructure errors (the store
unreachable or throttling) are retried without limit and never dead-lettered, so a store
outage delays messages instead of diverting them.

Run: python -m local.emulators.esm --handler functions.chat_worker.handler --metrics-port 9400
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import threading
import time
from typing import Callable, Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from functions.settings import Settings
from local.emulators.context import LambdaContext
from local.emulators.esm_event import build_event, failed_from
from local.emulators.esm_lanes import Lane

log = logging.getLogger("tidings.esm")

BATCHES = Counter("tidings_esm_batches_total", "Handler invocations", ["outcome"])
RECORDS = Counter("tidings_esm_records_total", "Records handled", ["outcome"])
BATCH_SIZE = Histogram("tidings_esm_batch_size", "Records per invocation", buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000))
HANDLER_SECONDS = Histogram("tidings_esm_handler_seconds", "Handler duration")
COMMIT_RETRIES = Counter("tidings_esm_commit_retries_total", "Offset commits retried (broker away)")
QUEUED = Gauge("tidings_esm_queued_records", "Records fetched and waiting for their partition's lane")
DEAD_LETTERS = Counter("tidings_esm_dead_letters_total", "Records sent to the dead-letter topic", ["condition"])

# DLQ metadata headers, next to the original key, value and headers.
DLQ_HEADERS = ("tidings-dlq-condition", "tidings-dlq-error", "tidings-dlq-topic",
               "tidings-dlq-partition", "tidings-dlq-offset", "tidings-dlq-attempts")

# The group rebalanced under us: the partitions' next owner re-handles from the last commit.
_GROUP_MOVED_ON = {KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                   KafkaError._NO_OFFSET, KafkaError._STATE}

_TRANSIENT_CODES = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                    "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException",
                    "LimitExceededException"}


class StopRequested(RuntimeError):
    """Stopping while the store is unreachable: the batch is left uncommitted (handled after
    a restart), not run through the bounded retries into the dead-letter topic."""


def is_transient(exc: BaseException) -> bool:
    """An infrastructure failure worth waiting out rather than dead-lettering records for."""
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

    if isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return bool(getattr(exc, "transient", False))


class EventSourceMapping:
    def __init__(self, settings: Settings, handler: Callable, *, function_name: str = "chat-worker",
                 sleep: Callable[[float], None] = time.sleep, consumer=None, dlq=None) -> None:
        self.settings = settings
        self.handler = handler
        self.function_name = function_name
        self.sleep = sleep
        self.stopping = threading.Event()
        self._lanes: dict[tuple[str, int], Lane] = {}
        self._paused: set[tuple[str, int]] = set()
        # A lane this far behind stops being fetched for until it is half way through.
        self.max_queued = max(4 * settings.batch_size, 1000)
        self.consumer = consumer or Consumer({
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": settings.consumer_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # A store outage may keep one batch in retries for long: stay in the group meanwhile.
            "max.poll.interval.ms": 86_400_000,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 2000,
            "fetch.wait.max.ms": 50,
            "client.id": f"tidings-esm-{function_name}",
        })
        self.dlq = dlq or Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True,
                                    "acks": "all", "client.id": "tidings-esm-dlq"})

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe([self.settings.chat_topic], on_revoke=self._on_revoke)
        log.info("esm consuming %s as %s", self.settings.chat_topic, self.settings.consumer_group)
        try:
            while not self.stopping.is_set():
                self.poll_once()
        finally:   # what was fetched is handled and committed, then the group is left
            self._close_lanes(list(self._lanes), drain=True)
            self.consumer.close()
            self.dlq.flush(10)

    def _on_revoke(self, consumer, partitions) -> None:
        # Their batches in hand finish and commit before the partitions go to another member.
        self._close_lanes([(tp.topic, tp.partition) for tp in partitions])

    def _close_lanes(self, keys: list[tuple[str, int]], drain: bool = False) -> None:
        lanes = {k: self._lanes.pop(k) for k in keys if k in self._lanes}
        self._paused.difference_update(keys)
        for lane in lanes.values():
            lane.close(drain=drain)
        self._commit_done(lanes)

    def _commit_done(self, lanes: dict[tuple[str, int], Lane]) -> None:
        offsets = [TopicPartition(*key, done) for key, lane in lanes.items() if (done := lane.take_done()) is not None]
        if offsets:
            self.commit(offsets)

    def poll_once(self) -> int:
        """Fetch what is there (waiting up to a second for the first record) and hand each
        record to its partition's lane; pause partitions whose lane is far behind."""
        first = self.consumer.poll(0.05)   # short: finished batches are committed between polls
        messages = [first] + self.consumer.consume(num_messages=self.max_queued, timeout=0) if first else []
        by_lane: dict[tuple[str, int], list] = {}
        for msg in messages:
            if msg.error():
                log.warning("consumer error: %s", msg.error())
                continue
            by_lane.setdefault((msg.topic(), msg.partition()), []).append(msg)
        for key, records in by_lane.items():
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = Lane(f"{key[0]}-{key[1]}", self.handle,
                                               batch_size=self.settings.batch_size,
                                               window_s=self.settings.batch_window_ms / 1000)
            lane.put(records)
        self._apply_backpressure()
        self._commit_done(self._lanes)
        for key, lane in list(self._lanes.items()):
            if lane.error is not None:   # e.g. the dead-letter topic unreachable: restart, re-consume
                raise RuntimeError(f"partition {key} could not be handled") from lane.error
        return sum(len(r) for r in by_lane.values())

    def _apply_backpressure(self) -> None:
        queued = 0
        for key, lane in self._lanes.items():
            n = lane.queued
            queued += n
            if n > self.max_queued and key not in self._paused:
                self.consumer.pause([TopicPartition(*key)])
                self._paused.add(key)
            elif n <= self.max_queued // 2 and key in self._paused:
                self.consumer.resume([TopicPartition(*key)])
                self._paused.discard(key)
        QUEUED.set(queued)

    def commit(self, offsets: list[TopicPartition]) -> None:
        """Commit these next offsets; wait out a broker that is away, never crash on it.

        A commit refused because the group moved on (our partitions went to another
        member) is dropped: that member starts from the last commit and handles these
        records again, which the worker's idempotence makes harmless.
        """
        pause = 0.1
        while True:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
                return
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                code = error.code() if isinstance(error, KafkaError) else None
                if code in _GROUP_MOVED_ON or self.stopping.is_set():
                    log.warning("commit dropped (%s): these records will be handled again", error)
                    return
                COMMIT_RETRIES.inc()
                log.warning("commit failed (%s), retrying in %.1fs", error, pause)
                self.sleep(pause)
                pause = min(pause * 2, 5.0)

    # -- failure handling as the ESM does it ------------------------------------------------
    def handle(self, batch: Sequence) -> None:
        """Handle every record: succeeded, or dead-lettered after bounded retries."""
        work: list[tuple[list, int]] = [(list(batch), 0)]
        while work:
            records, attempts = work.pop(0)
            records = self._drop_too_old(records, attempts)
            if not records:
                continue
            failed, error = self._invoke(records)
            if not failed:
                RECORDS.labels("ok").inc(len(records))
                continue
            RECORDS.labels("ok").inc(len(records) - len(failed))
            if self.settings.bisect_on_error and len(failed) > 1:
                half = len(failed) // 2
                work[:0] = [(failed[:half], attempts), (failed[half:], attempts)]
                continue
            attempts += 1
            limit = self.settings.max_retry_attempts
            if limit < 0 or attempts <= limit:
                self.sleep(min(0.05 * 2 ** attempts, 2.0))
                work.insert(0, (failed, attempts))
                continue
            self.dead_letter(failed, "RetriesExhausted", error, attempts)

    def _invoke(self, records: list) -> tuple[list, str]:
        """Invoke until the outcome is not an infrastructure failure. Returns (failed, error)."""
        pause = 0.1
        while True:
            event = build_event(records, self.settings.kafka_bootstrap)
            BATCH_SIZE.observe(len(records))
            started = time.perf_counter()
            try:
                response = self.handler(event, LambdaContext(self.function_name))
            except Exception as exc:  # the handler's failure is data here, not a crash of ours
                HANDLER_SECONDS.observe(time.perf_counter() - started)
                if is_transient(exc) and self.stopping.is_set():
                    raise StopRequested(f"stopping during a transient failure: {exc!r}") from exc
                if is_transient(exc):
                    BATCHES.labels("transient").inc()
                    log.warning("transient failure, retrying without limit: %r", exc)
                    self.sleep(pause)
                    pause = min(pause * 2, 5.0)
                    continue
                BATCHES.labels("error").inc()
                log.exception("handler failed on %d records", len(records))
                return records, f"{type(exc).__name__}: {exc}"
            HANDLER_SECONDS.observe(time.perf_counter() - started)
            failed = failed_from(response, records)
            BATCHES.labels("partial" if failed else "ok").inc()
            return failed, "batchItemFailures" if failed else ""

    def _drop_too_old(self, records: list, attempts: int) -> list:
        max_age = self.settings.max_record_age_s
        if max_age < 0 or attempts == 0:
            return records
        now_ms = time.time() * 1000
        old = [m for m in records if now_ms - m.timestamp()[1] > max_age * 1000]
        if old:
            self.dead_letter(old, "RecordAgeExceeded", "maximum record age exceeded", attempts)
        return [m for m in records if m not in old]

    def dead_letter(self, records: Sequence, condition: str, error: str, attempts: int) -> None:
        """Produce the records, unchanged, plus metadata headers, to the dead-letter topic."""
        errors: list = []
        for msg in records:
            meta = (condition, error[:1000], msg.topic(), str(msg.partition()), str(msg.offset()), str(attempts))
            headers = list(msg.headers() or []) + [(k, v.encode()) for k, v in zip(DLQ_HEADERS, meta)]
            self.dlq.produce(self.settings.dead_letter_topic, value=msg.value(), key=msg.key(), headers=headers,
                             on_delivery=lambda err, _m: err and errors.append(err))
        if self.dlq.flush(30) or errors:
            # Not committed, so nothing is lost: the batch is consumed again after a restart.
            raise KafkaException(f"dead-letter produce failed: {errors or 'timeout'}")
        DEAD_LETTERS.labels(condition).inc(len(records))
        log.error("dead-lettered %d records (%s): %s", len(records), condition, error)


def load_handler(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handler", default="functions.chat_worker.handler")
    parser.add_argument("--metrics-port", type=int, default=9400)
    parser.add_argument("--metrics-host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    start_http_server(args.metrics_port, addr=args.metrics_host)
    esm = EventSourceMapping(settings, load_handler(args.handler))

    def stop(signum, _frame):  # finish the batches in hand, commit, leave the group
        log.info("signal %s: stopping after the batches in hand", signum)
        esm.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    esm.run()


if __name__ == "__main__":
    main()
