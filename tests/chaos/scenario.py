"""What every chaos scenario does around its crash: notice components that die on their
own, wait until every acked message is stored and every member has every stored message,
and read what the worker did from the runner's log. Used by test_kill.py (one broker) and
test_cluster_failover.py (three).
"""

from __future__ import annotations

import time
from collections import Counter

import orjson

from checks import acked_missing


class Watch:
    """Notices components that died on their own, notes it with their log, restarts them."""

    def __init__(self, stack, load, killed: str = ""):
        self.stack, self.load, self.killed = stack, load, killed
        self.expected = [name for name in stack.components if stack.is_running(name)]
        self.deaths: list[tuple[float, str, str]] = []    # (at, component, last log lines)
        self.paused = False                                 # while `killed` is down on purpose
        self.away: set[str] = set()                         # others down on purpose

    def __call__(self) -> None:
        for name in self.expected:
            if (self.paused and name == self.killed) or name in self.away or self.stack.is_running(name):
                continue
            at = time.monotonic() - self.load.t0
            self.load.mark(f"{name} DIED on its own")
            self.deaths.append((at, name, self.stack.tail(name, 12)))
            self.stack.start(name)
            self.load.mark(f"{name} restarted by the test")


def drain(traffic, messages, timeout: float, tick) -> float:
    """Wait until every acked message is stored (or timeout). Returns the seconds it took."""
    start = time.monotonic()
    while acked_missing(traffic, messages) and time.monotonic() - start < timeout:
        tick()
        time.sleep(0.5)
    traffic.mark("pipeline drained")
    return time.monotonic() - start


def delivered(traffic, messages, timeout: float) -> None:
    """Wait until every member saw every stored seq of its room (or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = {room: sum(1 for _ in messages.messages_after(room, 0)) for room in traffic.rooms}
        if all(set(range(1, counts[p.room] + 1)) <= p.seen_seqs() for p in traffic.participants):
            break
        time.sleep(0.5)
    traffic.mark("receivers settled")


def log_offset(stack, name: str) -> int:
    path = stack.log_path(name)
    return path.stat().st_size if path.exists() else 0


def worker_stats(stack, offset: int) -> Counter:
    """What the worker did since `offset` of the ESM log: its `batch_handled` counters
    (stored, replayed, recovered, resent ...) plus retried and dead-lettered batches."""
    stats: Counter = Counter()
    with open(stack.log_path("esm"), "rb") as log:
        log.seek(offset)
        for line in log:
            if b"transient failure" in line:
                stats["transient retries"] += 1
            if b"dead-lettered" in line:
                stats["dead-lettered batches"] += 1
            if b'"batch_handled"' not in line:
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            stats["batches"] += 1
            stats.update({k: v for k, v in event.items() if isinstance(v, int) and not isinstance(v, bool)})
    return stats


def evidence(stack, component: str, traffic) -> str:
    notes = [f"--- {p.name}: " + " | ".join(list(p.notes)[-8:]) for p in traffic.participants if p.drops or p.errors]
    return "\n".join([f"--- {component} log:", stack.tail(component, 25), "--- esm log:", stack.tail("esm", 25),
                      *notes[:6]])
