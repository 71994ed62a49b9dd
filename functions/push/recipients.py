"""Who gets a push for a room's newly stored messages: pure rules, no I/O.

A member gets one push, for the latest message of the batch that is not their own, when:
- they had no live subscription to the room on any edge (the room item's unexpired `subs`,
  read once the chat worker has stored the messages: as fan-out saw it);
- they have not muted the room (`mutedUntil` in the future);
- they have not read it already (`readSeq` below the message), and
- no earlier push for the room is still unread (`pushedSeq` above `readSeq`): one
  notification per room until they read it. A retried batch finds its own `pushedSeq`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from functions.push.member_state import awaiting_read, muted

PREVIEW_CHARS = 120
GENERIC_BODY = "New message"


@dataclass(frozen=True)
class Recipient:
    user_id: str
    message: Mapping[str, Any]      # the stored message item the push is about


def choose(messages: Iterable[Mapping[str, Any]], members: Iterable[Mapping[str, Any]], online: set[str],
           now_ms: int) -> list[Recipient]:
    """messages: the room's messages stored by this batch; members: its member items."""
    items = sorted(messages, key=lambda m: m["seq"])
    out = []
    for member in members:
        user = member["userId"]
        latest = next((m for m in reversed(items) if m["senderId"] != user), None)
        if latest is None or user in online or muted(member, now_ms):
            continue
        if int(member.get("readSeq") or 0) >= latest["seq"] or awaiting_read(member):
            continue
        out.append(Recipient(user, latest))
    return out


def text(message: Mapping[str, Any], room_name: str | None, preview: bool) -> tuple[str, str]:
    """(title, body) of the push. Without preview the text never leaves the backend."""
    title = room_name or "tidings"
    if not preview:
        return title, GENERIC_BODY
    body = " ".join(str(message.get("body") or "").split())
    if len(body) > PREVIEW_CHARS:
        body = body[:PREVIEW_CHARS - 1] + "…"
    return title, f"{message['senderId']}: {body}"
