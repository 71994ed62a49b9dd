"""Kill -9 a real process of the stack under steady chat load, restart it, and prove the
guarantees (docs/guarantees.md): nothing acked is lost, everything is stored exactly once in
per-room order, every member (staying connected, or reconnecting with afterSeq) gets every
message, duplicates only with the same messageId.

One scenario per component: an edge (its clients move to the other edge), the ESM runner
(the worker dies mid-batch: the uncommitted batch is consumed again), the broker (produces
fail until it is back: senders resend the same clientMsgId) and the store (the worker
retries the batch until dynalite is back). Each prints a summary (see the "chaos
summaries" section of the pytest output).

A component that dies ON ITS OWN during a scenario (not the one killed) is a failure of the
scenario; it is restarted so the rest of the checks still say whether anything was lost.
"""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest

from checks import acked_missing, check
from functions.store import Messages

DOWN_S = 4.0            # how long the component stays dead
WARM_UP_ACKS = 80       # acked messages before the kill (steady load reached)
RECOVERY_ACKS = 60      # acked messages after the restart (traffic flows again)
GRACE_S = 25.0          # for the messages in flight when sending stops
DRAIN_S = 60.0          # for every acked message to be stored
DELIVERY_S = 30.0       # for every member to have every stored message


class Watch:
    """Notices components that died on their own, notes it with their log, restarts them."""

    def __init__(self, stack, load, killed: str):
        self.stack, self.load, self.killed = stack, load, killed
        self.expected = [name for name in stack.components if stack.is_running(name)]
        self.deaths: list[tuple[float, str, str]] = []    # (at, component, last log lines)
        self.paused = False                                 # while `killed` is down on purpose

    def __call__(self) -> None:
        for name in self.expected:
            if (self.paused and name == self.killed) or self.stack.is_running(name):
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


@pytest.mark.slow
@pytest.mark.parametrize("component", [
    "edge-a",
    "esm",
    "kafka",
    "dynalite",
])
def test_acked_messages_survive_kill_9(component, local_stack, traffic, summaries):
    messages = Messages(local_stack.settings)
    esm_log = log_offset(local_stack, "esm")
    load = traffic(rooms=4, interval=0.5)
    watch = Watch(local_stack, load, component)
    load.start()
    load.wait_acked(WARM_UP_ACKS, timeout=60, tick=watch)

    watch.paused = True
    outcome: list[str] = []
    fired = load.arm(lambda: outcome.append(local_stack.kill(component)))   # mid-batch
    assert fired.wait(30), "no message delivered: cannot time the kill"
    down_from = time.monotonic()
    load.mark(f"kill -9 {component} (on a delivery)")
    assert outcome == ["killed"]
    deadline = time.monotonic() + DOWN_S
    while time.monotonic() < deadline:
        watch()
        time.sleep(0.2)
    load.mark(f"start {component}")
    local_stack.start(component)
    watch.paused = False
    load.mark(f"{component} ready")
    down_until = time.monotonic()

    load.wait_acked(RECOVERY_ACKS, timeout=90, tick=watch)
    load.stop_sending(grace=GRACE_S)
    drain(load, messages, DRAIN_S, tick=watch)
    delivered(load, messages, DELIVERY_S)
    load.close()

    report = check(load, messages, scenario=f"kill -9 {component}")
    report.numbers["worker"] = worker_stats(local_stack, esm_log)
    report.numbers["acked_while_down"] = sum(1 for p in load.participants for a in p.acked.values()
                                             if down_from <= a[4] <= down_until)
    for at, name, log in watch.deaths:
        report.problem("died", f"{name} died on its own at {at:.1f}s (restarted by the test); its log ends:\n"
                               + "\n".join("      " + line for line in log.splitlines()[-6:]))
    summaries.append(report.summary())
    print(report.summary())
    assert report.numbers["acked"] >= WARM_UP_ACKS + RECOVERY_ACKS
    assert report.ok, report.summary() + "\n" + evidence(local_stack, component, load)
