"""The notifier: a Lambda-shaped handler fed by a second event source mapping on the chat
topic, in its own consumer group (TIDINGS_PUSH_CONSUMER_GROUP). It never writes anything the
chat path reads, so a slow or absent push service delays only its own consumer group.

Per batch:
1. the `chat.send` records, then wait (polling the partitions' commits, up to
   TIDINGS_PUSH_STORE_WAIT_S) until the chat worker has committed them;
2. the rooms' items (live subscribers, name; remembered like the chat worker's, for
   TIDINGS_SUBS_CACHE_S and not past a presence record of the room: functions/remembered_rooms.py);
   a room where every member (remembered for
   TIDINGS_MEMBER_CACHE_S) other than the sender is online is done (the usual case in a busy
   chat); for the others: the message a record became (the room's stored item with that
   partition and offset: refused records, resends and replays stored nothing and get no
   push) and the member items (read marks, mutes, push marks), then `recipients.choose`;
3. per recipient: their devices, their total unread (the badge), one notification to each
   device (in parallel, `sending.with_retries`); dead devices are deleted; a push that went
   out sets the member's `pushedSeq`.
A push service still failing after the retries raises `PushUnavailable` (transient): the
batch is retried by the mapping, and members already pushed are skipped by their `pushedSeq`.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from functions import contracts as c
from functions import tables
from functions.connections import live_subscribers
from functions.events import KafkaEvent
from functions.entry import WarmHandler
from functions.logs import bind_invocation, get_logger
from functions.push import credentials
from functions.push.devices import Devices
from functions.push.member_state import MemberState
from functions.push.recipients import Recipient, choose, text
from functions.push.sending import Notification, Outcome, Result, with_retries
from functions.read_marks import unread
from functions.remembered_rooms import RememberedRooms
from functions.settings import Settings
from functions.store import Store

log = get_logger("tidings.notifier")
POLL_S = 0.1
MAX_REMEMBERED_ROOMS = 100_000
SEND_THREADS = 8


class NotYetStored(RuntimeError):
    """The chat worker has not handled these records yet (it is behind, or the store is away)."""
    transient = True


class PushUnavailable(RuntimeError):
    """A push service kept answering 429/5xx or could not be reached."""
    transient = True


@dataclass(frozen=True)
class Send:
    partition: str
    offset: int
    room: str
    sender: str
    client_msg_id: str


def sends_of(event: KafkaEvent) -> tuple[list[Send], set[str]]:
    """The well-formed chat.send records (anything else is the chat worker's to refuse), and
    the rooms of presence records: their subscribers changed."""
    out, resubscribed = [], set()
    for key, records in event.partitions():
        for record in records:
            try:
                v = record.json_value
            except Exception:  # noqa: BLE001 - not JSON: the chat worker dead-letters it
                continue
            if not isinstance(v, dict):
                continue
            if v.get("type") == c.RECORD_PRESENCE and isinstance(v.get("roomId"), str):
                resubscribed.add(v["roomId"])
            elif (v.get("type") == c.RECORD_SEND
                    and all(isinstance(v.get(f), str) for f in ("roomId", "senderId", "clientMsgId"))):
                out.append(Send(key, record.offset, v["roomId"], v["senderId"], v["clientMsgId"]))
    return out, resubscribed


def build_senders(settings: Settings) -> dict[str, Any]:
    from functions.push.apns import ApnsSender
    from functions.push.fcm import FcmSender
    from functions.push.webpush import WebPushSender

    keys = credentials.load(settings)
    makers = {"fcm": FcmSender, "apns": ApnsSender, "webpush": WebPushSender}
    return {platform: make(settings, keys[platform]) for platform, make in makers.items() if keys.get(platform)}


class Notifier:
    def __init__(self, settings: Settings, *, client=None, senders: dict[str, Any] | None = None,
                 clock=time.time, sleep=time.sleep):
        self.settings = settings
        self.store = Store(settings, client)
        self.devices = Devices(settings, self.store.client)
        self.members = MemberState(settings, self.store.client)
        self.senders = build_senders(settings) if senders is None else senders
        self.clock, self.sleep = clock, sleep
        self.pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="push")
        self._members: dict[str, tuple[float, set[str]]] = {}   # room -> (read at, member ids)
        self.rooms = RememberedRooms(settings.subs_cache_s)

    def __call__(self, event: dict, context: Any = None) -> dict:
        bind_invocation(context)
        kafka = KafkaEvent(event)
        if not kafka.is_kafka:
            raise ValueError(f"not a Kafka event: eventSource={event.get('eventSource')!r}")
        sends, resubscribed = sends_of(kafka)
        # A presence record precedes this batch's later sends; a copy read before it may miss
        # a join or keep a leave, so the batch reads those rooms afresh.
        self.rooms.forget(resubscribed)
        if not sends or not self.senders:
            return {"batchItemFailures": []}
        commits = self.await_committed(sends)
        stats: Counter = Counter()
        now = self.clock()
        rooms = self.rooms_of({s.room for s in sends})
        online = {r: {e.get("u") for e in live_subscribers(item, now).values()} for r, item in rooms.items()}
        # Only rooms where someone may be offline are read further (who stored what, read marks,
        # mutes): in a busy chat every member is usually online, and this runs for every message.
        maybe = [s for s in sends if s.room in rooms and self.known_members(s.room) - online[s.room] - {s.sender}]
        stored = self.stored(maybe, commits) if maybe else {}
        if stored:
            members: dict[str, list[dict]] = {}   # read fresh (read marks, mutes), rooms in parallel
            self.store.in_parallel(lambda room_id: members.__setitem__(room_id, self.members.of_room(room_id)),
                                   list(stored))
            chosen: list[tuple[Recipient, dict]] = []
            for room_id, items in stored.items():
                chosen += [(r, rooms[room_id]) for r in
                           choose(items, members[room_id], online[room_id], int(now * 1000))]
            stats.update(self.pool.map(lambda pair: self.push(*pair), chosen))
        log.info("push_batch", records=len(sends), rooms=len(rooms), maybe_offline=len({s.room for s in maybe}),
                 stored=sum(len(v) for v in stored.values()), **stats)
        if stats[Outcome.RETRY_LATER.value]:
            raise PushUnavailable(f"{stats[Outcome.RETRY_LATER.value]} push(es) to retry later")
        return {"batchItemFailures": []}

    # --- 1: what the chat worker stored ------------------------------------------------------
    def await_committed(self, sends: list[Send]) -> dict[str, int]:
        """Until the chat worker has committed every one of these records (stored or refused);
        the partitions' commits then."""
        deadline = self.clock() + self.settings.push_store_wait_s
        while True:
            commits = self.store.commits({s.partition for s in sends})
            waiting = sum(1 for s in sends if s.offset > commits[s.partition])
            if not waiting:
                return commits
            if self.clock() >= deadline:
                raise NotYetStored(f"{waiting} record(s) not stored after {self.settings.push_store_wait_s}s")
            self.sleep(POLL_S)

    def rooms_of(self, room_ids: set[str]) -> dict[str, dict]:
        """The rooms' items (subscribers, name): remembered ones, the others in one read."""
        return self.rooms.read_through(room_ids, self.store.rooms)

    def known_members(self, room_id: str) -> set[str]:
        """The room's member ids, remembered for TIDINGS_MEMBER_CACHE_S (who *may* need a push;
        the member items themselves are read fresh before anyone is chosen)."""
        now = self.clock()
        cached = self._members.get(room_id)
        if cached is not None and now - cached[0] < self.settings.member_cache_s:
            return cached[1]
        members = {m["userId"] for m in self.members.of_room(room_id)}
        self._members[room_id] = (now, members)
        if len(self._members) > MAX_REMEMBERED_ROOMS:
            self._members.pop(next(iter(self._members)))
        return members

    def stored(self, sends: list[Send], commits: dict[str, int]) -> dict[str, list[dict]]:
        """Room -> the message items these records became (committed as of `commits`); the
        rooms are read in parallel."""
        groups: dict[tuple[str, str], set[int]] = {}
        for s in sends:
            groups.setdefault((s.room, s.partition), set()).add(s.offset)
        found: dict[tuple[str, str], dict[int, dict]] = {}

        def read(group: tuple[str, str]) -> None:
            found[group] = self.store.stored_at(*group, groups[group], commits=commits)

        self.store.in_parallel(read, list(groups))
        out: dict[str, list[dict]] = {}
        for (room, _partition), items in found.items():
            out.setdefault(room, []).extend(items[o] for o in sorted(items))
        return {room: items for room, items in out.items() if items}

    # --- 3: one recipient ----------------------------------------------------------------------
    def push(self, recipient: Recipient, room: dict) -> str:
        devices = self.devices.of_user(recipient.user_id)
        if not devices:
            return "no_device"
        m = recipient.message
        title, body = text(m, room.get("name"), self.settings.push_preview)
        n = Notification(m["roomId"], m["seq"], m.get("messageId") or c.message_id(m["roomId"], m["seq"]),
                         m["senderId"], title, body, self.badge(recipient.user_id))
        outcomes = set()
        for device in devices:
            result = self.send(device, n)
            outcomes.add(result.outcome)
            fields = dict(device=device["deviceId"], platform=device["platform"], user=recipient.user_id,
                          room=n.room_id, seq=n.seq, status=result.status, reason=result.reason)
            if result.outcome is Outcome.DEAD:
                log.info("push_device_removed", removed=self.devices.forget(device), **fields)
            elif result.outcome is not Outcome.SENT:
                log.warning("push_" + result.outcome.value, **fields)
        if Outcome.SENT in outcomes:
            self.members.pushed(n.room_id, recipient.user_id, n.seq)
            return Outcome.SENT.value
        return Outcome.RETRY_LATER.value if Outcome.RETRY_LATER in outcomes else Outcome.FAILED.value

    def send(self, device: dict, n: Notification) -> Result:
        sender = self.senders.get(device.get("platform"))
        if sender is None:
            return Result(Outcome.FAILED, None, f"no credentials for {device.get('platform')}")
        try:
            return with_retries(lambda: sender.attempt(device, n), max_attempts=self.settings.push_max_attempts,
                                cap_s=self.settings.push_retry_after_cap_s, sleep=self.sleep)
        except Exception as exc:  # noqa: BLE001 - a sender's bug must not stop the others
            log.exception("push_sender_error", device=device.get("deviceId"))
            return Result(Outcome.FAILED, None, type(exc).__name__)

    def badge(self, user_id: str) -> int:
        """The user's unread messages over all their rooms."""
        rows = list(self.store.query(tables.MEMBERS, index="by_user", KeyConditionExpression="userId = :u",
                                     ExpressionAttributeValues={":u": user_id}))
        heads = self.store.heads([r["roomId"] for r in rows]) if rows else {}
        return sum(unread((heads.get(r["roomId"]) or {}).get("lastSeq"), r.get("readSeq")) for r in rows)


# Lambda entry point. Clients and senders are built on the first call, kept while warm.
handler = WarmHandler(lambda: Notifier(Settings.from_env()))
