"""How tidings replicates Kafka: the one declaration the local cluster and iac/ both read.

In AWS, MSK runs BROKERS brokers, one per availability zone. Every topic keeps
REPLICATION_FACTOR copies. An acks=all produce is answered only once MIN_INSYNC_REPLICAS
copies have the record. An unclean leader election is never allowed: a replica that missed
acknowledged records never becomes leader. So an acked record survives the loss of one
broker, and a cluster that has lost two refuses writes instead of acking them on one copy.

Locally, `invoke up --brokers 3` runs the same shape on one machine (local/stack/kafka_cluster.py).
The default single broker keeps one copy of everything (``replication_for(1)``).
iac/kafka.auto.tfvars.json is generated from this module (`python -m local.deploy.package kafka`),
and tests/iac checks that it is current and that the MSK module uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

BROKERS = 3
AVAILABILITY_ZONES = 3          # one broker per zone
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2
UNCLEAN_LEADER_ELECTION = False


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int
    unclean_leader_election: bool = UNCLEAN_LEADER_ELECTION

    def topic_config(self) -> dict[str, str]:
        """The per-topic settings (also set as broker defaults)."""
        return {"min.insync.replicas": str(self.min_insync),
                "unclean.leader.election.enable": str(self.unclean_leader_election).lower()}


def replication_for(brokers: int) -> Replication:
    """The contract on a cluster of ``brokers``. With fewer brokers than the contract,
    there are fewer copies, and one copy fewer must be in sync (a single broker: 1 and 1)."""
    if brokers < 1:
        raise ValueError(f"a cluster needs at least one broker, got {brokers}")
    factor = min(brokers, REPLICATION_FACTOR)
    min_insync = MIN_INSYNC_REPLICAS if factor == REPLICATION_FACTOR else max(1, factor - 1)
    return Replication(factor, min(min_insync, factor))


CONTRACT = replication_for(BROKERS)
