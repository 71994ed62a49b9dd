"""What the three senders share: the notification, the outcome of a send, and the retry rule.

A send ends in one of four outcomes: SENT; DEAD (the service says the token or subscription
will never work again: the device is deleted); RETRY_LATER (429, 5xx, the service
unreachable: still so after `push_max_attempts` tries, or asked to wait longer than the
cap); FAILED (anything else: logged with the device id, never the token).
"""

from __future__ import annotations

import enum
import hashlib
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable

COLLAPSE_ID_MAX_BYTES = 64   # apns-collapse-id


class Outcome(enum.Enum):
    SENT = "sent"
    DEAD = "dead"
    RETRY_LATER = "retry_later"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class Notification:
    """One push: for a room, to one user (all their devices)."""
    room_id: str
    seq: int
    message_id: str
    sender_id: str
    title: str
    body: str
    badge: int

    @property
    def collapse_key(self) -> str:
        """Replaces the user's earlier notification for the room (FCM collapse_key / tag,
        apns-collapse-id, Web Push Topic); a room id too long for APNs becomes a digest."""
        if len(self.room_id.encode()) <= COLLAPSE_ID_MAX_BYTES:
            return self.room_id
        return hashlib.blake2b(self.room_id.encode(), digest_size=16).hexdigest()

    @property
    def topic(self) -> str:
        """RFC 8030 Topic: at most 32 base64url characters."""
        return hashlib.blake2b(self.room_id.encode(), digest_size=16).hexdigest()

    def data(self) -> dict[str, str]:
        return {"roomId": self.room_id, "seq": str(self.seq), "messageId": self.message_id,
                "senderId": self.sender_id}


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def by_status(status: int, headers, reason: str = "") -> Result:
    """The outcome every service shares for 429 and 5xx; others are FAILED unless the
    sender knows better (it checks its dead-token answers first)."""
    if status == 429 or 500 <= status <= 599:
        return Result(Outcome.RETRY_LATER, status, reason, retry_after_s(headers.get("retry-after")))
    if 200 <= status < 300:
        return Result(Outcome.SENT, status)
    return Result(Outcome.FAILED, status, reason)


def with_retries(attempt: Callable[[], Result], *, max_attempts: int, cap_s: float,
                 sleep: Callable[[float], None] = time.sleep, base_s: float = 0.5) -> Result:
    """Try until the outcome is final. Between tries: the service's Retry-After if it gave
    one, else exponential backoff with jitter. A Retry-After over the cap ends the tries at
    once (RETRY_LATER): the notifier's batch is retried later instead of a thread waiting."""
    result = attempt()
    for tries in range(1, max_attempts):
        if result.outcome is not Outcome.RETRY_LATER:
            return result
        if result.retry_after is not None:
            if result.retry_after > cap_s:
                return result
            pause = result.retry_after
        else:
            pause = min(base_s * 2 ** (tries - 1), cap_s) * (0.5 + random.random() / 2)
        sleep(pause)
        result = attempt()
    return result
