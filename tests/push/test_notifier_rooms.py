"""The notifier reuses a room's item (who is online) across batches, on the stack's real store,
and reads it afresh after a presence record of the room: a join or a leave."""

from __future__ import annotations

import base64
import uuid

import orjson

from functions import contracts
from functions.push.notifier import Notifier, sends_of
from functions.events import KafkaEvent
from functions.rooms import Rooms


def _event(*values: dict) -> dict:
    records = [{"topic": "tidings.chat", "partition": 0, "offset": 10 + i, "timestamp": 0,
                "timestampType": "CREATE_TIME", "value": base64.b64encode(orjson.dumps(v)).decode(),
                "headers": []} for i, v in enumerate(values)]
    return {"eventSource": "SelfManagedKafka", "bootstrapServers": "x", "records": {"tidings.chat-0": records}}


def test_sends_and_the_rooms_whose_subscribers_changed():
    sends, resubscribed = sends_of(KafkaEvent(_event(
        {"type": contracts.RECORD_SEND, "roomId": "r1", "senderId": "ann", "clientMsgId": "m1"},
        {"type": contracts.RECORD_PRESENCE, "roomId": "r2", "userId": "gus", "state": "join"},
        {"type": contracts.RECORD_TYPING, "roomId": "r3", "userId": "gus"},
        {"type": contracts.RECORD_SEND, "roomId": "r4", "senderId": 7, "clientMsgId": "m2"})))
    assert [(s.room, s.offset) for s in sends] == [("r1", 10)]
    assert resubscribed == {"r2"}


def test_a_room_is_read_once_until_a_presence_record_of_it(local_stack, monkeypatch):
    settings = local_stack.settings
    room, other = f"room-{uuid.uuid4().hex[:10]}", f"room-{uuid.uuid4().hex[:10]}"
    for r in (room, other):
        Rooms(settings).create(r, "Rex's trim", "ann", {"ann": "customer", "gus": "groomer"})
    notifier = Notifier(settings, senders={})
    reads: list[set[str]] = []
    batch_get = notifier.store.batch_get

    def counted(keys, *args, **kwargs):
        reads.append({k["roomId"] for k in next(iter(keys.values()))})
        return batch_get(keys, *args, **kwargs)

    monkeypatch.setattr(notifier.store, "batch_get", counted)
    assert set(notifier.rooms_of({room, other})) == {room, other}
    assert notifier.rooms_of({room, other})[room]["roomId"] == room
    assert reads == [{room, other}]                       # the second batch read nothing
    notifier(_event({"type": contracts.RECORD_PRESENCE, "roomId": room, "userId": "gus", "state": "leave"}))
    assert set(notifier.rooms_of({room, other})) == {room, other}
    assert reads == [{room, other}, {room}]               # only the room whose subscribers changed
