"""Build Lambda's Kafka event (self-managed shape) from confluent-kafka messages.

The shape follows AWS's documented example exactly (see shared notes): `records` keyed by
"topic-partition", base64 key/value, headers as lists of byte values, int partition.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Iterable, Sequence

from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME

EVENT_SOURCE = "SelfManagedKafka"


def partition_key(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def record_of(msg) -> dict:
    ts_type, ts = msg.timestamp()
    record = {
        "topic": msg.topic(),
        "partition": msg.partition(),
        "offset": msg.offset(),
        "timestamp": ts,
        "timestampType": "LOG_APPEND_TIME" if ts_type == TIMESTAMP_LOG_APPEND_TIME else "CREATE_TIME",
        "value": base64.b64encode(msg.value() or b"").decode("ascii"),
        "headers": [{name: list(value or b"")} for name, value in (msg.headers() or [])],
    }
    if msg.key() is not None:
        record["key"] = base64.b64encode(msg.key()).decode("ascii")
    return record


def build_event(messages: Iterable, bootstrap_servers: str) -> dict:
    records: dict[str, list[dict]] = defaultdict(list)
    for msg in messages:
        records[partition_key(msg.topic(), msg.partition())].append(record_of(msg))
    return {"eventSource": EVENT_SOURCE, "bootstrapServers": bootstrap_servers, "records": dict(records)}


def failed_from(response, messages: Sequence) -> list:
    """Messages to retry after a partial batch response.

    Lambda resumes a partition at its lowest failed offset: that record and every later one
    of the same partition are retried; an identifier not in the batch fails the whole batch.
    """
    if not response or not isinstance(response, dict) or not response.get("batchItemFailures"):
        return []
    lowest: dict[str, int] = {}
    present = {(partition_key(m.topic(), m.partition()), m.offset()) for m in messages}
    for failure in response["batchItemFailures"]:
        ident = (failure or {}).get("itemIdentifier") or {}
        key, offset = ident.get("partition"), ident.get("offset")
        if (key, offset) not in present:
            return list(messages)
        lowest[key] = min(offset, lowest.get(key, offset))
    return [m for m in messages
            if partition_key(m.topic(), m.partition()) in lowest
            and m.offset() >= lowest[partition_key(m.topic(), m.partition())]]
