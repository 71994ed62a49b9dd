import pytest

from functions import contracts, tables
from functions.history import Messages, Page
from functions.message_items import dedup_digest, message_event, message_item
from functions.store import Store, StoreError, from_item, to_item


class FlakyWire:
    """The real wire client, but the first `flaky` batch calls leave their last request unprocessed."""

    def __init__(self, wire, flaky: int = 1, always: bool = False):
        self.wire, self.flaky, self.always = wire, flaky, always
        self.calls = {"BatchWriteItem": 0, "BatchGetItem": 0}

    def call(self, operation, params):
        if operation not in self.calls:
            return self.wire.call(operation, params)
        self.calls[operation] += 1
        items = params["RequestItems"]
        name, req = next(iter(items.items()))
        if operation == "BatchWriteItem":
            assert sum(len(v) for v in items.values()) <= 25
            if self.always:
                return {"UnprocessedItems": items}
            if self.flaky > 0 and len(req) > 1:
                self.flaky -= 1
                self.wire.call(operation, {"RequestItems": {**items, name: req[:-1]}})
                return {"UnprocessedItems": {name: req[-1:]}}
            return self.wire.call(operation, params)
        assert sum(len(v["Keys"]) for v in items.values()) <= 100
        if self.flaky > 0 and len(req["Keys"]) > 1:
            self.flaky -= 1
            response = self.wire.call(operation, {"RequestItems": {**items, name: {**req, "Keys": req["Keys"][:-1]}}})
            response["UnprocessedKeys"] = {name: {**req, "Keys": req["Keys"][-1:]}}
            return response
        return self.wire.call(operation, params)


def flaky_store(settings, ddb, **kwargs):
    store = Store(settings, ddb, sleep=lambda s: None, max_attempts=kwargs.pop("max_attempts", 10))
    store.wire = FlakyWire(store.wire, **kwargs)
    return store


def _partition(room):
    return f"test-{room}-0"   # a partition of this room's own: commits live in the shared store


def _msg(room, seq, body=None):
    rec = {"clientMsgId": f"c{seq}", "senderId": "alice", "senderRole": "customer",
           "body": body or f"message {seq}", "sentAt": 1000 + seq}
    return message_item(room, seq, rec, _partition(room), 10 + seq, 5)


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
    store = flaky_store(settings, ddb, flaky=3)
    flaky = store.wire
    rooms = [uid("room") for _ in range(3)]
    items = [_msg(room, seq) for room in rooms for seq in range(1, 41)]  # 120 items
    assert store.batch_write({tables.MESSAGES: items}) == 120
    assert flaky.calls["BatchWriteItem"] == 5 + 3  # 120 / 25 -> 5 calls, + 3 retries
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
    store = flaky_store(settings, ddb, always=True, max_attempts=3)
    with pytest.raises(StoreError) as info:
        store.batch_write({tables.MESSAGES: [_msg(uid("room"), 1)]})
    assert info.value.transient


def test_heads_are_the_newest_stored_messages(settings, ddb, uid):
    store = Store(settings, ddb)
    room = uid("room")
    assert store.heads([room]) == {} and store.latest([room]) == {room: None}
    store.batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 4)]})
    assert store.heads([room]) == {}   # written, not committed
    _commit(settings, ddb, room, 3)
    head = store.heads([room, uid("room")])[room]
    assert head["lastSeq"] == 3 and head["lastMessage"]["body"] == "message 3"


def test_a_big_uncommitted_batch_on_top_is_looked_through(settings, ddb, uid):
    """More unstored items above the last stored one than a first read takes (a batch of one
    room in flight): the reader pages down to the stored ones."""
    from functions.store import LATEST_PAGE

    store = Store(settings, ddb)
    room = uid("room")
    store.batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 4 + 3 * LATEST_PAGE)]})
    _commit(settings, ddb, room, 3)
    assert store.latest([room])[room]["seq"] == 3
    assert Messages(settings, ddb).committed_seq(room) == 3


def _commit(settings, ddb, room, last_seq):
    """Commit the room's partition up to its message `last_seq` (see _msg's offsets)."""
    Store(settings, ddb).batch_write({tables.PARTITION_COMMITS: [{"partition": _partition(room),
                                                                  "offset": 10 + last_seq}]})


@pytest.fixture
def history(settings, ddb, uid):
    room = uid("room")
    Store(settings, ddb).batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 26)]})
    _commit(settings, ddb, room, 25)
    return room, Messages(settings, ddb)


def test_messages_above_the_commit_are_never_read(settings, ddb, uid):
    """A failed attempt can leave messages its partition never committed: no reader sees them."""
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


def test_stored_at_finds_what_records_became(settings, ddb, uid):
    store = Store(settings, ddb)
    room = uid("room")
    store.batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 41)]})   # offsets 11..50
    _commit(settings, ddb, room, 38)                                              # up to offset 48
    found = store.stored_at(room, _partition(room), {12, 47, 49, 999}, page=8)
    assert {o: i["seq"] for o, i in found.items()} == {12: 2, 47: 37}   # 49: not committed; 999: none
    assert store.stored_at(room, "another-partition", {12}) == {}


def test_stored_at_by_default_reads_a_small_page_then_deeper(settings, ddb, uid, monkeypatch):
    store = Store(settings, ddb)
    room = uid("room")
    store.batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 41)]})   # offsets 11..50
    _commit(settings, ddb, room, 40)
    pages = []
    newest = store.newest
    monkeypatch.setattr(store, "newest", lambda *a, **k: pages.append(a[1]) or newest(*a, **k))
    monkeypatch.setattr(store, "commits", lambda partitions: pytest.fail("the caller's commits are enough"))
    commits = {_partition(room): 50}
    assert {o: i["seq"] for o, i in store.stored_at(room, _partition(room), {50}, commits=commits).items()} == {50: 40}
    assert pages == [5]                                        # the newest few: one small page
    pages.clear()
    assert {o: i["seq"] for o, i in store.stored_at(room, _partition(room), {13}, commits=commits).items()} == {13: 3}
    assert pages == [5, 10, 20, 40]                            # deeper: pages double


def test_committed_seq_if_member(settings, ddb, uid):
    from functions.rooms import Rooms

    room, alice = uid("room"), uid("alice")
    Rooms(settings, ddb).create(room, "n", alice)
    messages = Messages(settings, ddb)
    assert messages.committed_seq_if_member(room, alice) == 0
    Store(settings, ddb).batch_write({tables.MESSAGES: [_msg(room, s) for s in range(1, 6)]})
    _commit(settings, ddb, room, 3)
    assert messages.committed_seq_if_member(room, alice) == 3
    assert messages.committed_seq_if_member(room, uid("stranger")) is None
