"""At-least-once made exact: a replayed partition stores nothing twice; a poison record is
dead-lettered and does not block its room."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from functions.store import Messages
from local import dlq


def stored(settings, room):
    return list(Messages(settings).messages_after(room, 0))


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_replaying_the_whole_topic_stores_nothing_twice(local_stack, settings, new_user, new_room, connect):
    alice, bob = new_user(), new_user("groomer")
    room = new_room(alice, bob)
    a = connect("edge-a", alice)
    a.subscribe(room)
    for i in range(10):
        a.send_and_ack(room, f"m{i}")
    a.wait_messages(room, 10)
    before = stored(settings, room)
    assert [m["seq"] for m in before] == list(range(1, 11))

    # Rewind the worker's consumer group to the start: every batch is handed over again.
    local_stack.stop("esm")
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    parts = [TopicPartition(settings.chat_topic, p, 0) for p in range(settings.partitions)]
    futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(settings.consumer_group, parts)])
    for fut in futures.values():
        fut.result(10)
    b = connect("edge-b", bob)
    b.subscribe(room)
    local_stack.start("esm")
    # The replay re-delivers (same messageIds) to whoever is subscribed now...
    redelivered = b.wait_messages(room, 10, timeout=30)
    assert [m["messageId"] for m in redelivered] == [m["messageId"] for m in before]
    # ...and a message sent after the replay continues the sequence: nothing was re-stored.
    a.send_and_ack(room, "after replay")
    wait_until(lambda: len(stored(settings, room)) == 11, what="the 11th message")
    after = stored(settings, room)
    assert [(m["seq"], m["body"]) for m in after] == [(m["seq"], m["body"]) for m in before] + [(11, "after replay")]


def test_a_poison_record_is_dead_lettered_and_the_room_moves_on(settings, new_user, new_room, connect):
    alice = new_user()
    room = new_room(alice)
    client = connect("edge-a", alice)
    client.subscribe(room)
    marker = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.chat_topic, key=room.encode(), value=b"\xff not json " + marker.encode())
    assert producer.flush(10) == 0
    client.send_and_ack(room, "after the poison")
    assert client.wait_messages(room, 1, timeout=30)[0]["body"] == "after the poison"

    def dead_lettered():
        return [d for d in dlq.read(settings) if marker.encode() in (d.value or b"")]
    wait_until(lambda: dead_lettered(), timeout=30, what="the dead letter")
    letter = dead_lettered()[0]
    assert letter.key == room.encode()
    assert letter.meta["condition"] == "RetriesExhausted"
    assert letter.meta["topic"] == settings.chat_topic
    assert int(letter.meta["attempts"]) == settings.max_retry_attempts + 1
