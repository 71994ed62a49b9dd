"""Dead letters: list what the ESM dead-lettered, and replay it into the chat topic.

Replay produces each record's original key, value and headers again (a new offset); the
worker's clientMsgId dedup window (the room's last 100 messages) keeps a record that was in fact
stored from being stored twice.
Replayed letters are remembered by committing the `<group>-dlq-replay` consumer group, so
a second replay does not send them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from functions.settings import Settings
from local.emulators.esm import DLQ_HEADERS


@dataclass
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def meta(self) -> dict[str, str]:
        return {k.removeprefix("tidings-dlq-"): (v or b"").decode("utf-8", "replace")
                for k, v in self.headers if k in DLQ_HEADERS}

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if k not in DLQ_HEADERS]


def _consumer(settings: Settings, group: str) -> Consumer:
    return Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def read(settings: Settings, *, pending_only: bool = False, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Every dead letter up to the current end of the topic (or only those not yet replayed)."""
    group = f"{settings.consumer_group}-dlq-replay"
    consumer = _consumer(settings, group)
    try:
        meta = consumer.list_topics(settings.dead_letter_topic, timeout=timeout_s)
        partitions = sorted(meta.topics[settings.dead_letter_topic].partitions)
        starts = {}
        committed = consumer.committed([TopicPartition(settings.dead_letter_topic, p) for p in partitions],
                                       timeout=timeout_s) if pending_only else []
        for tp in committed:
            starts[tp.partition] = max(tp.offset, 0)
        letters: list[DeadLetter] = []
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(settings.dead_letter_topic, p),
                                                       timeout=timeout_s)
            start = max(starts.get(p, low), low)
            if start >= high:
                continue
            consumer.assign([TopicPartition(settings.dead_letter_topic, p, start)])
            while start < high:
                msg = consumer.poll(timeout_s)
                if msg is None:
                    raise KafkaException(f"timed out reading {settings.dead_letter_topic}-{p}")
                if msg.error():
                    continue
                letters.append(DeadLetter(p, msg.offset(), msg.key(), msg.value(), list(msg.headers() or [])))
                start = msg.offset() + 1
        return letters
    finally:
        consumer.close()


def replay(settings: Settings, timeout_s: float = 10.0) -> int:
    """Send every not-yet-replayed dead letter back to the chat topic. Returns how many."""
    letters = read(settings, pending_only=True, timeout_s=timeout_s)
    if not letters:
        return 0
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    errors: list = []
    for letter in letters:
        producer.produce(settings.chat_topic, key=letter.key, value=letter.value, headers=letter.original_headers,
                         on_delivery=lambda err, _m: err and errors.append(err))
    if producer.flush(timeout_s) or errors:
        raise KafkaException(f"replay failed: {errors or 'timeout'}")
    consumer = _consumer(settings, f"{settings.consumer_group}-dlq-replay")
    try:
        last: dict[int, int] = {}
        for letter in letters:
            last[letter.partition] = max(last.get(letter.partition, 0), letter.offset + 1)
        consumer.commit(offsets=[TopicPartition(settings.dead_letter_topic, p, o) for p, o in last.items()],
                        asynchronous=False)
    finally:
        consumer.close()
    return len(letters)
