"""Deciding one partition's batch, without I/O: which records become which messages, and
what goes to whom.

Per record, in offset order:
- offset <= the partition's committed offset: handled before (the batch is retried after
  its commit, e.g. the fan-out did not finish): the stored message is delivered again if the
  room's window still knows it; anything else is dropped (a typing from back then is stale);
- a `chat.send` whose senderId|clientMsgId is in the room's dedup window: a client resend,
  not stored again; the sender gets the stored message back, to match its clientMsgId;
- a `chat.send` from a member of an existing room: seq = last seq + 1, stored, delivered;
- a `chat.send` with `replyTo`: as above, carrying the quote of the (stored, not deleted)
  message it replies to, which remembers the reply (functions.message_changes);
- a `chat.send` with `attachment: {key}`: as above if the key was presigned for this room to
  the sender and its check did not reject it (functions.attachments), carrying {key, attId,
  contentType, bytes}; a key never presigned is not_found, another's forbidden;
- an edit / delete / reaction (functions.message_changes) from a member: applied to the
  working copy of its message (one of this batch, or a stored one as stored: read before,
  overlays settled). A stored message is written with its new state in a change overlay
  (`next`, functions/store.py), which counts once the batch commits and is folded in after;
  members get the change's event. A change the message remembers (`ops`) is a client resend:
  not applied again, the sender gets the state back;
- typing / presence: fanned out in room order, never stored;
- anything refused (contract broken, unknown room, not a member, a change the rules do not
  allow, a message that is not there): an error to the sender, nothing changed.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from functions import contracts as c
from functions import message_changes as changes
from functions.chat_records import ChatRecord, Delivery, ToConnection, ToRoom
from functions.room_state import RoomState
from functions.message_items import CHANGE_FIELDS, message_event, message_item


@dataclass
class Plan:
    messages: list[dict] = field(default_factory=list)          # items to write, in order
    # stored messages changed: written (in `messages`) with the change overlay; `folds` are
    # their settled items, written after the commit; `changed` their keys, for the claim
    folds: list[dict] = field(default_factory=list)
    changed: frozenset = frozenset()
    deliveries: list[Delivery] = field(default_factory=list)    # in room order
    # deliveries of a message stored before (a replay, a resend): index -> (room, seq); the
    # event is replaced by the stored item's before anything is sent
    earlier: dict[int, tuple[str, int]] = field(default_factory=dict)
    touched: dict[str, tuple[int, int]] = field(default_factory=dict)   # room -> (last seq before, after)
    has_sends: bool = False                 # chat records past the committed offset
    # rooms whose subscribers changed (an edge reports a join or a leave right after the
    # subscription changed): the fan-out reads them again instead of a remembered copy
    resubscribed: set[str] = field(default_factory=set)
    stats: Counter = field(default_factory=Counter)


class Planner:
    def __init__(self, committed_offset: int, rooms: Mapping[str, RoomState], members: set[tuple[str, str]],
                 existing: set[str], stored_at_ms: int, *, items: Mapping[tuple[str, int], dict] | None = None,
                 creators: Mapping[str, str] | None = None, edit_window_ms: int = 900_000,
                 attachments: Mapping[tuple[str, str], dict] | None = None):
        self.committed = committed_offset
        self.rooms = rooms
        self.members = members
        self.existing = existing
        self.stored_at_ms = stored_at_ms
        # working copies of the stored messages the batch's changes and replies name (seq at
        # most the room's stored last seq), plus the batch's new messages as they are planned
        self.items: dict[tuple[str, int], dict] = dict(items or {})
        self.creators = creators or {}
        self.edit_window_ms = edit_window_ms
        self.attachments = attachments or {}    # (roomId, attId) -> attachment item, for sends naming one
        self.new: set[tuple[str, int]] = set()
        self.changed: dict[tuple[str, int], dict] = {}   # stored messages to write again
        self.before: dict[tuple[str, int], dict] = {}    # ... as they were stored
        self.change_at: dict[tuple[str, int], tuple[str, int]] = {}   # ... (partition, offset) of their last change
        self.plan = Plan()

    def decide(self, records: list[ChatRecord]) -> Plan:
        for rec in records:
            if rec.type in c.RECORD_STORED and rec.offset > self.committed:
                self.plan.has_sends = True   # a record to commit as handled, stored or not
            if rec.error is not None:
                self.plan.stats["rejected"] += 1
                self._error(rec, *rec.error)
            elif rec.offset <= self.committed:
                self._replayed(rec)
            elif rec.type == c.RECORD_SEND:
                self._send(rec)
            elif rec.type in c.RECORD_CHANGES:
                self._change(rec)
            else:
                self._signal(rec)
        for key, item in self.changed.items():
            partition, offset = self.change_at[key]
            state = {k: copy.deepcopy(item[k]) for k in CHANGE_FIELDS if k in item}
            self.plan.messages.append({**self.before[key], "next": {"partition": partition, "offset": offset,
                                                                    "state": state}})
            self.plan.folds.append(item)
        self.plan.changed = frozenset(self.changed)
        return self.plan

    def _replayed(self, rec: ChatRecord) -> None:
        if rec.type in c.RECORD_CHANGES:   # handled before: the message's state now, to the room
            item = self.items.get(rec.target)
            event = changes.state_event(rec.type, item, rec.sender_id, rec.value) if item is not None else None
            if event is None:
                self.plan.stats["replay_skipped"] += 1
                return
            self.plan.stats["replayed"] += 1
            self.plan.deliveries.append(ToRoom(rec.room_id, event))
            return
        state = self.rooms.get(rec.room_id)
        seq = state.seq_at(rec.offset) if state is not None and rec.type == c.RECORD_SEND else None
        if seq is None:
            self.plan.stats["replay_skipped"] += 1
            return
        self.plan.stats["replayed"] += 1
        self._earlier(ToRoom(rec.room_id, {}), rec.room_id, seq)

    def _send(self, rec: ChatRecord) -> None:
        state = self.rooms[rec.room_id]
        seq = state.seq_of(rec.digest)
        if seq is not None:   # a client resend: the sender hears the stored message again
            self.plan.stats["resent"] += 1
            if rec.sender_known:
                self._earlier(ToConnection(rec.edge_url, rec.connection_id, {}), rec.room_id, seq)
            return
        if not self._admit(rec):
            return
        replied, quote = None, None
        if rec.target is not None:
            try:
                replied = self._message(rec.target)
                quote = changes.quote_of(replied)
            except changes.Refused as refused:
                self._refuse(rec, refused)
                return
        try:
            photo = self._photo(rec)
        except changes.Refused as refused:
            self._refuse(rec, refused)
            return
        base = self.plan.touched.get(rec.room_id, (state.last_seq, 0))[0]
        item = message_item(rec.room_id, state.last_seq + 1, rec.value, rec.partition, rec.offset, self.stored_at_ms,
                            reply_to=quote, attachment=photo)
        state.append(item["seq"], rec.digest, rec.offset)
        self.plan.touched[rec.room_id] = (base, item["seq"])
        self.plan.messages.append(item)
        key = (rec.room_id, item["seq"])
        self.items[key] = item
        self.new.add(key)
        if replied is not None:
            changes.add_reply(replied, item["seq"])
            self._changed(rec.target, replied, rec)
        self.plan.deliveries.append(ToRoom(rec.room_id, message_event(item)))
        self.plan.stats["stored"] += 1

    def _photo(self, rec: ChatRecord) -> dict | None:
        """What the message keeps of the photo it refers to (none: None)."""
        if rec.attachment is None:
            return None
        found = self.attachments.get(rec.attachment)
        key = c.attachment_key(*rec.attachment)
        if found is None:
            raise changes.Refused(c.ERR_NOT_FOUND, f"no attachment {key} (presign it first)")
        if found.get("uploadedBy") != rec.sender_id:
            raise changes.Refused(c.ERR_FORBIDDEN, "an attachment is sent by whoever uploaded it")
        if found.get("status") == "rejected":
            raise changes.Refused(c.ERR_BAD_REQUEST, f"attachment {key} was rejected: {found.get('reason')}")
        return {"key": key, "attId": found["attId"], "contentType": found.get("contentType"),
                "bytes": found.get("bytes")}

    def _change(self, rec: ChatRecord) -> None:
        """An edit, delete or reaction: applied once to its message, in room order."""
        if not self._admit(rec):
            return
        try:
            item = self._message(rec.target)
        except changes.Refused as refused:
            self._refuse(rec, refused)
            return
        if changes.applied_at(item, rec.digest) is not None:   # a client resend: the sender hears the state
            self.plan.stats["resent"] += 1
            event = changes.state_event(rec.type, item, rec.sender_id, rec.value)
            if event is not None and rec.sender_known:
                self.plan.deliveries.append(ToConnection(rec.edge_url, rec.connection_id, event))
            return
        try:
            if rec.type == c.RECORD_EDIT:
                event = changes.edit(item, rec.sender_id, rec.value, rec.digest, rec.offset, self.edit_window_ms)
            elif rec.type == c.RECORD_DELETE:
                event = changes.delete(item, rec.sender_id, rec.value, rec.digest, rec.offset,
                                       self.creators.get(rec.room_id))
                self._scrub_quotes(item, rec)
            else:
                event = changes.react(item, rec.sender_id, rec.value, rec.digest, rec.offset)
        except changes.Refused as refused:
            self._refuse(rec, refused)
            return
        self._changed(rec.target, item, rec, visibly=True)
        self.plan.deliveries.append(ToRoom(rec.room_id, event))
        self.plan.stats[rec.type] += 1

    def _message(self, key: tuple[str, int]) -> dict:
        item = self.items.get(key)
        if item is None:
            raise changes.Refused(c.ERR_NOT_FOUND, f"no message {c.message_id(*key)}")
        if key not in self.new and key not in self.before:   # as stored, before any change of this batch
            self.before[key] = copy.deepcopy(item)
        return item

    def _changed(self, key: tuple[str, int], item: dict, rec: ChatRecord, visibly: bool = False) -> None:
        """`item` (got from `_message`) was changed by `rec`: write it with the batch, a stored
        one as a change overlay of `rec`'s offset. `visibly`: members see the change, so a client
        coming back after the room's seq it had finds it (`changedSeq`: the room's seq then)."""
        if visibly:
            item["changedSeq"] = self.rooms[key[0]].last_seq
        if key not in self.new:
            self.changed[key] = item
            self.change_at[key] = (rec.partition, rec.offset)

    def _scrub_quotes(self, deleted: dict, rec: ChatRecord) -> None:
        """The replies to a deleted message keep who and which, not what it said."""
        for seq in deleted.get("replies") or ():
            key = (deleted["roomId"], seq)
            if key not in self.items:
                continue
            reply = self._message(key)
            quoted = reply.get("replyTo") or {}
            if quoted.get("seq") == deleted["seq"] and not quoted.get("deleted"):
                reply["replyTo"] = changes.scrubbed(quoted)
                self._changed(key, reply, rec, visibly=True)

    def _refuse(self, rec: ChatRecord, refused: changes.Refused) -> None:
        self.plan.stats["rejected"] += 1
        self._error(rec, refused.code, refused.message)

    def _signal(self, rec: ChatRecord) -> None:
        """Typing and presence: presence is the edge's own report, so only typing is answered."""
        typing = rec.type == c.RECORD_TYPING
        if not typing:
            self.plan.resubscribed.add(rec.room_id)
        if not self._admit(rec, quiet=not typing, leaving=rec.state == "leave"):
            return
        self.plan.stats[rec.type] += 1
        if typing:
            event = {"type": c.EVENT_TYPING, "room": rec.room_id, "userId": rec.sender_id,
                     "role": rec.sender_role, "at": rec.sent_at}
            self.plan.deliveries.append(ToRoom(rec.room_id, event, exclude_user=rec.sender_id))
        else:
            event = {"type": c.EVENT_PRESENCE, "room": rec.room_id, "userId": rec.sender_id,
                     "state": rec.state, "at": rec.sent_at}
            self.plan.deliveries.append(ToRoom(rec.room_id, event, exclude_connection=rec.connection_id))

    def _admit(self, rec: ChatRecord, quiet: bool = False, leaving: bool = False) -> bool:
        """The room exists and the sender is a member (a leave needs no membership)."""
        if rec.room_id not in self.existing:
            code, message = c.ERR_UNKNOWN_ROOM, f"room {rec.room_id} does not exist"
        elif (rec.room_id, rec.sender_id) not in self.members and not leaving:
            code, message = c.ERR_FORBIDDEN, f"not a member of room {rec.room_id}"
        else:
            return True
        self.plan.stats["rejected"] += 1
        if not quiet:
            self._error(rec, code, message)
        return False

    def _earlier(self, delivery: Delivery, room_id: str, seq: int) -> None:
        self.plan.earlier[len(self.plan.deliveries)] = (room_id, seq)
        self.plan.deliveries.append(delivery)

    def _error(self, rec: ChatRecord, code: str, message: str) -> None:
        if not rec.sender_known:
            self.plan.stats["refused_no_sender"] += 1
            return
        ref = rec.client_msg_id if isinstance(rec.client_msg_id, str) else None
        extra = {"room": rec.room_id} if isinstance(rec.room_id, str) else {}
        self.plan.deliveries.append(ToConnection(rec.edge_url, rec.connection_id,
                                                 c.error_event(code, message, ref, **extra)))
