"""Kafka's replication is declared once, in functions/kafka_cluster.py: 3 brokers across 3
availability zones, RF 3, min.insync.replicas 2, no unclean leader election. iac/ (MSK) and
the local 3-broker cluster both take it from there; these tests check that they do."""

from __future__ import annotations

import json

import iacutil as u
from functions import kafka_cluster as contract
from functions.settings import Settings
from local.deploy import tfvars
from local.stack import kafka


def _props(text: str) -> dict[str, str]:
    """key=value lines (of server.properties, or of a heredoc holding them)."""
    return dict(line.strip().split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def test_the_contract_keeps_acked_records_through_the_loss_of_one_broker():
    rep = contract.CONTRACT
    assert (contract.BROKERS, contract.AVAILABILITY_ZONES) == (3, 3)
    assert (rep.factor, rep.min_insync, rep.unclean_leader_election) == (3, 2, False)
    assert contract.BROKERS % contract.AVAILABILITY_ZONES == 0, "brokers spread evenly over the zones"
    assert rep.min_insync < rep.factor <= contract.BROKERS, "one broker down must not stop writes"
    assert contract.replication_for(1) == contract.Replication(1, 1)


def test_kafka_tfvars_is_generated_from_the_contract():
    committed = (u.IAC / "kafka.auto.tfvars.json").read_text()
    assert committed == tfvars.render_kafka_tfvars(), \
        "iac/kafka.auto.tfvars.json is stale: run `python -m local.deploy.package kafka`"
    assert json.loads(committed) == {
        "msk_broker_count": contract.BROKERS, "az_count": contract.AVAILABILITY_ZONES,
        "topic_replication_factor": contract.CONTRACT.factor,
        "topic_min_insync_replicas": contract.CONTRACT.min_insync,
        "topic_unclean_leader_election": contract.CONTRACT.unclean_leader_election}


def test_iac_has_no_second_declaration_of_the_shape():
    declared = u.variables(u.IAC)
    for name in tfvars.kafka_tfvars():
        assert name in declared, f"iac/variables_*.tf do not declare {name}"
        assert "default" not in declared[name], f"{name} has a default in iac/variables_*.tf: it comes from the contract"
    msk = u.raw_text(u.module_dir("msk"))
    for literal in ("min.insync.replicas=2", "unclean.leader.election.enable=false", "min_insync = "):
        assert literal not in msk, f"iac/modules/msk sets {literal!r} itself"


def test_msk_brokers_topics_and_zones_use_the_contract_variables():
    calls = u.module_calls()
    msk, network = calls["msk"], calls["network"]
    assert msk["broker_count"] == "${var.msk_broker_count}"
    assert msk["topic_replication_factor"] == "${var.topic_replication_factor}"
    assert msk["min_insync_replicas"] == "${var.topic_min_insync_replicas}"
    assert msk["unclean_leader_election"] == "${var.topic_unclean_leader_election}"
    assert msk["subnet_ids"] == "${module.network.private_subnet_ids}", "one broker per private subnet (zone)"
    assert network["az_count"] == "${var.az_count}"
    module = u.module_dir("msk")
    props = _props(u.locals_(module)["server_properties"])
    assert props["default.replication.factor"] == "${var.topic_replication_factor}"
    assert props["min.insync.replicas"] == "${var.min_insync_replicas}"
    assert props["unclean.leader.election.enable"] == "${var.unclean_leader_election}"
    cluster = u.resource(module, "aws_msk_cluster", "this")
    assert cluster["number_of_broker_nodes"] == "${var.broker_count}"
    assert u.block(cluster, "broker_node_group_info")["client_subnets"] == "${var.subnet_ids}"
    for name in ("chat", "dlq"):
        topic = u.resource(module, "aws_msk_topic", name)
        assert topic["replication_factor"] == "${var.topic_replication_factor}"
        assert "tostring(var.min_insync_replicas)" in topic["configs"]


def test_the_local_cluster_renders_the_contract(tmp_path):
    nodes = {1: (19092, 19093), 2: (19094, 19095), 3: (19096, 19097)}
    rendered = {n: _props(kafka.render_properties(settings=Settings(), nodes=nodes, home_data=tmp_path, node_id=n))
                for n in nodes}
    rep = contract.CONTRACT
    for node_id, props in rendered.items():
        assert props["node.id"] == str(node_id)
        assert props["controller.quorum.voters"] == "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
        assert props["listeners"] == (f"PLAINTEXT://127.0.0.1:{nodes[node_id][0]},"
                                      f"CONTROLLER://127.0.0.1:{nodes[node_id][1]}")
        for key in ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor"):
            assert props[key] == str(rep.factor), key
        for key in ("min.insync.replicas", "transaction.state.log.min.isr"):
            assert props[key] == str(rep.min_insync), key
        assert props["unclean.leader.election.enable"] == "false"
    assert len({props["log.dirs"] for props in rendered.values()}) == 3, "each node has its own log dir"


def test_a_single_broker_is_rendered_as_before(tmp_path):
    props = _props(kafka.render_properties(settings=Settings(), nodes={1: (9092, 9093)}, home_data=tmp_path))
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props
    assert (props["default.replication.factor"], props["min.insync.replicas"]) == ("1", "1")
    assert props["log.dirs"] == str(tmp_path / "kafka" / "log")
