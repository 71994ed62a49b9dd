"""Kafka nodes of the local stack: one broker (the default) or a cluster on one machine.

``TIDINGS_BROKERS=3`` (``invoke up --brokers 3``) runs three combined broker+controller
nodes with a static KRaft quorum and the replication of functions/kafka_cluster.py:
- node 1 is the component ``kafka`` (ports 9092/9093), so everything that depends on
  ``kafka``, the TIDINGS_PORT_KAFKA* variables and the single broker stay as they are;
  node N is ``kafka-N`` (ports 9092+2(N-1) client, +1 controller, log ``logs/kafka-N.log``);
- ``kafka`` depends on the other nodes: ``up`` starts them first, and ``kafka``'s start
  ends with every broker registered and the topics created (its ``after_ready``);
- a node is ready once it serves as a broker. The first node of a cold start cannot form a
  quorum alone, so while at most half of the nodes run, a node is ready as soon as its
  controller listens (the next node completes the quorum);
- the last node of a quorum never finishes its controlled shutdown (it waits for a
  controller), so ``down`` sends SIGTERM to all nodes at once (``stops_with_peers``).
"""

from __future__ import annotations

from typing import Callable

from local.stack import kafka, kafka_cds
from local.stack import process as proc
from local.stack.model import Component, ComponentSpec, StackView


def node_name(node_id: int) -> str:
    return "kafka" if node_id == 1 else f"kafka-{node_id}"


def node_ports(node_id: int) -> dict[str, int]:
    return {"client": 9092 + 2 * (node_id - 1), "controller": 9093 + 2 * (node_id - 1)}


def node_names(stack: StackView) -> list[str]:
    """The Kafka nodes of a stack, node 1 first."""
    names: list[str] = []
    while node_name(len(names) + 1) in stack.ports:
        names.append(node_name(len(names) + 1))
    return names


def bootstrap(stack: StackView) -> str:
    """Every broker of the stack: a client survives the death of the one it met first."""
    return ",".join(f"127.0.0.1:{stack.port(name, 'client')}" for name in node_names(stack))


def node_specs(brokers: int) -> list[ComponentSpec]:
    """The ComponentSpecs of a stack's Kafka nodes (the others first, ``kafka`` last)."""
    ids = list(range(2, brokers + 1)) + [1]
    return [ComponentSpec(node_name(n), node_ports(n), node_builder(n, brokers)) for n in ids]


def serves(address: str, node_id: int, timeout: float = 2.0) -> bool:
    """The node at address answers metadata requests and lists itself as a broker.

    A fresh client each time: its first request goes to that address (a long-lived one
    may ask any broker it has learned of)."""
    port = int(address.rpartition(":")[2])
    if not proc.is_listening(port):
        return False
    return node_id in kafka.admin(address).list_topics(timeout=timeout).brokers


def node_builder(node_id: int, brokers: int) -> Callable[[StackView], Component]:
    name = node_name(node_id)

    def build(stack: StackView) -> Component:
        nodes = {n: (stack.port(node_name(n), "client"), stack.port(node_name(n), "controller"))
                 for n in range(1, brokers + 1)}
        client, controller = nodes[node_id]
        settings = stack.settings
        properties = stack.layout.run / f"{name}.properties"
        classes = stack.layout.run / f"{name}.jsa"
        address = f"127.0.0.1:{client}"
        single = brokers == 1

        def prepare() -> None:
            properties.parent.mkdir(parents=True, exist_ok=True)
            if not single:
                kafka_cds.keep(classes)   # what the node's last JVM wrote as it exited
            properties.write_text(kafka.render_properties(
                settings=settings, nodes=nodes, home_data=stack.layout.data, node_id=node_id))
            kafka.format_storage(properties=properties, home_data=stack.layout.data,
                                 log_path=stack.log_path(name), node_id=node_id, brokers=brokers)

        def ready() -> bool:
            if brokers == 1:
                return kafka.ready(settings.kafka_bootstrap)
            if serves(address, node_id):
                return True
            running = sum(1 for other in map(node_name, nodes) if stack.is_running(other))
            return running <= brokers // 2 and proc.is_listening(controller)

        return Component(
            name=name,
            argv=lambda: (kafka.java_argv("kafka.Kafka", str(properties), jvm=kafka.BROKER_JVM) if single else kafka.java_argv(
                "kafka.Kafka", str(properties), heap=kafka.CLUSTER_NODE_HEAP,
                jvm=kafka.BROKER_JVM + kafka_cds.jvm_flags(classes))),
            ports={"client": client, "controller": controller},
            ready=ready,
            ready_timeout=180.0,
            depends_on=tuple(node_name(n) for n in nodes if n != 1) if node_id == 1 else (),
            install=kafka.install,
            prepare=prepare,
            after_ready=(lambda: kafka.ensure_topics(settings)) if node_id == 1 else None,
            stop_timeout=60.0,
            stops_with_peers=not single,
            endpoints={"bootstrap": settings.kafka_bootstrap if node_id == 1 else address},
            description=(f"Apache Kafka {kafka.KAFKA_VERSION}, KRaft combined node, data in data/kafka" if single
                         else f"Apache Kafka {kafka.KAFKA_VERSION}, node {node_id} of {brokers} (broker+controller), "
                              f"data in {kafka.log_dir(stack.layout.data, node_id).relative_to(stack.layout.data)}"),
        )

    return build
