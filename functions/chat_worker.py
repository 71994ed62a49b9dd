"""The Kafka-triggered chat worker: validate, store exactly once in room order, fan out.

`handler(event, context)` takes Lambda's Kafka event (MSK or self-managed) as is and returns
`{"batchItemFailures": [...]}` listing only records that cannot even be parsed (not base64
JSON objects), for the ESM to retry and dead-letter. Refused records (invalid fields, unknown
room, not a member) get an error event to the sender and count as handled. Store errors
raise (the batch is retried; docs/architecture.md "Storage" makes the retry exact):
1. one BatchGetItem: room_heads and members this warm worker does not already know
   (functions.worker_memory); rooms only for non-members' records;
2. per partition, in offset order: replay / resend (in the head's dedup window) / new
   (lastSeq + 1) / refused;
3. BatchWriteItem messages (chunks in parallel), then room_heads: the head is the commit
   point, so a message is read or delivered only once its head covers it;
4. BatchGetItem rooms (their subscribers, read after the write), then one batched POST per edge
   (functions.delivery); 410-gone connections are forgotten.
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
from functions.connections import Connections, by_edge, live_subscribers
from functions.delivery import Deliverer
from functions.events import KafkaEvent, KafkaRecord
from functions.entry import WarmHandler
from functions.logs import bind_invocation, get_logger
from functions.settings import Settings
from functions.store import RoomHead, Store, dedup_digest, message_event, message_item
from functions.worker_memory import WorkerMemory

log = get_logger("tidings.chat_worker")

MAX_CONNECTION_ID_CHARS = 256
PRESENCE_STATES = ("join", "leave")


class Unparseable(ValueError):
    """Not a base64 JSON object at all: reported in batchItemFailures."""


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
    def digest(self) -> str:
        return dedup_digest(self.senderId, self.clientMsgId)

    @property
    def sender_known(self) -> bool:
        return bool(self.value.get("connectionId")) and isinstance(self.connectionId, str) and _is_url(self.edgeUrl)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _match(value: Any, pattern) -> bool:
    return isinstance(value, str) and bool(pattern.match(value))


def _invalid(v: dict, key: bytes | None) -> str | None:
    """Why a record is invalid (the first reason), or None."""
    kind, body, sent_at, conn = v.get("type"), v.get("body"), v.get("sentAt"), v.get("connectionId")
    checks = (
        (v.get("v", c.SCHEMA_VERSION) == c.SCHEMA_VERSION, f"unsupported schema version {v.get('v')!r}"),
        (kind in c.RECORD_KINDS, f"unknown record type {kind!r}"),
        (_match(v.get("roomId"), c.ROOM_ID_RE), "invalid roomId"),
        (_match(v.get("senderId"), c.USER_ID_RE), "invalid senderId"),
        (v.get("senderRole") in c.ROLES, "invalid senderRole"),
        (type(sent_at) is int and sent_at >= 0, "invalid sentAt"),
        (isinstance(conn, str) and 0 < len(conn) <= MAX_CONNECTION_ID_CHARS, "invalid connectionId"),
        (_is_url(v.get("edgeUrl")), "invalid edgeUrl"),
        (key is None or key == str(v.get("roomId")).encode(), "record key is not the room id"),
        (kind != c.RECORD_SEND or _match(v.get("clientMsgId"), c.CLIENT_MSG_ID_RE), "invalid clientMsgId"),
        (kind != c.RECORD_SEND or (isinstance(body, str) and body.strip() != ""), "body must be non-empty text"),
        (kind != c.RECORD_SEND or not isinstance(body, str) or len(body) <= c.MAX_BODY_CHARS,
         f"body longer than {c.MAX_BODY_CHARS} characters"),
        (kind != c.RECORD_PRESENCE or v.get("state") in PRESENCE_STATES, "invalid presence state"),
    )
    return next((reason for ok, reason in checks if not ok), None)


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
class Plan:
    """Everything one invocation decided: writes in order, deliveries in order."""
    rooms: dict[str, dict] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)
    messages: list[dict] = field(default_factory=list)
    heads: list[dict] = field(default_factory=list)
    # Each partition's rooms (of valid records), and every room's head as of the end of this
    # batch (None: none yet): what WorkerMemory keeps once the batch is written.
    partition_rooms: dict[str, set[str]] = field(default_factory=dict)
    final_heads: dict[str, dict | None] = field(default_factory=dict)
    # ("room", room_id, event, exclude_user, exclude_conn) | ("conn", edge_url, connection_id, event)
    deliveries: list[tuple] = field(default_factory=list)
    # Deliveries of a message stored before (a replay, a resend): (delivery index, room, seq).
    earlier: list[tuple[int, str, int]] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)


class ChatWorker:
    def __init__(self, settings: Settings, *, store: Store | None = None, connections: Connections | None = None,
                 deliverer: Deliverer | None = None, clock=time.time):
        self.store = store or Store(settings)
        self.connections = connections or Connections(settings, self.store.client, clock=clock)
        self.deliverer = deliverer or Deliverer(settings)
        self.memory = WorkerMemory(settings.member_cache_s)
        self.clock = clock

    def __call__(self, event: dict, context: Any = None) -> dict:
        bind_invocation(context)
        kafka = KafkaEvent(event)
        if not kafka.is_kafka:
            raise ValueError(f"not a Kafka event: eventSource={event.get('eventSource')!r}")
        failures: list[dict] = []
        partitions: list[tuple[str, list[Rec]]] = []
        offsets: dict[str, tuple[int, int]] = {}   # partition -> (first, last) offset in the batch
        for key, records in kafka.partitions():
            if records:
                offsets[key] = (min(r.offset for r in records), max(r.offset for r in records))
            parsed = []
            for record in sorted(records, key=lambda r: r.offset):
                try:
                    parsed.append(parse(record))
                except Unparseable as exc:
                    log.warning("unparseable_record", partition=key, offset=record.offset, error=str(exc))
                    failures.append({"itemIdentifier": {"partition": key, "offset": record.offset}})
            partitions.append((key, parsed))
        started = time.perf_counter()
        try:
            plan = self.plan(partitions, offsets)
            planned = time.perf_counter()
            self.write(plan)
        except BaseException:
            self.memory.forget(offsets)   # belt and braces: the retry reads the heads again
            raise
        self._remember(offsets, plan)
        written = time.perf_counter()
        self.fan_out(plan)
        plan.stats["unparseable"] = len(failures)
        log.info("batch_handled", **{k: v for k, v in plan.stats.items() if v},
                 plan_ms=round((planned - started) * 1000, 1), write_ms=round((written - planned) * 1000, 1),
                 fan_out_ms=round((time.perf_counter() - written) * 1000, 1))
        return {"batchItemFailures": failures}

    # --- 1 + 2: read what the batch needs, decide every record -----------------------------
    def plan(self, partitions: list[tuple[str, list[Rec]]], offsets: dict[str, tuple[int, int]]) -> Plan:
        p = Plan()
        now = self.clock()
        valid = [(key, r) for key, recs in partitions for r in recs if r.error is None]
        p.partition_rooms = {key: {r.roomId for r in recs if r.error is None} for key, recs in partitions}
        heads: dict[str, dict | None] = {}
        for key, rooms in p.partition_rooms.items():
            if key in offsets:
                heads.update(self.memory.heads(key, offsets[key][0], rooms))
        pairs = {(r.roomId, r.senderId) for _k, r in valid}
        members = self.memory.known_members(pairs)
        unread_heads = {r.roomId for _k, r in valid} - set(heads)
        found = self.store.batch_get({
            tables.ROOM_HEADS: [{"roomId": room} for room in unread_heads],
            tables.MEMBERS: [{"roomId": room, "userId": user} for room, user in pairs - members],
        })
        heads.update(dict.fromkeys(unread_heads))
        heads.update({i["roomId"]: i for i in found[tables.ROOM_HEADS]})
        read_members = {(i["roomId"], i["userId"]) for i in found[tables.MEMBERS]}
        self.memory.remember_members(read_members)
        members |= read_members
        # A member row means the room exists; only a non-member's room is looked up, to tell
        # "unknown room" from "forbidden". The rooms (with subscribers) are read in fan_out.
        strangers = {r.roomId for _k, r in valid if (r.roomId, r.senderId) not in members}
        if strangers:
            p.rooms = {i["roomId"]: i for i in
                       self.store.batch_get({tables.ROOMS: [{"roomId": r} for r in strangers]})[tables.ROOMS]}
        p.existing = set(p.rooms) | {room for room, _user in members}
        states: dict[str, RoomHead] = {}
        for key, recs in partitions:
            for rec in recs:
                if rec.error is not None:
                    p.stats["rejected"] += 1
                    self._error(p, rec, *rec.error)
                    continue
                if rec.roomId not in states:
                    states[rec.roomId] = RoomHead.of(heads.get(rec.roomId), key)
                state = states[rec.roomId]
                is_member = (rec.roomId, rec.senderId) in members
                if rec.type == c.RECORD_SEND:
                    self._send(p, rec, state, is_member, now)
                else:
                    self._signal(p, rec, state, is_member)
        for room_id, state in states.items():
            if state.dirty and room_id in p.existing:
                p.heads.append(state.item(room_id, int(now * 1000)))
        p.final_heads = {room_id: heads.get(room_id) for room_id in states}
        p.final_heads.update({h["roomId"]: h for h in p.heads})
        self._resolve_earlier(p)
        return p

    def _resolve_earlier(self, p: Plan) -> None:
        """A replay or a resend is answered with the message as stored (committed, or in this
        batch), not as this record says: a resend may carry another body."""
        if not p.earlier:
            return
        by_key = {(m["roomId"], m["seq"]): m for m in p.messages}
        missing = [{"roomId": r, "seq": s} for _i, r, s in p.earlier if (r, s) not in by_key]
        if missing:
            by_key.update({(m["roomId"], m["seq"]): m
                           for m in self.store.batch_get({tables.MESSAGES: missing})[tables.MESSAGES]})
        for index, room_id, seq in p.earlier:
            if (room_id, seq) in by_key:
                delivery = p.deliveries[index]
                at = 2 if delivery[0] == "room" else 3
                p.deliveries[index] = (*delivery[:at], message_event(by_key[room_id, seq]), *delivery[at + 1:])

    def _remember(self, offsets: dict[str, tuple[int, int]], p: Plan) -> None:
        for key, rooms in p.partition_rooms.items():
            if key in offsets:
                self.memory.remember_heads(key, offsets[key][1] + 1,
                                           {room: p.final_heads[room] for room in rooms if room in p.final_heads})

    def _send(self, p: Plan, rec: Rec, state: RoomHead, is_member: bool, now: float) -> None:
        seq = state.seq_of(rec.digest)
        if rec.offset <= state.head_offset:
            # Handled before (the batch is retried): delivered again to the room if it was
            # stored; a refused one stays refused.
            if seq is None:
                p.stats["replay_skipped"] += 1
                return
            p.stats["replayed"] += 1
            item = message_item(rec.roomId, seq, rec.value, rec.partition, rec.offset, 0)
            p.earlier.append((len(p.deliveries), rec.roomId, seq))
            p.deliveries.append(("room", rec.roomId, message_event(item), None, None))
        elif seq is not None:
            # A client resend (same clientMsgId, another record): not stored again; the sender
            # hears the stored message again, to match its clientMsgId with a messageId.
            p.stats["resent"] += 1
            state.advance(rec.offset)
            if rec.sender_known:
                item = message_item(rec.roomId, seq, rec.value, rec.partition, rec.offset, 0)
                p.earlier.append((len(p.deliveries), rec.roomId, seq))
                p.deliveries.append(("conn", rec.edgeUrl, rec.connectionId, message_event(item)))
        else:
            if rec.roomId in p.existing:
                state.advance(rec.offset)  # a refused record is handled too: its replay is skipped
            if self._admit(p, rec, is_member):
                item = message_item(rec.roomId, state.last_seq + 1, rec.value, rec.partition, rec.offset,
                                    int(now * 1000))
                p.messages.append(item)
                state.append(rec.offset, item, rec.digest)
                p.deliveries.append(("room", rec.roomId, message_event(item), None, None))
                p.stats["stored"] += 1

    def _signal(self, p: Plan, rec: Rec, state: RoomHead, is_member: bool) -> None:
        """Typing and presence: fanned out in room order, never stored. A replayed one is
        stale and dropped; presence is the edge's own report, so only typing is answered."""
        typing = rec.type == c.RECORD_TYPING
        if rec.offset <= state.head_offset or not self._admit(p, rec, is_member, quiet=not typing,
                                                              leaving=rec.state == "leave"):
            return
        p.stats[rec.type] += 1
        if typing:
            event = {"type": c.EVENT_TYPING, "room": rec.roomId, "userId": rec.senderId, "role": rec.senderRole,
                     "at": rec.sentAt}
            p.deliveries.append(("room", rec.roomId, event, rec.senderId, None))  # not to the typist
        else:
            event = {"type": c.EVENT_PRESENCE, "room": rec.roomId, "userId": rec.senderId, "state": rec.state,
                     "at": rec.sentAt}
            p.deliveries.append(("room", rec.roomId, event, None, rec.connectionId))

    def _admit(self, p: Plan, rec: Rec, is_member: bool, quiet: bool = False, leaving: bool = False) -> bool:
        """Room exists and the sender is a member (a leave needs no membership); else refuse."""
        if rec.roomId not in p.existing:
            code, message = c.ERR_UNKNOWN_ROOM, f"room {rec.roomId} does not exist"
        elif not is_member and not leaving:
            code, message = c.ERR_FORBIDDEN, f"not a member of room {rec.roomId}"
        else:
            return True
        p.stats["rejected"] += 1
        if not quiet:
            self._error(p, rec, code, message)
        return False

    def _error(self, p: Plan, rec: Rec, code: str, message: str) -> None:
        if not rec.sender_known:
            log.warning("refused_record_no_sender", partition=rec.partition, offset=rec.offset, code=code)
            return
        ref = rec.clientMsgId if isinstance(rec.clientMsgId, str) else None
        extra = {"room": rec.roomId} if isinstance(rec.roomId, str) else {}
        p.deliveries.append(("conn", rec.edgeUrl, rec.connectionId, c.error_event(code, message, ref, **extra)))

    # --- 3: store (raises on failure: the batch is retried) --------------------------------
    def write(self, p: Plan) -> None:
        # The messages, then the heads that commit them. A failure in between leaves messages
        # above their head: never read, and rewritten by the retry, which decides from the
        # same head (their seq may differ if a membership changed meanwhile; nobody saw them).
        if p.messages:
            self.store.batch_write({tables.MESSAGES: p.messages})
        if p.heads:
            self.store.batch_write({tables.ROOM_HEADS: p.heads})

    # --- 4: deliver, one POST per edge; forget what is gone --------------------------------
    def fan_out(self, p: Plan) -> None:
        now = self.clock()
        # Subscribers are read again now that the messages are stored: an edge registers a
        # subscription before its catch-up reads the store, so a client that subscribed
        # while this batch was in flight is either in this read or sees the messages there.
        rooms = {d[1] for d in p.deliveries if d[0] == "room"}
        if rooms:
            p.rooms.update({i["roomId"]: i for i in
                            self.store.batch_get({tables.ROOMS: [{"roomId": r} for r in rooms]})[tables.ROOMS]})
        subs = {room_id: live_subscribers(item, now) for room_id, item in p.rooms.items()}
        per_edge: dict[str, list] = defaultdict(list)
        for delivery in p.deliveries:
            if delivery[0] == "conn":
                _kind, edge, conn, event = delivery
                per_edge[edge].append(([conn], event))
                continue
            _kind, room_id, event, exclude_user, exclude_conn = delivery
            for edge, conns in by_edge(subs.get(room_id, {}), exclude_user, exclude_conn).items():
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
        try:
            self.connections.remove_gone({room_id: [conn for conn in gone if conn in (item.get("subs") or {})]
                                          for room_id, item in p.rooms.items()}, gone)
        except Exception:
            log.exception("remove_gone_failed", connections=len(gone))


def make_handler(settings: Settings, *, client=None, deliverer: Deliverer | None = None, clock=time.time) -> ChatWorker:
    """A handler (callable as handler(event, context)) with its collaborators injected."""
    return ChatWorker(settings, store=Store(settings, client), deliverer=deliverer, clock=clock)


# Lambda entry point. Clients are built on the first call and reused while warm.
handler = WarmHandler(lambda: make_handler(Settings.from_env()))
