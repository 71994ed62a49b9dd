"""Kafka as a 3-broker cluster under load (issue 14). The leader of a busy partition dies;
every broker restarts in turn; two of the three die at once; the runner dies while a
leader changes. In each case nothing acked is lost, nothing is stored twice, and room order
and seqs stay gapless.

All four scenarios share one 3-broker stack: the ``cluster_stack`` fixture, with nodes
kafka, kafka-2 and kafka-3, RF 3, min.insync.replicas 2 and no unclean leader election.
Each scenario runs under paced load: about RATE messages/s from the members of ROOMS rooms
on both edges. Afterwards every room is checked, in the store and at the receivers
(checks.py), and in the topic and the runner's commits (cluster_checks.py). The summary,
with the failover figures, is printed with the chaos summaries. A broker a scenario killed
is started again by the fixture, after the checks (the rolling restart brings brokers back
under load).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import orjson
import pytest
import stomp.utils
import websocket

from checks import Report, check, stored_by_room
from cluster_checks import check_kafka, failover
from functions import contracts
from functions.rooms import Rooms
from functions.history import Messages
from functions.tokens import mint
from local.stack import kafka_status
from local.stack.kafka_cluster import node_name, node_names
from scenario import Watch, delivered, drain, evidence, log_offset, worker_stats
from traffic import Traffic

RATE = 500              # messages/s over all rooms (what the machine allows: the summary says)
ROOMS = 24              # 60 members, spread over both edges, each sending every 60/RATE s
WARM_UP_S, AFTER_S = 5.0, 3.0   # load before the first disruption, and after the last one
PHASE_ACKS = 200        # at least this many acks in each of the two (the load flows)
DOWN_S = 5.0            # the killed runner stays down this long
GRACE_S, DRAIN_S, DELIVERY_S = 25.0, 90.0, 60.0
REPLICAS_S = 120.0      # for every replica to be in sync again
LEADER_S = 60.0         # for a partition to get a new leader

# Slow, still in the default run. A scenario restarts JVMs under load on two cores (and the
# first one also starts the 3-broker stack), hence more time than pytest's default 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def load(cluster_stack):
    made: list[Traffic] = []
    edges = {name: cluster_stack.endpoints()[name]["websocket"] for name in ("edge-a", "edge-b")}

    def make() -> Traffic:
        members = sum(2 + r % 2 for r in range(ROOMS))
        made.append(Traffic(cluster_stack.settings, edges, rooms=ROOMS, interval=members / RATE, steady=True))
        return made[-1]

    yield make
    for traffic in made:
        traffic.close()


class Run:
    """One scenario: its traffic, a watch over the components, the failover figures."""

    def __init__(self, stack, traffic: Traffic):
        self.stack, self.load = stack, traffic
        self.messages = Messages(stack.settings)
        self.esm_log = log_offset(stack, "esm")
        self.watch = Watch(stack, traffic)
        self.disruptions: list[tuple[str, float, float]] = []   # (what, from, to): figures at the end
        self.topic = stack.settings.chat_topic

    def start(self) -> None:
        self.load.start()
        self.steady(WARM_UP_S)

    def steady(self, seconds: float) -> None:
        """That long under load, and at least PHASE_ACKS acks."""
        before = self.load.acked()
        self.sleep_until(self.now() + seconds)
        self.load.wait(lambda: self.load.acked() - before >= PHASE_ACKS, 120, f"{PHASE_ACKS} acks", tick=self.watch)

    def now(self) -> float:
        return self.load.clock()

    def busiest(self) -> tuple[int, str]:
        """The partition with the most acks so far, and the node that leads it."""
        counts = Counter(a[1] for p in self.load.participants for a in p.acked.values())
        partition = counts.most_common(1)[0][0]
        view = kafka_status.view(self.stack.settings.kafka_bootstrap)
        return partition, node_name(view.leader_of(self.topic, partition))

    def down(self, name: str, why: str, *, kill: bool) -> float:
        self.watch.away.add(name)
        quorum = kafka_status.view(self.stack.settings.kafka_bootstrap).quorum
        if quorum is not None and node_name(quorum.leader_id) == name:
            why += " and of the controller quorum"
        at = self.now()
        self.load.mark(f"{'kill -9' if kill else 'SIGTERM'} {name}{why}")
        outcome = self.stack.kill(name) if kill else self.stack.stop(name)
        assert outcome == ("killed" if kill else "stopped"), f"{name}: {outcome}"
        self.load.mark(f"{name} gone")
        return at

    def up(self, name: str) -> None:
        self.load.mark(f"start {name}")
        self.stack.start(name)
        self.watch.away.discard(name)
        self.load.mark(f"{name} ready")

    def kill_busy_leader(self) -> tuple[int, str, float, float]:
        """kill -9 the leader of the busiest partition; wait for its new leader.
        Returns (partition, the killed node, when, the first ack on the partition after that)."""
        partition, victim = self.busiest()
        killed = self.down(victim, f", the leader of partition {partition}", kill=True)
        moved = self.new_leader(partition, victim)
        return partition, victim, killed, self.first_ack(partition, after=moved)

    def new_leader(self, partition: int, old: str) -> float:
        def moved() -> bool:
            leader = kafka_status.view(self.stack.settings.kafka_bootstrap).leader_of(self.topic, partition)
            return leader >= 0 and node_name(leader) != old
        self.load.wait(moved, LEADER_S, f"a new leader for partition {partition}", tick=self.watch)
        leader = kafka_status.view(self.stack.settings.kafka_bootstrap).leader_of(self.topic, partition)
        self.load.mark(f"partition {partition} led by {node_name(leader)}")
        return self.now()

    def first_ack(self, partition: int, after: float, timeout: float = 90.0) -> float:
        def found():
            return min((a[4] for p in self.load.participants for a in list(p.acked.values())
                        if a[1] == partition and a[4] > after), default=None)
        self.load.wait(lambda: found() is not None, timeout, f"an ack on partition {partition}", tick=self.watch)
        return found()

    def replicated(self) -> float:
        deadline = time.monotonic() + REPLICAS_S
        while not kafka_status.view(self.stack.settings.kafka_bootstrap).fully_replicated(3):
            assert time.monotonic() < deadline, f"replicas not in sync within {REPLICAS_S:.0f}s"
            self.watch()
            time.sleep(0.5)
        self.load.mark("every replica in sync")
        return self.now()

    def sleep_until(self, at: float) -> None:
        while self.now() < at:
            self.watch()
            time.sleep(0.2)

    def finish(self, scenario: str) -> Report:
        """Steady load again, then stop; check every room, the topic and the runner's commits."""
        self.steady(AFTER_S)
        self.stopped = self.now()
        self.load.stop_sending(grace=GRACE_S)
        drain(self.load, self.messages, DRAIN_S, tick=self.watch)
        delivered(self.load, self.messages, DELIVERY_S)
        self.load.close()
        stored = stored_by_room(self.load, self.messages)
        report = check(self.load, self.messages, scenario=scenario, stored=stored)
        check_kafka(report, self.load, stored)
        report.numbers["worker"] = worker_stats(self.stack, self.esm_log)
        for at, name, log in self.watch.deaths:
            report.problem("died", f"{name} died on its own at {at:.1f}s; its log ends:\n"
                                   + "\n".join("      " + line for line in log.splitlines()[-6:]))
        return report

    def publish(self, report: Report, summaries: list, *lines: str) -> str:
        """The summary (with the load and the failover figures) into the chaos summaries."""
        acked = sum(1 for p in self.load.participants for a in p.acked.values() if a[4] <= self.stopped)
        seconds = self.stopped - self.load.t0
        text = "\n".join([report.summary(),
                          f"  load: {acked} acked in {seconds:.0f}s = {acked / seconds:.0f} messages/s; "
                          f"topic records of these rooms: {report.numbers['log_records']}",
                          *(failover(self.load, *d).line() for d in self.disruptions), *lines])
        summaries.append(text)
        print(text)
        return text

    def evidence(self, *names: str) -> str:
        return "\n".join(evidence(self.stack, name, self.load) for name in names)


def stomp_send_during_outage(stack, timeout: float) -> tuple[str, str, float]:
    """A STOMP SEND with a receipt, in a room of its own (if the broker took it after all,
    no scenario room gets a message nobody sent): (frame, its message, seconds to it)."""
    settings = stack.settings
    tag = uuid.uuid4().hex[:8]
    room, user = f"stomp-outage-{tag}", f"stomp-{tag}"
    Rooms(settings).create(room, "outage probe", user, {user: "customer"})
    url = stack.endpoints()["edge-a"]["websocket"]
    ws = websocket.create_connection(f"{url}?access_token={mint(settings, user, 'customer')}",
                                     subprotocols=["v12.stomp"], timeout=timeout)

    def send(command: str, headers: dict, body: bytes = b"") -> None:
        ws.send(stomp.utils.pack(stomp.utils.convert_frame(stomp.utils.Frame(command, headers, body))))

    try:
        send("CONNECT", {"accept-version": "1.2", "host": "tidings"})
        send("SEND", {"destination": f"/pub/chat/send/{room}", "receipt": "probe",
                      "content-type": "application/json"}, orjson.dumps({"content": "during the outage"}))
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            data = ws.recv()
            data = data.encode() if isinstance(data, str) else data
            if not data.strip(b"\r\n"):
                continue   # heart-beat
            frame = stomp.utils.parse_frame(data[:data.rindex(b"\x00")])
            if frame.cmd in ("ERROR", "RECEIPT"):
                return frame.cmd, frame.headers.get("message", ""), time.monotonic() - started
        return "nothing", "", timeout
    except websocket.WebSocketTimeoutException:
        return "nothing", "", timeout
    finally:
        ws.close()


def test_killing_the_leader_of_a_busy_partition_loses_nothing(cluster_stack, load, summaries):
    run = Run(cluster_stack, load())
    run.start()
    partition, victim, killed, back = run.kill_busy_leader()
    run.disruptions.append((f"kill -9 {victim}, leader of p{partition}", killed, back + 1.0))
    report = run.finish(f"cluster: kill -9 {victim}, the leader of busy partition {partition}")
    text = run.publish(report, summaries)
    assert report.ok, text + "\n" + run.evidence(victim, "edge-a")


def test_a_rolling_restart_of_every_broker_loses_nothing(cluster_stack, load, summaries):
    run = Run(cluster_stack, load())
    run.start()
    for name in node_names(cluster_stack):
        stopping = run.down(name, " (controlled shutdown)", kill=False)
        run.up(name)
        whole = run.replicated()
        run.disruptions.append((f"restart {name}", stopping, whole))
    report = run.finish("cluster: rolling restart (SIGTERM each broker, full ISR before the next)")
    text = run.publish(report, summaries)
    assert report.ok, text + "\n" + run.evidence(*node_names(cluster_stack))


def test_below_min_insync_sends_fail_cleanly_and_nothing_is_acked(cluster_stack, load, summaries):
    settings = cluster_stack.settings
    run = Run(cluster_stack, load())
    run.start()
    partition, first = run.busiest()
    second = next(n for n in node_names(cluster_stack) if n != first)
    run.down(first, f", the leader of partition {partition}", kill=True)
    run.down(second, " (two of three brokers down: below min.insync.replicas)", kill=True)
    down = run.now()
    probe = stomp_send_during_outage(cluster_stack, timeout=settings.produce_timeout_s + 5)
    run.load.mark(f"STOMP SEND answered with {probe[0]} {probe[1]!r} after {probe[2]:.1f}s")
    run.sleep_until(down + settings.produce_timeout_s + 4)   # every sender got at least one answer
    returning = run.now()
    run.up(first)                                            # two of three: a quorum and an ISR of 2
    back = run.first_ack(partition, after=returning)
    run.disruptions.append(("two of three brokers down", down, back + 1.0))
    outage_from = down + 1.0   # an ack already on its way when the second broker died may still arrive
    acked_down = [a for p in run.load.participants for a in p.acked.values() if outage_from <= a[4] <= returning]
    answered = [(at - sent, outcome) for p in run.load.participants for sent, at, outcome in p.answers
                if outage_from <= at <= returning]
    answers = Counter(outcome for _wait, outcome in answered)
    waits = sorted(wait for wait, outcome in answered if outcome == contracts.ERR_UNAVAILABLE)
    report = run.finish(f"cluster: kill -9 {first} and {second} (below min ISR), then {first} returns")
    if acked_down:
        report.problem("acked below min ISR", f"{len(acked_down)} messages acked with two brokers down")
    if not answers.get(contracts.ERR_UNAVAILABLE):
        report.problem("no unavailable", f"no send was answered `unavailable` while two brokers were down: {answers}")
    if set(answers) - {contracts.ERR_UNAVAILABLE}:
        report.problem("other answers", f"sends while two brokers were down were answered {dict(answers)}")
    if unanswered := sum(p.unanswered() for p in run.load.participants):
        report.problem("unanswered", f"{unanswered} sends got neither an ack nor an error")
    if probe[:2] != ("ERROR", contracts.ERR_UNAVAILABLE):
        report.problem("stomp", f"a STOMP SEND during the outage got {probe}, not ERROR unavailable")
    text = run.publish(report, summaries, (
        f"  below min ISR ({returning - down:.1f}s): answers {dict(answers)}, acks {len(acked_down)}; "
        f"'unavailable' after p50 {waits[len(waits) // 2] if waits else 0:.1f}s, max {waits[-1] if waits else 0:.1f}s "
        f"(produce timeout {settings.produce_timeout_s:.0f}s); STOMP SEND: {probe[0]} {probe[1]!r} after {probe[2]:.1f}s"))
    assert report.ok, text + "\n" + run.evidence(first, second)


def test_the_runner_killed_during_a_leader_change_skips_and_repeats_nothing(cluster_stack, load, summaries):
    run = Run(cluster_stack, load())
    run.start()
    partition, victim, killed, back = run.kill_busy_leader()
    run.watch.away.add("esm")
    outcome: list[str] = []
    fired = run.load.arm(lambda: outcome.append(cluster_stack.kill("esm")))   # mid-batch
    assert fired.wait(30), "no message delivered: cannot time the kill"
    run.load.mark("kill -9 esm (on a delivery, as the partition changed leader)")
    assert outcome == ["killed"]
    run.sleep_until(run.now() + DOWN_S)
    run.up("esm")
    run.disruptions.append((f"kill -9 {victim}, leader of p{partition}, then the runner", killed, back + 1.0))
    report = run.finish(f"cluster: kill -9 {victim} (leader of partition {partition}), then the runner mid-batch")
    text = run.publish(report, summaries)
    assert report.ok, text + "\n" + run.evidence(victim, "esm")
