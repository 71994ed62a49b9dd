"""What the 3-broker scenarios check beyond checks.py, and the failover figures they print.

Kafka's side, read back from the chat topic after a scenario:
- every acked message is in the topic at the partition and offset its ack named: the
  cluster kept what it acknowledged (acks=all, min.insync.replicas=2, no unclean election);
- every chat.send record of the scenario's rooms in the topic is stored: the runner skipped
  nothing, whatever it committed (checks.py already fails anything stored twice);
- the runner's committed offsets reach the end of every partition: it committed what it
  handled, and nothing it did not.
Figures (measured, never asserted): per partition, the longest time without an ack during
the disruption; the ack latency of the messages sent while it lasted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from functions import contracts

COMMIT_WAIT_S = 30.0


def read_topic(settings, rooms: set[str]) -> dict[tuple[int, int], dict]:
    """(partition, offset) -> record value, for every record keyed by one of ``rooms``."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "chaos-reader",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(settings.chat_topic, timeout=10).topics[settings.chat_topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(settings.chat_topic, p), timeout=10)[1]
                for p in partitions}
        consumer.assign([TopicPartition(settings.chat_topic, p, OFFSET_BEGINNING) for p in partitions])
        out: dict[tuple[int, int], dict] = {}
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 60
        while len(done) < len(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        done.add(msg.partition())
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
                if msg.key() is not None and msg.key().decode() in rooms:
                    out[(msg.partition(), msg.offset())] = orjson.loads(msg.value())
        assert len(done) == len(ends), f"could not read the chat topic to its end ({ends})"
        return out
    finally:
        consumer.close()


def committed_behind(settings) -> dict[int, tuple[int, int]]:
    """partition -> (committed, end) where the runner's group has not committed to the end."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.consumer_group,
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(settings.chat_topic, timeout=10).topics[settings.chat_topic].partitions
        tps = [TopicPartition(settings.chat_topic, p) for p in partitions]
        committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps}
        return {p: (committed[p], end) for p, end in ends.items() if committed[p] != end and end > 0}
    finally:
        consumer.close()


def check_kafka(report, traffic, stored_by_room: dict[str, list[dict]]) -> None:
    """Acked records in the topic where their acks said; every sent record stored; commits at the end."""
    records = read_topic(traffic.settings, set(traffic.rooms))
    # A producer retry the broker recognised as a duplicate (idempotence) is acked without an
    # offset (librdkafka does not learn it): such an ack is looked up by what it names.
    by_id = {(p_, v.get("senderId"), v.get("clientMsgId")): (p_, o) for (p_, o), v in records.items()}
    for p in traffic.participants:
        for cid, (n, partition, offset, _latency, _at) in p.acked.items():
            if offset is None:
                offset = by_id.get((partition, p.user_id, cid), (partition, None))[1]
            value = records.get((partition, offset))
            if value is None or (value.get("senderId"), value.get("clientMsgId")) != (p.user_id, cid):
                report.problem("ack not in the log", f"{p.name} #{n} ({cid}) acked at {partition}/{offset}, "
                                                     f"the topic has {value and value.get('clientMsgId')!r} there")
    stored = {(m["senderId"], m["clientMsgId"]) for items in stored_by_room.values() for m in items}
    sends = [v for v in records.values() if v.get("type") == contracts.RECORD_SEND]
    for value in sends:
        if (value["senderId"], value["clientMsgId"]) not in stored:
            report.problem("skipped", f"{value['roomId']}: {value['senderId']} {value['clientMsgId']} is in the "
                                      f"topic but not stored")
    deadline = time.monotonic() + COMMIT_WAIT_S
    while (behind := committed_behind(traffic.settings)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for partition, (committed, end) in behind.items():
        report.problem("commit", f"partition {partition}: the runner committed {committed}, the log ends at {end}")
    report.numbers["log_records"] = len(sends)


@dataclass
class Failover:
    """How a disruption looked to the senders."""
    what: str
    gaps: dict[int, float]                 # partition -> longest time without an ack (s)
    latency_ms: tuple[int, float, float, float]   # messages acked during it: n, p50, p99, max

    def line(self) -> str:
        gaps = ", ".join(f"p{p} {g:.1f}s" for p, g in sorted(self.gaps.items()))
        n, p50, p99, worst = self.latency_ms
        return (f"  failover[{self.what}]: longest time without an ack per partition: {gaps}; "
                f"ack latency of the {n} messages acked meanwhile: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                f"max {worst:.0f} ms")


def failover(traffic, what: str, start: float, end: float) -> Failover:
    """Figures of the disruption from ``start`` to ``end`` (traffic clock): per partition the
    longest gap between acks that overlaps it; the latency (first send to ack) of the messages
    acked in it, the ones that waited it out included."""
    acks: dict[int, list[float]] = {}
    latencies = []
    for p in traffic.participants:
        for _n, partition, _offset, latency, at in p.acked.values():
            acks.setdefault(partition, []).append(at)
            if latency is not None and start <= at <= end:
                latencies.append(latency * 1000)
    gaps = {}
    for partition, times in acks.items():
        times.sort()
        gaps[partition] = max((b - a for a, b in zip(times, times[1:]) if b >= start and a <= end), default=0.0)
    latencies.sort()
    stats = (len(latencies), latencies[len(latencies) // 2], latencies[int(0.99 * (len(latencies) - 1))],
             latencies[-1]) if latencies else (0, 0.0, 0.0, 0.0)
    return Failover(what, gaps, stats)
