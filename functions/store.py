"""The only message-storage code: batched DynamoDB reads and writes, item shapes, history.

Writes are batched (BatchWriteItem, 25 items a call) and reads are batched (BatchGetItem,
100 keys a call), both retrying what DynamoDB leaves unprocessed, so the worker makes a
handful of round trips per Kafka batch, not one per message. Message keys are deterministic
(roomId + seq), so a retried batch rewrites the same items. A room's head (`room_heads`) is its
commit point: history reads never return a message above the head's lastSeq, so a message a
failed attempt wrote is invisible until an attempt that succeeds rewrites and covers it.

Items cross this module as plain dicts (numbers as int, or float when fractional).
"""

from __future__ import annotations

import decimal
import hashlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from functions import aws, contracts, tables
from functions.settings import Settings
from functions.tables import Table

BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
PREVIEW_CHARS = 200
MAX_PAGE = 200
DIGEST_CHARS = 16

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class StoreError(RuntimeError):
    """DynamoDB kept items unprocessed after every retry. Transient: retry the batch."""

    transient = True


# --- plain dict <-> DynamoDB item ---------------------------------------------------------

def _prepare(value: Any) -> Any:
    if isinstance(value, float):
        return decimal.Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_item(obj: Mapping[str, Any]) -> dict:
    return {k: _serializer.serialize(_prepare(v)) for k, v in obj.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def key_of(table: Table, item: Mapping[str, Any]) -> dict:
    key = {table.hash_key[0]: item[table.hash_key[0]]}
    if table.range_key:
        key[table.range_key[0]] = item[table.range_key[0]]
    return key


def _key_tuple(table: Table, item: Mapping[str, Any]) -> tuple:
    return tuple(key_of(table, item).values())


# --- item shapes ----------------------------------------------------------------------------

def dedup_digest(sender_id: str, client_msg_id: str) -> str:
    """A message's entry in its room head's dedup window: 64 bits of blake2b over
    senderId|clientMsgId (the ids' regexes exclude "|"). A false match within one room's
    window of DEDUP_WINDOW digests is ~1e-17 likely; the entries keep head items small."""
    return hashlib.blake2b(f"{sender_id}|{client_msg_id}".encode(), digest_size=DIGEST_CHARS // 2).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def message_item(room_id: str, seq: int, rec: Mapping[str, Any], partition: str, offset: int,
                 stored_at_ms: int) -> dict:
    return {
        "roomId": room_id, "seq": seq, "messageId": contracts.message_id(room_id, seq),
        "clientMsgId": rec["clientMsgId"], "senderId": rec["senderId"], "senderRole": rec["senderRole"],
        "body": rec["body"], "sentAt": rec["sentAt"], "storedAt": stored_at_ms,
        "partition": partition, "offset": offset,
    }


def head_item(room_id: str, last_seq: int, last_offset: int, last_partition: str,
              last_message: dict | None, updated_at_ms: int, recent: list[str] | None = None) -> dict:
    return {"roomId": room_id, "lastSeq": last_seq, "lastOffset": last_offset,
            "lastPartition": last_partition, "lastMessage": last_message, "updatedAt": updated_at_ms,
            "recent": "".join(recent or ()) or None}


def last_message(item: Mapping[str, Any]) -> dict:
    """The room list's preview of a message item (body cut to PREVIEW_CHARS)."""
    return {"seq": item["seq"], "senderId": item["senderId"], "senderRole": item["senderRole"],
            "body": item["body"][:PREVIEW_CHARS], "sentAt": item["sentAt"]}


def message_event(item: Mapping[str, Any]) -> dict:
    """The server event (contracts.EVENT_MESSAGE) for a stored message item."""
    return {
        "type": contracts.EVENT_MESSAGE, "room": item["roomId"], "seq": item["seq"],
        "messageId": item.get("messageId") or contracts.message_id(item["roomId"], item["seq"]),
        "clientMsgId": item["clientMsgId"], "senderId": item["senderId"],
        "senderRole": item["senderRole"], "body": item["body"], "sentAt": item["sentAt"],
    }


@dataclass
class RoomHead:
    """A room's head while a batch is decided: the next seq, the replay bound, the preview and
    the dedup window. Replays are records at offsets <= head_offset of the same partition;
    `recent` holds the dedup digests of seqs last_seq - len(recent) + 1 .. last_seq (stored
    concatenated, one string attribute: a list of 100 costs the store far more per write)."""
    partition: str
    last_seq: int = 0
    head_offset: int = -1
    new_offset: int = -1
    last_message: dict | None = None
    recent: list[str] = field(default_factory=list)
    dirty: bool = False

    @classmethod
    def of(cls, head: Mapping[str, Any] | None, partition: str) -> "RoomHead":
        head = head or {}
        same = head.get("lastPartition", partition) == partition
        return cls(partition, int(head.get("lastSeq", 0)), int(head.get("lastOffset", -1)) if same else -1,
                   last_message=head.get("lastMessage"), recent=_digests(head.get("recent") or ""))

    def seq_of(self, digest: str) -> int | None:
        """The seq stored under this dedup digest, if it is still in the window."""
        for back, known in enumerate(reversed(self.recent)):
            if known == digest:
                return self.last_seq - back
        return None

    def advance(self, offset: int) -> None:
        """A record at `offset` was handled (stored, answered or refused)."""
        self.new_offset = max(self.new_offset, offset, self.head_offset)
        self.dirty = True

    def append(self, offset: int, item: Mapping[str, Any], digest: str) -> None:
        """The record at `offset` is stored as `item`, which takes the next seq."""
        self.advance(offset)
        self.last_seq = item["seq"]
        self.last_message = last_message(item)
        self.recent = (self.recent + [digest])[-tables.DEDUP_WINDOW:]

    def item(self, room_id: str, updated_at_ms: int) -> dict:
        return head_item(room_id, self.last_seq, self.new_offset, self.partition, self.last_message,
                         updated_at_ms, self.recent)


def _digests(joined: str) -> list[str]:
    size = DIGEST_CHARS
    return [joined[i:i + size] for i in range(0, len(joined), size)]


# --- batched access -------------------------------------------------------------------------

class Store:
    """Batched reads and writes over the tidings tables, addressed by `tables.Table`."""

    def __init__(self, settings: Settings, client=None, *, max_attempts: int = 10, sleep=time.sleep):
        self.settings = settings
        self.client = client or aws.dynamodb(settings)
        self.max_attempts = max_attempts
        self._sleep = sleep

    def name(self, table: Table) -> str:
        return self.settings.table_name(table.logical)

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(0.02 * 2 ** attempt, 1.0) * (0.5 + random.random() / 2))

    def batch_get(self, keys: Mapping[Table, Iterable[Mapping[str, Any]]],
                  consistent: bool = True) -> dict[Table, list[dict]]:
        """Every item found for the given keys (duplicates folded), per table."""
        by_name = {self.name(t): t for t in keys}
        wanted: list[tuple[str, dict]] = []
        for table, table_keys in keys.items():
            seen = set()
            for key in table_keys:
                kt = _key_tuple(table, key)
                if kt not in seen:
                    seen.add(kt)
                    wanted.append((self.name(table), to_item(key_of(table, key))))
        found: dict[Table, list[dict]] = {t: [] for t in keys}

        def fetch(chunk: list[tuple[str, dict]]) -> None:
            request: dict[str, dict] = {}
            for name, key in chunk:
                request.setdefault(name, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(key)

            def call(req: dict) -> dict:
                response = self.client.batch_get_item(RequestItems=req)
                for name, items in response.get("Responses", {}).items():
                    found[by_name[name]].extend(from_item(i) for i in items)
                return response.get("UnprocessedKeys") or {}

            self._until_processed(call, request, "BatchGetItem left keys unprocessed")

        self._in_parallel(fetch, [wanted[i:i + BATCH_GET_MAX] for i in range(0, len(wanted), BATCH_GET_MAX)])
        return found

    def _until_processed(self, call, request: dict, failure: str) -> None:
        """Call with what is still unprocessed, backing off, until nothing is left."""
        attempt = 0
        while request:
            request = call(request)
            if request:
                attempt += 1
                if attempt >= self.max_attempts:
                    raise StoreError(f"{failure} after {attempt} attempts")
                self._backoff(attempt)

    def _in_parallel(self, fn, chunks: list) -> None:
        """Run fn over the chunks concurrently: a batch's calls overlap their round trips."""
        if len(chunks) <= 1:
            for chunk in chunks:
                fn(chunk)
            return
        for future in [_pool().submit(fn, chunk) for chunk in chunks]:
            future.result()   # the first failure raises (the batch is retried as a whole)

    def batch_write(self, puts: Mapping[Table, Iterable[Mapping[str, Any]]] | None = None,
                    deletes: Mapping[Table, Iterable[Mapping[str, Any]]] | None = None) -> int:
        """Put and delete items, 25 a call, retrying unprocessed ones. A key given twice keeps
        its last operation (DynamoDB rejects duplicates in one call). Returns items written."""
        ops: dict[tuple[str, tuple], dict] = {}
        for table, items in (puts or {}).items():
            for item in items:
                ops[(self.name(table), _key_tuple(table, item))] = {"PutRequest": {"Item": to_item(item)}}
        for table, items in (deletes or {}).items():
            for item in items:
                ops[(self.name(table), _key_tuple(table, item))] = {
                    "DeleteRequest": {"Key": to_item(key_of(table, item))}}
        pending = [(name, op) for (name, _k), op in ops.items()]

        def put(chunk: list[tuple[str, dict]]) -> None:
            request: dict[str, list] = {}
            for name, op in chunk:
                request.setdefault(name, []).append(op)
            self._until_processed(lambda req: self.client.batch_write_item(RequestItems=req).get("UnprocessedItems")
                                  or {}, request, "BatchWriteItem left items unprocessed")

        self._in_parallel(put, [pending[i:i + BATCH_WRITE_MAX] for i in range(0, len(pending), BATCH_WRITE_MAX)])
        return len(pending)

    def query(self, table: Table, *, index: str | None = None, max_items: int | None = None,
              **kwargs: Any) -> Iterator[dict]:
        """Items of a Query, following LastEvaluatedKey; kwargs are Query's, values plain."""
        if "ExpressionAttributeValues" in kwargs:
            kwargs["ExpressionAttributeValues"] = to_item(kwargs["ExpressionAttributeValues"])
        if index:
            kwargs["IndexName"] = index
        yielded = 0
        while True:
            response = self.client.query(TableName=self.name(table), **kwargs)
            for item in response.get("Items", []):
                yield from_item(item)
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def heads(self, room_ids: Iterable[str]) -> dict[str, dict]:
        """room_heads items (lastSeq, lastOffset, lastMessage…) by room id, for those that exist."""
        found = self.batch_get({tables.ROOM_HEADS: [{"roomId": r} for r in room_ids]})
        return {item["roomId"]: item for item in found[tables.ROOM_HEADS]}


# --- history --------------------------------------------------------------------------------

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool per process for the chunks of batch calls (greenlets under gevent)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="store")
        return _POOL


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
        """The room head's lastSeq: messages above it are not committed (yet) and never read."""
        head = self.head(room_id)
        return int(head["lastSeq"]) if head else 0

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
        items = items[:limit]
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
        yield from self.store.query(
            tables.MESSAGES, KeyConditionExpression="roomId = :r AND seq BETWEEN :a AND :b",
            ExpressionAttributeValues={":r": room_id, ":a": int(after_seq) + 1, ":b": high}, ConsistentRead=True,
            Limit=max(1, min(page_size, 1000)), max_items=limit)

    def get(self, room_id: str, seq: int) -> dict | None:
        if int(seq) > self.committed_seq(room_id):
            return None
        found = self.store.batch_get({tables.MESSAGES: [{"roomId": room_id, "seq": int(seq)}]})
        return found[tables.MESSAGES][0] if found[tables.MESSAGES] else None

    def head(self, room_id: str) -> dict | None:
        return self.store.heads([room_id]).get(room_id)
