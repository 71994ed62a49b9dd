"""How a Kafka cluster is doing, beyond its processes: which brokers the cluster counts as
alive, the KRaft controller quorum (leader, followers, lag) and the partitions that are
under-replicated (fewer in-sync replicas than replicas) or offline (no leader).

``invoke status`` prints it for a cluster; the cluster chaos tests wait on it (a rolling
restart goes on only once every partition has all its replicas in sync again).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from local.stack import kafka
from local.stack.kafka_quorum import Quorum, QuorumUnavailable, describe


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int                  # -1: offline
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition} (leader {self.leader}, replicas {list(self.replicas)}, isr {list(self.isr)})"


@dataclass
class ClusterView:
    brokers: dict[int, str] = field(default_factory=dict)     # node id -> host:port, alive as the cluster sees it
    partitions: list[PartitionState] = field(default_factory=list)
    quorum: Quorum | None = None
    errors: list[str] = field(default_factory=list)           # what could not be asked

    @property
    def under_replicated(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.under_replicated]

    @property
    def offline(self) -> list[PartitionState]:
        return [p for p in self.partitions if p.leader < 0]

    def leaders(self) -> Counter:
        """node id -> partitions it leads."""
        return Counter(p.leader for p in self.partitions if p.leader >= 0)

    def leader_of(self, topic: str, partition: int) -> int:
        for p in self.partitions:
            if (p.topic, p.partition) == (topic, partition):
                return p.leader
        return -1

    def fully_replicated(self, nodes: int) -> bool:
        """All nodes are brokers again, the quorum has a leader, every replica is in sync."""
        return (not self.errors and len(self.brokers) == nodes and self.quorum is not None
                and self.quorum.leader_id >= 0 and bool(self.partitions) and not self.under_replicated)


def view(bootstrap: str, timeout: float = 3.0) -> ClusterView:
    """Ask the cluster (any broker of ``bootstrap`` that answers)."""
    out = ClusterView()
    try:
        md = kafka.admin(bootstrap).list_topics(timeout=timeout)
        out.brokers = {b.id: f"{b.host}:{b.port}" for b in md.brokers.values()}
        out.partitions = sorted(
            (PartitionState(name, p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
             for name, topic in md.topics.items() if topic.error is None for p in topic.partitions.values()),
            key=lambda p: (p.topic, p.partition))
    except Exception as exc:  # noqa: BLE001 - KafkaException: no broker answered in time
        out.errors.append(f"metadata: {exc}")
    try:
        out.quorum = describe(bootstrap, timeout=timeout)
    except QuorumUnavailable as exc:
        out.errors.append(f"quorum: {exc}")
    return out


def wait_fully_replicated(bootstrap: str, nodes: int, timeout: float) -> ClusterView:
    """Poll until every replica is in sync again (or raise TimeoutError with the last view)."""
    deadline = time.monotonic() + timeout
    while True:
        current = view(bootstrap)
        if current.fully_replicated(nodes):
            return current
        if time.monotonic() > deadline:
            raise TimeoutError(f"not fully replicated after {timeout:.0f}s: brokers {sorted(current.brokers)}, "
                               f"under-replicated {[str(p) for p in current.under_replicated][:6]}, "
                               f"errors {current.errors}")
        time.sleep(0.5)
