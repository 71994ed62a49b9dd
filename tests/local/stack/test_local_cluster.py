"""`invoke up --brokers 3`: the broker count as a setting, kept with the data; the cluster's
nodes, their bootstrap list and their stop; `invoke status` and `invoke logs kafka-2` on the
session's 3-broker stack (the chaos tests in tests/chaos/test_cluster_failover.py use the same)."""

from __future__ import annotations

import sys
import textwrap
import time

import pytest
from harness import free_port, run_invoke, wait_for

from functions.settings import Settings, SettingsError
from local.stack import kafka, kafka_cds, kafka_status
from local.stack.kafka_quorum import QuorumUnavailable, describe
from local.stack.stack import Component, Stack

NODES = ("kafka", "kafka-2", "kafka-3")


def test_brokers_is_a_setting():
    assert Settings.from_env({}).brokers is None
    assert Settings.from_env({"TIDINGS_BROKERS": "3"}).brokers == 3
    for bad in ("0", "6", "three"):
        with pytest.raises(SettingsError, match="TIDINGS_BROKERS|brokers"):
            Settings.from_env({"TIDINGS_BROKERS": bad})


def test_a_cluster_stack_has_three_nodes_and_gives_clients_all_of_them(tmp_path):
    stack = Stack(tmp_path, ports="auto", settings=Settings(brokers=3))
    assert [n for n in stack.order() if n.startswith("kafka")] == ["kafka-2", "kafka-3", "kafka"]
    assert stack.component("kafka").depends_on == ("kafka-2", "kafka-3")
    assert stack.settings.kafka_bootstrap.split(",") == [f"127.0.0.1:{stack.port(n)}" for n in NODES]
    assert stack.settings.brokers == 3
    assert all(stack.component(n).stops_with_peers for n in NODES)
    assert stack.component("esm").depends_on == ("kafka", "dynalite")   # kafka: the whole cluster
    single = Stack(tmp_path / "single", ports="auto", settings=Settings())
    assert [n for n in single.components if n.startswith("kafka")] == ["kafka"]
    assert single.settings.kafka_bootstrap == f"127.0.0.1:{single.port('kafka')}"
    assert not single.component("kafka").stops_with_peers


def test_the_broker_count_is_kept_with_the_data(tmp_path):
    (tmp_path / "data" / "kafka").mkdir(parents=True)
    (tmp_path / "data" / "kafka" / "brokers").write_text("3\n")
    assert "kafka-3" in Stack(tmp_path, ports="auto", settings=Settings()).components   # no setting: as the data
    one = Stack(tmp_path, ports="auto", settings=Settings(brokers=1))
    with pytest.raises(kafka.KafkaSetupError, match=r"3-broker cluster.*--brokers 3.*down --wipe"):
        one.component("kafka").prepare()   # refused before anything is formatted or started


# Stops on SIGTERM only once its peer got one too: like a KRaft node whose controlled
# shutdown needs a quorum.
_PEER = textwrap.dedent("""
    import pathlib, signal, sys, time
    me, peer = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *a: me.touch())
    while not (me.exists() and peer.exists()):
        time.sleep(0.05)
""")


def test_down_sends_sigterm_to_quorum_peers_together(tmp_path):
    stack = Stack(tmp_path, ports="auto", specs=[])
    for me, peer in (("a", "b"), ("b", "a")):
        stack.add(Component(f"node-{me}", [sys.executable, "-c", _PEER, str(tmp_path / me), str(tmp_path / peer)],
                            ports={"p": free_port()}, ready=lambda: True, stop_timeout=5.0, stops_with_peers=True))
    stack.start("node-a"), stack.start("node-b")
    started = time.monotonic()
    assert stack.down() == {"node-b": "stopped", "node-a": "stopped"}   # one by one, node-b would need SIGKILL
    assert time.monotonic() - started < 5.0


def test_a_broken_class_archive_is_never_used(tmp_path, monkeypatch):
    if not kafka.is_installed():
        pytest.skip("the Kafka jars are not resolved (no test that starts a stack was selected)")
    monkeypatch.setattr(kafka_cds, "archive", lambda: tmp_path / "shared.jsa")
    dump = tmp_path / "kafka-2.jsa"
    dump.write_bytes(b"\0" * 1_000_000)   # what a JVM killed while dumping could leave
    assert kafka_cds.jvm_flags(dump) == (f"-XX:ArchiveClassesAtExit={dump}",)
    kafka_cds.keep(dump)
    assert not dump.exists() and not (tmp_path / "shared.jsa").exists()
    assert kafka_cds.jvm_flags(dump) == (f"-XX:ArchiveClassesAtExit={dump}",)


def test_status_shows_the_brokers_the_quorum_and_under_replicated_partitions(cluster_stack):
    env = {"TIDINGS_HOME": str(cluster_stack.home)}
    view = kafka_status.wait_fully_replicated(cluster_stack.settings.kafka_bootstrap, 3, 60)
    assert view.quorum.leader_id in {v.node_id for v in view.quorum.voters} and len(view.quorum.voters) == 3
    status = run_invoke("status", env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    out = " ".join(status.stdout.split())
    assert "kafka cluster: 3 of 3 brokers alive" in out and "controller quorum leader: node" in out
    assert "under-replicated partitions: 0" in out and "offline partitions: 0" in out
    assert all(f"127.0.0.1:{cluster_stack.port(n)}" in out for n in NODES)

    assert cluster_stack.kill("kafka-3") == "killed"   # the fixture starts it again after the test
    wait_for(lambda: kafka_status.view(cluster_stack.settings.kafka_bootstrap).under_replicated, 60,
             message="kafka-3's replicas out of the ISR")
    status = run_invoke("status", env=env)
    out = " ".join(status.stdout.split())
    assert "kafka cluster: 2 of 3 brokers alive" in out and "not alive" in out
    assert "under-replicated partitions: 0" not in out


def test_logs_of_a_cluster_node(cluster_stack):
    result = run_invoke("logs", "kafka-2", "-l", "5", env={"TIDINGS_HOME": str(cluster_stack.home)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "kafka-2.properties" in cluster_stack.tail("kafka-2", 10**6)
    assert result.stdout.strip().splitlines()[-1] in cluster_stack.tail("kafka-2", 40)


def test_every_process_gets_every_broker(cluster_stack):
    wanted = set(cluster_stack.settings.kafka_bootstrap.split(","))
    assert len(wanted) == 3
    for name in ("edge-a", "edge-b", "esm"):
        environ = open(f"/proc/{cluster_stack.pid(name)}/environ", "rb").read().split(b"\0")
        bootstrap = next(v for v in environ if v.startswith(b"TIDINGS_KAFKA_BOOTSTRAP=")).split(b"=", 1)[1]
        assert set(bootstrap.decode().split(",")) == wanted, name


def test_the_quorum_is_asked_of_the_next_broker_when_one_is_gone(cluster_stack):
    quorum = describe(f"127.0.0.1:{free_port()}," + cluster_stack.settings.kafka_bootstrap)
    assert quorum.leader_id >= 0 and quorum.high_watermark > 0
    with pytest.raises(QuorumUnavailable):
        describe(f"127.0.0.1:{free_port()}", timeout=1.0)



def test_the_gateway_produces_to_the_stacks_kafka(tmp_path):
    """The HTTP function behind the gateway produces edits, deletes and reactions to Kafka."""
    for brokers in (1, 3):
        stack = Stack(tmp_path / str(brokers), ports="auto", settings=Settings(brokers=brokers))
        gateway = stack.component("gateway")
        assert gateway.depends_on == ("kafka", "dynalite")
        assert gateway.env["TIDINGS_KAFKA_BOOTSTRAP"] == stack.settings.kafka_bootstrap
        assert gateway.env["TIDINGS_CHAT_TOPIC"] == stack.settings.chat_topic
