"""The yardstick: the raw rates of the store and of Kafka, measured in the same run as the load.

Machines differ from day to day (the same command has run 2.5x slower on another day), so a
drain rate alone says little. Before the load, `invoke loadtest` measures
- the store: BatchWriteItem of message-sized items (the shape `functions.message_items.message_item`
  makes) into a scratch table, from `STORE_THREADS` threads, for about `seconds`, sent the
  way the worker sends them (functions/dynamo_wire.py), so the client is not the limit;
- Kafka: an idempotent acks=all producer writes message-sized records to a scratch topic
  while a consumer reads them back, for about `seconds`: records produced and consumed per
  second;
and the report gives the pipeline's drain as a fraction of the smaller of the two. The scratch
table and topic are deleted afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import orjson

from functions import aws
from functions.settings import Settings
from functions.dynamo_wire import encode_item
from functions.message_items import message_item

STORE_THREADS = 8
BATCH = 25
BODY = "A message about the dog's grooming appointment, about as long as most chat lines are."


def _message(room: int, seq: int) -> dict:
    record = {"clientMsgId": f"c{room}-{seq}", "senderId": f"user-{room}", "senderRole": "customer",
              "body": BODY, "sentAt": int(time.time() * 1000)}
    return message_item(f"yardstick-room-{room}", seq, record, "tidings.chat-0", seq, int(time.time() * 1000))


def store_rate(settings: Settings, seconds: float = 5.0, threads: int = STORE_THREADS) -> dict:
    """Items per second that BatchWriteItem puts into a scratch table with the messages' keys."""
    client = aws.dynamodb(settings)          # the table: boto3
    wire = aws.dynamodb_wire(settings)       # the writes: as the worker makes them (no per-item botocore)
    name = f"{settings.table_prefix}yardstick-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "roomId", "AttributeType": "S"},
                                              {"AttributeName": "seq", "AttributeType": "N"}],
                        KeySchema=[{"AttributeName": "roomId", "KeyType": "HASH"},
                                   {"AttributeName": "seq", "KeyType": "RANGE"}])
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    written = [0] * threads
    stop = threading.Event()

    def writer(index: int) -> None:
        seq = 0
        while not stop.is_set():
            items = []
            for _ in range(BATCH):
                seq += 1
                items.append({"PutRequest": {"Item": encode_item(_message(index * 1000 + seq % 1000, seq))}})
            request = {name: items}
            while request:
                request = wire.call("BatchWriteItem", {"RequestItems": request}).get("UnprocessedItems") or {}
            written[index] += BATCH

    try:
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            futures = [pool.submit(writer, i) for i in range(threads)]
            time.sleep(seconds)
            stop.set()
            for future in futures:
                future.result()
            elapsed = time.perf_counter() - started
    finally:
        try:
            client.delete_table(TableName=name)
        except Exception:  # noqa: BLE001 - a leftover scratch table is harmless
            pass
    return {"items": sum(written), "seconds": round(elapsed, 2), "per_s": round(sum(written) / elapsed, 1),
            "threads": threads, "item_bytes": len(orjson.dumps(_message(0, 1)))}


def kafka_rate(settings: Settings, seconds: float = 5.0) -> dict:
    """Records per second through a scratch topic: produced (idempotent, acks=all) and consumed."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    base = {"bootstrap.servers": settings.kafka_bootstrap}
    topic = f"tidings.yardstick.{uuid.uuid4().hex[:8]}"
    admin = AdminClient(base)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    value = orjson.dumps({"v": 1, "type": "chat.send", "roomId": "yardstick-room", "clientMsgId": "c1",
                          "senderId": "user-1", "senderRole": "customer", "body": BODY, "sentAt": 1,
                          "connectionId": uuid.uuid4().hex, "edgeUrl": "http://127.0.0.1:8101"})
    producer = Producer({**base, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                         "compression.type": "lz4"})
    consumer = Consumer({**base, "group.id": f"yardstick-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    produced = consumed = 0
    stop = threading.Event()

    def produce() -> None:
        nonlocal produced
        while not stop.is_set():
            for _ in range(1000):
                try:
                    producer.produce(topic, value, key=b"yardstick-room")
                    produced += 1
                except BufferError:
                    producer.poll(0.01)
            producer.poll(0)
        producer.flush(30)

    try:
        consumer.poll(1.0)   # join the group before the clock starts
        started = time.perf_counter()
        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        deadline = started + seconds
        while time.perf_counter() < deadline or thread.is_alive() or consumed < produced:
            if time.perf_counter() >= deadline:
                stop.set()
            if time.perf_counter() > deadline + 30:
                break
            consumed += sum(1 for m in consumer.consume(1000, 0.2) if m.error() is None)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        consumer.close()
        try:
            admin.delete_topics([topic])[topic].result(30)
        except Exception:  # noqa: BLE001 - a leftover scratch topic is harmless
            pass
    return {"records": consumed, "seconds": round(elapsed, 2), "per_s": round(consumed / elapsed, 1),
            "record_bytes": len(value)}


def measure(settings: Settings, seconds: float = 5.0) -> dict:
    """Both raw rates, one after the other, on an otherwise idle stack."""
    store = store_rate(settings, seconds)
    kafka = kafka_rate(settings, seconds)
    return {"store": store, "kafka": kafka, "smaller_per_s": min(store["per_s"], kafka["per_s"]),
            "smaller": "store" if store["per_s"] <= kafka["per_s"] else "kafka"}
