"""Structural checks of iac/'s IAM against the code: no star grants, scoped MSK and DynamoDB
actions, the notifier's role, and every table the code touches granted to its component."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import iacutil as u
from functions import tables as tables_py

IAM = u.module_dir("iam")

# ---------------------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------------------


def _statements(directory: Path):
    for name, doc in u.data_sources(directory, "aws_iam_policy_document"):
        for st in u.blocks(doc, "statement"):
            yield name, st
        for dyn in u.dynamic_blocks(doc, "statement"):
            for st in u.blocks(dyn, "content"):
                yield name, st


def _all_statements():
    for directory in [u.IAC] + sorted(p for p in u.MODULES.iterdir() if p.is_dir()):
        for name, st in _statements(directory):
            yield directory.name, name, st


def test_no_statement_grants_star_on_star():
    seen = 0
    for module, doc, st in _all_statements():
        seen += 1
        actions = st.get("actions", [])
        resources = st.get("resources", [])
        assert "*" not in actions, f"{module}/{doc}: action \"*\""
        if "*" in resources:
            wild = [a for a in actions if isinstance(a, str) and a.endswith("*")]
            if module == "kms" and doc == "key":
                continue  # a key policy's "*" resource is the key itself
            assert not wild, f"{module}/{doc} {st.get('sid')}: wildcard actions {wild} on \"*\""
            allowed_unscoped = re.compile(r"^(ec2:Describe\w+|xray:Put\w+|ecr:GetAuthorizationToken)$")
            assert all(allowed_unscoped.match(a) for a in actions), \
                f"{module}/{doc} {st.get('sid')}: {actions} on \"*\" though they support resource scoping"
    assert seen > 20


def test_msk_and_dynamodb_actions_are_scoped():
    for module, doc, st in _all_statements():
        actions = [a for a in st.get("actions", []) if isinstance(a, str)]
        scoped = [a for a in actions if a.startswith(("kafka-cluster:", "kafka:", "dynamodb:"))]
        if scoped or "${statement.value.actions}" in st.get("actions", []):
            assert "*" not in st.get("resources", []), f"{module}/{doc} {st.get('sid')}: {scoped} on *"
            assert not any(a.endswith(":*") for a in scoped)
    kafka_res = {r for _, _, st in _all_statements()
                 for a in st.get("actions", []) if isinstance(a, str) and a.startswith("kafka-cluster:")
                 for r in st.get("resources", [])}
    # ${each.value}: the consumer group of data.aws_iam_policy_document.chat_consumer[each.key]
    assert kafka_res <= {"${var.msk_cluster_arn}", "${local.chat_topic_arn}", "${local.dlq_topic_arn}",
                         "${local.group_arn}", "${statement.value}", "${each.value}"}
    locs = u.locals_(IAM)
    for level, actions in locs["dynamodb_actions"].items():
        assert all(a.startswith("dynamodb:") and "*" not in a for a in actions), level
    assert "Scan" not in json.dumps(locs["dynamodb_actions"])
    assert ":topic/" in locs["chat_topic_arn"] and ":group/" in locs["group_arn"]
    assert ":group/" in locs["push_group_arn"] and locs["push_group_arn"].endswith("/${var.push_consumer_group}")
    assert locs["chat_consumer_groups"] == {"worker": "${local.group_arn}", "notifier": "${local.push_group_arn}"}


def _policy_document(directory: Path, name: str) -> dict:
    return dict(u.data_sources(directory, "aws_iam_policy_document"))[name]


def test_the_edge_and_the_http_function_produce_to_the_chat_topic_only():
    """One pair of statements (locals.chat_producer_statements) for both producers of the chat
    topic: connect as an idempotent producer, write that topic and no other; the consumers'
    documents do not get it."""
    statements = {st["sid"]: st for st in u.locals_(IAM)["chat_producer_statements"]}
    assert statements == {
        "MskConnectIdempotentProducer": {"sid": "MskConnectIdempotentProducer",
                                         "actions": ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"],
                                         "resources": ["${var.msk_cluster_arn}"]},
        "MskWriteChatTopic": {"sid": "MskWriteChatTopic",
                              "actions": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
                              "resources": ["${local.chat_topic_arn}"]},
    }
    for name, produces in (("edge_task", True), ("http", True), ("chat_consumer", False), ("worker", False)):
        loops = [d["for_each"] for d in u.dynamic_blocks(_policy_document(IAM, name), "statement")]
        assert ("${local.chat_producer_statements}" in loops) is produces, name


def _sids(doc: dict) -> dict[str, dict]:
    return {st["sid"]: st for st in u.blocks(doc, "statement")}


def test_notifier_role_is_a_chat_consumer_in_its_own_group_plus_the_push_secret():
    """modules/iam: the notifier gets what the worker gets as a reader of the chat topic, in
    its own consumer group, and the push credentials; nothing of the worker's own (dead
    letters), no table write it does not make."""
    consumer = _policy_document(IAM, "chat_consumer")
    assert consumer["for_each"] == "${local.chat_consumer_groups}"
    shared = _sids(consumer)
    assert set(shared) == {"Logs", "MskControlPlane", "MskConnect", "MskReadChatTopic", "MskConsumerGroup",
                           "VpcDescribe", "VpcNetworkInterfaces", "Kms", "XRay"}
    assert shared["Logs"]["resources"] == ["${var.log_group_arns[each.key]}:*"]
    assert shared["MskConsumerGroup"]["resources"] == ["${each.value}"]
    assert shared["MskReadChatTopic"]["actions"] == ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    (tables,) = u.dynamic_blocks(consumer, "statement")
    assert tables["for_each"] == "${local.table_statements[each.key]}"

    notifier = _policy_document(IAM, "notifier")
    assert notifier["source_policy_documents"] == ['${data.aws_iam_policy_document.chat_consumer["notifier"].json}']
    assert not u.dynamic_blocks(notifier, "statement")
    own = _sids(notifier)
    assert set(own) == {"PushCredentials"}
    assert own["PushCredentials"]["actions"] == ["secretsmanager:GetSecretValue"]
    assert own["PushCredentials"]["resources"] == ["${var.push_credentials_secret_arn}"]
    worker = _policy_document(IAM, "worker")
    assert worker["source_policy_documents"] == ['${data.aws_iam_policy_document.chat_consumer["worker"].json}']

    role = u.resource(IAM, "aws_iam_role", "notifier")
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.lambda_assume.json}"
    attached = u.resource(IAM, "aws_iam_role_policy", "notifier")
    assert attached["role"] == "${aws_iam_role.notifier.id}"
    assert attached["policy"] == "${data.aws_iam_policy_document.notifier.json}"

    # It changes members (pushedSeq) and deletes dead devices; it never creates an item.
    access = u.locals_(u.IAC)["table_access"]["notifier"]
    levels = u.locals_(IAM)["dynamodb_actions"]
    granted = {a for level in access.values() for a in levels[level]}
    assert not granted & {"dynamodb:PutItem", "dynamodb:BatchWriteItem"}
    assert access["members"] == access["devices"] == "update"
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= set(levels["update"])


def test_notifier_is_wired_to_its_role_group_and_secret():
    calls = u.module_calls()
    assert calls["iam"]["push_consumer_group"] == calls["push"]["consumer_group"] == "${var.push_consumer_group}"
    assert calls["iam"]["push_credentials_secret_arn"] == "${module.push.credentials_secret_arn}"
    assert calls["push"]["role_arn"] == "${module.iam.notifier_role_arn}"
    assert calls["push"]["policy_ready"] == "${module.iam.notifier_policy_ready}"
    assert calls["push"]["log_group_name"] == "${module.observability.notifier_log_group_name}"
    push = u.module_dir("push")
    assert not [n for t, n, _ in u.resources_typed(push) if t.startswith("aws_iam_")], "IAM lives in modules/iam"
    assert not u.data_sources(push, "aws_iam_policy_document")
    fn = u.resource(push, "aws_lambda_function", "notifier")
    assert fn["role"] == "${var.role_arn}"
    assert u.block(fn, "logging_config")["log_group"] == "${var.log_group_name}"
    esm = u.resource(push, "aws_lambda_event_source_mapping", "notifier")
    assert u.block(esm, "amazon_managed_kafka_event_source_config")["consumer_group_id"] == "${var.consumer_group}"
    assert u.default(u.IAC, "push_consumer_group") != u.default(u.IAC, "consumer_group"), "its lag is its own"
    for created in (fn, esm):
        assert created["depends_on"] == ["${terraform_data.prerequisites}"]
    assert u.resource(push, "terraform_data", "prerequisites")["input"] == ["${var.policy_ready}", "${var.msk_ready}"]


# Tables a component's closure names but the component never touches (checked below).
NOT_TOUCHED = {
    # The notifier imports functions.connections for live_subscribers (a pure function of the
    # room item it read), never its Connections store.
    "notifier": {"connections"},
}


def _tables_used(paths: set[Path]) -> set[str]:
    constants = {name: t.logical for name, t in vars(tables_py).items() if isinstance(t, tables_py.Table)}
    used = set()
    for path in paths:
        for const in re.findall(r"\btables\.([A-Z_]+)\b", path.read_text()):
            if const in constants:
                used.add(constants[const])
    return used


@pytest.mark.parametrize("component", sorted(u.COMPONENT_SOURCES))
def test_every_table_the_code_touches_is_granted(component):
    access = u.locals_(u.IAC)["table_access"][component]
    sources = u.COMPONENT_SOURCES[component]()
    used = _tables_used(sources) - NOT_TOUCHED.get(component, set())
    if component == "notifier":
        push = [p for p in sources if "push" in p.parts]
        assert push and not any(re.search(r"\bConnections\(", p.read_text()) for p in push)
    missing = used - set(access)
    assert not missing, f"{component} code uses tables {sorted(missing)} its role cannot touch (iac/main.tf table_access)"
    assert set(access) <= {t.logical for t in tables_py.ALL_TABLES}
