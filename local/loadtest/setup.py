"""Setting a run up in the store (rooms, members, tokens) and reading it back afterwards.

Rooms are created through `functions.rooms.Rooms` (the same code the HTTP API uses), so
the edge's membership checks see exactly what a real room looks like. Each run uses its
own id prefix (Options.run_id), so runs never collide and leave their data behind for a
look afterwards.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from functions import tables, tokens
from functions.rooms import RoomExists, Rooms
from functions.settings import Settings
from functions.store import Store

SETUP_THREADS = 16


def token_ttl(opts) -> int:
    """Long enough for the whole run, whatever the edges do with expiring tokens."""
    return int(opts.ramp + opts.hold + opts.drain_max + 3600)


def tokens_for(settings: Settings, users: Iterable, ttl_s: int) -> dict[str, str]:
    return {u.user_id: tokens.mint(settings, u.user_id, u.role, ttl_s=ttl_s) for u in users}


def create_rooms(settings: Settings, rooms: list) -> None:
    """Create each planned room with its members (first member as creator)."""
    api = Rooms(settings)

    def create(room) -> None:
        members = {m.user_id: m.role for m in room.members}
        first = room.members[0]
        try:
            api.create(room.room_id, f"load test {room.room_id}", first.user_id, members,
                       creator_role=first.role)
        except RoomExists:
            pass  # a retried setup: the same members were written the first time

    with ThreadPoolExecutor(max_workers=SETUP_THREADS) as pool:
        for _ in pool.map(create, rooms):
            pass


class StoreCheck:
    """Every acked message stored exactly once: the messages table, per room, by seq."""

    def __init__(self, settings: Settings):
        self.store = Store(settings)

    def room(self, room_id: str) -> list[dict]:
        return list(self.store.query(
            tables.MESSAGES, KeyConditionExpression="roomId = :r",
            ExpressionAttributeValues={":r": room_id}, ConsistentRead=True,
            ProjectionExpression="#s, #c, #u", ExpressionAttributeNames={
                "#s": "seq", "#c": "clientMsgId", "#u": "senderId"}))

    @staticmethod
    def compare(acked: set[str], items: list[dict]) -> dict:
        """counts: stored, missing (acked, not stored), duplicated (stored more than once),
        stored_not_acked (e.g. the ack timed out), seq_gaps (holes in 1..max seq)."""
        ids = Counter(item.get("clientMsgId") for item in items)
        seqs = sorted(int(item["seq"]) for item in items if "seq" in item)
        missing = [cmid for cmid in acked if cmid not in ids]
        duplicated = {cmid: n for cmid, n in ids.items() if n > 1}
        gaps = max(0, seqs[-1] - len(set(seqs))) if seqs else 0
        counts = {"stored": len(items), "missing": len(missing),
                  "duplicated": sum(n - 1 for n in duplicated.values()),
                  "stored_not_acked": sum(1 for cmid in ids if cmid not in acked),
                  "seq_gaps": gaps}
        examples = [{"clientMsgId": c, "problem": "missing"} for c in missing[:3]]
        examples += [{"clientMsgId": c, "problem": f"stored {n} times"} for c, n in list(duplicated.items())[:3]]
        return {"counts": counts, "examples": examples}
