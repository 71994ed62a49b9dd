"""A room's committed history as its readers see it (the edge's subscribe, catch-up and gap
fill, the HTTP history): ascending seq, strongly consistent reads, only what is stored
(functions/store.py's `is_stored`), changes applied (`settled`).
"""

from __future__ import annotations

from collections.abc import Iterator

from functions import tables
from functions.settings import Settings
from functions.message_items import is_stored
from functions.store import LATEST_PAGE, Store

MAX_PAGE = 200
CHANGED_WINDOW = 100      # how many messages before afterSeq a catch-up looks at for changes


class Page(tuple):
    """(items, cursor), unpackable as such, plus `.direction`.

    items: ascending seq. cursor: None when nothing more lies in this direction; else pass it
    as after_seq ("forward") or as before_seq ("backward")."""

    def __new__(cls, items: list[dict], cursor: int | None, direction: str) -> "Page":
        page = super().__new__(cls, (items, cursor))
        page.direction = direction
        return page

    @property
    def items(self) -> list[dict]:
        return self[0]

    @property
    def cursor(self) -> int | None:
        return self[1]

    def __repr__(self) -> str:
        return f"Page(items=<{len(self.items)}>, cursor={self.cursor!r}, direction={self.direction!r})"


class Messages:
    """Reading a room's committed history (ascending seq). Reads are strongly consistent."""

    def __init__(self, settings: Settings, client=None):
        self.store = Store(settings, client)

    def committed_seq(self, room_id: str) -> int:
        """The room's last stored seq: messages above it are not stored (yet) and never read."""
        item = self.store.latest([room_id], keys_only=True)[room_id]
        return int(item["seq"]) if item else 0

    def committed_seq_if_member(self, room_id: str, user_id: str) -> int | None:
        """The room's last stored seq, or None when `user_id` is not a member, in two round
        trips: the newest items, then their partitions' commits together with the member item.
        The member item is read after the items, so when the user is a member, every message
        up to that seq was stored while they were one (websocket_edge/session.py)."""
        page = self.store.newest(room_id, LATEST_PAGE, keys_only=True)
        partitions = {i["partition"] for i in page if i.get("partition")}
        found = self.store.batch_get({tables.MEMBERS: [{"roomId": room_id, "userId": user_id}],
                                      tables.PARTITION_COMMITS: [{"partition": p} for p in partitions]})
        if not found[tables.MEMBERS]:
            return None
        commits = dict.fromkeys(partitions, -1)
        commits.update({i["partition"]: int(i.get("offset", -1)) for i in found[tables.PARTITION_COMMITS]})
        stored = [i for i in page if is_stored(i, commits)]
        if stored or len(page) < LATEST_PAGE:
            return int(stored[0]["seq"]) if stored else 0
        deeper = self.store.stored_newest(room_id, 1, commits, keys_only=True)   # a big batch in flight on top
        return int(deeper[0]["seq"]) if deeper else 0

    def page(self, room_id: str, after_seq: int | None = None, before_seq: int | None = None,
             limit: int = 50) -> Page:
        """One page of history.

        - no bounds: the latest `limit` messages; cursor goes backward (older).
        - before_seq: the `limit` messages just before it; cursor goes backward.
        - after_seq (and optionally before_seq as an upper bound): the `limit` messages just
          after it; cursor goes forward (newer).
        """
        limit = max(1, min(int(limit), MAX_PAGE))
        high = self.committed_seq(room_id)
        if before_seq is not None:
            high = min(high, int(before_seq) - 1)
        forward = after_seq is not None
        low = int(after_seq) + 1 if forward else 1
        if high < low:
            return Page([], None, "forward" if forward else "backward")
        items = list(self.store.query(
            tables.MESSAGES, KeyConditionExpression="roomId = :r AND seq BETWEEN :a AND :b",
            ExpressionAttributeValues={":r": room_id, ":a": low, ":b": high}, ConsistentRead=True,
            ScanIndexForward=forward, Limit=limit + 1, max_items=limit + 1))
        more = len(items) > limit
        items = self.store.settled(items[:limit])
        if forward:
            return Page(items, items[-1]["seq"] if more else None, "forward")
        items.reverse()
        return Page(items, items[0]["seq"] if more else None, "backward")

    def messages_after(self, room_id: str, after_seq: int, limit: int | None = None,
                       page_size: int = 100, upto: int | None = None) -> Iterator[dict]:
        """Every committed message with seq > after_seq (and <= `upto`, a committed seq the caller
        read, else the head's now), ascending, paging through the whole room (no depth limit
        unless `limit` caps the count). A generator: pages load lazily."""
        high = self.committed_seq(room_id) if upto is None else int(upto)
        if high <= int(after_seq):
            return
        commits: dict[str, int] = {}
        for item in self.store.query(
                tables.MESSAGES, KeyConditionExpression="roomId = :r AND seq BETWEEN :a AND :b",
                ExpressionAttributeValues={":r": room_id, ":a": int(after_seq) + 1, ":b": high}, ConsistentRead=True,
                Limit=max(1, min(page_size, 1000)), max_items=limit):
            yield self.store.settled([item], commits)[0]

    def changed_up_to(self, room_id: str, seq: int, window: int = CHANGED_WINDOW) -> list[dict]:
        """The messages among the last `window` up to `seq` that members saw change after the
        room's seq was `seq` (`changedSeq`, functions/message_changes.py), ascending: what a
        client that had seen up to `seq` missed. One Query (the window read, the rest filtered)."""
        seq = int(seq)
        if seq <= 0:
            return []
        found = self.store.query(
            tables.MESSAGES, KeyConditionExpression="roomId = :r AND seq BETWEEN :a AND :b",
            FilterExpression="changedSeq >= :b OR attribute_exists(#n)", ExpressionAttributeNames={"#n": "next"},
            ExpressionAttributeValues={":r": room_id, ":a": max(1, seq - window + 1), ":b": seq}, ConsistentRead=True)
        return [i for i in self.store.settled(found) if int(i.get("changedSeq", -1)) >= seq]

    def get(self, room_id: str, seq: int) -> dict | None:
        if int(seq) > self.committed_seq(room_id):
            return None
        found = self.store.batch_get({tables.MESSAGES: [{"roomId": room_id, "seq": int(seq)}]})
        return self.store.settled(found[tables.MESSAGES])[0] if found[tables.MESSAGES] else None

