import pytest

from functions import contracts, tables
from functions.store import (Messages, Page, RoomHead, Store, StoreError, dedup_digest, from_item, message_event,
                             message_item, to_item)


class FlakyClient:
    """The real client, but the first `flaky` batch calls leave their last request unprocessed."""

    def __init__(self, client, flaky: int = 1, always: bool = False):
        self.client, self.flaky, self.always = client, flaky, always
        self.calls = {"batch_write_item": 0, "batch_get_item": 0}

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems):
        self.calls["batch_write_item"] += 1
        name, ops = next(iter(RequestItems.items()))
        assert sum(len(v) for v in RequestItems.values()) <= 25
        if self.always or (self.flaky > 0 and len(ops) > 1):
            self.flaky -= 1
            kept = {**RequestItems, name: ops[:-1]}
            if not self.always:
                self.client.batch_write_item(RequestItems=kept)
            return {"UnprocessedItems": {name: ops[-1:]}} if not self.always else {"UnprocessedItems": RequestItems}
        return self.client.batch_write_item(RequestItems=RequestItems)

    def batch_get_item(self, RequestItems):
        self.calls["batch_get_item"] += 1
        assert sum(len(v["Keys"]) for v in RequestItems.values()) <= 100
        name, req = next(iter(RequestItems.items()))
        if self.flaky > 0 and len(req["Keys"]) > 1:
            self.flaky -= 1
            kept = {**RequestItems, name: {**req, "Keys": req["Keys"][:-1]}}
            response = self.client.batch_get_item(RequestItems=kept)
            response["UnprocessedKeys"] = {name: {**req, "Keys": req["Keys"][-1:]}}
            return response
        return self.client.batch_get_item(RequestItems=RequestItems)


def _msg(room, seq, body=None):
    rec = {"clientMsgId": f"c{seq}", "senderId": "alice", "senderRole": "customer",
           "body": body or f"message {seq}", "sentAt": 1000 + seq}
    return message_item(room, seq, rec, "tidings.chat-0", 10 + seq, 5)


def test_item_round_trip():
    obj = {"a": 1, "b": 1.5, "c": "x", "d": {"e": [1, 2.25, "y"], "f": True}, "g": None}
    item = to_item(obj)
    assert "g" not in item
    assert from_item(item) == {k: v for k, v in obj.items() if v is not None}


def test_dedup_digest_and_message_event():
    assert dedup_digest("alice", "m-1") == dedup_digest("alice", "m-1")
    assert len({dedup_digest("alice", "m-1"), dedup_digest("alice", "m-2"), dedup_digest("bob", "m-1")}) == 3
    assert len(dedup_digest("alice", "m-1")) == 16
    item = _msg("r1", 7)
    assert message_event(item) == {"type": contracts.EVENT_MESSAGE, "room": "r1", "seq": 7, "messageId": "r1:7",
                                   "clientMsgId": "c7", "senderId": "alice", "senderRole": "customer",
                                   "body": "message 7", "sentAt": 1007}


def test_batch_write_and_get_many(settings, ddb, uid):
    flaky = FlakyClient(ddb, flaky=3)
    store = Store(settings, flaky, sleep=lambda s: None)
    rooms = [uid("room") for _ in range(3)]
    items = [_msg(room, seq) for room in rooms for seq in range(1, 41)]  # 120 items
    assert store.batch_write({tables.MESSAGES: items}) == 120
    assert flaky.calls["batch_write_item"] == 5 + 3  # 120 / 25 -> 5 calls, + 3 retries
    keys = [{"roomId": i["roomId"], "seq": i["seq"]} for i in items]
    missing = [{"roomId": rooms[0], "seq": 999}]
    found = store.batch_get({tables.MESSAGES: keys + keys[:10] + missing})
    assert sorted((i["roomId"], i["seq"]) for i in found[tables.MESSAGES]) == \
        sorted((i["roomId"], i["seq"]) for i in items)
    assert found[tables.MESSAGES][0]["body"].startswith("message ")


def test_batch_write_keeps_the_last_op_for_a_key_and_deletes(settings, ddb, uid):
    store = Store(settings, ddb)
    room = uid("room")
    store.batch_write({tables.MESSAGES: [_msg(room, 1, "first"), _msg(room, 1, "second"), _msg(room, 2)]})
    _commit(settings, ddb, room, 2)
    assert Messages(settings, ddb).get(room, 1)["body"] == "second"
    store.batch_write(deletes={tables.MESSAGES: [{"roomId": room, "seq": 2}]})
    assert Messages(settings, ddb).get(room, 2) is None


def test_batch_write_gives_up_with_a_transient_error(settings, ddb, uid):
    store = Store(settings, FlakyClient(ddb, always=True), max_attempts=3, sleep=lambda s: None)
    with pytest.raises(StoreError) as info:
        store.batch_write({tables.MESSAGES: [_msg(uid("room"), 1)]})
    assert info.value.transient


def test_heads(settings, ddb, uid):
    store = Store(settings, ddb)
    room = uid("room")
    assert store.heads([room]) == {}
    store.batch_write({tables.ROOM_HEADS: [{"roomId": room, "lastSeq": 3, "lastOffset": 9}]})
    assert store.heads([room, uid("room")])[room]["lastSeq"] == 3


def test_room_head_keeps_a_bounded_dedup_window(monkeypatch):
    monkeypatch.setattr(tables, "DEDUP_WINDOW", 3)
    d = {seq: dedup_digest("alice", f"m{seq}") for seq in range(7, 12)}
    head = RoomHead.of({"lastSeq": 10, "lastOffset": 40, "lastPartition": "p", "recent": d[8] + d[9] + d[10]}, "p")
    assert (head.seq_of(d[9]), head.seq_of(d[10]), head.seq_of(d[7])) == (9, 10, None)
    head.append(41, _msg("r1", 11), d[11])
    assert head.recent == [d[9], d[10], d[11]] and head.seq_of(d[11]) == 11 and head.seq_of(d[8]) is None
    assert head.item("r1", 0)["recent"] == d[9] + d[10] + d[11] and head.new_offset == 41
    assert RoomHead.of({"lastSeq": 10, "lastOffset": 40, "lastPartition": "q"}, "p").head_offset == -1


def _commit(settings, ddb, room, last_seq):
    Store(settings, ddb).batch_write({tables.ROOM_HEADS: [{"roomId": room, "lastSeq": last_seq, "lastOffset": 0}]})


@pytest.fixture
def history(settings, ddb, uid):
    room = uid("room")
    Store(settings, ddb).batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 26)]})
    _commit(settings, ddb, room, 25)
    return room, Messages(settings, ddb)


def test_messages_above_the_head_are_never_read(settings, ddb, uid):
    """A failed attempt can leave messages above the head: no reader sees them."""
    room = uid("room")
    messages = Messages(settings, ddb)
    Store(settings, ddb).batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 6)]})
    assert messages.page(room).items == [] and list(messages.messages_after(room, 0)) == []
    assert messages.get(room, 1) is None
    _commit(settings, ddb, room, 3)
    assert [m["seq"] for m in messages.page(room).items] == [1, 2, 3]
    assert [m["seq"] for m in messages.page(room, after_seq=1).items] == [2, 3]
    assert [m["seq"] for m in messages.page(room, after_seq=0, before_seq=10).items] == [1, 2, 3]
    assert [m["seq"] for m in messages.messages_after(room, 1)] == [2, 3]
    assert messages.get(room, 3)["seq"] == 3 and messages.get(room, 4) is None


def test_page_latest_then_backward(history):
    room, messages = history
    page = messages.page(room, limit=10)
    assert [m["seq"] for m in page.items] == list(range(16, 26))
    assert page == Page(page.items, 16, "backward") and page.direction == "backward"
    items, cursor = page  # unpacks as (items, cursor)
    assert items == page.items and cursor == 16
    seen = page.items
    while page.cursor is not None:
        page = messages.page(room, before_seq=page.cursor, limit=10)
        seen = page.items + seen
    assert [m["seq"] for m in seen] == list(range(1, 26))
    assert [m["seq"] for m in messages.page(room, before_seq=6, limit=10).items] == [1, 2, 3, 4, 5]


def test_page_forward(history):
    room, messages = history
    page = messages.page(room, after_seq=0, limit=10)
    assert [m["seq"] for m in page.items] == list(range(1, 11)) and page.cursor == 10
    assert page.direction == "forward"
    seen = list(page.items)
    while page.cursor is not None:
        page = messages.page(room, after_seq=page.cursor, limit=10)
        seen += page.items
    assert [m["seq"] for m in seen] == list(range(1, 26))
    last = messages.page(room, after_seq=15, limit=10)  # exactly the rest: no cursor
    assert [m["seq"] for m in last.items] == list(range(16, 26)) and last.cursor is None


def test_page_between(history):
    room, messages = history
    page = messages.page(room, after_seq=5, before_seq=9, limit=10)
    assert [m["seq"] for m in page.items] == [6, 7, 8] and page.cursor is None
    page = messages.page(room, after_seq=5, before_seq=20, limit=3)
    assert [m["seq"] for m in page.items] == [6, 7, 8] and page.cursor == 8
    assert messages.page(room, after_seq=5, before_seq=6).items == []


def test_page_of_an_empty_room(settings, ddb, uid):
    page = Messages(settings, ddb).page(uid("room"))
    assert page.items == [] and page.cursor is None


def test_messages_after_pages_through_everything(history):
    room, messages = history
    assert [m["seq"] for m in messages.messages_after(room, 3, page_size=4)] == list(range(4, 26))
    assert [m["seq"] for m in messages.messages_after(room, 3, limit=5, page_size=2)] == [4, 5, 6, 7, 8]
    assert list(messages.messages_after(room, 25)) == []
