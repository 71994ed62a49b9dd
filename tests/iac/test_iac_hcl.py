"""Every .tf file parses; formatting; module wiring (a stand-in for `terraform validate`,
which needs providers this machine cannot download); generated inputs are current."""

from __future__ import annotations

import json
import re

import pytest

import iacutil as u
from functions.settings import Settings
from local.deploy import iac_check, package
from local.deploy import tfvars as generated_inputs

ALL_DIRS = [u.IAC] + sorted(p for p in u.MODULES.iterdir() if p.is_dir())
TOP_LEVEL_BLOCKS = {"terraform", "provider", "variable", "locals", "data", "resource", "module", "output",
                    "moved", "import", "removed", "check"}


@pytest.mark.parametrize("path", u.tf_files(), ids=lambda p: str(p.relative_to(u.IAC)))
def test_every_tf_file_parses(path):
    parsed = u.parse(path)
    # Something was declared, and only Terraform's top-level blocks (a typo such as
    # `resouce` or a stray attribute would show here).
    assert parsed and set(parsed) <= TOP_LEVEL_BLOCKS, f"{path.name}: top-level {sorted(parsed)}"


def test_terraform_fmt():
    result = iac_check.terraform_fmt_check()
    if result is None:
        pytest.skip("no terraform binary on PATH: formatting not checked (parsing still is)")
    ok, output = result
    assert ok, f"run `terraform fmt -recursive iac`:\n{output}"


def test_tables_tfvars_is_generated_from_tables_py():
    committed = (u.IAC / "tables.auto.tfvars.json").read_text()
    assert committed == generated_inputs.render_tables_tfvars(), \
        "iac/tables.auto.tfvars.json is stale: run `python -m local.deploy.package tables`"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda p: p.name)
def test_variables_have_type_and_description(directory):
    for name, body in u.variables(directory).items():
        assert body.get("description"), f"{directory.name}: variable {name} has no description"
        assert "type" in body, f"{directory.name}: variable {name} has no type"


def test_root_variables_are_validated():
    unvalidated = {name for name, body in u.variables(u.IAC).items()
                   if not body.get("validation") and u.expr(body["type"]) not in ("bool", "map(string)")}
    assert not unvalidated, f"root variables without a validation block: {sorted(unvalidated)}"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda p: p.name)
def test_outputs_have_descriptions(directory):
    for name, body in u.outputs(directory).items():
        assert body.get("description"), f"{directory.name}: output {name} has no description"


def test_root_outputs_websocket_and_http_urls():
    outs = u.outputs(u.IAC)
    assert "websocket_url" in outs and "http_api_url" in outs


def test_module_calls_match_module_variables():
    """Every argument is a declared variable; every variable without default is passed."""
    for call, body in u.module_calls().items():
        source = body["source"]
        directory = (u.IAC / source).resolve()
        assert directory.is_dir(), f"module {call}: no directory {source}"
        declared = u.variables(directory)
        passed = {k for k in body if k not in ("source", "depends_on", "providers", "count", "for_each")}
        unknown = passed - set(declared)
        assert not unknown, f"module {call} passes undeclared variables {sorted(unknown)}"
        required = {n for n, v in declared.items() if "default" not in v}
        missing = required - passed
        assert not missing, f"module {call} misses required variables {sorted(missing)}"


@pytest.mark.parametrize("directory", ALL_DIRS, ids=lambda p: p.name)
def test_references_resolve(directory):
    """var.X, local.X, module.M.O and resource references point at something declared."""
    text = u.raw_text(directory)
    code = re.sub(r"#[^\n]*", "", text)  # comments and prose may mention anything
    code = re.sub(r"(?m)^\s*(description|error_message)\s*=.*$", "", code)
    code = re.sub(r"(?ms)^moved \{.*?^\}", "", code)  # a `moved` block names an address that is gone
    declared_vars = set(u.variables(directory))
    declared_locals = set(u.locals_(directory))
    for name in set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", code)):
        assert name in declared_vars, f"{directory.name}: var.{name} is not declared"
    for name in set(re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)", code)):
        assert name in declared_locals, f"{directory.name}: local.{name} is not declared"
    calls = u.module_calls(directory)
    for call, out in set(re.findall(r"\bmodule\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)", code)):
        assert call in calls, f"{directory.name}: module.{call} is not called"
        mod_outputs = u.outputs((directory / calls[call]["source"]).resolve())
        assert out in mod_outputs, f"{directory.name}: module.{call} has no output {out}"
    declared_resources = {(t, n) for t, n, _ in u.resources_typed(directory)}
    declared_data = {(t, n) for t in ("",) for t, n, _, _ in u._labelled(directory, "data")}
    for type_, name in set(re.findall(r"(?<![.\w])(aws_[a-z0-9_]+|random_[a-z_]+|terraform_data)\.([a-z_][a-z0-9_]*)\b", code)):
        if type_.startswith("aws_") and name in ("arn", "id", "name"):
            continue
        assert (type_, name) in declared_resources, f"{directory.name}: {type_}.{name} is not declared"
    for type_, name in set(re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z_][a-z0-9_]*)", code)):
        assert (type_, name) in declared_data, f"{directory.name}: data.{type_}.{name} is not declared"


def test_provider_pins():
    text = (u.IAC / "versions.tf").read_text()
    assert re.search(r'required_version\s*=\s*">= 1\.9', text)
    assert re.search(r'source\s*=\s*"hashicorp/aws"', text)
    assert re.search(r'version\s*=\s*"~> 6\.', text)


def test_defaults_match_settings():
    """Names the stack shares with functions/settings.py have the same defaults in iac/."""
    s = Settings()
    assert u.default(u.IAC, "chat_topic") == s.chat_topic
    assert u.default(u.IAC, "dlq_topic") == s.dead_letter_topic
    assert u.default(u.IAC, "partitions") == s.partitions
    assert u.default(u.IAC, "consumer_group") == s.consumer_group
    assert u.default(u.IAC, "esm_batch_size") == s.batch_size == 100
    assert u.default(u.IAC, "esm_max_retry_attempts") == s.max_retry_attempts
    assert u.default(u.IAC, "esm_max_record_age_s") == s.max_record_age_s
    assert u.locals_(u.IAC)["edge_internal_port"] == s.edge_internal_port
    assert u.default(u.IAC, "edge_heartbeat_ms") == s.heartbeat_ms


def test_lambda_matches_the_package():
    assert u.default(u.IAC, "lambda_architecture") == package.LAMBDA_ARCH
    assert u.locals_(u.module_dir("lambda"))["runtime"] == package.LAMBDA_RUNTIME
    assert u.default(u.IAC, "lambda_zip_path").endswith("/" + package.ZIP_NAME)


def test_lambda_handlers_exist():
    import importlib
    import inspect

    for name, body in u.instances(u.module_dir("lambda"), "aws_lambda_function"):
        module, _, func = body["handler"].rpartition(".")
        mod = importlib.import_module(module)
        handler = getattr(mod, func, None)
        assert handler is not None, f"{name}: handler {body['handler']} does not exist"
        try:  # Lambda calls handler(event, context)
            inspect.signature(handler).bind({}, object())
        except (TypeError, ValueError) as exc:
            raise AssertionError(f"{name}: {body['handler']} cannot be called as handler(event, context): {exc}")


def test_http_routes_match_the_function():
    from functions.http.api import ROUTES

    assert u.default(u.IAC, "http_routes") == [r.key for r in ROUTES]


def test_tfvars_example_sets_declared_variables():
    import hcl2

    with open(u.IAC / "terraform.tfvars.example") as f:
        example = hcl2.load(f, serialization_options=u._OPTS)
    declared = u.variables(u.IAC)
    assert set(example) <= set(declared), f"undeclared in the example: {set(example) - set(declared)}"
    generated = set(generated_inputs.tables_tfvars()) | set(generated_inputs.kafka_tfvars())
    required = {n for n, v in declared.items() if "default" not in v} - generated
    assert required <= set(example), f"the example misses required variables {required - set(example)}"
    assert not set(example) & generated, f"the example sets generated variables {set(example) & generated}"
    tfvars = json.loads((u.IAC / "tables.auto.tfvars.json").read_text())
    assert set(tfvars) == {"tables"}, "tables.auto.tfvars.json may only set `tables`"
