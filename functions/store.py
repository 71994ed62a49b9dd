"""The only message-storage code: batched DynamoDB reads and writes (a message item's shape is
functions/message_items.py's; a room's history, as readers see it, functions/history.py's).

Writes are batched (BatchWriteItem, 25 items a call) and reads are batched (BatchGetItem,
100 keys a call), both retrying what DynamoDB leaves unprocessed, so the worker makes a
handful of round trips per Kafka batch, not one per message. Message keys are deterministic
(roomId + seq), so a retried batch rewrites the same items. A message is *stored* once its
partition's commit covers its offset (functions/partition_commit.py): readers here never
return anything else, so what a failed attempt wrote stays invisible until it is rewritten
or deleted. A room's last seq and last message are its newest stored message (`latest`).

Items cross this module as plain dicts (numbers as int, or float when fractional).
"""

from __future__ import annotations

import decimal
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from functions import aws, tables
from functions.dynamo_wire import decode_item, encode_item
from functions.message_items import is_stored, last_message, settle
from functions.settings import Settings
from functions.tables import Table

BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25
LATEST_PAGE = 8           # newest items read per room to find its last stored one
STORED_AT_SLACK = 4       # stored_at's first page: the offsets asked for and this many more
MAX_STORED_AT_PAGE = 128

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


# --- time ---------------------------------------------------------------------------------

def now_ms() -> int:
    return int(time.time() * 1000)


# --- batched access -------------------------------------------------------------------------

class Store:
    """Batched reads and writes over the tidings tables, addressed by `tables.Table`."""

    def __init__(self, settings: Settings, client=None, *, max_attempts: int = 10, sleep=time.sleep):
        self.settings = settings
        self.client = client or aws.dynamodb_data(settings)
        self.wire = aws.dynamodb_wire(settings)   # the batched calls: no per-item botocore work
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
                    wanted.append((self.name(table), encode_item(key_of(table, key))))
        found: dict[Table, list[dict]] = {t: [] for t in keys}

        def fetch(chunk: list[tuple[str, dict]]) -> None:
            request: dict[str, dict] = {}
            for name, key in chunk:
                request.setdefault(name, {"Keys": [], "ConsistentRead": consistent})["Keys"].append(key)

            def call(req: dict) -> dict:
                response = self.wire.call("BatchGetItem", {"RequestItems": req})
                for name, items in response.get("Responses", {}).items():
                    found[by_name[name]].extend(decode_item(i) for i in items)
                return response.get("UnprocessedKeys") or {}

            self._until_processed(call, request, "BatchGetItem left keys unprocessed")

        self.in_parallel(fetch, [wanted[i:i + BATCH_GET_MAX] for i in range(0, len(wanted), BATCH_GET_MAX)])
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

    def in_parallel(self, fn, chunks: list) -> None:
        """Run fn over the chunks concurrently: a batch's calls overlap their round trips."""
        if len(chunks) <= 1:
            for chunk in chunks:
                fn(chunk)
            return
        for future in [_pool().submit(fn, chunk) for chunk in chunks]:
            future.result()   # the first failure raises (the batch is retried as a whole)

    def rooms(self, room_ids: Iterable[str]) -> dict[str, dict]:
        """roomId -> room item, for the rooms that exist (one batched read)."""
        return {i["roomId"]: i for i in self.batch_get({tables.ROOMS: [{"roomId": r} for r in room_ids]})[tables.ROOMS]}

    def batch_write(self, puts: Mapping[Table, Iterable[Mapping[str, Any]]] | None = None,
                    deletes: Mapping[Table, Iterable[Mapping[str, Any]]] | None = None) -> int:
        """Put and delete items, 25 a call, retrying unprocessed ones. A key given twice keeps
        its last operation (DynamoDB rejects duplicates in one call). Returns items written."""
        ops: dict[tuple[str, tuple], dict] = {}
        for table, items in (puts or {}).items():
            for item in items:
                ops[(self.name(table), _key_tuple(table, item))] = {"PutRequest": {"Item": encode_item(item)}}
        for table, items in (deletes or {}).items():
            for item in items:
                ops[(self.name(table), _key_tuple(table, item))] = {
                    "DeleteRequest": {"Key": encode_item(key_of(table, item))}}
        pending = [(name, op) for (name, _k), op in ops.items()]

        def put(chunk: list[tuple[str, dict]]) -> None:
            request: dict[str, list] = {}
            for name, op in chunk:
                request.setdefault(name, []).append(op)
            self._until_processed(lambda req: self.wire.call("BatchWriteItem", {"RequestItems": req})
                                  .get("UnprocessedItems") or {}, request, "BatchWriteItem left items unprocessed")

        self.in_parallel(put, [pending[i:i + BATCH_WRITE_MAX] for i in range(0, len(pending), BATCH_WRITE_MAX)])
        return len(pending)

    def query(self, table: Table, *, index: str | None = None, max_items: int | None = None,
              **kwargs: Any) -> Iterator[dict]:
        """Items of a Query, following LastEvaluatedKey; kwargs are Query's, values plain."""
        if "ExpressionAttributeValues" in kwargs:
            kwargs["ExpressionAttributeValues"] = encode_item(kwargs["ExpressionAttributeValues"])
        if index:
            kwargs["IndexName"] = index
        yielded = 0
        while True:
            response = self.wire.call("Query", {"TableName": self.name(table), **kwargs})
            for item in response.get("Items", []):
                yield decode_item(item)
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- what is stored: partition commits -------------------------------------------------
    def commits(self, partitions: Iterable[str]) -> dict[str, int]:
        """Each partition's committed offset (-1: nothing committed yet)."""
        wanted = set(partitions)
        found = self.batch_get({tables.PARTITION_COMMITS: [{"partition": p} for p in wanted]})
        out = dict.fromkeys(wanted, -1)
        out.update({i["partition"]: int(i.get("offset", -1)) for i in found[tables.PARTITION_COMMITS]})
        return out

    def newest(self, room_id: str, limit: int, before_seq: int | None = None, keys_only: bool = False) -> list[dict]:
        """Up to `limit` of the room's message items, newest first, stored or not; `keys_only`:
        just what tells who sent which seq from where (no body)."""
        condition, values = "roomId = :r", {":r": room_id}
        if before_seq is not None:
            condition, values[":b"] = "roomId = :r AND seq < :b", before_seq
        extra = {"ProjectionExpression": "roomId, seq, senderId, clientMsgId, #p, #o",
                 "ExpressionAttributeNames": {"#p": "partition", "#o": "offset"}} if keys_only else {}
        return list(self.query(tables.MESSAGES, KeyConditionExpression=condition, ExpressionAttributeValues=values,
                               ScanIndexForward=False, ConsistentRead=True, Limit=limit, max_items=limit, **extra))

    def stored_newest(self, room_id: str, limit: int, commits: dict[str, int] | None = None,
                      keys_only: bool = False) -> list[dict]:
        """Up to `limit` of the room's stored messages, newest first (what a failed or running
        attempt wrote above them is skipped)."""
        commits = dict(commits or {})
        out: list[dict] = []
        before = None
        while len(out) < limit:
            page = self.newest(room_id, max(limit, LATEST_PAGE), before, keys_only)
            if not page:
                break
            unknown = {i["partition"] for i in page if i.get("partition") not in commits}
            if unknown:
                commits.update(self.commits(unknown))
            out.extend(i for i in page if is_stored(i, commits))
            if out or len(page) < max(limit, LATEST_PAGE):
                break   # stored items are contiguous from the top once one is found
            before = page[-1]["seq"]
        return out[:limit]

    def settled(self, items: Iterable[Mapping[str, Any]], commits: dict[str, int] | None = None) -> list[dict]:
        """The items as stored (`settle`), reading the commits of the partitions their change
        overlays name that `commits` (updated in place) does not have yet."""
        items = list(items)
        commits = {} if commits is None else commits
        unknown = {i["next"].get("partition") for i in items if i.get("next")} - set(commits)
        if unknown:
            commits.update(self.commits(unknown))
        return [settle(i, commits) for i in items]

    def latest(self, room_ids: Iterable[str], keys_only: bool = False) -> dict[str, dict | None]:
        """Each room's newest stored message item (None: none yet), the rooms read in parallel;
        `keys_only`: without the body (enough for its seq)."""
        rooms = list(dict.fromkeys(room_ids))
        pages: dict[str, list[dict]] = {}

        def top(room: str) -> None:
            pages[room] = self.newest(room, LATEST_PAGE, keys_only=keys_only)

        self.in_parallel(top, rooms)
        commits = self.commits({i["partition"] for page in pages.values() for i in page if i.get("partition")})
        out: dict[str, dict | None] = {}
        for room in rooms:
            stored = [i for i in pages[room] if is_stored(i, commits)]
            if stored or len(pages[room]) < LATEST_PAGE:
                out[room] = stored[0] if stored else None
            else:   # more unstored items than a page on top (a big batch in flight): look deeper
                deeper = self.stored_newest(room, 1, commits, keys_only)
                out[room] = deeper[0] if deeper else None
            if out[room] is not None:
                out[room] = self.settled([out[room]], commits)[0]
        return out

    def stored_at(self, room_id: str, partition: str, offsets: Iterable[int], page: int | None = None,
                  commits: Mapping[str, int] | None = None) -> dict[int, dict]:
        """The room's stored messages that the records at these offsets of `partition` became
        (offset -> item); a record that stored nothing (refused, a resend) is absent. Reads
        newest first, a page at a time (by default a few more than asked for: they are usually
        the newest), and stops below the smallest offset asked for. `commits`: the partitions'
        commits as the caller read them (at least as far as these offsets), else read here."""
        wanted = set(offsets)
        if not wanted:
            return {}
        page = page or len(wanted) + STORED_AT_SLACK
        commits = dict(commits) if commits is not None and partition in commits else self.commits([partition])
        committed = commits[partition]
        found: dict[int, dict] = {}
        before = None
        while True:
            items = self.newest(room_id, page, before)
            for item in items:
                if item.get("partition") == partition and item.get("offset") in wanted \
                        and item["offset"] <= committed:
                    found[item["offset"]] = self.settled([item], commits)[0]
            if not items or len(items) < page or len(found) == len(wanted) or any(
                    i.get("partition") == partition and i.get("offset", 0) < min(wanted) for i in items):
                return found
            before = items[-1]["seq"]
            page = min(page * 2, MAX_STORED_AT_PAGE)   # deeper than expected: larger steps

    def heads(self, room_ids: Iterable[str]) -> dict[str, dict]:
        """{roomId: {"roomId", "lastSeq", "lastMessage"}} for the rooms with a stored message."""
        return {room: {"roomId": room, "lastSeq": item["seq"], "lastMessage": last_message(item)}
                for room, item in self.latest(room_ids).items() if item is not None}


# --- the pool for batch chunks ----------------------------------------------------------------

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool per process for the chunks of batch calls (greenlets under gevent)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="store")
        return _POOL
