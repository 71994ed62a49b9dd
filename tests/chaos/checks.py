"""Hold a finished ``Traffic`` run to the guarantees (docs/guarantees.md) and summarise it.

Store, per room (read with ``functions.store.Messages.messages_after(room, 0)``):
- seqs are exactly 1..N and every messageId is ``{room}:{seq}``;
- no (sender, clientMsgId) is stored twice (resends included), every stored message is one
  the driver sent, with the body it sent;
- every acked message is stored (zero loss); unacked ones at most once;
- each sender's messages appear in its send order.
Receivers, per member (after catch-up): saw every stored seq of the room, first copies in
ascending seq order, every duplicate with the stored messageId/clientMsgId/body.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

MAX_LISTED = 8   # problems of one kind listed in full; the rest are counted


@dataclass
class Report:
    scenario: str
    problems: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    _counts: Counter = field(default_factory=Counter)

    def problem(self, kind: str, text: str) -> None:
        self._counts[kind] += 1
        if self._counts[kind] <= MAX_LISTED:
            self.problems.append(f"{kind}: {text}")
        elif self._counts[kind] == MAX_LISTED + 1:
            self.problems.append(f"{kind}: (more not listed)")

    @property
    def kinds(self) -> set[str]:
        return set(self._counts)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        n = self.numbers
        lines = [f"chaos[{self.scenario}]: {'OK' if self.ok else 'FAILED'}"]
        lines.append("  timeline: " + "; ".join(f"{t:.1f}s {what}" for t, what in self.timeline))
        lines.append(
            f"  traffic: {n['senders']} members in {n['rooms']} rooms; {n['sent']} messages sent in "
            f"{n['attempts']} attempts ({n['attempts'] - n['sent']} resends), {n['acked']} acked, "
            f"{n['unacked']} unacked ({n['unacked_stored']} of them stored), {n['rejected']} rejected; "
            f"errors {dict(n['errors']) or '{}'}; reconnects {n['reconnects']}")
        lines.append(
            f"  store: {n['stored']} stored; acked missing {n['acked_missing']}, stored twice "
            f"{n['stored_twice']}, seq gaps {n['seq_gaps']}, sender order breaks {n['order_breaks']}, "
            f"unknown {n['unknown_stored']}")
        lines.append(
            f"  delivery: {n['events']} message events to {n['senders']} members, {n['dup_events']} duplicates "
            f"(all with the stored messageId: {n['dup_mismatch'] == 0}); missing {n['missing_events']}, "
            f"out of order {n['out_of_order']}, live gaps {n['live_gaps']}")
        if n.get("worker"):
            lines.append(f"  worker (ESM log): {dict(n['worker'])}")
        if "acked_while_down" in n:
            lines.append(f"  outage: {n['acked_while_down']} messages acked while it was down")
        if n.get("store_delay_ms"):
            p50, worst = n["store_delay_ms"]
            lines.append(f"  store delay (storedAt - sentAt): p50 {p50:.0f} ms, max {worst:.0f} ms")
        if n.get("latency_ms"):
            p50, p99, worst = n["latency_ms"]
            lines.append(f"  ack latency: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms")
        for text in self.problems:
            lines.append(f"  PROBLEM {text}")
        return "\n".join(lines)


def stored_by_room(traffic, messages) -> dict[str, list[dict]]:
    return {room: list(messages.messages_after(room, 0)) for room in traffic.rooms}


def acked_missing(traffic, messages) -> int:
    """Acked messages not (yet) in the store: the drain is done when this is 0."""
    missing = 0
    for room, items in stored_by_room(traffic, messages).items():
        have = {(m["senderId"], m["clientMsgId"]) for m in items}
        missing += sum(1 for p in traffic.in_room(room) for cid in p.acked if (p.user_id, cid) not in have)
    return missing


def check(traffic, messages, scenario: str, stored: dict[str, list[dict]] | None = None) -> Report:
    """stored: the rooms as ``stored_by_room`` read them, if the caller has them already."""
    report = Report(scenario, timeline=list(traffic.timeline))
    n = report.numbers
    n.update(senders=len(traffic.participants), rooms=len(traffic.rooms), errors=Counter(),
             sent=0, attempts=0, acked=0, unacked=0, unacked_stored=0, rejected=0, reconnects=0,
             stored=0, acked_missing=0, stored_twice=0, seq_gaps=0, order_breaks=0, unknown_stored=0,
             events=0, dup_events=0, dup_mismatch=0, missing_events=0, out_of_order=0, live_gaps=0)
    latencies = []
    for p in traffic.participants:
        n["sent"] += len(p.sent)
        n["attempts"] += p.attempts
        n["acked"] += len(p.acked)
        n["unacked"] += len([c for c in p.sent if c not in p.acked])
        n["rejected"] += len(p.rejected)
        n["reconnects"] += max(0, len(p.connections) - 1)
        n["errors"].update(p.errors)
        latencies += [a[3] * 1000 for a in p.acked.values() if a[3] is not None]
        if p.crash:
            report.problem("driver", f"{p.name}'s thread crashed: {p.crash}")
        for cid, code in p.rejected.items():
            report.problem("rejected", f"{p.name} {cid} refused with {code}")
    if latencies:
        latencies.sort()
        n["latency_ms"] = (statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))],
                           latencies[-1])
    delays = []
    for room, items in (stored if stored is not None else stored_by_room(traffic, messages)).items():
        _check_room(report, traffic, room, items)
        delays += sorted(int(m["storedAt"]) - int(m["sentAt"]) for m in items if m.get("storedAt"))
    if delays:
        n["store_delay_ms"] = (statistics.median(delays), max(delays))
    return report


def _check_room(report: Report, traffic, room: str, items: list[dict]) -> None:
    n = report.numbers
    members = {p.user_id: p for p in traffic.in_room(room)}
    n["stored"] += len(items)
    seqs = [int(m["seq"]) for m in items]
    if seqs != list(range(1, len(items) + 1)):
        n["seq_gaps"] += 1
        report.problem("seq gap", f"{room}: seqs are not 1..{len(items)}: {_ranges(seqs)}")
    by_key: dict[tuple[str, str], list[int]] = {}
    for m in items:
        by_key.setdefault((m["senderId"], m["clientMsgId"]), []).append(int(m["seq"]))
        if m.get("messageId") != f"{room}:{m['seq']}":
            report.problem("message id", f"{room} seq {m['seq']} has messageId {m.get('messageId')!r}")
        sender = members.get(m["senderId"])
        if sender is None or m["clientMsgId"] not in sender.sent:
            n["unknown_stored"] += 1
            report.problem("unknown", f"{room} seq {m['seq']}: {m['senderId']} {m['clientMsgId']} was never sent")
        elif m["body"] != f"{sender.user_id}#{sender.sent[m['clientMsgId']]}":
            report.problem("body", f"{room} seq {m['seq']}: body {m['body']!r} for {m['clientMsgId']}")
    for (sender, cid), at in by_key.items():
        if len(at) > 1:
            n["stored_twice"] += 1
            report.problem("stored twice", f"{room}: {sender} {cid} at seqs {at}")
    for p in members.values():
        for cid in p.acked:
            if (p.user_id, cid) not in by_key:
                n["acked_missing"] += 1
                report.problem("LOST", f"{room}: acked {p.user_id} #{p.sent[cid]} ({cid}, ack "
                                       f"partition/offset {p.acked[cid][1]}/{p.acked[cid][2]}) is not stored")
        n["unacked_stored"] += sum(1 for cid in p.sent if cid not in p.acked and (p.user_id, cid) in by_key)
        order = [p.sent[m["clientMsgId"]] for m in items
                 if m["senderId"] == p.user_id and m["clientMsgId"] in p.sent]
        if order != sorted(order):
            n["order_breaks"] += 1
            report.problem("sender order", f"{room}: {p.user_id}'s messages stored in the order {order[:30]}")
    _check_receivers(report, traffic, room, {int(m["seq"]): m for m in items})


def _check_receivers(report: Report, traffic, room: str, stored: dict[int, dict]) -> None:
    n = report.numbers
    for p in traffic.in_room(room):
        n["events"] += len(p.received)
        n["live_gaps"] += len(p.live_gaps)
        first: list[int] = []
        seen: set[int] = set()
        for r in p.received:
            m = stored.get(r.seq)
            if m is None:
                report.problem("phantom", f"{p.name} got seq {r.seq} ({r.cid}) that is not stored")
                continue
            if (r.message_id, r.cid, r.sender, r.body) != (m["messageId"], m["clientMsgId"], m["senderId"], m["body"]):
                n["dup_mismatch"] += 1
                report.problem("mismatch", f"{p.name} got seq {r.seq} as {r.message_id}/{r.cid}/{r.body!r}, "
                                           f"stored {m['messageId']}/{m['clientMsgId']}/{m['body']!r}")
            if r.seq in seen:
                n["dup_events"] += 1
                continue
            seen.add(r.seq)
            first.append(r.seq)
        if first != sorted(first):
            n["out_of_order"] += 1
            report.problem("receiver order", f"{p.name} got seqs in the order {_ranges(first)}")
        missing = sorted(set(stored) - seen)
        if missing:
            n["missing_events"] += len(missing)
            report.problem("not delivered", f"{p.name} never got seqs {_ranges(missing)} of {len(stored)} "
                                            f"(connections {[(e, round(t - traffic.t0, 1)) for e, t in p.connections]}, "
                                            f"live gaps {p.live_gaps[:5]})")


def _ranges(values: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3,7,9-10' (order kept, so a step back shows)."""
    out: list[str] = []
    start = prev = None
    for v in values:
        if prev is not None and v == prev + 1:
            prev = v
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = v
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ",".join(out)
