"""The Kafka-triggered chat worker: validate, store exactly once in room order, fan out.

`handler(event, context)` takes Lambda's Kafka event (MSK or self-managed) as is and
returns a partial batch response, `{"batchItemFailures": [...]}`, listing only records
that cannot even be parsed (not base64 / not a JSON object), so the event source mapping
retries and finally dead-letters them. Well-formed records that are refused (invalid
fields, unknown room, not a member) are answered with an error event to the sender and
count as handled. A store error raises: the whole batch is retried, and the algorithm of
docs/architecture.md ("Storage") makes the retry exact:

1. one BatchGetItem for the batch: rooms (+ subs), room_heads, members, message_ids;
2. per partition, in offset order, decide each record (replay / resend / half-finished
   attempt / new message / rejection), assigning seq = lastSeq + 1 to new messages;
3. BatchWriteItem message_ids, then messages, then room_heads (heads last: a head never
   covers a message that is not stored);
4. one batched POST per edge (functions.delivery); 410-gone connections are forgotten.
"""

from __future__ import annotations

import binascii
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from functions import contracts as c
from functions import tables
from functions.connections import Connections, live_subscribers
from functions.delivery import Deliverer
from functions.events import KafkaEvent, KafkaRecord
from functions.logs import bind_invocation, configure, get_logger
from functions.settings import Settings
from functions.store import (Store, dedup_item, dedup_key, head_item, last_message, message_event,
                             message_item)

log = get_logger("tidings.chat_worker")

MAX_CONNECTION_ID_CHARS = 256
PRESENCE_STATES = ("join", "leave")


class Unparseable(ValueError):
    """The record is not base64 JSON object at all: reported in batchItemFailures."""


@dataclass
class Rec:
    """A parsed record; `error` is (code, message) when it is well-formed but invalid."""
    partition: str
    offset: int
    value: dict
    error: tuple[str, str] | None = None

    def __getattr__(self, name: str) -> Any:  # rec.roomId, rec.senderId … from the value
        try:
            return self.__dict__["value"].get(name)
        except KeyError:
            raise AttributeError(name) from None

    @property
    def sender_known(self) -> bool:
        return (isinstance(self.value.get("connectionId"), str) and bool(self.value["connectionId"])
                and isinstance(self.value.get("edgeUrl"), str)
                and self.value["edgeUrl"].startswith(("http://", "https://")))


def _invalid(v: dict, key: bytes | None) -> str | None:
    """Why a record is invalid, or None."""
    def bad(name: str, pattern) -> bool:
        return not isinstance(v.get(name), str) or not pattern.match(v[name])

    if v.get("v", c.SCHEMA_VERSION) != c.SCHEMA_VERSION:
        return f"unsupported schema version {v.get('v')!r}"
    if v.get("type") not in c.RECORD_KINDS:
        return f"unknown record type {v.get('type')!r}"
    if bad("roomId", c.ROOM_ID_RE):
        return "invalid roomId"
    if bad("senderId", c.USER_ID_RE):
        return "invalid senderId"
    if v.get("senderRole") not in c.ROLES:
        return "invalid senderRole"
    sent_at = v.get("sentAt")
    if not isinstance(sent_at, int) or isinstance(sent_at, bool) or sent_at < 0:
        return "invalid sentAt"
    connection_id = v.get("connectionId")
    if not isinstance(connection_id, str) or not 0 < len(connection_id) <= MAX_CONNECTION_ID_CHARS:
        return "invalid connectionId"
    if not isinstance(v.get("edgeUrl"), str) or not v["edgeUrl"].startswith(("http://", "https://")):
        return "invalid edgeUrl"
    if key is not None and key != v["roomId"].encode():
        return "record key is not the room id"
    if v["type"] == c.RECORD_SEND:
        if bad("clientMsgId", c.CLIENT_MSG_ID_RE):
            return "invalid clientMsgId"
        body = v.get("body")
        if not isinstance(body, str) or not body.strip():
            return "body must be non-empty text"
        if len(body) > c.MAX_BODY_CHARS:
            return f"body longer than {c.MAX_BODY_CHARS} characters"
    if v["type"] == c.RECORD_PRESENCE and v.get("state") not in PRESENCE_STATES:
        return "invalid presence state"
    return None


def parse(record: KafkaRecord) -> Rec:
    try:
        value = record.json_value
        key = record.decoded_key
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise Unparseable(f"not base64 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise Unparseable("the value is not a JSON object")
    reason = _invalid(value, key)
    return Rec(record.partition_key, record.offset, value, (c.ERR_BAD_REQUEST, reason) if reason else None)


@dataclass
class RoomState:
    head: dict | None
    partition: str
    last_seq: int = 0
    head_offset: int = -1           # replays are offsets <= this (same partition only)
    new_offset: int = -1
    last_message: dict | None = None
    dirty: bool = False

    @classmethod
    def of(cls, head: dict | None, partition: str) -> "RoomState":
        if not head:
            return cls(None, partition)
        same = head.get("lastPartition", partition) == partition
        return cls(head, partition, int(head.get("lastSeq", 0)), int(head.get("lastOffset", -1)) if same else -1,
                   -1, head.get("lastMessage"))

    def advance(self, offset: int, item: dict | None = None) -> None:
        self.new_offset = max(self.new_offset, offset, self.head_offset)
        if item is not None and item["seq"] >= self.last_seq:
            self.last_seq = item["seq"]
            self.last_message = last_message(item)
        self.dirty = True


@dataclass
class Plan:
    """Everything one invocation decided: writes in order, deliveries in order."""
    rooms: dict[str, dict] = field(default_factory=dict)
    ids: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    heads: list[dict] = field(default_factory=list)
    # ("room", room_id, event, exclude_user, exclude_conn) | ("conn", edge_url, connection_id, event)
    deliveries: list[tuple] = field(default_factory=list)
    resent: list[tuple[int, str, int]] = field(default_factory=list)  # (delivery index, room, seq)
    stats: Counter = field(default_factory=Counter)


class ChatWorker:
    def __init__(self, settings: Settings, *, store: Store | None = None, connections: Connections | None = None,
                 deliverer: Deliverer | None = None, clock=time.time):
        self.settings = settings
        self.store = store or Store(settings)
        self.connections = connections or Connections(settings, self.store.client, clock=clock)
        self.deliverer = deliverer or Deliverer(settings)
        self.clock = clock

    def __call__(self, event: dict, context: Any = None) -> dict:
        bind_invocation(context)
        kafka = KafkaEvent(event)
        if not kafka.is_kafka:
            raise ValueError(f"not a Kafka event: eventSource={event.get('eventSource')!r}")
        failures: list[dict] = []
        partitions: list[tuple[str, list[Rec]]] = []
        for key, records in kafka.partitions():
            parsed = []
            for record in sorted(records, key=lambda r: r.offset):
                try:
                    parsed.append(parse(record))
                except Unparseable as exc:
                    log.warning("unparseable_record", partition=key, offset=record.offset, error=str(exc))
                    failures.append({"itemIdentifier": {"partition": key, "offset": record.offset}})
            partitions.append((key, parsed))
        plan = self.plan(partitions)
        self.write(plan)
        self.fan_out(plan)
        plan.stats["unparseable"] = len(failures)
        log.info("batch_handled", **{k: v for k, v in plan.stats.items() if v})
        return {"batchItemFailures": failures}

    # --- 1 + 2: read what the batch needs, decide every record -----------------------------
    def plan(self, partitions: list[tuple[str, list[Rec]]]) -> Plan:
        p = Plan()
        now = self.clock()
        valid = [r for _k, recs in partitions for r in recs if r.error is None]
        sends = [r for r in valid if r.type == c.RECORD_SEND]
        found = self.store.batch_get({
            tables.ROOMS: [{"roomId": r.roomId} for r in valid],
            tables.ROOM_HEADS: [{"roomId": r.roomId} for r in sends],
            tables.MEMBERS: [{"roomId": r.roomId, "userId": r.senderId} for r in valid],
            tables.MESSAGE_IDS: [{"dedupKey": dedup_key(r.roomId, r.senderId, r.clientMsgId)} for r in sends],
        })
        p.rooms = {i["roomId"]: i for i in found[tables.ROOMS]}
        heads = {i["roomId"]: i for i in found[tables.ROOM_HEADS]}
        members = {(i["roomId"], i["userId"]) for i in found[tables.MEMBERS]}
        known = {i["dedupKey"]: i for i in found[tables.MESSAGE_IDS] if i.get("expiresAt", now + 1) > now}
        states: dict[str, RoomState] = {}
        for key, recs in partitions:
            for rec in recs:
                if rec.error is not None:
                    p.stats["rejected"] += 1
                    self._error(p, rec, *rec.error)
                    continue
                state = states.get(rec.roomId) or states.setdefault(rec.roomId, RoomState.of(heads.get(rec.roomId), key))
                is_member = (rec.roomId, rec.senderId) in members
                if rec.type == c.RECORD_SEND:
                    self._send(p, rec, state, known, is_member, now)
                else:
                    self._signal(p, rec, state, is_member)
        for room_id, state in states.items():
            if state.dirty and room_id in p.rooms:
                p.heads.append(head_item(room_id, state.last_seq, state.new_offset, state.partition,
                                         state.last_message, int(now * 1000)))
        if p.resent:  # a client resend is answered with the message as stored
            stored = self.store.batch_get({tables.MESSAGES: [{"roomId": r, "seq": s} for _i, r, s in p.resent]})
            by_key = {(m["roomId"], m["seq"]): m for m in stored[tables.MESSAGES]}
            for index, room_id, seq in p.resent:
                if (room_id, seq) in by_key:
                    kind, edge, conn, _event = p.deliveries[index]
                    p.deliveries[index] = (kind, edge, conn, message_event(by_key[room_id, seq]))
        return p

    def _send(self, p: Plan, rec: Rec, state: RoomState, known: dict, is_member: bool, now: float) -> None:
        dk = dedup_key(rec.roomId, rec.senderId, rec.clientMsgId)
        hit = known.get(dk)
        replay = rec.offset <= state.head_offset
        if hit is not None:
            item = message_item(rec.roomId, int(hit["seq"]), rec.value, rec.partition, rec.offset, int(now * 1000))
            if hit.get("offset") == rec.offset and hit.get("partition", rec.partition) == rec.partition:
                # The same record again: a replay (already stored) or a half-finished attempt.
                p.stats["replayed" if replay else "recovered"] += 1
                if not replay:
                    p.ids.append(dedup_item(rec.roomId, rec.senderId, rec.clientMsgId, item["seq"],
                                            rec.partition, rec.offset, now))
                    p.messages.append(item)
                    state.advance(rec.offset, item)
                p.deliveries.append(("room", rec.roomId, message_event(item), None, None))
            else:
                # A client resend (same clientMsgId, another record): not stored again.
                p.stats["resent"] += 1
                if not replay:
                    state.advance(rec.offset)
                if rec.sender_known:
                    p.resent.append((len(p.deliveries), rec.roomId, item["seq"]))
                    p.deliveries.append(("conn", rec.edgeUrl, rec.connectionId, message_event(item)))
            return
        if replay:  # handled before and not stored: it was refused then
            p.stats["replay_skipped"] += 1
            return
        if rec.roomId not in p.rooms:
            p.stats["rejected"] += 1
            self._error(p, rec, c.ERR_UNKNOWN_ROOM, f"room {rec.roomId} does not exist")
            return
        state.advance(rec.offset)
        if not is_member:
            p.stats["rejected"] += 1
            self._error(p, rec, c.ERR_FORBIDDEN, f"not a member of room {rec.roomId}")
            return
        item = message_item(rec.roomId, state.last_seq + 1, rec.value, rec.partition, rec.offset, int(now * 1000))
        known[dk] = dedup_item(rec.roomId, rec.senderId, rec.clientMsgId, item["seq"], rec.partition, rec.offset, now)
        p.ids.append(known[dk])
        p.messages.append(item)
        state.advance(rec.offset, item)
        p.stats["stored"] += 1
        p.deliveries.append(("room", rec.roomId, message_event(item), None, None))

    def _signal(self, p: Plan, rec: Rec, state: RoomState, is_member: bool) -> None:
        """Typing and presence: fanned out in room order, never stored."""
        if rec.offset <= state.head_offset:
            return  # a replayed signal is stale
        typing = rec.type == c.RECORD_TYPING
        if rec.roomId not in p.rooms:
            if typing:
                self._error(p, rec, c.ERR_UNKNOWN_ROOM, f"room {rec.roomId} does not exist")
            return
        if not is_member and (typing or rec.state == "join"):
            if typing:
                self._error(p, rec, c.ERR_FORBIDDEN, f"not a member of room {rec.roomId}")
            return
        if typing:
            p.stats["typing"] += 1
            event = {"type": c.EVENT_TYPING, "room": rec.roomId, "userId": rec.senderId,
                     "role": rec.senderRole, "at": rec.sentAt}
            p.deliveries.append(("room", rec.roomId, event, rec.senderId, None))
        else:
            p.stats["presence"] += 1
            event = {"type": c.EVENT_PRESENCE, "room": rec.roomId, "userId": rec.senderId,
                     "state": rec.state, "at": rec.sentAt}
            p.deliveries.append(("room", rec.roomId, event, None, rec.connectionId))

    def _error(self, p: Plan, rec: Rec, code: str, message: str) -> None:
        if not rec.sender_known:
            log.warning("refused_record_no_sender", partition=rec.partition, offset=rec.offset, code=code)
            return
        ref = rec.clientMsgId if isinstance(rec.clientMsgId, str) else None
        extra = {"room": rec.roomId} if isinstance(rec.roomId, str) else {}
        p.deliveries.append(("conn", rec.edgeUrl, rec.connectionId, c.error_event(code, message, ref, **extra)))

    # --- 3: store (raises on failure: the batch is retried) --------------------------------
    def write(self, p: Plan) -> None:
        if p.ids:
            self.store.batch_write({tables.MESSAGE_IDS: p.ids})
        if p.messages:
            self.store.batch_write({tables.MESSAGES: p.messages})
        if p.heads:
            self.store.batch_write({tables.ROOM_HEADS: p.heads})

    # --- 4: deliver, one POST per edge; forget what is gone --------------------------------
    def fan_out(self, p: Plan) -> None:
        now = self.clock()
        subs = {room_id: live_subscribers(item, now) for room_id, item in p.rooms.items()}
        per_edge: dict[str, list] = defaultdict(list)
        for delivery in p.deliveries:
            if delivery[0] == "conn":
                _kind, edge, conn, event = delivery
                per_edge[edge].append(([conn], event))
                continue
            _kind, room_id, event, exclude_user, exclude_conn = delivery
            by_edge: dict[str, list[str]] = defaultdict(list)
            for conn, entry in subs.get(room_id, {}).items():
                if conn != exclude_conn and (exclude_user is None or entry.get("u") != exclude_user):
                    by_edge[entry["e"]].append(conn)
            for edge, conns in by_edge.items():
                per_edge[edge].append((conns, event))
        if not per_edge:
            return
        p.stats["edges"] = len(per_edge)
        try:
            gone = self.deliverer.deliver(per_edge)
        except Exception:  # delivery is best effort: the store has the messages
            log.exception("deliver_failed")
            return
        if not gone:
            return
        p.stats["gone"] = len(gone)
        by_room = {room_id: [conn for conn in gone if conn in (item.get("subs") or {})]
                   for room_id, item in p.rooms.items()}
        by_room = {room_id: conns for room_id, conns in by_room.items() if conns}
        try:
            self.connections.remove_gone(by_room, gone)
        except Exception:
            log.exception("remove_gone_failed", connections=len(gone))


def make_handler(settings: Settings, *, client=None, deliverer: Deliverer | None = None, clock=time.time) -> ChatWorker:
    """A handler (callable as handler(event, context)) with its collaborators injected."""
    store = Store(settings, client)
    return ChatWorker(settings, store=store, connections=Connections(settings, store.client, clock=clock),
                      deliverer=deliverer, clock=clock)


_default: ChatWorker | None = None


def handler(event: dict, context: Any = None) -> dict:
    """Lambda entry point. Clients are built on the first call and reused while warm."""
    global _default
    if _default is None:
        configure()
        _default = make_handler(Settings.from_env())
    return _default(event, context)
