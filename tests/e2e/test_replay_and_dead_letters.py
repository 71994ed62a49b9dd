"""At-least-once made exact: a replayed partition stores nothing twice; a poison record is
dead-lettered and does not block its room."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from functions.history import Messages
from local.emulators import dlq


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


def test_dead_letters_replay_into_their_room_once(settings, new_user, new_room, connect):
    """A dead letter from an earlier outage (a valid record) goes back with `invoke dlq --replay`,
    is stored in its room, and a second replay sends nothing again."""
    from functions import contracts
    from local.emulators.esm import DLQ_HEADERS

    alice = new_user()
    room = new_room(alice)
    client = connect("edge-a", alice)
    client.subscribe(room)
    cid = uuid.uuid4().hex
    value = contracts.encode({"v": 1, "type": contracts.RECORD_SEND, "roomId": room, "clientMsgId": cid,
                              "senderId": alice.id, "senderRole": alice.role, "body": "back from the dead",
                              "sentAt": int(time.time() * 1000), "connectionId": "c-gone",
                              "edgeUrl": "http://127.0.0.1:1"})
    meta = ("RetriesExhausted", "store unreachable", settings.chat_topic, "0", "42", "4")
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.dead_letter_topic, key=room.encode(), value=value,
                     headers=[("tidings-schema", b"1")] + [(k, v.encode()) for k, v in zip(DLQ_HEADERS, meta)])
    assert producer.flush(10) == 0
    assert dlq.replay(settings) >= 1
    got = client.wait_messages(room, 1, timeout=30)[0]
    assert (got["body"], got["clientMsgId"], got["senderId"]) == ("back from the dead", cid, alice.id)
    assert dlq.replay(settings) == 0                      # remembered: not sent twice
    assert [m["clientMsgId"] for m in stored(settings, room)] == [cid]


def test_sigterm_on_the_runner_commits_what_it_handled(local_stack, settings, new_user, new_room, connect):
    """Graceful stop: the ESM finishes its batch and commits before it exits, so nothing it
    handled is handed over again."""
    alice = new_user()
    room = new_room(alice)
    client = connect("edge-a", alice)
    client.subscribe(room)
    for i in range(20):
        client.send_and_ack(room, f"m{i}")
    client.wait_messages(room, 20, timeout=30)
    assert local_stack.stop("esm") == "stopped"            # SIGTERM, then a clean exit
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    group = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(settings.consumer_group)])[settings.consumer_group].result(10)
    committed = {tp.partition: tp.offset for tp in group.topic_partitions if tp.topic == settings.chat_topic}
    probe = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"probe-{uuid.uuid4().hex}"})
    try:
        ends = {p: probe.get_watermark_offsets(TopicPartition(settings.chat_topic, p), timeout=10)[1]
                for p in range(settings.partitions)}
    finally:
        probe.close()
    assert committed == ends, "the runner exited without committing what it had handled"
    assert "stopping after the batches in hand" in local_stack.tail("esm", 200)
