"""Structural checks of iac/ against the code: tables, the event source mapping, network
exposure of the delivery port, and the environment each component gets (IAM: test_iac_iam.py)."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

import iacutil as u
from functions import tables as tables_py
from functions.settings import Settings, env_names

LAMBDA = u.module_dir("lambda")
NETWORK = u.module_dir("network")
ECS = u.module_dir("ecs")
IAM = u.module_dir("iam")

# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------


def _tfvars_tables() -> dict:
    return json.loads((u.IAC / "tables.auto.tfvars.json").read_text())["tables"]


def test_every_table_is_declared_with_the_same_keys_indexes_and_ttl():
    declared = _tfvars_tables()
    assert set(declared) == {t.logical for t in tables_py.ALL_TABLES}
    for t in tables_py.ALL_TABLES:
        tf = declared[t.logical]
        assert tf["hash_key"] == t.hash_key[0], t.logical
        assert tf["range_key"] == (t.range_key[0] if t.range_key else None), t.logical
        assert tf["ttl_attribute"] == t.ttl_attribute, t.logical
        types = {a["name"]: a["type"] for a in tf["attributes"]}
        wanted = {t.hash_key[0]: t.hash_key[1]}
        if t.range_key:
            wanted[t.range_key[0]] = t.range_key[1]
        for index in t.indexes:
            wanted[index.hash_key[0]] = index.hash_key[1]
            if index.range_key:
                wanted[index.range_key[0]] = index.range_key[1]
        assert types == wanted, f"{t.logical}: attribute definitions differ"
        gsis = {g["name"]: g for g in tf["global_secondary_indexes"]}
        assert set(gsis) == {i.name for i in t.indexes}, t.logical
        for index in t.indexes:
            g = gsis[index.name]
            assert g["hash_key"] == index.hash_key[0]
            assert g["range_key"] == (index.range_key[0] if index.range_key else None)
            assert g["projection_type"] == index.projection


def test_dynamodb_module_maps_every_field():
    body = u.resource(u.module_dir("dynamodb"), "aws_dynamodb_table", "this")
    assert body["for_each"] == "${var.tables}"
    assert body["name"] == "${var.table_prefix}${each.key}"
    assert body["billing_mode"] == "PAY_PER_REQUEST"
    assert body["hash_key"] == "${each.value.hash_key}"
    assert body["range_key"] == "${each.value.range_key}"
    assert u.block(body, "point_in_time_recovery")["enabled"] is True
    sse = u.block(body, "server_side_encryption")
    assert sse["enabled"] is True and sse["kms_key_arn"] == "${var.kms_key_arn}"
    (attr,) = u.dynamic_blocks(body, "attribute")
    assert attr["for_each"] == "${each.value.attributes}"
    (gsi,) = u.dynamic_blocks(body, "global_secondary_index")
    assert gsi["for_each"] == "${each.value.global_secondary_indexes}"
    content = u.block(gsi, "content")
    for field in ("name", "hash_key", "range_key", "projection_type"):
        assert content[field] == f"${{global_secondary_index.value.{field}}}"
    (ttl,) = u.dynamic_blocks(body, "ttl")
    assert "each.value.ttl_attribute" in ttl["for_each"]
    assert u.block(ttl, "content") == {"attribute_name": "${ttl.value}", "enabled": True}


def test_table_prefix_is_the_one_the_code_gets():
    calls = u.module_calls()
    assert calls["dynamodb"]["table_prefix"] == "${local.table_prefix}"
    assert u.locals_(u.IAC)["common_environment"]["TIDINGS_TABLE_PREFIX"] == "${local.table_prefix}"


# ---------------------------------------------------------------------------------------
# The Kafka event source mapping
# ---------------------------------------------------------------------------------------


def _var_validations(name: str) -> str:
    return " ".join(u.expr(v["condition"]) for v in u.variables(u.IAC)[name].get("validation", []))


def test_event_source_mapping_cannot_block_a_partition():
    esm = u.resource(LAMBDA, "aws_lambda_event_source_mapping", "chat")
    assert esm["bisect_batch_on_function_error"] is True
    assert esm["function_response_types"] == ["ReportBatchItemFailures"]
    assert esm["maximum_retry_attempts"] == "${var.esm_max_retry_attempts}"
    assert u.module_calls()["lambda"]["esm_max_retry_attempts"] == "${var.esm_max_retry_attempts}"
    retries = u.default(u.IAC, "esm_max_retry_attempts")
    assert 0 <= retries <= 10
    cond = _var_validations("esm_max_retry_attempts")
    assert ">= 0" in cond and "<= 10" in cond and "-1" not in cond, "retries must be bounded (no -1)"
    destination = u.block(u.block(esm, "destination_config"), "on_failure")["destination_arn"]
    assert destination == "${local.on_failure_destination}"
    on_failure = u.expr(u.locals_(LAMBDA)["on_failure_destination"])
    assert '"kafka://${var.dlq_topic}"' in on_failure and "aws_sqs_queue.dlq" in on_failure


def test_event_source_mapping_batching_and_source():
    esm = u.resource(LAMBDA, "aws_lambda_event_source_mapping", "chat")
    for key in ("batch_size", "maximum_batching_window_in_seconds", "starting_position",
                "maximum_record_age_in_seconds", "topics", "event_source_arn"):
        assert key in esm, key
    assert u.default(u.IAC, "esm_batch_size") == 100
    assert u.block(esm, "amazon_managed_kafka_event_source_config")["consumer_group_id"] == "${var.consumer_group}"
    pollers = u.block(esm, "provisioned_poller_config")
    assert {"minimum_pollers", "maximum_pollers"} <= set(pollers)
    assert esm["topics"] == ["${var.chat_topic}"]
    timeout_cond = _var_validations("worker_timeout_s")
    assert "<= 840" in timeout_cond, "Kafka event source mappings allow at most 14 minutes"


def test_dead_letter_topic_exists_and_differs_from_the_source():
    assert u.default(u.IAC, "dlq_topic") != u.default(u.IAC, "chat_topic")
    names = {b["name"] for _, b in u.resources(u.module_dir("msk"), "aws_msk_topic")}
    assert names == {"${var.chat_topic}", "${var.dlq_topic}"}


# ---------------------------------------------------------------------------------------
# Network exposure
# ---------------------------------------------------------------------------------------


def _port_range(rule: dict) -> tuple[str, str]:
    return str(rule.get("from_port")), str(rule.get("to_port"))


def test_delivery_port_is_reachable_only_from_the_functions():
    ingress = u.resources(NETWORK, "aws_vpc_security_group_ingress_rule")
    to_delivery = [(n, r) for n, r in ingress if "${var.edge_internal_port}" in _port_range(r)]
    assert len(to_delivery) == 1, to_delivery
    name, rule = to_delivery[0]
    assert rule["security_group_id"] == "${aws_security_group.edge.id}"
    assert rule["referenced_security_group_id"] == "${aws_security_group.functions.id}"
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule), f"{name} opens the delivery port to addresses"
    # the edge SG takes nothing else but the public port from the NLB
    edge_rules = [r for _, r in ingress if r["security_group_id"] == "${aws_security_group.edge.id}"]
    assert {_port_range(r) for r in edge_rules} == {
        ("${var.edge_public_port}", "${var.edge_public_port}"),
        ("${var.edge_internal_port}", "${var.edge_internal_port}"),
    }
    assert u.module_calls()["network"]["edge_internal_port"] == "${local.edge_internal_port}"
    assert u.module_calls()["ecs"]["internal_port"] == "${local.edge_internal_port}"


def test_no_open_ingress_except_the_public_listener():
    for directory in [u.IAC] + sorted(p for p in u.MODULES.iterdir() if p.is_dir()):
        for type_, name, body in u.resources_typed(directory):
            if type_ == "aws_security_group":
                assert "ingress" not in body and "egress" not in body, f"{name}: use separate rule resources"
            if type_ == "aws_security_group_rule":
                pytest.fail(f"{name}: use aws_vpc_security_group_*_rule resources")
            if type_ == "aws_vpc_security_group_ingress_rule":
                if body.get("cidr_ipv4") or body.get("cidr_ipv6"):
                    assert (name, body["security_group_id"]) == ("nlb_clients", "${aws_security_group.nlb.id}"), \
                        f"{name} accepts traffic from addresses"
                    assert _port_range(body) == ("${var.listener_port}", "${var.listener_port}")
    assert all(c == "0.0.0.0/0" or "/" in c for c in u.default(u.IAC, "client_cidrs"))


def test_edges_are_private_behind_the_nlb():
    svc = u.resource(ECS, "aws_ecs_service", "edge")
    assert u.block(svc, "network_configuration")["assign_public_ip"] is False
    lb = u.block(svc, "load_balancer")
    assert lb["container_port"] == "${var.public_port}"
    tg = u.resource(ECS, "aws_lb_target_group", "edge")
    assert tg["port"] == "${var.public_port}"
    assert u.block(tg, "health_check")["path"] == "/healthz"


def test_nlb_idle_timeout_choice():
    listener = u.resource(ECS, "aws_lb_listener", "ws")
    assert "tcp_idle_timeout_seconds" in listener
    pre = u.block(u.block(listener, "lifecycle"), "precondition")
    assert "var.idle_timeout_s < 350" in u.expr(pre["condition"])
    assert u.default(u.IAC, "edge_idle_timeout_s") < 350
    assert u.locals_(u.IAC)["edge_extra_environment"]["TIDINGS_IDLE_TIMEOUT_S"] == "${tostring(var.edge_idle_timeout_s)}"


# ---------------------------------------------------------------------------------------
# Environment of each component
# ---------------------------------------------------------------------------------------

# Set per task by the image's entrypoint from the ECS task metadata.
ENTRYPOINT_ENV = {"TIDINGS_EDGE_DELIVERY_URL", "TIDINGS_EDGE_ID"}


def _component_env() -> dict[str, dict]:
    return {
        "worker": u.resolve_env_map(u.IAC, "worker_environment"),
        "http": u.resolve_env_map(u.IAC, "http_environment"),
        "edge": {**u.resolve_env_map(u.IAC, "edge_environment"),
                 **u.locals_(u.IAC)["edge_secrets"],
                 **{k: "<entrypoint>" for k in ENTRYPOINT_ENV}},
    }


def test_environment_reaches_the_functions_and_the_edges():
    calls = u.module_calls()
    assert calls["lambda"]["worker_environment"] == "${local.worker_environment}"
    assert calls["lambda"]["http_environment"] == "${local.http_environment}"
    assert calls["ecs"]["environment"] == "${local.edge_environment}"
    assert calls["ecs"]["secrets"] == "${local.edge_secrets}"
    fns = dict(u.instances(LAMBDA, "aws_lambda_function"))
    assert u.block(fns["worker"], "environment")["variables"] == "${var.worker_environment}"
    assert u.block(fns["http"], "environment")["variables"] == "${var.http_environment}"
    task = u.raw_text(ECS)
    assert "for k in sort(keys(var.environment))" in task and "for k in sort(keys(var.secrets))" in task


def test_entrypoint_sets_the_per_task_settings():
    script = (u.ROOT / "websocket_edge" / "docker" / "ecs_identity.py").read_text()
    for name in ENTRYPOINT_ENV:
        assert f'"{name}"' in script
    assert "ECS_CONTAINER_METADATA_URI_V4" in (u.ROOT / "websocket_edge" / "docker" / "edge-entrypoint.sh").read_text()


@pytest.mark.parametrize("component", ["worker", "http", "edge"])
def test_every_variable_set_is_a_real_setting(component):
    env = _component_env()[component]
    unknown = {k for k in env if k not in env_names() and not k.startswith("AWS_")}
    assert not unknown, f"{component}: {sorted(unknown)} are not settings (functions/settings.py)"
    if component in ("worker", "http"):
        reserved = {k for k in env if k.startswith("AWS_")}
        assert not reserved, f"{component}: Lambda reserves {sorted(reserved)}"


def _local_only_fields() -> list[dataclasses.Field]:
    """Settings whose default only makes sense on a developer machine."""
    out = []
    for f in dataclasses.fields(Settings):
        value = f.default
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        if f.metadata.get("secret") or "127.0.0.1" in text or "local" in text or text == "*":
            out.append(f)
    return out


@pytest.mark.parametrize("component", ["worker", "http", "edge"])
def test_settings_the_code_needs_are_set(component):
    env = _component_env()[component]
    sources = "\n".join(p.read_text() for p in u.COMPONENT_SOURCES[component]())
    needed = set()
    for f in _local_only_fields():
        if re.search(rf"\.{f.name}\b", sources):
            needed.add(f.metadata["env"])
    needed.discard("TIDINGS_JWT_SECRET")  # HS256 only; AWS runs RS256 (API Gateway's JWT authorizer)
    needed.discard("TIDINGS_LOCAL_MODE")  # default false is right
    needed.discard("TIDINGS_DYNAMODB_ENDPOINT")  # must stay unset (real DynamoDB)
    needed.add("TIDINGS_TABLE_PREFIX")  # tables are named with the deployment's prefix
    missing = needed - set(env)
    assert not missing, f"{component} uses {sorted(missing)} but iac/ does not set them"
    assert "TIDINGS_DYNAMODB_ENDPOINT" not in env
    assert env.get("TIDINGS_LOCAL_MODE", "false") == "false"
    if "TIDINGS_JWT_ALGORITHM" in env:
        assert env["TIDINGS_JWT_ALGORITHM"] == "RS256" and "TIDINGS_JWT_PUBLIC_KEY" in env
    if component == "edge":
        assert env["TIDINGS_KAFKA_SECURITY"] == "iam"
        assert env["TIDINGS_DELIVERY_SECRET"].startswith("${aws_secretsmanager_secret."), "secret in clear"
