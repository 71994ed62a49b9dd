"""The load test's messages and what one simulated user makes of those delivered to it.

The body of message n is ``"{clientMsgId}|{send time}|{padding}"`` where clientMsgId is
``u{user index}.{n}``: the receiver reads the send time (time.time(), the same clock for
every process on this machine) and the sender's own sequence number from it.
"""

from __future__ import annotations

from local.loadtest.stats import Second


def message_body(client_msg_id: str, sent_at: float, padding: str) -> str:
    return f"{client_msg_id}|{sent_at:.6f}|{padding}"


class Deliveries:
    """One user's deliveries of its room: the first copy of each seq counts, a second copy is
    a duplicate (same clientMsgId) or a seq conflict (another one); a seq below the highest
    seen is out of order; the delivery latency is read from the body's send time."""

    __slots__ = ("room_id", "seen", "max_seq", "received")

    def __init__(self, room_id: str):
        self.room_id = room_id
        self.seen: dict[int, str] = {}    # seq -> clientMsgId, of deliveries received
        self.max_seq = 0
        self.received: set[str] = set()   # clientMsgIds delivered to this user

    def record(self, event: dict, now: float, second: Second) -> None:
        counts = second.counts
        counts.add("delivered")
        seq = event.get("seq")
        body = event.get("body") or ""
        cmid = event.get("clientMsgId")
        head, _, rest = body.partition("|")
        if not cmid:
            cmid = head
        if event.get("room") != self.room_id or not isinstance(seq, int):
            counts.add("delivered_foreign")
            return
        known = self.seen.get(seq)
        if known is not None:
            counts.add("duplicates" if known == cmid else "seq_conflicts")
            return
        self.seen[seq] = cmid
        if seq < self.max_seq:
            counts.add("out_of_order")
        else:
            self.max_seq = seq
        self.received.add(cmid)
        counts.add("delivered_unique")
        stamp, _, _ = rest.partition("|")
        try:
            second.delivery.record(now - float(stamp))
        except ValueError:
            counts.add("delivered_unparsable_body")
