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

import pytest

from checks import check
from functions.history import Messages
from scenario import Watch, delivered, drain, evidence, log_offset, worker_stats

DOWN_S = 4.0            # how long the component stays dead
WARM_UP_ACKS = 80       # acked messages before the kill (steady load reached)
RECOVERY_ACKS = 60      # acked messages after the restart (traffic flows again)
GRACE_S = 25.0          # for the messages in flight when sending stops
DRAIN_S = 60.0          # for every acked message to be stored
DELIVERY_S = 30.0       # for every member to have every stored message


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
