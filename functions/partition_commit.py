"""A partition's commit point: one small item per Kafka partition, written twice per batch.

The worker that owns a partition stores a batch's messages with unconditional BatchWrites
(deterministic keys: roomId + seq) and makes them visible with one conditional write:

1. claim: `pending = {attempt, rooms: {roomId: [base, max]}}`, only if the item still says
   what this worker last saw (`offset`, and the pending attempt it takes over, if any). A
   claim that fails means another invocation moved the partition: the batch is retried from
   the store.
2. write the messages (and delete what a failed attempt left, below);
3. commit: `offset = <the batch's last offset>`, `pending` removed, only if the claim is still
   ours.

Readers (functions.store) treat a message item as stored when its `offset` is at most its
partition's committed `offset`: a failed attempt's items stay invisible. Its `pending` says
which seqs it may have written in which rooms (`base` = the room's committed last seq then,
`max` = the highest it planned), so the next attempt deletes whatever of those it does not
write itself, before it commits. Pendings of failed attempts accumulate until a commit
cleans up after all of them. `changed` lists the stored messages an attempt gave a change
overlay (functions/store.py `settle`): the next attempt clears the overlays it does not write
again, so a change a failed attempt planned never becomes visible with a later commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from functions import tables
from functions.dynamo_wire import decode_item, encode, encode_item
from functions.store import Store, now_ms


class Fenced(RuntimeError):
    """The partition's commit item changed under us: another invocation handled it."""

    transient = True


@dataclass
class Pending:
    attempt: str
    rooms: dict[str, tuple[int, int]] = field(default_factory=dict)   # roomId -> (base, max)
    changed: frozenset = frozenset()   # (roomId, seq) of stored messages given a change overlay

    def merged(self, attempt: str, rooms: Mapping[str, tuple[int, int]],
               changed: frozenset = frozenset()) -> "Pending":
        """A claim for `attempt` that also covers what this pending may have written."""
        merged = dict(self.rooms)
        for room, (base, high) in rooms.items():
            old = merged.get(room)
            merged[room] = (base, high) if old is None else (old[0], max(old[1], high))
        return Pending(attempt, merged, frozenset(self.changed) | frozenset(changed))

    def item(self) -> dict:
        out = {"attempt": self.attempt, "rooms": {r: [b, m] for r, (b, m) in self.rooms.items()}}
        if self.changed:
            out["changed"] = sorted([r, s] for r, s in self.changed)
        return out


@dataclass
class CommitState:
    offset: int = -1                 # the last offset committed (-1: none yet)
    pending: Pending | None = None   # an attempt that claimed and did not commit


def new_attempt() -> str:
    return uuid.uuid4().hex


class PartitionCommits:
    def __init__(self, store: Store):
        self.store = store
        self.table = store.name(tables.PARTITION_COMMITS)

    def read(self, partition: str) -> CommitState:
        answer = self.store.wire.call("GetItem", {"TableName": self.table, "ConsistentRead": True,
                                                  "Key": encode_item({"partition": partition})})
        item = decode_item(answer.get("Item") or {})
        pending = item.get("pending")
        return CommitState(int(item.get("offset", -1)),
                           Pending(pending["attempt"], {r: (int(b), int(m)) for r, (b, m) in
                                                        pending.get("rooms", {}).items()},
                                   frozenset((r, int(q)) for r, q in pending.get("changed", ()))) if pending else None)

    def _update(self, partition: str, update: str, condition: str, names: dict, values: dict) -> None:
        params = {"TableName": self.table, "Key": encode_item({"partition": partition}),
                  "UpdateExpression": update, "ConditionExpression": condition,
                  "ExpressionAttributeNames": names,
                  "ExpressionAttributeValues": {k: encode(v) for k, v in values.items()}}
        try:
            self.store.wire.call("UpdateItem", params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise Fenced(f"partition {partition} moved on under this invocation") from exc
            raise

    @staticmethod
    def _expect(seen: CommitState, names: dict, values: dict) -> str:
        """The condition that the item is still as `seen`."""
        names.update({"#o": "offset", "#p": "pending"})
        offset = "attribute_not_exists(#o)" if seen.offset < 0 else "#o = :seen"
        if seen.offset >= 0:
            values[":seen"] = seen.offset
        if seen.pending is None:
            return f"{offset} AND attribute_not_exists(#p)"
        values[":prev"] = seen.pending.attempt
        return f"{offset} AND #p.attempt = :prev"

    def claim(self, partition: str, seen: CommitState, pending: Pending) -> None:
        names, values = {}, {":pending": pending.item(), ":now": now_ms()}
        condition = self._expect(seen, names, values)
        self._update(partition, "SET #p = :pending, updatedAt = :now", condition, names, values)

    def commit(self, partition: str, seen: CommitState, offset: int, claimed: Pending | None) -> None:
        """Move the committed offset to `offset`; with `claimed`, only while the claim is ours."""
        names, values = {"#o": "offset", "#p": "pending"}, {":offset": offset, ":now": now_ms()}
        if claimed is not None:
            values[":me"] = claimed.attempt
            condition = "#p.attempt = :me"
        else:
            condition = self._expect(seen, names, values)
        self._update(partition, "SET #o = :offset, updatedAt = :now REMOVE #p", condition, names, values)
