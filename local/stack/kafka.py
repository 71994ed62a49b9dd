"""A real Apache Kafka broker for the local stack: KRaft combined mode, one node.

No tarball and no Docker: the jars come from Maven Central through a small pom
(local/stack/kafka/pom.xml) resolved with ``mvn dependency:copy-dependencies`` into the cache
(``~/.cache/tidings/kafka-<version>/libs``), the broker runs as
``java -cp <jars> kafka.Kafka <server.properties>``.

Per stack home:
- ``data/kafka/cluster.id``   the cluster id, made once, so a restart reuses the data
- ``data/kafka/log/``         log.dirs (formatted once with ``kafka.tools.StorageTool``)
- ``data/kafka/brokers``      how many nodes the data was formatted for (1 if absent)
- ``run/kafka.properties``    rendered from the stack's settings and ports on every start
- ``logs/kafka.log``          the broker's log (log4j2 to stdout, see kafka/log4j2.xml)

A cluster (``TIDINGS_BROKERS=3``, local/stack/kafka_cluster.py) has node 1 as above and node N in
``data/kafka/log-N``, ``run/kafka-N.properties``, ``logs/kafka-N.log``.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from functions.kafka_cluster import replication_for
from functions.settings import Settings
from local import paths
from local.stack.logs import tail

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
# Same log4j2 version that kafka-server 4.4.0 depends on (log4j-core/log4j-api); the
# binding is log4j-slf4j-impl because Kafka 4.4 logs through slf4j-api 1.7.36.
LOG4J_VERSION = "2.25.5"
JVM_HEAP = os.environ.get("TIDINGS_KAFKA_HEAP", "512m")
# Every broker JVM gets only the quick JIT (C1): C2's compilations cost a fresh broker tens of
# CPU seconds under load, on the two cores the whole stack shares. Measured on a wiped stack
# under `invoke bench -- custom --users 400 --ramp 20 --messages 40` (BENCHMARKS.md): C2's
# compiler threads took ~1 core during the load, and the broker's CPU per message fell from
# 929 to 509 µs (medians of 3) with C1 only. Each node of a cluster also gets a smaller heap.
BROKER_JVM = ("-XX:TieredStopAtLevel=1",)
CLUSTER_NODE_HEAP = os.environ.get("TIDINGS_KAFKA_HEAP", "256m")

TEMPLATE_DIR = Path(__file__).resolve().parent / "kafka"
MAVEN_TIMEOUT_S = 45 * 60

log = logging.getLogger("tidings.local.kafka")


class KafkaSetupError(RuntimeError):
    pass


# --------------------------------------------------------------------------- install


def cache_home() -> Path:
    return paths.cache_dir() / f"kafka-{KAFKA_VERSION}"


def libs_dir() -> Path:
    return cache_home() / "libs"


def is_installed() -> bool:
    marker = cache_home() / "COMPLETE"
    return marker.exists() and any(libs_dir().glob(f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar"))


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (invoke up and a test run may install at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def render_pom() -> str:
    text = (TEMPLATE_DIR / "pom.xml").read_text()
    return text.replace("@KAFKA_VERSION@", KAFKA_VERSION).replace("@LOG4J_VERSION@", LOG4J_VERSION)


def install() -> Path:
    """Resolve the broker's jars into the cache (once); returns the libs directory."""
    if is_installed():
        return libs_dir()
    home = cache_home()
    with file_lock(home.parent / f".kafka-{KAFKA_VERSION}.lock"):
        if is_installed():
            return libs_dir()
        mvn = shutil.which("mvn")
        if not mvn:
            raise KafkaSetupError("Maven (mvn) is not on PATH; it resolves the Kafka jars "
                                  "(Debian: apt-get install maven)")
        if not shutil.which("java"):
            raise KafkaSetupError("java is not on PATH; Kafka 4.4 needs Java 17+ "
                                  "(Debian: apt-get install openjdk-17-jre-headless)")
        home.mkdir(parents=True, exist_ok=True)
        (home / "pom.xml").write_text(render_pom())
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        mvn_log = home / "mvn.log"
        started = time.monotonic()
        with open(mvn_log, "wb") as out:
            try:
                proc = subprocess.run(
                    [mvn, "-B", "-q", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
                     f"-DoutputDirectory={staging}", "-DincludeScope=runtime"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=home, timeout=MAVEN_TIMEOUT_S,
                )
            except subprocess.TimeoutExpired as exc:
                raise KafkaSetupError(f"Maven did not resolve Kafka {KAFKA_VERSION} within "
                                      f"{MAVEN_TIMEOUT_S}s; see {mvn_log}") from exc
        if proc.returncode != 0:
            raise KafkaSetupError(
                f"Maven failed to resolve org.apache.kafka:kafka_{SCALA_VERSION}:{KAFKA_VERSION} "
                f"(exit {proc.returncode}); last lines of {mvn_log}:\n{tail(mvn_log, 30)}")
        shutil.rmtree(home / "libs", ignore_errors=True)
        os.replace(staging, home / "libs")
        jars = sorted(p.name for p in libs_dir().glob("*.jar"))
        (home / "COMPLETE").write_text("\n".join(jars) + "\n")
        log.info("resolved %d Kafka jars in %.1fs", len(jars), time.monotonic() - started)
    return libs_dir()


def classpath() -> str:
    jars = sorted(libs_dir().glob("*.jar"))
    if not jars:
        raise KafkaSetupError(f"no Kafka jars in {libs_dir()}; run `invoke up` (it resolves them)")
    return os.pathsep.join(str(j) for j in jars)


def classpath_argfile() -> Path:
    """A java @argfile holding ``-cp <all jars>`` (keeps ps output and logs readable)."""
    path = cache_home() / "classpath.args"
    text = '-cp "' + classpath() + '"\n'
    try:
        if path.read_text() == text:
            return path
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".classpath.args.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def java_argv(main_class: str, *args: str, heap: str = JVM_HEAP, jvm: tuple[str, ...] = ()) -> list[str]:
    return [
        shutil.which("java") or "java",
        f"-Xmx{heap}", "-Xms64m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", *jvm,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={TEMPLATE_DIR / 'log4j2.xml'}",
        f"@{classpath_argfile()}", main_class, *args,
    ]


# --------------------------------------------------------------------------- per home


def data_dir(home_data: Path) -> Path:
    return home_data / "kafka"


def log_dir(home_data: Path, node_id: int = 1) -> Path:
    return data_dir(home_data) / ("log" if node_id == 1 else f"log-{node_id}")


def formatted_brokers(home_data: Path) -> int | None:
    """How many nodes this home's Kafka data belongs to (None: not formatted yet)."""
    try:
        return int((data_dir(home_data) / "brokers").read_text())
    except (OSError, ValueError):  # none yet (or an unusable home: Stack.check reports that)
        return 1 if is_formatted(home_data) else None


def cluster_id(home_data: Path) -> str:
    """The cluster id of this home's broker, made on first use and kept with the data."""
    path = data_dir(home_data) / "cluster.id"
    try:
        value = path.read_text().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # Kafka's own random ids never start with '-' (it reads like a flag)
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not value.startswith("-"):
            break
    path.write_text(value + "\n")
    return value


def render_properties(*, settings: Settings, nodes: dict[int, tuple[int, int]], home_data: Path,
                      node_id: int = 1) -> str:
    """server.properties of one combined broker+controller node on 127.0.0.1.

    nodes: node id -> (client port, controller port) of every node of the cluster. One
    node: a dynamic quorum of itself (formatted with --standalone). More: a static quorum
    of all of them, and the replication of functions/kafka_cluster.py.
    """
    client_port, controller_port = nodes[node_id]
    small = max(1, min(4, settings.partitions))
    rep = replication_for(len(nodes))
    if len(nodes) == 1:
        quorum: dict[str, object] = {"controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}"}
    else:
        quorum = {
            "controller.quorum.voters": ",".join(f"{n}@127.0.0.1:{c}" for n, (_, c) in sorted(nodes.items())),
            # A dead node's leaderships move once the controller fences it, after this long
            # without a heartbeat. Kafka's (and MSK's) defaults are 9 s / 2 s; 6 s keeps a
            # failover inside the edge's 10 s produce timeout (docs/guarantees.md).
            "broker.session.timeout.ms": 6000,
            "broker.heartbeat.interval.ms": 1000,
        }
    props = {
        # KRaft combined mode
        "process.roles": "broker,controller",
        "node.id": node_id,
        **quorum,
        "listeners": f"PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir(home_data, node_id)),
        # the same replication for Kafka's internal topics (offsets: the runner's commits)
        "offsets.topic.replication.factor": rep.factor,
        "transaction.state.log.replication.factor": rep.factor,
        "transaction.state.log.min.isr": rep.min_insync,
        "share.coordinator.state.topic.replication.factor": rep.factor,
        "share.coordinator.state.topic.min.isr": rep.min_insync,
        "default.replication.factor": rep.factor,
        "min.insync.replicas": rep.min_insync,
        "unclean.leader.election.enable": str(rep.unclean_leader_election).lower(),
        # fast on a laptop: no rebalance delay, few internal partitions, small buffers
        "group.initial.rebalance.delay.ms": 0,
        "group.min.session.timeout.ms": 500,
        "offsets.topic.num.partitions": small,
        "transaction.state.log.num.partitions": small,
        "share.coordinator.state.topic.num.partitions": small,
        "num.partitions": settings.partitions,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        "log.retention.hours": 168,
        "log.segment.bytes": 64 * 1024 * 1024,
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        # messages up to the edge's frame cap plus headroom
        "message.max.bytes": max(1048588, settings.max_message_bytes * 2),
    }
    lines = ["# rendered by local/stack/kafka.py on every start; edit the code, not this file"]
    lines += [f"{k}={v}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


def is_formatted(home_data: Path, node_id: int = 1) -> bool:
    return (log_dir(home_data, node_id) / "meta.properties").exists()


def format_storage(*, properties: Path, home_data: Path, log_path: Path, node_id: int = 1,
                   brokers: int = 1) -> None:
    """Format a node's log.dirs once (a later start reuses the data). Refuses data that
    belongs to a cluster of another size: its quorum would never form."""
    formatted = formatted_brokers(home_data)
    if formatted is not None and formatted != brokers:
        raise KafkaSetupError(
            f"the Kafka data in {data_dir(home_data)} belongs to a {formatted}-broker cluster, not "
            f"{brokers}: use --brokers {formatted} (TIDINGS_BROKERS={formatted}) or delete it "
            f"(`invoke down --wipe`)")
    if is_formatted(home_data, node_id):
        return
    log_dir(home_data, node_id).mkdir(parents=True, exist_ok=True)
    # One node: a dynamic quorum of itself. More: the static voters in the properties.
    alone = ("--standalone",) if brokers == 1 else ()
    argv = java_argv("kafka.tools.StorageTool", "format", *alone, "--ignore-formatted",
                     "-t", cluster_id(home_data), "-c", str(properties), heap="256m")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        out.write(f"\n===== tidings: format storage: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              timeout=180)
    if proc.returncode != 0 or not is_formatted(home_data, node_id):
        raise KafkaSetupError(f"formatting Kafka storage in {log_dir(home_data, node_id)} failed "
                              f"(exit {proc.returncode}); last lines of {log_path}:\n{tail(log_path, 30)}")
    (data_dir(home_data) / "brokers").write_text(f"{brokers}\n")


# --------------------------------------------------------------------------- clients


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("tidings.local.kafka.librdkafka")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    return logger


def admin(bootstrap: str):
    """A quiet AdminClient (no connection-refused noise on stderr while the broker starts)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "logger": _quiet_logger(),
                        "socket.connection.setup.timeout.ms": 2000})


_PROBES: dict[str, object] = {}


def ready(bootstrap: str, timeout: float = 2.0) -> bool:
    """The broker answers metadata requests and has a controller."""
    probe = _PROBES.get(bootstrap)
    if probe is None:
        probe = _PROBES[bootstrap] = admin(bootstrap)
    md = probe.list_topics(timeout=timeout)
    return bool(md.brokers) and md.controller_id >= 0


def ensure_topics(settings: Settings, bootstrap: str | None = None, timeout: float = 30.0) -> dict[str, int]:
    """Create the chat topic and the dead-letter topic if missing; returns name -> partitions.

    The chat topic gets settings.partitions partitions (one room = one partition = one
    order); the dead-letter topic gets one (failures in the order they were given up on).
    Both are replicated as functions/kafka_cluster.py says for settings.brokers brokers
    (they are created once that many brokers are up). A chat topic with fewer partitions
    than configured is grown; with more, that is an error (Kafka cannot shrink a topic).
    """
    from confluent_kafka.admin import NewPartitions, NewTopic

    bootstrap = bootstrap or settings.kafka_bootstrap
    client = admin(bootstrap)
    wanted = {settings.chat_topic: settings.partitions, settings.dead_letter_topic: 1}
    rep = replication_for(settings.brokers or 1)
    deadline = time.monotonic() + timeout
    while True:
        md = client.list_topics(timeout=10)
        existing = {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}
        missing = [NewTopic(name, num_partitions=n, replication_factor=rep.factor, config=rep.topic_config())
                   for name, n in wanted.items() if name not in existing]
        if not missing:
            break
        if len(md.brokers) < rep.factor:   # e.g. the last node of a cluster still registering
            errors = [f"only {len(md.brokers)} of the {rep.factor} brokers their replicas need are up"]
        else:
            errors = _create_topics(client, missing)
        if time.monotonic() > deadline:
            raise KafkaSetupError("could not create topics " + ", ".join(t.topic for t in missing)
                                  + (": " + "; ".join(errors) if errors else ""))
        time.sleep(0.2)
    have = existing[settings.chat_topic]
    if have > settings.partitions:
        raise KafkaSetupError(
            f"topic {settings.chat_topic} has {have} partitions but TIDINGS_PARTITIONS={settings.partitions}; "
            f"Kafka cannot reduce partitions: set TIDINGS_PARTITIONS={have} or wipe the data (`invoke down --wipe`)")
    if have < settings.partitions:
        log.warning("growing %s from %d to %d partitions", settings.chat_topic, have, settings.partitions)
        for fut in client.create_partitions([NewPartitions(settings.chat_topic, settings.partitions)]).values():
            fut.result()
        existing[settings.chat_topic] = settings.partitions
    return {name: existing[name] for name in wanted}


def _create_topics(client, topics: list) -> list[str]:
    """Create topics; returns the errors (one that exists already is not one)."""
    from confluent_kafka import KafkaException

    errors = []
    for name, fut in client.create_topics(topics, operation_timeout=10, request_timeout=15).items():
        try:
            fut.result()
        except KafkaException as exc:
            err = exc.args[0]
            if err.name() != "TOPIC_ALREADY_EXISTS":
                errors.append(f"{name}: {err.str()}")
    return errors
