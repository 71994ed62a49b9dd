"""The Kafka-triggered chat worker: validate, store exactly once in room order, fan out.

`handler(event, context)` takes Lambda's Kafka event (MSK or self-managed) as is and returns
`{"batchItemFailures": [...]}` listing only records that cannot even be parsed (not base64
JSON objects), for the event source mapping to retry and dead-letter. Refused records
(invalid fields, unknown room, not a member) get an error event to the sender and count as
handled. Store errors raise (the batch is retried; docs/architecture.md "Storage").

Per partition of the event, one invocation at a time (the mapping's guarantee):
1. what the warm worker remembers, if the partition's offsets continue where it left them
   (functions.worker_memory); else the partition's commit item, and each room's newest
   stored messages (last seq, dedup window), read once;
2. memberships not remembered, in one BatchGetItem (rooms only for non-members' records);
3. the decisions (functions.chat_plan): new messages take the room's next seqs;
4. claim the partition, write the messages (BatchWriteItem, unconditional: deterministic
   keys), commit the partition's offset (functions.partition_commit): one conditional write
   before and one after, however many rooms the batch touched;
5. fan-out: each room's subscribers (remembered for a moment, else one BatchGetItem), one
   batched POST per edge (functions.delivery); 410-gone connections are forgotten.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections import Counter, defaultdict
from typing import Any

from functions import contracts, tables
from functions.chat_plan import Plan, Planner
from functions.chat_records import ChatRecord, Delivery, ToConnection, Unparseable, invalid_reason, parse
from functions.connections import Connections, by_edge, live_subscribers
from functions.delivery import Deliverer
from functions.entry import WarmHandler
from functions.events import KafkaEvent
from functions.logs import bind_invocation, get_logger
from functions.partition_commit import CommitState, Fenced, PartitionCommits, Pending, new_attempt
from functions.room_state import RoomState
from functions.settings import Settings
from functions.message_items import message_event
from functions.store import Store
from functions.worker_memory import PartitionMemory, WorkerMemory

__all__ = ["ChatWorker", "handler", "invalid_reason", "make_handler"]

log = get_logger("tidings.chat_worker")


class ChatWorker:
    def __init__(self, settings: Settings, *, store: Store | None = None, connections: Connections | None = None,
                 deliverer: Deliverer | None = None, clock=time.time):
        self.store = store or Store(settings)
        self.connections = connections or Connections(settings, self.store.client, clock=clock)
        self.deliverer = deliverer or Deliverer(settings)
        self.commits = PartitionCommits(self.store)
        self.memory = WorkerMemory(settings.member_cache_s, settings.subs_cache_s)
        self.edit_window_ms = int(settings.edit_window_s * 1000)
        self.clock = clock

    def __call__(self, event: dict, context: Any = None) -> dict:
        bind_invocation(context)
        kafka = KafkaEvent(event)
        if not kafka.is_kafka:
            raise ValueError(f"not a Kafka event: eventSource={event.get('eventSource')!r}")
        started = time.perf_counter()
        failures: list[dict] = []
        stats: Counter = Counter()
        deliveries: list[Delivery] = []
        rooms_read: dict[str, dict] = {}
        keys = []
        try:
            for key, records in kafka.partitions():
                if not records:
                    continue
                keys.append(key)
                parsed = []
                for record in sorted(records, key=lambda r: r.offset):
                    try:
                        parsed.append(parse(record))
                    except Unparseable as exc:
                        log.warning("unparseable_record", partition=key, offset=record.offset, error=str(exc))
                        failures.append({"itemIdentifier": {"partition": key, "offset": record.offset}})
                first, last = min(r.offset for r in records), max(r.offset for r in records)
                plan = self._partition(key, first, last, parsed, rooms_read)
                deliveries.extend(plan.deliveries)
                stats.update(plan.stats)
                self.memory.subscribers.forget(plan.resubscribed)
        except BaseException:
            self.memory.forget(keys)   # the retry reads the commit item and the rooms again
            raise
        stored = time.perf_counter()
        self.fan_out(deliveries, stats)
        stats["unparseable"] = len(failures)
        log.info("batch_handled", **{k: v for k, v in stats.items() if v},
                 store_ms=round((stored - started) * 1000, 1),
                 fan_out_ms=round((time.perf_counter() - stored) * 1000, 1))
        return {"batchItemFailures": failures}

    # --- one partition: read what it needs, decide, store ----------------------------------
    def _partition(self, key: str, first: int, last: int, records: list[ChatRecord],
                   rooms_read: dict[str, dict]) -> Plan:
        memory = self.memory.partition(key, first)
        if memory is not None:
            try:
                return self._decide_and_store(key, memory, last, records, rooms_read)
            except Fenced:
                # Another invocation moved the partition since this process last did: what it
                # remembers is stale. Once more from the store, at once.
                self.memory.forget([key])
                log.info("partition_moved_on", partition=key)
        commit = self.commits.read(key)
        return self._decide_and_store(key, PartitionMemory(commit, commit.offset), last, records, rooms_read)

    def _decide_and_store(self, key: str, memory: PartitionMemory, last: int, records: list[ChatRecord],
                          rooms_read: dict[str, dict]) -> Plan:
        valid = [r for r in records if r.error is None]
        self._load_rooms(memory, {r.room_id for r in valid})
        members, existing = self._memberships(valid, rooms_read)
        targets, settle_too = self._targets(key, memory, valid)
        plan = Planner(memory.commit.offset, memory.rooms, members, existing, int(self.clock() * 1000),
                       items=targets, creators=self._creators(valid, rooms_read),
                       edit_window_ms=self.edit_window_ms, attachments=self._attachments(valid)).decide(records)
        self._store(key, memory, plan, last, settle_too)
        memory.handled = max(memory.handled, last)
        self.memory.keep(key, memory)
        self._resolve_earlier(plan)
        return plan

    def _load_rooms(self, memory: PartitionMemory, rooms: set[str]) -> None:
        """Each room's last seq and dedup window, from its newest stored messages (once per room
        while this process keeps the partition)."""
        missing = [room for room in rooms if memory.room(room) is None]
        if not missing:
            return
        loaded: dict[str, RoomState] = {}

        def load(room: str) -> None:
            loaded[room] = RoomState.from_items(self.store.stored_newest(room, tables.DEDUP_WINDOW, keys_only=True))

        self.store.in_parallel(load, missing)
        memory.rooms.update(loaded)

    def _targets(self, key: str, memory: PartitionMemory, valid: list[ChatRecord]
                 ) -> tuple[dict[tuple[str, int], dict], dict[tuple[str, int], dict]]:
        """The stored messages the batch's changes and replies name, and the replies of those it
        deletes (their quotes go too), as stored (change overlays settled): at most two
        BatchGetItems, none for a batch of plain sends. Also those of them that still carry an
        overlay, settled: written back as they are (uncommitted: gone; committed: folded in)."""
        commits = {key: memory.commit.offset}
        raw: dict[tuple[str, int], dict] = {}

        def stored(keys: set) -> dict[tuple[str, int], dict]:
            keys = {(room, seq) for room, seq in keys
                    if memory.room(room) is not None and seq <= memory.room(room).last_seq}
            if not keys:
                return {}
            found = self.store.batch_get({tables.MESSAGES: [{"roomId": r, "seq": s} for r, s in keys]})
            raw.update({(i["roomId"], int(i["seq"])): i for i in found[tables.MESSAGES]})
            return {(i["roomId"], int(i["seq"])): i for i in self.store.settled(found[tables.MESSAGES], commits)}

        items = stored({r.target for r in valid if r.target is not None})
        replies = {(r.room_id, seq) for r in valid if r.type == contracts.RECORD_DELETE and r.target in items
                   for seq in items[r.target].get("replies") or ()}
        items.update(stored(replies - set(items)))
        return items, {k: copy.deepcopy(items[k]) for k, item in raw.items() if item.get("next")}

    def _attachments(self, valid: list[ChatRecord]) -> dict[tuple[str, str], dict]:
        """The attachment items the batch's sends refer to (one BatchGetItem; none without)."""
        keys = {r.attachment for r in valid if r.attachment is not None}
        if not keys:
            return {}
        found = self.store.batch_get({tables.ATTACHMENTS: [{"roomId": r, "attId": a} for r, a in keys]})
        return {(i["roomId"], i["attId"]): i for i in found[tables.ATTACHMENTS]}

    def _creators(self, valid: list[ChatRecord], rooms_read: dict[str, dict]) -> dict[str, str]:
        """Who created each room a delete is about (the creator may delete any message)."""
        rooms = {r.room_id for r in valid if r.type == contracts.RECORD_DELETE}
        unread = rooms - set(rooms_read)
        if unread:
            rooms_read.update(self.store.rooms(unread))
        return {room: rooms_read[room].get("createdBy") for room in rooms if room in rooms_read}

    def _memberships(self, valid: list[ChatRecord], rooms_read: dict[str, dict]) -> tuple[set, set]:
        """(members, existing rooms): a member row proves the room exists; only a non-member's
        room is read, to tell `unknown_room` from `forbidden`."""
        pairs = {(r.room_id, r.sender_id) for r in valid}
        members = self.memory.known_members(pairs)
        if pairs - members:
            found = self.store.batch_get({tables.MEMBERS: [{"roomId": room, "userId": user}
                                                           for room, user in pairs - members]})
            read = {(i["roomId"], i["userId"]) for i in found[tables.MEMBERS]}
            self.memory.remember_members(read)
            members |= read
        strangers = {room for room, user in pairs if (room, user) not in members} - set(rooms_read)
        if strangers:
            rooms_read.update(self.store.rooms(strangers))
        existing = {room for room, _user in members} | {r for r in {p[0] for p in pairs} if r in rooms_read}
        return members, existing

    def _store(self, key: str, memory: PartitionMemory, plan: Plan, last: int,
               settle_too: dict[tuple[str, int], dict]) -> None:
        """Claim, write, commit (functions.partition_commit), then fold the committed change
        overlays into their messages. Nothing to write and no failed attempt to clean up: only
        the commit, and only for batches with chat records (a typing-only batch is not worth a
        write; its replay just re-sends stale typing)."""
        seen = memory.commit
        claimed: Pending | None = None
        if plan.messages or seen.pending is not None:
            previous = seen.pending or Pending("")
            claimed = previous.merged(new_attempt(), plan.touched, plan.changed)
            self.commits.claim(key, seen, claimed)
        deletes = self._leftovers(memory, seen.pending, plan)
        # overlays failed attempts gave messages this batch does not change: gone before the commit
        left = set(seen.pending.changed if seen.pending is not None else ()) - set(plan.changed) - set(settle_too)
        if left:
            found = self.store.batch_get({tables.MESSAGES: [{"roomId": r, "seq": s} for r, s in left]})
            settle_too.update({(i["roomId"], int(i["seq"])): i for i in
                               self.store.settled(found[tables.MESSAGES], {key: seen.offset})})
        cleared = [item for k, item in settle_too.items() if k not in plan.changed]
        if plan.messages or deletes or cleared:
            self.store.batch_write({tables.MESSAGES: [*cleared, *plan.messages]}, deletes={tables.MESSAGES: deletes})
        if claimed is not None or plan.has_sends:
            offset = max(last, seen.offset)   # a batch of replays never moves the commit back
            self.commits.commit(key, seen, offset, claimed)
            memory.commit = CommitState(offset)
        if plan.folds:   # committed: the messages' new state is theirs now (a deleted body is gone)
            self.store.batch_write({tables.MESSAGES: plan.folds})
        plan.stats["deleted_leftovers"] += len(deletes)
        plan.stats["folded"] += len(plan.folds)

    @staticmethod
    def _leftovers(memory: PartitionMemory, pending: Pending | None, plan: Plan) -> list[dict]:
        """Keys failed attempts may have written that this one does not: above what each room
        now holds, up to the highest seq any of them planned."""
        if pending is None:
            return []
        out = []
        for room, (base, high) in pending.rooms.items():
            state = memory.rooms.get(room)
            holds = max(base, state.last_seq if state is not None and room in plan.touched else base)
            out.extend({"roomId": room, "seq": seq} for seq in range(holds + 1, high + 1))
        return out

    def _resolve_earlier(self, plan: Plan) -> None:
        """A replay or a resend is answered with the message as stored, not as this record
        says: a resend may carry another body."""
        if not plan.earlier:
            return
        by_key = {(m["roomId"], m["seq"]): m for m in plan.messages}
        missing = [{"roomId": r, "seq": s} for r, s in plan.earlier.values() if (r, s) not in by_key]
        if missing:
            by_key.update({(m["roomId"], m["seq"]): m
                           for m in self.store.batch_get({tables.MESSAGES: missing})[tables.MESSAGES]})
        for index, (room_id, seq) in sorted(plan.earlier.items()):
            item = by_key.get((room_id, seq))
            delivery = plan.deliveries[index]
            event = message_event(item) if item is not None else None
            plan.deliveries[index] = dataclasses.replace(delivery, event=event)
        plan.deliveries[:] = [d for d in plan.deliveries if d.event is not None]

    # --- fan-out: one POST per edge; forget what is gone -----------------------------------
    def fan_out(self, deliveries: list[Delivery], stats: Counter) -> None:
        now = self.clock()
        rooms = {d.room_id for d in deliveries if not isinstance(d, ToConnection)}
        # Read after the messages are stored: an edge adds a subscription before it reads the
        # room's stored seq, so one of the two sees the other (and an edge re-reads once the
        # copies remembered here have expired).
        items = self.memory.subscribers.read_through(rooms, self.store.rooms)
        subs = {room: live_subscribers(item, now) for room, item in items.items()}
        per_edge: dict[str, list] = defaultdict(list)
        for d in deliveries:
            if isinstance(d, ToConnection):
                per_edge[d.edge_url].append(([d.connection_id], d.event))
                continue
            for edge, conns in by_edge(subs.get(d.room_id, {}), d.exclude_user, d.exclude_connection).items():
                per_edge[edge].append((conns, d.event))
        if not per_edge:
            return
        stats["edges"] = len(per_edge)
        try:
            gone = self.deliverer.deliver(per_edge)
        except Exception:  # delivery is best effort: the store has the messages
            log.exception("deliver_failed")
            return
        if not gone:
            return
        stats["gone"] = len(gone)
        self.memory.subscribers.drop_connections(gone)
        try:
            self.connections.remove_gone({room: [c for c in gone if c in (item.get("subs") or {})]
                                          for room, item in items.items()}, gone)
        except Exception:
            log.exception("remove_gone_failed", connections=len(gone))


def make_handler(settings: Settings, *, client=None, deliverer: Deliverer | None = None, clock=time.time) -> ChatWorker:
    """A handler (callable as handler(event, context)) with its collaborators injected."""
    return ChatWorker(settings, store=Store(settings, client), deliverer=deliverer, clock=clock)


def _build() -> ChatWorker:
    settings = Settings.from_env()
    settings.require_deployable_secrets("the chat worker")
    return make_handler(settings)


# Lambda entry point. Clients are built on the first call and reused while warm.
handler = WarmHandler(_build)
