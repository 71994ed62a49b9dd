"""The broker of the local stack is a real Kafka: topics, produce/consume, durable across restarts."""

from __future__ import annotations

from harness import admin, consume, create_topic, produce_sync, unique


def test_topics_exist_with_configured_partitions(local_stack, settings):
    md = admin(settings).list_topics(timeout=10)
    chat = md.topics[settings.chat_topic]
    assert chat.error is None
    assert len(chat.partitions) == settings.partitions
    dlq = md.topics[settings.dead_letter_topic]
    assert dlq.error is None and len(dlq.partitions) == 1


def test_record_round_trip_through_the_broker(settings):
    topic = create_topic(settings, partitions=2)
    key, value = unique("room").encode(), b'{"type":"chat.send","body":"hello"}'
    delivered = produce_sync(settings, topic, [(key, value)])
    assert delivered[0].offset() >= 0
    [msg] = consume(settings, topic, 1)
    assert (msg.key(), msg.value()) == (key, value)
    assert msg.partition() == delivered[0].partition()


def test_same_key_same_partition_in_order(settings):
    topic = create_topic(settings, partitions=settings.partitions)
    room = unique("room")
    values = [f"m{i}".encode() for i in range(20)]
    produce_sync(settings, topic, [(room, v) for v in values])
    got = consume(settings, topic, len(values))
    assert {m.partition() for m in got} == {got[0].partition()}
    assert [m.value() for m in got] == values


def test_records_survive_a_broker_restart(local_stack, settings):
    topic = create_topic(settings)
    produce_sync(settings, topic, [(b"k", b"before restart")])
    pid = local_stack.pid("kafka")
    local_stack.restart("kafka")
    assert local_stack.pid("kafka") not in (None, pid)
    [msg] = consume(settings, topic, 1)
    assert msg.value() == b"before restart"


def test_acknowledged_records_survive_a_broker_crash(local_stack, settings):
    topic = create_topic(settings)
    values = [f"acked {i}".encode() for i in range(50)]
    produce_sync(settings, topic, [(b"k", v) for v in values])
    assert local_stack.kill("kafka") == "killed"  # SIGKILL: no clean shutdown
    assert local_stack.pid("kafka") is None
    local_stack.start("kafka")
    assert [m.value() for m in consume(settings, topic, len(values))] == values
